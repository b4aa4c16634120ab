/**
 * P7: how fast Concert starts, each against the budget (ratio = measured ÷ budget, ≤ 1 meets it):
 *   activation   the extension's own activate() (bench/lib/activation.ts)                          50 ms
 *   worker       a fresh worker process forked to ready (worker/configure answered, CPU chosen)     1.5 s
 *   first token  summarize with the bundled model on that fresh worker: request → first token     0.5 s
 *                (the model's sessions are created on this first request, as a user's first run pays)
 *   ask          `concert ask --context FILE --question …` end to end (node bin/concert.js: CLI,    1.0 s
 *                worker, model load, answer, exit; its defaults: device auto, ONNX Runtime's thread count);
 *                `npx concert` adds npm's own start-up on top
 * Needs the built bundles (dist/); bench/run.ts builds them when they are missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Requests } from '../../src/protocol/worker';
import { WorkerClient } from '../../src/worker/client';
import { measureActivation } from './activation';
import { median, round } from './measure';
import type { BenchContext, BenchRow } from './types';

const DOC =
  'The river town grew around an old stone bridge. Merchants brought wool and salt from the hills, and the market square filled every Thursday. ' +
  'In the nineteenth century a railway line reached the valley, and the mills along the river were rebuilt in brick.';

async function coldWorker(ctx: BenchContext): Promise<{ readyMs: number; firstTokenMs: number }> {
  const client = new WorkerClient({
    workerModule: path.join(ctx.root, 'dist', 'worker.js'),
    settings: () => ({ device: 'cpu', modelFolders: [], bundledModelsDir: path.join(ctx.root, 'models'), idleUnloadSeconds: 0, threads: ctx.threads }),
    log: { info: () => {}, warn: () => {}, error: () => {} },
    heartbeat: false,
  });
  try {
    const t0 = performance.now();
    await client.start();
    const readyMs = performance.now() - t0;
    let first: number | undefined;
    client.onTokens.on(() => (first ??= performance.now()));
    const t1 = performance.now();
    await client.request(Requests.cadRun, { task: 'summarize', document: DOC, maxTokens: 4, progressToken: 'bench', decoding: { mode: 'greedy' } });
    return { readyMs, firstTokenMs: (first ?? performance.now()) - t1 };
  } finally {
    await client.stop();
  }
}

export async function benchStartup(ctx: BenchContext): Promise<BenchRow[]> {
  const runs = ctx.quick ? 1 : Math.max(ctx.repeats, 5);
  const act = measureActivation(ctx.quick ? 1 : Math.max(9, ctx.repeats));
  const workers: { readyMs: number; firstTokenMs: number }[] = [];
  const asks: number[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'concert-bench-'));
  const doc = path.join(dir, 'doc.txt');
  writeFileSync(doc, DOC + '\n');
  const ask = () => {
    const t0 = performance.now();
    const r = spawnSync(
      process.execPath,
      [path.join(ctx.root, 'bin', 'concert.js'), 'ask', '--context', doc, '--question', 'What did the merchants bring?', '--json'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) throw new Error(`concert ask failed (${r.status}): ${r.stderr.slice(-400)}`);
    return performance.now() - t0;
  };
  try {
    if (!ctx.quick) {
      await coldWorker(ctx); // warm the file cache
      ask();
    }
    for (let i = 0; i < runs; i++) {
      workers.push(await coldWorker(ctx));
      asks.push(ask());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const ready = median(workers.map((w) => w.readyMs));
  const first = median(workers.map((w) => w.firstTokenMs));
  const askMs = median(asks);
  const row = (id: string, measure: string, ms: number, budget: number, detail: Record<string, unknown>): BenchRow => ({
    id,
    measure,
    ratio: round(ms / budget),
    goal: 1,
    numerator: `${ms.toFixed(ms < 100 ? 1 : 0)} ms`,
    denominator: `${budget} ms budget`,
    detail,
  });
  return [
    row('P7-activation', "extension activation (the extension's own: load dist/extension.js + activate())", act.medianMs, 50, {
      runs: act.runs,
      minMs: round(act.minMs, 1),
      maxMs: round(act.maxMs, 1),
      loadMs: round(act.medianLoadMs, 1),
      activateMs: round(act.medianActivateMs, 1),
    }),
    row('P7-worker', 'worker cold start: fork dist/worker.js → ready (configure answered)', ready, 1500, {
      runs,
      samplesMs: workers.map((w) => round(w.readyMs, 1)),
    }),
    row('P7-first-token', 'first token of summarize, bundled model, first request of a fresh worker (sessions created)', first, 500, {
      runs,
      samplesMs: workers.map((w) => round(w.firstTokenMs, 1)),
    }),
    row('P7-ask', '`concert ask` end to end (node bin/concert.js; CLI + worker + model + answer + exit)', askMs, 1000, {
      runs,
      samplesMs: asks.map((a) => round(a, 0)),
    }),
  ];
}

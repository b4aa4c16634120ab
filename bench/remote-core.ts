/**
 * The remote core on loopback: per-step wire bytes and latency of `concert serve` (Open Inference Protocol v2, binary
 * tensor extension) for the dense form and the bandwidth-light (sparse, top-k) form, against the in-process core.
 * Usage: node --import tsx bench/remote-core.ts [--tokens 16] [--steps 25] [--topk 64,1024] [--top-p 0.5] [--threads 1]
 * Needs dist/ (npm run build): it starts `node bin/concert.js serve --port 0` and stops it at the end.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { decodeDiffusion, type DiffusionOptions } from '../src/engine/diffusion/decode';
import type { DiffusionLM } from '../src/engine/models';
import { connectRemoteCore, type RemoteCore } from '../src/runtime/oip/client';
import { OnnxDiffusionLM, diffusionShape } from '../src/runtime/diffusionLm';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { arg, median } from './common';

async function serve(threads: string): Promise<{ url: string; stop: () => void }> {
  const p = spawn(process.execPath, [path.resolve('bin/concert.js'), 'serve', '--port', '0', '--device', 'cpu', '--threads', threads], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('concert serve did not start within 60 s')), 60_000);
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, stop: () => p.kill('SIGTERM') });
      }
    });
    p.once('exit', (c) => reject(new Error(`concert serve exited ${c}`)));
  });
}

async function timed(lm: DiffusionLM, o: DiffusionOptions): Promise<{ msPerStep: number; tokens: number[] }> {
  const times: number[] = [];
  let t = performance.now();
  const r = await decodeDiffusion(lm, {
    ...o,
    onStep: () => {
      const now = performance.now();
      times.push(now - t);
      t = now;
    },
  });
  return { msPerStep: median(times), tokens: r.tokens };
}

async function main(): Promise<void> {
  const tokens = Number(arg('tokens', '16'));
  const steps = Number(arg('steps', '25'));
  const topP = Number(arg('top-p', '0.5'));
  const threads = arg('threads', '1');
  const ks = arg('topk', '64,1024').split(',').map(Number);
  const sessions = new SessionCache('cpu', Number(threads), 0);
  const pack = await validatePack(path.resolve('models/concert-ssd-core'), 'bundled');
  const local = new OnnxDiffusionLM(await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser'), diffusionShape(pack), 0);
  const o: DiffusionOptions = {
    terms: [{ context: Int32Array.of(1, 312, 45, 987, 23, 1500, 77), weight: 1, label: 'core' }],
    maxTokens: tokens,
    steps,
    projection: { kind: 'sample', topP },
    seed: 7,
  };
  const server = await serve(threads);
  const rows: string[] = [];
  const line = (name: string, ms: number, sent: number, recv: number, same: string) =>
    rows.push(
      `${name.padEnd(22)} ${ms.toFixed(2).padStart(8)} ms/step ${String(sent).padStart(9)} B sent/step ${String(recv).padStart(9)} B received/step  ${same}`,
    );
  try {
    await timed(local, o); // warm-up
    const base = await timed(local, o);
    line('local (in-process)', base.msPerStep, 0, 0, '');
    const remotes: [string, () => Promise<RemoteCore>][] = [
      ['remote dense', () => connectRemoteCore({ url: server.url, mode: 'dense' })],
      ...ks.map((k): [string, () => Promise<RemoteCore>] => [`remote sparse k=${k}`, () => connectRemoteCore({ url: server.url, mode: 'sparse', topK: k })]),
    ];
    const perStep: Record<string, number> = {};
    for (const [name, make] of remotes) {
      const core = await make();
      await timed(core, o); // warm-up (and the server's context cache)
      const from = core.ledger.length;
      const r = await timed(core, o);
      const infer = core.ledger.slice(from).filter((x) => x.kind === 'infer');
      const sent = Math.round(infer.reduce((s, x) => s + x.bytesSent, 0) / infer.length);
      const recv = Math.round(infer.reduce((s, x) => s + x.bytesReceived, 0) / infer.length);
      perStep[name] = sent + recv;
      line(name, r.msPerStep, sent, recv, r.tokens.join(',') === base.tokens.join(',') ? 'same tokens as local' : 'tokens differ from local');
      core.close();
    }
    console.log(`bundled core (V ${local.vocabSize}, B ${local.blockSize}), ${tokens} tokens × ${steps} steps, top-p ${topP}, CPU, loopback, binary tensors`);
    for (const r of rows) console.log(r);
    for (const k of ks) console.log(`wire bytes per step, dense ÷ sparse k=${k}: ${(perStep['remote dense']! / perStep[`remote sparse k=${k}`]!).toFixed(1)}×`);
  } finally {
    server.stop();
    await sessions.clear();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});

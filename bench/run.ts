/**
 * `npm run bench`: Concert's benchmarks side by side with what a user would pick instead, on identical weights, as
 * ratios (lower is better) in one table with the issue's goals (#18), written to bench/results/bench.json.
 *
 *   npm run bench                      the full run (about 10–15 minutes on a 2-core machine)
 *   npm run bench -- --quick           a smoke version (well under a minute; numbers are not meaningful)
 *   npm run bench -- --only P2,P4      some rows (ids or their prefixes: P1 P2 P3 P4 P6 P7 M S)
 *   options: --repeats N (default 7, quick 3), --threads N (default 2), --out FILE
 *
 * Rows (details in bench/lib/*.ts and docs/performance.md):
 *   P1  diffusion block, Concert ÷ PyTorch eager reference loop on the pack's own weights          goal ≤ 0.33
 *   P2  CAD ÷ plain decoding (batched pair; two passes beside it)                                    goal ≤ 1.35
 *   P3  AR decoding, Concert ÷ transformers.js generate on the same Hugging Face folder              goal ≤ 0.8
 *   P4  JS-side vocabulary work ÷ whole step at |V| = 50k (diffusion; P4-AR: CAD tokens)             goal ≤ 0.10
 *   P6  diffusion step ÷ compute floor (step FLOPs ÷ GEMM rate measured in the same run)             goal ≤ 1.5
 *   P7  activation, worker cold start, first token, `concert ask` end to end, ÷ their budgets        goal ≤ 1
 *   M-  peak RSS − baseline ÷ weight bytes per bundled pack, CPU memory arena on (off in detail)      goal ≤ 1.3
 *   S-spin  allow_spinning: wall time with ÷ without (CPU burned in detail)                         (informs a setting)
 * Every variant of a row runs once to warm up, then `repeats` times interleaved with the others; medians.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ortVersion } from '../src/runtime/ort';
import { machineState, round } from './lib/measure';
import { benchMemory } from './lib/memory';
import { benchDiffusion } from './lib/p1Diffusion';
import { benchCad } from './lib/p2Cad';
import { benchTransformersJs } from './lib/p3Transformers';
import { benchVocabShare } from './lib/p4Vocab';
import { benchStartup } from './lib/p7Startup';
import { benchSpinning } from './lib/spinning';
import type { BenchContext, BenchRow } from './lib/types';

const ROOT = path.join(__dirname, '..');

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

interface Group {
  /** The row ids it produces (for --only and for the rows reported when it fails). */
  ids: string[];
  run: (ctx: BenchContext) => Promise<BenchRow[]>;
}

const GROUPS: Group[] = [
  { ids: ['P1', 'P6'], run: benchDiffusion },
  { ids: ['P2'], run: async (c) => [await benchCad(c)] },
  { ids: ['P3'], run: async (c) => [await benchTransformersJs(c)] },
  { ids: ['P4', 'P4-AR'], run: benchVocabShare },
  { ids: ['P7-activation', 'P7-worker', 'P7-first-token', 'P7-ask'], run: benchStartup },
  { ids: ['M-'], run: benchMemory },
  { ids: ['S-spin'], run: async (c) => [await benchSpinning(c)] },
];

const ORDER = ['P1', 'P2', 'P3', 'P4', 'P4-AR', 'P6', 'P7', 'M-', 'S-'];
const rank = (id: string) => ORDER.findIndex((p) => id === p || (p.length <= 3 && id.startsWith(p)));

function ensureBuild(): void {
  if (existsSync(path.join(ROOT, 'dist', 'worker.js')) && existsSync(path.join(ROOT, 'dist', 'extension.js'))) return;
  console.log('building dist/ (node esbuild.mjs) for row P7');
  const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('the build failed');
}

function pythonTorch(python: string): string {
  try {
    return execFileSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unavailable';
  }
}

const fmt = (x: number | null) => (x === null ? '—' : x < 10 ? x.toFixed(3) : x.toFixed(1));

/** A table cell: pipes escaped, so a measure's text cannot split the row. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

export function table(rows: readonly BenchRow[]): string {
  const lines = ['| row | measure | ratio | goal | met | numerator | denominator |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const met = r.ratio === null ? 'not run' : r.goal === null ? 'info' : r.ratio <= r.goal ? 'yes' : '**no**';
    lines.push(
      `| ${r.id} | ${cell(r.measure + (r.note ? ` (${r.note})` : ''))} | ${fmt(r.ratio)} | ${r.goal === null ? '—' : `≤ ${r.goal}`} | ${met} | ${cell(r.numerator ?? '')} | ${cell(r.denominator ?? '')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = option('only')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const ctx: BenchContext = {
    quick,
    repeats: Number(option('repeats') ?? (quick ? 3 : 7)),
    threads: Number(option('threads') ?? 2),
    root: ROOT,
    cacheDir: path.join(ROOT, '.cache', 'bench'),
    python: process.env['CONCERT_PYTHON'] ?? '/usr/bin/python3',
    log: (l) => console.log(l),
  };
  mkdirSync(ctx.cacheDir, { recursive: true });
  const groups = GROUPS.filter((g) => !only || g.ids.some((id) => only.some((o) => id.startsWith(o) || o.startsWith(id))));
  if (groups.some((g) => g.ids.some((id) => id.startsWith('P7')))) ensureBuild();
  const before = machineState();
  const started = new Date();
  console.log(
    `bench${quick ? ' --quick' : ''}: ${before.nproc} of ${before.logicalCpus} CPUs (${before.cpuModel}), load average ${before.loadAverage.join(' ')}, ${ctx.threads} threads, ${ctx.repeats} repeats`,
  );
  const rows: BenchRow[] = [];
  const timings: Record<string, number> = {};
  for (const g of groups) {
    const t0 = performance.now();
    try {
      rows.push(...(await g.run(ctx)));
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0]!.slice(0, 300);
      console.log(`${g.ids.join(', ')} failed: ${(e as Error).stack ?? msg}`);
      for (const id of g.ids) rows.push({ id, measure: 'failed', ratio: null, goal: null, note: msg });
    }
    timings[g.ids[0]!] = round((performance.now() - t0) / 1000, 1);
    console.log(`  ${g.ids.join(', ')} done in ${timings[g.ids[0]!]} s`);
  }
  rows.sort((a, b) => rank(a.id) - rank(b.id));
  const after = machineState();
  const report = {
    date: started.toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick,
    repeats: ctx.repeats,
    threads: ctx.threads,
    machine: { ...before, loadAverageBefore: before.loadAverage, loadAverageAfter: after.loadAverage, loadAverage: undefined },
    versions: { node: process.version, onnxruntimeNode: ortVersion(), torch: pythonTorch(ctx.python) },
    secondsPerGroup: timings,
    rows,
  };
  const out = option('out') ?? path.join(ROOT, 'bench', 'results', 'bench.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  console.log('');
  console.log(table(rows));
  console.log('');
  console.log(`load average before ${before.loadAverage.join(' ')}, after ${after.loadAverage.join(' ')}; wrote ${path.relative(process.cwd(), out)}`);
}

if (require.main === module) void main();

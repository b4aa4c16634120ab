/**
 * Memory: peak resident memory of running a pack ÷ the bytes of its weights (its .onnx graphs and external data),
 * with ONNX Runtime's CPU memory arena on (the default) and off. Each measurement is a fresh process
 * (bench/lib/memoryChild.ts): its resident memory just before the sessions are created — Concert's code loaded and
 * ONNX Runtime already running a one-node canary session — is the baseline, and the ratio is (peak − baseline) ÷
 * weight bytes: what the model costs on top of a running worker, with the whole-process peak beside it.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { median, round } from './measure';
import type { BenchContext, BenchRow } from './types';

export const MEMORY_PACKS = ['concert-lm-small', 'concert-ssd-core', 'concert-ssd-user', 'concert-clf-sentiment'];

interface ChildResult {
  pack: string;
  weightBytes: number;
  baselineRss: number;
  peakRss: number;
}

function child(ctx: BenchContext, pack: string, arena: boolean): ChildResult {
  const r = spawnSync(
    process.execPath,
    [
      '--expose-gc',
      '--import',
      'tsx',
      path.join(ctx.root, 'bench', 'lib', 'memoryChild.ts'),
      path.join(ctx.root, 'models', pack),
      arena ? 'on' : 'off',
      String(ctx.threads),
    ],
    { cwd: ctx.root, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`memory child for ${pack} failed: ${r.stderr.slice(-400)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

export async function benchMemory(ctx: BenchContext): Promise<BenchRow[]> {
  const packs = ctx.quick ? MEMORY_PACKS.slice(0, 1) : MEMORY_PACKS;
  const runs = ctx.quick ? 1 : 3;
  const rows: BenchRow[] = [];
  for (const pack of packs) {
    const on: ChildResult[] = [];
    const off: ChildResult[] = [];
    for (let i = 0; i < runs; i++) {
      on.push(child(ctx, pack, true));
      off.push(child(ctx, pack, false));
    }
    const w = on[0]!.weightBytes;
    const extra = (rs: ChildResult[]) => median(rs.map((r) => r.peakRss - r.baselineRss));
    const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
    rows.push({
      id: `M-${pack}`,
      measure: `peak RSS − baseline ÷ weight bytes, ${pack} (arena on; off in detail)`,
      ratio: round(extra(on) / w),
      goal: 1.3,
      numerator: `${mb(extra(on))} (arena off: ${mb(extra(off))}, ratio ${(extra(off) / w).toFixed(2)})`,
      denominator: mb(w),
      detail: {
        weightBytes: w,
        arenaOn: {
          extraBytes: extra(on),
          ratio: round(extra(on) / w),
          peakRss: median(on.map((r) => r.peakRss)),
          baselineRss: median(on.map((r) => r.baselineRss)),
        },
        arenaOff: {
          extraBytes: extra(off),
          ratio: round(extra(off) / w),
          peakRss: median(off.map((r) => r.peakRss)),
          baselineRss: median(off.map((r) => r.baselineRss)),
        },
        wholeProcessPeakOverWeights: round(median(on.map((r) => r.peakRss)) / w),
      },
    });
  }
  return rows;
}

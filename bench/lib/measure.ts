/** Timing helpers of `npm run bench`: interleaved repetitions, medians, and what the machine was doing. */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';

export const median = (xs: readonly number[]): number => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Wall-clock milliseconds of one call. */
export async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** This process's CPU time (user + system, all threads) in ms. */
export const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** What a variant may report itself (a reference in another process): its wall time and, if known, its CPU time. */
export type Measured = number | { ms: number; cpuMs?: number } | void;

/**
 * Runs every variant once to warm up, then `repeats` rounds in which each variant runs once, the order rotating from
 * round to round (so slow phases of a shared machine hit every variant alike). A variant may return its own
 * measurement (else its wall time is taken, and this process's CPU time over the call). Returns every sample and the
 * median per variant, of wall time and of CPU time: on a loaded machine the CPU-time ratio is the steadier one.
 */
export async function interleave(
  variants: Record<string, () => Promise<Measured>>,
  repeats: number,
  warmup = true,
): Promise<{ samples: Record<string, number[]>; median: Record<string, number>; cpuMedian: Record<string, number> }> {
  const names = Object.keys(variants);
  const run = async (name: string): Promise<{ ms: number; cpuMs: number }> => {
    const c0 = cpuMs();
    const t0 = performance.now();
    const own = await variants[name]!();
    const ms = performance.now() - t0;
    const cpu = cpuMs() - c0;
    if (typeof own === 'number') return { ms: own, cpuMs: Number.NaN };
    if (own && typeof own === 'object') return { ms: own.ms, cpuMs: own.cpuMs ?? Number.NaN };
    return { ms, cpuMs: cpu };
  };
  if (warmup) for (const n of names) await run(n);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < names.length; i++) {
      const n = names[(i + r) % names.length]!;
      const m = await run(n);
      samples[n]!.push(m.ms);
      cpu[n]!.push(m.cpuMs);
    }
  }
  return {
    samples,
    median: Object.fromEntries(names.map((n) => [n, median(samples[n]!)])),
    cpuMedian: Object.fromEntries(names.map((n) => [n, median(cpu[n]!)])),
  };
}

export const round = (x: number, digits = 3): number => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

export interface MachineState {
  cpuModel: string;
  logicalCpus: number;
  /** Cores this process may run on (cgroup / affinity), as `nproc` reports. */
  nproc: number;
  memoryGiB: number;
  node: string;
  platform: string;
  loadAverage: number[];
}

export function machineState(): MachineState {
  let nproc = os.availableParallelism();
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    /* not on this system */
  }
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    logicalCpus: os.cpus().length,
    nproc,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: os.loadavg().map((x) => round(x, 2)),
  };
}

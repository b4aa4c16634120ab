/**
 * Execution-provider choice. `auto` tries the accelerators onnxruntime-node reports for this platform, each
 * verified by a tiny canary run, and falls back to CPU with the reasons kept for the status bar and `doctor`.
 * The probing logic takes the canary as a function, so it is tested without GPUs.
 */
import * as os from 'node:os';
import type { DeviceChoice, ProviderName, ProviderReport } from '../protocol/worker';

/** Preference order for `auto`: dedicated accelerators first, CPU always last. */
export const AUTO_ORDER: readonly ProviderName[] = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

/** Names onnxruntime-node's `listSupportedBackends()` uses, mapped to ours. */
export function mapBackends(list: readonly { name: string; bundled: boolean }[]): { name: ProviderName; bundled: boolean }[] {
  const known: Record<string, ProviderName> = { cpu: 'cpu', webgpu: 'webgpu', cuda: 'cuda', dml: 'dml', coreml: 'coreml' };
  const out = new Map<ProviderName, boolean>();
  for (const b of list) {
    const n = known[b.name];
    if (n) out.set(n, b.bundled);
  }
  out.set('cpu', true);
  return [...out].map(([name, bundled]) => ({ name, bundled }));
}

export type Canary = (provider: ProviderName) => Promise<void>;

export function describeDevice(provider: ProviderName, threads: number): string {
  switch (provider) {
    case 'cpu': {
      const cpus = os.cpus();
      const model = cpus[0]?.model?.trim() || os.arch();
      return `CPU (${model}), ${threads > 0 ? threads : cpus.length} thread${(threads > 0 ? threads : cpus.length) === 1 ? '' : 's'}`;
    }
    case 'cuda':
      return 'NVIDIA GPU 0 (CUDA)';
    case 'dml':
      return 'GPU 0 (DirectML)';
    case 'coreml':
      return 'Apple Neural Engine / GPU (CoreML)';
    case 'webgpu':
      return 'GPU (WebGPU adapter)';
  }
}

/**
 * Picks the provider. An explicitly requested provider that is missing or fails its canary also falls back to
 * CPU (with the reason), so inference keeps working; the reason is shown to the user.
 */
export async function chooseProvider(
  requested: DeviceChoice,
  available: { name: ProviderName; bundled: boolean }[],
  canary: Canary,
  threads: number,
  canaryTimeoutMs = 20_000,
): Promise<ProviderReport> {
  const reasons: string[] = [];
  const names = new Set(available.map((a) => a.name));
  const candidates: ProviderName[] = requested === 'auto' ? AUTO_ORDER.filter((p) => names.has(p)) : [requested, 'cpu'];
  for (const p of candidates) {
    if (p !== 'cpu' && !names.has(p)) {
      reasons.push(`${p}: not available in this onnxruntime-node build on ${process.platform}-${process.arch}`);
      continue;
    }
    try {
      await withTimeout(canary(p), canaryTimeoutMs, `${p}: canary run did not finish within ${canaryTimeoutMs / 1000} s`);
      return { available, requested, chosen: p, device: describeDevice(p, threads), fallbackReasons: reasons };
    } catch (e) {
      reasons.push(`${p}: ${firstLine((e as Error).message)}`);
      if (p === 'cpu') throw new Error(`even the CPU provider failed its canary run: ${reasons.join('; ')}`);
    }
  }
  throw new Error(`no execution provider could be started: ${reasons.join('; ')}`);
}

export function firstLine(s: string): string {
  const line = (s.split('\n').find((l) => l.trim()) ?? s).trim();
  // ORT prefixes errors with the source location; keep the part a person can act on.
  const cleaned = line.replace(/^.*?\.(cc|cpp|h):\d+\s+\S+\s*/, '');
  return cleaned.length > 240 ? `${cleaned.slice(0, 237)}…` : cleaned;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** Test only (see withSimulatedProviderFailure). */
export const TEST_FAIL_PROVIDER_ENV = 'CONCERT_TEST_FAIL_PROVIDER';
/** Test only (see withSimulatedProviderFailure and simulatedSessionFailure). */
export const TEST_FAIL_PROVIDER_SESSIONS_ENV = 'CONCERT_TEST_FAIL_PROVIDER_SESSIONS';

/** The GPU provider a test-only variable names, if it names one (never cpu). */
function simulatedProvider(env: NodeJS.ProcessEnv, name: string): ProviderName | undefined {
  const v = env[name];
  return v && v !== 'cpu' && AUTO_ORDER.includes(v as ProviderName) ? (v as ProviderName) : undefined;
}

/**
 * Test-only fault injection, for the fault tests (test/worker/faults.test.ts, bench/reliability/faults.ts) on machines
 * without a GPU. Concert never sets these variables; without them `available` and `canary` are returned unchanged.
 * - CONCERT_TEST_FAIL_PROVIDER=<provider> (cuda, dml, coreml or webgpu): that provider is listed as available and
 *   creating a session on it fails, its start-up canary included, as on a machine whose GPU driver or libraries are
 *   broken;
 * - CONCERT_TEST_FAIL_PROVIDER_SESSIONS=<provider>: that provider is listed as available and passes its canary (the
 *   canary is run on CPU instead), but every session for a model graph fails on it (simulatedSessionFailure, read by
 *   SessionCache), as with a GPU that lacks an operator or the memory a model needs.
 */
export function withSimulatedProviderFailure(
  available: { name: ProviderName; bundled: boolean }[],
  canary: Canary,
  env: NodeJS.ProcessEnv = process.env,
): { available: { name: ProviderName; bundled: boolean }[]; canary: Canary } {
  const failing = simulatedProvider(env, TEST_FAIL_PROVIDER_ENV);
  const sessionsOnly = simulatedProvider(env, TEST_FAIL_PROVIDER_SESSIONS_ENV);
  if (!failing && !sessionsOnly) return { available, canary };
  let listed = available;
  for (const name of [sessionsOnly, failing]) if (name && !listed.some((a) => a.name === name)) listed = [{ name, bundled: true }, ...listed];
  return {
    available: listed,
    canary: async (p) => {
      if (p === failing) throw new Error(`could not create a session on ${p} (simulated by ${TEST_FAIL_PROVIDER_ENV}, a test-only setting)`);
      if (p === sessionsOnly) return canary('cpu');
      return canary(p);
    },
  };
}

/**
 * Test only: why creating a session for a model graph on `provider` fails, when CONCERT_TEST_FAIL_PROVIDER_SESSIONS
 * names it (see withSimulatedProviderFailure); undefined otherwise, and always for cpu.
 */
export function simulatedSessionFailure(provider: ProviderName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return provider !== 'cpu' && simulatedProvider(env, TEST_FAIL_PROVIDER_SESSIONS_ENV) === provider
    ? `could not create a session on ${provider} (simulated by ${TEST_FAIL_PROVIDER_SESSIONS_ENV}, a test-only setting)`
    : undefined;
}

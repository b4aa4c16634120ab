/**
 * The only module that imports onnxruntime-node. Sessions are created lazily from validated bytes, cached per
 * (pack, graph), and released after an idle timeout.
 */
import * as ort from 'onnxruntime-node';
import type { ProviderName } from '../protocol/worker';
import { buildOnnxModel, type ValueSpec } from './onnxModel';
import { PackError, checkGraphBytes, checkSessionSignature, externalDataFiles, readPackFile, type ValidatedPack } from './packs';
import { firstLine, mapBackends, simulatedSessionFailure } from './providers';

export { ort };

// ONNX Runtime's telemetry (its Linux builds too) leaves an empty /tmp/mat-debug-<pid>.log behind every process and
// would report usage events; a local, offline tool wants neither. ORT reads this when it creates its environment (the
// first session or canary), after this line has run.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export const ortVersion = (): string => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return ort.env.versions?.common ?? 'unknown';
  }
};

export const availableProviders = () => mapBackends(ort.listSupportedBackends());

/**
 * Session settings that are measured rather than assumed (`npm run bench`, docs/performance.md). The product runs with
 * the defaults; the benchmark flips them to show what each is worth.
 */
export interface SessionTuning {
  /**
   * Let idle intra-op threads spin after a run (ONNX Runtime's default). Off by default: spinning threads burn a core
   * after every run, which an editor on a small machine pays for while the user types, and the measured latency gain
   * does not cover it (docs/performance.md).
   */
  spinning?: boolean;
  /** ONNX Runtime's CPU memory arena (default on; off lowers peak memory at some speed, see docs/performance.md). */
  cpuMemArena?: boolean;
}

function sessionOptions(provider: ProviderName, threads: number, tuning: SessionTuning = {}): ort.InferenceSession.SessionOptions {
  const spin = tuning.spinning ? '1' : '0';
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(threads > 0 && { intraOpNumThreads: threads, interOpNumThreads: 1 }),
    ...(tuning.cpuMemArena === false && { enableCpuMemArena: false }),
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

let canaryBytes: Uint8Array | undefined;
/** A one-node graph (y = x + 1) run on the provider to prove it works on this machine. */
export async function runCanary(provider: ProviderName): Promise<void> {
  canaryBytes ??= buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: [4] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [4] }],
    nodes: [{ opType: 'Add', inputs: ['x', 'one'], outputs: ['y'] }],
    initializers: [{ name: 'one', dtype: 'float32', dims: [1], data: new Float32Array([1]) }],
  });
  const session = await ort.InferenceSession.create(canaryBytes, sessionOptions(provider, 1));
  try {
    const out = await session.run({ x: new ort.Tensor('float32', new Float32Array([0, 1, 2, 3]), [4]) });
    const y = out['y']?.data as Float32Array | undefined;
    if (!y || y.length !== 4 || y.some((v, i) => Math.abs(v - (i + 1)) > 1e-6)) throw new Error('canary produced wrong values');
  } finally {
    await session.release();
  }
}

function metadataToSpecs(meta: readonly ort.InferenceSession.ValueMetadata[]): ValueSpec[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) }
      : { name: m.name, dtype: 'non-tensor', shape: [] },
  );
}

export interface LoadedGraph {
  key: string;
  pack: ValidatedPack;
  role: string;
  session: ort.InferenceSession;
  /** Where the session runs: the configured provider, or cpu when that provider could not take this model. */
  provider: ProviderName;
  /** The graph's operator types (`domain.Op` outside the default domain), from the static check at load. */
  opTypes: readonly string[];
  lastUsed: number;
}

/**
 * Test only: CONCERT_TEST_LOAD_PAUSE_MS=<ms> pauses every graph load after its bytes are read and checked, having said
 * so on stderr, so that a test can kill the worker mid-load without racing a load that takes milliseconds. Concert
 * never sets it.
 */
async function testLoadPause(packId: string, role: string): Promise<void> {
  const ms = Number(process.env['CONCERT_TEST_LOAD_PAUSE_MS'] ?? 0);
  if (!(ms > 0)) return;
  console.error(`concert worker: test pause of ${ms} ms while loading graph "${role}" of ${packId}`);
  await new Promise((r) => setTimeout(r, ms));
}

export class SessionCache {
  private readonly loaded = new Map<string, LoadedGraph>();
  private readonly loading = new Map<string, Promise<LoadedGraph>>();
  private timer: NodeJS.Timeout | undefined;
  /** Packs (by manifest sha256) whose graphs run on CPU because the configured provider failed one of them. */
  private readonly onCpu = new Set<string>();

  /**
   * `onFallback` hears, once per pack, that a graph could not be created on the configured (GPU) provider and that
   * the pack runs on CPU: one line, `<provider>: <why>; …`, for the log and the provider report.
   */
  constructor(
    private provider: ProviderName,
    private threads: number,
    private idleUnloadMs: number,
    private readonly onChange: () => void = () => {},
    private readonly tuning: SessionTuning = {},
    private readonly onFallback: (reason: string) => void = () => {},
  ) {}

  configure(provider: ProviderName, threads: number, idleUnloadMs: number): Promise<void> {
    const changed = provider !== this.provider || threads !== this.threads;
    this.provider = provider;
    this.threads = threads;
    this.idleUnloadMs = idleUnloadMs;
    return changed ? this.clear() : Promise.resolve();
  }

  keys(): string[] {
    return [...this.loaded.keys()].sort();
  }

  async get(pack: ValidatedPack, role: string): Promise<LoadedGraph> {
    const key = `${pack.manifest.id}/${role}@${pack.manifestSha256.slice(0, 12)}`;
    const hit = this.loaded.get(key);
    if (hit) {
      hit.lastUsed = Date.now();
      return hit;
    }
    let p = this.loading.get(key);
    if (!p) {
      p = this.load(key, pack, role).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  private async load(key: string, pack: ValidatedPack, role: string): Promise<LoadedGraph> {
    const file = pack.manifest.graphs[role];
    if (!file) throw new PackError(pack.manifest.id, `has no graph "${role}"`);
    // Re-read and re-hash: the bytes ONNX Runtime parses are exactly the bytes that were validated.
    const bytes = await readPackFile(pack, file);
    const sizes = Object.fromEntries(Object.entries(pack.manifest.files).map(([n, e]) => [n, e.bytes]));
    const opTypes = checkGraphBytes(pack, role, bytes, sizes);
    await testLoadPause(pack.manifest.id, role);
    const externalData: { path: string; data: Uint8Array }[] = [];
    for (const ext of externalDataFiles(pack.manifest, role, bytes)) externalData.push({ path: ext.location, data: await readPackFile(pack, ext.file) });
    const create = (provider: ProviderName): Promise<ort.InferenceSession> => {
      const simulated = simulatedSessionFailure(provider);
      if (simulated) return Promise.reject(new Error(simulated));
      return ort.InferenceSession.create(bytes, { ...sessionOptions(provider, this.threads, this.tuning), ...(externalData.length && { externalData }) });
    };
    // A GPU provider that passed its canary may still fail on a model (an operator it lacks, too little memory): that
    // pack then runs on CPU, visibly, rather than not at all. Only when CPU fails too is the graph refused.
    let provider: ProviderName = this.onCpu.has(pack.manifestSha256) ? 'cpu' : this.provider;
    let session: ort.InferenceSession;
    try {
      session = await create(provider);
    } catch (e) {
      if (provider === 'cpu') throw new PackError(pack.manifest.id, `ONNX Runtime could not load graph "${role}": ${(e as Error).message.split('\n')[0]}`);
      const why = firstLine((e as Error).message);
      try {
        session = await create('cpu');
      } catch (cpuError) {
        throw new PackError(
          pack.manifest.id,
          `ONNX Runtime could not load graph "${role}": ${(cpuError as Error).message.split('\n')[0]} (on ${provider} first: ${why})`,
        );
      }
      this.onCpu.add(pack.manifestSha256);
      this.onFallback(`${provider}: could not create a session for graph "${role}" of model pack "${pack.manifest.id}" (${why}); that model runs on cpu`);
      provider = 'cpu';
    }
    try {
      checkSessionSignature(pack, role, { inputs: metadataToSpecs(session.inputMetadata), outputs: metadataToSpecs(session.outputMetadata) });
    } catch (e) {
      await session.release();
      throw e;
    }
    const g: LoadedGraph = { key, pack, role, session, provider, opTypes, lastUsed: Date.now() };
    this.loaded.set(key, g);
    this.schedule();
    this.onChange();
    return g;
  }

  private schedule(): void {
    if (this.timer || this.idleUnloadMs <= 0) return;
    this.timer = setInterval(() => void this.unloadIdle(), Math.max(1000, Math.min(60_000, this.idleUnloadMs / 2)));
    this.timer.unref();
  }

  async unloadIdle(now = Date.now()): Promise<void> {
    for (const [k, g] of this.loaded) {
      if (now - g.lastUsed >= this.idleUnloadMs) {
        this.loaded.delete(k);
        await g.session.release().catch(() => {});
        this.onChange();
      }
    }
    if (!this.loaded.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  async clear(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    // A new provider, or new packs: the next load tries the configured provider again.
    this.onCpu.clear();
    for (const g of all) await g.session.release().catch(() => {});
    if (all.length) this.onChange();
  }
}

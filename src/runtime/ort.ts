/**
 * The only module that imports onnxruntime-node. Sessions are created lazily from validated bytes, cached per
 * (pack, graph), and released after an idle timeout.
 */
import * as ort from 'onnxruntime-node';
import type { ProviderName } from '../protocol/worker';
import { buildOnnxModel, type ValueSpec } from './onnxModel';
import { PackError, checkGraphBytes, checkSessionSignature, externalDataFiles, readPackFile, type ValidatedPack } from './packs';
import { mapBackends } from './providers';

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

function sessionOptions(provider: ProviderName, threads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    ...(threads > 0 && { intraOpNumThreads: threads, interOpNumThreads: 1 }),
    // Spinning threads burn a core after every run; in an editor on small machines that costs more than it saves.
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
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
  lastUsed: number;
}

export class SessionCache {
  private readonly loaded = new Map<string, LoadedGraph>();
  private readonly loading = new Map<string, Promise<LoadedGraph>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private provider: ProviderName,
    private threads: number,
    private idleUnloadMs: number,
    private readonly onChange: () => void = () => {},
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
    checkGraphBytes(pack, role, bytes, sizes);
    const externalData: { path: string; data: Uint8Array }[] = [];
    for (const ext of externalDataFiles(pack.manifest, role, bytes)) externalData.push({ path: ext.location, data: await readPackFile(pack, ext.file) });
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { ...sessionOptions(this.provider, this.threads), ...(externalData.length && { externalData }) });
    } catch (e) {
      throw new PackError(pack.manifest.id, `ONNX Runtime could not load graph "${role}": ${(e as Error).message.split('\n')[0]}`);
    }
    try {
      checkSessionSignature(pack, role, { inputs: metadataToSpecs(session.inputMetadata), outputs: metadataToSpecs(session.outputMetadata) });
    } catch (e) {
      await session.release();
      throw e;
    }
    const g: LoadedGraph = { key, pack, role, session, lastUsed: Date.now() };
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
    for (const g of all) await g.session.release().catch(() => {});
    if (all.length) this.onChange();
  }
}

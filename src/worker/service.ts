/**
 * What the worker does, independent of the transport: provider choice, pack discovery, sessions, and the
 * requests of src/protocol/worker. Long requests take a `shouldStop` check and a progress sink.
 */
import * as path from 'node:path';
import {
  PROTOCOL_VERSION,
  WorkerErrorCode,
  type ConfigureResult,
  type DoctorReport,
  type PackSummary,
  type ProviderReport,
  type SelfTestParams,
  type SelfTestResult,
  type TokenizeParams,
  type TokenizeResult,
  type WorkerSettings,
  type WorkerStatus,
} from '../protocol/worker';
import { SessionCache, availableProviders, ort, ortVersion, runCanary } from '../runtime/ort';
import { PackError, discoverPacks, validatePack, type DiscoveredPack, type ValidatedPack } from '../runtime/packs';
import { HF_DTYPES, type HfLayoutOptions } from '../runtime/hfLayout';
import { chooseProvider, withSimulatedProviderFailure } from '../runtime/providers';
import { completedDownloads } from '../runtime/hub';
import { syntheticFeeds } from '../runtime/feeds';
import type { PackTokenizer } from '../runtime/tokenizer';
import { CONCERT_VERSION } from '../protocol/version';
import { loadLanguageModel, loadTokenizer, type LanguageModel } from '../runtime/languageModel';
import { OnnxClassifier } from '../runtime/classifier';
import { OnnxDiffusionLM, diffusionShape } from '../runtime/diffusionLm';
import { CODEC_FORMAT_NAMES, loadCodecModel, type CodecModel } from '../runtime/codecLm';
import type { CodecFormat } from '../runtime/manifest';

export type { LanguageModel };

/** An error the transport turns into a typed JSON-RPC error. */
export class WorkerFailure extends Error {
  constructor(
    readonly code: WorkerErrorCode,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export interface JobControl {
  isCancelled(): boolean;
  progress(step: number, total: number, message?: string): void;
}

export class WorkerService {
  private settings: WorkerSettings | undefined;
  private provider: ProviderReport | undefined;
  private packs: DiscoveredPack[] | undefined;
  private readonly sessions: SessionCache;
  private readonly tokenizers = new Map<string, PackTokenizer>();
  /** Graph loads by manifest sha256: packs whose graphs ONNX Runtime accepted, and why the others failed. */
  private readonly loadedOk = new Set<string>();
  private readonly loadFailures = new Map<string, PackError>();

  constructor(private readonly onStatus: (s: WorkerStatus) => void = () => {}) {
    this.sessions = new SessionCache(
      'cpu',
      0,
      0,
      () => this.emitStatus(),
      undefined,
      (reason) => this.modelFallback(reason),
    );
  }

  async configure(settings: WorkerSettings): Promise<ConfigureResult> {
    const previous = this.settings;
    this.settings = settings;
    if (!this.provider || previous?.device !== settings.device || previous?.threads !== settings.threads) {
      // withSimulatedProviderFailure changes nothing unless a test sets CONCERT_TEST_FAIL_PROVIDER.
      const { available, canary } = withSimulatedProviderFailure(availableProviders(), runCanary);
      this.provider = await chooseProvider(settings.device, available, canary, settings.threads);
    }
    await this.sessions.configure(this.provider.chosen, settings.threads, settings.idleUnloadSeconds * 1000);
    if (
      JSON.stringify(previous?.modelFolders) !== JSON.stringify(settings.modelFolders) ||
      previous?.bundledModelsDir !== settings.bundledModelsDir ||
      previous?.downloadsDir !== settings.downloadsDir ||
      previous?.modelDtype !== settings.modelDtype
    ) {
      this.packs = undefined;
      this.packsByPath.clear();
      this.tokenizers.clear();
      this.loadedOk.clear();
      this.loadFailures.clear();
      await this.sessions.clear();
    }
    this.emitStatus();
    return { provider: this.provider };
  }

  /** A model that the chosen provider could not take runs on CPU: said in the log and in the provider report. */
  private modelFallback(reason: string): void {
    console.error(`concert worker: ${reason}`);
    if (this.provider && !this.provider.fallbackReasons.includes(reason)) this.provider.fallbackReasons.push(reason);
    this.emitStatus();
  }

  private requireConfigured(): { settings: WorkerSettings; provider: ProviderReport } {
    if (!this.settings || !this.provider) throw new WorkerFailure(WorkerErrorCode.Internal, 'the worker was not configured');
    return { settings: this.settings, provider: this.provider };
  }

  /**
   * The packs of the configured folders. Requests check them only as deep as a listing needs (`listing`) and each
   * pack in full, through `checked`, before it is used; a refresh (the pack list, doctor) checks all of them in full.
   */
  private async discovered(refresh = false): Promise<DiscoveredPack[]> {
    const { settings } = this.requireConfigured();
    if (!this.packs || refresh) {
      // Complete downloads only (folders with the marker models/pull writes last): a cancelled pull is no model.
      const downloads = settings.downloadsDir ? await completedDownloads(path.resolve(settings.downloadsDir)) : [];
      const roots = [
        { dir: settings.bundledModelsDir, source: 'bundled' as const },
        ...settings.modelFolders.map((d) => ({ dir: path.resolve(d), source: 'user' as const })),
        ...downloads.map((dir) => ({ dir, source: 'user' as const })),
      ];
      this.packs = await discoverPacks(roots, undefined, this.layout(), refresh ? 'full' : 'listing');
    }
    return this.packs;
  }

  /**
   * A discovered pack validated in full. The list entry is left as it is: the verdict is cached while the pack's files
   * are unchanged, and a pack mended on disk is usable again at the next request.
   */
  private async checked(found: DiscoveredPack): Promise<DiscoveredPack> {
    if (!found.pack) return found;
    try {
      return { ...found, pack: await validatePack(found.dir, found.source, undefined, this.layout()) };
    } catch (e) {
      return { dir: found.dir, source: found.source, error: e instanceof PackError ? e : new PackError(found.pack.manifest.id, (e as Error).message) };
    }
  }

  /** Where models/pull writes (WorkerSettings.downloadsDir). */
  downloadsDir(): string {
    const dir = this.requireConfigured().settings.downloadsDir;
    if (!dir) throw new WorkerFailure(WorkerErrorCode.BadInput, 'no downloads folder is configured (WorkerSettings.downloadsDir), so models cannot be pulled');
    return path.resolve(dir);
  }

  async listPacks(): Promise<PackSummary[]> {
    return (await this.discovered(true)).map((d) => {
      const sha = d.pack?.manifestSha256;
      const failure = sha === undefined ? undefined : this.loadFailures.get(sha);
      // A graph ONNX Runtime refused makes the pack invalid here too, as `concert validate` would say.
      if (failure) return summarise({ dir: d.dir, source: d.source, error: failure });
      return { ...summarise(d), ...(sha !== undefined && { graphsLoaded: this.loadedOk.has(sha) }) };
    });
  }

  /** Records whether loading a pack's graphs worked, for the listing (a failure is kept until the pack changes). */
  private async recordLoad<T>(pack: ValidatedPack, load: () => Promise<T>): Promise<T> {
    try {
      const r = await load();
      this.loadedOk.add(pack.manifestSha256);
      return r;
    } catch (e) {
      if (e instanceof PackError) this.loadFailures.set(pack.manifestSha256, e);
      throw e;
    }
  }

  /**
   * Full check of the packs in `dirs` (each a pack or a folder of packs), independent of the configured folders:
   * static validation, then every graph loaded into a session (its I/O compared with the manifest) and released.
   */
  async validatePacks(dirs: string[]): Promise<PackSummary[]> {
    if (!Array.isArray(dirs) || !dirs.length || dirs.some((d) => typeof d !== 'string' || !d))
      throw new WorkerFailure(WorkerErrorCode.BadInput, 'give at least one folder to validate');
    const found = await discoverPacks(
      dirs.map((d) => ({ dir: path.resolve(d), source: 'user' as const })),
      undefined,
      this.layout(),
    );
    const scratch = new SessionCache(this.requireConfigured().provider.chosen, this.settings?.threads ?? 0, 0);
    try {
      for (const f of found) {
        if (!f.pack) continue;
        try {
          for (const role of Object.keys(f.pack.manifest.graphs)) await scratch.get(f.pack, role);
          if (f.pack.manifest.tokenizer) await loadTokenizer(f.pack);
        } catch (e) {
          f.error = e instanceof PackError ? e : new PackError(f.pack.manifest.id, (e as Error).message);
          delete f.pack;
        }
        await scratch.clear();
      }
    } finally {
      await scratch.clear();
    }
    return found.map((f) => ({ ...summarise(f), ...(f.pack && { graphsLoaded: true }) }));
  }

  async doctor(): Promise<DoctorReport> {
    const { provider } = this.requireConfigured();
    return {
      protocolVersion: PROTOCOL_VERSION,
      versions: { concert: CONCERT_VERSION, node: process.version, onnxruntime: ortVersion(), platform: `${process.platform}-${process.arch}` },
      provider,
      packs: await this.listPacks(),
      loadedSessions: this.sessions.keys(),
      workerPid: process.pid,
    };
  }

  /** How published Hugging Face folders are loaded: the weight variant (settings.modelDtype) for the chosen provider. */
  private layout(): HfLayoutOptions {
    const { settings, provider } = this.requireConfigured();
    const dtype = settings.modelDtype ?? 'auto';
    if (dtype !== 'auto' && !(HF_DTYPES as readonly string[]).includes(dtype))
      throw new WorkerFailure(WorkerErrorCode.BadInput, `the model dtype must be auto or one of ${HF_DTYPES.join(', ')} (got "${dtype}")`);
    return { dtype: dtype as HfLayoutOptions['dtype'] & string, provider: provider.chosen };
  }

  /** Packs named by folder (an absolute path as the pack id, e.g. `concert summarize --model ./folder`), by id. */
  private readonly packsByPath = new Map<string, ValidatedPack>();

  private async pack(id: string): Promise<ValidatedPack> {
    if (typeof id !== 'string' || !id) throw new WorkerFailure(WorkerErrorCode.BadInput, 'a model pack id is required');
    if (path.isAbsolute(id)) {
      const [found] = await discoverPacks([{ dir: id, source: 'user' }], undefined, this.layout());
      if (!found || (!found.pack && !found.error)) throw new WorkerFailure(WorkerErrorCode.PackNotFound, `no model pack or Hugging Face ONNX folder in ${id}`);
      if (!found.pack)
        throw new WorkerFailure(
          found.error!.problem.includes('does not exist') ? WorkerErrorCode.PackNotFound : WorkerErrorCode.PackInvalid,
          found.error!.message,
        );
      this.packsByPath.set(found.pack.manifest.id, found.pack);
      return found.pack;
    }
    const byPath = this.packsByPath.get(id);
    if (byPath) return byPath;
    const all = await this.discovered();
    const found = all.find((p) => p.pack?.manifest.id === id) ?? all.find((p) => !p.pack && p.error?.pack === id);
    if (!found) {
      const ids = all.filter((p) => p.pack).map((p) => p.pack!.manifest.id);
      throw new WorkerFailure(WorkerErrorCode.PackNotFound, `no model pack "${id}" (available: ${ids.length ? ids.join(', ') : 'none'})`);
    }
    const hit = await this.checked(found);
    if (!hit.pack) throw new WorkerFailure(WorkerErrorCode.PackInvalid, hit.error!.message);
    return hit.pack;
  }

  async tokenizer(id: string): Promise<PackTokenizer> {
    return this.tokenizerOf(await this.pack(id));
  }

  /** The tokenizer of a pack already found and validated (cached by its manifest). */
  private async tokenizerOf(pack: ValidatedPack): Promise<PackTokenizer> {
    const cached = this.tokenizers.get(pack.manifestSha256);
    if (cached) return cached;
    const tok = await loadTokenizer(pack);
    this.tokenizers.set(pack.manifestSha256, tok);
    return tok;
  }

  /** The requested pack, or the first valid pack of `kind` (bundled packs come first). */
  async packOfKind(kind: string, id?: string, usable: (p: ValidatedPack) => boolean = () => true): Promise<ValidatedPack> {
    if (id !== undefined) {
      const pack = await this.pack(id);
      if (pack.manifest.kind !== kind) throw new WorkerFailure(WorkerErrorCode.BadInput, `model pack "${id}" is a ${pack.manifest.kind}, not a ${kind}`);
      return pack;
    }
    // Prefer a pack that can do the job (e.g. has prompt templates); fall back to any pack of the kind, whose
    // loader then says what is missing.
    const all = (await this.discovered()).filter((p) => p.pack?.manifest.kind === kind);
    for (const candidate of [...all.filter((p) => usable(p.pack!)), ...all.filter((p) => !usable(p.pack!))]) {
      const hit = await this.checked(candidate);
      if (hit.pack) return hit.pack;
    }
    throw new WorkerFailure(WorkerErrorCode.PackNotFound, `no valid ${kind} model pack is installed (run "concert doctor" to see why)`);
  }

  /** Loads (lazily, cached) a causal LM with its tokenizer and prompt templates. */
  async languageModel(packId?: string): Promise<LanguageModel> {
    const pack = await this.packOfKind('causal-lm', packId, (p) => !!p.manifest.prompts);
    const tok = await this.tokenizerOf(pack);
    // The decoder is loaded first through recordLoad (then cached), so that only graph failures mark the pack invalid.
    if (pack.manifest.graphs['decoder']) await this.recordLoad(pack, () => this.sessions.get(pack, 'decoder'));
    return loadLanguageModel(pack, this.sessions, tok);
  }

  /** Loads a simplex diffusion LM with its tokenizer. */
  async diffusionModel(packId?: string): Promise<{ pack: ValidatedPack; lm: OnnxDiffusionLM; tok: PackTokenizer; modelSha256: string }> {
    const pack = await this.packOfKind('simplex-diffusion-lm', packId);
    const tok = await this.tokenizerOf(pack);
    const shape = diffusionShape(pack);
    const pad = tok.specialIds['pad'] ?? tok.specialIds['eos'];
    if (pad === undefined) throw new WorkerFailure(WorkerErrorCode.PackInvalid, `model pack "${pack.manifest.id}" must declare specialTokens.pad or eos`);
    const [context, denoiser] = await this.recordLoad(
      pack,
      // An ssd-lm layout pack (tools/export) has no context graph.
      async () => [shape.layout === 'ssd-lm' ? undefined : await this.sessions.get(pack, 'context'), await this.sessions.get(pack, 'denoiser')] as const,
    );
    const lm = new OnnxDiffusionLM(context, denoiser, shape, pad);
    return { pack, lm, tok, modelSha256: pack.manifest.files[pack.manifest.graphs['denoiser']!]!.sha256 };
  }

  /**
   * Loads a codec-lm of one stream format (JPEG-LM images, AVC-LM video): the decoder, and the bytes each token stands
   * for. Without an id, the first valid pack of that format.
   */
  async codecModel(packId?: string, format: CodecFormat = 'jpeg'): Promise<CodecModel> {
    const pack = await this.packOfKind('codec-lm', packId, (p) => p.manifest.codec?.format === format);
    const found = pack.manifest.codec?.format;
    if (found !== format)
      throw new WorkerFailure(
        packId === undefined ? WorkerErrorCode.PackNotFound : WorkerErrorCode.BadInput,
        packId === undefined
          ? `no valid ${CODEC_FORMAT_NAMES[format]} codec-lm pack is installed (run "concert doctor" to see why)`
          : `model pack "${packId}" is a ${CODEC_FORMAT_NAMES[found ?? format]} codec-lm, not a ${CODEC_FORMAT_NAMES[format]} one`,
      );
    const tok = pack.manifest.tokenizer ? await this.tokenizerOf(pack) : undefined;
    await this.recordLoad(pack, () => this.sessions.get(pack, 'decoder'));
    return loadCodecModel(pack, this.sessions, tok);
  }

  /** Every valid classifier pack with the attribute it measures, from its manifest: nothing is loaded. */
  async classifierPacks(): Promise<{ pack: ValidatedPack; attribute: string }[]> {
    const listed = (await this.discovered()).filter((p) => p.pack?.manifest.kind === 'classifier');
    const checked: DiscoveredPack[] = [];
    for (const p of listed) checked.push(await this.checked(p));
    return checked
      .filter((p) => p.pack)
      .map((p) => {
        // As OnnxClassifier reads it: knobs.attribute, else the pack id.
        const attribute = p.pack!.manifest.knobs?.['attribute'];
        return { pack: p.pack!, attribute: typeof attribute === 'string' ? attribute : p.pack!.manifest.id };
      });
  }

  /** Loads one classifier pack (sessions are cached); a failure is a PackError naming the pack, and is remembered. */
  async classifier(pack: ValidatedPack): Promise<OnnxClassifier> {
    const known = this.loadFailures.get(pack.manifestSha256);
    if (known) throw known;
    const graph = await this.recordLoad(pack, () => this.sessions.get(pack, 'classifier'));
    try {
      return new OnnxClassifier(graph);
    } catch (e) {
      const err = e instanceof PackError ? e : new PackError(pack.manifest.id, (e as Error).message);
      this.loadFailures.set(pack.manifestSha256, err);
      throw err;
    }
  }

  providerReport(): ProviderReport {
    return this.requireConfigured().provider;
  }

  async tokenize(p: TokenizeParams): Promise<TokenizeResult> {
    if (typeof p.text !== 'string') throw new WorkerFailure(WorkerErrorCode.BadInput, 'text must be a string');
    const tok = await this.tokenizer(p.packId);
    const ids = tok.encodePlain(p.text);
    return { ids, tokens: tok.tokens(ids) };
  }

  /** Runs every graph of a pack `steps` times on synthetic inputs; each run is a cancellation point. */
  async selfTest(p: SelfTestParams, job: JobControl): Promise<SelfTestResult> {
    const { provider } = this.requireConfigured();
    if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > 1_000_000)
      throw new WorkerFailure(WorkerErrorCode.BadInput, 'steps must be an integer from 1 to 1000000');
    const pack = await this.pack(p.packId);
    const roles = Object.keys(pack.manifest.graphs);
    const graphs = await this.recordLoad(pack, async () => {
      const out = [];
      for (const role of roles) out.push(await this.sessions.get(pack, role));
      return out;
    });
    const feeds = roles.map((role) => {
      const synth = syntheticFeeds(pack.manifest.io[role]!.inputs);
      return Object.fromEntries(Object.entries(synth).map(([n, t]) => [n, new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims)]));
    });
    let ran = 0;
    const t0 = performance.now();
    for (let step = 1; step <= p.steps; step++) {
      if (job.isCancelled())
        throw new WorkerFailure(WorkerErrorCode.Cancelled, `self-test of "${p.packId}" cancelled after ${ran} of ${p.steps} steps`, { stepsRun: ran });
      for (let g = 0; g < graphs.length; g++) {
        graphs[g]!.lastUsed = Date.now();
        await graphs[g]!.session.run(feeds[g]!);
      }
      ran = step;
      job.progress(step, p.steps);
    }
    // Where the graphs ran: the chosen provider, or cpu for a pack that provider could not take.
    const ranOn = graphs.every((g) => g.provider === provider.chosen) ? provider.chosen : 'cpu';
    return { packId: p.packId, graphs: roles, stepsRun: ran, meanMsPerStep: (performance.now() - t0) / Math.max(1, ran), provider: ranOn };
  }

  status(): WorkerStatus {
    return { provider: this.provider?.chosen ?? 'cpu', loadedSessions: this.sessions.keys(), rssBytes: process.memoryUsage().rss };
  }

  private emitStatus(): void {
    this.onStatus(this.status());
  }

  async dispose(): Promise<void> {
    await this.sessions.clear();
  }
}

function summarise(d: DiscoveredPack): PackSummary {
  if (d.pack) {
    const m = d.pack.manifest;
    const classifier = m.kind === 'classifier' ? classifierKnobs(m.id, m.knobs) : undefined;
    return {
      id: m.id,
      kind: m.kind,
      dir: d.pack.dir,
      source: d.source,
      valid: true,
      ...(m.displayName && { displayName: m.displayName }),
      sizeBytes: d.pack.sizeBytes,
      manifestSha256: d.pack.manifestSha256,
      ...(classifier && { classifier }),
      ...(m.codec && {
        codec: {
          format: m.codec.format,
          width: m.codec.width,
          height: m.codec.height,
          tokens: m.codec.tokens.mapping,
          ...(m.codec.format === 'h264' && { fps: m.codec.fps }),
        },
      }),
    };
  }
  return { id: d.error?.pack ?? path.basename(d.dir), kind: 'unknown', dir: d.dir, source: d.source, valid: false, error: d.error?.message ?? 'invalid' };
}

/** A classifier's attribute and labels as OnnxClassifier reads them (the attribute defaults to the pack id). */
function classifierKnobs(id: string, knobs: Record<string, unknown> | undefined): { attribute: string; labels: string[] } | undefined {
  const labels = knobs?.['labels'];
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string')) return undefined;
  const attribute = knobs?.['attribute'];
  return { attribute: typeof attribute === 'string' ? attribute : id, labels: [...labels] };
}

/**
 * The images panel's data as pure functions (issue 14): the worker request a run makes, streamed previews folded into
 * the gallery, the worker's result as the panel shows it (the original, the kept region, each sample with its verdict,
 * the run record), and what workspaceState keeps. No `vscode` import, so tests cover it.
 */
import type { ImageControls, ImageSampleView, ImagesMode, ImagesRunView, ImagesViewState } from '../protocol/webview';
import type { ImageProgress, ImageRunParams, ImageRunResult, PackSummary } from '../protocol/worker';
import { codecPack, isObj, recordFrame, samplingDecoding, shortSha, stoppedRun as stopped } from './codecPanel';
import { sanitizeImageControls } from './imagesMessages';

/** The images panel's webview type (package.json declares `onWebviewPanel:` + this, so a reload restores it). */
export const IMAGES_VIEW_TYPE = 'concert.images';

/** Above this many base64 characters of images, a run is kept in workspaceState without them (the record stays). */
export const MAX_PERSISTED_IMAGE_CHARS = 4 * 1024 * 1024;

/** How the Images panel speaks of its packs: JPEG codec-lm packs only (a codec-lm over H.264 is not offered here). */
const IMAGE_PACKS = { format: 'jpeg', formatByDefault: true, model: 'image model', kind: 'a codec-lm pack', setting: 'concert.image.modelPack' };

/** The codec model the panel names: the pack the settings pick, else the first valid codec-lm pack (the worker's default). */
export function codecModel(packs: readonly PackSummary[] | undefined, packId?: string): Pick<ImagesViewState, 'model' | 'noModel'> {
  const { model, noModel } = codecPack(packs, IMAGE_PACKS, packId);
  return { ...(model && { model: { id: model.id, label: model.label, width: model.width, height: model.height } }), ...(noModel !== undefined && { noModel }) };
}

/** The worker request of a run. */
export function imageRunParams(mode: ImagesMode, c: ImageControls, o: { file?: string; packId?: string; progressToken: string }): ImageRunParams {
  return {
    mode,
    ...(mode === 'complete' && o.file !== undefined && { file: o.file, ratio: c.ratio }),
    samples: c.samples,
    decoding: samplingDecoding(c),
    ...(c.seed !== undefined && { seed: c.seed }),
    ...(o.packId !== undefined && { packId: o.packId }),
    progressToken: o.progressToken,
  };
}

export function startedRun(id: number, mode: ImagesMode, controls: ImageControls, sourceName?: string): ImagesRunView {
  return {
    id,
    status: 'running',
    mode,
    ...(mode === 'complete' && sourceName !== undefined && { sourceName }),
    controls,
    samples: Array.from({ length: controls.samples }, (_, index) => ({ index, mcusDone: 0, tokens: 0, done: false })),
  };
}

/** A `progress/image` notification folded into the gallery: a sample keeps its last preview until a newer one comes. */
export function withProgress(run: ImagesRunView, p: ImageProgress): ImagesRunView {
  const samples = run.samples.map((s): ImageSampleView => {
    const u = p.samples.find((x) => x.index === s.index);
    if (!u) return s;
    return { ...s, mcusDone: u.mcusDone, tokens: u.tokens, done: u.done, ...(u.jpeg !== undefined && { jpeg: u.jpeg }) };
  });
  return {
    ...run,
    ...(p.source !== undefined && { original: p.source }),
    ...(p.prompt !== undefined && { kept: p.prompt }),
    samples,
    mcuCount: p.mcuCount,
    progress: { step: p.step, maxSteps: p.maxSteps },
  };
}

/** The run record as name/value rows. */
export function recordRows(r: ImageRunResult): { name: string; value: string }[] {
  const run = r.run;
  const k = run.knobs;
  const g = run.image;
  return recordFrame(r, run, k.decoding, {
    head: [
      { name: 'Image', value: `${g.width}×${g.height}, ${g.mcuCount} MCUs in ${g.patches} patches` },
      ...(k.mode === 'complete'
        ? [{ name: 'Kept', value: `${g.keptPatches} of ${g.patches} patches (${g.keptMcus} MCUs, ratio ${k.ratio}); prompt ${run.promptBytes} bytes` }]
        : []),
      ...(run.source ? [{ name: 'Input', value: `canonical stream ${run.source.streamBytes} bytes, sha256 ${shortSha(run.source.streamSha256)}` }] : []),
    ],
    samples: `${k.samples}, at most ${k.maxTokens} tokens each; ${k.constrained ? 'grammar-constrained' : 'unconstrained'}`,
  });
}

export function finishedRun(run: ImagesRunView, r: ImageRunResult): ImagesRunView {
  const { progress: _p, ...rest } = run;
  const g = r.run.image;
  return {
    ...rest,
    status: 'done',
    ...(r.source !== undefined && { original: r.source }),
    kept: r.prompt,
    mcuCount: g.mcuCount,
    geometry: { width: g.width, height: g.height, mcuCount: g.mcuCount, patches: g.patches, keptPatches: g.keptPatches, keptMcus: g.keptMcus },
    samples: r.samples.map((s) => ({
      index: s.index,
      jpeg: s.jpeg,
      mcusDone: g.mcuCount,
      tokens: s.tokens,
      done: true,
      decodable: s.decodable,
      ...(s.problem !== undefined && { problem: s.problem }),
    })),
    decodable: r.decodable,
    record: recordRows(r),
  };
}

/** The run after a cancel or a failure: the previews so far stay, the progress goes. */
export function stoppedRun(run: ImagesRunView, status: 'cancelled' | 'error', message: string): ImagesRunView {
  return stopped(run, status, message);
}

/** Marks the samples saved (index → file name). */
export function markSaved(run: ImagesRunView, saved: ReadonlyMap<number, string>): ImagesRunView {
  return { ...run, samples: run.samples.map((s) => (saved.has(s.index) ? { ...s, savedAs: saved.get(s.index)! } : s)) };
}

export interface PersistedImages {
  version: 1;
  mode: ImagesMode;
  controls: ImageControls;
  /** complete: the image the next run reads (absolute path). */
  source?: string;
  run?: ImagesRunView;
  /** The image `run` completed (Save writes next to it). */
  runSource?: string;
}

const imageChars = (run: ImagesRunView) => (run.original?.length ?? 0) + (run.kept?.length ?? 0) + run.samples.reduce((n, s) => n + (s.jpeg?.length ?? 0), 0);

/** The run as workspaceState keeps it: without its images when they are large (the record and the verdicts stay). */
export function persistableRun(run: ImagesRunView): ImagesRunView {
  if (imageChars(run) <= MAX_PERSISTED_IMAGE_CHARS) return run;
  const { original: _o, kept: _k, ...rest } = run;
  return { ...rest, samples: run.samples.map(({ jpeg: _j, ...s }) => s) };
}

const isMode = (v: unknown): v is ImagesMode => v === 'complete' || v === 'generate';

/** What workspaceState handed back, if it still has the right shape (a run that was running is shown as cancelled). */
export function restorePersisted(raw: unknown): Omit<PersistedImages, 'version'> | undefined {
  if (!isObj(raw) || raw.version !== 1 || !isMode(raw.mode)) return undefined;
  const controls = sanitizeImageControls(raw.controls);
  if (!controls) return undefined;
  const base = { mode: raw.mode, controls, ...(typeof raw.source === 'string' && raw.source && { source: raw.source }) };
  const run = raw.run;
  if (!isObj(run) || typeof run.id !== 'number' || !isMode(run.mode) || !sanitizeImageControls(run.controls) || !Array.isArray(run.samples)) return base;
  const r = run as unknown as ImagesRunView;
  const runSource = typeof raw.runSource === 'string' && raw.runSource ? { runSource: raw.runSource } : {};
  if (r.status === 'running') return { ...base, run: stoppedRun(r, 'cancelled', 'The window closed during the run.'), ...runSource };
  return { ...base, run: r, ...runSource };
}

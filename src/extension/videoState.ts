/**
 * The video panel's data as pure functions (issue 15): the worker request a run makes, streamed frames folded into
 * the sample rows, the worker's result as the panel shows it (prompt frames, each sample's frames and verdict, the run
 * record), the clips Save writes, a failure's fix, and what workspaceState keeps. No `vscode` import, so tests cover it.
 */
import type { VideoControls, VideoFix, VideoRunView, VideoSampleView, VideoViewState } from '../protocol/webview';
import { WorkerErrorCode, type PackSummary, type VideoProgress, type VideoRunParams, type VideoRunResult } from '../protocol/worker';
import { codecPack, durationText, isObj, recordFrame, samplingDecoding, shortSha, stoppedRun as stopped } from './codecPanel';
import { sanitizeVideoControls } from './videoMessages';

/** The video panel's webview type (package.json declares `onWebviewPanel:` + this, so a reload restores it). */
export const VIDEO_VIEW_TYPE = 'concert.video';

/**
 * Above this many base64 characters of frames and clips, a run is kept in workspaceState without them (the record and
 * the verdicts stay; Save then has nothing to write until the next run).
 */
export const MAX_PERSISTED_VIDEO_CHARS = 4 * 1024 * 1024;

const VIDEO_PACKS = { format: 'h264', model: 'video model', kind: 'an H.264 codec-lm pack', setting: 'concert.video.modelPack' };

/** The video model the panel names: the pack the settings pick, else the first valid H.264 codec-lm pack (the worker's default). */
export function videoModel(packs: readonly PackSummary[] | undefined, packId?: string, fps?: number): Pick<VideoViewState, 'model' | 'noModel'> {
  const { model, noModel } = codecPack(packs, VIDEO_PACKS, packId);
  const rate = model?.fps ?? fps;
  return { ...(model && { model: { ...model, ...(rate !== undefined && { fps: rate }) } }), ...(noModel !== undefined && { noModel }) };
}

/** The worker request of a run: the clip, the knobs, the pack and ffmpeg of the settings; .mp4 files too (ffmpeg permitting). */
export function videoRunParams(c: VideoControls, o: { file: string; packId?: string; ffmpegPath?: string; progressToken: string }): VideoRunParams {
  return {
    file: o.file,
    promptFrames: c.promptFrames,
    frames: c.frames,
    samples: c.samples,
    decoding: samplingDecoding(c),
    ...(c.seed !== undefined && { seed: c.seed }),
    ...(o.packId !== undefined && { packId: o.packId }),
    ...(o.ffmpegPath !== undefined && { ffmpegPath: o.ffmpegPath }),
    mp4: true,
    progressToken: o.progressToken,
  };
}

export function startedRun(id: number, controls: VideoControls, sourceName: string): VideoRunView {
  return {
    id,
    status: 'running',
    sourceName,
    controls,
    samples: Array.from({ length: controls.samples }, (_, index) => ({ index, frames: [], tokens: 0, done: false })),
  };
}

/** A `progress/video` notification folded in: each sample's new frames appended in order, its counts and done flag. */
export function withProgress(run: VideoRunView, p: VideoProgress): VideoRunView {
  const samples = run.samples.map((s): VideoSampleView => {
    const u = p.samples.find((x) => x.index === s.index);
    if (!u) return s;
    return { ...s, tokens: u.tokens, done: u.done, ...(u.newFrames?.length && { frames: [...s.frames, ...u.newFrames] }) };
  });
  return {
    ...run,
    ...(p.promptFrames !== undefined && { promptFrames: p.promptFrames }),
    samples,
    progress: { step: p.step, maxSteps: p.maxSteps },
  };
}

/** The run record as name/value rows. */
export function recordRows(r: VideoRunResult): { name: string; value: string }[] {
  const run = r.run;
  const k = run.knobs;
  const v = run.video;
  return recordFrame(r, run, k.decoding, {
    head: [
      { name: 'Video', value: `${v.width}×${v.height} at ${v.fps} fps, ${v.clipFrames} frames${v.canonicalisedWith ? ' (converted with ffmpeg)' : ''}` },
      { name: 'Prompt', value: `${k.promptFrames} frames; ${run.promptBytes} bytes, ${run.promptTokens} tokens` },
      { name: 'Generated', value: `${k.frames} frames per sample` },
      ...(run.source ? [{ name: 'Input', value: `canonical stream ${run.source.streamBytes} bytes, sha256 ${shortSha(run.source.streamSha256)}` }] : []),
    ],
    samples: `${k.samples}, at most ${k.maxTokens} tokens each; ${k.constrained ? 'grammar-constrained' : 'unconstrained'}`,
  }).concat([
    {
      name: 'Phases',
      value: `prepare ${durationText(run.timings.prepareMs)}, prefill ${durationText(run.timings.prefillMs)}, decode ${durationText(run.timings.decodeMs)}`,
    },
  ]);
}

/** The clips of a finished run, by sample: what Save writes. */
export interface VideoClip {
  index: number;
  h264: string;
  mp4?: string;
}

export function resultClips(r: VideoRunResult): VideoClip[] {
  return r.samples.map((s) => ({ index: s.index, h264: s.h264, ...(s.mp4 !== undefined && { mp4: s.mp4 }) }));
}

export function finishedRun(run: VideoRunView, r: VideoRunResult): VideoRunView {
  const { progress: _p, ...rest } = run;
  const v = r.run.video;
  return {
    ...rest,
    status: 'done',
    promptFrames: r.promptFrames,
    video: { width: v.width, height: v.height, fps: v.fps, clipFrames: v.clipFrames },
    samples: r.samples.map((s) => ({
      index: s.index,
      frames: s.frames,
      tokens: s.tokens,
      done: true,
      decodable: s.decodable,
      decodedFrames: s.decodedFrames,
      ...(s.problem !== undefined && { problem: s.problem }),
    })),
    decodable: r.decodable,
    mp4: r.samples.length > 0 && r.samples.every((s) => s.mp4 !== undefined),
    ...(r.mp4Skipped !== undefined && { mp4Skipped: r.mp4Skipped }),
    record: recordRows(r),
  };
}

/** The run after a cancel: the frames so far stay, the progress goes. */
export function stoppedRun(run: VideoRunView, status: 'cancelled' | 'error', message: string, fix?: VideoFix): VideoRunView {
  return { ...stopped(run, status, message), ...(fix && { fix }) };
}

/**
 * A failed run's message and what fixes it: ffmpeg missing or unusable (the worker's message says how to install it
 * or set concert.ffmpegPath) → the ffmpeg setting; no video model → a message that names concert.video.modelPack.
 */
export function failure(e: unknown, message: string, packId?: string): { message: string; fix?: VideoFix } {
  const code = isObj(e) ? e.code : undefined;
  if (/ffmpeg/i.test(message)) return { message, fix: 'ffmpeg' };
  if (code === WorkerErrorCode.PackNotFound || code === WorkerErrorCode.PackInvalid) {
    const which = packId ? `concert.video.modelPack names "${packId}"` : 'concert.video.modelPack is empty, so the first installed H.264 codec-lm pack is used';
    return { message: `${message.replace(/\.$/, '')}. ${which}: set it to an installed video model, or add one with Add Model Folder….`, fix: 'model' };
  }
  return { message };
}

/** Marks the samples saved (index → file names). */
export function markSaved(run: VideoRunView, saved: ReadonlyMap<number, string[]>): VideoRunView {
  return { ...run, samples: run.samples.map((s) => (saved.has(s.index) ? { ...s, savedAs: saved.get(s.index)! } : s)) };
}

export interface PersistedVideo {
  version: 1;
  controls: VideoControls;
  /** The clip the next run reads (absolute path). */
  source?: string;
  run?: VideoRunView;
  /** The clip `run` continued (Save writes next to it). */
  runSource?: string;
  /** The run's clips, for Save after a reload. */
  clips?: VideoClip[];
}

const frameChars = (run: VideoRunView) =>
  (run.promptFrames ?? []).reduce((n, f) => n + f.length, 0) + run.samples.reduce((n, s) => n + s.frames.reduce((m, f) => m + f.length, 0), 0);
const clipChars = (clips: readonly VideoClip[]) => clips.reduce((n, c) => n + c.h264.length + (c.mp4?.length ?? 0), 0);

/** The run and its clips as workspaceState keeps them: without frames and clips when they are large (the record and verdicts stay). */
export function persistable(run: VideoRunView, clips: readonly VideoClip[]): { run: VideoRunView; clips: VideoClip[] } {
  if (frameChars(run) + clipChars(clips) <= MAX_PERSISTED_VIDEO_CHARS) return { run, clips: [...clips] };
  const { promptFrames: _f, ...rest } = run;
  return { run: { ...rest, samples: run.samples.map((s) => ({ ...s, frames: [] })) }, clips: [] };
}

const isClip = (v: unknown): v is VideoClip =>
  isObj(v) && typeof v.index === 'number' && typeof v.h264 === 'string' && (v.mp4 === undefined || typeof v.mp4 === 'string');

/** What workspaceState handed back, if it still has the right shape (a run that was running is shown as cancelled). */
export function restorePersisted(raw: unknown): Omit<PersistedVideo, 'version'> | undefined {
  if (!isObj(raw) || raw.version !== 1) return undefined;
  const controls = sanitizeVideoControls(raw.controls);
  if (!controls) return undefined;
  const base = { controls, ...(typeof raw.source === 'string' && raw.source && { source: raw.source }) };
  const run = raw.run;
  if (
    !isObj(run) ||
    typeof run.id !== 'number' ||
    typeof run.sourceName !== 'string' ||
    !sanitizeVideoControls(run.controls) ||
    !Array.isArray(run.samples) ||
    !run.samples.every((s) => isObj(s) && Array.isArray(s.frames))
  )
    return base;
  const r = run as unknown as VideoRunView;
  const extra = {
    ...(typeof raw.runSource === 'string' && raw.runSource && { runSource: raw.runSource }),
    ...(Array.isArray(raw.clips) && raw.clips.every(isClip) && { clips: raw.clips }),
  };
  if (r.status === 'running') return { ...base, run: stoppedRun(r, 'cancelled', 'The window closed during the run.'), ...extra };
  return { ...base, run: r, ...extra };
}

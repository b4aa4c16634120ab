/**
 * What the codec panels (Concert: Images, issue 14; Concert: Video, issue 15) share on the host side, as pure
 * functions: the checks on their messages and on what workspaceState hands back (the sampling knobs, a Save), the
 * worker's decoding parameters from those knobs, the codec-lm pack a panel names, the file names Save writes (never
 * over an existing file), the run record's common rows, and a run stopped by a cancel or an error. No `vscode`
 * import, so tests cover it.
 */
import * as path from 'node:path';
import { SAMPLING_LIMITS, type SamplingControls } from '../protocol/webview';
import type { DecodingParams, PackSummary } from '../protocol/worker';

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
export const whole = (v: unknown, r: { min: number; max: number }): v is number => inRange(v, r) && Number.isInteger(v);

/**
 * The guard of a panel's messages: an object whose `type` is one of `checks`' keys and passes its check. A Record, so a
 * message type added to the protocol without a check is a compile error.
 */
export function messageGuard<T extends { type: string }>(checks: Record<T['type'], (m: Record<string, unknown>) => boolean>): (m: unknown) => m is T {
  return (m: unknown): m is T => {
    if (!isObj(m)) return false;
    const t = m.type;
    if (typeof t !== 'string' || !Object.hasOwn(checks, t)) return false;
    return checks[t as T['type']](m);
  };
}

/** A copy of the sampling knobs of `v` when they are all there and in range, else undefined. */
export function sanitizeSampling(v: Record<string, unknown>): SamplingControls | undefined {
  const L = SAMPLING_LIMITS;
  if (!inRange(v.temperature, L.temperature) || !inRange(v.topP, L.topP) || !whole(v.topK, L.topK)) return undefined;
  if (v.seed !== undefined && !whole(v.seed, L.seed)) return undefined;
  return { temperature: v.temperature, topP: v.topP, topK: v.topK, ...(v.seed !== undefined && { seed: v.seed }) };
}

/** A `save` message: next to the source or into a folder, all samples or one of `maxSamples`. */
export function isSaveMessage(m: Record<string, unknown>, maxSamples: number): boolean {
  return (m.where === 'source' || m.where === 'folder') && (m.index === undefined || whole(m.index, { min: 0, max: maxSamples - 1 }));
}

/** The worker's decoding parameters of the knobs (top-k 0 is off). */
export function samplingDecoding(c: SamplingControls): DecodingParams {
  return { mode: 'sample', temperature: c.temperature, topP: c.topP, ...(c.topK > 0 && { topK: c.topK }) };
}

/** The knobs of a worker default that samples (the thesis' top-k 50, temperature 1 when it does not). */
export function defaultSampling(d: DecodingParams): Omit<SamplingControls, 'seed'> {
  return d.mode === 'sample' ? { temperature: d.temperature, topP: d.topP, topK: d.topK ?? 0 } : { temperature: 1, topP: 1, topK: 50 };
}

/** A codec-lm pack of one stream format, as a panel's header names it. */
export interface CodecPackView {
  id: string;
  label: string;
  width: number;
  height: number;
  /** Video packs whose summary tells it. */
  fps?: number;
}

/** How a panel speaks of its packs: "image model", and the setting that picks one. */
export interface CodecPackWords {
  format: string;
  /** Whether a pack without a codec block counts as this format (older JPEG packs). */
  formatByDefault?: boolean;
  model: string;
  /** What such a pack is, for the "none installed" message: "a codec-lm pack". */
  kind: string;
  setting: string;
}

/** The codec model a panel names: the pack the settings pick, else the first valid one of the format (the worker's default). */
export function codecPack(packs: readonly PackSummary[] | undefined, words: CodecPackWords, packId?: string): { model?: CodecPackView; noModel?: string } {
  if (!packs) return {};
  const codec = packs.filter((p) => p.kind === 'codec-lm' && (p.codec?.format ?? (words.formatByDefault ? words.format : undefined)) === words.format);
  const valid = codec.filter((p) => p.valid && p.codec);
  const pick = packId ? valid.find((p) => p.id === packId || p.dir === packId) : valid[0];
  if (pick?.codec) {
    const fps = (pick.codec as { fps?: unknown }).fps;
    return {
      model: {
        id: pick.id,
        label: pick.displayName && pick.displayName !== pick.id ? `${pick.displayName} (${pick.id})` : pick.id,
        width: pick.codec.width,
        height: pick.codec.height,
        ...(typeof fps === 'number' && fps > 0 && { fps }),
      },
    };
  }
  if (packId && valid.length) return { noModel: `The ${words.model} "${packId}" (${words.setting}) is not installed or not valid.` };
  const broken = codec.find((p) => !p.valid);
  return {
    noModel: broken
      ? `No valid ${words.model}: ${broken.error ?? `${broken.id} is not valid`}.`
      : `No ${words.model} (${words.kind}) is installed: add one with Add Model Folder….`,
  };
}

/** `<stem>` of a file name (the whole name when it has no stem, `fallback` when empty). */
export function fileStem(source: string | undefined, fallback: string): string {
  const base = source ? path.basename(source) : fallback;
  return base.slice(0, base.length - path.extname(base).length) || base || fallback;
}

/**
 * A name for `name` that is not in `taken` (compared case-insensitively, as on Windows and macOS): the name itself,
 * else `<stem> (2).<ext>`, `<stem> (3).<ext>`, … Save never overwrites a file.
 */
export function freeName(name: string, taken: ReadonlySet<string>): string {
  const lower = new Set([...taken].map((t) => t.toLowerCase()));
  if (!lower.has(name.toLowerCase())) return name;
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let n = 2; ; n++) {
    const candidate = `${stem} (${n})${ext}`;
    if (!lower.has(candidate.toLowerCase())) return candidate;
  }
}

/** `names` as written into a folder holding `existing`: each kept unless taken, never the same name twice. */
export function freeNames(names: readonly string[], existing: Iterable<string>): string[] {
  const taken = new Set(existing);
  return names.map((n) => {
    const name = freeName(n, taken);
    taken.add(name);
    return name;
  });
}

export const shortSha = (sha: string) => `${sha.slice(0, 12)}…`;
export const durationText = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(1)} s` : `${n} ms`);

/** The run record's rows every codec run has, around the panel's own (`middle`). */
export function recordFrame(
  r: { model: { id: string; displayName?: string }; decodable: number; samples: readonly unknown[] },
  run: { manifestSha256: string; seed: number; provider: string; device: string; timings: { totalMs: number; steps: number; msPerStep: number } },
  d: DecodingParams,
  parts: { head: { name: string; value: string }[]; samples: string },
): { name: string; value: string }[] {
  return [
    { name: 'Model', value: `${r.model.displayName ? `${r.model.displayName} (${r.model.id})` : r.model.id}; manifest ${shortSha(run.manifestSha256)}` },
    ...parts.head,
    { name: 'Seed', value: String(run.seed) },
    {
      name: 'Decoding',
      value: d.mode === 'greedy' ? 'greedy' : `temperature ${d.temperature}, top-p ${d.topP}${d.topK ? `, top-k ${d.topK}` : ''}`,
    },
    { name: 'Samples', value: parts.samples },
    { name: 'Decodable', value: `${r.decodable} of ${r.samples.length}` },
    { name: 'Provider', value: `${run.provider} (${run.device})` },
    { name: 'Time', value: `${durationText(run.timings.totalMs)} (${run.timings.steps} steps, ${run.timings.msPerStep} ms/step)` },
  ];
}

/** A run after a cancel or a failure: what streamed so far stays, the progress goes. */
export function stoppedRun<R extends { status: string; progress?: unknown; message?: string }>(run: R, status: 'cancelled' | 'error', message: string): R {
  const { progress: _p, ...rest } = run;
  return { ...rest, status, message } as R;
}

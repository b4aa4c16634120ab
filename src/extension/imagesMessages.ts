/**
 * Checks messages from the images panel before the host acts on them (the page is sandboxed, but what it sends is
 * still input: a `run` carries every knob of a worker request, a `save` an index into the samples), and names the
 * files Save writes. No `vscode` import, so tests cover it.
 */
import * as path from 'node:path';
import { IMAGE_LIMITS, type ImageControls, type ImagesMode, type ImagesViewToHost } from '../protocol/webview';

type Check = (m: Record<string, unknown>) => boolean;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
const whole = (v: unknown, r: { min: number; max: number }): v is number => inRange(v, r) && Number.isInteger(v);
const isMode = (v: unknown): v is ImagesMode => v === 'complete' || v === 'generate';

/**
 * A copy of `v` when it is a complete, in-range set of controls, else undefined. Used for the panel's `run` and
 * for what workspaceState hands back.
 */
export function sanitizeImageControls(v: unknown): ImageControls | undefined {
  if (!isObj(v)) return undefined;
  const L = IMAGE_LIMITS;
  if (!inRange(v.ratio, L.ratio) || !whole(v.samples, L.samples)) return undefined;
  if (!inRange(v.temperature, L.temperature) || !inRange(v.topP, L.topP) || !whole(v.topK, L.topK)) return undefined;
  if (v.seed !== undefined && !whole(v.seed, L.seed)) return undefined;
  return {
    ratio: v.ratio,
    samples: v.samples,
    temperature: v.temperature,
    topP: v.topP,
    topK: v.topK,
    ...(v.seed !== undefined && { seed: v.seed }),
  };
}

/** A Record, so a message type added to the protocol without a check here is a compile error. */
const CHECKS: Record<ImagesViewToHost['type'], Check> = {
  ready: () => true,
  cancel: () => true,
  pickImage: () => true,
  openSettings: () => true,
  run: (m) => isMode(m.mode) && sanitizeImageControls(m.controls) !== undefined,
  save: (m) => (m.where === 'source' || m.where === 'folder') && (m.index === undefined || whole(m.index, { min: 0, max: IMAGE_LIMITS.samples.max - 1 })),
};

export function isImagesViewToHost(m: unknown): m is ImagesViewToHost {
  if (!isObj(m)) return false;
  const t = m.type;
  if (typeof t !== 'string' || !Object.hasOwn(CHECKS, t)) return false;
  return CHECKS[t as ImagesViewToHost['type']](m);
}

/** Image files Complete Image… takes (the explorer menu offers it on these; the open dialog filters by them). */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg'] as const;

export function isImageFile(file: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(path.extname(file).slice(1).toLowerCase());
}

/**
 * The file name of sample `index` (0-based), as the CLI names it: `<stem>-complete-<i>.jpg` for a completion of
 * `<stem>.<ext>`, `generate-<i>.jpg` for a generation (i from 1).
 */
export function sampleFileName(mode: ImagesMode, index: number, source?: string): string {
  if (mode === 'generate') return `generate-${index + 1}.jpg`;
  const base = source ? path.basename(source) : 'image';
  const stem = base.slice(0, base.length - path.extname(base).length) || base || 'image';
  return `${stem}-complete-${index + 1}.jpg`;
}

/**
 * A name for `name` that is not in `taken` (compared case-insensitively, as on Windows and macOS): the name itself,
 * else `<stem> (2).jpg`, `<stem> (3).jpg`, … Save never overwrites a file.
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

/** The names of the samples `indices` saved into a folder holding `existing`: as the CLI names them, never one taken. */
export function saveNames(mode: ImagesMode, indices: readonly number[], source: string | undefined, existing: Iterable<string>): string[] {
  const taken = new Set(existing);
  return indices.map((i) => {
    const name = freeName(sampleFileName(mode, i, source), taken);
    taken.add(name);
    return name;
  });
}

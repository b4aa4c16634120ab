/**
 * Checks messages from the images panel before the host acts on them (the page is sandboxed, but what it sends is
 * still input: a `run` carries every knob of a worker request, a `save` an index into the samples), and names the
 * files Save writes. No `vscode` import, so tests cover it.
 */
import * as path from 'node:path';
import { IMAGE_LIMITS, type ImageControls, type ImagesMode, type ImagesViewToHost } from '../protocol/webview';
import { fileStem, freeNames, inRange, isObj, isSaveMessage, messageGuard, sanitizeSampling, whole } from './codecPanel';

export { freeName } from './codecPanel';

const isMode = (v: unknown): v is ImagesMode => v === 'complete' || v === 'generate';

/**
 * A copy of `v` when it is a complete, in-range set of controls, else undefined. Used for the panel's `run` and
 * for what workspaceState hands back.
 */
export function sanitizeImageControls(v: unknown): ImageControls | undefined {
  if (!isObj(v)) return undefined;
  const L = IMAGE_LIMITS;
  if (!inRange(v.ratio, L.ratio) || !whole(v.samples, L.samples)) return undefined;
  const sampling = sanitizeSampling(v);
  return sampling && { ratio: v.ratio, samples: v.samples, ...sampling };
}

export const isImagesViewToHost = messageGuard<ImagesViewToHost>({
  ready: () => true,
  cancel: () => true,
  pickImage: () => true,
  openSettings: () => true,
  run: (m) => isMode(m.mode) && sanitizeImageControls(m.controls) !== undefined,
  save: (m) => isSaveMessage(m, IMAGE_LIMITS.samples.max),
});

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
  return `${fileStem(source, 'image')}-complete-${index + 1}.jpg`;
}

/** The names of the samples `indices` saved into a folder holding `existing`: as the CLI names them, never one taken. */
export function saveNames(mode: ImagesMode, indices: readonly number[], source: string | undefined, existing: Iterable<string>): string[] {
  return freeNames(
    indices.map((i) => sampleFileName(mode, i, source)),
    existing,
  );
}

/**
 * Checks messages from the video panel before the host acts on them (a `run` carries every knob of a worker request,
 * a `save` an index into the samples), the clips Continue Video… takes, and the names of the files Save writes. No
 * `vscode` import, so tests cover it.
 */
import * as path from 'node:path';
import { VIDEO_LIMITS, type VideoControls, type VideoViewToHost } from '../protocol/webview';
import { fileStem, isObj, isSaveMessage, messageGuard, sanitizeSampling, whole } from './codecPanel';

/**
 * A copy of `v` when it is a complete, in-range set of controls, else undefined. Used for the panel's `run` and for
 * what workspaceState hands back.
 */
export function sanitizeVideoControls(v: unknown): VideoControls | undefined {
  if (!isObj(v)) return undefined;
  const L = VIDEO_LIMITS;
  if (!whole(v.promptFrames, L.promptFrames) || !whole(v.frames, L.frames) || !whole(v.samples, L.samples)) return undefined;
  const sampling = sanitizeSampling(v);
  return sampling && { promptFrames: v.promptFrames, frames: v.frames, samples: v.samples, ...sampling };
}

const SETTINGS_LINKS: readonly unknown[] = [undefined, 'concert.ffmpegPath', 'concert.video.modelPack'];

export const isVideoViewToHost = messageGuard<VideoViewToHost>({
  ready: () => true,
  cancel: () => true,
  pickClip: () => true,
  openSettings: (m) => SETTINGS_LINKS.includes(m.setting),
  run: (m) => sanitizeVideoControls(m.controls) !== undefined,
  save: (m) => isSaveMessage(m, VIDEO_LIMITS.samples.max),
});

/** Clips the explorer offers Continue Video… on (see package.json's `explorer/context` when clause). */
export const VIDEO_MENU_EXTENSIONS = ['h264', '264', 'mp4', 'mkv', 'webm', 'mov'] as const;
/** Clips Continue Video… takes from the open dialog (and from the explorer): the menu's, and .avi. */
export const VIDEO_EXTENSIONS = [...VIDEO_MENU_EXTENSIONS, 'avi'] as const;

export function isVideoFile(file: string): boolean {
  return (VIDEO_EXTENSIONS as readonly string[]).includes(path.extname(file).slice(1).toLowerCase());
}

/** The file of sample `index` (0-based): `<stem>-continue-<i>.<ext>` for a clip `<stem>.<anything>` (i from 1). */
export function sampleFileName(index: number, source: string | undefined, ext: 'h264' | 'mp4'): string {
  return `${fileStem(source, 'video')}-continue-${index + 1}.${ext}`;
}

/**
 * The per-sample player: prompt frames then the sample's generated frames, one at a time at the clip's rate, with
 * Play/Pause and single steps. Its position lives in the page only (not persisted). Pure: tests cover it.
 */
import type { VideoRunView, VideoSampleView } from '../../src/protocol/webview';

export interface PlayerState {
  /** 0-based frame shown. */
  pos: number;
  playing: boolean;
}

/** Frames per second when the run has not told the clip's rate yet. */
export const DEFAULT_FPS = 8;

/** What a sample's player cycles through: the prompt frames, then the sample's frames so far. */
export function playerFrames(run: VideoRunView, sample: VideoSampleView): { frames: string[]; prompt: number } {
  const prompt = run.promptFrames ?? [];
  return { frames: [...prompt, ...sample.frames], prompt: prompt.length };
}

/** `pos` moved by `delta` within `total` frames, wrapping around (a player at the end starts again). */
export function stepped(pos: number, delta: number, total: number): number {
  if (total <= 0) return 0;
  return (((pos + delta) % total) + total) % total;
}

/** "frame 5 of 8 · generated" (or "· prompt"). */
export function counterText(pos: number, total: number, prompt: number): string {
  if (total === 0) return 'no frames yet';
  const p = Math.min(pos, total - 1);
  return `frame ${p + 1} of ${total} · ${p < prompt ? 'prompt' : 'generated'}`;
}

/** A sample's verdict once done: "decodes to 8 of 8 frames", or why not. */
export function decodeText(sample: VideoSampleView, run: VideoRunView): string | undefined {
  if (sample.decodable === undefined) return undefined;
  const want = (run.promptFrames?.length ?? run.controls.promptFrames) + run.controls.frames;
  const got = sample.decodedFrames ?? 0;
  if (sample.decodable) return `decodes to ${got} of ${want} frames`;
  return `does not decode${sample.problem ? `: ${sample.problem}` : ''} (${got} of ${want} frames)`;
}

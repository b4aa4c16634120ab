/**
 * The video panel's fields as typed → the controls of the next run: parsed, rounded, clamped (prompt frames also to
 * the clip's frames once a run has told them); anything unreadable keeps the value it had. Pure: tests cover it.
 */
import { VIDEO_LIMITS, type VideoControls } from '../../src/protocol/webview';
import { num, samplingFromFields, type SamplingFields } from '../common/sampling';

export interface VideoFields extends SamplingFields {
  promptFrames?: string;
  frames?: string;
  samples?: string;
}

export const VIDEO_FIELDS = ['promptFrames', 'frames', 'samples', 'temperature', 'topP', 'topK', 'seed'] as const;

/** The range of the prompt frames: 1 … the clip's frames when known. */
export function promptRange(clipFrames?: number): { min: number; max: number } {
  const L = VIDEO_LIMITS.promptFrames;
  return { min: L.min, max: clipFrames !== undefined && clipFrames >= L.min ? Math.min(L.max, clipFrames) : L.max };
}

export function videoControlsFromFields(f: VideoFields, base: VideoControls, clipFrames?: number): VideoControls {
  const L = VIDEO_LIMITS;
  return {
    promptFrames: num(f.promptFrames, base.promptFrames, promptRange(clipFrames), true),
    frames: num(f.frames, base.frames, L.frames, true),
    samples: num(f.samples, base.samples, L.samples, true),
    ...samplingFromFields(f, base),
  };
}

/**
 * Checks on what reaches the video page: messages from the host and the UI state VS Code kept for it (which may come
 * from an older version of the panel). No DOM, so tests cover it.
 */
import { VIDEO_LIMITS, type HostToVideoView, type VideoControls, type VideoViewUiState } from '../../src/protocol/webview';
import { isCodecPanelMessage, isObj, sanitizeSamplingDraft, whole } from '../common/sampling';

const isRun = (r: unknown) => isObj(r) && Array.isArray(r.samples) && r.samples.every((s) => isObj(s) && Array.isArray(s.frames));

export function isHostToVideoView(m: unknown): m is HostToVideoView {
  return isCodecPanelMessage(m, (s) => s.run === undefined || isRun(s.run));
}

/** A kept draft of the controls, if it still has the shape this version expects. */
export function sanitizeVideoDraft(v: unknown): VideoControls | undefined {
  if (!isObj(v)) return undefined;
  const L = VIDEO_LIMITS;
  if (!whole(v.promptFrames, L.promptFrames) || !whole(v.frames, L.frames) || !whole(v.samples, L.samples)) return undefined;
  const sampling = sanitizeSamplingDraft(v);
  return sampling && { promptFrames: v.promptFrames, frames: v.frames, samples: v.samples, ...sampling };
}

/** Persisted UI state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeVideoUiState(raw: unknown): VideoViewUiState | undefined {
  if (!isObj(raw)) return undefined;
  const draft = sanitizeVideoDraft(raw.draft);
  return {
    recordOpen: raw.recordOpen === true,
    ...(draft && { draft }),
    ...(typeof raw.runId === 'number' && Number.isInteger(raw.runId) && { runId: raw.runId }),
  };
}

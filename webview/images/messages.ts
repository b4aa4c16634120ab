/**
 * Checks on what reaches the page: messages from the host and the UI state VS Code kept for it (which may come from
 * an older version of the panel). No DOM, so tests cover it.
 */
import { IMAGE_LIMITS, type HostToImagesView, type ImageControls, type ImagesViewUiState } from '../../src/protocol/webview';
import { inRange, isCodecPanelMessage, isObj, sanitizeSamplingDraft, whole } from '../common/sampling';

const isMode = (v: unknown) => v === 'complete' || v === 'generate';

export function isHostToImagesView(m: unknown): m is HostToImagesView {
  return isCodecPanelMessage(m, (s) => isMode(s.mode) && (s.run === undefined || (isObj(s.run) && Array.isArray(s.run.samples))));
}

/** A kept draft of the controls, if it still has the shape this version expects. */
export function sanitizeDraft(v: unknown): ImageControls | undefined {
  if (!isObj(v)) return undefined;
  const L = IMAGE_LIMITS;
  if (!inRange(v.ratio, L.ratio) || !whole(v.samples, L.samples)) return undefined;
  const sampling = sanitizeSamplingDraft(v);
  return sampling && { ratio: v.ratio, samples: v.samples, ...sampling };
}

/** Persisted UI state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeImagesUiState(raw: unknown): ImagesViewUiState | undefined {
  if (!isObj(raw)) return undefined;
  const draft = sanitizeDraft(raw.draft);
  return {
    recordOpen: raw.recordOpen === true,
    ...(draft && { draft }),
    ...((raw.mode === 'complete' || raw.mode === 'generate') && { mode: raw.mode }),
    ...(typeof raw.runId === 'number' && Number.isInteger(raw.runId) && { runId: raw.runId }),
  };
}

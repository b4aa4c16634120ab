/**
 * Checks on what reaches the page: messages from the host and the UI state VS Code kept for it (which may come from
 * an older version of the panel). No DOM, so tests cover it.
 */
import { IMAGE_LIMITS, type HostToImagesView, type ImageControls, type ImagesViewUiState } from '../../src/protocol/webview';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
const whole = (v: unknown, r: { min: number; max: number }): v is number => inRange(v, r) && Number.isInteger(v);
const isMode = (v: unknown) => v === 'complete' || v === 'generate';

export function isHostToImagesView(m: unknown): m is HostToImagesView {
  if (!isObj(m)) return false;
  if (m.type === 'state') {
    const s = m.state;
    return isObj(s) && isMode(s.mode) && isObj(s.controls) && (s.run === undefined || (isObj(s.run) && Array.isArray(s.run.samples)));
  }
  if (m.type === 'notice') {
    const n = m.notice;
    return isObj(n) && typeof n.text === 'string' && (n.level === 'info' || n.level === 'warning' || n.level === 'error');
  }
  return false;
}

/** A kept draft of the controls, if it still has the shape this version expects. */
export function sanitizeDraft(v: unknown): ImageControls | undefined {
  if (!isObj(v)) return undefined;
  const L = IMAGE_LIMITS;
  if (!inRange(v.ratio, L.ratio) || !whole(v.samples, L.samples) || !inRange(v.temperature, L.temperature)) return undefined;
  if (!inRange(v.topP, L.topP) || !whole(v.topK, L.topK) || (v.seed !== undefined && !whole(v.seed, L.seed))) return undefined;
  return {
    ratio: v.ratio,
    samples: v.samples,
    temperature: v.temperature,
    topP: v.topP,
    topK: v.topK,
    ...(v.seed !== undefined && { seed: v.seed }),
  };
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

/**
 * Checks on what reaches the page: messages from the host and the UI state VS Code kept for it (which may come
 * from an older version of the panel). No DOM, so tests cover it.
 */
import { COLLAB_LIMITS, type CollabControls, type CollabViewUiState, type HostToCollabView } from '../../src/protocol/webview';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;

export function isHostToCollabView(m: unknown): m is HostToCollabView {
  if (!isObj(m)) return false;
  if (m.type === 'state') {
    const s = m.state;
    return isObj(s) && isObj(s.controls) && isObj(s.remote) && isObj(s.knowledge) && (s.run === undefined || isObj(s.run));
  }
  if (m.type === 'notice') {
    const n = m.notice;
    return isObj(n) && typeof n.text === 'string' && (n.level === 'info' || n.level === 'warning' || n.level === 'error');
  }
  return false;
}

/** A kept draft of the controls, if it still has the shape this version expects. */
export function sanitizeDraft(v: unknown): CollabControls | undefined {
  if (!isObj(v) || typeof v.instruction !== 'string' || v.instruction.length > COLLAB_LIMITS.instructionChars.max) return undefined;
  if (!inRange(v.lambdaUser, COLLAB_LIMITS.lambdaUser) || !inRange(v.alpha, COLLAB_LIMITS.alpha)) return undefined;
  if ((v.core !== 'local' && v.core !== 'remote') || typeof v.compare !== 'boolean' || typeof v.userOnly !== 'boolean') return undefined;
  return { instruction: v.instruction, lambdaUser: v.lambdaUser, alpha: v.alpha, core: v.core, compare: v.compare, userOnly: v.userOnly };
}

/** Persisted UI state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeCollabUiState(raw: unknown): CollabViewUiState | undefined {
  if (!isObj(raw)) return undefined;
  const draft = sanitizeDraft(raw.draft);
  return {
    ledgerOpen: raw.ledgerOpen === true,
    recordOpen: raw.recordOpen === true,
    ...(draft && { draft }),
    ...(typeof raw.runId === 'number' && Number.isInteger(raw.runId) && { runId: raw.runId }),
  };
}

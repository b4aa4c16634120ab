/**
 * Checks on what reaches the page: messages from the host and the UI state VS Code kept for it (which may come
 * from an older version of the panel). No DOM, so tests cover it.
 */
import { REWRITE_LIMITS, REWRITE_PROJECTIONS, type HostToRewriteView, type RewriteControls, type RewriteViewUiState } from '../../src/protocol/webview';

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNat = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

export function isHostToRewriteView(m: unknown): m is HostToRewriteView {
  if (!isObj(m)) return false;
  if (m.type === 'state')
    return (
      isObj(m.state) && Array.isArray(m.state.classifiers) && typeof m.state.defaultLambda === 'number' && (m.state.run === undefined || isObj(m.state.run))
    );
  if (m.type === 'notice') {
    const n = m.notice;
    return isObj(n) && typeof n.text === 'string' && (n.level === 'info' || n.level === 'warning' || n.level === 'error');
  }
  return false;
}

const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;

/** A kept draft of the controls, if it still has the shape this version expects. */
function sanitizeDraft(v: unknown): RewriteControls | undefined {
  if (!isObj(v) || !Array.isArray(v.targets)) return undefined;
  const targets = v.targets.filter(
    (t): t is { attribute: string; label: string; lambda: number } =>
      isObj(t) && typeof t.attribute === 'string' && typeof t.label === 'string' && inRange(t.lambda, REWRITE_LIMITS.lambda),
  );
  if (targets.length !== v.targets.length) return undefined;
  if (
    !inRange(v.strength, REWRITE_LIMITS.strength) ||
    !inRange(v.steps, REWRITE_LIMITS.steps) ||
    !inRange(v.topP, REWRITE_LIMITS.topP) ||
    !inRange(v.tokens, REWRITE_LIMITS.tokens)
  )
    return undefined;
  if (!REWRITE_PROJECTIONS.includes(v.projection as never) || (v.seed !== undefined && !inRange(v.seed, REWRITE_LIMITS.seed))) return undefined;
  return {
    targets: targets.map((t) => ({ attribute: t.attribute, label: t.label, lambda: t.lambda })),
    strength: v.strength,
    steps: v.steps,
    topP: v.topP,
    projection: v.projection as RewriteControls['projection'],
    tokens: v.tokens,
    ...(v.seed !== undefined && { seed: v.seed }),
  };
}

/** Persisted UI state may come from an older version of this view: keep only what still has the right shape. */
export function sanitizeRewriteUiState(raw: unknown): RewriteViewUiState | undefined {
  if (!isObj(raw)) return undefined;
  const draft = sanitizeDraft(raw.draft);
  return {
    recordOpen: raw.recordOpen === true,
    ...(isNat(raw.runId) && { runId: raw.runId }),
    ...(isNat(raw.block) && { block: raw.block }),
    ...(isNat(raw.step) && { step: raw.step }),
    ...(draft && { draft }),
  };
}

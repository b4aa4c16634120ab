/**
 * Checks messages from the rewrite panel before the host acts on them (the page is sandboxed, but what it sends is
 * still input: a `rerun` carries every knob of a worker request). No `vscode` import, so tests cover it.
 */
import { REWRITE_LIMITS, REWRITE_PROJECTIONS, type RewriteControls, type RewriteTarget, type RewriteViewToHost } from '../protocol/webview';

/** More attributes than anyone installs classifiers for; bounds the work one message can ask for. */
export const MAX_TARGETS = 16;
const MAX_NAME_CHARS = 100;

type Check = (m: Record<string, unknown>) => boolean;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
const isIntIn = (v: unknown, r: { min: number; max: number }): v is number => inRange(v, r) && Number.isInteger(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_CHARS;

function sanitizeTarget(v: unknown): RewriteTarget | undefined {
  if (!isObj(v) || !isName(v.attribute) || !isName(v.label) || !inRange(v.lambda, REWRITE_LIMITS.lambda)) return undefined;
  return { attribute: v.attribute, label: v.label, lambda: v.lambda };
}

/**
 * A copy of `v` when it is a complete, in-range set of controls (at most one target per attribute), else undefined.
 * Used for the panel's `rerun` and for what workspaceState hands back after a reload.
 */
export function sanitizeControls(v: unknown): RewriteControls | undefined {
  if (!isObj(v) || !Array.isArray(v.targets) || v.targets.length > MAX_TARGETS) return undefined;
  const targets: RewriteTarget[] = [];
  for (const t of v.targets) {
    const ok = sanitizeTarget(t);
    if (!ok || targets.some((x) => x.attribute === ok.attribute)) return undefined;
    targets.push(ok);
  }
  if (!inRange(v.strength, REWRITE_LIMITS.strength) || !isIntIn(v.steps, REWRITE_LIMITS.steps) || !inRange(v.topP, REWRITE_LIMITS.topP)) return undefined;
  if (!REWRITE_PROJECTIONS.includes(v.projection as never) || !isIntIn(v.tokens, REWRITE_LIMITS.tokens)) return undefined;
  if (v.minTokens !== undefined && !isIntIn(v.minTokens, REWRITE_LIMITS.minTokens)) return undefined;
  if (v.seed !== undefined && !isIntIn(v.seed, REWRITE_LIMITS.seed)) return undefined;
  return {
    targets,
    strength: v.strength,
    steps: v.steps,
    topP: v.topP,
    projection: v.projection as RewriteControls['projection'],
    tokens: v.tokens,
    ...(v.minTokens !== undefined && { minTokens: v.minTokens }),
    ...(v.seed !== undefined && { seed: v.seed }),
  };
}

/** A Record, so a message type added to the protocol without a check here is a compile error. */
const CHECKS: Record<RewriteViewToHost['type'], Check> = {
  ready: () => true,
  cancel: () => true,
  accept: () => true,
  reject: () => true,
  rerun: (m) => sanitizeControls(m.controls) !== undefined,
};

export function isRewriteViewToHost(m: unknown): m is RewriteViewToHost {
  if (!isObj(m)) return false;
  const t = m.type;
  if (typeof t !== 'string' || !Object.hasOwn(CHECKS, t)) return false;
  return CHECKS[t as RewriteViewToHost['type']](m);
}

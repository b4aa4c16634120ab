/**
 * Checks messages from the collaborate panel before the host acts on them (the page is sandboxed, but what it sends
 * is still input: a `run` carries the instruction and every knob of a worker request). No `vscode` import, so
 * tests cover it.
 */
import { COLLAB_LIMITS, type CollabControls, type CollabViewToHost } from '../protocol/webview';

type Check = (m: Record<string, unknown>) => boolean;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
const isVariant = (v: unknown) => v === 'collab' || v === 'core' || v === 'user';

/**
 * A copy of `v` when it is a complete, in-range set of controls (the instruction may be empty: the host refuses
 * to run it with a reason), else undefined. Used for the panel's `run` and for what workspaceState hands back.
 */
export function sanitizeCollabControls(v: unknown): CollabControls | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v.instruction !== 'string' || v.instruction.length > COLLAB_LIMITS.instructionChars.max) return undefined;
  if (!inRange(v.lambdaUser, COLLAB_LIMITS.lambdaUser) || !inRange(v.alpha, COLLAB_LIMITS.alpha)) return undefined;
  if ((v.core !== 'local' && v.core !== 'remote') || typeof v.compare !== 'boolean' || typeof v.userOnly !== 'boolean') return undefined;
  return { instruction: v.instruction, lambdaUser: v.lambdaUser, alpha: v.alpha, core: v.core, compare: v.compare, userOnly: v.userOnly };
}

/** Why the instruction cannot be run, or undefined when it can. */
export function refuseInstruction(instruction: string): string | undefined {
  if (!instruction.trim()) return 'Type an instruction or a question first.';
  if (instruction.length > COLLAB_LIMITS.instructionChars.max) return `Keep the instruction under ${COLLAB_LIMITS.instructionChars.max} characters.`;
  return undefined;
}

/** A Record, so a message type added to the protocol without a check here is a compile error. */
const CHECKS: Record<CollabViewToHost['type'], Check> = {
  ready: () => true,
  cancel: () => true,
  setToken: () => true,
  openSettings: () => true,
  showKnowledge: () => true,
  run: (m) => sanitizeCollabControls(m.controls) !== undefined,
  copy: (m) => isVariant(m.variant),
  insert: (m) => isVariant(m.variant),
};

export function isCollabViewToHost(m: unknown): m is CollabViewToHost {
  if (!isObj(m)) return false;
  const t = m.type;
  if (typeof t !== 'string' || !Object.hasOwn(CHECKS, t)) return false;
  return CHECKS[t as CollabViewToHost['type']](m);
}

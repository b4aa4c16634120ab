/**
 * Checks messages from the summary panel before the host acts on them (the page is sandboxed, but its messages
 * are still input). No `vscode` import, so tests cover it.
 */
import { SUMMARY_ALPHA, SUMMARY_PLAUSIBILITY, type SummaryViewToHost } from '../protocol/webview';

type Check = (m: Record<string, unknown>) => boolean;

const isVariant = (v: unknown) => v === 'cad' || v === 'regular';
const isIndex = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 100_000;
/** A pack id as manifests and published folders have them (runtime/manifest.ts), or empty for the default model. */
export const isPackChoice = (v: unknown): v is string => typeof v === 'string' && (v === '' || /^[a-z0-9][a-z0-9._-]{0,63}$/.test(v));
export const isAlpha = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= SUMMARY_ALPHA.min && v <= SUMMARY_ALPHA.max;
export const isPlausibility = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= SUMMARY_PLAUSIBILITY.min && v <= SUMMARY_PLAUSIBILITY.max;

/** A Record, so a message type added to the protocol without a check here is a compile error. */
const CHECKS: Record<SummaryViewToHost['type'], Check> = {
  ready: () => true,
  cancel: () => true,
  sweep: () => true,
  rerun: (m) =>
    isAlpha(m.alpha) &&
    typeof m.compareRegular === 'boolean' &&
    (m.plausibility === undefined || isPlausibility(m.plausibility)) &&
    (m.adaptive === undefined || typeof m.adaptive === 'boolean') &&
    (m.extractive === undefined || typeof m.extractive === 'boolean'),
  reveal: (m) => isVariant(m.variant) && isIndex(m.index),
  copy: (m) => isVariant(m.variant),
  insert: (m) => isVariant(m.variant) && (m.mode === 'comment' || m.mode === 'cursor'),
  model: (m) => isPackChoice(m.packId),
};

export function isSummaryViewToHost(m: unknown): m is SummaryViewToHost {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return false;
  const t = (m as { type?: unknown }).type;
  if (typeof t !== 'string' || !Object.hasOwn(CHECKS, t)) return false;
  return CHECKS[t as SummaryViewToHost['type']](m as Record<string, unknown>);
}

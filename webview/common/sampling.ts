/**
 * The sampling knobs the codec panels (Images, Video) share, on the page: their fields as typed → numbers (parsed,
 * rounded where they must be whole, clamped; anything unreadable keeps the value it had), the check of a kept draft,
 * and a fresh seed. Pure: tests cover it.
 */
import { SAMPLING_LIMITS, type SamplingControls } from '../../src/protocol/webview';

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const inRange = (v: unknown, r: { min: number; max: number }): v is number => typeof v === 'number' && Number.isFinite(v) && v >= r.min && v <= r.max;
export const whole = (v: unknown, r: { min: number; max: number }): v is number => inRange(v, r) && Number.isInteger(v);

export interface SamplingFields {
  temperature?: string;
  topP?: string;
  topK?: string;
  /** '' asks for a fresh random seed for every run. */
  seed?: string;
}

/** A field's number: `fallback` when empty or unreadable, else rounded (`whole`) and clamped to `range`. */
export function num(raw: string | undefined, fallback: number, range: { min: number; max: number }, whole = false): number {
  const t = raw?.trim();
  if (t === undefined || t === '') return fallback;
  const v = Number(t);
  if (!Number.isFinite(v)) return fallback;
  const r = whole ? Math.round(v) : v;
  return Math.min(range.max, Math.max(range.min, r));
}

export function samplingFromFields(f: SamplingFields, base: SamplingControls): SamplingControls {
  const L = SAMPLING_LIMITS;
  const seedText = f.seed?.trim();
  const seed = seedText === undefined ? base.seed : seedText === '' ? undefined : num(seedText, base.seed ?? 0, L.seed, true);
  return {
    temperature: num(f.temperature, base.temperature, L.temperature),
    topP: num(f.topP, base.topP, L.topP),
    topK: num(f.topK, base.topK, L.topK, true),
    ...(seed !== undefined && { seed }),
  };
}

/** The sampling knobs of a kept draft, if they still have the shape this version expects. */
export function sanitizeSamplingDraft(v: Record<string, unknown>): SamplingControls | undefined {
  const L = SAMPLING_LIMITS;
  if (!inRange(v.temperature, L.temperature) || !inRange(v.topP, L.topP) || !whole(v.topK, L.topK)) return undefined;
  if (v.seed !== undefined && !whole(v.seed, L.seed)) return undefined;
  return { temperature: v.temperature, topP: v.topP, topK: v.topK, ...(v.seed !== undefined && { seed: v.seed }) };
}

/** A random seed for the "New Seed" button (the run record shows it, so the run can be repeated). */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * 2 ** 31);
}

/** A `state` or `notice` message of a codec panel's host, given the check of its state. */
export function isCodecPanelMessage(m: unknown, isState: (s: Record<string, unknown>) => boolean): boolean {
  if (!isObj(m)) return false;
  if (m.type === 'state') return isObj(m.state) && isObj(m.state.controls) && isState(m.state);
  if (m.type === 'notice') {
    const n = m.notice;
    return isObj(n) && typeof n.text === 'string' && (n.level === 'info' || n.level === 'warning' || n.level === 'error');
  }
  return false;
}

/**
 * The panel's fields as typed → the controls of the next run: every number parsed, rounded where it must be whole,
 * and clamped to its range; anything unreadable keeps the value it had. Pure: tests cover it.
 */
import { IMAGE_LIMITS, type ImageControls } from '../../src/protocol/webview';

export interface ImageFields {
  ratio?: string;
  samples?: string;
  temperature?: string;
  topP?: string;
  topK?: string;
  /** '' asks for a fresh random seed for every run. */
  seed?: string;
}

function num(raw: string | undefined, fallback: number, range: { min: number; max: number }, whole = false): number {
  const t = raw?.trim();
  if (t === undefined || t === '') return fallback;
  const v = Number(t);
  if (!Number.isFinite(v)) return fallback;
  const r = whole ? Math.round(v) : v;
  return Math.min(range.max, Math.max(range.min, r));
}

export function controlsFromFields(f: ImageFields, base: ImageControls): ImageControls {
  const L = IMAGE_LIMITS;
  const seedText = f.seed?.trim();
  const seed = seedText === undefined ? base.seed : seedText === '' ? undefined : num(seedText, base.seed ?? 0, L.seed, true);
  return {
    ratio: num(f.ratio, base.ratio, L.ratio),
    samples: num(f.samples, base.samples, L.samples, true),
    temperature: num(f.temperature, base.temperature, L.temperature),
    topP: num(f.topP, base.topP, L.topP),
    topK: num(f.topK, base.topK, L.topK, true),
    ...(seed !== undefined && { seed }),
  };
}

/** A random seed for the "New Seed" button (the run record shows it, so the run can be repeated). */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * 2 ** 31);
}

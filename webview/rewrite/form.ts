/**
 * The panel's controls as raw field values → the knobs of the next run: every number parsed, rounded where it must
 * be whole, and clamped to its range; anything unreadable keeps the value it had. Pure: tests cover it.
 */
import { REWRITE_LIMITS, REWRITE_PROJECTIONS, type RewriteControls, type RewriteProjection, type RewriteTarget } from '../../src/protocol/webview';

export interface FormFields {
  /** Per attribute: the chosen label, or '' for no steering. */
  direction: Record<string, string>;
  /** Per attribute: λ as typed. */
  lambda: Record<string, string>;
  strength?: string;
  steps?: string;
  topP?: string;
  projection?: string;
  tokens?: string;
  /** '' keeps the shown value (the worker's default when there is none). */
  minTokens?: string;
  /** '' asks for a fresh random seed. */
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

export function controlsFromForm(f: FormFields, base: RewriteControls, defaultLambda: number): RewriteControls {
  const targets: RewriteTarget[] = [];
  for (const [attribute, label] of Object.entries(f.direction)) {
    if (!label) continue;
    const was = base.targets.find((t) => t.attribute === attribute)?.lambda ?? defaultLambda;
    targets.push({ attribute, label, lambda: num(f.lambda[attribute], was, REWRITE_LIMITS.lambda) });
  }
  const projection = REWRITE_PROJECTIONS.includes(f.projection as RewriteProjection) ? (f.projection as RewriteProjection) : base.projection;
  const minText = f.minTokens?.trim();
  const minTokens = minText ? num(minText, base.minTokens ?? 0, REWRITE_LIMITS.minTokens, true) : base.minTokens;
  const seedText = f.seed?.trim();
  const seed = seedText === undefined ? base.seed : seedText === '' ? undefined : num(seedText, base.seed ?? 0, REWRITE_LIMITS.seed, true);
  return {
    targets,
    strength: num(f.strength, base.strength, REWRITE_LIMITS.strength),
    steps: num(f.steps, base.steps, REWRITE_LIMITS.steps, true),
    topP: num(f.topP, base.topP, REWRITE_LIMITS.topP),
    projection,
    tokens: num(f.tokens, base.tokens, REWRITE_LIMITS.tokens, true),
    ...(minTokens !== undefined && { minTokens }),
    ...(seed !== undefined && { seed }),
  };
}

/** A random seed for the "New Seed" button (the run record shows it, so the run can be repeated). */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * 2 ** 31);
}

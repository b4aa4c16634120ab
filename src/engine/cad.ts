/**
 * Context-aware decoding (thesis ch. 4): y_t ~ softmax[(1+α)·l(y | c, x, y<t) − α·l(y | x, y<t)].
 * The no-context input is the instruction/question alone (the document removed). Both inputs run as one batch and
 * advance by the same token. `negativeContextTerms` is the general form (any contexts with weight −α each).
 *
 * Two options make it degrade gracefully (`cadStep`), both off by default, where the defaults are today's CAD exactly:
 *  - the adaptive plausibility constraint (Li et al. 2023, contrastive decoding): only tokens with
 *    p(y | c, x) ≥ β · max p(· | c, x) may be chosen (the others get −∞ before greedy/sampling);
 *  - adaptive α (AdaCAD, Wang et al. 2024): per token α_t = α · JSD(p(· | c, x) ‖ p(· | x)) in bits (∈ [0, 1]), so
 *    the contrast acts where the document and the prior disagree and leaves agreement (α_t = 0) alone.
 * A third, `span` (spans.ts), makes the answer extractive: only tokens that continue a span of the document; β is
 * then relative to the best token the span allows, so the two never leave nothing to choose.
 */
import { decodeRecipe, type ArOptions, type ArResult, type RecipeTerm } from './autoregressive';
import { EngineInputError } from './errors';
import { applyPlausibility, combine, jsdBitsOfLogits } from './logits';
import type { CausalLM } from './models';
import type { SpanConstraint } from './spans';

export const PLAUSIBILITY_MIN = 0;
export const PLAUSIBILITY_MAX = 1;

export function checkPlausibility(beta: number): void {
  if (!Number.isFinite(beta) || beta < PLAUSIBILITY_MIN || beta > PLAUSIBILITY_MAX)
    throw new EngineInputError(`plausibility (β) must be a number from ${PLAUSIBILITY_MIN} to ${PLAUSIBILITY_MAX} (got ${beta})`);
}

export interface CadStepOptions {
  /** β of the plausibility constraint, 0…1; 0 (default) constrains nothing. */
  plausibility?: number;
  /** Scale α per token by JSD(p(·|c,x) ‖ p(·|x)) in bits. */
  adaptive?: boolean;
  /** Extractive answers: only spans of the document. Stateful: one per decode (`decodeCad` advances it). */
  span?: SpanConstraint;
}

/**
 * The CAD step as a `combine` hook for `decodeRecipe` over the rows (with context, without context): the α actually
 * used at each step is written to `alphas[step]`. Returns undefined when neither option is on, so that the plain
 * recipe (`cadTerms`) runs unchanged.
 */
export function cadStep(alpha: number, o: CadStepOptions, alphas: number[]): ArOptions['combine'] {
  checkAlpha(alpha);
  const beta = o.plausibility ?? 0;
  checkPlausibility(beta);
  if (beta === 0 && !o.adaptive && !o.span) return undefined;
  /** The step's combination (and the span-masked reference for β), rewritten every step. */
  let out: Float32Array | undefined;
  let reference: Float32Array | undefined;
  return (rows, step) => {
    const [c, x] = rows as [Float32Array, Float32Array];
    const a = o.adaptive ? alpha * jsdBitsOfLogits(c, x) : alpha;
    alphas[step] = a;
    if (out?.length !== c.length) out = new Float32Array(c.length);
    combine([c, x], [1 + a, -a], out);
    if (!o.span) return applyPlausibility(out, c, beta);
    o.span.mask(out);
    if (beta === 0) return out;
    if (reference?.length !== c.length) reference = new Float32Array(c.length);
    reference.set(c);
    return applyPlausibility(out, o.span.mask(reference), beta);
  };
}

export const ALPHA_MIN = 0;
export const ALPHA_MAX = 10;

export function checkAlpha(alpha: number): void {
  if (!Number.isFinite(alpha) || alpha < ALPHA_MIN || alpha > ALPHA_MAX)
    throw new EngineInputError(`alpha must be a number from ${ALPHA_MIN} to ${ALPHA_MAX} (got ${alpha})`);
}

export function cadTerms(withContext: Int32Array, withoutContext: Int32Array, alpha: number): RecipeTerm[] {
  checkAlpha(alpha);
  return [
    { prompt: withContext, weight: 1 + alpha, label: 'context' },
    { prompt: withoutContext, weight: -alpha, label: 'no context' },
  ];
}

/** (1+α)·positive − α/n · Σ negatives: steer away from what the negative contexts alone would say. */
export function negativeContextTerms(positive: Int32Array, negatives: readonly Int32Array[], alpha: number): RecipeTerm[] {
  checkAlpha(alpha);
  if (!negatives.length) throw new EngineInputError('at least one negative context is required');
  return [
    { prompt: positive, weight: 1 + alpha, label: 'context' },
    ...negatives.map((n, i) => ({ prompt: n, weight: -alpha / negatives.length, label: `negative ${i + 1}` })),
  ];
}

export interface CadToken {
  id: number;
  /** log p(y | c, x) − log p(y | x): how much the document raised this token (nats). */
  reliance: number;
  logProbWithContext: number;
  logProbWithoutContext: number;
  /** The α used for this token (set with adaptive α). */
  alpha?: number;
}

export interface CadResult {
  tokens: CadToken[];
  stoppedBy: ArResult['stoppedBy'];
}

const toCadToken = (t: ArResult['tokens'][number], alpha: number | undefined): CadToken => ({
  id: t.id,
  reliance: t.termLogProbs[0]! - t.termLogProbs[1]!,
  logProbWithContext: t.termLogProbs[0]!,
  logProbWithoutContext: t.termLogProbs[1]!,
  ...(alpha !== undefined && { alpha }),
});

export const toCadTokens = (r: ArResult): CadToken[] =>
  r.tokens.map((t) => ({
    id: t.id,
    reliance: t.termLogProbs[0]! - t.termLogProbs[1]!,
    logProbWithContext: t.termLogProbs[0]!,
    logProbWithoutContext: t.termLogProbs[1]!,
  }));

/** How far past its token budget an extractive answer may go to end on a word boundary (a long word's pieces). */
export const FINISH_WORD_TOKENS = 8;

export async function decodeCad(
  lm: CausalLM,
  o: Omit<ArOptions, 'terms' | 'onToken'> & {
    withContext: Int32Array;
    withoutContext: Int32Array;
    alpha: number;
    onToken?: (t: CadToken, index: number) => void;
  } & CadStepOptions,
): Promise<CadResult> {
  const terms = cadTerms(o.withContext, o.withoutContext, o.alpha);
  const { withContext: _w, withoutContext: _n, alpha: _a, plausibility, adaptive, span, onToken, ...rest } = o;
  const alphas: number[] = [];
  const step = cadStep(o.alpha, { ...(plausibility !== undefined && { plausibility }), ...(adaptive && { adaptive }), ...(span && { span }) }, alphas);
  const alphaAt = (i: number) => (adaptive ? alphas[i] : undefined);
  const r = await decodeRecipe(lm, {
    ...rest,
    terms,
    // CAD reports each row's log-probability of the token, not the combination's.
    combinedLogProb: false,
    ...(step && { combine: step }),
    // A quote cut by the token budget finishes its word rather than ending in the middle of it.
    ...(span && { finish: { done: () => span.atWordEnd(), extraTokens: FINISH_WORD_TOKENS } }),
    ...((onToken || span) && {
      onToken: (t, i) => {
        span?.advance(t.id);
        onToken?.(toCadToken(t, alphaAt(i)), i);
      },
    }),
  });
  return { tokens: r.tokens.map((t, i) => toCadToken(t, alphaAt(i))), stoppedBy: r.stoppedBy };
}

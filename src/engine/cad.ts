/**
 * Context-aware decoding (thesis ch. 4): y_t ~ softmax[(1+α)·l(y | c, x, y<t) − α·l(y | x, y<t)].
 * The no-context input is the instruction/question alone (the document removed). Both inputs run as one batch and
 * advance by the same token. `negativeContextTerms` is the general form (any contexts with weight −α each).
 */
import { decodeRecipe, type ArOptions, type ArResult, type RecipeTerm } from './autoregressive';
import { EngineInputError } from './errors';
import type { CausalLM } from './models';

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
}

export interface CadResult {
  tokens: CadToken[];
  stoppedBy: ArResult['stoppedBy'];
}

export const toCadTokens = (r: ArResult): CadToken[] =>
  r.tokens.map((t) => ({
    id: t.id,
    reliance: t.termLogProbs[0]! - t.termLogProbs[1]!,
    logProbWithContext: t.termLogProbs[0]!,
    logProbWithoutContext: t.termLogProbs[1]!,
  }));

export async function decodeCad(
  lm: CausalLM,
  o: Omit<ArOptions, 'terms' | 'onToken'> & {
    withContext: Int32Array;
    withoutContext: Int32Array;
    alpha: number;
    onToken?: (t: CadToken, index: number) => void;
  },
): Promise<CadResult> {
  const terms = cadTerms(o.withContext, o.withoutContext, o.alpha);
  const { withContext: _w, withoutContext: _n, alpha: _a, onToken, ...rest } = o;
  const r = await decodeRecipe(lm, {
    ...rest,
    terms,
    ...(onToken && {
      onToken: (t, i) =>
        onToken(
          { id: t.id, reliance: t.termLogProbs[0]! - t.termLogProbs[1]!, logProbWithContext: t.termLogProbs[0]!, logProbWithoutContext: t.termLogProbs[1]! },
          i,
        ),
    }),
  });
  return { tokens: toCadTokens(r), stoppedBy: r.stoppedBy };
}

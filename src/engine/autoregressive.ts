/**
 * Autoregressive decoding of a logit recipe: several (prompt, weight) terms run as ONE batch through a causal LM;
 * each step the weighted sum of their next-token logits is projected to a token, which every row then receives.
 * Plain decoding is a one-term recipe; CAD is (context, 1+α) and (no context, −α).
 */
import { CancelledError, ContextTooLongError, EngineInputError } from './errors';
import { combine, logSoftmaxAt, pickToken, pickTokenLogProb, validateDecoding, type Decoding } from './logits';
import type { CausalLM } from './models';
import { Rng } from './random';

export interface RecipeTerm {
  prompt: Int32Array;
  weight: number;
  /** What the term stands for in reports ("context", "no context" …). */
  label: string;
}

export interface GeneratedToken {
  id: number;
  /** log p(token) under each term's own (un-combined) distribution, in term order. */
  termLogProbs: number[];
  /**
   * log p(token) under the combined, projected distribution before sampling (log-softmax of the combination); NaN
   * when the caller asked not to compute it (`ArOptions.combinedLogProb: false`).
   */
  combinedLogProb: number;
}

export interface ArOptions {
  terms: readonly RecipeTerm[];
  decoding: Decoding;
  maxTokens: number;
  seed: number;
  /** Generation stops after any of these (the stop token itself is not returned). */
  stopTokens: readonly number[];
  signal?: AbortSignal;
  onToken?: (token: GeneratedToken, index: number) => void;
  /**
   * Replaces the weighted sum of the rows for step `index` (each term's own next-token logits, in term order): a
   * recipe whose combination depends on the step's distributions (CAD with a plausibility constraint or an adaptive α,
   * `cad.ts`). Without it the step is `combine(rows, weights)` exactly.
   */
  combine?: (rows: readonly Float32Array[], index: number) => Float32Array;
  /**
   * Whether to compute `GeneratedToken.combinedLogProb` (default true). A caller that does not read it (CAD reports
   * the rows' own log-probabilities) saves a log-normaliser over the vocabulary per token; the tokens are the same.
   */
  combinedLogProb?: boolean;
  /**
   * At the `maxTokens` budget, go on (at most `extraTokens` more, as far as the context allows) until `done()` holds
   * after a token: an extractive answer cut by the budget would otherwise end inside a word ("… and the best j").
   */
  finish?: { done: () => boolean; extraTokens: number };
}

export interface ArResult {
  tokens: GeneratedToken[];
  stoppedBy: 'stop-token' | 'max-tokens';
}

/**
 * The SSD-2 all-reduce as a token-level recipe for a causal LM (the autoregressive baseline of the collaboration):
 * (1−λ_user)·core(instruction) + λ_user·(1+α)·user(knowledge, instruction) − λ_user·α·user(instruction). The three
 * rows run as one batch of one causal LM (the bundled packs hold one), so "core" and "user" differ by what they read.
 * Terms of weight 0 are skipped by `combine`, so λ_user = 0 is the core prompt alone, exactly.
 */
export function collaborationRecipe(
  core: Int32Array,
  userWithKnowledge: Int32Array,
  userWithoutKnowledge: Int32Array,
  knobs: { lambdaUser: number; alpha: number },
): RecipeTerm[] {
  const { lambdaUser: l, alpha: a } = knobs;
  if (!(Number.isFinite(l) && l >= 0 && l <= 1)) throw new EngineInputError('λ_user must be between 0 and 1');
  if (!(Number.isFinite(a) && a >= 0)) throw new EngineInputError('α must be a number ≥ 0');
  return [
    { prompt: core, weight: 1 - l, label: 'core' },
    { prompt: userWithKnowledge, weight: l * (1 + a), label: 'user with knowledge' },
    { prompt: userWithoutKnowledge, weight: -l * a, label: 'user without knowledge' },
  ];
}

export async function decodeRecipe(lm: CausalLM, o: ArOptions): Promise<ArResult> {
  if (!o.terms.length) throw new EngineInputError('a recipe needs at least one term');
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new EngineInputError('maxTokens must be a positive integer');
  const bad = validateDecoding(o.decoding);
  if (bad) throw new EngineInputError(bad);
  for (const t of o.terms) {
    if (!Number.isFinite(t.weight)) throw new EngineInputError(`weight of term "${t.label}" must be finite`);
    if (t.prompt.length === 0) throw new EngineInputError(`prompt of term "${t.label}" is empty`);
    const needed = t.prompt.length + o.maxTokens;
    if (needed > lm.maxContext)
      throw new ContextTooLongError(needed, lm.maxContext, `the ${t.label} prompt (${t.prompt.length} tokens) plus ${o.maxTokens} new tokens`);
  }
  const rng = new Rng(o.seed, 0);
  const weights = o.terms.map((t) => t.weight);
  const stops = new Set(o.stopTokens);
  const tokens: GeneratedToken[] = [];
  const check = () => {
    if (o.signal?.aborted) throw new CancelledError<ArResult>({ tokens, stoppedBy: 'max-tokens' });
  };

  check();
  let { logits, state } = await lm.prefill(
    o.terms.map((t) => t.prompt),
    o.signal,
  );
  // One term of weight 1 is its own combination (0 + 1·x = x exactly): no copy, and its log-normaliser serves both.
  const single = !o.combine && weights.length === 1 && weights[0] === 1;
  const withCombined = o.combinedLogProb ?? true;
  /** The weighted sum of the rows, rewritten every step (it does not outlive the step). */
  let sum: Float32Array | undefined;
  // Tokens past the budget (finishing a word) only as far as every row's context allows.
  const limit = o.finish
    ? Math.min(o.maxTokens + Math.max(0, o.finish.extraTokens), lm.maxContext - Math.max(...o.terms.map((t) => t.prompt.length)))
    : o.maxTokens;
  for (let i = 0; i < limit; i++) {
    check();
    const combined = o.combine ? o.combine(logits, i) : single ? logits[0]! : combine(logits, weights, (sum ??= new Float32Array(logits[0]!.length)));
    // The token and its log-probability under the combination (log-softmax at the token; one set of exponentials for
    // both at temperature 1), unless nobody reads the latter.
    const { id, logProb } =
      single || withCombined ? pickTokenLogProb(combined, o.decoding, rng) : { id: pickToken(combined, o.decoding, rng), logProb: Number.NaN };
    if (stops.has(id)) return { tokens, stoppedBy: 'stop-token' };
    // What is reported about the token needs one log-normaliser per row, not a log-softmax array each.
    const termLogProbs = single ? [logProb] : logits.map((l) => logSoftmaxAt(l, id));
    const token: GeneratedToken = { id, termLogProbs, combinedLogProb: withCombined ? logProb : Number.NaN };
    tokens.push(token);
    o.onToken?.(token, i);
    if (i === limit - 1 || (i >= o.maxTokens - 1 && (!o.finish || o.finish.done()))) break;
    check();
    ({ logits, state } = await lm.extend(state, new Int32Array(o.terms.length).fill(id), o.signal));
  }
  return { tokens, stoppedBy: 'max-tokens' };
}

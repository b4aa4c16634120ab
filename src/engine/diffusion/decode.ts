/**
 * Semi-autoregressive simplex diffusion decoding (SSD-LM, thesis ch. 3; exact order in A_seed_reference §1.5):
 * for each block, start from noise with std K (or, to rewrite, from the noised original), run t = T…1: predict
 * logits, add classifier guidance, project to ±K, re-noise with √ᾱ_{t−1} and √(1−ᾱ_{t−1}) (no noise at the last
 * step); release the argmax of the last step's logits, append it to every context, repeat.
 *
 * Several terms (context rows with weights) run as one batch and their logits are combined each step: one model with
 * one term is plain SSD-LM; weighted terms express CAD-style contrasts and the SSD-2 collaboration. A term may carry
 * its own model (`DiffusionTerm.lm`): the rows of each model run as one batch of that model, so the core and user
 * terms of a collaboration can come from different packs (and a remote core is just another `DiffusionLM`).
 */
import { CancelledError, ContextTooLongError, EngineInputError } from '../errors';
import type { Classifier, DiffusionLM, NoiseSource, NoisyRecipe } from '../models';
import { Rng, SeededNoise } from '../random';
import { alphaBar } from './schedule';
import { almostOneHot, argmaxRows, project, type Projection } from './projection';

export interface DiffusionTerm {
  context: Int32Array;
  weight: number;
  label: string;
  /**
   * The model that evaluates this term; default: the model passed to decodeDiffusion. Every model must share its
   * vocabulary, block size and K. With terms on more than one model, terms of weight 0 are not run at all.
   */
  lm?: DiffusionLM;
}

/**
 * SSD-2 all-reduce (thesis §5.2.2, Alg. 4 line 8), one decode step:
 * logits = (1−λ_user)·core(instruction) + λ_user·(1+α)·user(knowledge, instruction) − λ_user·α·user(instruction).
 * Decode with `selfCondition: 'combined'` so every model reads the all-reduced logits as its self-conditioning
 * input. λ_user = 0 gives the core alone, λ_user = 1 with α = 0 the user (with knowledge) alone: terms of weight 0
 * are not run.
 */
export function collaborationTerms(
  core: { lm: DiffusionLM; context: Int32Array },
  user: { lm: DiffusionLM; withKnowledge: Int32Array; withoutKnowledge: Int32Array },
  knobs: { lambdaUser: number; alpha: number },
): DiffusionTerm[] {
  const { lambdaUser: l, alpha: a } = knobs;
  if (!(Number.isFinite(l) && l >= 0 && l <= 1)) throw new EngineInputError('λ_user must be between 0 and 1');
  if (!(Number.isFinite(a) && a >= 0)) throw new EngineInputError('α must be a number ≥ 0');
  return [
    { lm: core.lm, context: core.context, weight: 1 - l, label: 'core' },
    { lm: user.lm, context: user.withKnowledge, weight: l * (1 + a), label: 'user with knowledge' },
    { lm: user.lm, context: user.withoutKnowledge, weight: -l * a, label: 'user without knowledge' },
  ];
}

export interface GuidanceTerm {
  classifier: Classifier;
  /** Index into classifier.labels. */
  label: number;
  /** Step size λ; 0 is the identity. */
  lambda: number;
}

export interface DiffusionOptions {
  terms: readonly DiffusionTerm[];
  /** New tokens to generate (rounded up to whole blocks), or, when rewriting, ignored (the original's length rules). */
  maxTokens: number;
  /** T_decode ≤ T_train. */
  steps: number;
  projection: Projection;
  seed: number;
  noise?: NoiseSource;
  guidance?: readonly GuidanceTerm[];
  /** Stop the reverse process early at t = ⌈earlyStop·T⌉ (SSD-2 uses 0.4); 0 runs to t = 1. */
  earlyStop?: number;
  /** Stop after the block that contains this token (the token and what follows are pruned). */
  eos?: number;
  /**
   * With `eos`: end-of-text may not end the run before this many new tokens (its logits are suppressed at the
   * first `minTokens` output positions). After a finished sentence the bundled models predict end-of-text first;
   * this makes "continue after a full stop" write something. 0 (the default) lets end-of-text stop it at once.
   */
  minTokens?: number;
  /**
   * Token ids that may never be produced (their logits are set to −1e9 at every step, before guidance). A rewrite
   * suppresses end-of-text so that it keeps the length of the original instead of dropping its end.
   */
  suppress?: readonly number[];
  /** Rewrite: start each block at t₀ = ⌈strength·T⌉ from the noised almost-one-hot original instead of pure noise. */
  rewrite?: { tokens: Int32Array; strength: number };
  /**
   * Slide the context window instead of refusing contexts that do not fit: before each block, a context longer than
   * maxContext − B keeps its first `keepHead` tokens (the prompt template's head, e.g. `<s>`) and its latest tokens.
   * Without it, a context plus the new tokens must fit in maxContext.
   */
  slide?: { keepHead: number };
  /**
   * What each model reads as its self-conditioning input at the next step: `rows` (default) its own row's logits;
   * `combined` the combined logits of the step (before suppression and guidance), as SSD-2's all-reduce does. With
   * one term both are the same.
   */
  selfCondition?: 'rows' | 'combined';
  /** Also score terms with λ = 0 at every step (for a timeline of classifier scores); costs one classifier run each. */
  scoreEveryStep?: boolean;
  signal?: AbortSignal;
  /** `scores[i]` is p(label_i | softmax(logits)) of guidance term i before its update (NaN when not scored). */
  onStep?: (s: { block: number; t: number; T: number; tokens: Int32Array; scores: number[] }) => void;
  onBlock?: (block: number, tokens: Int32Array) => void;
}

export interface DiffusionResult {
  tokens: number[];
  blocks: number;
  stoppedBy: 'eos' | 'max-tokens';
}

/**
 * logits ← logits + Σ λ·∇ log p(label | softmax(logits)) (A_seed_reference §1.8). Every gradient is taken at the
 * unguided logits, so the order of the attributes does not matter. Returns the guided logits and, per term,
 * p(label) at the unguided logits (NaN for terms that were not run).
 */
export async function applyGuidance(
  logits: Float32Array,
  B: number,
  V: number,
  guidance: readonly GuidanceTerm[],
  scoreAll = false,
): Promise<{ logits: Float32Array; scores: number[] }> {
  const scores = guidance.map(() => Number.NaN);
  if (!guidance.some((g) => g.lambda !== 0 || scoreAll)) return { logits, scores };
  const out = Float32Array.from(logits);
  for (const [i, g] of guidance.entries()) {
    if (g.lambda === 0 && !scoreAll) continue;
    const { logProb, grad } = await g.classifier.score(logits, [1, B, V], g.label);
    scores[i] = Math.exp(logProb[0]!);
    if (g.lambda !== 0) for (let j = 0; j < out.length; j++) out[j]! += g.lambda * grad[j]!;
  }
  return { logits: out, scores };
}

function validate(lm: DiffusionLM, o: DiffusionOptions): void {
  if (!o.terms.length) throw new EngineInputError('at least one term is required');
  for (const t of o.terms) {
    if (!Number.isFinite(t.weight)) throw new EngineInputError(`weight of term "${t.label}" must be finite`);
    const m = t.lm ?? lm;
    if (m.vocabSize !== lm.vocabSize || m.blockSize !== lm.blockSize || m.k !== lm.k)
      throw new EngineInputError(`the model of term "${t.label}" does not share the vocabulary, block size and K of the others`);
    if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > m.tTrain) throw new EngineInputError(`steps must be an integer from 1 to ${m.tTrain}`);
  }
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > lm.tTrain) throw new EngineInputError(`steps must be an integer from 1 to ${lm.tTrain}`);
  if (!(o.projection.topP >= 0 && o.projection.topP <= 1)) throw new EngineInputError('top-p must be in [0, 1]');
  if (o.earlyStop !== undefined && !(o.earlyStop >= 0 && o.earlyStop < 1)) throw new EngineInputError('early stop must be in [0, 1)');
  if (o.rewrite) {
    if (!(o.rewrite.strength > 0 && o.rewrite.strength <= 1)) throw new EngineInputError('edit strength must be in (0, 1]');
    if (!o.rewrite.tokens.length) throw new EngineInputError('there is no text to rewrite');
  } else if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new EngineInputError('maxTokens must be a positive integer');
  if (o.minTokens !== undefined && !(Number.isInteger(o.minTokens) && o.minTokens >= 0)) throw new EngineInputError('minTokens must be a non-negative integer');
  for (const tok of o.suppress ?? [])
    if (!Number.isInteger(tok) || tok < 0 || tok >= lm.vocabSize) throw new EngineInputError(`suppressed token ${tok} is not in the vocabulary`);
  for (const g of o.guidance ?? []) {
    if (!Number.isFinite(g.lambda) || g.lambda < 0) throw new EngineInputError(`guidance strength for ${g.classifier.attribute} must be ≥ 0`);
    if (!Number.isInteger(g.label) || g.label < 0 || g.label >= g.classifier.labels.length)
      throw new EngineInputError(`label ${g.label} is not a label of ${g.classifier.attribute}`);
  }
  // Every row needs one token to start from: with no text before, the caller passes the template head (e.g. `<s>`).
  for (const t of o.terms) if (!t.context.length) throw new EngineInputError(`the ${t.label} context is empty: pass at least the start-of-text token`);
  const newTokens = o.rewrite ? Math.ceil(o.rewrite.tokens.length / lm.blockSize) * lm.blockSize : Math.ceil(o.maxTokens / lm.blockSize) * lm.blockSize;
  if (o.slide) {
    const head = o.slide.keepHead;
    if (!Number.isInteger(head) || head < 0) throw new EngineInputError('slide.keepHead must be a non-negative integer');
    // Room for the head, at least one recent token and a block. A context may be the head alone (no text before).
    for (const m of new Set(o.terms.map((t) => t.lm ?? lm)))
      if (head + 1 + lm.blockSize > m.maxContext)
        throw new ContextTooLongError(head + 1 + lm.blockSize, m.maxContext, `the prompt head (${head} tokens) plus one token and a block`);
    return;
  }
  for (const t of o.terms) {
    const maxContext = (t.lm ?? lm).maxContext;
    if (t.context.length + newTokens > maxContext)
      throw new ContextTooLongError(
        t.context.length + newTokens,
        maxContext,
        `the ${t.label} context (${t.context.length} tokens) plus ${newTokens} new tokens`,
      );
  }
}

const SUPPRESSED = -1e9;

/** acc += w · row (float32 stores), elementwise: the hot loops of a step live in small functions V8 optimises alone. */
function accumulate(acc: Float32Array, w: number, row: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i]! += w * row[i]!;
}

/** acc = w · row: the first row of a step's sum (the same values as adding it to zeros, up to the sign of a zero). */
function assign(acc: Float32Array, w: number, row: Float32Array): void {
  if (w === 1) acc.set(row);
  else for (let i = 0; i < acc.length; i++) acc[i] = w * row[i]!;
}

/** x = signal · projected + spread · z, elementwise. */
function renoise(x: Float32Array, signal: number, projected: Float32Array, spread: number, z: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] = signal * projected[i]! + spread * z[i]!;
}

/** Cuts `context` in place to at most `limit` tokens: its first `head` tokens and the latest ones. */
export function slideWindow(context: number[], head: number, limit: number): void {
  if (context.length > limit) context.splice(head, context.length - limit);
}

/**
 * The rows of each model, in term order. One model (every term without its own `lm`, or all naming the same one) is
 * one group of every row, weight-0 rows included, as plain decoding always ran. With several models, rows of weight 0
 * are left out (a model none of whose rows counts is not run); at least one row always runs.
 */
function modelGroups(lm: DiffusionLM, terms: readonly DiffusionTerm[]): { lm: DiffusionLM; rows: number[] }[] {
  const models = new Set(terms.map((t) => t.lm ?? lm));
  if (models.size === 1) return [{ lm: terms[0]!.lm ?? lm, rows: terms.map((_, i) => i) }];
  const groups = new Map<DiffusionLM, number[]>();
  for (const [i, t] of terms.entries()) {
    if (t.weight === 0) continue;
    const m = t.lm ?? lm;
    groups.set(m, [...(groups.get(m) ?? []), i]);
  }
  if (!groups.size) groups.set(terms[0]!.lm ?? lm, [0]);
  return [...groups].map(([m, rows]) => ({ lm: m, rows }));
}

export async function decodeDiffusion(lm: DiffusionLM, o: DiffusionOptions): Promise<DiffusionResult> {
  validate(lm, o);
  const { blockSize: B, vocabSize: V, k: K } = lm;
  const rows = o.terms.length;
  const T = o.steps;
  const noise = o.noise ?? new SeededNoise(o.seed);
  // The seed of the noise, when it is the engine's seeded noise: then each step's input has a recipe (models.ts).
  const noiseSeed = o.noise === undefined ? o.seed : o.noise instanceof SeededNoise ? o.noise.seed : undefined;
  const rng = new Rng(o.seed, 1);
  const weights = o.terms.map((t) => t.weight);
  const groups = modelGroups(lm, o.terms);
  const combinedSelfCond = o.selfCondition === 'combined';
  const tEnd = o.earlyStop ? Math.max(1, Math.ceil(o.earlyStop * T)) : 1;
  const t0 = o.rewrite ? Math.max(1, Math.ceil(o.rewrite.strength * T)) : T;
  const blocks = o.rewrite ? Math.ceil(o.rewrite.tokens.length / B) : Math.ceil(o.maxTokens / B);
  const contexts = o.terms.map((t) => Array.from(t.context));
  const output: number[] = [];
  const check = () => {
    if (o.signal?.aborted) throw new CancelledError<DiffusionResult>({ tokens: [...output], blocks: output.length / B, stoppedBy: 'max-tokens' });
  };

  const z = new Float32Array(B * V);
  const projected = new Float32Array(B * V);
  /** The weighted sum of a step's rows, rewritten every step (what outlives the step is copied or re-assigned). */
  const sum = new Float32Array(B * V);
  /** Each model's noisy input: x itself for a one-row model, else x repeated per row (rewritten every step). */
  const noisyInputs = groups.map((g) => (g.rows.length > 1 ? new Float32Array(g.rows.length * B * V) : undefined));
  for (let block = 0; block < blocks; block++) {
    check();
    if (o.slide) for (const [i, c] of contexts.entries()) slideWindow(c, o.slide.keepHead, (o.terms[i]!.lm ?? lm).maxContext - B);
    const ctxs = [];
    for (const g of groups)
      ctxs.push(
        await g.lm.encodeContext(
          g.rows.map((r) => Int32Array.from(contexts[r]!)),
          o.signal,
        ),
      );
    // x_{t0}: pure noise K·N(0, I), or the noised original for a rewrite.
    const x = new Float32Array(B * V);
    noise.gaussian(x, K, { block, step: t0 + 1 });
    let recipe: NoisyRecipe | undefined = noiseSeed === undefined ? undefined : { seed: noiseSeed, at: { block, step: t0 + 1 }, alphaBar: 0 };
    if (o.rewrite) {
      const orig = Array.from({ length: B }, (_, i) => o.rewrite!.tokens[block * B + i] ?? o.eos ?? o.rewrite!.tokens[o.rewrite!.tokens.length - 1]!);
      const w = almostOneHot(orig, V, K);
      const a = alphaBar(t0, T);
      const signal = Math.sqrt(a);
      const spread = Math.sqrt(1 - a);
      for (let i = 0; i < x.length; i++) x[i] = signal * w[i]! + spread * x[i]!;
      if (recipe) recipe = { ...recipe, alphaBar: a, tokens: Int32Array.from(orig) };
    }
    const selfConds: (Float32Array | undefined)[] = groups.map((g) => (g.lm.selfConditioning ? new Float32Array(g.rows.length * B * V) : undefined));
    let combined: Float32Array = new Float32Array(B * V);
    for (let t = t0; t >= tEnd; t--) {
      check();
      // One denoise per model; `outs[r]` is row r's logits (a view into its model's output).
      const outs = new Array<Float32Array | undefined>(rows);
      for (const [gi, g] of groups.entries()) {
        const repeated = noisyInputs[gi];
        if (repeated) for (let r = 0; r < g.rows.length; r++) repeated.set(x, r * B * V);
        const noisy = repeated ?? x;
        const out = await g.lm.denoise(ctxs[gi]!, noisy, selfConds[gi], t / T, o.signal, recipe);
        if (selfConds[gi] && !combinedSelfCond) selfConds[gi] = out;
        for (const [j, r] of g.rows.entries()) outs[r] = out.subarray(j * B * V, (j + 1) * B * V);
      }
      combined = sum;
      let first = true;
      for (let r = 0; r < rows; r++) {
        const w = weights[r]!;
        const out = outs[r];
        if (w === 0 || !out) continue;
        if (first) assign(combined, w, out);
        else accumulate(combined, w, out);
        first = false;
      }
      if (first) combined.fill(0);
      if (combinedSelfCond) for (const sc of selfConds) if (sc) for (let off = 0; off < sc.length; off += B * V) sc.set(combined, off);
      if (o.suppress) for (let b = 0; b < B; b++) for (const tok of o.suppress) combined[b * V + tok] = SUPPRESSED;
      if (o.eos !== undefined && o.minTokens) for (let b = 0; b < B && output.length + b < o.minTokens; b++) combined[b * V + o.eos] = SUPPRESSED;
      const guided = await applyGuidance(combined, B, V, o.guidance ?? [], o.scoreEveryStep);
      combined = guided.logits;
      o.onStep?.({ block, t, T, tokens: argmaxRows(combined, B, V), scores: guided.scores });
      if (t === tEnd) break;
      const chosen = project(combined, B, V, K, o.projection, rng, projected);
      noise.gaussian(z, K, { block, step: t });
      const a = alphaBar(t - 1, T);
      // A multi-hot projection is not one token per position: those steps have no recipe.
      recipe = noiseSeed !== undefined && o.projection.kind === 'sample' ? { seed: noiseSeed, at: { block, step: t }, alphaBar: a, tokens: chosen } : undefined;
      renoise(x, Math.sqrt(a), projected, Math.sqrt(1 - a), z);
    }
    // The released block is the argmax of the last step's (guided) logits, as in the official code.
    const released = argmaxRows(combined, B, V);
    const eosAt = o.eos === undefined ? -1 : released.indexOf(o.eos);
    const kept = eosAt >= 0 ? released.subarray(0, eosAt) : released;
    output.push(...kept);
    o.onBlock?.(block, Int32Array.from(kept));
    if (eosAt >= 0) return { tokens: output, blocks: block + 1, stoppedBy: 'eos' };
    for (const c of contexts) c.push(...released);
  }
  // A rewrite fills the last block's spare positions past the original; they are not part of the rewrite.
  return { tokens: output.slice(0, o.rewrite ? o.rewrite.tokens.length : o.maxTokens), blocks, stoppedBy: 'max-tokens' };
}

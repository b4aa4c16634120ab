/**
 * Operations on one row of logits (a Float32Array over the vocabulary): normalisation, the weighted combination
 * every collaboration uses, and the sampling projection (greedy, temperature, top-k, top-p).
 */
import type { Rng } from './random';

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** log softmax, stable for any shift of the input. */
export function logSoftmax(x: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - lse;
  return out;
}

export function softmax(x: ArrayLike<number>): Float32Array {
  const l = logSoftmax(x);
  for (let i = 0; i < l.length; i++) l[i] = Math.exp(l[i]!);
  return l;
}

/**
 * Σ wᵢ · logitsᵢ. Terms with weight 0 are skipped, so (1, 0) reproduces the first row exactly even where the second
 * row holds −∞ (masked tokens).
 */
export function combine(rows: readonly ArrayLike<number>[], weights: readonly number[]): Float32Array {
  if (rows.length !== weights.length || rows.length === 0) throw new Error('combine: one weight per row is required');
  const n = rows[0]!.length;
  const out = new Float32Array(n);
  rows.forEach((row, r) => {
    const w = weights[r]!;
    if (w === 0) return;
    if (row.length !== n) throw new Error('combine: rows differ in vocabulary size');
    for (let i = 0; i < n; i++) out[i]! += w * row[i]!;
  });
  return out;
}

export type Decoding = { mode: 'greedy' } | { mode: 'sample'; temperature: number; topP: number; topK?: number };

export function validateDecoding(d: Decoding): string | undefined {
  if (d.mode === 'greedy') return undefined;
  if (!(d.temperature > 0 && d.temperature <= 10)) return 'temperature must be in (0, 10]';
  if (!(d.topP > 0 && d.topP <= 1)) return 'top-p must be in (0, 1]';
  if (d.topK !== undefined && !(Number.isInteger(d.topK) && d.topK >= 1)) return 'top-k must be a positive integer';
  return undefined;
}

/**
 * The distribution actually sampled from: temperature, then top-k, then the nucleus (smallest set whose mass ≥ p),
 * renormalised. Returned sparse (token ids with probabilities, most probable first).
 */
export function samplingDistribution(logits: ArrayLike<number>, d: Exclude<Decoding, { mode: 'greedy' }>): { ids: Int32Array; probs: Float64Array } {
  const n = logits.length;
  const scaled = new Float64Array(n);
  for (let i = 0; i < n; i++) scaled[i] = logits[i]! / d.temperature;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scaled[b]! - scaled[a]! || a - b);
  const k = Math.min(n, d.topK ?? n);
  const max = scaled[order[0]!]!;
  let total = 0;
  const exps = new Float64Array(k);
  for (let j = 0; j < k; j++) total += exps[j] = Math.exp(scaled[order[j]!]! - max);
  let kept = 0;
  let mass = 0;
  while (kept < k) {
    mass += exps[kept]! / total;
    kept++;
    if (mass >= d.topP - 1e-12) break;
  }
  const ids = new Int32Array(kept);
  const probs = new Float64Array(kept);
  let keptTotal = 0;
  for (let j = 0; j < kept; j++) keptTotal += exps[j]!;
  for (let j = 0; j < kept; j++) {
    ids[j] = order[j]!;
    probs[j] = exps[j]! / keptTotal;
  }
  return { ids, probs };
}

/** Picks the next token from combined logits. */
export function pickToken(logits: ArrayLike<number>, d: Decoding, rng: Rng): number {
  if (d.mode === 'greedy') return argmax(logits);
  const { ids, probs } = samplingDistribution(logits, d);
  const u = rng.next();
  let acc = 0;
  for (let j = 0; j < ids.length; j++) {
    acc += probs[j]!;
    if (u < acc) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

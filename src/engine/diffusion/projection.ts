/**
 * Logits → almost-one-hot simplex (A_seed_reference §1.6). Nucleus: keep sorted positions while the mass before
 * them is < p (the first token always; p = 0 keeps only the argmax). `sample` draws one token from the nucleus and
 * writes +K there, −K elsewhere; `multi-hot` writes +K on the whole nucleus.
 */
import type { Rng } from '../random';

export type Projection = { kind: 'sample'; topP: number } | { kind: 'multi-hot'; topP: number };

let scratch = new Float64Array(0);

function nucleus(logits: Float32Array, offset: number, V: number, topP: number): { ids: number[]; probs: number[] } {
  let max = -Infinity;
  let best = 0;
  for (let v = 0; v < V; v++) {
    if (logits[offset + v]! > max) {
      max = logits[offset + v]!;
      best = v;
    }
  }
  if (topP <= 0) return { ids: [best], probs: [1] }; // greedy: only the argmax is kept
  if (scratch.length < V) scratch = new Float64Array(V);
  const exps = scratch;
  let sum = 0;
  for (let v = 0; v < V; v++) sum += exps[v] = Math.exp(logits[offset + v]! - max);
  if (topP >= 1) {
    // The whole vocabulary is the nucleus: no order needed.
    const ids = [best];
    for (let v = 0; v < V; v++) if (v !== best) ids.push(v);
    return { ids, probs: ids.map((v) => exps[v]! / sum) };
  }
  // Only tokens that can be in the nucleus need sorting: everything below ε = (1 − p)/(2V) together holds less than
  // (1 − p)/2 of the mass, so the sorted candidates always reach p. Exact, and ~100× fewer items to sort.
  const eps = ((1 - topP) / (2 * V)) * sum;
  const candidates: number[] = [];
  for (let v = 0; v < V; v++) if (exps[v]! >= eps) candidates.push(v);
  candidates.sort((a, b) => exps[b]! - exps[a]! || a - b);
  const ids: number[] = [];
  const probs: number[] = [];
  let before = 0;
  for (const v of candidates) {
    if (ids.length > 0 && !(before < topP)) break;
    const p = exps[v]! / sum;
    ids.push(v);
    probs.push(p);
    before += p;
  }
  return { ids, probs };
}

/** Projects `[rows·B, V]` logits into `out` (same shape) with values ±K; returns the chosen token per position. */
export function project(logits: Float32Array, positions: number, V: number, K: number, p: Projection, rng: Rng, out: Float32Array): Int32Array {
  const chosen = new Int32Array(positions);
  for (let i = 0; i < positions; i++) {
    const o = i * V;
    const { ids, probs } = nucleus(logits, o, V, p.topP);
    out.fill(-K, o, o + V);
    if (p.kind === 'multi-hot') {
      for (const v of ids) out[o + v] = K;
      chosen[i] = ids[0]!;
    } else {
      const total = probs.reduce((s, x) => s + x, 0);
      let u = rng.next() * total;
      let pick = ids[ids.length - 1]!;
      for (let j = 0; j < ids.length; j++) {
        u -= probs[j]!;
        if (u < 0) {
          pick = ids[j]!;
          break;
        }
      }
      out[o + pick] = K;
      chosen[i] = pick;
    }
  }
  return chosen;
}

/** Almost-one-hot encoding of token ids: +K at the token, −K elsewhere. */
export function almostOneHot(ids: ArrayLike<number>, V: number, K: number): Float32Array {
  const out = new Float32Array(ids.length * V).fill(-K);
  for (let i = 0; i < ids.length; i++) out[i * V + ids[i]!] = K;
  return out;
}

export function argmaxRows(logits: Float32Array, positions: number, V: number): Int32Array {
  const out = new Int32Array(positions);
  for (let i = 0; i < positions; i++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[i * V + v]! > logits[i * V + best]!) best = v;
    out[i] = best;
  }
  return out;
}

/**
 * Logits → almost-one-hot simplex (A_seed_reference §1.6). Nucleus: keep sorted positions while the mass before
 * them is < p (the first token always; p = 0 keeps only the argmax). `sample` draws one token from the nucleus and
 * writes +K there, −K elsewhere; `multi-hot` writes +K on the whole nucleus.
 */
import { sortByValueDesc } from '../logits';
import type { Rng } from '../random';

export type Projection = { kind: 'sample'; topP: number } | { kind: 'multi-hot'; topP: number };

let scratch = new Float64Array(0);
let candidates = new Int32Array(0);
/** Histogram of the distance below the maximum logit: bins of 1/BIN_SCALE nat, the last bin holds everything further. */
const BINS = 1024;
const BIN_SCALE = 16;
const binMass = new Float64Array(BINS);
const binMin = new Float64Array(BINS);

let nucleusIds = new Int32Array(0);
let nucleusProbs = new Float64Array(0);

/** The nucleus of one position, most probable first: views into scratch buffers, valid until the next call. */
function nucleus(logits: Float32Array, offset: number, V: number, topP: number): { ids: Int32Array; probs: Float64Array } {
  let max = -Infinity;
  let best = 0;
  for (let v = 0; v < V; v++) {
    if (logits[offset + v]! > max) {
      max = logits[offset + v]!;
      best = v;
    }
  }
  if (topP <= 0) return { ids: Int32Array.of(best), probs: Float64Array.of(1) }; // greedy: only the argmax is kept
  if (scratch.length < V) scratch = new Float64Array(V);
  if (nucleusIds.length < V) {
    nucleusIds = new Int32Array(V);
    nucleusProbs = new Float64Array(V);
  }
  const exps = scratch;
  if (topP >= 1) {
    let sum = 0;
    for (let v = 0; v < V; v++) sum += exps[v] = Math.exp(logits[offset + v]! - max);
    // The whole vocabulary is the nucleus: no order needed.
    nucleusIds[0] = best;
    for (let v = 0, j = 1; v < V; v++) if (v !== best) nucleusIds[j++] = v;
    for (let j = 0; j < V; j++) nucleusProbs[j] = exps[nucleusIds[j]!]! / sum;
    return { ids: nucleusIds.subarray(0, V), probs: nucleusProbs.subarray(0, V) };
  }
  // Only the most probable tokens can be in the nucleus. A histogram of the mass by distance below the maximum finds
  // the bin where the mass reaches p (with a margin far above rounding); the candidates are every token at least as
  // probable as the least probable token of the bins up to it — a prefix of the sorted order that holds more than p,
  // so the walk below stops inside it exactly where it would over the whole sorted vocabulary. Only the candidates
  // (typically the nucleus and one bin) are sorted, without a comparator (logits.ts sortByValueDesc). The exponentials,
  // their sum (in index order) and the histogram are one pass.
  binMass.fill(0);
  binMin.fill(Infinity);
  const sum = expsAndHistogram(logits, offset, V, max, exps);
  const target = topP * sum * (1 + 1e-9);
  let acc = 0;
  let lo = Infinity;
  for (let b = 0; b < BINS; b++) {
    acc += binMass[b]!;
    if (binMin[b]! < lo) lo = binMin[b]!;
    if (acc >= target) break;
  }
  if (candidates.length < V) candidates = new Int32Array(V);
  let n = 0;
  // Branch-free: in a flat distribution most tokens are candidates, in no predictable pattern.
  for (let v = 0; v < V; v++) {
    candidates[n] = v;
    n += +(exps[v]! >= lo);
  }
  const sorted = sortByValueDesc(candidates.subarray(0, n), exps, logits.subarray(offset, offset + V));
  let kept = 0;
  let before = 0;
  for (let j = 0; j < n; j++) {
    const v = sorted[j]!;
    if (kept > 0 && !(before < topP)) break;
    const p = exps[v]! / sum;
    nucleusIds[kept] = v;
    nucleusProbs[kept++] = p;
    before += p;
  }
  return { ids: nucleusIds.subarray(0, kept), probs: nucleusProbs.subarray(0, kept) };
}

/**
 * exps[v] = exp(x[v] − max) over one position, their sum in index order, and the histogram of their mass by distance
 * below the maximum (binMass, binMin: zeroed by the caller), in one pass; `binOf[v]` (when given) is v's bin.
 */
function expsAndHistogram(logits: Float32Array, offset: number, V: number, max: number, exps: Float64Array, binOf?: Uint16Array): number {
  let sum = 0;
  for (let v = 0; v < V; v++) {
    const x = logits[offset + v]!;
    const e = Math.exp(x - max);
    exps[v] = e;
    sum += e;
    const d = (max - x) * BIN_SCALE;
    const b = d < BINS - 1 ? d | 0 : BINS - 1;
    binMass[b]! += e;
    if (e < binMin[b]!) binMin[b] = e;
    if (binOf) binOf[v] = b;
  }
  return sum;
}

let binOfScratch = new Uint16Array(0);
let members = new Int32Array(0);

/** The tokens of bin `b` (binOf from expsAndHistogram) in the sorted order: a view valid until the next call. */
function sortedBin(b: number, binOf: Uint16Array, V: number, exps: Float64Array, logits: Float32Array, offset: number): Int32Array {
  let n = 0;
  for (let v = 0; v < V; v++) if (binOf[v] === b) members[n++] = v;
  return sortByValueDesc(members.subarray(0, n), exps, logits.subarray(offset, offset + V));
}

/**
 * One token drawn from the nucleus of a position, exactly as `nucleus` + the walk in `project` draw it (the nucleus in
 * the sorted order, u = r · its mass, the first token where the running mass passes u), without sorting the nucleus.
 * A bin of the histogram holds a contiguous stretch of the sorted order (the distance below the maximum grows along
 * it), so the nucleus' edge and the drawn token are found bin by bin, and only the one or two bins they fall in are
 * sorted: at |V| = 50k a flat distribution's nucleus is most of the vocabulary, and sorting it dominated a step. The
 * masses of the bins before are summed bin by bin rather than token by token: the same up to float64 rounding.
 */
function sampleNucleus(logits: Float32Array, offset: number, V: number, topP: number, r: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[offset + v]! > max) max = logits[offset + v]!;
  if (scratch.length < V) scratch = new Float64Array(V);
  if (binOfScratch.length < V) {
    binOfScratch = new Uint16Array(V);
    members = new Int32Array(V);
  }
  const exps = scratch;
  binMass.fill(0);
  binMin.fill(Infinity);
  const sum = expsAndHistogram(logits, offset, V, max, exps, binOfScratch);
  // The edge bin: the first whose tokens bring the mass before them to p (the tokens after it are never kept).
  let edge = 0;
  let before = 0; // mass (as probabilities) of the bins before `edge`
  while (edge < BINS - 1 && !(before + binMass[edge]! / sum >= topP)) before += binMass[edge++]! / sum;
  const edgeTokens = sortedBin(edge, binOfScratch, V, exps, logits, offset);
  let kept = 0;
  let mass = before;
  let total = before;
  for (; kept < edgeTokens.length; kept++) {
    if (!(mass < topP) && (kept > 0 || before > 0)) break;
    const p = exps[edgeTokens[kept]!]! / sum;
    mass += p;
    total += p;
  }
  let u = r * total;
  for (let b = 0; b < edge; b++) {
    const m = binMass[b]! / sum;
    if (u < m) {
      const tokens = sortedBin(b, binOfScratch, V, exps, logits, offset);
      for (const v of tokens) {
        u -= exps[v]! / sum;
        if (u < 0) return v;
      }
      return tokens[tokens.length - 1]!; // rounding: u was within the bin's mass summed in another order
    }
    u -= m;
  }
  // No earlier bin was sorted since: edgeTokens still holds the edge bin.
  for (let j = 0; j < kept; j++) {
    u -= exps[edgeTokens[j]!]! / sum;
    if (u < 0) return edgeTokens[j]!;
  }
  return edgeTokens[kept - 1]!;
}

/** Projects `[rows·B, V]` logits into `out` (same shape) with values ±K; returns the chosen token per position. */
export function project(logits: Float32Array, positions: number, V: number, K: number, p: Projection, rng: Rng, out: Float32Array): Int32Array {
  const chosen = new Int32Array(positions);
  for (let i = 0; i < positions; i++) {
    const o = i * V;
    out.fill(-K, o, o + V);
    if (p.kind === 'sample' && p.topP > 0 && p.topP < 1) {
      const pick = sampleNucleus(logits, o, V, p.topP, rng.next());
      out[o + pick] = K;
      chosen[i] = pick;
      continue;
    }
    const { ids, probs } = nucleus(logits, o, V, p.topP);
    if (p.kind === 'multi-hot') {
      for (const v of ids) out[o + v] = K;
      chosen[i] = ids[0]!;
    } else {
      let total = 0;
      for (let j = 0; j < probs.length; j++) total += probs[j]!;
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

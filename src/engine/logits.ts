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

/**
 * logSoftmax(x)[id] without the array: the same arithmetic (float64 sum over the row, rounded to float32), one pass
 * for the maximum and one for the sum, and no allocation.
 */
export function logSoftmaxAt(x: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
  return Math.fround(x[id]! - (max + Math.log(sum)));
}

export function softmax(x: ArrayLike<number>): Float32Array {
  const l = logSoftmax(x);
  for (let i = 0; i < l.length; i++) l[i] = Math.exp(l[i]!);
  return l;
}

/**
 * Σ wᵢ · logitsᵢ. Terms with weight 0 are skipped, so (1, 0) reproduces the first row exactly even where the second
 * row holds −∞ (masked tokens). `out` (length of a row), when given, receives the result instead of a new array.
 *
 * The arithmetic is that of accumulating into a zeroed float32 array term by term (0 + w₁·row₁, rounded to float32,
 * then + w₂·row₂, rounded, …), in one pass for the usual one or two terms.
 */
export function combine(rows: readonly ArrayLike<number>[], weights: readonly number[], out?: Float32Array): Float32Array {
  if (rows.length !== weights.length || rows.length === 0) throw new Error('combine: one weight per row is required');
  const n = rows[0]!.length;
  if (out && out.length !== n) throw new Error('combine: the output differs in vocabulary size');
  const terms: number[] = [];
  for (let r = 0; r < rows.length; r++) {
    if (weights[r] === 0) continue;
    if (rows[r]!.length !== n) throw new Error('combine: rows differ in vocabulary size');
    terms.push(r);
  }
  const o = out ?? new Float32Array(n);
  if (!terms.length) {
    if (out) out.fill(0);
    return o;
  }
  let t = 0;
  if (terms.length >= 2 && rows[terms[0]!] instanceof Float32Array && rows[terms[1]!] instanceof Float32Array) {
    combineTwo(o, rows[terms[0]!] as Float32Array, weights[terms[0]!]!, rows[terms[1]!] as Float32Array, weights[terms[1]!]!);
    t = 2;
  } else {
    const row = rows[terms[0]!]!;
    const w = weights[terms[0]!]!;
    for (let i = 0; i < n; i++) o[i] = 0 + w * row[i]!;
    t = 1;
  }
  for (; t < terms.length; t++) {
    const row = rows[terms[t]!]!;
    const w = weights[terms[t]!]!;
    for (let i = 0; i < n; i++) o[i]! += w * row[i]!;
  }
  return o;
}

/** out = fround(0 + wa·a) + wb·b (rounded to float32 on the store): two terms accumulated into zeros, in one pass. */
function combineTwo(out: Float32Array, a: Float32Array, wa: number, b: Float32Array, wb: number): void {
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(0 + wa * a[i]!) + wb * b[i]!;
}

export type Decoding = { mode: 'greedy' } | { mode: 'sample'; temperature: number; topP: number; topK?: number };

export function validateDecoding(d: Decoding): string | undefined {
  if (d.mode === 'greedy') return undefined;
  if (!(d.temperature > 0 && d.temperature <= 10)) return 'temperature must be in (0, 10]';
  if (!(d.topP > 0 && d.topP <= 1)) return 'top-p must be in (0, 1]';
  if (d.topK !== undefined && !(Number.isInteger(d.topK) && d.topK >= 1)) return 'top-k must be a positive integer';
  return undefined;
}

/** Indices up to this bound pack with a float32 key into one float64 sort key (2^21 · 2^32 = 2^53). */
const KEY_SPAN = 2 ** 21;
let keyScratch = new Float64Array(0);
/** From this many ids on, a radix sort of the 32-bit keys (three passes over the ids) beats the native sort. */
const RADIX_MIN = 512;
let radixKeys = new Int32Array(0);
let radixKeysB = new Int32Array(0);
let radixIds = new Int32Array(0);
/** Digit counts of the three radix passes (11, 11 and 10 bits). */
const radixCount = new Int32Array(2048 + 2048 + 1024);

/**
 * Sorts `ids` (indices into `value`, each < value.length) in place into the order of the comparator
 * `(a, b) => value[b] − value[a] || a − b` (value descending, ties by index ascending), without calling a comparator
 * per pair: `value[i]` must be a non-decreasing function of `x[i]` (the float32 row it was computed from), so sorting
 * by a 32-bit key made from x's bits (descending value, ±0 together) gives that order up to the order of equal keys:
 * a native numeric sort of float64 keys packed from the key and the index for short lists, a stable LSD radix sort of
 * the keys (three passes; ids in their given order within a key) from RADIX_MIN ids on. A linear pass then checks the
 * order on `value` itself, sorts runs of equal values by index, and falls back to the comparator sort should anything
 * be out of order (NaN, or a value that does not follow x). The comparator defines one total order, so the result is
 * exactly the comparator sort's whichever way the keys were sorted. 10–40× faster at |V| = 50k (radix: another 3–5×
 * over the packed-key sort from a few thousand ids).
 */
export function sortByValueDesc(ids: Int32Array, value: Float64Array | Float32Array, x: Float32Array): Int32Array {
  const n = ids.length;
  if (value.length > KEY_SPAN) return comparatorSort(ids, value);
  const bits = new Int32Array(x.buffer, x.byteOffset, x.length);
  if (n >= RADIX_MIN) radixSortByKey(ids, bits);
  else {
    if (keyScratch.length < n) keyScratch = new Float64Array(Math.max(n, 2 * keyScratch.length));
    const keys = keyScratch.subarray(0, n);
    for (let j = 0; j < n; j++) {
      const i = ids[j]!;
      keys[j] = (descendingKey(bits[i]!) >>> 0) * KEY_SPAN + i;
    }
    keys.sort();
    for (let j = 0; j < n; j++) ids[j] = keys[j]! % KEY_SPAN;
  }
  for (let j = 1; j < n; j++) {
    const a = value[ids[j - 1]!]!;
    const b = value[ids[j]!]!;
    if (a > b) continue;
    if (a !== a || b !== b || a < b) return comparatorSort(ids, value);
    // A run of equal values: by index.
    let end = j + 1;
    while (end < n && value[ids[end]!] === a) end++;
    ids.subarray(j - 1, end).sort();
    j = end - 1;
  }
  return ids;
}

/**
 * IEEE float32 bits (as an int32) → a 32-bit key (returned as an int32; read it unsigned, `>>> 0`) that ascends as
 * the value descends, −0 and +0 alike: non-negative values map to 0x7fffffff − bits, negative ones keep their bits
 * (unsigned, already ascending with the magnitude and above 0x7fffffff).
 */
function descendingKey(b: number): number {
  if (b === -0x80000000) b = 0; // −0 sorts with +0
  return b < 0 ? b : ~b & 0x7fffffff;
}

/** Stable LSD radix sort of `ids` by descendingKey(bits[id]) (unsigned): ascending key, equal keys in their given order. */
function radixSortByKey(ids: Int32Array, bits: Int32Array): void {
  const n = ids.length;
  if (radixKeys.length < n) {
    const size = Math.max(n, 2 * radixKeys.length);
    radixKeys = new Int32Array(size);
    radixKeysB = new Int32Array(size);
    radixIds = new Int32Array(size);
  }
  const count = radixCount;
  count.fill(0);
  let keys = radixKeys;
  let keysOut = radixKeysB;
  let from: Int32Array = ids;
  let to: Int32Array = radixIds;
  for (let j = 0; j < n; j++) {
    const key = descendingKey(bits[ids[j]!]!);
    keys[j] = key;
    count[key & 2047]!++;
    count[2048 + ((key >>> 11) & 2047)]!++;
    count[4096 + (key >>> 22)]!++;
  }
  for (let pass = 0; pass < 3; pass++) {
    const shift = 11 * pass;
    const base = 2048 * pass;
    const mask = pass < 2 ? 2047 : 1023;
    // Every key has the same digit here (keys of nearby values share their high bits): nothing to move.
    if (count[base + ((keys[0]! >>> shift) & mask)] === n) continue;
    let at = 0;
    for (let d = 0; d <= mask; d++) {
      const c = count[base + d]!;
      count[base + d] = at;
      at += c;
    }
    for (let j = 0; j < n; j++) {
      const key = keys[j]!;
      const pos = count[base + ((key >>> shift) & mask)]!++;
      keysOut[pos] = key;
      to[pos] = from[j]!;
    }
    const k = keys;
    keys = keysOut;
    keysOut = k;
    const f = from;
    from = to;
    to = f;
  }
  if (from !== ids) ids.set(from.subarray(0, n));
}

function comparatorSort(ids: Int32Array, value: Float64Array | Float32Array): Int32Array {
  const order = Array.from(ids.sort()).sort((a, b) => value[b]! - value[a]! || a - b);
  ids.set(order);
  return ids;
}

/** Scratch of samplingDistribution (one call at a time; the result is copied out). */
let sdScaled = new Float64Array(0);
let sdOrder = new Int32Array(0);
let sdExps = new Float64Array(0);
let sdSorted = new Float64Array(0);

function sdScratch(n: number): void {
  if (sdScaled.length >= n) return;
  sdScaled = new Float64Array(n);
  sdOrder = new Int32Array(n);
  sdExps = new Float64Array(n);
  sdSorted = new Float64Array(n);
}

/**
 * The distribution actually sampled from: temperature, then top-k, then the nucleus (smallest set whose mass ≥ p),
 * renormalised. Returned sparse (token ids with probabilities, most probable first).
 */
export function samplingDistribution(logits: ArrayLike<number>, d: Exclude<Decoding, { mode: 'greedy' }>): { ids: Int32Array; probs: Float64Array } {
  const n = logits.length;
  sdScratch(n);
  const scaled = sdScaled.subarray(0, n);
  for (let i = 0; i < n; i++) scaled[i] = logits[i]! / d.temperature;
  const order = sdOrder.subarray(0, n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (logits instanceof Float32Array) sortByValueDesc(order, scaled, logits);
  else comparatorSort(order, scaled);
  const k = Math.min(n, d.topK ?? n);
  const max = scaled[order[0]!]!;
  let total = 0;
  const exps = sdExps;
  for (let j = 0; j < k; j++) total += exps[j] = Math.exp(scaled[order[j]!]! - max);
  return nucleusOf(order, exps, k, total, d.topP);
}

/**
 * The nucleus of a sorted distribution: `exps[j]` is the weight of `order[j]` (most probable first), `total` their sum
 * over the first k in that order. Keeps tokens while the mass before them is below p (the first always).
 */
function nucleusOf(order: Int32Array, exps: Float64Array, k: number, total: number, topP: number): { ids: Int32Array; probs: Float64Array } {
  let kept = 0;
  let mass = 0;
  while (kept < k) {
    mass += exps[kept]! / total;
    kept++;
    if (mass >= topP - 1e-12) break;
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
  return drawFrom(samplingDistribution(logits, d), rng);
}

function drawFrom({ ids, probs }: { ids: Int32Array; probs: Float64Array }, rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  for (let j = 0; j < ids.length; j++) {
    acc += probs[j]!;
    if (u < acc) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

/**
 * `pickToken` and `logSoftmaxAt(logits, id)` of the token picked, in one go: the same token (and the same draw from
 * `rng`) and the same log-probability. At temperature 1 the exponentials of the nucleus are those of the
 * log-normaliser (exp(x − max) over the row), so they are computed once for both, and only the tokens that can be in
 * the nucleus are sorted (`sampleAtTemperatureOne`).
 */
export function pickTokenLogProb(logits: ArrayLike<number>, d: Decoding, rng: Rng): { id: number; logProb: number } {
  if (d.mode === 'sample' && d.temperature === 1 && logits instanceof Float32Array && logits.length > 0) {
    const picked = sampleAtTemperatureOne(logits, d, rng);
    if (picked) return picked;
  }
  const id = pickToken(logits, d, rng);
  return { id, logProb: logSoftmaxAt(logits, id) };
}

/** Histogram of the sampling path: bins of 1/SD_BIN_SCALE nat below the maximum, the last bin holds everything further. */
const SD_BINS = 1024;
const SD_BIN_SCALE = 16;
const sdBinMass = new Float64Array(SD_BINS);
const sdBinMinX = new Float64Array(SD_BINS);
let sdCandidates = new Int32Array(0);

/**
 * pickTokenLogProb at temperature 1 (undefined, nothing drawn, for rows with NaN or an infinite maximum): the token
 * samplingDistribution + pickToken would draw, and logSoftmaxAt at it, with these shortcuts, all exact:
 *
 *  - x / 1 is x, so the sorted order is x's and the maximum is the first token's; the exponentials exp(x − max) are
 *    the log-normaliser's and the nucleus's: computed once, in index order (the normaliser's sum is over that order).
 *  - The nucleus's cut needs the sum of the exponentials in sorted order (`total`). Recursive summation of n
 *    non-negative terms in any order is within γ(n−1) = (n−1)u/(1−(n−1)u) (u = 2⁻⁵³) of the exact sum, so the
 *    index-order sum differs from `total` by under 2γ relative, and every running mass of the cut walk (j terms
 *    exps/total, each rounded, summed in order) moves by under (4n + 3)·u·1.02 with it. Where the walk with the
 *    index-order sum crosses p − 1e−12 by more than M = (8n + 64)·u on both sides of the crossing token, the walk with
 *    `total` crosses at the same token (the running mass never decreases); otherwise the full sort decides.
 *  - The cut only reads tokens up to it, a prefix of the sorted order: a histogram of the mass by distance below the
 *    maximum finds a threshold on x whose tokens ({x ≥ threshold}, a prefix of the order by x whatever the ties) hold
 *    more than p·(1 + 1e−9) of the mass; only those are sorted. Top-k below |V| takes the full sort.
 */
function sampleAtTemperatureOne(x: Float32Array, d: Exclude<Decoding, { mode: 'greedy' }>, rng: Rng): { id: number; logProb: number } | undefined {
  const n = x.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    if (v > max) max = v;
    else if (v !== v) return undefined;
  }
  if (max === Infinity || max === -Infinity) return undefined;
  sdScratch(n);
  const exps = sdExps;
  sdBinMass.fill(0);
  sdBinMinX.fill(Infinity);
  const sum = expsAndMassByDistance(x, max, exps);
  const logProb = (id: number) => Math.fround(x[id]! - (max + Math.log(sum)));
  const k = Math.min(n, d.topK ?? n);
  const thr = d.topP - 1e-12;
  if (k === n) {
    // The candidates: every token with x at least the least x of the bins that reach p·(1 + 1e−9) of the mass.
    const target = d.topP * sum * (1 + 1e-9);
    let acc = 0;
    let lo = Infinity;
    let reached = false;
    for (let b = 0; b < SD_BINS; b++) {
      acc += sdBinMass[b]!;
      if (sdBinMinX[b]! < lo) lo = sdBinMinX[b]!;
      if (acc >= target) {
        reached = true;
        break;
      }
    }
    if (reached) {
      if (sdCandidates.length < n) sdCandidates = new Int32Array(n);
      let m = 0;
      for (let i = 0; i < n; i++) {
        sdCandidates[m] = i;
        m += +(x[i]! >= lo);
      }
      const order = sortByValueDesc(sdCandidates.subarray(0, m), x, x);
      const margin = (8 * n + 64) * 2 ** -53;
      let mass = 0;
      let below = -Infinity;
      for (let j = 0; j < m; j++) {
        mass += exps[order[j]!]! / sum;
        if (mass >= thr) {
          if (mass >= thr + margin && below < thr - margin) {
            const kept = j + 1;
            const sorted = sdSorted;
            let keptTotal = 0;
            for (let q = 0; q < kept; q++) keptTotal += sorted[q] = exps[order[q]!]!;
            const id = drawFromSorted(order, sorted, kept, keptTotal, rng);
            return { id, logProb: logProb(id) };
          }
          break;
        }
        below = mass;
      }
    }
  }
  // The full sort: every token in order, `total` as samplingDistribution sums it.
  const order = sdOrder.subarray(0, n);
  for (let i = 0; i < n; i++) order[i] = i;
  sortByValueDesc(order, x, x);
  const sorted = sdSorted;
  let total = 0;
  for (let j = 0; j < k; j++) total += sorted[j] = exps[order[j]!]!;
  const id = drawFrom(nucleusOf(order, sorted, k, total, d.topP), rng);
  return { id, logProb: logProb(id) };
}

/** nucleusOf's probabilities (sorted[j] / keptTotal) and drawFrom's walk over them, without the arrays. */
function drawFromSorted(order: Int32Array, sorted: Float64Array, kept: number, keptTotal: number, rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  for (let j = 0; j < kept; j++) {
    acc += sorted[j]! / keptTotal;
    if (u < acc) return order[j]!;
  }
  return order[kept - 1]!;
}

/**
 * exps[i] = exp(x[i] − max) and their sum in index order; with the histogram of the mass by distance below the
 * maximum (sdBinMass) and the least x of each bin (sdBinMinX), zeroed by the caller.
 */
function expsAndMassByDistance(x: Float32Array, max: number, exps: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    const e = Math.exp(v - max);
    exps[i] = e;
    sum += e;
    const dist = (max - v) * SD_BIN_SCALE;
    const b = dist < SD_BINS - 1 ? dist | 0 : SD_BINS - 1;
    sdBinMass[b]! += e;
    if (v < sdBinMinX[b]!) sdBinMinX[b] = v;
  }
  return sum;
}

/**
 * Jensen–Shannon divergence of two distributions given as logits (any shift), in bits: ½·KL(p‖m) + ½·KL(q‖m) with
 * m = (p + q)/2, computed in float64 and clamped to [0, 1]. Symmetric; exactly 0 for equal rows; 1 for disjoint supports
 * (−∞ logits are zero probability).
 */
export function jsdBitsOfLogits(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error('jsd: rows differ in vocabulary size');
  const n = a.length;
  let maxA = -Infinity;
  let maxB = -Infinity;
  for (let i = 0; i < n; i++) {
    if (a[i]! > maxA) maxA = a[i]!;
    if (b[i]! > maxB) maxB = b[i]!;
  }
  // The exponentials of the normalisers, kept for the divergence pass (the same values, computed once).
  if (jsdExpA.length < n) {
    jsdExpA = new Float64Array(n);
    jsdExpB = new Float64Array(n);
  }
  const ea = jsdExpA;
  const eb = jsdExpB;
  let sumA = 0;
  let sumB = 0;
  for (let i = 0; i < n; i++) {
    sumA += ea[i] = Math.exp(a[i]! - maxA);
    sumB += eb[i] = Math.exp(b[i]! - maxB);
  }
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const p = ea[i]! / sumA;
    const q = eb[i]! / sumB;
    const m = (p + q) / 2;
    if (p > 0) acc += p * Math.log(p / m);
    if (q > 0) acc += q * Math.log(q / m);
  }
  const bits = acc / (2 * Math.LN2);
  return Math.min(1, Math.max(0, bits));
}

let jsdExpA = new Float64Array(0);
let jsdExpB = new Float64Array(0);

/** Jensen–Shannon divergence (bits) of two probability vectors; the same definition as `jsdBitsOfLogits`. */
export function jsdBits(p: ArrayLike<number>, q: ArrayLike<number>): number {
  return jsdBitsOfLogits(Array.from(p, Math.log), Array.from(q, Math.log));
}

/**
 * The adaptive plausibility constraint (Li et al. 2023): sets `out[y] = −∞` wherever p(y) < β · max p under the
 * distribution of `reference` logits, i.e. where reference[y] − max reference < log β (the normaliser cancels). The
 * reference's argmax always survives (its difference is 0 ≥ log β for β ≤ 1); β = 0 removes nothing. In place.
 */
export function applyPlausibility(out: Float32Array, reference: ArrayLike<number>, beta: number): Float32Array {
  if (!(beta > 0)) return out;
  const logBeta = Math.log(beta);
  let max = -Infinity;
  for (let i = 0; i < reference.length; i++) if (reference[i]! > max) max = reference[i]!;
  for (let i = 0; i < out.length; i++) if (!(reference[i]! - max >= logBeta)) out[i] = -Infinity;
  return out;
}

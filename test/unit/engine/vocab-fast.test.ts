// The typed-array top-p of logits.ts (sampling) and diffusion/projection.ts (nucleus projection) against the
// comparator-sort implementations they replaced (kept here verbatim as references): identical ids, probabilities and
// projections on many rows, ties, masked (−∞, −1e9) and signed-zero logits included.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { project } from '../../../src/engine/diffusion/projection';
import { samplingDistribution, sortByValueDesc } from '../../../src/engine/logits';
import { Rng } from '../../../src/engine/random';

// ---- references: the implementations before the typed-array versions ---------------------------------------------
function refSamplingDistribution(logits: ArrayLike<number>, d: { temperature: number; topP: number; topK?: number }) {
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

function refNucleus(logits: Float32Array, offset: number, V: number, topP: number): { ids: number[]; probs: number[] } {
  let max = -Infinity;
  let best = 0;
  for (let v = 0; v < V; v++) {
    if (logits[offset + v]! > max) {
      max = logits[offset + v]!;
      best = v;
    }
  }
  if (topP <= 0) return { ids: [best], probs: [1] };
  const exps = new Float64Array(V);
  let sum = 0;
  for (let v = 0; v < V; v++) sum += exps[v] = Math.exp(logits[offset + v]! - max);
  if (topP >= 1) {
    const ids = [best];
    for (let v = 0; v < V; v++) if (v !== best) ids.push(v);
    return { ids, probs: ids.map((v) => exps[v]! / sum) };
  }
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

function refProject(
  logits: Float32Array,
  positions: number,
  V: number,
  K: number,
  p: { kind: 'sample' | 'multi-hot'; topP: number },
  rng: Rng,
  out: Float32Array,
) {
  const chosen = new Int32Array(positions);
  for (let i = 0; i < positions; i++) {
    const o = i * V;
    const { ids, probs } = refNucleus(logits, o, V, p.topP);
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

// ---- inputs ---------------------------------------------------------------------------------------------------------
function xorshift(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}
const gauss = (r: () => number) => r() + r() + r() + r() - 2;

/** Rows of every shape that matters: spread, peaked, Zipf-like, quantised (many exact ties), masked, ±0. */
function rows(V: number, seed: number): Float32Array[] {
  const r = xorshift(seed);
  const out: Float32Array[] = [];
  for (const spread of [0.5, 3, 8]) out.push(Float32Array.from({ length: V }, () => spread * gauss(r)));
  out.push(Float32Array.from({ length: V }, (_, i) => -1.1 * Math.log(1 + ((i * 7919) % V))));
  out.push(Float32Array.from({ length: V }, () => Math.round(4 * gauss(r)) / 2)); // ties everywhere
  const masked = Float32Array.from({ length: V }, () => 2 * gauss(r));
  for (let i = 0; i < V; i += 7) masked[i] = i % 14 ? -1e9 : -Infinity;
  out.push(masked);
  out.push(Float32Array.from({ length: V }, (_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? -0 : 1e-12 * (i % 5)))); // ±0 and tiny
  out.push(new Float32Array(V)); // all equal
  return out;
}

describe('typed-array top-p (identical to the comparator sorts it replaced)', () => {
  it('sortByValueDesc gives the comparator order, ties by index', () => {
    for (const x of rows(997, 3)) {
      const value = Float64Array.from(x, (v) => v / 0.7);
      const ids = Int32Array.from({ length: x.length }, (_, i) => i);
      const want = Array.from(ids).sort((a, b) => value[b]! - value[a]! || a - b);
      assert.deepEqual(Array.from(sortByValueDesc(ids, value, x)), want);
    }
  });

  it('falls back to the comparator when the values do not follow the logits', () => {
    const x = Float32Array.of(1, 2, 3, 4);
    const value = Float64Array.of(4, 3, 2, 1); // decreasing in x
    assert.deepEqual(Array.from(sortByValueDesc(Int32Array.of(0, 1, 2, 3), value, x)), [0, 1, 2, 3]);
    const nan = Float64Array.of(1, Number.NaN, 3, 2);
    const want = [0, 1, 2, 3].sort((a, b) => nan[b]! - nan[a]! || a - b);
    assert.deepEqual(Array.from(sortByValueDesc(Int32Array.of(0, 1, 2, 3), nan, x)), want);
  });

  it('samplingDistribution: same ids and probabilities for every temperature, top-p and top-k', () => {
    for (const V of [5, 300, 5000]) {
      for (const row of rows(V, V)) {
        for (const d of [
          { temperature: 1, topP: 0.9 },
          { temperature: 0.7, topP: 0.5 },
          { temperature: 1.3, topP: 1 },
          { temperature: 1, topP: 0.95, topK: 40 },
          { temperature: 2, topP: 1e-6 },
        ]) {
          const got = samplingDistribution(row, { mode: 'sample', ...d });
          const want = refSamplingDistribution(row, d);
          assert.deepEqual(got.ids, want.ids);
          assert.deepEqual(got.probs, want.probs);
        }
      }
    }
  });

  it('samplingDistribution on a plain array (no float32 row) is the comparator path', () => {
    const row = [0.3, -1, 2, 2, 0.1];
    assert.deepEqual(samplingDistribution(row, { mode: 'sample', temperature: 1, topP: 0.8 }), refSamplingDistribution(row, { temperature: 1, topP: 0.8 }));
  });

  it('project: same simplex and tokens for sampling and multi-hot at every top-p, over several positions', () => {
    for (const V of [7, 512, 8192]) {
      const all = rows(V, V + 1);
      const logits = new Float32Array(all.length * V);
      all.forEach((r, i) => logits.set(r, i * V));
      for (const kind of ['sample', 'multi-hot'] as const) {
        for (const topP of [0, 0.3, 0.5, 0.9, 0.95, 0.999, 1]) {
          const a = new Float32Array(logits.length);
          const b = new Float32Array(logits.length);
          const got = project(logits, all.length, V, 5, { kind, topP }, new Rng(7, 1), a);
          const want = refProject(logits, all.length, V, 5, { kind, topP }, new Rng(7, 1), b);
          assert.deepEqual(got, want, `${kind} top-p ${topP} V ${V}`);
          assert.deepEqual(a, b);
        }
      }
    }
  });

  it('is exact at |V| = 50k as well', () => {
    const V = 50257;
    const all = rows(V, 11).slice(0, 4);
    const logits = new Float32Array(all.length * V);
    all.forEach((r, i) => logits.set(r, i * V));
    const a = new Float32Array(logits.length);
    const b = new Float32Array(logits.length);
    assert.deepEqual(
      project(logits, all.length, V, 5, { kind: 'sample', topP: 0.95 }, new Rng(3, 1), a),
      refProject(logits, all.length, V, 5, { kind: 'sample', topP: 0.95 }, new Rng(3, 1), b),
    );
    assert.deepEqual(a, b);
    for (const r of all)
      assert.deepEqual(samplingDistribution(r, { mode: 'sample', temperature: 1, topP: 0.9 }), refSamplingDistribution(r, { temperature: 1, topP: 0.9 }));
  });
});

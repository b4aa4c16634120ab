// The vocabulary-sized loops made faster for row P4 of docs/performance.md against the implementations they replaced
// (kept here verbatim as references): the same tokens, draws, log-probabilities, combinations and noise, bit for bit.
//  - pickTokenLogProb (one set of exponentials for the token and its log-probability at temperature 1, and only the
//    tokens that can be in the nucleus sorted) ≡ pickToken + logSoftmaxAt;
//  - sortByValueDesc's radix path ≡ the comparator order;
//  - combine (one pass for two terms, an output buffer) ≡ accumulation into a zeroed float32 array;
//  - SeededNoise.gaussian (the hash of (seed, stream) hoisted out of the loop, cos/sin from a table and a short
//    series instead of Math.cos/Math.sin) ≡ uniformAt per index and Math.cos/Math.sin;
//  - decodeRecipe ≡ the loop that called those references.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecipe } from '../../../src/engine/autoregressive';
import { combine, logSoftmaxAt, pickToken, pickTokenLogProb, sortByValueDesc, type Decoding } from '../../../src/engine/logits';
import type { CausalLM, DecodeState } from '../../../src/engine/models';
import { Rng, SeededNoise, uniformAt } from '../../../src/engine/random';

// ---- references -------------------------------------------------------------------------------------------------
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

function refArgmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

function refPickToken(logits: ArrayLike<number>, d: Decoding, rng: Rng): number {
  if (d.mode === 'greedy') return refArgmax(logits);
  const { ids, probs } = refSamplingDistribution(logits, d);
  const u = rng.next();
  let acc = 0;
  for (let j = 0; j < ids.length; j++) {
    acc += probs[j]!;
    if (u < acc) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}

function refLogSoftmaxAt(x: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
  return Math.fround(x[id]! - (max + Math.log(sum)));
}

function refCombine(rows: readonly ArrayLike<number>[], weights: readonly number[]): Float32Array {
  const n = rows[0]!.length;
  const out = new Float32Array(n);
  rows.forEach((row, r) => {
    const w = weights[r]!;
    if (w === 0) return;
    for (let i = 0; i < n; i++) out[i]! += w * row[i]!;
  });
  return out;
}

function refGaussian(seed: number, out: Float32Array, std: number, at: { block: number; step: number }): void {
  const stream = (Math.imul(at.block + 1, 0x9e3779b1) ^ (at.step + 1)) >>> 0;
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniformAt(seed, stream, i);
    const u2 = uniformAt(seed, stream, i + 1);
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = std * r * Math.sin(2 * Math.PI * u2);
  }
}

// ---- inputs -------------------------------------------------------------------------------------------------------
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

/** Spread, peaked, very wide (beyond 40 nats), Zipf-like, quantised (ties), masked, ±0 and tiny, flat, one-hot rows. */
function rows(V: number, seed: number): Float32Array[] {
  const r = xorshift(seed);
  const out: Float32Array[] = [];
  for (const spread of [0.5, 3, 8, 30]) out.push(Float32Array.from({ length: V }, () => spread * gauss(r)));
  out.push(Float32Array.from({ length: V }, (_, i) => -1.1 * Math.log(1 + ((i * 7919) % V))));
  out.push(Float32Array.from({ length: V }, () => Math.round(4 * gauss(r)) / 2));
  const masked = Float32Array.from({ length: V }, () => 2 * gauss(r));
  for (let i = 0; i < V; i += 7) masked[i] = i % 14 ? -1e9 : -Infinity;
  out.push(masked);
  out.push(Float32Array.from({ length: V }, (_, i) => (i % 3 === 0 ? 0 : i % 3 === 1 ? -0 : 1e-12 * (i % 5))));
  out.push(Float32Array.from({ length: V }, (_, i) => (i % 2 ? 1e-30 : -1e-30) * (1 + (i % 7))));
  out.push(new Float32Array(V));
  const hot = Float32Array.from({ length: V }, () => -Infinity);
  hot[V >> 1] = 0;
  out.push(hot);
  return out;
}

const DECODINGS: Decoding[] = [
  { mode: 'greedy' },
  { mode: 'sample', temperature: 1, topP: 0.9 },
  { mode: 'sample', temperature: 1, topP: 0.95 },
  { mode: 'sample', temperature: 1, topP: 0.5 },
  { mode: 'sample', temperature: 1, topP: 0.999 },
  { mode: 'sample', temperature: 1, topP: 1 },
  { mode: 'sample', temperature: 1, topP: 1e-6 },
  { mode: 'sample', temperature: 1, topP: 0.9, topK: 40 },
  { mode: 'sample', temperature: 0.7, topP: 0.9 },
  { mode: 'sample', temperature: 1.3, topP: 1 },
];

function checkPick(row: Float32Array, d: Decoding, draws: number, label: string): void {
  const a = new Rng(9, 3);
  const b = new Rng(9, 3);
  for (let t = 0; t < draws; t++) {
    const want = refPickToken(row, d, a);
    const got = pickTokenLogProb(row, d, b);
    assert.equal(got.id, want, `${label}: token`);
    assert.ok(Object.is(got.logProb, refLogSoftmaxAt(row, want)), `${label}: log-probability`);
    assert.equal(b.next(), a.next(), `${label}: the same draws`);
  }
}

describe('vocabulary loops (identical to the implementations they replaced)', () => {
  it('pickTokenLogProb = pickToken + logSoftmaxAt, every decoding and row shape', () => {
    for (const V of [1, 2, 5, 300, 5000]) {
      for (const [i, row] of rows(V, V + 17).entries()) for (const d of DECODINGS) checkPick(row, d, 4, `V ${V} row ${i} ${JSON.stringify(d)}`);
    }
  });

  it('pickTokenLogProb at |V| = 50257', () => {
    for (const [i, row] of rows(50257, 5).entries()) {
      for (const d of DECODINGS.slice(1, 4)) checkPick(row, d, 2, `row ${i} ${JSON.stringify(d)}`);
    }
  });

  it('pickTokenLogProb: a nucleus edge within rounding of p takes the full sort and still agrees', () => {
    // Uniform rows: the running mass of 1/V steps meets p = j/V (± the 1e−12 slack) within rounding.
    for (const V of [4, 10, 1000, 4096]) {
      const row = new Float32Array(V);
      for (const topP of [0.25, 0.5, 0.75, 0.25 + 1e-12, 0.5 + 1e-12, 0.5 - 1e-12, 0.3]) {
        checkPick(row, { mode: 'sample', temperature: 1, topP }, 6, `uniform V ${V} top-p ${topP}`);
      }
    }
  });

  it('pickTokenLogProb agrees with pickToken on rows with NaN or infinite logits', () => {
    const rowsOdd = [
      Float32Array.of(0, Number.NaN, 1, 2),
      Float32Array.of(0, Infinity, 1),
      Float32Array.of(-Infinity, -Infinity),
      Float32Array.of(3, Number.NaN),
    ];
    for (const row of rowsOdd) {
      const a = new Rng(1);
      const b = new Rng(1);
      const want = pickToken(row, { mode: 'sample', temperature: 1, topP: 0.9 }, a);
      const got = pickTokenLogProb(row, { mode: 'sample', temperature: 1, topP: 0.9 }, b);
      assert.equal(got.id, want);
      assert.ok(Object.is(got.logProb, logSoftmaxAt(row, want)));
    }
  });

  it('sortByValueDesc (radix path) gives the comparator order on sub-lists and whole rows', () => {
    for (const x of rows(3001, 8)) {
      for (const temperature of [1, 0.3]) {
        const value = Float64Array.from(x, (v) => v / temperature);
        const all = Int32Array.from({ length: x.length }, (_, i) => i);
        const some = all.filter((i) => i % 3 !== 1);
        for (const ids of [all, some, Int32Array.from(some).reverse()]) {
          const want = Array.from(ids).sort((a, b) => value[b]! - value[a]! || a - b);
          assert.deepEqual(Array.from(sortByValueDesc(Int32Array.from(ids), value, x)), want);
          const wantX = Array.from(ids).sort((a, b) => x[b]! - x[a]! || a - b);
          assert.deepEqual(Array.from(sortByValueDesc(Int32Array.from(ids), x, x)), wantX);
        }
      }
    }
  });

  it('combine = accumulation into a zeroed float32 array (two terms in one pass, an output buffer, ±0, −∞)', () => {
    const r = xorshift(4);
    const V = 257;
    const a = Float32Array.from({ length: V }, (_, i) => (i % 11 === 0 ? -0 : i % 13 === 0 ? 0 : i % 17 === 0 ? -Infinity : 3 * gauss(r)));
    const b = Float32Array.from({ length: V }, (_, i) => (i % 5 === 0 ? -0 : i % 7 === 0 ? 0 : 2 * gauss(r)));
    const c = Float32Array.from({ length: V }, () => gauss(r));
    const plain = Array.from(c);
    const cases: [ArrayLike<number>[], number[]][] = [
      [
        [a, b],
        [1.5, -0.5],
      ],
      [
        [a, b],
        [1, 0],
      ],
      [
        [a, b],
        [0, -2],
      ],
      [
        [b, a],
        [-0.25, 3],
      ],
      [
        [a, b, c],
        [0.3, 0.9, -0.2],
      ],
      [
        [a, b, c],
        [0, 1.7, -0.7],
      ],
      [
        [plain, b],
        [1.5, -0.5],
      ],
      [[a], [1]],
      [
        [a, b],
        [0, 0],
      ],
    ];
    const out = new Float32Array(V).fill(7);
    for (const [rs, ws] of cases) {
      const want = refCombine(rs, ws);
      const same = (got: Float32Array) => got.every((v, i) => Object.is(v, want[i]));
      assert.ok(same(combine(rs, ws)), `weights ${ws}`);
      assert.ok(same(combine(rs, ws, out)), `weights ${ws}, into a used buffer`);
    }
  });

  it('SeededNoise.gaussian = Box–Muller over uniformAt per index', () => {
    for (const [seed, n] of [
      [1, 100514],
      [0xdeadbeef, 17],
      [7, 1],
      [123456789, 8192],
    ] as const) {
      for (const at of [
        { block: 0, step: 51 },
        { block: 3, step: 1 },
        { block: 1000, step: 7 },
      ]) {
        const got = new Float32Array(n);
        const want = new Float32Array(n);
        new SeededNoise(seed).gaussian(got, 5, at);
        refGaussian(seed, want, 5, at);
        assert.deepEqual(got, want, `seed ${seed} n ${n}`);
      }
    }
    // The table-and-series cos/sin against Math.cos/Math.sin over 4 M draws: the float32 noise is the same.
    const got = new Float32Array(16384);
    const want = new Float32Array(16384);
    for (let seed = 0; seed < 256; seed++) {
      const at = { block: seed % 5, step: 1 + (seed % 50) };
      new SeededNoise(seed * 2654435761).gaussian(got, 5, at);
      refGaussian(seed * 2654435761, want, 5, at);
      for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) assert.fail(`seed ${seed} index ${i}: ${got[i]} ≠ ${want[i]}`);
    }
  });

  it('decodeRecipe: the same tokens and log-probabilities as the loop over the references', async () => {
    const V = 3001;
    /** Rows that depend on the row's prompt and every token so far (deterministic). */
    class RandomLM implements CausalLM {
      readonly vocabSize = V;
      readonly eos = 0;
      readonly maxContext = 1000;
      private logits(history: number[]): Float32Array {
        const r = xorshift(history.reduce((h, t) => Math.imul(h ^ t, 0x9e3779b1) >>> 0, 77));
        const spread = 1 + (history.length % 4) * 2;
        return Float32Array.from({ length: V }, () => spread * gauss(r));
      }
      async prefill(prompts: readonly Int32Array[]) {
        const hist = prompts.map((p) => Array.from(p));
        return { logits: hist.map((h) => this.logits(h)), state: { rows: prompts.length, hist } as DecodeState };
      }
      async extend(state: DecodeState, tokens: Int32Array) {
        const hist = (state as DecodeState & { hist: number[][] }).hist.map((h, r) => [...h, tokens[r]!]);
        return { logits: hist.map((h) => this.logits(h)), state: { rows: hist.length, hist } as DecodeState };
      }
    }
    const terms = [
      { prompt: Int32Array.of(5, 6, 7), weight: 1.5, label: 'context' },
      { prompt: Int32Array.of(5), weight: -0.5, label: 'no context' },
    ];
    for (const decoding of DECODINGS) {
      for (const t of [terms, [{ ...terms[0]!, weight: 1 }]]) {
        const got = await decodeRecipe(new RandomLM(), { terms: t, decoding, maxTokens: 12, seed: 3, stopTokens: [] });
        // The reference loop.
        const lm = new RandomLM();
        const rng = new Rng(3, 0);
        let { logits, state } = await lm.prefill(t.map((x) => x.prompt));
        for (const [i, token] of got.tokens.entries()) {
          const combined = refCombine(
            logits,
            t.map((x) => x.weight),
          );
          const id = refPickToken(combined, decoding, rng);
          assert.equal(token.id, id, `${JSON.stringify(decoding)} token ${i}`);
          assert.deepEqual(
            token.termLogProbs,
            logits.map((l) => refLogSoftmaxAt(l, id)),
          );
          assert.ok(Object.is(token.combinedLogProb, refLogSoftmaxAt(combined, id)));
          ({ logits, state } = await lm.extend(state, new Int32Array(t.length).fill(id)));
        }
        assert.equal(got.tokens.length, 12);
      }
    }
  });
});

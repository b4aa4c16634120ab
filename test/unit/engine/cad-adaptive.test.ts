import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecipe, type ArResult } from '../../../src/engine/autoregressive';
import { cadStep, cadTerms, decodeCad } from '../../../src/engine/cad';
import { EngineInputError } from '../../../src/engine/errors';
import { applyPlausibility, argmax, combine, jsdBits, jsdBitsOfLogits, logSoftmax, type Decoding } from '../../../src/engine/logits';
import { Rng } from '../../../src/engine/random';
import { FakeLM } from '../../helpers/fakeLm';

const ids = (...x: number[]) => Int32Array.from(x);
const ctx = ids(2, 5, 7, 9, 3);
const noCtx = ids(2, 3);
const greedy: Decoding = { mode: 'greedy' };
const sample: Decoding = { mode: 'sample', temperature: 1, topP: 0.9 };
const DECODINGS = [greedy, sample, { mode: 'sample', temperature: 0.7, topP: 1, topK: 5 } as Decoding];
const SEEDS = [1, 5, 42, 1234];
const common = { maxTokens: 16, stopTokens: [] as number[] };

/**
 * FakeLM's default logits tie once its hash outgrows float64 precision (every token equal after a few steps); this one
 * keeps clear, tie-free preferences however long the sequence, which "β = 1 ⇒ greedy" needs (ties break by index).
 */
const wellSpread = (seq: readonly number[], v: number) =>
  Math.sin((seq.reduce((h, t, i) => (h * 31 + t * (i + 7)) % 1_000_003, 17) % 997) * 0.37 + v * 1.3) * 3;

/** A fake LM that records every step's logits (row 0 = with context). */
class RecordingLM extends FakeLM {
  steps: Float32Array[][] = [];
  override async prefill(p: readonly Int32Array[]) {
    const r = await super.prefill(p);
    this.steps.push(r.logits.map((l) => Float32Array.from(l)));
    return r;
  }
  override async extend(s: Parameters<FakeLM['extend']>[0], t: Int32Array) {
    const r = await super.extend(s, t);
    this.steps.push(r.logits.map((l) => Float32Array.from(l)));
    return r;
  }
}

const plain = (prompt: Int32Array, decoding: Decoding, seed: number): Promise<ArResult> =>
  decodeRecipe(new FakeLM(), { terms: [{ prompt, weight: 1, label: 'plain' }], decoding, seed, ...common });

const randomRow = (rng: Rng, n: number, scale = 4) => Float32Array.from({ length: n }, () => (rng.next() - 0.5) * 2 * scale);

describe('CAD that degrades gracefully: invariants', () => {
  it('β = 0 and non-adaptive is today’s CAD bitwise (ids, per-term and combined log-probs)', async () => {
    assert.equal(cadStep(1, { plausibility: 0, adaptive: false }, []), undefined);
    for (const decoding of DECODINGS)
      for (const seed of SEEDS)
        for (const alpha of [0, 0.5, 1, 3]) {
          const today = await decodeRecipe(new FakeLM(), { terms: cadTerms(ctx, noCtx, alpha), decoding, seed, ...common });
          const lm = new FakeLM();
          const r = await decodeCad(lm, { withContext: ctx, withoutContext: noCtx, alpha, plausibility: 0, adaptive: false, decoding, seed, ...common });
          assert.deepEqual(
            r.tokens.map((t) => [t.id, t.logProbWithContext, t.logProbWithoutContext, t.alpha]),
            today.tokens.map((t) => [t.id, t.termLogProbs[0], t.termLogProbs[1], undefined]),
          );
        }
  });

  it('the combine hook is a neutral seam: the weighted sum as a hook reproduces the recipe bitwise', async () => {
    for (const decoding of DECODINGS) {
      const terms = cadTerms(ctx, noCtx, 1.5);
      const a = await decodeRecipe(new FakeLM(), { terms, decoding, seed: 9, ...common });
      const b = await decodeRecipe(new FakeLM(), { terms, decoding, seed: 9, ...common, combine: (rows) => combine(rows, [2.5, -1.5]) });
      assert.deepEqual(b, a);
    }
  });

  it('adaptive α with identical contexts is plain decoding bitwise, whatever α (JSD = 0 ⇒ α_t = 0)', async () => {
    for (const decoding of DECODINGS)
      for (const seed of SEEDS)
        for (const alpha of [0.5, 1, 2, 10]) {
          const p = await plain(ctx, decoding, seed);
          const r = await decodeCad(new FakeLM(), { withContext: ctx, withoutContext: ctx, alpha, adaptive: true, decoding, seed, ...common });
          assert.deepEqual(
            r.tokens.map((t) => [t.id, t.logProbWithContext]),
            p.tokens.map((t) => [t.id, t.termLogProbs[0]]),
          );
          assert.ok(r.tokens.every((t) => t.alpha === 0 && t.reliance === 0));
        }
  });

  it('non-adaptive CAD with identical contexts is plain decoding (mathematically: (1+α)·l − α·l = l)', async () => {
    for (const decoding of DECODINGS)
      for (const seed of SEEDS)
        for (const alpha of [0.5, 1, 2, 10]) {
          const p = await plain(ctx, decoding, seed);
          const r = await decodeCad(new FakeLM(), { withContext: ctx, withoutContext: ctx, alpha, decoding, seed, ...common });
          assert.deepEqual(
            r.tokens.map((t) => t.id),
            p.tokens.map((t) => t.id),
          );
        }
    const rng = new Rng(3, 0);
    for (let k = 0; k < 50; k++) {
      const l = randomRow(rng, 64);
      const alpha = rng.next() * 10;
      const c = combine([l, l], [1 + alpha, -alpha]);
      assert.equal(argmax(c), argmax(l));
      c.forEach((v, i) => assert.ok(Math.abs(v - l[i]!) <= 1e-5 * (1 + alpha)));
    }
  });

  it('the plausibility mask never removes the argmax of p(y | c, x), and removes exactly p < β·max p', () => {
    const rng = new Rng(11, 0);
    for (let k = 0; k < 200; k++) {
      const c = randomRow(rng, 50, 6);
      const x = randomRow(rng, 50, 6);
      const beta = [1e-6, 0.01, 0.1, 0.5, 0.9, 1][k % 6]!;
      const out = applyPlausibility(combine([c, x], [3, -2]), c, beta);
      assert.ok(Number.isFinite(out[argmax(c)]!));
      const lp = logSoftmax(c);
      const pmax = Math.exp(lp[argmax(c)]!);
      out.forEach((v, i) => {
        const p = Math.exp(lp[i]!);
        // Away from the boundary (float rounding) the kept set is exactly {p ≥ β·max p}.
        if (Math.abs(p - beta * pmax) > 1e-6 * pmax) assert.equal(Number.isFinite(v), p >= beta * pmax, `token ${i}`);
      });
    }
    const row = Float32Array.from([1, 2, 3]);
    assert.deepEqual([...applyPlausibility(Float32Array.from(row), row, 0)], [...row]);
  });

  it('decoded tokens respect the constraint at every step, and β = 0 constrains nothing', async () => {
    for (const beta of [0.05, 0.1, 0.3])
      for (const seed of SEEDS) {
        const lm = new RecordingLM();
        const r = await decodeCad(lm, { withContext: ctx, withoutContext: noCtx, alpha: 3, plausibility: beta, decoding: sample, seed, ...common });
        r.tokens.forEach((t, i) => {
          const lp = logSoftmax(lm.steps[i]![0]!);
          assert.ok(t.logProbWithContext >= Math.log(beta) + lp[argmax(lp)]! - 1e-5, `step ${i}`);
        });
      }
  });

  it('β = 1 is greedy decoding on p(y | c, x), whatever α, decoding or adaptivity', async () => {
    const g = await decodeRecipe(new FakeLM(16, 64, 1, wellSpread), {
      terms: [{ prompt: ctx, weight: 1, label: 'plain' }],
      decoding: greedy,
      seed: 1,
      ...common,
    });
    for (const decoding of DECODINGS)
      for (const alpha of [0, 1, 5])
        for (const adaptive of [false, true]) {
          const r = await decodeCad(new FakeLM(16, 64, 1, wellSpread), {
            withContext: ctx,
            withoutContext: noCtx,
            alpha,
            plausibility: 1,
            adaptive,
            decoding,
            seed: 7,
            ...common,
          });
          assert.deepEqual(
            r.tokens.map((t) => t.id),
            g.tokens.map((t) => t.id),
          );
        }
  });

  it('adaptive α_t = α · JSD(p(·|c,x) ‖ p(·|x)) in bits, within [0, α], reported per token', async () => {
    const lm = new RecordingLM();
    const alpha = 2;
    const r = await decodeCad(lm, { withContext: ctx, withoutContext: noCtx, alpha, adaptive: true, decoding: greedy, ...common, seed: 1 });
    r.tokens.forEach((t, i) => {
      const [c, x] = lm.steps[i]!;
      assert.equal(t.alpha, alpha * jsdBitsOfLogits(c!, x!));
      assert.ok(t.alpha! >= 0 && t.alpha! <= alpha);
      const a = t.alpha!;
      assert.equal(t.id, argmax(combine([c!, x!], [1 + a, -a])));
    });
    assert.ok(r.tokens.some((t) => t.alpha! > 0));
  });

  it('JSD is symmetric, 0 for equal distributions, 1 for disjoint supports, shift-invariant and within [0, 1]', () => {
    assert.equal(jsdBits([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]), 0);
    assert.equal(jsdBits([1, 0], [0, 1]), 1);
    assert.equal(jsdBits([0.5, 0.5, 0, 0], [0, 0, 0.25, 0.75]), 1);
    assert.equal(jsdBitsOfLogits([0, -Infinity, -Infinity], [-Infinity, 0, 1]), 1);
    const rng = new Rng(5, 0);
    for (let k = 0; k < 100; k++) {
      const a = randomRow(rng, 40);
      const b = randomRow(rng, 40);
      const d = jsdBitsOfLogits(a, b);
      assert.ok(d >= 0 && d <= 1);
      assert.equal(jsdBitsOfLogits(a, a), 0);
      assert.ok(Math.abs(d - jsdBitsOfLogits(b, a)) < 1e-12);
      assert.ok(
        Math.abs(
          d -
            jsdBitsOfLogits(
              a.map((v) => v + 5),
              b.map((v) => v - 3),
            ),
        ) < 1e-6,
      ); // float32 rows: the shift rounds
    }
    // A hand-checked value: p = (1, 0), q = (½, ½): m = (¾, ¼); ½·log2(4/3) + ½·(½·log2(2/3) + ½·log2(2)).
    const want = 0.5 * Math.log2(4 / 3) + 0.5 * (0.5 * Math.log2(2 / 3) + 0.5);
    assert.ok(Math.abs(jsdBits([1, 0], [0.5, 0.5]) - want) < 1e-12);
  });

  it('rejects β outside [0, 1]', () => {
    for (const plausibility of [-0.1, 1.5, Number.NaN]) assert.throws(() => cadStep(1, { plausibility }, []), EngineInputError);
  });
});

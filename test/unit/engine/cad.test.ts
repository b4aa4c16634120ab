import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRecipe } from '../../../src/engine/autoregressive';
import { cadTerms, decodeCad, negativeContextTerms } from '../../../src/engine/cad';
import { CancelledError, ContextTooLongError, EngineInputError } from '../../../src/engine/errors';
import { combine, logSoftmax, samplingDistribution, softmax, type Decoding } from '../../../src/engine/logits';
import { FakeLM } from '../../helpers/fakeLm';

const ids = (...x: number[]) => Int32Array.from(x);
const ctx = ids(2, 5, 7, 9, 3);
const noCtx = ids(2, 3);
const sample: Decoding = { mode: 'sample', temperature: 1, topP: 0.9 };

describe('CAD invariants', () => {
  it('α = 0 reproduces plain decoding exactly (greedy and sampled)', async () => {
    for (const decoding of [{ mode: 'greedy' } as Decoding, sample]) {
      const lm = new FakeLM();
      const plain = await decodeRecipe(lm, { terms: [{ prompt: ctx, weight: 1, label: 'plain' }], decoding, maxTokens: 12, seed: 5, stopTokens: [] });
      const cad = await decodeCad(new FakeLM(), { withContext: ctx, withoutContext: noCtx, alpha: 0, decoding, maxTokens: 12, seed: 5, stopTokens: [] });
      assert.deepEqual(
        cad.tokens.map((t) => t.id),
        plain.tokens.map((t) => t.id),
      );
      assert.deepEqual(
        cad.tokens.map((t) => t.logProbWithContext),
        plain.tokens.map((t) => t.termLogProbs[0]),
      );
    }
  });

  it('combining with weight 0 ignores −∞ in the dropped row', () => {
    const out = combine(
      [
        [1, 2, 3],
        [-Infinity, 0, 0],
      ],
      [1, 0],
    );
    assert.deepEqual([...out], [1, 2, 3]);
  });

  it('identical contexts leave the distribution unchanged for any α', () => {
    const l = Float32Array.from([0.3, -1.2, 2.5, 0.0, 1.1]);
    for (const alpha of [0.5, 1, 2, 5]) {
      const p = softmax(combine([l, l], [1 + alpha, -alpha]));
      softmax(l).forEach((q, i) => assert.ok(Math.abs(q - p[i]!) < 1e-6));
    }
  });

  it('identical prompts decode exactly like plain greedy decoding', async () => {
    const plain = await decodeRecipe(new FakeLM(), {
      terms: [{ prompt: ctx, weight: 1, label: 'p' }],
      decoding: { mode: 'greedy' },
      maxTokens: 10,
      seed: 1,
      stopTokens: [],
    });
    const same = await decodeCad(new FakeLM(), {
      withContext: ctx,
      withoutContext: ctx,
      alpha: 2,
      decoding: { mode: 'greedy' },
      maxTokens: 10,
      seed: 1,
      stopTokens: [],
    });
    assert.deepEqual(
      same.tokens.map((t) => t.id),
      plain.tokens.map((t) => t.id),
    );
    assert.ok(same.tokens.every((t) => t.reliance === 0));
  });

  it('is invariant to a constant shift of either logit vector (logits or log-probs give the same result)', () => {
    const a = [0.5, 2, -1, 0.25];
    const b = [1, -0.5, 0.75, 0];
    const base = softmax(combine([a, b], [1.5, -0.5]));
    const shifted = softmax(combine([a.map((x) => x + 7), b.map((x) => x - 3)], [1.5, -0.5]));
    const logprobs = softmax(combine([logSoftmax(a), logSoftmax(b)], [1.5, -0.5]));
    base.forEach((p, i) => {
      assert.ok(Math.abs(p - shifted[i]!) < 1e-6);
      assert.ok(Math.abs(p - logprobs[i]!) < 1e-6);
    });
  });

  it('equals the product of experts p_c^(1+α) · p_nc^(−α), renormalised', () => {
    const a = [0.5, 2, -1, 0.25];
    const b = [1, -0.5, 0.75, 0];
    const alpha = 1;
    const pc = softmax(a);
    const pn = softmax(b);
    const poe = [...pc].map((p, i) => p ** (1 + alpha) * pn[i]! ** -alpha);
    const z = poe.reduce((s, x) => s + x, 0);
    softmax(combine([a, b], [1 + alpha, -alpha])).forEach((p, i) => assert.ok(Math.abs(p - poe[i]! / z) < 1e-6));
  });

  it('greedy takes the argmax of the combination, and the nucleus is computed after combining', async () => {
    const c = [3, 2.9, 0, 0];
    const n = [3, 0, 0, 0];
    const combined = combine([c, n], [2, -1]); // [3, 5.8, 0, 0]
    assert.deepEqual([...samplingDistribution(combined, { mode: 'sample', temperature: 1, topP: 0.9 }).ids], [1]);
    const noCtxLm = new FakeLM(4, 64, 99, (seq, v) => (seq.length && seq[0] === 0 ? n[v]! : c[v]!));
    const r = await decodeCad(noCtxLm, {
      withContext: ids(1),
      withoutContext: ids(0),
      alpha: 1,
      decoding: { mode: 'greedy' },
      maxTokens: 1,
      seed: 0,
      stopTokens: [],
    });
    assert.equal(r.tokens[0]!.id, 1, 'CAD picks the token the context supports');
    const plain = await decodeRecipe(noCtxLm, {
      terms: [{ prompt: ids(1), weight: 1, label: 'p' }],
      decoding: { mode: 'greedy' },
      maxTokens: 1,
      seed: 0,
      stopTokens: [],
    });
    assert.equal(plain.tokens[0]!.id, 0, 'plain decoding picks the prior');
  });

  it('both inputs run as one batch of two rows and advance by the same token', async () => {
    const lm = new FakeLM();
    await decodeCad(lm, { withContext: ctx, withoutContext: noCtx, alpha: 1, decoding: { mode: 'greedy' }, maxTokens: 5, seed: 0, stopTokens: [] });
    assert.equal(lm.calls.prefill, 1);
    assert.deepEqual(lm.calls.rowsSeen, [2]);
    assert.equal(lm.calls.extend, 4);
  });

  it('reports reliance = log p(y|c,x) − log p(y|x) per token', async () => {
    const r = await decodeCad(new FakeLM(), {
      withContext: ctx,
      withoutContext: noCtx,
      alpha: 1,
      decoding: { mode: 'greedy' },
      maxTokens: 6,
      seed: 0,
      stopTokens: [],
    });
    for (const t of r.tokens) assert.equal(t.reliance, t.logProbWithContext - t.logProbWithoutContext);
  });

  it('stops at a stop token without returning it, or at the budget', async () => {
    const stopAt = new FakeLM(8, 64, 3, (seq, v) => (seq.length >= 4 ? (v === 3 ? 10 : 0) : v === 5 ? 10 : 0));
    const r = await decodeRecipe(stopAt, {
      terms: [{ prompt: ids(1, 2), weight: 1, label: 'p' }],
      decoding: { mode: 'greedy' },
      maxTokens: 10,
      seed: 0,
      stopTokens: [3],
    });
    assert.deepEqual(
      r.tokens.map((t) => t.id),
      [5, 5],
    );
    assert.equal(r.stoppedBy, 'stop-token');
    const budget = await decodeRecipe(new FakeLM(), {
      terms: [{ prompt: ctx, weight: 1, label: 'p' }],
      decoding: { mode: 'greedy' },
      maxTokens: 3,
      seed: 0,
      stopTokens: [],
    });
    assert.equal(budget.tokens.length, 3);
    assert.equal(budget.stoppedBy, 'max-tokens');
  });

  it('sampling is reproducible from the seed', async () => {
    const run = (seed: number) =>
      decodeCad(new FakeLM(), {
        withContext: ctx,
        withoutContext: noCtx,
        alpha: 0.5,
        decoding: { mode: 'sample', temperature: 1.5, topP: 0.99 },
        maxTokens: 20,
        seed,
        stopTokens: [],
      });
    assert.deepEqual(
      (await run(11)).tokens.map((t) => t.id),
      (await run(11)).tokens.map((t) => t.id),
    );
    assert.notDeepEqual(
      (await run(11)).tokens.map((t) => t.id),
      (await run(12)).tokens.map((t) => t.id),
    );
  });

  it('a cancel stops generation within one token and keeps the partial result', async () => {
    const ac = new AbortController();
    const err = await decodeCad(new FakeLM(), {
      withContext: ctx,
      withoutContext: noCtx,
      alpha: 1,
      decoding: { mode: 'greedy' },
      maxTokens: 50,
      seed: 0,
      stopTokens: [],
      signal: ac.signal,
      onToken: (_t, i) => {
        if (i === 2) ac.abort();
      },
    }).then(
      () => assert.fail('expected a cancel'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CancelledError);
    assert.equal((err.partial as { tokens: unknown[] }).tokens.length, 3);
  });

  it('refuses inputs that do not fit the context, bad α and bad decoding settings', async () => {
    const lm = new FakeLM(16, 10);
    await assert.rejects(
      decodeCad(lm, {
        withContext: ids(1, 2, 3, 4, 5, 6),
        withoutContext: noCtx,
        alpha: 1,
        decoding: { mode: 'greedy' },
        maxTokens: 5,
        seed: 0,
        stopTokens: [],
      }),
      (e: Error) => e instanceof ContextTooLongError && /needs 11 tokens but the model reads at most 10/.test(e.message),
    );
    await assert.rejects(
      decodeCad(lm, { withContext: ids(1), withoutContext: ids(1), alpha: -1, decoding: { mode: 'greedy' }, maxTokens: 1, seed: 0, stopTokens: [] }),
      EngineInputError,
    );
    await assert.rejects(
      decodeCad(lm, { withContext: ids(1), withoutContext: ids(1), alpha: Number.NaN, decoding: { mode: 'greedy' }, maxTokens: 1, seed: 0, stopTokens: [] }),
      EngineInputError,
    );
    await assert.rejects(
      decodeCad(lm, {
        withContext: ids(1),
        withoutContext: ids(1),
        alpha: 1,
        decoding: { mode: 'sample', temperature: 1, topP: 0 },
        maxTokens: 1,
        seed: 0,
        stopTokens: [],
      }),
      /top-p/,
    );
  });

  it('negative-context terms weight each negative by −α/n', () => {
    const t = negativeContextTerms(ids(1), [ids(2), ids(3)], 1);
    assert.deepEqual(
      t.map((x) => x.weight),
      [2, -0.5, -0.5],
    );
    assert.deepEqual(
      cadTerms(ids(1), ids(2), 0.5).map((x) => x.weight),
      [1.5, -0.5],
    );
  });
});

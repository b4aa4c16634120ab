import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDiffusion } from '../../../src/engine/diffusion/decode';
import { almostOneHot, project } from '../../../src/engine/diffusion/projection';
import { alphaBar } from '../../../src/engine/diffusion/schedule';
import { CancelledError, ContextTooLongError, EngineInputError } from '../../../src/engine/errors';
import { Rng } from '../../../src/engine/random';
import { FakeClassifier, FakeDiffusionLM, prefers } from '../../helpers/fakeDiffusion';

const close = (a: number, b: number, tol: number) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('cosine schedule', () => {
  it('matches the reference values', () => {
    for (const T of [100, 1000, 5000]) {
      assert.equal(alphaBar(0, T), 1);
      close(alphaBar(T / 2, T), 0.4999214804, 1e-9);
      assert.ok(alphaBar(T, T) < 1e-12);
    }
    close(alphaBar(1, 25), 0.9960384548, 1e-9);
    close(alphaBar(24, 25), 3.9419e-3, 1e-7);
    close(alphaBar(1, 1000), 0.9999970397, 1e-10);
  });
  it('is monotone decreasing', () => {
    for (let t = 1; t <= 200; t++) assert.ok(alphaBar(t, 200) < alphaBar(t - 1, 200));
  });
});

describe('simplex projection', () => {
  const V = 6;
  const logits = Float32Array.from([0.1, 3, 2.9, -1, 0, 0.5, /* row 2 */ 5, 0, 0, 0, 0, 0]);
  it('sampling writes exactly one +K per row; top-p 0 is greedy', () => {
    const out = new Float32Array(12);
    const chosen = project(logits, 2, V, 5, { kind: 'sample', topP: 0 }, new Rng(1), out);
    assert.deepEqual([...chosen], [1, 0]);
    for (let r = 0; r < 2; r++) {
      const row = [...out.subarray(r * V, (r + 1) * V)];
      assert.equal(row.filter((x) => x === 5).length, 1);
      assert.equal(row.filter((x) => x === -5).length, V - 1);
    }
  });
  it('multi-hot marks the whole nucleus, which contains the argmax and has mass ≥ p', () => {
    const out = new Float32Array(12);
    project(logits, 2, V, 5, { kind: 'multi-hot', topP: 0.9 }, new Rng(1), out);
    const row = [...out.subarray(0, V)];
    const kept = row.map((x, i) => (x === 5 ? i : -1)).filter((i) => i >= 0);
    assert.ok(kept.includes(1));
    const exps = [...logits.subarray(0, V)].map(Math.exp);
    const z = exps.reduce((s, x) => s + x, 0);
    assert.ok(kept.reduce((s, i) => s + exps[i]! / z, 0) >= 0.9);
    const greedy = new Float32Array(12);
    project(logits, 2, V, 5, { kind: 'multi-hot', topP: 0 }, new Rng(1), greedy);
    assert.deepEqual(
      [...greedy.subarray(0, V)].map((x) => x > 0),
      [false, true, false, false, false, false],
    );
  });
  it('almost-one-hot puts +K at the token', () => {
    assert.deepEqual([...almostOneHot([2], 4, 5)], [-5, -5, 5, -5]);
  });
});

describe('semi-autoregressive diffusion decoding', () => {
  const V = 12;
  const B = 4;
  it('runs t = T…1 with timestep input t/T starting at 1.0, grows the context by B per block', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B));
    const r = await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1, 2, 3), weight: 1, label: 'ctx' }],
      maxTokens: 8,
      steps: 10,
      projection: { kind: 'sample', topP: 0.9 },
      seed: 3,
    });
    assert.deepEqual(r.tokens, [7, 7, 7, 7, 7, 7, 7, 7]);
    assert.equal(lm.calls.length, 20);
    assert.equal(lm.calls[0]!.tFrac, 1);
    assert.equal(lm.calls[9]!.tFrac, 0.1);
    assert.deepEqual(lm.calls[0]!.contextLengths, [3]);
    assert.deepEqual(lm.calls[10]!.contextLengths, [3 + B]);
  });

  it('prunes at EOS and stops', async () => {
    let calls = 0;
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 256, () => {
      calls++;
      const out = new Float32Array(B * V);
      [4, 5, 1, 6].forEach((tok, i) => (out[i * V + tok] = 10));
      return out;
    });
    const r = await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 12,
      steps: 5,
      projection: { kind: 'sample', topP: 0 },
      seed: 0,
      eos: 1,
    });
    assert.deepEqual(r.tokens, [4, 5]);
    assert.equal(r.stoppedBy, 'eos');
    assert.equal(calls, 5, 'one block only');
  });

  it('seeded runs are reproducible', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100);
    const a = await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 50,
      projection: { kind: 'sample', topP: 0 },
      seed: 9,
    });
    const b = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100), {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 50,
      projection: { kind: 'sample', topP: 0 },
      seed: 9,
    });
    assert.deepEqual(a.tokens, b.tokens, 'seeded runs are reproducible');
  });

  it('guidance with λ = 0 is the identity; λ > 0 steers tokens', async () => {
    const base = {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 8,
      steps: 10,
      projection: { kind: 'sample' as const, topP: 0.9 },
      seed: 4,
    };
    const plain = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B)), base);
    const clf = new FakeClassifier(3);
    const zero = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B)), {
      ...base,
      guidance: [{ classifier: clf, label: 1, lambda: 0 }],
    });
    assert.deepEqual(zero.tokens, plain.tokens);
    assert.equal(clf.calls, 0);
    const steered = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B)), {
      ...base,
      guidance: [{ classifier: clf, label: 1, lambda: 20 }],
    });
    assert.deepEqual(steered.tokens, Array(8).fill(3));
    assert.equal(clf.calls, 20, 'guidance runs at every step of every block');
  });

  it('rewrite with a low edit strength keeps the original; strength 1 regenerates it', async () => {
    const original = Int32Array.of(2, 9, 4, 4, 8, 1, 0, 6);
    const low = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100), {
      terms: [{ context: Int32Array.of(5), weight: 1, label: 'c' }],
      maxTokens: 0,
      steps: 100,
      projection: { kind: 'sample', topP: 0 },
      seed: 2,
      rewrite: { tokens: original, strength: 0.05 },
    });
    assert.deepEqual(low.tokens, [...original]);
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B));
    const full = await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(5), weight: 1, label: 'c' }],
      maxTokens: 0,
      steps: 20,
      projection: { kind: 'sample', topP: 0 },
      seed: 2,
      rewrite: { tokens: original, strength: 1 },
    });
    assert.deepEqual(full.tokens, Array(8).fill(7));
    assert.equal(lm.calls[0]!.tFrac, 1);
    const mid = new FakeDiffusionLM(V, B, 5, 100);
    await decodeDiffusion(mid, {
      terms: [{ context: Int32Array.of(5), weight: 1, label: 'c' }],
      maxTokens: 0,
      steps: 20,
      projection: { kind: 'sample', topP: 0 },
      seed: 2,
      rewrite: { tokens: original, strength: 0.5 },
    });
    assert.equal(mid.calls[0]!.tFrac, 0.5, 'starts at t0 = s·T');
    assert.equal(mid.calls.length, 2 * 10);
    // A rewrite of 6 tokens runs two blocks of 4 but keeps the original's length.
    const six = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B)), {
      terms: [{ context: Int32Array.of(5), weight: 1, label: 'c' }],
      maxTokens: 0,
      steps: 10,
      projection: { kind: 'sample', topP: 0 },
      seed: 2,
      rewrite: { tokens: original.subarray(0, 6), strength: 1 },
    });
    assert.deepEqual(six.tokens, Array(6).fill(7));
    assert.equal(six.blocks, 2);
  });

  it('early stop ends each block at ⌈fraction·T⌉', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(7, V, B));
    await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 10,
      projection: { kind: 'sample', topP: 0 },
      seed: 0,
      earlyStop: 0.4,
    });
    assert.deepEqual(
      lm.calls.map((c) => c.tFrac),
      [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
    );
  });

  it('weighted terms run as one batch and combine their logits', async () => {
    // Row "a" prefers 7, row "b" prefers 3: (1, 1) ties them (argmax picks the lower id), (2, −1) picks 7, (−1, 2) picks 3.
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 256, (c, noisy) => prefers(c[0] === 1 ? 7 : 3, V, B)(c, noisy));
    const run = (wa: number, wb: number) =>
      decodeDiffusion(lm, {
        terms: [
          { context: Int32Array.of(1), weight: wa, label: 'a' },
          { context: Int32Array.of(2), weight: wb, label: 'b' },
        ],
        maxTokens: 4,
        steps: 5,
        projection: { kind: 'sample', topP: 0 },
        seed: 0,
      });
    assert.deepEqual((await run(2, -1)).tokens, [7, 7, 7, 7]);
    assert.deepEqual((await run(-1, 2)).tokens, [3, 3, 3, 3]);
    assert.equal(lm.calls[0]!.rows, 2, 'both terms in one batch');
  });

  it('self-conditioning feeds the previous step’s logits (zeros at the first step)', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100, true, 256, prefers(7, V, B));
    await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 3,
      projection: { kind: 'sample', topP: 0 },
      seed: 0,
    });
    assert.equal(lm.calls[0]!.selfCondSum, 0);
    assert.ok(lm.calls[1]!.selfCondSum > 0);
  });

  it('streams the argmax tokens of every step and can be cancelled between steps', async () => {
    const ac = new AbortController();
    const steps: number[] = [];
    const err = await decodeDiffusion(new FakeDiffusionLM(V, B, 5, 100), {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 8,
      steps: 20,
      projection: { kind: 'sample', topP: 0.9 },
      seed: 0,
      signal: ac.signal,
      onStep: (s) => {
        steps.push(s.t);
        if (steps.length === 3) ac.abort();
      },
    }).then(
      () => assert.fail('expected a cancel'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CancelledError);
    assert.deepEqual(steps, [20, 19, 18]);
  });

  it('slides the context window: the head and the latest tokens, never more than maxContext − B', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 12, prefers(7, V, B));
    const context = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // 10 + a block of 4 > 12
    await assert.rejects(
      decodeDiffusion(lm, { terms: [{ context, weight: 1, label: 'c' }], maxTokens: 8, steps: 3, projection: { kind: 'sample', topP: 0 }, seed: 1 }),
      ContextTooLongError,
    );
    const seen: number[][] = [];
    const spy = new FakeDiffusionLM(V, B, 5, 100, false, 12, prefers(7, V, B));
    const encode = spy.encodeContext.bind(spy);
    spy.encodeContext = async (rows: readonly Int32Array[]) => {
      seen.push([...rows[0]!]);
      return encode(rows);
    };
    const r = await decodeDiffusion(spy, {
      terms: [{ context, weight: 1, label: 'c' }],
      maxTokens: 8,
      steps: 3,
      projection: { kind: 'sample', topP: 0 },
      seed: 1,
      slide: { keepHead: 1 },
    });
    assert.deepEqual(r.tokens, [7, 7, 7, 7, 7, 7, 7, 7]);
    assert.deepEqual(seen, [
      [1, 4, 5, 6, 7, 8, 9, 10],
      [1, 8, 9, 10, 7, 7, 7, 7],
    ]);
    for (const c of seen) assert.ok(c.length <= 12 - B);
    await assert.rejects(
      decodeDiffusion(spy, {
        terms: [{ context, weight: 1, label: 'c' }],
        maxTokens: 4,
        steps: 3,
        projection: { kind: 'sample', topP: 0 },
        seed: 1,
        slide: { keepHead: 8 },
      }),
      ContextTooLongError,
    );
  });

  it('suppressed tokens are never produced, even when the model prefers them', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 256, prefers(3, V, B));
    const plain = await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 5,
      projection: { kind: 'sample', topP: 0.9 },
      seed: 2,
    });
    assert.deepEqual(plain.tokens, [3, 3, 3, 3]);
    const r = await decodeDiffusion(lm, {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 5,
      projection: { kind: 'sample', topP: 0.9 },
      seed: 2,
      suppress: [3],
    });
    assert.equal(r.tokens.length, 4);
    assert.ok(!r.tokens.includes(3));
    await assert.rejects(
      decodeDiffusion(lm, {
        terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
        maxTokens: 4,
        steps: 5,
        projection: { kind: 'sample', topP: 0.9 },
        seed: 2,
        suppress: [V],
      }),
      /not in the vocabulary/,
    );
  });

  it('runs from the head alone (no text before), for a continuation and a rewrite; refuses only an empty context', async () => {
    const seen: number[][] = [];
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 12, prefers(7, V, B));
    const encode = lm.encodeContext.bind(lm);
    lm.encodeContext = async (rows: readonly Int32Array[]) => {
      seen.push([...rows[0]!]);
      return encode(rows);
    };
    const head = Int32Array.of(1);
    const gen = await decodeDiffusion(lm, {
      terms: [{ context: head, weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 3,
      projection: { kind: 'sample', topP: 0 },
      seed: 1,
      slide: { keepHead: 1 },
    });
    assert.deepEqual(gen.tokens, [7, 7, 7, 7]);
    assert.deepEqual(seen[0], [1], 'the first block reads the head alone');
    // A rewrite longer than the window (12 tokens, room for 8 of context) slides: head plus the latest rewritten tokens.
    const original = Int32Array.from({ length: 16 }, (_, i) => 2 + (i % 5));
    seen.length = 0;
    const rw = await decodeDiffusion(lm, {
      terms: [{ context: head, weight: 1, label: 'c' }],
      maxTokens: 0,
      steps: 3,
      projection: { kind: 'sample', topP: 0 },
      seed: 1,
      slide: { keepHead: 1 },
      rewrite: { tokens: original, strength: 1 },
    });
    assert.equal(rw.tokens.length, 16);
    assert.deepEqual(
      seen.map((c) => c.length),
      [1, 5, 8, 8],
    );
    for (const c of seen) assert.equal(c[0], 1, 'the head is kept');
    // A head longer than the context (a one-token context with keepHead 2) is fine too.
    assert.equal(
      (
        await decodeDiffusion(lm, {
          terms: [{ context: head, weight: 1, label: 'c' }],
          maxTokens: 4,
          steps: 2,
          projection: { kind: 'sample', topP: 0 },
          seed: 1,
          slide: { keepHead: 2 },
        })
      ).tokens.length,
      4,
    );
    await assert.rejects(
      decodeDiffusion(lm, {
        terms: [{ context: new Int32Array(0), weight: 1, label: 'c' }],
        maxTokens: 4,
        steps: 2,
        projection: { kind: 'sample', topP: 0 },
        seed: 1,
        slide: { keepHead: 1 },
      }),
      /empty/,
    );
  });

  it('minTokens keeps EOS from ending a run before that many new tokens; EOS still ends it afterwards', async () => {
    const EOS = 1;
    // The model prefers EOS everywhere, then 7.
    const lm = () =>
      new FakeDiffusionLM(V, B, 5, 100, false, 256, (c, noisy) => {
        const out = prefers(7, V, B)(c, noisy);
        for (let i = 0; i < B; i++) out[i * V + EOS]! += 20;
        return out;
      });
    const base = {
      terms: [{ context: Int32Array.of(3), weight: 1, label: 'c' }],
      maxTokens: 16,
      steps: 3,
      projection: { kind: 'sample' as const, topP: 0 },
      seed: 0,
      eos: EOS,
    };
    const none = await decodeDiffusion(lm(), base);
    assert.deepEqual(none.tokens, []);
    assert.equal(none.stoppedBy, 'eos');
    for (const minTokens of [1, 4, 6]) {
      const r = await decodeDiffusion(lm(), { ...base, minTokens });
      assert.deepEqual(r.tokens, Array(minTokens).fill(7), `minTokens ${minTokens}`);
      assert.equal(r.stoppedBy, 'eos', 'EOS ends the run right after the minimum');
    }
    const all = await decodeDiffusion(lm(), { ...base, minTokens: 16 });
    assert.deepEqual(all.tokens, Array(16).fill(7));
    assert.equal(all.stoppedBy, 'max-tokens');
    await assert.rejects(decodeDiffusion(lm(), { ...base, minTokens: -1 }), EngineInputError);
    await assert.rejects(decodeDiffusion(lm(), { ...base, minTokens: 1.5 }), EngineInputError);
  });

  it('rejects bad settings and contexts that do not fit', async () => {
    const lm = new FakeDiffusionLM(V, B, 5, 100, false, 10);
    const base = {
      terms: [{ context: Int32Array.of(1), weight: 1, label: 'c' }],
      maxTokens: 4,
      steps: 10,
      projection: { kind: 'sample' as const, topP: 0.9 },
      seed: 0,
    };
    await assert.rejects(decodeDiffusion(lm, { ...base, steps: 101 }), EngineInputError);
    await assert.rejects(decodeDiffusion(lm, { ...base, rewrite: { tokens: Int32Array.of(1), strength: 0 } }), /edit strength/);
    await assert.rejects(decodeDiffusion(lm, { ...base, terms: [{ context: new Int32Array(8), weight: 1, label: 'c' }] }), ContextTooLongError);
    await assert.rejects(decodeDiffusion(lm, { ...base, guidance: [{ classifier: new FakeClassifier(1), label: 5, lambda: 1 }] }), /not a label/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collaborationRecipe, decodeRecipe } from '../../../src/engine/autoregressive';
import { collaborationTerms, decodeDiffusion, type DiffusionOptions } from '../../../src/engine/diffusion/decode';
import { EngineInputError } from '../../../src/engine/errors';
import type { ContextState } from '../../../src/engine/models';
import { FakeDiffusionLM } from '../../helpers/fakeDiffusion';
import { FakeLM } from '../../helpers/fakeLm';

const V = 12;
const B = 2;

/** Logits that depend on the context, the noisy input and the step, with clear but context-specific preferences. */
const hashy =
  (salt: number) =>
  (c: Int32Array, noisy: Float32Array, tFrac: number): Float32Array => {
    const h = c.reduce((s, x, i) => s * 31 + x * (i + 3), salt);
    return Float32Array.from(noisy, (x, i) => 0.3 * x + 2 * Math.sin(h * 0.01 + (i % V) * 1.7 + tFrac));
  };

/** Records each call's self-conditioning input and output (copies). */
class RecordingLM extends FakeDiffusionLM {
  seen: { selfCond: Float32Array | undefined; out: Float32Array }[] = [];
  override async denoise(ctx: ContextState, noisy: Float32Array, selfCond: Float32Array | undefined, tFrac: number): Promise<Float32Array> {
    const out = await super.denoise(ctx, noisy, selfCond, tFrac);
    this.seen.push({ selfCond: selfCond && Float32Array.from(selfCond), out: Float32Array.from(out) });
    return out;
  }
}

const core = () => new RecordingLM(V, B, 5, 100, true, 64, hashy(1));
const user = () => new RecordingLM(V, B, 5, 100, true, 64, hashy(2));
const CORE_CTX = Int32Array.of(1, 4, 5);
const WITH_K = Int32Array.of(1, 9, 9, 8, 4, 5);
const WITHOUT_K = Int32Array.of(1, 4, 5);

function options(terms: DiffusionOptions['terms'], steps: { tokens: number[] }[] = []): DiffusionOptions {
  return {
    terms,
    maxTokens: 6,
    steps: 8,
    // Top-p sampling: the projection draws from the seeded generator, so equal runs must draw alike.
    projection: { kind: 'sample', topP: 0.9 },
    seed: 7,
    selfCondition: 'combined',
    onStep: (s) => steps.push({ tokens: [...s.tokens] }),
  };
}

describe('SSD-2 collaboration (engine)', () => {
  it('collaborationTerms: weights (1−λ), λ(1+α), −λα, which sum to 1; knobs are checked', () => {
    const c = core();
    const u = user();
    const terms = collaborationTerms(
      { lm: c, context: CORE_CTX },
      { lm: u, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K },
      { lambdaUser: 0.3, alpha: 1 },
    );
    assert.deepEqual(
      terms.map((t) => [t.label, t.lm === c ? 'core' : 'user', t.weight]),
      [
        ['core', 'core', 0.7],
        ['user with knowledge', 'user', 0.6],
        ['user without knowledge', 'user', -0.3],
      ],
    );
    assert.ok(Math.abs(terms.reduce((s, t) => s + t.weight, 0) - 1) < 1e-12);
    for (const bad of [
      { lambdaUser: -0.1, alpha: 1 },
      { lambdaUser: 1.1, alpha: 1 },
      { lambdaUser: Number.NaN, alpha: 1 },
      { lambdaUser: 0.2, alpha: -1 },
    ])
      assert.throws(
        () => collaborationTerms({ lm: c, context: CORE_CTX }, { lm: u, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, bad),
        EngineInputError,
      );
  });

  it('λ_user = 0 is exactly the core alone (every step, the output); the user model is not run', async () => {
    const c1 = core();
    const alone: { tokens: number[] }[] = [];
    const r1 = await decodeDiffusion(c1, options([{ context: CORE_CTX, weight: 1, label: 'core' }], alone));
    const c2 = core();
    const u2 = user();
    const collab: { tokens: number[] }[] = [];
    const r2 = await decodeDiffusion(
      c2,
      options(
        collaborationTerms({ lm: c2, context: CORE_CTX }, { lm: u2, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, { lambdaUser: 0, alpha: 1 }),
        collab,
      ),
    );
    assert.deepEqual(r2, r1);
    assert.deepEqual(collab, alone);
    assert.equal(u2.calls.length, 0);
    // Bit for bit: the same self-conditioning inputs and outputs at every step.
    assert.deepEqual(c2.seen, c1.seen);
  });

  it('λ_user = 1, α = 0 is exactly the user (with knowledge) alone; the core model is not run', async () => {
    const u1 = user();
    const alone: { tokens: number[] }[] = [];
    const r1 = await decodeDiffusion(u1, options([{ context: WITH_K, weight: 1, label: 'user' }], alone));
    const c2 = core();
    const u2 = user();
    const collab: { tokens: number[] }[] = [];
    const r2 = await decodeDiffusion(
      c2,
      options(
        collaborationTerms({ lm: c2, context: CORE_CTX }, { lm: u2, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, { lambdaUser: 1, alpha: 0 }),
        collab,
      ),
    );
    assert.deepEqual(r2, r1);
    assert.deepEqual(collab, alone);
    assert.equal(c2.calls.length, 0);
    assert.deepEqual(u2.seen, u1.seen);
  });

  it('each model runs its own rows as one batch; every model reads the combined logits as self-conditioning', async () => {
    const c = core();
    const u = user();
    const lambdaUser = 0.3;
    const alpha = 1;
    await decodeDiffusion(
      c,
      options(collaborationTerms({ lm: c, context: CORE_CTX }, { lm: u, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, { lambdaUser, alpha })),
    );
    assert.equal(c.calls.length, 3 * 8);
    assert.equal(u.calls.length, 3 * 8);
    assert.deepEqual(c.calls[0]!.contextLengths, [3]);
    assert.deepEqual(u.calls[0]!.contextLengths, [6, 3]);
    // The block's released tokens reach every context.
    assert.deepEqual(c.calls[8]!.contextLengths, [5]);
    assert.deepEqual(u.calls[8]!.contextLengths, [8, 5]);
    const n = B * V;
    for (let step = 0; step < 8; step++) {
      const co = c.seen[step]!.out;
      const uo = u.seen[step]!.out;
      const combined = new Float32Array(n);
      for (let i = 0; i < n; i++) combined[i]! += (1 - lambdaUser) * co[i]!;
      for (let i = 0; i < n; i++) combined[i]! += lambdaUser * (1 + alpha) * uo[i]!;
      for (let i = 0; i < n; i++) combined[i]! += -lambdaUser * alpha * uo[n + i]!;
      if (step === 0) {
        assert.ok(
          c.seen[0]!.selfCond!.every((x) => x === 0),
          'zeros at the first step',
        );
        assert.ok(u.seen[0]!.selfCond!.every((x) => x === 0));
      }
      if (step < 7) {
        assert.deepEqual(c.seen[step + 1]!.selfCond, combined, `core self-conditioning at step ${step + 1}`);
        assert.deepEqual(u.seen[step + 1]!.selfCond!.subarray(0, n), combined);
        assert.deepEqual(u.seen[step + 1]!.selfCond!.subarray(n), combined);
      }
    }
  });

  it('the combination follows the formula: the knowledge wins from λ_user large enough, the contrast cancels the user prior', async () => {
    // core prefers 3; the user prefers 7 when its context holds the knowledge token 9, otherwise 3 (like the core).
    const pref = (tok: number) => (_c: Int32Array, noisy: Float32Array) => {
      const out = Float32Array.from(noisy, (x) => x * 0.01);
      for (let i = 0; i < B; i++) out[i * V + tok]! += 10;
      return out;
    };
    const c = new FakeDiffusionLM(V, B, 5, 100, true, 64, pref(3));
    const u = new FakeDiffusionLM(V, B, 5, 100, true, 64, (ctx, noisy) => pref(ctx.includes(9) ? 7 : 3)(ctx, noisy));
    const run = async (lambdaUser: number, alpha: number) =>
      (
        await decodeDiffusion(c, {
          ...options(collaborationTerms({ lm: c, context: CORE_CTX }, { lm: u, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, { lambdaUser, alpha })),
          projection: { kind: 'sample', topP: 0 },
        })
      ).tokens;
    // token 3: 10(1−λ) − 10λα; token 7: 10λ(1+α).
    assert.deepEqual(await run(0.1, 1), [3, 3, 3, 3, 3, 3]);
    assert.deepEqual(await run(0.3, 1), [7, 7, 7, 7, 7, 7]);
    assert.deepEqual(await run(0.3, 0), [3, 3, 3, 3, 3, 3]);
    assert.deepEqual(await run(0.6, 0), [7, 7, 7, 7, 7, 7]);
  });

  it('identical models and contexts: the weights sum to 1, so the output is the single model’s', async () => {
    const single = await decodeDiffusion(core(), { ...options([{ context: CORE_CTX, weight: 1, label: 'c' }]), projection: { kind: 'sample', topP: 0 } });
    const a = core();
    const b = core();
    const collab = await decodeDiffusion(a, {
      ...options(
        collaborationTerms({ lm: a, context: CORE_CTX }, { lm: b, withKnowledge: CORE_CTX, withoutKnowledge: CORE_CTX }, { lambdaUser: 0.3, alpha: 1 }),
      ),
      projection: { kind: 'sample', topP: 0 },
    });
    assert.deepEqual(collab.tokens, single.tokens);
  });

  it('refuses models that do not share vocabulary, block size and K, and checks each model’s window', async () => {
    const c = core();
    const other = new FakeDiffusionLM(V + 1, B, 5, 100, true, 64);
    await assert.rejects(
      decodeDiffusion(
        c,
        options(
          collaborationTerms({ lm: c, context: CORE_CTX }, { lm: other, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, { lambdaUser: 0.3, alpha: 1 }),
        ),
      ),
      /does not share the vocabulary/,
    );
    const small = new FakeDiffusionLM(V, B, 5, 100, true, 10);
    await assert.rejects(
      decodeDiffusion(
        c,
        options(
          collaborationTerms({ lm: c, context: CORE_CTX }, { lm: small, withKnowledge: WITH_K, withoutKnowledge: WITHOUT_K }, { lambdaUser: 0.3, alpha: 1 }),
        ),
      ),
      /user with knowledge context \(6 tokens\) plus 6 new tokens/,
    );
  });
});

describe('SSD-2 collaboration, autoregressive baseline', () => {
  const lm = () => new FakeLM(16, 64, 1);
  const coreP = Int32Array.of(2, 5, 6);
  const withK = Int32Array.of(2, 11, 12, 13, 5, 6);
  const withoutK = Int32Array.of(2, 5, 6);
  const run = (terms: ReturnType<typeof collaborationRecipe>, m = lm()) =>
    decodeRecipe(m, { terms, decoding: { mode: 'sample', temperature: 1, topP: 0.9 }, maxTokens: 8, seed: 3, stopTokens: [1] });

  it('λ_user = 0 is the core prompt alone; λ_user = 1, α = 0 the user prompt with knowledge alone', async () => {
    const coreAlone = await run([{ prompt: coreP, weight: 1, label: 'core' }]);
    const userAlone = await run([{ prompt: withK, weight: 1, label: 'user' }]);
    const c0 = await run(collaborationRecipe(coreP, withK, withoutK, { lambdaUser: 0, alpha: 1 }));
    const u1 = await run(collaborationRecipe(coreP, withK, withoutK, { lambdaUser: 1, alpha: 0 }));
    assert.deepEqual(
      c0.tokens.map((t) => [t.id, t.combinedLogProb]),
      coreAlone.tokens.map((t) => [t.id, t.combinedLogProb]),
    );
    assert.deepEqual(
      u1.tokens.map((t) => [t.id, t.combinedLogProb]),
      userAlone.tokens.map((t) => [t.id, t.combinedLogProb]),
    );
  });

  it('mixes the three rows with the SSD-2 weights as one batch', async () => {
    const terms = collaborationRecipe(coreP, withK, withoutK, { lambdaUser: 0.2, alpha: 1 });
    assert.deepEqual(
      terms.map((t) => t.weight),
      [0.8, 0.4, -0.2],
    );
    const m = lm();
    await run(terms, m);
    assert.deepEqual(m.calls.rowsSeen, [3]);
    assert.throws(() => collaborationRecipe(coreP, withK, withoutK, { lambdaUser: 2, alpha: 1 }), EngineInputError);
  });
});

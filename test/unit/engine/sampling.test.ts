import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError, ContextTooLongError, EngineInputError } from '../../../src/engine/errors';
import { pickToken, type Decoding } from '../../../src/engine/logits';
import { Rng } from '../../../src/engine/random';
import { maskLogits, pickAllowed, sampleRows, type RowConstraint } from '../../../src/engine/sampling';
import { FakeLM } from '../../helpers/fakeLm';

const DECODINGS: Decoding[] = [
  { mode: 'greedy' },
  { mode: 'sample', temperature: 1, topP: 1 },
  { mode: 'sample', temperature: 0.7, topP: 0.9 },
  { mode: 'sample', temperature: 1.3, topP: 1, topK: 3 },
  { mode: 'sample', temperature: 1, topP: 0.5, topK: 5 },
];

/** Deterministic pseudo-random numbers for the test cases themselves. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A toy grammar over ids 2…15 of FakeLM's vocabulary of 16: tokens alternate even, odd, even …; a row is complete
 * after `length` tokens; closing = the alternation continued with the smallest ids (2 and 3).
 */
class Alternation implements RowConstraint {
  readonly taken: number[] = [];
  private readonly mask = new Uint8Array(16);
  constructor(private readonly length: number) {}
  allowedTokens(): Uint8Array {
    const parity = this.taken.length % 2;
    for (let id = 0; id < 16; id++) this.mask[id] = id >= 2 && id % 2 === parity ? 1 : 0;
    return this.mask;
  }
  accept(id: number): void {
    assert.equal(this.allowedTokens()[id], 1, `token ${id} was not allowed`);
    this.taken.push(id);
  }
  isComplete(): boolean {
    return this.taken.length >= this.length;
  }
  closingTokens(): number[] {
    return Array.from({ length: this.length - this.taken.length }, (_, i) => 2 + ((this.taken.length + i) % 2));
  }
}

describe('pickAllowed: the masked decoding', () => {
  it('never picks a refused token, whatever the logits, mask and decoding', () => {
    const rand = lcg(1);
    for (let c = 0; c < 600; c++) {
      const v = 2 + Math.floor(rand() * 300);
      const logits = Float32Array.from({ length: v }, () => (rand() - 0.5) * 20);
      const mask = Uint8Array.from({ length: v }, () => (rand() < 0.1 ? 1 : 0));
      mask[Math.floor(rand() * v)] = 1;
      // The refused tokens get the largest logits, so an unmasked pick would almost always take one.
      for (let i = 0; i < v; i++) if (!mask[i]) logits[i] = 100 + rand();
      const id = pickAllowed(logits, mask, DECODINGS[c % DECODINGS.length]!, new Rng(c, 0));
      assert.equal(mask[id], 1, `case ${c}: picked refused token ${id}`);
    }
  });

  it('is the decoding of the logits with refused tokens at −∞ (same draw, same token)', () => {
    const rand = lcg(2);
    let compared = 0;
    for (let c = 0; c < 400; c++) {
      const v = 3 + Math.floor(rand() * 80);
      const logits = Float32Array.from({ length: v }, () => (rand() - 0.5) * 8);
      const mask = Uint8Array.from({ length: v }, () => (rand() < 0.4 ? 1 : 0));
      mask[0] = 1;
      mask[v - 1] = 1;
      const d = DECODINGS[c % DECODINGS.length]!;
      assert.equal(pickAllowed(logits, mask, d, new Rng(c, 3)), pickToken(maskLogits(logits, mask), d, new Rng(c, 3)), `case ${c}`);
      compared++;
    }
    assert.equal(compared, 400);
  });

  it('takes a single allowed token without a draw, and refuses an empty mask', () => {
    const rng = new Rng(9, 0);
    assert.equal(pickAllowed(Float32Array.of(5, 1, 9), Uint8Array.of(0, 1, 0), { mode: 'sample', temperature: 1, topP: 1 }, rng), 1);
    assert.equal(rng.next(), new Rng(9, 0).next());
    assert.throws(() => pickAllowed(Float32Array.of(1, 2), Uint8Array.of(0, 0), { mode: 'greedy' }, rng), EngineInputError);
  });

  it('greedy takes the best allowed token, ties to the lower id', () => {
    assert.equal(pickAllowed(Float32Array.of(9, 3, 7, 7, 8), Uint8Array.of(0, 1, 1, 1, 0), { mode: 'greedy' }, new Rng(0)), 2);
  });
});

describe('sampleRows: N samples in one batch', () => {
  const prompt = Int32Array.of(0, 4, 5);
  const sample: Decoding = { mode: 'sample', temperature: 1, topP: 0.9, topK: 8 };

  it('runs N rows as one batch; every constrained row follows its grammar and completes', async () => {
    const lm = new FakeLM();
    const grammars: Alternation[] = [];
    const r = await sampleRows(lm, {
      prompt,
      samples: 4,
      decoding: sample,
      maxTokens: 20,
      seed: 3,
      stopTokens: [1],
      padToken: 0,
      constraint: () => {
        const g = new Alternation(6);
        grammars.push(g);
        return g;
      },
    });
    assert.deepEqual(lm.calls.rowsSeen, [4]);
    assert.equal(lm.calls.prefill, 1);
    for (const [i, row] of r.rows.entries()) {
      assert.equal(row.stoppedBy, 'complete');
      assert.equal(row.tokens.length, 6);
      assert.deepEqual(row.closing, []);
      assert.deepEqual(row.tokens, grammars[i]!.taken);
      row.tokens.forEach((t, k) => assert.equal(t % 2, k % 2));
    }
    assert.equal(r.steps, 6);
    assert.equal(lm.calls.extend, 5);
  });

  it('sample r of a seed does not depend on N, and seeds differ', async () => {
    const run = async (samples: number, seed: number) =>
      (await sampleRows(new FakeLM(), { prompt, samples, decoding: sample, maxTokens: 10, seed, stopTokens: [], padToken: 0 })).rows.map((x) => x.tokens);
    const four = await run(4, 11);
    const two = await run(2, 11);
    assert.deepEqual(two, four.slice(0, 2));
    assert.notDeepEqual(four[0], four[1]);
    assert.notDeepEqual(await run(1, 12), four.slice(0, 1));
  });

  it('closes a row at the budget with the constraint’s closing tokens', async () => {
    const r = await sampleRows(new FakeLM(), {
      prompt,
      samples: 2,
      decoding: { mode: 'greedy' },
      maxTokens: 3,
      seed: 0,
      stopTokens: [],
      padToken: 0,
      constraint: () => new Alternation(7),
    });
    for (const row of r.rows) {
      assert.equal(row.stoppedBy, 'max-tokens');
      assert.equal(row.tokens.length, 3);
      assert.deepEqual(row.closing, [3, 2, 3, 2]);
    }
  });

  it('a budget of 0 closes at once without running the model', async () => {
    const lm = new FakeLM();
    const r = await sampleRows(lm, {
      prompt,
      samples: 1,
      decoding: sample,
      maxTokens: 0,
      seed: 0,
      stopTokens: [],
      padToken: 0,
      constraint: () => new Alternation(2),
    });
    assert.deepEqual(r.rows[0], { tokens: [], closing: [2, 3], stoppedBy: 'max-tokens' });
    assert.equal(lm.calls.prefill, 0);
  });

  it('ends unconstrained rows at a stop token and feeds ended rows the pad token', async () => {
    // Token 1 (the stop) is best after any sequence that ends in 7; otherwise 7 is best.
    const lm = new FakeLM(16, 64, 1, (seq, v) => (seq[seq.length - 1] === 7 ? (v === 1 ? 5 : 0) : v === 7 ? 5 : 0));
    const seen: number[][] = [];
    const inner = lm.extend.bind(lm);
    lm.extend = async (s, t) => {
      seen.push([...t]);
      return inner(s, t);
    };
    const r = await sampleRows(lm, { prompt, samples: 2, decoding: { mode: 'greedy' }, maxTokens: 5, seed: 0, stopTokens: [1], padToken: 15 });
    for (const row of r.rows) assert.deepEqual(row, { tokens: [7], closing: [], stoppedBy: 'stop-token' });
    assert.deepEqual(seen, [[7, 7]]);
  });

  it('reports tokens and steps, and cancels between steps with the rows so far', async () => {
    const ac = new AbortController();
    const tokens: [number, number, number][] = [];
    await assert.rejects(
      sampleRows(new FakeLM(), {
        prompt,
        samples: 2,
        decoding: sample,
        maxTokens: 30,
        seed: 1,
        stopTokens: [],
        padToken: 0,
        signal: ac.signal,
        onToken: (row, id, index) => tokens.push([row, id, index]),
        onStep: (step) => {
          if (step === 3) ac.abort();
        },
      }),
      (e: unknown) => {
        assert.ok(e instanceof CancelledError);
        const partial = e.partial as { rows: { tokens: number[] }[]; steps: number };
        assert.equal(partial.steps, 3);
        assert.deepEqual(
          partial.rows.map((x) => x.tokens.length),
          [3, 3],
        );
        return true;
      },
    );
    assert.deepEqual(
      tokens.map(([row, , index]) => [row, index]),
      [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
        [0, 2],
        [1, 2],
      ],
    );
  });

  it('checks its arguments and the context', async () => {
    const base = { prompt, samples: 1, decoding: sample, maxTokens: 4, seed: 0, stopTokens: [], padToken: 0 };
    await assert.rejects(sampleRows(new FakeLM(), { ...base, samples: 0 }), EngineInputError);
    await assert.rejects(sampleRows(new FakeLM(), { ...base, maxTokens: -1 }), EngineInputError);
    await assert.rejects(sampleRows(new FakeLM(), { ...base, prompt: new Int32Array(0) }), EngineInputError);
    await assert.rejects(sampleRows(new FakeLM(), { ...base, decoding: { mode: 'sample', temperature: 0, topP: 1 } }), EngineInputError);
    await assert.rejects(sampleRows(new FakeLM(16, 6), base), ContextTooLongError);
  });
});

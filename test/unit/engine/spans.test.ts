import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FINISH_WORD_TOKENS, decodeCad } from '../../../src/engine/cad';
import { EngineInputError } from '../../../src/engine/errors';
import type { Decoding } from '../../../src/engine/logits';
import { SpanConstraint, quoteStarts, sentenceSpans, wordBoundaries, wordStarts, type SpanSource } from '../../../src/engine/spans';
import { FakeLM } from '../../helpers/fakeLm';

const ids = (...x: number[]) => Int32Array.from(x);
/** Every position a boundary (each token a word). */
const words = (...t: number[]): SpanSource => ({ tokens: ids(...t), boundaries: new Uint8Array(t.length + 1).fill(1) });
const STOP = 1;
const allowedOf = (c: SpanConstraint, vocab = 16) => [...c.mask(new Float32Array(vocab))].flatMap((v, i) => (v === -Infinity ? [] : [i]));

/** Is `gen` a contiguous run of `src` starting and ending at boundaries? */
const isSpanOf = (gen: readonly number[], s: SpanSource) => {
  for (let i = 0; i + gen.length <= s.tokens.length; i++)
    if (s.boundaries[i] && s.boundaries[i + gen.length] && gen.every((t, k) => s.tokens[i + k] === t)) return true;
  return false;
};

describe('extractive answers: span constraint', () => {
  it('first step: every token that starts a word of the document, and no stop', () => {
    const c = new SpanConstraint([{ tokens: ids(4, 5, 6, 7), boundaries: Uint8Array.from([1, 0, 1, 1, 1]) }], [STOP]);
    assert.deepEqual(allowedOf(c), [4, 6, 7]);
    assert.equal(c.mayStop(), false);
  });

  it('then only the tokens that continue a matching span; stop only at a word boundary', () => {
    // tokens 4 5 | 6 | 4 8 (4+5 and 4+8 are two-piece words)
    const c = new SpanConstraint([{ tokens: ids(4, 5, 6, 4, 8), boundaries: Uint8Array.from([1, 0, 1, 1, 0, 1]) }], [STOP]);
    c.advance(4);
    assert.deepEqual(allowedOf(c), [5, 8], 'both continuations of 4, no stop mid-word');
    c.advance(8);
    assert.equal(c.mayStop(), true);
    assert.deepEqual(allowedOf(c), [STOP], 'the document ends: only stopping is left');
  });

  it('spans never cross two sources, and a token that continues no span is refused', () => {
    const c = new SpanConstraint([words(4, 5), words(6, 7)], [STOP]);
    c.advance(5);
    assert.deepEqual(allowedOf(c), [STOP], '5 ends its source; 6 is the next source, not a continuation');
    const d = new SpanConstraint([words(4, 5)], [STOP]);
    assert.throws(() => d.advance(9), EngineInputError);
    assert.throws(() => new SpanConstraint([{ tokens: ids(4), boundaries: new Uint8Array(1) }], [STOP]), EngineInputError);
    assert.throws(() => new SpanConstraint([words()], [STOP]), /at least one word/);
  });

  it('a quote opens on a word, not on punctuation (start flags)', () => {
    const pieces = [' Paris', '.', ' It', ' rains'];
    const boundaries = wordBoundaries(pieces);
    assert.deepEqual([...wordStarts(pieces, boundaries)], [1, 0, 1, 1]);
    const c = new SpanConstraint([{ tokens: ids(4, 5, 6, 7), boundaries, starts: wordStarts(pieces, boundaries) }], [STOP]);
    assert.deepEqual(allowedOf(c), [4, 6, 7]);
    c.advance(4);
    assert.deepEqual(allowedOf(c), [STOP, 5], 'the full stop may follow the word, or the quote ends');
    assert.throws(() => new SpanConstraint([{ tokens: ids(4), boundaries: Uint8Array.from([1, 1]), starts: new Uint8Array(3) }], [STOP]), /start flags/);
    // Tokenizers that split numbers into digits after a lone space (" 62" = " " "6" "2"): the quote may open on the space.
    const digits = [' Size', ' -', ' ', '6', '2', ' sing', 'ers'];
    assert.deepEqual([...wordStarts(digits, wordBoundaries(digits))], [1, 0, 1, 1, 0, 1, 0]);
    assert.deepEqual([...sentenceSpans([' ', '2', '3', ' May', '.', ' ', '4', ' x']).starts], [1, 1, 0, 0, 0, 1, 1, 0]);
  });

  it('whole sentences: a quote opens where a sentence does and ends only after its full stop', () => {
    // " Snow fell." " Roads" " closed" "!" " the" " end"
    const pieces = [' Snow', ' fell', '.', ' Roads', ' closed', '!', ' the', ' end'];
    const { starts, ends } = sentenceSpans(pieces);
    assert.deepEqual([...starts], [1, 0, 0, 1, 0, 0, 0, 0], 'sentences open at the start and after "."; " the" after "!" is lower case');
    assert.deepEqual([...ends], [0, 0, 0, 1, 0, 0, 1, 0, 1]);
    const c = new SpanConstraint([{ tokens: ids(4, 5, 6, 7, 8, 9, 10, 11), boundaries: wordBoundaries(pieces), starts, ends }], [STOP]);
    assert.deepEqual(allowedOf(c), [4, 7]);
    c.advance(7);
    c.advance(8);
    assert.deepEqual(allowedOf(c), [9], 'no stop before the "!"');
    c.advance(9);
    assert.deepEqual(allowedOf(c), [STOP, 10], 'after it: stop, or go on into the next sentence');
    assert.deepEqual([...sentenceSpans(['lower', ' case', '.']).starts], [1, 0, 0], 'a paragraph always opens a sentence');
    assert.deepEqual([...sentenceSpans([' “Yes', '.”', ' (Then', ' x']).starts], [1, 0, 1, 0], 'quotes and brackets close and open sentences');
    assert.deepEqual([...sentenceSpans([' -', ' **', 'summaries', '**', ' work', '.', ' ```']).starts], [0, 0, 1, 0, 0, 0, 0], 'markup before the first word');
    assert.deepEqual([...sentenceSpans([' ```', 'sh', ' npm', ' ci']).starts], [0, 1, 0, 0]);
    // A first word whose character is split over byte tokens ("α" = "\uFFFD" + "α"): the quote opens at its first
    // token (a boundary), not at the second (mid-word), so a paragraph of lower-case words still has a start.
    const split = sentenceSpans(['\uFFFD', 'α', ' npx', ' concert', ' generate']);
    assert.deepEqual([...split.starts], [1, 0, 0, 0, 0]);
    assert.deepEqual(quoteStarts([{ tokens: Int32Array.of(1, 2, 3, 4, 5), boundaries: Uint8Array.of(0, 0, 1, 1, 1, 1), ...split }]), [0]);
    const file = sentenceSpans([' See', ' export', '.', 'py', ' now', '.']);
    assert.deepEqual([...file.ends], [0, 0, 0, 0, 0, 0, 1], 'the full stop of a file name ends nothing');
    assert.throws(() => new SpanConstraint([{ tokens: ids(4), boundaries: Uint8Array.from([1, 1]), ends: new Uint8Array(1) }], [STOP]), /end flags/);
  });

  it('word boundaries from token texts: spaces and punctuation separate, word pieces do not', () => {
    assert.deepEqual([...wordBoundaries([' Bram', 'worth', ' is', ',', ' x'])], [1, 0, 1, 1, 1, 1]);
    assert.deepEqual([...wordBoundaries(['Zü', 'rich', '.'])], [1, 0, 1, 1]);
    // A character split over byte pieces: the incomplete piece decodes as '' and never opens a boundary.
    assert.deepEqual([...wordBoundaries([' a', '', 'b'])], [1, 0, 0, 1]);
  });

  it('CAD with the constraint: every answer is a span of the document, for any α, β, decoding and seed', async () => {
    const doc: SpanSource = { tokens: ids(4, 9, 6, 4, 12, 6, 13), boundaries: Uint8Array.from([1, 1, 0, 1, 1, 0, 1, 1]) };
    const decodings: Decoding[] = [{ mode: 'greedy' }, { mode: 'sample', temperature: 1, topP: 0.9 }, { mode: 'sample', temperature: 2, topP: 1 }];
    let stoppedEarly = 0;
    for (const decoding of decodings)
      for (const alpha of [0, 1, 3])
        for (const plausibility of [0, 0.1, 1])
          for (const seed of [1, 2, 3, 4, 5]) {
            const span = new SpanConstraint([doc], [STOP]);
            const r = await decodeCad(new FakeLM(), {
              withContext: ids(2, 4, 9, 6, 3),
              withoutContext: ids(2, 3),
              alpha,
              plausibility,
              span,
              decoding,
              seed,
              maxTokens: 12,
              stopTokens: [STOP],
            });
            const gen = r.tokens.map((t) => t.id);
            assert.ok(gen.length >= 1);
            if (r.stoppedBy === 'stop-token') {
              stoppedEarly++;
              assert.ok(isSpanOf(gen, doc), `${gen} is not a whole-word span of the document`);
            } else assert.ok(gen.every((t) => doc.tokens.includes(t)));
          }
    assert.ok(stoppedEarly > 0, 'the document is 7 tokens long: most answers end before 12');
  });

  it('a quote cut by the token budget finishes its word, within a bounded number of extra tokens and the context', async () => {
    // One word of `n` pieces (4, 5, 6, …) then the word 30; the model prefers the lowest token it may take, and stopping least.
    const longWord = (n: number): SpanSource => {
      const tokens = ids(...Array.from({ length: n }, (_, i) => 4 + i), 30);
      const boundaries = new Uint8Array(n + 2);
      boundaries[0] = boundaries[n] = boundaries[n + 1] = 1;
      return { tokens, boundaries };
    };
    const prefersLow = (_seq: readonly number[], v: number) => (v === STOP ? -99 : -v);
    const answer = async (doc: SpanSource, maxTokens: number, maxContext = 64) => {
      const r = await decodeCad(new FakeLM(32, maxContext, STOP, prefersLow), {
        withContext: ids(2, 3),
        withoutContext: ids(2),
        alpha: 1,
        span: new SpanConstraint([doc], [STOP]),
        decoding: { mode: 'greedy' },
        seed: 1,
        maxTokens,
        stopTokens: [STOP],
      });
      return r.tokens.map((t) => t.id);
    };
    assert.deepEqual(await answer(longWord(4), 2), [4, 5, 6, 7], 'the budget of 2 ends inside the word: it is finished');
    assert.deepEqual(await answer(longWord(4), 5), [4, 5, 6, 7, 30], 'a budget that ends on a boundary is not extended');
    const tooLong = await answer(longWord(20), 2);
    assert.equal(tooLong.length, 2 + FINISH_WORD_TOKENS, 'a word longer than the grace is still cut, after the grace');
    assert.equal((await answer(longWord(20), 2, 2 + 5)).length, 5, 'never past the context (a 2-token prompt in 7)');
    // Quoting whole sentences: the budget finishes the word, not the sentence (that could take far more tokens).
    const sentence = { ...longWord(3), ends: Uint8Array.from([1, 0, 0, 0, 1]) };
    const c = new SpanConstraint([sentence], [STOP]);
    for (const t of [4, 5, 6]) c.advance(t);
    assert.deepEqual([c.atWordEnd(), c.mayStop()], [true, false], 'a word ends after 6; the sentence ends after 30');
    assert.deepEqual(await answer(sentence, 2), [4, 5, 6]);
  });

  it('without the constraint the same fake model leaves the document (the control)', async () => {
    const r = await decodeCad(new FakeLM(), {
      withContext: ids(2, 4, 9, 6, 3),
      withoutContext: ids(2, 3),
      alpha: 1,
      decoding: { mode: 'greedy' },
      seed: 1,
      maxTokens: 12,
      stopTokens: [STOP],
    });
    assert.ok(
      r.tokens.some((t) => ![4, 9, 6, 12, 13].includes(t.id)),
      'a control that never leaves the document would make the test above vacuous',
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkKnowledge, normalizeTerm, retrievePassages, splitSentences, type Passage } from '../../src/runtime/knowledge';

/** One token per word (enough to check the budgets). */
const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
const joined = (ps: readonly Passage[]) => words(ps.map((p) => p.text).join(' '));

const NOTES = {
  id: 'notes.md',
  title: 'notes',
  text: [
    'Project Larkspur ships on the ninth of March.',
    '',
    'The Larkspur team meets in room 4B on Tuesdays. Coffee is provided by Ilse.',
    '',
    'Marta Kovač owns the budget spreadsheet. She updates it every Friday afternoon before five. Questions about the budget go to her, not to the finance desk, because the desk moved to Oslo in January and answers slowly.',
  ].join('\n'),
};
const OTHER = { id: 'zoo.txt', title: 'zoo', text: 'The zoo in Velmar keeps three snow leopards.\n\nIts opening hours are nine to six.' };

describe('knowledge chunking', () => {
  it('keeps paragraphs that fit whole, one line each, in order', () => {
    const ps = chunkKnowledge([NOTES, OTHER], 40, words);
    assert.deepEqual(
      ps.map((p) => [p.itemId, p.index, p.text.slice(0, 24)]),
      [
        ['notes.md', 0, 'Project Larkspur ships o'],
        ['notes.md', 1, 'The Larkspur team meets '],
        ['notes.md', 2, 'Marta Kovač owns the bud'],
        ['zoo.txt', 3, 'The zoo in Velmar keeps '],
        ['zoo.txt', 4, 'Its opening hours are ni'],
      ],
    );
    for (const p of ps) assert.ok(!p.text.includes('\n'));
  });
  it('splits a long paragraph into sentences packed to the budget, and over-long sentences by words', () => {
    const ps = chunkKnowledge([NOTES], 12, words);
    for (const p of ps) assert.ok(p.tokens <= 12, p.text);
    assert.ok(ps.some((p) => p.text === 'Marta Kovač owns the budget spreadsheet.'));
    // Nothing is lost: the passages hold every word, in order.
    assert.equal(ps.map((p) => p.text).join(' '), NOTES.text.replace(/\s+/g, ' '));
    const tiny = chunkKnowledge([{ id: 'x', title: 'x', text: 'a b c d e f g' }], 3, words);
    assert.deepEqual(
      tiny.map((p) => p.text),
      ['a b c', 'd e f', 'g'],
    );
  });
  it('splits sentences after . ! ? and closing quotes', () => {
    assert.deepEqual(splitSentences('One. Two! "Three?" Four 4.5 five'), ['One.', 'Two!', '"Three?"', 'Four 4.5 five']);
  });
  it('normalises terms: lower case, possessives, plurals; stop words dropped', () => {
    assert.equal(normalizeTerm('Larkspur’s'), 'larkspur');
    assert.equal(normalizeTerm('Leopards'), 'leopard');
    assert.equal(normalizeTerm('What'), null);
    assert.equal(normalizeTerm('glass'), 'glass');
  });
});

describe('knowledge retrieval (BM25)', () => {
  const ps = chunkKnowledge([NOTES, OTHER], 40, words);
  it('ranks the passage that answers the instruction first and fills the budget best first', () => {
    const r = retrievePassages(ps, 'When does Larkspur ship?', 100, joined);
    assert.equal(r[0]!.index, 0);
    assert.ok(r[0]!.score > 0);
    assert.ok(r.every((p, i) => i === 0 || p.score <= r[i - 1]!.score));
    const who = retrievePassages(ps, 'Who owns the budget?', 100, joined);
    assert.equal(who[0]!.index, 2);
  });
  it('never exceeds the budget, and skips passages that do not fit for smaller ones that do', () => {
    const r = retrievePassages(ps, 'Larkspur budget leopards', 20, joined);
    assert.ok(joined(r) <= 20);
    assert.ok(r.length >= 2);
    assert.deepEqual(retrievePassages(ps, 'Larkspur', 3, joined), []);
  });
  it('leaves out passages scoring under the given share of the best one, even when they fit', () => {
    // "Larkspur" also matches the two other Larkspur passages, far weaker than the budget's.
    const all = retrievePassages(ps, 'Who owns the Larkspur budget?', 100, joined);
    assert.deepEqual(
      all.map((p) => p.index),
      [2, 0, 1],
    );
    assert.deepEqual(
      retrievePassages(ps, 'Who owns the Larkspur budget?', 100, joined, 0.5).map((p) => p.index),
      [2],
    );
    // Scores within the share are all kept.
    assert.deepEqual(
      retrievePassages(ps, 'Larkspur budget leopards', 100, joined, 0.5).map((p) => p.index),
      [3, 2, 0, 1],
    );
    const none = retrievePassages(ps, 'summarise everything', 20, joined, 0.5);
    assert.deepEqual(
      none.map((p) => p.index),
      [0, 3],
      'with no match every passage scores 0 and document order still fills the budget',
    );
  });
  it('is deterministic, and takes document order when nothing matches', () => {
    const a = retrievePassages(ps, 'opening hours of the zoo', 30, joined);
    const b = retrievePassages(ps, 'opening hours of the zoo', 30, joined);
    assert.deepEqual(a, b);
    const none = retrievePassages(ps, 'summarise everything', 20, joined);
    assert.deepEqual(
      none.map((p) => [p.index, p.score]),
      [
        [0, 0],
        [3, 0],
      ],
    );
  });
});

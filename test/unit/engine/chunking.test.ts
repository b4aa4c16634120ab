import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkText, linePassages } from '../../../src/engine/chunking';

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

describe('chunkText', () => {
  it('keeps a short text whole', () => {
    assert.deepEqual(chunkText('one two three', 10, words), [{ start: 0, end: 13 }]);
  });
  it('prefers paragraph, then sentence boundaries, and covers every word once', () => {
    const text = 'Alpha beta gamma. Delta epsilon.\n\nZeta eta theta iota. Kappa lambda mu nu xi omicron pi.';
    const chunks = chunkText(text, 5, words);
    for (const c of chunks) assert.ok(words(text.slice(c.start, c.end)) <= 5, text.slice(c.start, c.end));
    assert.equal(
      chunks
        .map((c) => text.slice(c.start, c.end))
        .join('')
        .split(/\s+/)
        .filter(Boolean)
        .join(' '),
      text.split(/\s+/).join(' '),
    );
    assert.equal(text.slice(chunks[0]!.start, chunks[0]!.end).trim(), 'Alpha beta gamma. Delta epsilon.');
    assert.equal(text.slice(chunks[1]!.start, chunks[1]!.end).trim(), 'Zeta eta theta iota.');
  });
  it('splits words by characters only when a single word is over budget', () => {
    const chunks = chunkText('abcdefgh', 3, (s) => s.length);
    assert.deepEqual(
      chunks.map((c) => 'abcdefgh'.slice(c.start, c.end)),
      ['abc', 'def', 'gh'],
    );
  });
  it('returns nothing for blank text', () => assert.deepEqual(chunkText('  \n ', 5, words), []));
});

describe('linePassages (retrieval passages of a document of any size)', () => {
  const text = (passages: ReturnType<typeof linePassages>, t: string) => passages.map((p) => t.slice(p.start, p.end).trim());

  it('joins the lines of a paragraph up to the budget; a blank line ends a passage', () => {
    const t = 'one two\nthree four\nfive six seven\n\neight nine\nten\n';
    const got = linePassages(t, 4, words);
    assert.deepEqual(text(got, t), ['one two\nthree four', 'five six seven', 'eight nine\nten']);
    assert.deepEqual(
      got.map((p) => p.tokens),
      [4, 3, 3],
      'the sum of its lines',
    );
  });

  it('cuts a line over the budget at sentences, and covers every word once', () => {
    const t = 'Alpha beta gamma. Delta epsilon zeta. Eta.\nTheta iota.';
    const got = linePassages(t, 3, words);
    for (const p of got) assert.ok(words(t.slice(p.start, p.end)) <= 3, t.slice(p.start, p.end));
    assert.deepEqual(text(got, t).join(' ').split(/\s+/), t.split(/\s+/));
  });

  it('never counts a text of more than a few thousand characters: a 600k-character line and document stay cheap', () => {
    let longest = 0;
    const counting = (s: string) => {
      longest = Math.max(longest, s.length);
      return words(s);
    };
    const line = 'word '.repeat(120_000); // one line, no sentence end
    const got = linePassages(`${line}\n\nlast line here`, 50, counting);
    assert.ok(longest <= 4000, `counted a ${longest}-character text`);
    assert.equal(got.length, Math.ceil(120_000 / 50) + 1);
    assert.equal(line.slice(got[0]!.start, got[0]!.end).trim().split(' ').length, 50);
    const blob = 'x'.repeat(10_000); // no white space at all: cut anywhere
    assert.ok(linePassages(blob, 1, (s) => Math.ceil(s.length / 1000)).every((p) => p.end - p.start <= 1000));
  });

  it('has nothing to return for white space', () => {
    assert.deepEqual(linePassages(' \n\n \n', 5, words), []);
  });
});

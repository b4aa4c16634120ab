import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunkText } from '../../../src/engine/chunking';

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

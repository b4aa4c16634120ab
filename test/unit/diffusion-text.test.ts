/** What the diffusion model reads of the user's text: one line per paragraph, paragraphs rewritten one by one. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelText, splitParagraphs, tailChars, withoutBrokenBytes } from '../../src/worker/diffusionText';

describe('diffusion text', () => {
  it('the model reads text as one line with single spaces (its training text had no line breaks)', () => {
    assert.equal(modelText('  The food\nwas   cold.\r\n\n It was\tlate. '), 'The food was cold. It was late.');
    assert.equal(modelText(' \n '), '');
  });

  it('splits at blank lines and keeps the separators, so joining the parts gives back the trimmed text', () => {
    const text = '\n  First paragraph\nstill first.\n\nSecond.\n \n\n  Third one.  \n';
    const parts = splitParagraphs(text);
    assert.deepEqual(
      parts.map((p) => p.text),
      ['First paragraph\nstill first.', 'Second.', 'Third one.'],
    );
    assert.equal(parts.map((p) => p.text + p.after).join(''), text.trim());
    assert.equal(parts[parts.length - 1]!.after, '');
    assert.deepEqual(splitParagraphs('One line.'), [{ text: 'One line.', after: '' }]);
    assert.deepEqual(splitParagraphs('  '), []);
  });

  it('keeps the end of a long prompt, from a word boundary', () => {
    assert.equal(tailChars('short', 10), 'short');
    assert.equal(tailChars('alpha beta gamma delta', 12), 'gamma delta');
    assert.equal(tailChars('x'.repeat(30), 10), 'x'.repeat(10));
  });

  it('drops the U+FFFD marks of invalid byte-fallback runs, so they never reach a document', () => {
    assert.equal(withoutBrokenBytes('the\uFFFD\uFFFDer Com \uFFFD us'), 'theer Com us');
    assert.equal(withoutBrokenBytes('café ✓'), 'café ✓');
  });
});

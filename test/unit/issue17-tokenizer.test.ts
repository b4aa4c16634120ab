/**
 * Issue #17: long documents (no stack overflow, cancellable, sliced encoding identical to whole), regexes with
 * catastrophic backtracking refused (nested quantifiers, overlapping alternation), deeply nested tokenizer.json.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { regexRisk } from '../../src/runtime/safeRegex';
import { MAX_JSON_DEPTH, PackTokenizer, checkTokenizerJson, jsonDepth, sliceText } from '../../src/runtime/tokenizer';
import { SPECIALS, tinyTokenizerJson } from '../helpers/packs';

const tiny = new PackTokenizer(tinyTokenizerJson(), SPECIALS);
const bundled = new PackTokenizer(readFileSync('test/fixtures/tokenizer/tokenizer.json', 'utf8'), { eos: '</s>' });
const words = ['the', 'cat', 'sat', 'on', 'naïve', 'café', '☕', '日本語', 'x', '</s>', 'a.b', '  ', '\n', '\t', 'end.'];
const longText = (n: number) => Array.from({ length: n }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(' ');

describe('long plain text (#17)', () => {
  it('encodes 600k characters without "Maximum call stack size exceeded"', () => {
    const text = longText(160_000);
    assert.ok(text.length > 450_000);
    const ids = tiny.encodePlain(text);
    assert.ok(ids.length > 100_000);
  });

  it('sliced encoding gives the same ids as whole encoding (tiny ByteLevel and the bundled Replace+BPE tokenizer)', async () => {
    const text = `${longText(6000)}  double  spaces </s><s> and a tail `;
    for (const tok of [tiny, bundled]) {
      assert.equal(tok.sliceable, true);
      assert.deepEqual(await tok.encodePlainAsync(text), tok.encodePlain(text));
    }
  });

  it('slices cut only before a space that follows a non-space, and lose nothing', () => {
    const text = longText(3000);
    const slices = sliceText(text, 1000);
    assert.ok(slices.length > 5);
    assert.equal(slices.join(''), text);
    for (const s of slices.slice(1)) assert.ok(s.startsWith(' '));
  });

  it('a cancel during a long encoding is seen between slices', async () => {
    const text = longText(60_000);
    let asked = 0;
    let cancel = false;
    const t0 = Date.now();
    setTimeout(() => (cancel = true), 50);
    await assert.rejects(
      tiny.encodePlainAsync(
        text,
        () => (asked++, cancel),
        () => new Error('stopped'),
      ),
      /stopped/,
    );
    assert.ok(asked > 1, 'the cancellation check ran between slices');
    assert.ok(Date.now() - t0 < 2000);
  });
});

describe('regexes with catastrophic backtracking (#17)', () => {
  it('refuses overlapping alternation and nested quantifiers, accepts the usual pre-tokenizer regexes', () => {
    for (const bad of ['(a|a)*b', '(a|ab)+', '(\\w|\\d)*', '(.|\\n)*', '(a+)+', '(\\s*)*x', '(x{2,})+', '(?:a|b|a){2,}c']) assert.ok(regexRisk(bad), bad);
    const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
    const llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    for (const good of [gpt2, llama3, '\\s+', '(ab|cd)*', "(?:'s|'t)+", '([a-z]|[0-9])+', '(?:\\r\\n|\\n)+']) assert.equal(regexRisk(good), undefined, good);
  });

  it('pack validation refuses a Split pre-tokenizer (a|a)*b', () => {
    const j = JSON.parse(tinyTokenizerJson());
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Split', pattern: { Regex: '(a|a)*b' }, behavior: 'Isolated', invert: false }, j.pre_tokenizer],
    };
    assert.throws(() => checkTokenizerJson(JSON.stringify(j), {}), /\(a\|a\)\*b.*overlap.*catastrophic backtracking/);
  });
});

describe('deeply nested tokenizer.json (#17)', () => {
  it('says the file is nested too deeply instead of overflowing the stack', () => {
    const deep = `{"model":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    assert.equal(jsonDepth(deep), 200_001);
    assert.throws(
      () => checkTokenizerJson(deep, {}),
      (e: Error) => !(e instanceof RangeError) && /nested too deeply \(200001 levels.*at most 64\)/.test(e.message),
    );
    assert.ok(jsonDepth(tinyTokenizerJson()) <= MAX_JSON_DEPTH);
    assert.equal(jsonDepth('{"a":"[[[[\\"{{{"}'), 1, 'brackets inside strings do not count');
  });
});

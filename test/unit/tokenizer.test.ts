import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { PackTokenizer, checkTokenizerJson, checkVerifiedTokenizerJson } from '../../src/runtime/tokenizer';
import { SPECIALS, tinyTokenizerJson } from '../helpers/packs';

const tok = new PackTokenizer(tinyTokenizerJson(), SPECIALS);

describe('pack tokenizer', () => {
  it('round-trips ordinary text, including non-ASCII', () => {
    for (const s of ['the cat sat', 'naïve café ☕ 日本語', ' leading and trailing  ', 'tabs\tand\r\nnewlines']) {
      assert.equal(tok.decode(tok.encodePlain(s)), s);
    }
  });
  it('document text that contains special-token strings is encoded as plain text', () => {
    const text = 'before </s> middle <s><pad> after</s>';
    const ids = tok.encodePlain(text);
    for (const id of [0, 1, 2]) assert.ok(!ids.includes(id), `special id ${id} leaked`);
    assert.equal(tok.decode(ids), text);
  });
  it('prompt templates can still use control tokens', () => {
    assert.deepEqual(tok.encodeControl('</s>'), [2]);
    assert.deepEqual(tok.encodeControl('<s>the'), [1, ...tok.encodePlain('the')]);
  });
  it('knows its vocabulary size and special ids', () => {
    assert.equal(tok.vocabSize, 262);
    assert.deepEqual(tok.specialIds, { pad: 0, bos: 1, eos: 2 });
  });
});

describe('tokenizer.json checks', () => {
  const base = () => JSON.parse(tinyTokenizerJson());
  it('rejects unsupported model types', () => {
    const j = base();
    j.model.type = 'WordLevel';
    assert.throws(() => checkTokenizerJson(JSON.stringify(j), {}), /model type "WordLevel" is not supported/);
  });
  it('rejects special tokens the tokenizer does not have', () => {
    assert.throws(() => checkTokenizerJson(tinyTokenizerJson(), { sep: '<sep>' }), /special token sep = "<sep>" is not in the tokenizer/);
  });
  it('rejects huge or sparse ids that would blow up allocations', () => {
    const j = base();
    j.added_tokens.push({ id: 900_000, content: '<x>', special: true });
    assert.throws(() => checkTokenizerJson(JSON.stringify(j), {}), /sparse/);
    j.added_tokens[j.added_tokens.length - 1].id = 5_000_000;
    assert.throws(() => checkTokenizerJson(JSON.stringify(j), {}), /not an integer in \[0, 1000000\)/);
  });
  it('rejects nested-quantifier regexes anywhere in the normalizer or pre-tokenizer', () => {
    const j = base();
    j.normalizer = { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '(\\s*)*x' }, content: ' ' }] };
    assert.throws(() => checkTokenizerJson(JSON.stringify(j), {}), /nested quantifiers/);
  });
  it('rejects non-JSON', () => assert.throws(() => checkTokenizerJson('nope', {}), /not valid JSON/));
  it('a verified file is checked once per digest and special tokens; a failure is not kept (#18)', () => {
    const text = tinyTokenizerJson();
    const digest = createHash('sha256').update(text).digest('hex');
    const first = checkVerifiedTokenizerJson(text, digest, SPECIALS);
    assert.deepEqual(first, checkTokenizerJson(text, SPECIALS));
    // The digest stands for the text (the caller has verified it), so the verdict is reused without parsing.
    assert.equal(checkVerifiedTokenizerJson('not even JSON', digest, SPECIALS), first);
    // Other special tokens are another question, and a refusal is given again each time.
    for (let i = 0; i < 2; i++)
      assert.throws(() => checkVerifiedTokenizerJson(text, digest, { ...SPECIALS, sep: '<sep>' }), /special token sep = "<sep>" is not in the tokenizer/);
    const tok = new PackTokenizer(text, SPECIALS, first);
    assert.deepEqual(tok.specialIds, first.specialIds);
  });
});

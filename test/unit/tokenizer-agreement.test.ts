/**
 * The shared tokenizer (tools/tokenizer) must encode identically in Python (ref_tokenizer.py, used to build the
 * training data) and in the runtime (PackTokenizer over @huggingface/tokenizers). The fixture holds held-out test
 * lines, unusual Unicode and lines containing special-token strings, with the Python ids.
 * Regenerate with: /usr/bin/python3 tools/tokenizer/make_fixtures.py
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PackTokenizer, checkTokenizerJson } from '../../src/runtime/tokenizer';

const dir = new URL('../fixtures/tokenizer/', import.meta.url);
const tokenizerText = readFileSync(new URL('tokenizer.json', dir), 'utf8');
const templates = JSON.parse(readFileSync(new URL('../../tools/data/templates.json', import.meta.url), 'utf8')) as {
  special_tokens: string[];
  roles: Record<string, string>;
};
interface Row {
  kind: 'plain' | 'special';
  text: string;
  ids: number[];
}
const rows = readFileSync(new URL('agreement.jsonl', dir), 'utf8')
  .split('\n')
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l) as Row);

const tok = new PackTokenizer(tokenizerText, templates.roles);
const specialIds = new Set(templates.special_tokens.map((_, i) => i));

describe('tokenizer agreement (Python reference vs PackTokenizer)', () => {
  it('passes the static tokenizer.json checks and has the template special tokens at ids 0..N-1', () => {
    const facts = checkTokenizerJson(tokenizerText, templates.roles);
    assert.equal(facts.modelType, 'BPE');
    templates.special_tokens.forEach((s, i) => assert.equal(tok.encodeControl(s)[0], i, s));
    assert.ok(rows.length >= 2000, `fixture has ${rows.length} lines`);
  });

  it('encodePlain gives the Python ids on every plain line', () => {
    let checked = 0;
    const mismatches: string[] = [];
    for (const r of rows) {
      if (r.kind !== 'plain') continue;
      checked++;
      const got = tok.encodePlain(r.text);
      if (JSON.stringify(got) !== JSON.stringify(r.ids)) mismatches.push(JSON.stringify(r.text).slice(0, 80));
    }
    assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} of ${checked} lines differ`);
    assert.ok(checked > 1000);
  });

  it('never produces a special-token id from text that contains special-token strings', () => {
    const lines = rows.filter((r) => r.kind === 'special');
    assert.ok(lines.length >= 5);
    for (const r of lines) {
      const got = tok.encodePlain(r.text);
      for (const id of got) assert.ok(!specialIds.has(id), `${JSON.stringify(r.text)} -> special id ${id}`);
      assert.deepEqual(got, r.ids, JSON.stringify(r.text));
    }
  });

  it('encodeControl turns template markers into control ids', () => {
    const ids = tok.encodeControl('<s><|doc|> A short document.<|question|> Why?<|answer|>');
    assert.equal(ids[0], tok.specialIds.bos);
    assert.equal(ids[1], tok.specialIds.doc);
    const question = tok.specialIds.question;
    assert.ok(question !== undefined && ids.includes(question));
    assert.equal(ids[ids.length - 1], tok.specialIds.answer);
  });

  it('decodes plain text back to the same string (byte fallback included)', () => {
    for (const text of [' Hello world', 'Bonjour 👋🏽 日本語 e\u0301', ' tabs\tand\nnewlines', 'Kabul']) {
      assert.equal(tok.decode(tok.encodePlain(text)), text);
    }
  });
});

/**
 * The "bytes-bpe" token mapping (src/codec/byteBpe.ts): the TypeScript encoder agrees with the training pipeline's
 * (tools/codec/byte_bpe.py, golden file written by `byte_bpe.py --golden`) on every canonical JPEG stream of the
 * fixtures, token bytes spell the streams back, and malformed merges are refused with the merge named.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { byteBpeVocabulary, encodeByteBpe, parseByteMerges } from '../../src/codec/byteBpe';
import { TokenMappingError } from '../../src/codec/jpeg';

const fixtures = join(__dirname, '..', 'fixtures');
const golden = JSON.parse(readFileSync(join(fixtures, 'byte-bpe', 'golden.json'), 'utf8')) as {
  offset: number;
  merges: [number, number][];
  encodings: Record<string, number[]>;
};

describe('bytes + BPE merges', () => {
  const vocabSize = golden.offset + 256 + golden.merges.length;
  const merges = parseByteMerges(golden.merges, golden.offset, vocabSize);
  const vocabulary = byteBpeVocabulary(vocabSize, merges);

  it('encodes every fixture stream exactly as the training pipeline does', () => {
    const names = Object.keys(golden.encodings);
    assert.ok(names.length >= 10);
    for (const name of names) {
      const bytes = readFileSync(join(fixtures, 'jpeg', name));
      assert.deepEqual(Array.from(encodeByteBpe(bytes, merges)), golden.encodings[name], name);
    }
  });

  it('shortens the streams it was learned on, and the tokens spell them back', () => {
    let bytesTotal = 0;
    let tokensTotal = 0;
    for (const [name, ids] of Object.entries(golden.encodings)) {
      const bytes = readFileSync(join(fixtures, 'jpeg', name));
      const spelt = Buffer.concat(ids.map((id) => vocabulary[id]!));
      assert.ok(spelt.equals(bytes), name);
      if (name.includes('-32')) {
        bytesTotal += bytes.length;
        tokensTotal += ids.length;
      }
    }
    assert.ok(tokensTotal < 0.9 * bytesTotal, `${tokensTotal} tokens for ${bytesTotal} bytes`);
  });

  it('knows the bytes of every id, and none for the specials', () => {
    assert.equal(vocabulary.length, vocabSize);
    for (let id = 0; id < golden.offset; id++) assert.equal(vocabulary[id], undefined);
    assert.deepEqual(Array.from(vocabulary[golden.offset + 0xff]!), [0xff]);
    const [a, b] = golden.merges[0]!;
    assert.deepEqual(Array.from(vocabulary[golden.offset + 256]!), [...vocabulary[a]!, ...vocabulary[b]!]);
  });

  it('without merges is the plain byte mapping, and merges nothing that is not adjacent', () => {
    const none = parseByteMerges([], 3, 259);
    assert.deepEqual(Array.from(encodeByteBpe(Uint8Array.of(0, 255, 7), none)), [3, 258, 10]);
    // (a, a) on "aaa": BPE merges left to right, so the first two join and the third stays.
    const aa = parseByteMerges([[3 + 97, 3 + 97]], 3, 260);
    assert.deepEqual(Array.from(encodeByteBpe(Buffer.from('aaa'), aa)), [259, 100]);
    assert.deepEqual(Array.from(encodeByteBpe(Buffer.from('aaaa'), aa)), [259, 259]);
  });

  it('applies the lowest rank first, whatever order the pairs appear in', () => {
    // rank 0: (b, c); rank 1: (a, b). "abc" → a (bc), not (ab) c.
    const m = parseByteMerges(
      [
        [3 + 98, 3 + 99],
        [3 + 97, 3 + 98],
      ],
      3,
      261,
    );
    assert.deepEqual(Array.from(encodeByteBpe(Buffer.from('abc'), m)), [3 + 97, 259]);
    assert.deepEqual(Array.from(encodeByteBpe(Buffer.from('ab'), m)), [260]);
  });

  it('refuses merges it cannot spell or that do not fit the model', () => {
    const refused = (json: unknown, size: number, expected: RegExp) =>
      assert.throws(
        () => parseByteMerges(json, 3, size),
        (e: Error) => e instanceof TokenMappingError && expected.test(e.message),
      );
    refused({}, 300, /must be a JSON array/);
    refused([[3, 4, 5]], 300, /merge 0 must be a \[left, right\] pair/);
    refused([[3, 259]], 300, /merge 0 \(id 259\): right id 259 is neither a byte token nor an earlier merge/);
    refused([[2, 3]], 300, /left id 2 is neither/);
    refused([[3, 3.5]], 300, /right id 3.5/);
    refused([[3, 4]], 259, /need a vocabulary of 260; the model has 259/);
  });
});

/**
 * The samples of a codec-lm run without ONNX (issue #14): src/runtime/imageSamples.ts driven by the engine's
 * `sampleRows` over a fake LM whose logits ignore the grammar. Constrained rows must always give decodable streams
 * (closed with grey MCUs at the budget), unconstrained ones are judged on their raw bytes; prompts cut after whole
 * patches (⌊32r⌋ × FF D7 at 256×256); previews decode. libjpeg-turbo's djpeg checks the files where installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { canonicalHeader, plainByteVocabulary, stripTables, validateImageStream, type JpegGeometry } from '../../src/codec/jpeg';
import { sampleRows } from '../../src/engine/sampling';
import { ImageSample, checkImageStream, closedJpeg, completionPrompt, generationPrompt, type CodecTokens } from '../../src/runtime/imageSamples';
import { FakeLM } from '../helpers/fakeLm';

const G32: JpegGeometry = { width: 32, height: 32 };
const OFFSET = 3;
const tokens = (geometry: JpegGeometry): CodecTokens => ({
  geometry,
  vocabulary: plainByteVocabulary(256 + OFFSET, OFFSET),
  byteTokens: Int32Array.from({ length: 256 }, (_, b) => b + OFFSET),
});
const fixture = (name: string) => new Uint8Array(readFileSync(`test/fixtures/jpeg/${name}`));
const countPair = (s: Uint8Array, second: number) => s.reduce((n, b, i) => n + (b === 0xff && s[i + 1] === second ? 1 : 0), 0);

const noDjpeg = spawnSync('djpeg', ['-version']).error ? 'djpeg not installed (apt-get install libjpeg-turbo-progs)' : false;
function djpegWarnings(file: Uint8Array): string {
  const r = spawnSync('djpeg', ['-pnm'], { input: file, maxBuffer: 1 << 24 });
  assert.ok(r.status === 0 || r.status === 2, `djpeg failed: ${r.stderr?.toString()}`);
  return r.stderr?.toString() ?? '';
}

/** Byte logits that favour 0xFF and EOI-breaking bytes: the grammar alone must keep the stream decodable. */
const hostile = (seq: readonly number[], v: number) => Math.sin(seq.length * 0.37 + v * 1.7) * 2 + (v === 0xff + OFFSET ? 3 : 0) + (v === 1 ? 1 : 0);

async function run(prompt: Uint8Array, o: { samples: number; maxTokens: number; constrained: boolean; seed: number; geometry?: JpegGeometry }) {
  const geometry = o.geometry ?? G32;
  const t = tokens(geometry);
  const samples = Array.from({ length: o.samples }, () => new ImageSample(t, prompt, o.constrained));
  const lm = new FakeLM(256 + OFFSET, 100_000, 1, hostile);
  const r = await sampleRows(lm, {
    prompt: Int32Array.from([0, ...Array.from(prompt, (b) => b + OFFSET)]),
    samples: o.samples,
    decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 },
    maxTokens: o.maxTokens,
    seed: o.seed,
    stopTokens: [1],
    padToken: 2,
    constraint: (i) => samples[i]!,
  });
  return r.rows.map((row, i) => ({ row, done: samples[i]!.finish(row.closing) }));
}

describe('prompts cut after whole patches', () => {
  it('256×256: ⌊32r⌋ FF D7 markers, ending with one', () => {
    const stream = fixture('plasma-256.bin');
    for (const r of [0.125, 0.375, 0.5, 0.9]) {
      const p = completionPrompt(stream, r, { width: 256, height: 256 });
      assert.equal(countPair(p.bytes, 0xd7), Math.floor(32 * r));
      assert.deepEqual([...p.bytes.subarray(-2)], [0xff, 0xd7]);
      assert.equal(p.keptMcus, 8 * Math.floor(32 * r));
      assert.deepEqual([p.patches, p.mcuCount], [32, 256]);
    }
  });
  it('32×32: two patches of two MCUs; ratio 0 is the header, 1 the whole stream', () => {
    const stream = fixture('checker-32.bin');
    const half = completionPrompt(stream, 0.5, G32);
    assert.deepEqual([half.keptPatches, half.keptMcus, half.patches], [1, 2, 2]);
    assert.deepEqual([...half.bytes.subarray(-2)], [0xff, 0xd1]);
    assert.deepEqual(completionPrompt(stream, 0, G32).bytes, canonicalHeader(G32));
    assert.deepEqual(completionPrompt(stream, 1, G32).bytes, stream);
    assert.deepEqual(generationPrompt(G32).bytes, canonicalHeader(G32));
  });
});

describe('constrained samples', () => {
  it('always decode, begin with the prompt, and end at EOI on their own', async () => {
    const stream = fixture('noise-32.bin');
    const prompt = completionPrompt(stream, 0.5, G32).bytes;
    for (const seed of [1, 2, 3]) {
      for (const { row, done } of await run(prompt, { samples: 4, maxTokens: 2000, constrained: true, seed })) {
        assert.equal(done.decodable, true, done.problem);
        assert.equal(row.stoppedBy, 'complete');
        assert.equal(done.closingBytes, 0);
        assert.deepEqual(done.stream.subarray(0, prompt.length), prompt);
        assert.ok(validateImageStream(done.stream, G32).ok);
        if (!noDjpeg) assert.equal(djpegWarnings(closedJpeg(done.stream, G32)), '');
      }
    }
  });

  it('are closed with grey MCUs at any budget, and still decode without warnings', async () => {
    const prompt = generationPrompt(G32).bytes;
    for (const maxTokens of [0, 1, 7, 40, 90]) {
      for (const { row, done } of await run(prompt, { samples: 3, maxTokens, constrained: true, seed: maxTokens })) {
        assert.equal(done.decodable, true, `budget ${maxTokens}: ${done.problem}`);
        if (row.stoppedBy === 'max-tokens') assert.ok(done.closingBytes > 0 || row.tokens.length === maxTokens);
        assert.ok(row.tokens.length <= maxTokens);
        if (!noDjpeg) assert.equal(djpegWarnings(closedJpeg(done.stream, G32)), '', `budget ${maxTokens}`);
      }
    }
  });

  it('64×64 (4 MCUs a row): decodable too', async () => {
    const g = { width: 64, height: 64 };
    const prompt = completionPrompt(fixture('rings-64.bin'), 0.25, g).bytes;
    for (const { done } of await run(prompt, { samples: 2, maxTokens: 3000, constrained: true, seed: 5, geometry: g }))
      assert.equal(done.decodable, true, done.problem);
  });

  it('previews show the decodable prefix with the rest grey, and they decode', () => {
    const stream = fixture('checker-32.bin');
    const sample = new ImageSample(tokens(G32), completionPrompt(stream, 0.5, G32).bytes, true);
    assert.equal(sample.mcusDone, 2);
    const preview = sample.preview();
    assert.ok(checkImageStream(stripTables(preview), G32).decodable);
    if (!noDjpeg) assert.equal(djpegWarnings(preview), '');
  });

  it('refuses a prompt that is not a canonical stream of the size', () => {
    assert.throws(() => new ImageSample(tokens(G32), fixture('rings-64.bin').subarray(0, 80), true), /not a canonical stream of 32×32/);
  });
});

describe('unconstrained samples', () => {
  it('end at eos or the first FF D9, and are judged on their raw bytes', async () => {
    const prompt = completionPrompt(fixture('checker-32.bin'), 0.5, G32).bytes;
    const rows = await run(prompt, { samples: 6, maxTokens: 300, constrained: false, seed: 9 });
    for (const { row, done } of rows) {
      assert.deepEqual(done.closingBytes, 0);
      assert.deepEqual(done.stream.subarray(0, prompt.length), prompt);
      assert.deepEqual([...done.stream.subarray(-2)], [0xff, 0xd9], 'cleaned as the thesis does: EOI appended or cut after');
      if (row.stoppedBy === 'complete') assert.deepEqual(row.tokens.slice(-2), [0xff + OFFSET, 0xd9 + OFFSET]);
      assert.equal(done.decodable, validateImageStream(done.stream, G32).ok);
      if (!done.decodable) assert.match(done.problem ?? '', /\S/);
    }
    // These logits love 0xFF: raw streams break the grammar almost at once.
    assert.ok(rows.filter((r) => !r.done.decodable).length >= 5);
  });

  it('a stream closed grey from its decodable prefix still previews', () => {
    const sample = new ImageSample(tokens(G32), generationPrompt(G32).bytes, false);
    for (const b of [0x12, 0xff, 0x34]) sample.accept(b + OFFSET);
    const preview = sample.preview();
    assert.ok(checkImageStream(stripTables(preview), G32).decodable);
  });
});

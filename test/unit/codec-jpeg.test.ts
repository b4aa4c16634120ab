/**
 * The canonical JPEG stream of JPEG-LM (src/codec/jpeg) against the seed reference §4 (constant header and tables,
 * restart markers, prompt cutting, the Braille byte mapping, clean_image_string), the committed corpus of
 * test/fixtures/jpeg (written by tools/codec/make_fixtures.py with Pillow + jpegtran), and libjpeg-turbo's `djpeg`
 * as the real decoder for closed and mutated streams (skipped, saying so, where djpeg is not installed:
 * tools/requirements-apt.txt lists libjpeg-turbo-progs).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ALL_AC_SYMBOLS,
  BRAILLE_OFFSET,
  CANONICAL_HEADER_LENGTH,
  JpegFormatError,
  JpegStreamValidator,
  STD_AC_CHROMINANCE,
  STD_AC_LUMINANCE,
  STD_DC_LUMINANCE,
  TABLES_BLOB,
  ZIGZAG,
  brailleToBytes,
  brailleVocabulary,
  bytesToBraille,
  bytesToTokenIds,
  canonicalHeader,
  cleanImageStream,
  cutAfterMcus,
  describeCanonicalStream,
  huffmanCodes,
  maskBytes,
  maskHas,
  patchLayout,
  plainByteVocabulary,
  promptCut,
  promptForRatio,
  restoreTables,
  scanEntropyMarkers,
  streamGeometry,
  stripTables,
  tokenIdsToBytes,
  validateImageStream,
} from '../../src/codec/jpeg';
import { Rng } from '../../src/engine/random';

const FIXTURES = join(__dirname, '..', 'fixtures', 'jpeg');
interface StreamEntry {
  name: string;
  width: number;
  height: number;
  mcus: number;
  bytes: number;
  restarts: number;
  restart_counts: number[];
  sha256: string;
}
interface MutationEntry {
  name: string;
  source: string;
  kind: string;
  offset: number;
  reject_at: number;
  accepted_with_early_eoi: boolean;
}
const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { streams: StreamEntry[]; mutations: MutationEntry[] };
const load = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, `${name}.bin`)));
const streams = manifest.streams.map((e) => ({ ...e, data: load(e.name), geometry: { width: e.width, height: e.height } }));
const byName = (name: string) => streams.find((s) => s.name === name)!;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const cat = (...parts: (Uint8Array | number[])[]) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))));
const countPair = (b: Uint8Array, x: number, y: number) => {
  let n = 0;
  for (let i = 0; i + 1 < b.length; i++) if (b[i] === x && b[i + 1] === y) n++;
  return n;
};

// Seed reference §4.4 (verified there with libjpeg-turbo): the 59-byte header of 256×256 and the 570-byte tables blob.
const HEADER_256 = `
ffd8
ffe0 0010 4a46494600 0101 00 0001 0001 0000
ffc0 0011 08 0100 0100 03 01 22 00 02 11 01 03 11 01
ffdd 0004 0001
ffda 000c 03 01 00 02 11 03 11 00 3f 00`;
const TABLES_HEX = `
ffdb0043002016181c1814201c1a1c24222026305034302c2c3062464a3a5074
667a787266706e8090b89c8088ae8a6e70a0daa2aebec4ced0ce7c9ae2f2e0c8
f0b8cacec6ffdb004301222424302a305e34345ec6847084c6c6c6c6c6c6c6c6
c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6c6
c6c6c6c6c6c6c6c6c6c6ffc4001f000001050101010101010000000000000000
0102030405060708090a0bffc400b5100002010303020403050504040000017d
01020300041105122131410613516107227114328191a1082342b1c11552d1f0
2433627282090a161718191a25262728292a3435363738393a43444546474849
4a535455565758595a636465666768696a737475767778797a83848586878889
8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5
c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8
f9faffc4001f0100030101010101010101010000000000000102030405060708
090a0bffc400b511000201020404030407050404000102770001020311040521
31061241510761711322328108144291a1b1c109233352f0156272d10a162434
e125f11718191a262728292a35363738393a434445464748494a535455565758
595a636465666768696a737475767778797a82838485868788898a9293949596
9798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2
d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa`;

const djpeg = spawnSync('djpeg', ['-version'], { encoding: 'utf8' });
const noDjpeg = djpeg.error ? 'djpeg not installed (apt-get install libjpeg-turbo-progs)' : false;
/** Decodes a full JPEG with libjpeg-turbo: exit status (0 clean, 2 warnings), warnings, and the PPM's size. */
function decode(full: Uint8Array): { status: number | null; warnings: string; size: string } {
  const r = spawnSync('djpeg', ['-pnm'], { input: full, maxBuffer: 1 << 24 });
  const header = Buffer.from(r.stdout ?? [])
    .subarray(0, 20)
    .toString('latin1')
    .split(/\s+/);
  return { status: r.status, warnings: r.stderr?.toString() ?? '', size: `${header[1]}x${header[2]}` };
}

describe('tables (T.81 Annex K) and the constant blob', () => {
  it('the tables blob is the reference 570 bytes and the tables file has the reference hash', () => {
    assert.equal(hex(TABLES_BLOB), hex(unhex(TABLES_HEX)));
    const file = Buffer.concat([Buffer.from([0xff, 0xd8]), TABLES_BLOB, Buffer.from([0xff, 0xd9])]);
    assert.equal(createHash('sha256').update(file).digest('hex'), 'ca3f61d4a3d59d839345802bc6318aaede2dfa8fa9e89112b0fc172da148a24b');
  });
  it('zig-zag is a permutation that starts 0 1 8 16 9 2 and ends 62 63', () => {
    assert.deepEqual(
      [...ZIGZAG].sort((a, b) => a - b),
      Array.from({ length: 64 }, (_, i) => i),
    );
    assert.deepEqual(ZIGZAG.slice(0, 6), [0, 1, 8, 16, 9, 2]);
    assert.deepEqual(ZIGZAG.slice(-2), [62, 63]);
  });
  it('Huffman codes: known codes of Tables K.3/K.5/K.6, every AC symbol exactly once', () => {
    const dc = huffmanCodes(STD_DC_LUMINANCE);
    assert.deepEqual([dc.code[0], dc.length[0], dc.code[11], dc.length[11]], [0b00, 2, 0b111111110, 9]);
    const acL = huffmanCodes(STD_AC_LUMINANCE);
    assert.deepEqual([acL.code[0x00], acL.length[0x00], acL.code[0xf0], acL.length[0xf0]], [0b1010, 4, 0b11111111001, 11]);
    const acC = huffmanCodes(STD_AC_CHROMINANCE);
    assert.deepEqual([acC.code[0x00], acC.length[0x00]], [0b00, 2]);
    for (const spec of [STD_AC_LUMINANCE, STD_AC_CHROMINANCE])
      assert.deepEqual(
        [...spec.values].sort((a, b) => a - b),
        [...ALL_AC_SYMBOLS].sort((a, b) => a - b),
      );
  });
});

describe('byte ↔ token mappings', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  it('Braille (U+2800 + byte) round-trips all 256 bytes; FF D8 ↔ U+28FF U+28D8', () => {
    assert.deepEqual(brailleToBytes(bytesToBraille(all)), all);
    assert.equal(bytesToBraille(Uint8Array.of(0xff, 0xd8)), '\u28ff\u28d8');
    assert.equal(bytesToBraille(Uint8Array.of(0xff, 0xd9, 0xff, 0xd7)), '⣿⣙⣿⣗');
    assert.equal(BRAILLE_OFFSET, 10240);
    assert.throws(() => brailleToBytes('\u28ffa'), /character 1 \(U\+0061\)/);
    const big = byName('scene-256').data;
    assert.deepEqual(brailleToBytes(bytesToBraille(big)), big);
  });
  it('plain byte ids round-trip with an offset and refuse ids outside the byte range', () => {
    assert.deepEqual(tokenIdsToBytes(bytesToTokenIds(all, 3), 3), all);
    assert.throws(() => tokenIdsToBytes([2], 3), /token 2 at 0 is not a byte token/);
    assert.throws(() => tokenIdsToBytes([259], 3), /not a byte token/);
  });
  it('vocabularies: plain bytes after specials, Braille pieces with merges', () => {
    const plain = plainByteVocabulary(259, 3);
    assert.equal(plain[2], undefined);
    assert.deepEqual(plain[3 + 0xff], Uint8Array.of(0xff));
    const braille = brailleVocabulary(['<s>', '</s>', '\u28ff\u28d7', '\u2581\u28ff', '', '\u2800']);
    assert.deepEqual(braille, [undefined, undefined, Uint8Array.of(0xff, 0xd7), undefined, undefined, Uint8Array.of(0)]);
  });
});

describe('the canonical stream', () => {
  it('the 256×256 header is the reference 59 bytes; other sizes differ only in SOF0', () => {
    assert.equal(hex(canonicalHeader({ width: 256, height: 256 })), hex(unhex(HEADER_256)));
    assert.equal(CANONICAL_HEADER_LENGTH, 59);
    const h32 = canonicalHeader({ width: 32, height: 32 });
    const h256 = canonicalHeader({ width: 256, height: 256 });
    const diff = [...h32.keys()].filter((i) => h32[i] !== h256[i]);
    assert.deepEqual(diff, [25, 26, 27, 28]);
  });
  it('the corpus matches its manifest (length, hash) and every stream starts with its canonical header', () => {
    assert.ok(streams.length >= 10);
    for (const s of streams) {
      assert.equal(s.data.length, s.bytes, s.name);
      assert.equal(createHash('sha256').update(s.data).digest('hex'), s.sha256, s.name);
      assert.deepEqual(streamGeometry(s.data), s.geometry);
      assert.equal(hex(s.data.subarray(0, 59)), hex(canonicalHeader(s.geometry)), s.name);
    }
  });
  it('256×256: ends with FF D9, 255 restart markers: RST0–RST6 × 32, RST7 × 31', () => {
    for (const name of ['scene-256', 'plasma-256']) {
      const s = byName(name).data;
      const info = describeCanonicalStream(s);
      assert.equal(hex(s.subarray(-2)), 'ffd9');
      assert.equal(info.restartOffsets.length, 255);
      assert.deepEqual(info.restartCounts, [32, 32, 32, 32, 32, 32, 32, 31]);
      assert.equal(countPair(s, 0xff, 0xd7), 31);
      assert.equal(info.layout.mcuCount, 256);
    }
  });
  it('32×32: 4 MCUs, RST0 RST1 RST2; 64×64: 16 MCUs, 15 markers with one RST7', () => {
    for (const s of streams.filter((x) => x.width === 32)) {
      assert.deepEqual(describeCanonicalStream(s.data).restartCounts, [1, 1, 1, 0, 0, 0, 0, 0], s.name);
      assert.equal(hex(s.data.subarray(-2)), 'ffd9');
    }
    assert.deepEqual(describeCanonicalStream(byName('rings-64').data).restartCounts, [2, 2, 2, 2, 2, 2, 2, 1]);
    for (const s of streams) assert.deepEqual(describeCanonicalStream(s.data).restartCounts, s.restart_counts, s.name);
  });
  it('strip ∘ restore is byte-identical; restore puts the blob right after SOI', () => {
    for (const s of streams) {
      const full = restoreTables(s.data);
      assert.equal(full.length, s.data.length + 570);
      assert.equal(hex(full.subarray(2, 572)), hex(TABLES_BLOB));
      assert.deepEqual(stripTables(full), s.data);
    }
    assert.throws(() => restoreTables(Uint8Array.of(0, 1, 2)), JpegFormatError);
  });
  it('describeCanonicalStream names what is wrong', () => {
    const s = byName('disc-32').data;
    assert.throws(() => describeCanonicalStream(s.subarray(0, s.length - 2)), /does not end with EOI/);
    const m = s.slice();
    m[44] = 2;
    assert.throws(() => describeCanonicalStream(m), /header differs .* \(at byte 44\)/);
  });
});

describe('prompt cutting at patch boundaries', () => {
  it('patches: 32 of 8 MCUs at 256×256 (the thesis), one MCU row otherwise', () => {
    assert.deepEqual(patchLayout({ width: 256, height: 256 }), { patchMcus: 8, patches: 32, mcuCount: 256 });
    assert.deepEqual(patchLayout({ width: 32, height: 32 }), { patchMcus: 2, patches: 2, mcuCount: 4 });
    assert.deepEqual(patchLayout({ width: 64, height: 64 }), { patchMcus: 4, patches: 4, mcuCount: 16 });
    assert.deepEqual(promptCut({ width: 256, height: 256 }, 0.375), { patches: 12, keptMcus: 96 });
    assert.deepEqual(promptCut({ width: 256, height: 256 }, 0.3), { patches: 9, keptMcus: 72 });
    assert.throws(() => promptCut({ width: 32, height: 32 }, 1.5), RangeError);
  });
  it('256×256: the prompt for ratio r holds exactly ⌊32r⌋ FF D7 and ends with it', () => {
    const g = { width: 256, height: 256 };
    for (const name of ['scene-256', 'plasma-256']) {
      const s = byName(name).data;
      for (let i = 1; i < 32; i++) {
        for (const r of [i / 32, (i + 0.5) / 32, 0.1 * (i % 10)]) {
          const n = Math.floor(32 * r + 1e-9);
          const { prompt } = promptForRatio(s, r, g);
          assert.equal(countPair(prompt, 0xff, 0xd7), n, `${name} r=${r}`);
          if (n > 0) assert.equal(hex(prompt.subarray(-2)), 'ffd7', `${name} r=${r}`);
          assert.deepEqual(prompt, s.subarray(0, prompt.length));
        }
      }
      assert.equal(promptForRatio(s, 0, g).prompt.length, 59);
      assert.deepEqual(promptForRatio(s, 1, g).prompt, s);
    }
  });
  it('32×32 and 64×64: the prompt ends after the restart marker that closes the last kept row', () => {
    const s = byName('disc-32');
    const half = promptForRatio(s.data, 0.5, s.geometry);
    assert.equal(half.keptMcus, 2);
    assert.equal(hex(half.prompt.subarray(-2)), 'ffd1');
    const rings = byName('rings-64');
    assert.equal(hex(promptForRatio(rings.data, 0.75, rings.geometry).prompt.subarray(-2)), 'ffd3');
    for (let m = 0; m <= 16; m++) {
      const p = cutAfterMcus(rings.data, m, rings.geometry);
      assert.equal(scanEntropyMarkers(p, 59).restarts.length, Math.min(m, 15));
    }
  });
  it('clean_image_string: cut after the first EOI, or append EOI / prepend SOI where missing', () => {
    const s = byName('flat-32').data;
    assert.deepEqual(cleanImageStream(cat(s, [1, 2, 0xff, 0xd9])), s);
    assert.deepEqual(cleanImageStream(s.subarray(0, 40)), cat(s.subarray(0, 40), [0xff, 0xd9]));
    assert.deepEqual(cleanImageStream(s.subarray(2)), s);
    assert.deepEqual(cleanImageStream(s.subarray(2, 40)), cat(s.subarray(0, 40), [0xff, 0xd9]));
  });
});

describe('the entropy-stream validator', () => {
  it('accepts every corpus stream byte by byte; the mask always holds the next byte and matches feed', () => {
    for (const s of streams) {
      const v = new JpegStreamValidator(s.geometry);
      const probe = v.clone();
      for (let i = 0; i < s.data.length; i++) {
        const mask = v.allowedNextBytes();
        assert.ok(maskHas(mask, s.data[i]!), `${s.name}: byte ${i} (${s.data[i]}) not in the mask`);
        if (i % 7 === 0) {
          // The mask is exactly what feed accepts.
          for (let b = 0; b < 256; b++) assert.equal(probe.accepts([b]), maskHas(mask, b), `${s.name}@${i}: byte ${b}`);
        }
        assert.ok(v.feed(s.data[i]!), `${s.name}: byte ${i} refused: ${v.lastRejection?.reason}`);
        assert.ok(probe.feed(s.data[i]!));
      }
      assert.ok(v.isComplete(), s.name);
      assert.equal(v.mcusDone, s.mcus);
      assert.deepEqual(maskBytes(v.allowedNextBytes()), []);
      assert.equal(v.feed(0), false);
      assert.deepEqual(validateImageStream(s.data, s.geometry), { ok: true, accepted: s.data.length, mcusDone: s.mcus });
    }
  });
  it('refuses every mutated stream exactly at the recorded byte (never before the mutation)', () => {
    assert.ok(manifest.mutations.length >= 10);
    for (const m of manifest.mutations) {
      const data = new Uint8Array(readFileSync(join(FIXTURES, 'mutations', `${m.name}.bin`)));
      const { geometry } = byName(m.source);
      const verdict = validateImageStream(data, geometry);
      assert.equal(verdict.ok, false, m.name);
      assert.ok(verdict.rejection!.offset >= m.offset, `${m.name}: refused at ${verdict.rejection!.offset}, before the mutation at ${m.offset}`);
      assert.equal(verdict.rejection!.offset, m.reject_at, `${m.name}: ${verdict.rejection!.reason}`);
      assert.equal(validateImageStream(data, geometry, { allowEarlyEoi: true }).ok, m.accepted_with_early_eoi, m.name);
    }
  });
  it('explains refusals', () => {
    const s = byName('disc-32').data;
    const v = new JpegStreamValidator({ width: 32, height: 32 });
    assert.equal(v.feedAll(s.subarray(0, 44)), 44);
    assert.equal(v.feed(2), false);
    assert.match(v.lastRejection!.reason, /header byte 44 must be 01/);
    assert.equal(v.position, 44);
  });
  it('token masks: single and multi-byte tokens agree with feeding their bytes', () => {
    const s = byName('scene-256');
    const pieces = [
      '<s>',
      '</s>',
      ...Array.from({ length: 256 }, (_, b) => String.fromCharCode(0x2800 + b)),
      '\u28ff\u28d0',
      '\u28ff\u28d9',
      '\u28ff\u2800',
      '\u2800\u2800\u2800',
    ];
    const vocab = brailleVocabulary(pieces);
    const v = new JpegStreamValidator(s.geometry);
    for (let i = 0; i < 600; i++) {
      const allowed = v.allowedTokens(vocab);
      assert.equal(allowed[0], 0);
      for (let id = 0; id < vocab.length; id++) assert.equal(allowed[id] === 1, vocab[id] ? v.accepts(vocab[id]!) : false, `@${i} token ${id}`);
      v.feed(s.data[i]!);
    }
  });
  it('random walks over allowed bytes stay valid and always finish with closingBytes', () => {
    const rng = new Rng(14);
    for (const g of [
      { width: 32, height: 32 },
      { width: 64, height: 48 },
    ]) {
      for (let walk = 0; walk < 20; walk++) {
        const v = new JpegStreamValidator(g, { allowEarlyEoi: walk % 2 === 1 });
        const budget = Math.floor(rng.next() * 360); // some end inside the header
        while (v.position < budget && !v.isComplete()) {
          const allowed = maskBytes(v.allowedNextBytes());
          assert.ok(allowed.length > 0, 'a live state always has a next byte');
          assert.ok(v.feed(allowed[Math.floor(rng.next() * allowed.length)]!));
        }
        const close = v.closingBytes();
        assert.equal(v.feedAll(close), close.length, v.lastRejection?.reason);
        assert.ok(v.isComplete());
      }
    }
  });
});

describe('closing and decoding with libjpeg-turbo', { skip: noDjpeg }, () => {
  it('every corpus stream decodes without a warning at its size', () => {
    for (const s of streams) {
      const d = decode(restoreTables(s.data));
      assert.equal(d.status, 0, `${s.name}: ${d.warnings}`);
      assert.equal(d.size, `${s.width}x${s.height}`);
    }
  });
  it('a prefix cut at any byte and closed decodes: grey-filled without a warning, truncated with only an early-end warning', () => {
    const rng = new Rng(6);
    for (const name of ['noise-32', 'checker-32', 'rings-64', 'scene-256']) {
      const s = byName(name);
      for (let t = 0; t < 6; t++) {
        const cut = 59 + Math.floor(rng.next() * (s.data.length - 61));
        for (const allowEarlyEoi of [false, true]) {
          const v = new JpegStreamValidator(s.geometry, { allowEarlyEoi });
          v.feedAll(s.data.subarray(0, cut));
          const closed = cat(s.data.subarray(0, cut), v.closingBytes());
          assert.equal(validateImageStream(closed, s.geometry, { allowEarlyEoi }).ok, true);
          const d = decode(restoreTables(closed));
          assert.equal(d.size, `${s.width}x${s.height}`, `${name} cut ${cut}`);
          if (!allowEarlyEoi) {
            assert.equal(d.status, 0, `${name} cut ${cut}: ${d.warnings}`);
            describeCanonicalStream(closed);
          } else {
            // libjpeg names the early EOI as a missing restart marker or as a premature end, and fills the rest.
            const warnings = d.warnings.trim().split('\n').filter(Boolean);
            assert.ok(
              warnings.every((w) => /^Corrupt JPEG data: (premature end of data segment|found marker 0xd9 instead of RST[0-7])$/.test(w)),
              `${name} cut ${cut}: ${d.warnings}`,
            );
          }
        }
      }
    }
  });
  it('random streams sampled under the mask decode without a warning', () => {
    const rng = new Rng(2024);
    const g = { width: 48, height: 32 };
    for (let walk = 0; walk < 8; walk++) {
      const v = new JpegStreamValidator(g);
      const out: number[] = [];
      while (v.position < 400 && !v.isComplete()) {
        const allowed = maskBytes(v.allowedNextBytes());
        const b = allowed[Math.floor(rng.next() * allowed.length)]!;
        v.feed(b);
        out.push(b);
      }
      out.push(...v.closingBytes());
      const d = decode(restoreTables(Uint8Array.from(out)));
      assert.equal(d.status, 0, d.warnings);
      assert.equal(d.size, '48x32');
    }
  });
  it('bit flips in entropy data: whatever the validator accepts, libjpeg decodes without a warning', () => {
    const rng = new Rng(99);
    let accepted = 0;
    let refused = 0;
    for (const name of ['disc-32', 'noise-32', 'rings-64']) {
      const s = byName(name);
      for (let t = 0; t < 25; t++) {
        const m = s.data.slice();
        const at = 59 + Math.floor(rng.next() * (m.length - 61));
        m[at]! ^= 1 << Math.floor(rng.next() * 8);
        const verdict = validateImageStream(m, s.geometry);
        if (!verdict.ok) {
          refused++;
          assert.ok(verdict.rejection!.offset >= at);
          continue;
        }
        accepted++;
        const d = decode(restoreTables(m));
        assert.equal(d.status, 0, `${name} flip at ${at}: ${d.warnings}`);
      }
    }
    assert.ok(refused > 0 && accepted > 0, `accepted ${accepted}, refused ${refused}`);
  });
});

describe('validator cost', () => {
  it('per byte: feed + allowedNextBytes over a 256×256 stream (reported, not asserted)', (t) => {
    const s = byName('plasma-256');
    const run = () => {
      const v = new JpegStreamValidator(s.geometry);
      const t0 = performance.now();
      for (const b of s.data) {
        if (!maskHas(v.allowedNextBytes(), b)) throw new Error('mask');
        v.feed(b);
      }
      return ((performance.now() - t0) * 1000) / s.data.length;
    };
    const cold = run();
    const warm = Math.min(run(), run(), run());
    t.diagnostic(`plasma-256 (${s.data.length} bytes): ${cold.toFixed(2)} µs/byte cold memo, ${warm.toFixed(2)} µs/byte warm`);
    assert.ok(warm < 1000);
  });
});

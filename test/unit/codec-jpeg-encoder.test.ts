/**
 * The canonical encoder (src/codec/jpeg/encoder.ts) against the training pipeline's canonicaliser
 * (tools/codec/canonical_jpeg.py: Pillow 9.4 on libjpeg-turbo 2.1.5, `jpegtran -restart 1B`, tables stripped): byte
 * equality on every stream of the committed corpus (test/fixtures/jpeg, from tools/codec/make_fixtures.py) and on
 * the extra pixels of test/fixtures/jpeg/encoder (from test/fixtures/jpeg/make_runtime_fixtures.py); the
 * quantisation rounding against libjpeg-turbo's reciprocal method; and structural invariants on random images.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CANONICAL_HEADER_LENGTH, JpegStreamValidator, canonicalHeader, describeCanonicalStream, restoreTables } from '../../src/codec/jpeg';
import { decodeJpeg } from '../../src/codec/jpeg/decoder';
import { downsample2x2, encodeCanonicalStream, forwardDctIslow, quantize, rgbToYCbCr } from '../../src/codec/jpeg/encoder';
import { K1_LUMINANCE_QUANT, K2_CHROMINANCE_QUANT, scaleQuantTable } from '../../src/codec/jpeg/tables';
import { Rng } from '../../src/engine/random';
import { decodeImage } from '../../src/runtime/images';

const FIXTURES = join(__dirname, '..', 'fixtures', 'jpeg');
const read = (...p: string[]): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, ...p)));
const firstDifference = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
};

interface Entry {
  name: string;
  width: number;
  height: number;
  source_size?: [number, number];
}
const corpus = (JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { streams: Entry[] }).streams;
const extra = (JSON.parse(readFileSync(join(FIXTURES, 'encoder', 'manifest.json'), 'utf8')) as { streams: Entry[] }).streams;

/** The pixels the pipeline encoded: the PNG itself where it is the canonical size, else its prepared copy. */
function pixelsFile(e: Entry): string[] {
  const [w, h] = e.source_size ?? [e.width, e.height];
  return w === e.width && h === e.height ? [`${e.name}.png`] : ['encoder', `${e.name}.prepared.png`];
}

describe('canonical encoder: byte equality with the training pipeline', () => {
  it('has a fixture for every corpus stream (and the corpus is not empty)', () => {
    assert.ok(corpus.length >= 12 && extra.length >= 5);
  });
  for (const e of corpus) {
    it(`${e.name} (${e.width}×${e.height})`, async () => {
      const image = await decodeImage(read(...pixelsFile(e)));
      assert.deepEqual([image.width, image.height], [e.width, e.height]);
      const got = encodeCanonicalStream(image);
      const want = read(`${e.name}.bin`);
      assert.equal(firstDifference(got, want), -1, `first difference at byte ${firstDifference(got, want)} of ${want.length}`);
    });
  }
  for (const e of extra) {
    it(`encoder/${e.name} (${e.width}×${e.height})`, async () => {
      const image = await decodeImage(read('encoder', `${e.name}.png`));
      const got = encodeCanonicalStream(image);
      const want = read('encoder', `${e.name}.bin`);
      assert.equal(firstDifference(got, want), -1, `first difference at byte ${firstDifference(got, want)} of ${want.length}`);
    });
  }
});

describe('canonical encoder: the steps', () => {
  it('colour conversion: libjpeg fixed point (grey stays grey, extremes stay in range)', () => {
    for (let v = 0; v < 256; v++) {
      const { y, cb, cr } = rgbToYCbCr({ width: 1, height: 1, data: Uint8Array.of(v, v, v) });
      assert.deepEqual([y[0], cb[0], cr[0]], [v, 128, 128]);
    }
    const px = (r: number, g: number, b: number) => {
      const { y, cb, cr } = rgbToYCbCr({ width: 1, height: 1, data: Uint8Array.of(r, g, b) });
      return [y[0], cb[0], cr[0]];
    };
    assert.deepEqual(px(255, 0, 0), [76, 85, 255]);
    assert.deepEqual(px(0, 0, 255), [29, 255, 107]);
    assert.deepEqual(px(0, 255, 0), [150, 44, 21]);
  });

  it('chroma downsampling: 2×2 means with the bias alternating 1, 2 along a row', () => {
    // Sums of 6 in every 2×2 cell: (6 + 1) >> 2 = 1, (6 + 2) >> 2 = 2, alternating.
    const plane = Uint8Array.from({ length: 8 * 2 }, (_, i) => (i % 2 ? 2 : 1));
    assert.deepEqual([...downsample2x2(plane, 8, 2)], [1, 2, 1, 2]);
  });

  it('forward DCT: a flat block has only a DC term, 8× the orthonormal one', () => {
    const block = new Int32Array(64).fill(100);
    forwardDctIslow(block);
    assert.equal(block[0], 100 * 64);
    assert.ok(block.subarray(1).every((v) => v === 0));
  });

  it("quantisation equals libjpeg-turbo's corrected-reciprocal division for every 16-bit coefficient", () => {
    // libjpeg-turbo quantises |c| as ((|c| + corr) · recip) >> shift with recip, corr and shift from the divisor
    // (8 × the table entry): written here from its documented construction, compared with the rounding division.
    const reciprocal = (d: number) => {
      let r = 16 + (31 - Math.clz32(d));
      let fq = Math.floor(2 ** r / d);
      const fr = 2 ** r % d;
      let c = d >> 1;
      if (fr === 0) {
        fq = Math.floor(fq / 2);
        r--;
      } else if (fr <= d / 2) c++;
      else fq++;
      return (x: number) => {
        const q = Math.floor(((Math.abs(x) + c) * fq) / 2 ** r);
        return x < 0 ? -q : q;
      };
    };
    const divisors = new Set([...scaleQuantTable(K1_LUMINANCE_QUANT, 25), ...scaleQuantTable(K2_CHROMINANCE_QUANT, 25)].map((q) => q * 8));
    for (const d of divisors) {
      const f = reciprocal(d);
      for (let x = -32767; x <= 32767; x++) if (f(x) !== quantize(x, d)) assert.fail(`divisor ${d}, coefficient ${x}: ${f(x)} vs ${quantize(x, d)}`);
    }
  });

  it('refuses sizes that are not whole MCUs and pixel buffers of the wrong length', () => {
    assert.throws(() => encodeCanonicalStream({ width: 24, height: 16, data: new Uint8Array(24 * 16 * 3) }), /multiple of 16/);
    assert.throws(() => encodeCanonicalStream({ width: 16, height: 16, data: new Uint8Array(10) }), /RGB bytes/);
    assert.throws(() => encodeCanonicalStream({ width: 0, height: 16, data: new Uint8Array(0) }), RangeError);
  });
});

describe('canonical encoder: invariants on random images', () => {
  const rng = new Rng(14);
  const sizes: [number, number][] = [
    [16, 16],
    [32, 32],
    [64, 32],
    [16, 80],
    [128, 128],
  ];
  for (const [w, h] of sizes) {
    it(`${w}×${h}: canonical header and structure, the validator accepts every byte, decodes near the input`, () => {
      const data = new Uint8Array(w * h * 3);
      // Smooth colour fields plus noise: both small and large coefficients.
      for (let y = 0, i = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let c = 0; c < 3; c++, i++)
            data[i] = Math.max(0, Math.min(255, Math.round(128 + 100 * Math.sin((x + 2 * c) / 7 + y / 11) + (rng.next() - 0.5) * 40)));
        }
      }
      const stream = encodeCanonicalStream({ width: w, height: h, data });
      assert.deepEqual(stream.subarray(0, CANONICAL_HEADER_LENGTH), canonicalHeader({ width: w, height: h }));
      const info = describeCanonicalStream(stream);
      assert.equal(info.restartOffsets.length, (w / 16) * (h / 16) - 1);
      const v = new JpegStreamValidator({ width: w, height: h });
      for (let i = 0; i < stream.length; i++) assert.ok(v.feed(stream[i]!), `validator refused byte ${i}: ${v.lastRejection}`);
      assert.ok(v.isComplete());
      let sum = 0;
      decodeJpeg(restoreTables(stream), {
        onRow: (row, y) => {
          for (let k = 0; k < row.length; k++) sum += Math.abs(row[k]! - data[y * w * 3 + k]!);
        },
      });
      // Quality 25 of noisy content: a mean absolute error of a few levels per sample (a broken encoder gives ≫ 20).
      assert.ok(sum / data.length < 20, `mean error ${sum / data.length}`);
    });
  }
});

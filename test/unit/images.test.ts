/**
 * src/runtime/images.ts: a user's PNG or JPEG → the canonical stream. Decoding against reference decoders (Pillow for
 * PNG, `djpeg -nosmooth` for JPEG: test/fixtures/jpeg/inputs, from make_runtime_fixtures.py), the pipeline end to end
 * against the training pipeline's streams, crop and area resize, and the limits: every bad file gives an
 * `ImageInputError` of the right kind, quickly (each case is timed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { deflateSync } from 'node:zlib';
import { describeCanonicalStream, restoreTables } from '../../src/codec/jpeg';
import { encodeCanonicalStream } from '../../src/codec/jpeg/encoder';
import { Rng } from '../../src/engine/random';
import {
  AreaResampler,
  IMAGE_LIMITS,
  ImageInputError,
  type ImageErrorKind,
  canonicalImageStream,
  canonicalStreamFromBytes,
  centreCrop,
  decodeImage,
  fitImage,
  probeImage,
} from '../../src/runtime/images';

const FIXTURES = join(__dirname, '..', 'fixtures', 'jpeg');
const INPUTS = join(FIXTURES, 'inputs');
const read = (...p: string[]): Uint8Array => new Uint8Array(readFileSync(join(...p)));
const tmp = mkdtempSync(join(tmpdir(), 'concert-images-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `f`, which must reject with an ImageInputError of `kind` (message matching `re`) within `ms`. */
async function rejects(f: () => Promise<unknown>, kind: ImageErrorKind, re: RegExp, ms = 2000): Promise<void> {
  const t = performance.now();
  await assert.rejects(f, (e: unknown) => {
    assert.ok(e instanceof ImageInputError, `not an ImageInputError: ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  });
  const took = performance.now() - t;
  assert.ok(took < ms, `took ${took.toFixed(0)} ms`);
}

// --- a small PNG writer for the synthetic cases -----------------------------------------------------------------

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
function ihdr(w: number, h: number, depth: number, colorType: number, interlace = 0): Buffer {
  const d = Buffer.alloc(13);
  d.writeUInt32BE(w, 0);
  d.writeUInt32BE(h, 4);
  d[8] = depth;
  d[9] = colorType;
  d[12] = interlace;
  return chunk('IHDR', d);
}
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** A PNG of raw rows (each filtered with `filters[y % n]`, applied here), colour type and depth as given. */
function png(
  w: number,
  h: number,
  depth: number,
  colorType: number,
  rows: Uint8Array[],
  opts: { filters?: number[]; plte?: Uint8Array; idat?: Buffer } = {},
): Uint8Array {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType]!;
  const bpp = Math.max(1, (channels * depth) >> 3);
  const filters = opts.filters ?? [0];
  const raw: number[] = [];
  rows.forEach((row, y) => {
    const f = filters[y % filters.length]!;
    const prev = y ? rows[y - 1]! : new Uint8Array(row.length);
    raw.push(f);
    for (let i = 0; i < row.length; i++) {
      const a = i >= bpp ? row[i - bpp]! : 0;
      const b = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      const p = a + b - c;
      const pr = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, pr][f]!;
      raw.push((row[i]! - pred) & 0xff);
    }
  });
  const parts = [SIG, ihdr(w, h, depth, colorType)];
  if (opts.plte) parts.push(chunk('PLTE', opts.plte));
  parts.push(chunk('IDAT', opts.idat ?? deflateSync(Uint8Array.from(raw))), chunk('IEND', new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(parts));
}

const rng = new Rng(17);
const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rng.next() * 256));

// --- decoding -----------------------------------------------------------------------------------------------

const inputs = (JSON.parse(readFileSync(join(INPUTS, 'manifest.json'), 'utf8')) as { inputs: { name: string; reference: string | null }[] }).inputs;

describe('images: decoding against reference decoders', () => {
  for (const { name, reference } of inputs.filter((i) => i.reference)) {
    it(`${name}`, async () => {
      const got = await decodeImage(read(INPUTS, name));
      const want = await decodeImage(read(INPUTS, reference!)); // an 8-bit RGB PNG
      assert.deepEqual([got.width, got.height], [want.width, want.height]);
      let max = 0;
      for (let i = 0; i < want.data.length; i++) max = Math.max(max, Math.abs(got.data[i]! - want.data[i]!));
      // PNG: exact (alpha dropped as Pillow's convert('RGB') drops it). JPEG: a float IDCT against libjpeg's islow.
      assert.ok(max <= (name.endsWith('.png') ? 0 : 3), `max difference ${max}`);
    });
  }

  it('PNG: every filter type, 16-bit, grey 2-bit and palette 1-bit, made here', async () => {
    const w = 13;
    const h = 6;
    const rows8 = Array.from({ length: h }, () => randomBytes(w * 3));
    const rgb = await decodeImage(png(w, h, 8, 2, rows8, { filters: [0, 1, 2, 3, 4, 4] }));
    assert.deepEqual(rgb.data, Uint8Array.from(rows8.flatMap((r) => [...r])));
    const rows16 = Array.from({ length: h }, () => randomBytes(w * 8)); // RGBA, 16-bit
    const rgba16 = await decodeImage(png(w, h, 16, 6, rows16, { filters: [4, 3, 2, 1, 0, 3] }));
    const want16 = rows16.flatMap((r) => Array.from({ length: w }, (_, x) => [r[8 * x]!, r[8 * x + 2]!, r[8 * x + 4]!]).flat());
    assert.deepEqual([...rgba16.data], want16);
    const grey2 = await decodeImage(png(4, 1, 2, 0, [Uint8Array.of(0b00011011)]));
    assert.deepEqual([...grey2.data], [0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255]);
    const pal = await decodeImage(png(3, 1, 1, 3, [Uint8Array.of(0b01000000)], { plte: Uint8Array.of(1, 2, 3, 4, 5, 6) }));
    assert.deepEqual([...pal.data], [1, 2, 3, 4, 5, 6, 1, 2, 3]);
  });

  it('probes the size from the header alone', () => {
    assert.deepEqual(probeImage(read(INPUTS, '420.jpg')), { format: 'jpeg', width: 37, height: 23 });
    assert.deepEqual(probeImage(read(INPUTS, 'rgb.png')), { format: 'png', width: 37, height: 23 });
  });
});

// --- crop and resize ------------------------------------------------------------------------------------------

describe('images: centre crop and area resize', () => {
  it('crops as the training pipeline does (centred square, offsets rounded down) and to other aspect ratios', () => {
    assert.deepEqual(centreCrop(80, 48, { width: 32, height: 32 }), { left: 16, top: 0, width: 48, height: 48 });
    assert.deepEqual(centreCrop(37, 23, { width: 32, height: 32 }), { left: 7, top: 0, width: 23, height: 23 });
    assert.deepEqual(centreCrop(23, 38, { width: 32, height: 32 }), { left: 0, top: 7, width: 23, height: 23 });
    assert.deepEqual(centreCrop(100, 100, { width: 64, height: 32 }), { left: 0, top: 25, width: 100, height: 50 });
  });

  const resample = (w: number, h: number, data: Uint8Array, rect: { left: number; top: number; width: number; height: number }, ow: number, oh: number) => {
    const rs = new AreaResampler(w, rect, ow, oh);
    for (let y = 0; y < h; y++) rs.push(data.subarray(y * w * 3, (y + 1) * w * 3), y);
    return rs.result().data;
  };

  it('passes pixels through unchanged at scale 1 and averages 2×2 cells at ½', () => {
    const data = randomBytes(16 * 16 * 3);
    assert.deepEqual(resample(16, 16, data, { left: 0, top: 0, width: 16, height: 16 }, 16, 16), data);
    const half = resample(16, 16, data, { left: 0, top: 0, width: 16, height: 16 }, 8, 8);
    const at = (x: number, y: number, c: number) => data[(y * 16 + x) * 3 + c]!;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        for (let c = 0; c < 3; c++) {
          const mean = (at(2 * x, 2 * y, c) + at(2 * x + 1, 2 * y, c) + at(2 * x, 2 * y + 1, c) + at(2 * x + 1, 2 * y + 1, c)) / 4;
          assert.equal(half[(y * 8 + x) * 3 + c], Math.round(mean));
        }
      }
    }
  });

  it('keeps a flat image flat at fractional scales, up and down, and honours the crop', () => {
    const w = 37;
    const h = 23;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i += 3) data.set([200, 100, 50], i);
    // Paint everything outside the centred 23×23 square: none of it may leak in.
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (x < 7 || x >= 30) data.set([0, 255, 0], (y * w + x) * 3);
    for (const n of [16, 32, 10]) {
      const out = resample(w, h, data, centreCrop(w, h, { width: n, height: n }), n, n);
      for (let i = 0; i < out.length; i += 3) assert.deepEqual([...out.subarray(i, i + 3)], [200, 100, 50]);
    }
  });
});

// --- the pipeline ---------------------------------------------------------------------------------------------

describe('images: canonicalImageStream', () => {
  const corpus = (JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { streams: { name: string; width: number; source_size: number[] }[] })
    .streams;
  for (const e of corpus.filter((s) => s.source_size[0] === s.width && s.source_size[1] === s.width)) {
    it(`${e.name}.png at its own size is the training pipeline's stream, byte for byte`, async () => {
      const got = await canonicalImageStream(join(FIXTURES, `${e.name}.png`), { width: e.width, height: e.width });
      assert.deepEqual(Buffer.from(got), Buffer.from(read(FIXTURES, `${e.name}.bin`)));
    });
  }

  it('a non-square PNG: the centred square, resized, encoded canonically', async () => {
    const s = await canonicalImageStream(join(FIXTURES, 'crop-80x48-to-32.png'), { width: 32, height: 32 });
    assert.equal(describeCanonicalStream(s).layout.mcuCount, 4);
    // The red and blue bars at the sides are cropped away: the kept pixels are the 48×48 centre's.
    const fitted = await fitImage(read(FIXTURES, 'crop-80x48-to-32.png'), { width: 32, height: 32 });
    assert.deepEqual(s, encodeCanonicalStream(fitted));
    for (let i = 0; i < fitted.data.length; i += 3) {
      const [r, g, b] = fitted.data.subarray(i, i + 3);
      assert.ok(!(r! > 200 && g! < 60 && b! < 60) && !(b! > 200 && r! < 60 && g! < 60));
    }
  });

  for (const name of ['420.jpg', 'progressive.jpg', 'grey.jpg', 'restart.jpg', 'palette4.png', 'rgba.png']) {
    it(`${name} → a canonical 32×32 stream (and 64×32) of its centred crop`, async () => {
      for (const size of [
        { width: 32, height: 32 },
        { width: 64, height: 32 },
      ]) {
        const s = await canonicalImageStream(join(INPUTS, name), size);
        const info = describeCanonicalStream(s);
        assert.deepEqual(info.geometry, size);
      }
    });
  }

  it('a large JPEG is decoded at reduced scale and still matches its full-size decode closely', async () => {
    // A 512×512 smooth image → 32×32: decoded at ⅛ scale (block means) versus a full decode plus area average.
    const w = 512;
    const data = new Uint8Array(w * w * 3);
    for (let y = 0, i = 0; y < w; y++)
      for (let x = 0; x < w; x++, i += 3) data.set([128 + 100 * Math.sin(x / 40), 128 + 100 * Math.cos(y / 50), (x + y) / 4], i);
    // Encoded here (the canonical encoder plus its tables: a baseline JPEG with a restart marker after every MCU).
    const bytes = restoreTables(encodeCanonicalStream({ width: w, height: w, data }));
    const t = performance.now();
    const reduced = await fitImage(bytes, { width: 32, height: 32 });
    const took = performance.now() - t;
    const full = await decodeImage(bytes);
    const rs = new AreaResampler(w, { left: 0, top: 0, width: w, height: w }, 32, 32);
    for (let y = 0; y < w; y++) rs.push(full.data.subarray(y * w * 3, (y + 1) * w * 3), y);
    const direct = rs.result().data;
    let max = 0;
    for (let i = 0; i < direct.length; i++) max = Math.max(max, Math.abs(direct[i]! - reduced.data[i]!));
    assert.ok(max <= 3, `max difference ${max}`);
    assert.ok(took < 2000, `took ${took.toFixed(0)} ms`);
  });
});

// --- limits and bad files -------------------------------------------------------------------------------------

describe('images: limits and bad files (clear errors, never a hang)', () => {
  const size = { width: 32, height: 32 };
  const file = (name: string, bytes: Uint8Array | string): string => {
    const p = join(tmp, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('zero-byte, missing, folder, FIFO, text and GIF files', async () => {
    await rejects(() => canonicalImageStream(file('empty.png', new Uint8Array(0)), size), 'empty', /empty \(0 bytes\)/);
    await rejects(() => canonicalImageStream(join(tmp, 'missing.png'), size), 'not-a-file', /no such file/);
    await rejects(() => canonicalImageStream(tmp, size), 'not-a-file', /folder/);
    if (spawnSync('mkfifo', [join(tmp, 'fifo')]).status === 0)
      await rejects(() => canonicalImageStream(join(tmp, 'fifo'), size), 'not-a-file', /not a regular file/);
    await rejects(() => canonicalImageStream(file('notes.png', 'hello, not an image'), size), 'unknown-format', /not a PNG or JPEG/);
    await rejects(() => canonicalImageStream(file('a.gif', 'GIF89a\x01\x00\x01\x00'), size), 'unknown-format', /not a PNG or JPEG/);
  });

  it(`files over ${IMAGE_LIMITS.maxFileBytes / 2 ** 20} MiB are refused before reading`, async () => {
    const p = join(tmp, 'huge.jpg');
    const fd = openSync(p, 'w');
    writeSync(fd, Uint8Array.of(0xff, 0xd8, 0xff), 0, 3, 0);
    writeSync(fd, Uint8Array.of(0), 0, 1, IMAGE_LIMITS.maxFileBytes); // sparse: limit + 1 bytes
    closeSync(fd);
    await rejects(() => canonicalImageStream(p, size), 'too-large', /limit for images is 40\.0 MiB/, 200);
  });

  it('headers claiming huge sizes are refused from the header', async () => {
    const bigPng = new Uint8Array(Buffer.concat([SIG, ihdr(65535, 65535, 8, 2), chunk('IDAT', deflateSync(new Uint8Array(10)))]));
    await rejects(() => canonicalStreamFromBytes(bigPng, size), 'too-large', /65535×65535 pixels; the limit is 8192×8192/, 100);
    const jpeg = read(INPUTS, '420.jpg');
    let sof = 2;
    while (!(jpeg[sof] === 0xff && jpeg[sof + 1] === 0xc0)) sof++;
    const withSize = (w: number, h: number) => {
      const b = jpeg.slice();
      b.set([h >> 8, h & 0xff, w >> 8, w & 0xff], sof + 5);
      return b;
    };
    await rejects(() => canonicalStreamFromBytes(withSize(65535, 65535), size), 'too-large', /limit is 8192×8192/, 100);
    await rejects(() => canonicalStreamFromBytes(withSize(8193, 16), size), 'too-large', /8193×16/, 100);
    // Within the limit but with far too little data: refused as soon as the data runs out, not after 8192² pixels.
    await rejects(() => canonicalStreamFromBytes(withSize(8192, 8192), size), 'corrupt', /image data ends early/, 500);
    await rejects(() => decodeImage(withSize(8192, 8192)), 'too-large', /too many to decode whole/, 100);
    const tallPng = new Uint8Array(
      Buffer.concat([SIG, ihdr(8192, 8192, 8, 2), chunk('IDAT', deflateSync(new Uint8Array(1000))), chunk('IEND', new Uint8Array(0))]),
    );
    await rejects(() => canonicalStreamFromBytes(tallPng, size), 'truncated', /image data ends at row 0 of 8192/, 500);
  });

  it('a PNG whose image data inflates far beyond its size stops at the last row (no zip bomb)', async () => {
    const bomb = deflateSync(new Uint8Array(64 * 1024 * 1024)); // 64 MiB of zeros in ~64 KiB: rows of filter 0
    const p = new Uint8Array(Buffer.concat([SIG, ihdr(16, 16, 8, 0), chunk('IDAT', bomb), chunk('IEND', new Uint8Array(0))]));
    const t = performance.now();
    const img = await decodeImage(p);
    assert.ok(performance.now() - t < 500);
    assert.ok(img.data.every((v) => v === 0));
  });

  it('unsupported variants say what is unsupported', async () => {
    const interlaced = new Uint8Array(Buffer.concat([SIG, ihdr(16, 16, 8, 2, 1), chunk('IDAT', deflateSync(new Uint8Array(10)))]));
    await rejects(() => canonicalStreamFromBytes(interlaced, size), 'unsupported', /interlaced \(Adam7\)/);
    await rejects(() => canonicalStreamFromBytes(read(INPUTS, 'cmyk.jpg'), size), 'unsupported', /CMYK/);
    await rejects(() => canonicalStreamFromBytes(read(INPUTS, 'arithmetic.jpg'), size), 'unsupported', /arithmetic-coded/);
    const twelveBit = read(INPUTS, '420.jpg');
    let sof = 2;
    while (!(twelveBit[sof] === 0xff && twelveBit[sof + 1] === 0xc0)) sof++;
    twelveBit[sof + 4] = 12;
    await rejects(() => canonicalStreamFromBytes(twelveBit, size), 'unsupported', /12-bit/);
    await rejects(() => canonicalStreamFromBytes(read(INPUTS, '420.jpg'), { width: 30, height: 32 }), 'bad-size', /multiple of 16/);
    // A progressive JPEG with an AC first-pass scan (and the table before it) repeated 70 times: decoding such a scan
    // does not depend on earlier ones, so each repeat is well formed; refused at the 65th scan.
    const prog = read(INPUTS, 'progressive.jpg');
    let sos = 2;
    const isAcFirst = (i: number) => prog[i] === 0xff && prog[i + 1] === 0xda && prog[i + 4] === 1 && prog[i + 7]! > 0 && prog[i + 9]! >> 4 === 0;
    while (!isAcFirst(sos)) sos++;
    let from = sos;
    while (!(prog[from] === 0xff && prog[from + 1] === 0xc4)) from--;
    let to = sos + 2;
    while (!(prog[to] === 0xff && prog[to + 1] !== 0 && (prog[to + 1]! < 0xd0 || prog[to + 1]! > 0xd7))) to++;
    const scan = prog.subarray(from, to);
    const many = new Uint8Array(Buffer.concat([prog.subarray(0, prog.length - 2), ...Array.from({ length: 70 }, () => scan), prog.subarray(prog.length - 2)]));
    await rejects(() => canonicalStreamFromBytes(many, size), 'too-large', /more than 64 scans/);
  });

  it('corrupt and truncated PNGs', async () => {
    const rows = Array.from({ length: 8 }, () => randomBytes(8 * 3));
    const good = png(8, 8, 8, 2, rows);
    await rejects(() => decodeImage(good.subarray(0, 20)), 'truncated', /truncated PNG/);
    await rejects(() => decodeImage(good.subarray(0, good.length - 30)), 'truncated', /truncated PNG/);
    const badFilter = png(8, 8, 8, 2, rows, { idat: deflateSync(Uint8Array.of(7, ...new Uint8Array(8 * 8 * 3 + 7))) });
    await rejects(() => decodeImage(badFilter), 'corrupt', /filter type 7/);
    const badZlib = png(8, 8, 8, 2, rows, { idat: Buffer.from(randomBytes(60)) });
    await rejects(() => decodeImage(badZlib), 'corrupt', /corrupt PNG image data/);
    const noIdat = new Uint8Array(Buffer.concat([SIG, ihdr(8, 8, 8, 2), chunk('IEND', new Uint8Array(0))]));
    await rejects(() => decodeImage(noIdat), 'corrupt', /no IDAT/);
    const badDepth = new Uint8Array(Buffer.concat([SIG, ihdr(8, 8, 3, 2), chunk('IEND', new Uint8Array(0))]));
    await rejects(() => decodeImage(badDepth), 'corrupt', /bit depth 3/);
  });

  it('corrupt and truncated JPEGs', async () => {
    for (const name of ['420.jpg', 'progressive.jpg']) {
      const good = read(INPUTS, name);
      await rejects(() => canonicalStreamFromBytes(good.subarray(0, good.length - 100), size), 'truncated', /truncated JPEG/);
      await rejects(() => canonicalStreamFromBytes(good.subarray(0, 100), size), 'truncated', /truncated/);
    }
    await rejects(() => canonicalStreamFromBytes(Uint8Array.of(0xff, 0xd8, 0xff), size), 'truncated', /truncated/);
  });

  it('mutated inputs: only ImageInputErrors or images, each within a second', async () => {
    const sources = ['420.jpg', 'progressive.jpg', 'grey-progressive.jpg', 'restart.jpg', '444.jpg', 'rgb.png', 'palette4.png', 'rgba.png'].map((n) =>
      read(INPUTS, n),
    );
    const kinds = new Map<string, number>();
    for (let i = 0; i < 240; i++) {
      const src = sources[i % sources.length]!;
      let b = src.slice();
      const op = i % 3;
      if (op === 0) for (let k = 0; k < 1 + (i % 5); k++) b[Math.floor(rng.next() * b.length)]! ^= 1 << Math.floor(rng.next() * 8);
      else if (op === 1) b = b.slice(0, Math.floor(rng.next() * b.length));
      else for (let k = 0; k < 3; k++) b[Math.floor(rng.next() * b.length)] = Math.floor(rng.next() * 256);
      const t = performance.now();
      try {
        await canonicalStreamFromBytes(b, size);
        kinds.set('ok', (kinds.get('ok') ?? 0) + 1);
      } catch (e) {
        assert.ok(e instanceof ImageInputError, `input ${i}: ${String(e)}`);
        kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      }
      assert.ok(performance.now() - t < 1000, `input ${i} took ${(performance.now() - t).toFixed(0)} ms`);
    }
    assert.ok((kinds.get('ok') ?? 0) > 0 && (kinds.get('truncated') ?? 0) > 0, JSON.stringify(Object.fromEntries(kinds)));
  });
});

/**
 * A user's image file → the canonical JPEG stream of the image-completion model (issue #14): read the file with
 * its limits checked first, decode it, centre-crop it to the model's aspect ratio, resize it to the model's size
 * and encode it canonically (`src/codec/jpeg/encoder.ts`, byte-identical to the training pipeline's
 * `tools/codec/canonical_jpeg.py` for the same pixels).
 *
 * Limits, all enforced before any pixel is decoded: a regular file of 1 byte … 40 MiB; PNG or JPEG by signature;
 * width and height from the header each ≤ 8192; at most 64 scans in a JPEG. Every failure is an `ImageInputError`
 * with a sentence for the user (empty, too large, not an image, unsupported variant, corrupt, truncated).
 *
 * Decoders (no packages):
 * - PNG, own decoder on `node:zlib`, streamed row by row (memory ∝ one row, decompression stops when the image's
 *   rows are complete, so a zip bomb costs nothing): bit depths 1/2/4/8/16 of grey, RGB, palette, grey+alpha and
 *   RGBA, non-interlaced. Interlaced (Adam7) PNGs are refused ("unsupported PNG: interlaced …"). 16-bit samples keep
 *   their high byte; low-depth grey is scaled to 0…255. Alpha is dropped, not composited — what the training
 *   pipeline's `Image.convert('RGB')` does. Chunk CRCs are not checked.
 * - JPEG, `src/codec/jpeg/decoder.ts` (baseline and progressive Huffman, grey/YCbCr/RGB). EXIF orientation is not
 *   applied (nor is it by the training pipeline). When the crop is at least 2×, 4× or 8× the model size on both
 *   sides the JPEG is decoded at ½, ¼ or ⅛ size (reduced inverse DCTs; at ⅛ the block means), which bounds the
 *   time (and at ⅛ the memory) for large photos.
 *
 * Resize: exact area averaging (a box filter over each output pixel's footprint, fractional edges weighted), from
 * the centred crop of the largest W×H rectangle with the model's aspect ratio (for a square model: the centred
 * square of side min(W, H), offsets rounded down, as the training pipeline crops). A crop of exactly the model size
 * passes through unchanged; the resize does not match Pillow's bilinear one pixel for pixel, the encoding of the
 * same pixels does.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInflate } from 'node:zlib';
import { JpegFormatError } from '../codec/jpeg/markers';
import { decodeJpeg, probeJpeg } from '../codec/jpeg/decoder';
import { type RgbImage, encodeCanonicalStream } from '../codec/jpeg/encoder';
import { MAX_IMAGE_FILE_BYTES } from '../protocol/worker';

export type { RgbImage } from '../codec/jpeg/encoder';

export interface ImageLimits {
  /** Largest file in bytes. */
  readonly maxFileBytes: number;
  /** Largest width and height in pixels (each). */
  readonly maxSide: number;
  /** Most scans of a (progressive) JPEG. */
  readonly maxJpegScans: number;
}

export const IMAGE_LIMITS: ImageLimits = { maxFileBytes: MAX_IMAGE_FILE_BYTES, maxSide: 8192, maxJpegScans: 64 };

/** Most pixels a full-size decode into memory may have (`decodeImage`: 3 bytes each). */
const MAX_FULL_DECODE_PIXELS = 4096 * 4096;
/** Coefficient memory a full-scale JPEG decode may take. */
const MAX_JPEG_COEFFICIENT_BYTES = 192 * 1024 * 1024;

export type ImageErrorKind = 'not-a-file' | 'empty' | 'too-large' | 'unknown-format' | 'unsupported' | 'corrupt' | 'truncated' | 'bad-size';

/** An image that cannot be used, with the reason in words. */
export class ImageInputError extends Error {
  constructor(
    readonly kind: ImageErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'ImageInputError';
  }
}

export type ImageFormat = 'png' | 'jpeg';

export interface ImageHeader {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
}

export interface ModelSize {
  readonly width: number;
  readonly height: number;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v);
}

function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

function jpegError(e: unknown): ImageInputError {
  if (e instanceof ImageInputError) return e;
  if (e instanceof JpegFormatError) {
    const m = e.message;
    const kind: ImageErrorKind = m.startsWith('unsupported')
      ? 'unsupported'
      : m.startsWith('truncated')
        ? 'truncated'
        : m.includes('too large') || m.includes('more than')
          ? 'too-large'
          : 'corrupt';
    return new ImageInputError(kind, m.replace(/^corrupt JPEG data/, 'corrupt JPEG'));
  }
  throw e;
}

function checkSize(h: ImageHeader, limits: ImageLimits): ImageHeader {
  if (h.width < 1 || h.height < 1) throw new ImageInputError('corrupt', `corrupt ${h.format.toUpperCase()}: image size ${h.width}×${h.height}`);
  if (h.width > limits.maxSide || h.height > limits.maxSide) {
    throw new ImageInputError('too-large', `image is ${h.width}×${h.height} pixels; the limit is ${limits.maxSide}×${limits.maxSide}`);
  }
  return h;
}

/** Format and size from the first bytes (PNG IHDR, JPEG frame header); nothing is decoded. */
export function probeImage(bytes: Uint8Array, limits: ImageLimits = IMAGE_LIMITS): ImageHeader {
  if (bytes.length === 0) throw new ImageInputError('empty', 'the file is empty (0 bytes)');
  if (isPng(bytes)) {
    const { width, height } = readPngHeader(bytes);
    return checkSize({ format: 'png', width, height }, limits);
  }
  if (isJpeg(bytes)) {
    try {
      const info = probeJpeg(bytes);
      return checkSize({ format: 'jpeg', width: info.width, height: info.height }, limits);
    } catch (e) {
      throw jpegError(e);
    }
  }
  throw new ImageInputError('unknown-format', 'not a PNG or JPEG image');
}

/** The file's bytes, read through one descriptor with the size limit checked first (no FIFOs, devices, folders). */
export async function readImageFile(file: string, limits: ImageLimits = IMAGE_LIMITS): Promise<Uint8Array> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // Non-blocking, so that a FIFO (or a device) named as the image cannot stall the open; it is refused below.
    fh = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') throw new ImageInputError('not-a-file', `${file} is a folder, not an image file`);
    throw new ImageInputError('not-a-file', `cannot open ${file}: ${code === 'ENOENT' ? 'no such file' : ((e as Error).message ?? code)}`);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new ImageInputError('not-a-file', `${file} is a folder, not an image file`);
    if (!st.isFile()) throw new ImageInputError('not-a-file', `${file} is not a regular file`);
    if (st.size === 0) throw new ImageInputError('empty', `${file} is empty (0 bytes)`);
    if (st.size > limits.maxFileBytes) {
      throw new ImageInputError('too-large', `${file} is ${mib(st.size)}; the limit for images is ${mib(limits.maxFileBytes)}`);
    }
    // Read at most one byte more than the size said (and never more than the limit + 1, should the file grow).
    const buf = new Uint8Array(Math.min(st.size, limits.maxFileBytes) + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got === buf.length) break;
    }
    if (got > limits.maxFileBytes) throw new ImageInputError('too-large', `${file} is larger than the limit for images, ${mib(limits.maxFileBytes)}`);
    if (got === 0) throw new ImageInputError('empty', `${file} is empty (0 bytes)`);
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function mib(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

// --- PNG -----------------------------------------------------------------------------------------------------

interface PngHeader {
  readonly width: number;
  readonly height: number;
  readonly bitDepth: number;
  readonly colorType: number;
  readonly interlace: number;
}

const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const PNG_DEPTHS: Record<number, readonly number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
}

function readPngHeader(b: Uint8Array): PngHeader {
  if (b.length < 33) throw new ImageInputError('truncated', 'truncated PNG (the file ends inside its header)');
  const type = String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!);
  if (type !== 'IHDR' || u32(b, 8) !== 13) throw new ImageInputError('corrupt', 'corrupt PNG (the first chunk is not IHDR)');
  const h: PngHeader = { width: u32(b, 16), height: u32(b, 20), bitDepth: b[24]!, colorType: b[25]!, interlace: b[28]! };
  const depths = PNG_DEPTHS[h.colorType];
  if (!depths) throw new ImageInputError('corrupt', `corrupt PNG (colour type ${h.colorType})`);
  if (!depths.includes(h.bitDepth)) throw new ImageInputError('corrupt', `corrupt PNG (bit depth ${h.bitDepth} with colour type ${h.colorType})`);
  if (b[26] !== 0 || b[27] !== 0) throw new ImageInputError('unsupported', 'unsupported PNG (unknown compression or filter method)');
  if (h.interlace > 1) throw new ImageInputError('corrupt', `corrupt PNG (interlace method ${h.interlace})`);
  return h;
}

interface PngChunks {
  readonly header: PngHeader;
  readonly idat: Uint8Array[];
  readonly palette: Uint8Array | undefined;
}

function readPngChunks(b: Uint8Array): PngChunks {
  const header = readPngHeader(b);
  if (header.interlace === 1) throw new ImageInputError('unsupported', 'unsupported PNG: interlaced (Adam7); save it without interlacing');
  const idat: Uint8Array[] = [];
  let palette: Uint8Array | undefined;
  let i = 8;
  for (;;) {
    if (i + 8 > b.length) {
      if (idat.length) break; // no IEND: accepted when the image data is complete (checked while inflating)
      throw new ImageInputError('truncated', 'truncated PNG (no image data)');
    }
    const length = u32(b, i);
    const type = String.fromCharCode(b[i + 4]!, b[i + 5]!, b[i + 6]!, b[i + 7]!);
    if (length > b.length - i - 12) {
      if (type === 'IDAT' && i + 8 < b.length) {
        // A cut-off last IDAT: give the inflater what there is; it reports the image as truncated.
        idat.push(b.subarray(i + 8));
        break;
      }
      throw new ImageInputError('truncated', `truncated PNG (chunk ${printable(type)} runs past the end of the file)`);
    }
    const data = b.subarray(i + 8, i + 8 + length);
    if (type === 'IDAT') idat.push(data);
    else if (type === 'PLTE') palette = data;
    else if (type === 'IEND') break;
    i += 12 + length;
  }
  if (!idat.length) throw new ImageInputError('corrupt', 'corrupt PNG (no IDAT chunk)');
  if (header.colorType === 3 && !palette) throw new ImageInputError('corrupt', 'corrupt PNG (palette image without a PLTE chunk)');
  return { header, idat, palette };
}

function printable(type: string): string {
  return /^[A-Za-z]{4}$/.test(type) ? type : 'of an unknown type';
}

/** The decoded PNG's rows as RGB, through `onRow`, streamed from the inflater. */
async function decodePngRows(b: Uint8Array, onRow: (row: Uint8Array, y: number) => void): Promise<ImageHeader> {
  const { header: h, idat, palette } = readPngChunks(b);
  const channels = PNG_CHANNELS[h.colorType]!;
  const bitsPerPixel = channels * h.bitDepth;
  const rowBytes = Math.ceil((h.width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  let prev = new Uint8Array(rowBytes);
  let cur = new Uint8Array(rowBytes);
  const rgb = new Uint8Array(h.width * 3);
  let filter = -1;
  let filled = 0;
  let y = 0;

  const finishRow = (): void => {
    unfilter(filter, cur, prev, bpp);
    toRgb(h, cur, rgb, palette);
    onRow(rgb, y++);
    const t = prev;
    prev = cur;
    cur = t;
    filter = -1;
    filled = 0;
  };

  await new Promise<void>((resolve, reject) => {
    const inflate = createInflate();
    let settled = false;
    const settle = (e?: ImageInputError): void => {
      if (settled) return;
      settled = true;
      inflate.removeAllListeners('data');
      inflate.destroy();
      if (e) reject(e);
      else resolve();
    };
    inflate.on('data', (chunk: Buffer) => {
      try {
        let at = 0;
        while (at < chunk.length && y < h.height) {
          if (filter < 0) {
            filter = chunk[at++]!;
            if (filter > 4) throw new ImageInputError('corrupt', `corrupt PNG (row ${y} has filter type ${filter})`);
            if (rowBytes === 0) finishRow();
            continue;
          }
          const n = Math.min(rowBytes - filled, chunk.length - at);
          cur.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === rowBytes) finishRow();
        }
        if (y >= h.height) settle();
      } catch (e) {
        settle(e instanceof ImageInputError ? e : new ImageInputError('corrupt', `corrupt PNG (${(e as Error).message})`));
      }
    });
    inflate.on('error', (e) => {
      const truncated = (e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR';
      settle(
        truncated
          ? new ImageInputError('truncated', `truncated PNG (image data ends at row ${y} of ${h.height})`)
          : new ImageInputError('corrupt', `corrupt PNG image data (${e.message})`),
      );
    });
    inflate.on('end', () => {
      if (y < h.height) settle(new ImageInputError('truncated', `truncated PNG (image data ends at row ${y} of ${h.height})`));
      else settle();
    });
    for (const part of idat) inflate.write(part);
    inflate.end();
  });
  return { format: 'png', width: h.width, height: h.height };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** PNG filter reversal (PNG spec §9) of `cur` in place, given the previous reconstructed row. */
function unfilter(filter: number, cur: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = cur.length;
  switch (filter) {
    case 1:
      for (let i = bpp; i < n; i++) cur[i] = (cur[i]! + cur[i - bpp]!) & 0xff;
      break;
    case 2:
      for (let i = 0; i < n; i++) cur[i] = (cur[i]! + prev[i]!) & 0xff;
      break;
    case 3:
      for (let i = 0; i < n; i++) cur[i] = (cur[i]! + (((i >= bpp ? cur[i - bpp]! : 0) + prev[i]!) >> 1)) & 0xff;
      break;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? cur[i - bpp]! : 0;
        const c = i >= bpp ? prev[i - bpp]! : 0;
        cur[i] = (cur[i]! + paeth(a, prev[i]!, c)) & 0xff;
      }
      break;
    default:
      break;
  }
}

/** One reconstructed PNG row → RGB (alpha dropped, 16-bit → high byte, low-depth grey scaled, palette looked up). */
function toRgb(h: PngHeader, row: Uint8Array, out: Uint8Array, palette: Uint8Array | undefined): void {
  const w = h.width;
  const d = h.bitDepth;
  if (d < 8) {
    const perByte = 8 / d;
    const mask = (1 << d) - 1;
    const scale = h.colorType === 0 ? 255 / mask : 1;
    for (let x = 0; x < w; x++) {
      const v = (row[Math.floor(x / perByte)]! >> (8 - d * ((x % perByte) + 1))) & mask;
      if (h.colorType === 3) {
        out[3 * x] = palette![3 * v] ?? 0;
        out[3 * x + 1] = palette![3 * v + 1] ?? 0;
        out[3 * x + 2] = palette![3 * v + 2] ?? 0;
      } else {
        const g = Math.round(v * scale);
        out[3 * x] = g;
        out[3 * x + 1] = g;
        out[3 * x + 2] = g;
      }
    }
    return;
  }
  const step = (PNG_CHANNELS[h.colorType]! * d) / 8;
  const s = d / 8; // bytes per sample; the high byte comes first
  for (let x = 0, i = 0; x < w; x++, i += step) {
    switch (h.colorType) {
      case 0:
      case 4: {
        const g = row[i]!;
        out[3 * x] = g;
        out[3 * x + 1] = g;
        out[3 * x + 2] = g;
        break;
      }
      case 3: {
        const v = row[i]!;
        out[3 * x] = palette![3 * v] ?? 0;
        out[3 * x + 1] = palette![3 * v + 1] ?? 0;
        out[3 * x + 2] = palette![3 * v + 2] ?? 0;
        break;
      }
      default:
        out[3 * x] = row[i]!;
        out[3 * x + 1] = row[i + s]!;
        out[3 * x + 2] = row[i + 2 * s]!;
    }
  }
}

// --- crop and resize -----------------------------------------------------------------------------------------

export interface CropRect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** The centred crop of a `width`×`height` image with the aspect ratio of `size` (integer pixels, offsets floored). */
export function centreCrop(width: number, height: number, size: ModelSize): CropRect {
  let cw = width;
  let ch = height;
  if (width * size.height > height * size.width) cw = Math.max(1, Math.floor((height * size.width) / size.height));
  else ch = Math.max(1, Math.floor((width * size.height) / size.width));
  return { left: Math.floor((width - cw) / 2), top: Math.floor((height - ch) / 2), width: cw, height: ch };
}

/**
 * Area-average resampling of the rectangle `rect` (source pixel units, may be fractional) of a source image whose
 * RGB rows arrive one at a time, to `outW`×`outH`: each output pixel is the mean of the source over its footprint,
 * partly covered pixels weighted by the covered fraction. Memory: the output and one row.
 */
export class AreaResampler {
  private readonly acc: Float64Array;
  private readonly hrow: Float64Array;
  private readonly colFirst: Int32Array;
  private readonly colCount: Int32Array;
  private readonly colWeights: Float64Array;
  private readonly sy: number;

  constructor(
    srcWidth: number,
    private readonly rect: CropRect,
    private readonly outW: number,
    private readonly outH: number,
  ) {
    this.acc = new Float64Array(outW * outH * 3);
    this.hrow = new Float64Array(outW * 3);
    const sx = rect.width / outW;
    this.sy = rect.height / outH;
    this.colFirst = new Int32Array(outW);
    this.colCount = new Int32Array(outW);
    const weights: number[] = [];
    for (let j = 0; j < outW; j++) {
      const a = rect.left + j * sx;
      const b = rect.left + (j + 1) * sx;
      const first = Math.max(0, Math.floor(a));
      const last = Math.min(srcWidth - 1, Math.ceil(b) - 1);
      this.colFirst[j] = first;
      this.colCount[j] = Math.max(0, last - first + 1);
      for (let i = first; i <= last; i++) weights.push(Math.max(0, Math.min(b, i + 1) - Math.max(a, i)));
    }
    this.colWeights = Float64Array.from(weights);
  }

  /** Source row `y` (3 bytes per pixel, `srcWidth` pixels). */
  push(row: Uint8Array, y: number): void {
    const { rect, outW, outH, sy } = this;
    const top = rect.top;
    const bottom = rect.top + rect.height;
    if (y + 1 <= top || y >= bottom) return;
    const { hrow, colFirst, colCount, colWeights } = this;
    hrow.fill(0);
    for (let j = 0, w = 0; j < outW; j++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = 0, i = colFirst[j]! * 3; k < colCount[j]!; k++, i += 3, w++) {
        const wt = colWeights[w]!;
        r += wt * row[i]!;
        g += wt * row[i + 1]!;
        b += wt * row[i + 2]!;
      }
      hrow[3 * j] = r;
      hrow[3 * j + 1] = g;
      hrow[3 * j + 2] = b;
    }
    const firstOut = Math.max(0, Math.floor((Math.max(y, top) - top) / sy));
    for (let k = firstOut; k < outH; k++) {
      const a = top + k * sy;
      const b = top + (k + 1) * sy;
      if (a >= y + 1) break;
      const wt = Math.min(b, y + 1) - Math.max(a, y);
      if (wt <= 0) continue;
      const o = k * outW * 3;
      for (let j = 0; j < outW * 3; j++) this.acc[o + j]! += wt * hrow[j]!;
    }
  }

  /** The resampled image. */
  result(): RgbImage {
    const area = (this.rect.width / this.outW) * this.sy;
    const data = new Uint8Array(this.acc.length);
    for (let i = 0; i < data.length; i++) {
      const v = Math.round(this.acc[i]! / area);
      data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    return { width: this.outW, height: this.outH, data };
  }
}

// --- the pipeline --------------------------------------------------------------------------------------------

function checkModelSize(size: ModelSize): void {
  for (const side of [size.width, size.height]) {
    if (!Number.isInteger(side) || side < 16 || side > 4096 || side % 16) {
      throw new ImageInputError('bad-size', `model image size ${size.width}×${size.height}: each side must be a multiple of 16 within 16…4096`);
    }
  }
}

/** Decodes `bytes` (PNG or JPEG), centre-crops to the aspect ratio of `size` and area-resizes to `size`. */
export async function fitImage(bytes: Uint8Array, size: ModelSize, limits: ImageLimits = IMAGE_LIMITS): Promise<RgbImage> {
  checkModelSize(size);
  const header = probeImage(bytes, limits);
  const crop = centreCrop(header.width, header.height, size);
  if (header.format === 'png') {
    const rs = new AreaResampler(header.width, crop, size.width, size.height);
    await decodePngRows(bytes, (row, y) => rs.push(row, y));
    return rs.result();
  }
  const scale = ([8, 4, 2] as const).find((f) => crop.width >= f * size.width && crop.height >= f * size.height) ?? 1;
  const rect = { left: crop.left / scale, top: crop.top / scale, width: crop.width / scale, height: crop.height / scale };
  const rs = new AreaResampler(Math.ceil(header.width / scale), rect, size.width, size.height);
  try {
    decodeJpeg(bytes, { scale, maxScans: limits.maxJpegScans, maxCoefficientBytes: MAX_JPEG_COEFFICIENT_BYTES, onRow: (row, y) => rs.push(row, y) });
  } catch (e) {
    throw jpegError(e);
  }
  return rs.result();
}

/** The whole image as RGB at full size (for tests and previews); the same limits, and at most 4096×4096 pixels. */
export async function decodeImage(bytes: Uint8Array, limits: ImageLimits = IMAGE_LIMITS): Promise<RgbImage> {
  const header = probeImage(bytes, limits);
  if (header.width * header.height > MAX_FULL_DECODE_PIXELS)
    throw new ImageInputError('too-large', `image is ${header.width}×${header.height} pixels, too many to decode whole`);
  const data = new Uint8Array(header.width * header.height * 3);
  const onRow = (row: Uint8Array, y: number): void => data.set(row, y * header.width * 3);
  if (header.format === 'png') await decodePngRows(bytes, onRow);
  else {
    try {
      decodeJpeg(bytes, { maxScans: limits.maxJpegScans, maxCoefficientBytes: MAX_JPEG_COEFFICIENT_BYTES, onRow });
    } catch (e) {
      throw jpegError(e);
    }
  }
  return { width: header.width, height: header.height, data };
}

/** The canonical image-only stream of image bytes at the model's size. */
export async function canonicalStreamFromBytes(bytes: Uint8Array, size: ModelSize, limits: ImageLimits = IMAGE_LIMITS): Promise<Uint8Array> {
  return encodeCanonicalStream(await fitImage(bytes, size, limits));
}

/**
 * The canonical image-only stream (header, entropy data with a restart marker after every MCU, EOI) of the image
 * file `file` centre-cropped and resized to `size` (each side a multiple of 16). Throws `ImageInputError`.
 */
export async function canonicalImageStream(file: string, size: { width: number; height: number }): Promise<Uint8Array> {
  checkModelSize(size);
  const bytes = await readImageFile(file);
  try {
    return await canonicalStreamFromBytes(bytes, size);
  } catch (e) {
    if (e instanceof ImageInputError) throw new ImageInputError(e.kind, `${file}: ${e.message}`);
    throw e;
  }
}

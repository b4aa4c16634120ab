/**
 * RGB pixels → the canonical image-only stream, byte for byte what the training pipeline writes for the same pixels
 * (`tools/codec/canonical_jpeg.py`: Pillow 9.4 on libjpeg-turbo 2.1.5 at quality 25, 4:2:0, then `jpegtran -restart
 * 1B`, then the tables stripped). That pipeline is libjpeg's default compression path, which this module follows
 * step by step (the behaviour is documented in libjpeg's `libjpeg.txt`/`structure.txt` and fixed by T.81):
 *
 * - colour conversion (JFIF RGB → YCbCr) in 16-bit fixed point: coefficients rounded to multiples of 2⁻¹⁶, ½ added
 *   to Y and ½ − 2⁻¹⁶ to Cb/Cr (so 255 cannot round up to 256), truncated;
 * - 4:2:0 chroma: each 2×2 block averaged as (sum + bias) >> 2 with the bias alternating 1, 2, 1, 2 … along each
 *   output row (libjpeg's `h2v2_downsample`, no smoothing: Pillow's `smooth` defaults to 0);
 * - the default `JDCT_ISLOW` forward DCT (Pillow sets no DCT method): the Loeffler–Ligtenberg–Moschytz factorisation
 *   in 13-bit fixed point, rows first with results kept 2 bits larger (PASS1_BITS), then columns, each rounded
 *   product sum descaled by an arithmetic shift; the output is 8× the orthonormal DCT;
 * - quantisation: the coefficient divided by 8·Q, rounded half away from zero (|c| + ⌊8Q/2⌋) / 8Q truncated, sign
 *   restored. libjpeg-turbo computes this with a multiply by a corrected reciprocal; that method is exact for every
 *   coefficient an 8-bit image can produce (checked exhaustively in test/unit/codec-jpeg-encoder.test.ts);
 * - quality 25 tables (every Annex K entry doubled, `tables.ts`), the standard Annex K Huffman tables (Pillow's
 *   `optimize` is off), sequential baseline, one scan with Y, Cb, Cr interleaved;
 * - `jpegtran -restart 1B` re-encodes the same coefficients with a restart interval of one MCU: after every MCU but
 *   the last the bit buffer is padded with 1-bits and RSTn (n = 0…7 cyclically) follows, and every MCU starts with
 *   DC predictions of 0; after the last MCU the padding and EOI.
 *
 * Width and height must be multiples of 16 (whole MCUs: libjpeg's edge replication is not needed, and the model
 * sizes are such multiples).
 */
import { type JpegGeometry, MCU_SIZE, canonicalHeader, checkGeometry } from './canonical';
import { type HuffmanCodes, huffmanCodes } from './huffman';
import { EOI, RST0 } from './markers';
import {
  CANONICAL_QUALITY,
  K1_LUMINANCE_QUANT,
  K2_CHROMINANCE_QUANT,
  STD_AC_CHROMINANCE,
  STD_AC_LUMINANCE,
  STD_DC_CHROMINANCE,
  STD_DC_LUMINANCE,
  ZIGZAG,
  scaleQuantTable,
} from './tables';

/** Pixels, 3 bytes (R, G, B) per pixel, rows top to bottom. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

// --- colour conversion ---------------------------------------------------------------------------------------

const SCALE_BITS = 16;
const fix16 = (x: number): number => Math.floor(x * (1 << SCALE_BITS) + 0.5);
const Y_R = fix16(0.299);
const Y_G = fix16(0.587);
const Y_B = fix16(0.114);
const CB_R = -fix16(0.16874);
const CB_G = -fix16(0.33126);
const CR_G = -fix16(0.41869);
const CR_B = -fix16(0.08131);
const HALF = fix16(0.5);
/** ½ for Y; 128 + ½ − 2⁻¹⁶ for Cb and Cr. */
const Y_ROUND = 1 << (SCALE_BITS - 1);
const C_ROUND = (128 << SCALE_BITS) + (1 << (SCALE_BITS - 1)) - 1;

/** The three full-resolution planes of libjpeg's RGB → YCbCr conversion. */
export function rgbToYCbCr(image: RgbImage): { y: Uint8Array; cb: Uint8Array; cr: Uint8Array } {
  const n = image.width * image.height;
  const { data } = image;
  const y = new Uint8Array(n);
  const cb = new Uint8Array(n);
  const cr = new Uint8Array(n);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const r = data[p]!;
    const g = data[p + 1]!;
    const b = data[p + 2]!;
    y[i] = (Y_R * r + Y_G * g + Y_B * b + Y_ROUND) >> SCALE_BITS;
    cb[i] = (CB_R * r + CB_G * g + HALF * b + C_ROUND) >> SCALE_BITS;
    cr[i] = (HALF * r + CR_G * g + CR_B * b + C_ROUND) >> SCALE_BITS;
  }
  return { y, cb, cr };
}

/** 2×2 averages with libjpeg's alternating bias (1, 2, 1, 2 … along each output row). */
export function downsample2x2(plane: Uint8Array, width: number, height: number): Uint8Array {
  const w = width >> 1;
  const h = height >> 1;
  const out = new Uint8Array(w * h);
  for (let oy = 0; oy < h; oy++) {
    const r0 = 2 * oy * width;
    const r1 = r0 + width;
    for (let ox = 0, bias = 1; ox < w; ox++, bias ^= 3) {
      const x = 2 * ox;
      out[oy * w + ox] = (plane[r0 + x]! + plane[r0 + x + 1]! + plane[r1 + x]! + plane[r1 + x + 1]! + bias) >> 2;
    }
  }
  return out;
}

// --- forward DCT (islow) -------------------------------------------------------------------------------------

const CONST_BITS = 13;
const PASS1_BITS = 2;
const fix13 = (x: number): number => Math.floor(x * (1 << CONST_BITS) + 0.5);
const F_0_298 = fix13(0.298631336);
const F_0_390 = fix13(0.390180644);
const F_0_541 = fix13(0.5411961);
const F_0_765 = fix13(0.765366865);
const F_0_899 = fix13(0.899976223);
const F_1_175 = fix13(1.175875602);
const F_1_501 = fix13(1.50132111);
const F_1_847 = fix13(1.847759065);
const F_1_961 = fix13(1.96157056);
const F_2_053 = fix13(2.053119869);
const F_2_562 = fix13(2.562915447);
const F_3_072 = fix13(3.072711026);

/** Rounding right shift (x + 2^(n−1)) >> n; every sum here stays well inside 32 bits. */
const descale = (x: number, n: number): number => (x + (1 << (n - 1))) >> n;

/**
 * One 1-D pass of the islow DCT over 8 values at `base`, `base + step`, … of `d`, in place. Pass 1 (rows) keeps the
 * results PASS1_BITS larger; pass 2 (columns) removes that scale again.
 */
function fdct8(d: Int32Array, base: number, step: number, pass2: boolean): void {
  const i0 = base;
  const i1 = base + step;
  const i2 = base + 2 * step;
  const i3 = base + 3 * step;
  const i4 = base + 4 * step;
  const i5 = base + 5 * step;
  const i6 = base + 6 * step;
  const i7 = base + 7 * step;
  const tmp0 = d[i0]! + d[i7]!;
  const tmp7 = d[i0]! - d[i7]!;
  const tmp1 = d[i1]! + d[i6]!;
  const tmp6 = d[i1]! - d[i6]!;
  const tmp2 = d[i2]! + d[i5]!;
  const tmp5 = d[i2]! - d[i5]!;
  const tmp3 = d[i3]! + d[i4]!;
  const tmp4 = d[i3]! - d[i4]!;

  // Even part.
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  const shift = pass2 ? CONST_BITS + PASS1_BITS : CONST_BITS - PASS1_BITS;
  if (pass2) {
    d[i0] = descale(tmp10 + tmp11, PASS1_BITS);
    d[i4] = descale(tmp10 - tmp11, PASS1_BITS);
  } else {
    d[i0] = (tmp10 + tmp11) << PASS1_BITS;
    d[i4] = (tmp10 - tmp11) << PASS1_BITS;
  }
  const ze = (tmp12 + tmp13) * F_0_541;
  d[i2] = descale(ze + tmp13 * F_0_765, shift);
  d[i6] = descale(ze - tmp12 * F_1_847, shift);

  // Odd part.
  const z1 = -(tmp4 + tmp7) * F_0_899;
  const z2 = -(tmp5 + tmp6) * F_2_562;
  const z5 = (tmp4 + tmp6 + tmp5 + tmp7) * F_1_175;
  const z3 = -(tmp4 + tmp6) * F_1_961 + z5;
  const z4 = -(tmp5 + tmp7) * F_0_390 + z5;
  d[i7] = descale(tmp4 * F_0_298 + z1 + z3, shift);
  d[i5] = descale(tmp5 * F_2_053 + z2 + z4, shift);
  d[i3] = descale(tmp6 * F_3_072 + z2 + z3, shift);
  d[i1] = descale(tmp7 * F_1_501 + z1 + z4, shift);
}

/** islow forward DCT of 64 level-shifted samples (natural order), in place; results are 8× the orthonormal DCT. */
export function forwardDctIslow(block: Int32Array): void {
  for (let row = 0; row < 8; row++) fdct8(block, row * 8, 1, false);
  for (let col = 0; col < 8; col++) fdct8(block, col, 8, true);
}

/** Quantised value of a DCT output `c` for divisor `q8` (8 × the table entry): round half away from zero. */
export function quantize(c: number, q8: number): number {
  const half = q8 >> 1;
  return c < 0 ? -Math.floor((half - c) / q8) : Math.floor((c + half) / q8);
}

// --- entropy coding ------------------------------------------------------------------------------------------

/** Bits into bytes, with a stuffed 00 after every FF data byte (T.81 B.1.1.5). */
class BitWriter {
  private buf: Uint8Array;
  private len = 0;
  private acc = 0;
  private bits = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }

  private byte(b: number): void {
    if (this.len + 2 > this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.len++] = b;
  }

  /** Appends bytes outside the entropy-coded data (header, markers); the bit buffer must be empty. */
  raw(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i]!);
  }

  /** The low `n` (0…16) bits of `value`, most significant first. */
  write(value: number, n: number): void {
    this.acc = (this.acc << n) | (value & ((1 << n) - 1));
    this.bits += n;
    while (this.bits >= 8) {
      this.bits -= 8;
      const b = (this.acc >> this.bits) & 0xff;
      this.byte(b);
      if (b === 0xff) this.byte(0);
    }
    this.acc &= (1 << this.bits) - 1;
  }

  /** Pads the last byte with 1-bits (before a marker). */
  pad(): void {
    if (this.bits > 0) this.write(0x7f, 8 - this.bits);
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Magnitude category of a value (bits needed for |v|), 0 for 0. */
function category(v: number): number {
  let a = v < 0 ? -v : v;
  let n = 0;
  while (a) {
    n++;
    a >>= 1;
  }
  return n;
}

interface ComponentCoder {
  readonly quant8: Int32Array;
  readonly dc: HuffmanCodes;
  readonly ac: HuffmanCodes;
}

function writeSymbol(out: BitWriter, codes: HuffmanCodes, symbol: number): void {
  const len = codes.length[symbol]!;
  if (!len) throw new Error(`no Huffman code for symbol ${symbol}`);
  out.write(codes.code[symbol]!, len);
}

/** DCT, quantisation and Huffman coding of one 8×8 block read from `plane` at (x, y); returns the DC value. */
function encodeBlock(out: BitWriter, plane: Uint8Array, stride: number, x: number, y: number, coder: ComponentCoder, prevDc: number, work: Int32Array): number {
  for (let r = 0; r < 8; r++) {
    const row = (y + r) * stride + x;
    for (let c = 0; c < 8; c++) work[r * 8 + c] = plane[row + c]! - 128;
  }
  forwardDctIslow(work);
  const dc = quantize(work[0]!, coder.quant8[0]!);
  const diff = dc - prevDc;
  const dcCat = category(diff);
  writeSymbol(out, coder.dc, dcCat);
  if (dcCat) out.write(diff < 0 ? diff - 1 : diff, dcCat);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const at = ZIGZAG[k]!;
    const v = quantize(work[at]!, coder.quant8[at]!);
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      writeSymbol(out, coder.ac, 0xf0);
      run -= 16;
    }
    const cat = category(v);
    writeSymbol(out, coder.ac, (run << 4) | cat);
    out.write(v < 0 ? v - 1 : v, cat);
    run = 0;
  }
  if (run > 0) writeSymbol(out, coder.ac, 0x00);
  return dc;
}

let coders: { luma: ComponentCoder; chroma: ComponentCoder } | undefined;

function componentCoders(): { luma: ComponentCoder; chroma: ComponentCoder } {
  coders ??= {
    luma: {
      quant8: Int32Array.from(scaleQuantTable(K1_LUMINANCE_QUANT, CANONICAL_QUALITY), (q) => q * 8),
      dc: huffmanCodes(STD_DC_LUMINANCE),
      ac: huffmanCodes(STD_AC_LUMINANCE),
    },
    chroma: {
      quant8: Int32Array.from(scaleQuantTable(K2_CHROMINANCE_QUANT, CANONICAL_QUALITY), (q) => q * 8),
      dc: huffmanCodes(STD_DC_CHROMINANCE),
      ac: huffmanCodes(STD_AC_CHROMINANCE),
    },
  };
  return coders;
}

/** Checks that `image` is whole MCUs of RGB bytes. */
export function checkEncodable(image: RgbImage): JpegGeometry {
  const g = { width: image.width, height: image.height };
  checkGeometry(g);
  if (g.width % MCU_SIZE || g.height % MCU_SIZE) throw new RangeError(`image size ${g.width}×${g.height} is not a multiple of ${MCU_SIZE} on both sides`);
  if (image.data.length !== g.width * g.height * 3) throw new RangeError(`expected ${g.width * g.height * 3} RGB bytes, got ${image.data.length}`);
  return g;
}

/** The canonical image-only stream (header, entropy data with a restart marker after every MCU, EOI) of `image`. */
export function encodeCanonicalStream(image: RgbImage): Uint8Array {
  const g = checkEncodable(image);
  const { width, height } = g;
  const { y, cb, cr } = rgbToYCbCr(image);
  const cw = width >> 1;
  const cbSmall = downsample2x2(cb, width, height);
  const crSmall = downsample2x2(cr, width, height);
  const { luma, chroma } = componentCoders();
  const out = new BitWriter(width * height + 1024);
  out.raw(canonicalHeader(g));
  const work = new Int32Array(64);
  const mcusPerRow = width / MCU_SIZE;
  const mcuCount = mcusPerRow * (height / MCU_SIZE);
  for (let m = 0; m < mcuCount; m++) {
    const mx = (m % mcusPerRow) * MCU_SIZE;
    const my = Math.floor(m / mcusPerRow) * MCU_SIZE;
    // A restart interval of one MCU: every MCU starts with DC predictions of 0.
    let dc = 0;
    for (let b = 0; b < 4; b++) dc = encodeBlock(out, y, width, mx + (b & 1) * 8, my + (b >> 1) * 8, luma, dc, work);
    encodeBlock(out, cbSmall, cw, mx >> 1, my >> 1, chroma, 0, work);
    encodeBlock(out, crSmall, cw, mx >> 1, my >> 1, chroma, 0, work);
    out.pad();
    out.raw([0xff, m === mcuCount - 1 ? EOI : RST0 + (m % 8)]);
  }
  return out.bytes();
}

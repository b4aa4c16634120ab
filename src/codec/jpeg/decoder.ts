/**
 * A JPEG decoder for user images (the input side of image completion), written for bounded behaviour on hostile
 * input rather than for speed or bit-exactness with libjpeg: Huffman-coded 8-bit sequential (SOF0, SOF1) and
 * progressive (SOF2) JPEGs with one (grey) or three (YCbCr, or RGB by Adobe/component ids) components and any
 * sampling factors 1…4; restart intervals. Not supported, each with a clear `JpegFormatError`: arithmetic coding,
 * lossless and hierarchical modes, 12-bit samples, DNL-defined heights, CMYK/YCCK (4 components).
 *
 * Bounds: `probeJpeg` reads only the marker segments up to the frame header (so sizes are checked before any
 * decoding); `decodeJpeg` refuses more than `maxScans` scans and more coefficient memory than `maxCoefficientBytes`;
 * every loop advances through the bytes or through a finite block count, so the work is bounded by the stream length
 * plus (scans × blocks). Entropy-coded data that ends at a marker a little early is zero-filled (libjpeg's
 * "premature end of data segment" warning), more than 2048 bits early it is an error (so a small file cannot claim a
 * huge image's worth of work); a file that ends inside a scan is an error ("truncated"), as it is for Pillow.
 *
 * `scale` 2, 4 or 8 decodes at ½, ¼ or ⅛ size: each 8×8 block becomes 8/scale × 8/scale samples, from an inverse
 * DCT of its lowest frequencies only (at ⅛ one sample per block, its DC term: the block mean; AC scans of
 * progressive files are then skipped unread). The caller uses it when it shrinks the image by that much anyway.
 *
 * Output: RGB rows, top to bottom, through `onRow` (the row buffer is reused: copy what you keep). Upsampling of
 * subsampled chroma replicates samples (nearest); the inverse DCT is the separable float one; YCbCr → RGB uses the
 * JFIF equations, rounded and clamped.
 */
import { JpegFormatError, hex } from './markers';

export interface JpegInfo {
  readonly width: number;
  readonly height: number;
  readonly components: number;
  readonly progressive: boolean;
  /** Offset of the frame header (SOFn). */
  readonly frameOffset: number;
}

export interface JpegDecodeOptions {
  /** Output size 1/scale of the image's (rounded up): 1 (default), 2, 4 or 8. */
  readonly scale?: 1 | 2 | 4 | 8;
  /** Most scans accepted (a progressive file has about 10); default 64. */
  readonly maxScans?: number;
  /** Most bytes of coefficient storage; default 256 MiB. */
  readonly maxCoefficientBytes?: number;
  /** Called with each output row (3 bytes per pixel; reused between calls) and its index. */
  readonly onRow: (row: Uint8Array, y: number) => void;
}

export interface JpegDecodeResult {
  /** Size of the output: ⌈W/scale⌉ × ⌈H/scale⌉. */
  readonly width: number;
  readonly height: number;
  readonly scans: number;
}

const SOF_NAMES: Record<number, string> = {
  0xc3: 'lossless JPEG (SOF3)',
  0xc5: 'hierarchical JPEG (SOF5)',
  0xc6: 'hierarchical progressive JPEG (SOF6)',
  0xc7: 'hierarchical lossless JPEG (SOF7)',
  0xc9: 'arithmetic-coded JPEG (SOF9)',
  0xca: 'arithmetic-coded progressive JPEG (SOF10)',
  0xcb: 'arithmetic-coded lossless JPEG (SOF11)',
  0xcd: 'arithmetic-coded hierarchical JPEG (SOF13)',
  0xce: 'arithmetic-coded hierarchical progressive JPEG (SOF14)',
  0xcf: 'arithmetic-coded hierarchical lossless JPEG (SOF15)',
};

/** Zig-zag index → natural index (T.81 Figure A.6), plus 16 guard entries for corrupt runs past 63. */
const NATURAL: Int32Array = (() => {
  const out = new Int32Array(80).fill(63);
  let k = 0;
  for (let d = 0; d < 15; d++) {
    const cells: number[] = [];
    for (let row = Math.max(0, d - 7); row <= Math.min(7, d); row++) cells.push(row * 8 + (d - row));
    if (d % 2 === 0) cells.reverse();
    for (const c of cells) out[k++] = c;
  }
  return out;
})();

interface Component {
  readonly id: number;
  readonly h: number;
  readonly v: number;
  readonly tq: number;
  /** Blocks per line and per column of the MCU-padded component. */
  blocksPerLine: number;
  blocksPerColumn: number;
  /** Blocks that hold image samples (a non-interleaved scan covers only these). */
  usedBlocksX: number;
  usedBlocksY: number;
  /** 64 coefficients per block (natural order), or one DC per block with `dcOnly`. */
  coefs: Int16Array | Int32Array;
  pred: number;
}

interface HuffTable {
  /** 9-bit lookahead: (length << 8) | symbol, 0 where the code is longer. */
  readonly fast: Int32Array;
  readonly maxcode: Int32Array;
  readonly valptr: Int32Array;
  readonly mincode: Int32Array;
  readonly values: Uint8Array;
}

const FAST_BITS = 9;
/** Zero bits a scan may read past where its data ends (at a marker) before it is called corrupt: a few blocks, as
 *  libjpeg zero-fills with a warning; more would let a small file claim a huge image's worth of decoding work. */
const MAX_OVERRUN_BITS = 2048;

function buildHuffTable(counts: Uint8Array, values: Uint8Array, offset: number): HuffTable {
  const maxcode = new Int32Array(18).fill(-1);
  const valptr = new Int32Array(17);
  const mincode = new Int32Array(17);
  const fast = new Int32Array(1 << FAST_BITS);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1]!;
    if (n) {
      valptr[len] = k;
      mincode[len] = code;
      for (let i = 0; i < n; i++, k++, code++) {
        if (len <= FAST_BITS) {
          const shift = FAST_BITS - len;
          for (let j = 0; j < 1 << shift; j++) fast[(code << shift) | j] = (len << 8) | values[k]!;
        }
      }
      maxcode[len] = code - 1;
    }
    if (code > 1 << len) throw new JpegFormatError('bad Huffman table (too many codes)', offset);
    code <<= 1;
  }
  maxcode[17] = 0x7fffffff;
  return { fast, maxcode, valptr, mincode, values };
}

/** Bits of entropy-coded data: stuffed 00 removed, zeros supplied at a marker or at the end of the file. */
class BitReader {
  private acc = 0;
  private bits = 0;
  /** Zero bits supplied beyond the data (still in `acc` or consumed). */
  private phantom = 0;
  /** The data ran out at the end of the file (not at a marker). */
  endOfFile = false;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  private fill(): void {
    while (this.bits <= 24) {
      let b = 0;
      const d = this.data;
      if (this.pos >= d.length) {
        this.endOfFile = true;
        this.phantom += 8;
      } else if (d[this.pos] === 0xff) {
        const next = d[this.pos + 1];
        if (next === 0x00) {
          b = 0xff;
          this.pos += 2;
        } else if (next === 0xff) {
          // Fill bytes before a marker.
          this.pos++;
          continue;
        } else {
          if (next === undefined) this.endOfFile = true;
          this.phantom += 8;
        }
      } else {
        b = d[this.pos++]!;
      }
      this.acc = (this.acc << 8) | b;
      this.bits += 8;
    }
  }

  /** Bits consumed beyond the data. */
  overrun(): number {
    return Math.max(0, this.phantom - this.bits);
  }

  bit(): number {
    if (this.bits < 1) this.fill();
    this.bits--;
    return (this.acc >>> this.bits) & 1;
  }

  read(n: number): number {
    if (n === 0) return 0;
    if (this.bits < n) this.fill();
    this.bits -= n;
    return (this.acc >>> this.bits) & ((1 << n) - 1);
  }

  /** T.81 F.2.2.1 EXTEND of the next `s` bits. */
  receiveExtend(s: number): number {
    if (s === 0) return 0;
    if (s > 16) throw new JpegFormatError('corrupt JPEG data (coefficient size over 16 bits)', this.pos);
    const v = this.read(s);
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  decode(t: HuffTable): number {
    if (this.bits < 16) this.fill();
    const peek = (this.acc >>> (this.bits - FAST_BITS)) & ((1 << FAST_BITS) - 1);
    const e = t.fast[peek]!;
    if (e) {
      this.bits -= e >> 8;
      return e & 0xff;
    }
    let code = peek;
    this.bits -= FAST_BITS;
    let len = FAST_BITS;
    while (code > t.maxcode[len]!) {
      if (len === 16) throw new JpegFormatError('corrupt JPEG data (no such Huffman code)', this.pos);
      code = (code << 1) | this.bit();
      len++;
    }
    return t.values[t.valptr[len]! + code - t.mincode[len]!] ?? 0;
  }

  /** Drops the bits left in the buffer (the padding before a marker); reading goes on from `pos`. */
  reset(): void {
    this.acc = 0;
    this.bits = 0;
    this.phantom = 0;
  }
}

function u16(d: Uint8Array, i: number): number {
  return (d[i]! << 8) | d[i + 1]!;
}

/** Offset of the next marker (FF xx, xx not 00, not a fill FF, not RSTn) at or after `i`, or the length. */
function nextMarker(d: Uint8Array, i: number, skipRst: boolean): number {
  for (; i + 1 < d.length; i++) {
    if (d[i] !== 0xff) continue;
    const c = d[i + 1]!;
    if (c === 0x00 || c === 0xff) continue;
    if (skipRst && c >= 0xd0 && c <= 0xd7) continue;
    return i;
  }
  return d.length;
}

interface Segment {
  readonly marker: number;
  readonly offset: number;
  /** Payload start and end (after the length field). */
  readonly start: number;
  readonly end: number;
}

/** The length-carrying segment at `i` (which must be a marker). */
function segmentAt(d: Uint8Array, i: number): Segment {
  const marker = d[i + 1]!;
  if (i + 4 > d.length) throw new JpegFormatError(`truncated JPEG (segment FF ${hex(marker)} cut off)`, i);
  const length = u16(d, i + 2);
  if (length < 2 || i + 2 + length > d.length) throw new JpegFormatError(`truncated or corrupt JPEG (segment FF ${hex(marker)} of length ${length})`, i);
  return { marker, offset: i, start: i + 4, end: i + 2 + length };
}

function frameInfo(d: Uint8Array, s: Segment): JpegInfo & { comps: Component[] } {
  if (s.end - s.start < 6) throw new JpegFormatError('corrupt JPEG (frame header too short)', s.offset);
  const precision = d[s.start]!;
  const height = u16(d, s.start + 1);
  const width = u16(d, s.start + 3);
  const n = d[s.start + 5]!;
  if (precision !== 8) throw new JpegFormatError(`unsupported JPEG: ${precision}-bit samples (only 8-bit)`, s.offset);
  if (height === 0) throw new JpegFormatError('unsupported JPEG: height defined by a DNL marker', s.offset);
  if (width === 0) throw new JpegFormatError('corrupt JPEG (width 0)', s.offset);
  if (n === 4) throw new JpegFormatError('unsupported JPEG: CMYK/YCCK (4 components); save it as RGB', s.offset);
  if (n !== 1 && n !== 3) throw new JpegFormatError(`unsupported JPEG: ${n} components`, s.offset);
  if (s.end - s.start < 6 + 3 * n) throw new JpegFormatError('corrupt JPEG (frame header too short)', s.offset);
  const comps: Component[] = [];
  for (let c = 0; c < n; c++) {
    const at = s.start + 6 + 3 * c;
    const h = d[at + 1]! >> 4;
    const v = d[at + 1]! & 15;
    const tq = d[at + 2]!;
    if (h < 1 || h > 4 || v < 1 || v > 4) throw new JpegFormatError(`corrupt JPEG (sampling factors ${h}×${v})`, s.offset);
    if (tq > 3) throw new JpegFormatError(`corrupt JPEG (quantisation table ${tq})`, s.offset);
    if (comps.some((o) => o.id === d[at])) throw new JpegFormatError('corrupt JPEG (two components with one id)', s.offset);
    comps.push({ id: d[at]!, h, v, tq, blocksPerLine: 0, blocksPerColumn: 0, usedBlocksX: 0, usedBlocksY: 0, coefs: new Int16Array(0), pred: 0 });
  }
  return { width, height, components: n, progressive: s.marker === 0xc2, frameOffset: s.offset, comps };
}

/**
 * The frame header's facts, read without decoding anything: the marker segments from SOI to the first SOFn.
 * Throws `JpegFormatError` for anything that is not a JPEG this decoder handles.
 */
export function probeJpeg(d: Uint8Array): JpegInfo {
  if (d.length < 2 || d[0] !== 0xff || d[1] !== 0xd8) throw new JpegFormatError('not a JPEG file (no SOI marker)', 0);
  let i = 2;
  for (;;) {
    if (i >= d.length) throw new JpegFormatError('truncated JPEG (no frame header)', i);
    if (d[i] !== 0xff) throw new JpegFormatError('corrupt JPEG (expected a marker)', i);
    const m = d[i + 1];
    if (m === undefined) throw new JpegFormatError('truncated JPEG (no frame header)', i);
    if (m === 0xff) {
      i++;
      continue;
    }
    if (m === 0xd8 || m === 0xd9 || m === 0xda || m === 0x00 || (m >= 0xd0 && m <= 0xd7)) {
      throw new JpegFormatError(`corrupt JPEG (marker FF ${hex(m)} before the frame header)`, i);
    }
    const s = segmentAt(d, i);
    if (m === 0xc0 || m === 0xc1 || m === 0xc2) {
      const { comps: _, ...info } = frameInfo(d, s);
      return info;
    }
    const unsupported = SOF_NAMES[m];
    if (unsupported) throw new JpegFormatError(`unsupported JPEG: ${unsupported}`, i);
    i = s.end;
  }
}

/** Decodes `d` (see the module comment); returns the output size. Throws `JpegFormatError`. */
export function decodeJpeg(d: Uint8Array, options: JpegDecodeOptions): JpegDecodeResult {
  const scale = options.scale ?? 1;
  if (![1, 2, 4, 8].includes(scale)) throw new RangeError(`JPEG decoding scale 1/${scale} (1, 2, 4 or 8)`);
  const dcOnly = scale === 8;
  const maxScans = options.maxScans ?? 64;
  const maxCoefficientBytes = options.maxCoefficientBytes ?? 256 * 1024 * 1024;
  if (d.length < 4 || d[0] !== 0xff || d[1] !== 0xd8) throw new JpegFormatError('not a JPEG file (no SOI marker)', 0);

  const quant: (Int32Array | undefined)[] = [undefined, undefined, undefined, undefined];
  const dcTables: (HuffTable | undefined)[] = [undefined, undefined, undefined, undefined];
  const acTables: (HuffTable | undefined)[] = [undefined, undefined, undefined, undefined];
  let frame: (JpegInfo & { comps: Component[] }) | undefined;
  let restartInterval = 0;
  let adobeTransform = -1;
  let jfif = false;
  let scans = 0;
  let mcusX = 0;
  let mcusY = 0;
  let hmax = 1;
  let vmax = 1;

  const setupFrame = (f: JpegInfo & { comps: Component[] }): void => {
    hmax = Math.max(...f.comps.map((c) => c.h));
    vmax = Math.max(...f.comps.map((c) => c.v));
    mcusX = Math.ceil(f.width / (8 * hmax));
    mcusY = Math.ceil(f.height / (8 * vmax));
    let bytes = 0;
    for (const c of f.comps) {
      c.blocksPerLine = mcusX * c.h;
      c.blocksPerColumn = mcusY * c.v;
      c.usedBlocksX = Math.ceil(Math.ceil((f.width * c.h) / hmax) / 8);
      c.usedBlocksY = Math.ceil(Math.ceil((f.height * c.v) / vmax) / 8);
      bytes += c.blocksPerLine * c.blocksPerColumn * (dcOnly ? 4 : 128);
    }
    if (bytes > maxCoefficientBytes) {
      throw new JpegFormatError(
        `JPEG too large to decode (${Math.ceil(bytes / 2 ** 20)} MiB of coefficients, limit ${Math.floor(maxCoefficientBytes / 2 ** 20)} MiB)`,
        f.frameOffset,
      );
    }
    for (const c of f.comps) c.coefs = dcOnly ? new Int32Array(c.blocksPerLine * c.blocksPerColumn) : new Int16Array(c.blocksPerLine * c.blocksPerColumn * 64);
  };

  const readDqt = (s: Segment): void => {
    let i = s.start;
    while (i < s.end) {
      const pq = d[i]! >> 4;
      const tq = d[i]! & 15;
      const n = pq ? 128 : 64;
      if (tq > 3 || pq > 1 || i + 1 + n > s.end) throw new JpegFormatError('corrupt JPEG (bad quantisation table)', s.offset);
      const t = new Int32Array(64);
      for (let k = 0; k < 64; k++) t[NATURAL[k]!] = pq ? u16(d, i + 1 + 2 * k) : d[i + 1 + k]!;
      quant[tq] = t;
      i += 1 + n;
    }
  };

  const readDht = (s: Segment): void => {
    let i = s.start;
    while (i < s.end) {
      const tc = d[i]! >> 4;
      const th = d[i]! & 15;
      if (tc > 1 || th > 3 || i + 17 > s.end) throw new JpegFormatError('corrupt JPEG (bad Huffman table)', s.offset);
      const counts = d.subarray(i + 1, i + 17);
      const total = counts.reduce((a, b) => a + b, 0);
      if (total > 256 || i + 17 + total > s.end) throw new JpegFormatError('corrupt JPEG (bad Huffman table)', s.offset);
      const table = buildHuffTable(counts, d.subarray(i + 17, i + 17 + total), s.offset);
      (tc ? acTables : dcTables)[th] = table;
      i += 17 + total;
    }
  };

  const decodeScan = (s: Segment): number => {
    if (!frame) throw new JpegFormatError('corrupt JPEG (scan before the frame header)', s.offset);
    if (++scans > maxScans) throw new JpegFormatError(`JPEG has more than ${maxScans} scans`, s.offset);
    const ns = d[s.start]!;
    if (ns < 1 || ns > 4 || s.end - s.start < 4 + 2 * ns) throw new JpegFormatError('corrupt JPEG (bad scan header)', s.offset);
    const scomps: { c: Component; dc: HuffTable | undefined; ac: HuffTable | undefined }[] = [];
    for (let k = 0; k < ns; k++) {
      const id = d[s.start + 1 + 2 * k]!;
      const t = d[s.start + 2 + 2 * k]!;
      const c = frame.comps.find((x) => x.id === id);
      if (!c || scomps.some((x) => x.c === c)) throw new JpegFormatError('corrupt JPEG (scan names an unknown component)', s.offset);
      scomps.push({ c, dc: dcTables[t >> 4], ac: acTables[t & 15] });
    }
    const p = s.start + 1 + 2 * ns;
    const ss = d[p]!;
    const se = d[p + 1]!;
    const ah = d[p + 2]! >> 4;
    const al = d[p + 2]! & 15;
    const progressive = frame.progressive;
    if (progressive) {
      const bad = se > 63 || ss > se || (ss === 0 && se !== 0) || (ss > 0 && ns !== 1) || al > 13 || ah > 13;
      if (bad) throw new JpegFormatError('corrupt JPEG (bad progressive scan parameters)', s.offset);
    } else if (ss !== 0 || se !== 63 || ah !== 0 || al !== 0) {
      throw new JpegFormatError('corrupt JPEG (bad sequential scan parameters)', s.offset);
    }
    if (ns > 1 && scomps.reduce((n, x) => n + x.c.h * x.c.v, 0) > 10) throw new JpegFormatError('corrupt JPEG (more than 10 blocks per MCU)', s.offset);
    const dcFirst = ss === 0 && ah === 0;
    const needDc = ss === 0 && (!progressive || ah === 0);
    const needAc = se > 0;
    for (const x of scomps) {
      if ((needDc && !x.dc) || (needAc && !x.ac)) throw new JpegFormatError('corrupt JPEG (scan uses an undefined Huffman table)', s.offset);
    }
    // ⅛ scale: AC data is never needed, and progressive AC scans are skipped unread.
    if (dcOnly && progressive && ss > 0) return nextMarker(d, s.end, true);

    const r = new BitReader(d, s.end);
    let eobrun = 0;
    const p1 = 1 << al;
    const m1 = -1 << al;

    const decodeBlock = (x: (typeof scomps)[number], blockIndex: number): void => {
      const c = x.c;
      if (dcOnly) {
        // Only the DC term is kept (sequential: the AC codes are still read to find the next block).
        const co = c.coefs as Int32Array;
        if (!progressive) {
          const t = r.decode(x.dc!);
          c.pred += r.receiveExtend(t);
          co[blockIndex] = c.pred;
          const ac = x.ac!;
          for (let k = 1; k < 64; ) {
            const rs = r.decode(ac);
            const sz = rs & 15;
            if (sz) {
              r.read(sz);
              k += (rs >> 4) + 1;
            } else if (rs === 0xf0) k += 16;
            else break;
          }
        } else if (ah === 0) {
          const t = r.decode(x.dc!);
          c.pred += r.receiveExtend(t);
          co[blockIndex] = c.pred * p1;
        } else if (r.bit()) co[blockIndex]! |= p1;
        return;
      }
      const co = c.coefs as Int16Array;
      const b = blockIndex * 64;
      if (!progressive) {
        const t = r.decode(x.dc!);
        c.pred += r.receiveExtend(t);
        co[b] = c.pred;
        const ac = x.ac!;
        for (let k = 1; k < 64; ) {
          const rs = r.decode(ac);
          const sz = rs & 15;
          const run = rs >> 4;
          if (sz) {
            k += run;
            if (k > 63) throw new JpegFormatError('corrupt JPEG data (coefficient index past 63)', r.pos);
            co[b + NATURAL[k]!] = r.receiveExtend(sz);
            k++;
          } else if (run === 15) k += 16;
          else break;
        }
        return;
      }
      if (ss === 0) {
        if (dcFirst) {
          const t = r.decode(x.dc!);
          c.pred += r.receiveExtend(t);
          co[b] = c.pred * p1;
        } else if (r.bit()) co[b]! |= p1;
        return;
      }
      const ac = x.ac!;
      if (ah === 0) {
        // AC first pass (G.1.2.2).
        if (eobrun > 0) {
          eobrun--;
          return;
        }
        for (let k = ss; k <= se; k++) {
          const rs = r.decode(ac);
          const sz = rs & 15;
          const run = rs >> 4;
          if (sz) {
            k += run;
            if (k > se) throw new JpegFormatError('corrupt JPEG data (coefficient index past the band)', r.pos);
            co[b + NATURAL[k]!] = r.receiveExtend(sz) * p1;
          } else if (run < 15) {
            eobrun = (1 << run) - 1 + r.read(run);
            break;
          } else k += 15;
        }
        return;
      }
      // AC refinement (G.1.2.3): new coefficients of ±1 at bit `al`, correction bits for the non-zero ones.
      let k = ss;
      if (eobrun === 0) {
        for (; k <= se; k++) {
          const rs = r.decode(ac);
          const sz = rs & 15;
          let run = rs >> 4;
          let value = 0;
          if (sz) {
            if (sz !== 1) throw new JpegFormatError('corrupt JPEG data (refinement coefficient size)', r.pos);
            value = r.bit() ? p1 : m1;
          } else if (run !== 15) {
            eobrun = (1 << run) + r.read(run);
            break;
          }
          while (k <= se) {
            const z = b + NATURAL[k]!;
            const v = co[z]!;
            if (v !== 0) {
              if (r.bit() && (v & p1) === 0) co[z] = v >= 0 ? v + p1 : v + m1;
            } else {
              if (run === 0) break;
              run--;
            }
            k++;
          }
          if (value && k <= se) co[b + NATURAL[k]!] = value;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const z = b + NATURAL[k]!;
          const v = co[z]!;
          if (v !== 0 && r.bit() && (v & p1) === 0) co[z] = v >= 0 ? v + p1 : v + m1;
        }
        eobrun--;
      }
    };

    for (const x of scomps) x.c.pred = 0;
    const single = ns === 1;
    const c0 = scomps[0]!.c;
    const totalMcus = single ? c0.usedBlocksX * c0.usedBlocksY : mcusX * mcusY;
    for (let m = 0; m < totalMcus; m++) {
      if (restartInterval && m > 0 && m % restartInterval === 0) {
        // The interval is over: drop the padding bits, step over RSTn, reset the predictions.
        r.reset();
        const at = nextMarker(d, r.pos, false);
        if (at + 1 < d.length && d[at + 1]! >= 0xd0 && d[at + 1]! <= 0xd7) r.pos = at + 2;
        else r.pos = at;
        for (const x of scomps) x.c.pred = 0;
        eobrun = 0;
      }
      if (single) {
        const bx = m % c0.usedBlocksX;
        const by = Math.floor(m / c0.usedBlocksX);
        decodeBlock(scomps[0]!, by * c0.blocksPerLine + bx);
      } else {
        const mx = m % mcusX;
        const my = Math.floor(m / mcusX);
        for (const x of scomps) {
          const c = x.c;
          for (let v = 0; v < c.v; v++) {
            for (let h = 0; h < c.h; h++) decodeBlock(x, (my * c.v + v) * c.blocksPerLine + mx * c.h + h);
          }
        }
      }
      const overrun = r.overrun();
      if (overrun > 0 && r.endOfFile) throw new JpegFormatError('truncated JPEG (the file ends inside the image data)', d.length);
      if (overrun > MAX_OVERRUN_BITS)
        throw new JpegFormatError(`corrupt JPEG (the image data ends early, at MCU ${m + 1} of ${totalMcus} of scan ${scans})`, r.pos);
    }
    r.reset();
    return nextMarker(d, r.pos, true);
  };

  let i = 2;
  let done = false;
  while (!done) {
    if (i >= d.length) {
      if (scans > 0) break; // no EOI after a complete scan: accepted (libjpeg warns)
      throw new JpegFormatError('truncated JPEG (no image data)', i);
    }
    if (d[i] !== 0xff) {
      // Garbage between segments: libjpeg skips to the next marker with a warning.
      i = nextMarker(d, i, true);
      continue;
    }
    const m = d[i + 1];
    if (m === undefined) break;
    if (m === 0xff || m === 0x00) {
      i++;
      continue;
    }
    if (m === 0xd9) {
      done = true;
      break;
    }
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    const s = segmentAt(d, i);
    switch (m) {
      case 0xdb:
        readDqt(s);
        break;
      case 0xc4:
        readDht(s);
        break;
      case 0xdd:
        if (s.end - s.start < 2) throw new JpegFormatError('corrupt JPEG (bad restart interval)', i);
        restartInterval = u16(d, s.start);
        break;
      case 0xc0:
      case 0xc1:
      case 0xc2:
        if (frame) throw new JpegFormatError('corrupt JPEG (two frame headers)', i);
        frame = frameInfo(d, s);
        setupFrame(frame);
        break;
      case 0xda:
        i = decodeScan(s);
        continue;
      case 0xe0:
        if (s.end - s.start >= 5 && d[s.start] === 0x4a && d[s.start + 1] === 0x46 && d[s.start + 2] === 0x49 && d[s.start + 3] === 0x46) jfif = true;
        break;
      case 0xee:
        if (
          s.end - s.start >= 12 &&
          d[s.start] === 0x41 &&
          d[s.start + 1] === 0x64 &&
          d[s.start + 2] === 0x6f &&
          d[s.start + 3] === 0x62 &&
          d[s.start + 4] === 0x65
        ) {
          adobeTransform = d[s.start + 11]!;
        }
        break;
      case 0xdc:
        break; // DNL after the first scan: the height is already known
      default: {
        const unsupported = SOF_NAMES[m];
        if (unsupported) throw new JpegFormatError(`unsupported JPEG: ${unsupported}`, i);
      }
    }
    i = s.end;
  }
  if (!frame) throw new JpegFormatError('corrupt JPEG (no frame header)', 0);
  if (scans === 0) throw new JpegFormatError('corrupt JPEG (no image data)', 0);
  for (const c of frame.comps) {
    if (!quant[c.tq]) throw new JpegFormatError(`corrupt JPEG (quantisation table ${c.tq} is not defined)`, frame.frameOffset);
  }
  const rgbComponents = frame.components === 3 && (adobeTransform === 0 || (adobeTransform < 0 && !jfif && frame.comps.map((c) => c.id).join() === '82,71,66'));
  return output(frame, quant as Int32Array[], { scale, rgb: rgbComponents, hmax, vmax, mcusX, mcusY }, options.onRow, scans);
}

// --- inverse DCT, upsampling, colour ---------------------------------------------------------------------------

/** IDCT bases for N = 8, 4, 2 output samples per block side: BASIS[N][x * N + u] = C(u)/2 · cos((2x + 1)uπ/2N). With
 *  N < 8 only the lowest N × N frequencies are used, which samples the block's cosines at the centres of its N × N
 *  parts (a reduced-size decode, the DC term still giving the block mean). */
const BASIS: Record<number, Float64Array> = Object.fromEntries(
  [8, 4, 2].map((n) => {
    const t = new Float64Array(n * n);
    for (let x = 0; x < n; x++) {
      for (let u = 0; u < n; u++) t[x * n + u] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / (2 * n));
    }
    return [n, t];
  }),
);

/**
 * Dequantised coefficients (natural 8×8 order) → n × n samples (level shift and clamp included) at
 * `out[o + y·stride + x]`.
 */
function idct(coef: Float64Array, n: number, out: Uint8Array, o: number, stride: number, tmp: Float64Array): void {
  const basis = BASIS[n]!;
  for (let v = 0; v < n; v++) {
    for (let x = 0; x < n; x++) {
      let s = 0;
      for (let u = 0; u < n; u++) s += basis[x * n + u]! * coef[v * 8 + u]!;
      tmp[v * 8 + x] = s;
    }
  }
  for (let x = 0; x < n; x++) {
    for (let y = 0; y < n; y++) {
      let s = 0;
      for (let v = 0; v < n; v++) s += basis[y * n + v]! * tmp[v * 8 + x]!;
      const p = Math.round(s + 128);
      out[o + y * stride + x] = p < 0 ? 0 : p > 255 ? 255 : p;
    }
  }
}

interface OutputLayout {
  readonly scale: number;
  readonly rgb: boolean;
  readonly hmax: number;
  readonly vmax: number;
  readonly mcusX: number;
  readonly mcusY: number;
}

function output(
  frame: JpegInfo & { comps: Component[] },
  quant: Int32Array[],
  L: OutputLayout,
  onRow: (row: Uint8Array, y: number) => void,
  scans: number,
): JpegDecodeResult {
  const bs = 8 / L.scale;
  const width = Math.ceil(frame.width / L.scale);
  const height = Math.ceil(frame.height / L.scale);
  const comps = frame.comps;
  // One MCU row of samples per component.
  const bands = comps.map((c) => ({ c, stride: c.blocksPerLine * bs, data: new Uint8Array(c.blocksPerLine * bs * c.v * bs), q: quant[c.tq]! }));
  const coef = new Float64Array(64);
  const tmp = new Float64Array(64);
  const row = new Uint8Array(width * 3);
  const mcuRows = bs * L.vmax;
  // Column maps from output x to each component's sample x within the band.
  const colMaps = comps.map((c) => Int32Array.from({ length: width }, (_, x) => Math.floor((x * c.h) / L.hmax)));
  for (let my = 0; my < L.mcusY; my++) {
    for (const b of bands) {
      const c = b.c;
      for (let v = 0; v < c.v; v++) {
        const by = my * c.v + v;
        for (let bx = 0; bx < c.blocksPerLine; bx++) {
          const blk = by * c.blocksPerLine + bx;
          if (bs === 1) {
            const s = Math.round(((c.coefs as Int32Array)[blk]! * b.q[0]!) / 8 + 128);
            b.data[v * b.stride + bx] = s < 0 ? 0 : s > 255 ? 255 : s;
          } else {
            const co = c.coefs as Int16Array;
            for (let k = 0; k < 64; k++) coef[k] = co[blk * 64 + k]! * b.q[k]!;
            idct(coef, bs, b.data, v * bs * b.stride + bx * bs, b.stride, tmp);
          }
        }
      }
    }
    for (let ly = 0; ly < mcuRows; ly++) {
      const y = my * mcuRows + ly;
      if (y >= height) break;
      if (comps.length === 1) {
        const b = bands[0]!;
        const line = Math.floor((ly * b.c.v) / L.vmax) * b.stride;
        const map = colMaps[0]!;
        for (let x = 0; x < width; x++) {
          const g = b.data[line + map[x]!]!;
          row[3 * x] = g;
          row[3 * x + 1] = g;
          row[3 * x + 2] = g;
        }
      } else {
        const [b0, b1, b2] = bands as [(typeof bands)[0], (typeof bands)[0], (typeof bands)[0]];
        const l0 = Math.floor((ly * b0.c.v) / L.vmax) * b0.stride;
        const l1 = Math.floor((ly * b1.c.v) / L.vmax) * b1.stride;
        const l2 = Math.floor((ly * b2.c.v) / L.vmax) * b2.stride;
        const [m0, m1, m2] = colMaps as [Int32Array, Int32Array, Int32Array];
        for (let x = 0; x < width; x++) {
          const a = b0.data[l0 + m0[x]!]!;
          const p = b1.data[l1 + m1[x]!]!;
          const q = b2.data[l2 + m2[x]!]!;
          if (L.rgb) {
            row[3 * x] = a;
            row[3 * x + 1] = p;
            row[3 * x + 2] = q;
          } else {
            const cb = p - 128;
            const cr = q - 128;
            const R = Math.round(a + 1.402 * cr);
            const G = Math.round(a - 0.344136 * cb - 0.714136 * cr);
            const B = Math.round(a + 1.772 * cb);
            row[3 * x] = R < 0 ? 0 : R > 255 ? 255 : R;
            row[3 * x + 1] = G < 0 ? 0 : G > 255 ? 255 : G;
            row[3 * x + 2] = B < 0 ? 0 : B > 255 ? 255 : B;
          }
        }
      }
      onRow(row, y);
    }
  }
  return { width, height, scans };
}

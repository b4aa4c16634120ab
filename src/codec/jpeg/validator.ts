/**
 * An incremental validator of canonical image-only JPEG streams, for grammar-constrained decoding: fed one byte at
 * a time, it says which next bytes keep the stream decodable (`allowedNextBytes`, a 256-bit mask), and how to end
 * the stream correctly at a budget (`closingBytes`).
 *
 * The grammar (T.81 Annex F baseline sequential Huffman coding; the thesis' canonical stream, seed reference §4):
 *  - the exact 59-byte canonical header of the image size (SOI, JFIF APP0, SOF0, DRI = 1, SOS);
 *  - MCUs in raster order, each 6 blocks (Y0 Y1 Y2 Y3 Cb Cr) coded with the standard tables (Y: DC 0 / AC 0,
 *    Cb/Cr: DC 1 / AC 1): a DC category code (0…11) and that many bits, then AC run/size codes with their bits
 *    until EOB or coefficient 63; a coefficient never lands past 63, ZRL only where a coefficient can still follow
 *    it and EOB never right after a ZRL (a libjpeg encoder never writes either);
 *  - after each MCU the partial byte is padded with 1-bits; every 0xFF data byte (padding included) is followed by
 *    a stuffed 0x00; then RSTn with n = MCU index mod 8, except after the last MCU, which is followed by EOI.
 *    With `allowEarlyEoi`, EOI may also come where a restart marker would (a stream ended early: decoders fill the
 *    rest grey, libjpeg with a "premature end of data" warning).
 * Every state the validator accepts has a valid continuation, so a decoder that samples only allowed bytes can
 * always finish; `closingBytes` gives a short such finish (or one that fills every remaining MCU with flat grey).
 *
 * Cost: `feed` steps 8 bits through a flat Huffman decoding forest; `allowedNextBytes` inside entropy data is
 * memoised on the decoding state (block, coefficient index, tree node or pending extra bits, ZRL flag), shared by
 * all validators, so after warm-up it is one map lookup. Masks returned are shared: read them, never write them.
 */
import { canonicalHeader, type JpegGeometry, mcuLayout } from './canonical';
import { type HuffmanCodes, HuffmanForest, huffmanCodes } from './huffman';
import { EOI, RST0, hex } from './markers';
import { STD_AC_CHROMINANCE, STD_AC_LUMINANCE, STD_DC_CHROMINANCE, STD_DC_LUMINANCE } from './tables';
import type { TokenBytes } from './tokens';

import { allowedTokensOf, type ByteMask } from '../byteMask';

export { maskBytes, maskHas, type ByteMask } from '../byteMask';

function maskOf(...bytes: number[]): ByteMask {
  const m = new Uint32Array(8);
  for (const b of bytes) m[b >>> 5]! |= 1 << (b & 31);
  return m;
}

// ── the standard tables as one decoding forest ──────────────────────────────────────────────────────────────
const forest = new HuffmanForest();
const DC_LUM = forest.add(STD_DC_LUMINANCE, false);
const AC_LUM = forest.add(STD_AC_LUMINANCE, true);
const DC_CHR = forest.add(STD_DC_CHROMINANCE, false);
const AC_CHR = forest.add(STD_AC_CHROMINANCE, true);
const CHILD = forest.child;
const HAS_EOB = forest.hasEob;
const MIN_RUN = forest.minRun;
/** Blocks of an MCU at 4:2:0: four Y, then Cb, then Cr. */
const BLOCKS = 6;
const DC_ROOT = [DC_LUM, DC_LUM, DC_LUM, DC_LUM, DC_CHR, DC_CHR];
const AC_ROOT = [AC_LUM, AC_LUM, AC_LUM, AC_LUM, AC_CHR, AC_CHR];
const LUM_CODES = { dc: huffmanCodes(STD_DC_LUMINANCE), ac: huffmanCodes(STD_AC_LUMINANCE) };
const CHR_CODES = { dc: huffmanCodes(STD_DC_CHROMINANCE), ac: huffmanCodes(STD_AC_CHROMINANCE) };
const CODES = [LUM_CODES, LUM_CODES, LUM_CODES, LUM_CODES, CHR_CODES, CHR_CODES];
const EOB = 0x00;
const ZRL = 0xf0;

// ── phases and rejection reasons ─────────────────────────────────────────────────────────────────────────────
const HEADER = 0;
const ENTROPY = 1;
/** After a 0xFF data byte: a stuffed 0x00 must follow. */
const STUFF = 2;
/** An MCU is complete and padded: FF of RSTn / EOI. */
const MARKER_FF = 3;
/** After that FF: the marker code. */
const MARKER_CODE = 4;
const DONE = 5;
const PHASE_NAMES = ['header', 'entropy', 'entropy', 'marker', 'marker', 'done'] as const;
export type ValidatorPhase = (typeof PHASE_NAMES)[number];

const OK = 0;
const R_CODE = 1;
const R_NO_ROOM = 2;
const R_EOB_AFTER_ZRL = 3;
const R_PADDING = 4;
const REASONS = [
  '',
  'no Huffman code of this table starts with these bits',
  'this code would place a coefficient past the 64th',
  'EOB right after ZRL',
  'padding bits after an MCU must be 1',
];

/** The Huffman decoding state inside one MCU. */
class Cursor {
  block = 0;
  /** Current tree node (meaningful while `extra` is 0). */
  node = DC_ROOT[0]!;
  /** Extra (magnitude) bits still to read for the current coefficient. */
  extra = 0;
  /** Index of the next coefficient of the block: 0 = DC, 1…63 = AC. */
  k = 0;
  /** 1 right after a ZRL. */
  zrl = 0;
  /** 1 once the MCU's six blocks are complete (the rest of the byte is padding). */
  done = 0;

  reset(): void {
    this.block = 0;
    this.node = DC_ROOT[0]!;
    this.extra = 0;
    this.k = 0;
    this.zrl = 0;
    this.done = 0;
  }

  copyFrom(c: Cursor): void {
    this.block = c.block;
    this.node = c.node;
    this.extra = c.extra;
    this.k = c.k;
    this.zrl = c.zrl;
    this.done = c.done;
  }

  /** A key for the mask memo; only meaningful in entropy data at a byte boundary (`done` is 0 there). */
  key(): number {
    const node = this.extra ? 0 : this.node;
    return ((((this.block * 64 + this.k) * 2 + this.zrl) * 16 + this.extra) * 4096 + node) >>> 0;
  }
}

/** Ends the current block: the next block's DC, or the MCU is done. */
function endBlock(c: Cursor): void {
  c.block++;
  c.zrl = 0;
  c.extra = 0;
  if (c.block === BLOCKS) {
    c.done = 1;
  } else {
    c.k = 0;
    c.node = DC_ROOT[c.block]!;
  }
}

/** Steps 8 bits of an entropy-coded data byte through `c`; returns OK or a rejection reason (`c` is then spoilt). */
function stepByte(c: Cursor, byte: number): number {
  for (let i = 7; i >= 0; i--) {
    const bit = (byte >>> i) & 1;
    if (c.done) {
      if (!bit) return R_PADDING;
      continue;
    }
    if (c.extra > 0) {
      if (--c.extra === 0) {
        if (c.k === 0) {
          c.k = 1;
          c.node = AC_ROOT[c.block]!;
        } else if (++c.k === 64) {
          endBlock(c);
        } else {
          c.node = AC_ROOT[c.block]!;
        }
      }
      continue;
    }
    const next = CHILD[2 * c.node + bit]!;
    if (next === 0) return R_CODE;
    if (next > 0) {
      // An AC prefix must still be able to end in a symbol this block has room for.
      if (c.k > 0 && !((HAS_EOB[next] && !c.zrl) || MIN_RUN[next]! <= 63 - c.k)) return c.zrl && HAS_EOB[next] ? R_EOB_AFTER_ZRL : R_NO_ROOM;
      c.node = next;
      continue;
    }
    const symbol = -next - 1;
    if (c.k === 0) {
      // DC: a category 0…11, then that many bits.
      if (symbol === 0) {
        c.k = 1;
        c.node = AC_ROOT[c.block]!;
      } else {
        c.extra = symbol;
      }
    } else if (symbol === EOB) {
      if (c.zrl) return R_EOB_AFTER_ZRL;
      endBlock(c);
    } else if (symbol === ZRL) {
      if (c.k + 16 > 63) return R_NO_ROOM;
      c.k += 16;
      c.zrl = 1;
      c.node = AC_ROOT[c.block]!;
    } else {
      const run = symbol >>> 4;
      const size = symbol & 15;
      if (size === 0) return R_CODE;
      if (c.k + run > 63) return R_NO_ROOM;
      c.k += run;
      c.extra = size;
      c.zrl = 0;
    }
  }
  return OK;
}

const ENTROPY_MASKS = new Map<number, ByteMask>();
const MEMO_LIMIT = 1 << 18;
const SINGLE_MASKS: ByteMask[] = [];
const EMPTY_MASK = maskOf();
function single(byte: number): ByteMask {
  let m = SINGLE_MASKS[byte];
  if (!m) {
    m = maskOf(byte);
    SINGLE_MASKS[byte] = m;
  }
  return m;
}
const RST_OR_EOI: ByteMask[] = Array.from({ length: 8 }, (_, n) => maskOf(RST0 + n, EOI));

function entropyMask(c: Cursor): ByteMask {
  const key = c.key();
  let mask = ENTROPY_MASKS.get(key);
  if (mask) return mask;
  mask = new Uint32Array(8);
  const probe = new Cursor();
  for (let b = 0; b < 256; b++) {
    probe.copyFrom(c);
    if (stepByte(probe, b) === OK) mask[b >>> 5]! |= 1 << (b & 31);
  }
  // Reachable states number in the tens of thousands (a few MB of masks); the cap only guards against surprises.
  if (ENTROPY_MASKS.size >= MEMO_LIMIT) ENTROPY_MASKS.clear();
  ENTROPY_MASKS.set(key, mask);
  return mask;
}

/** Writes bits MSB first into bytes, stuffing a 0x00 after every 0xFF. */
class BitWriter {
  readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(bits: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((bits >>> i) & 1);
      if (++this.n === 8) {
        this.bytes.push(this.acc);
        if (this.acc === 0xff) this.bytes.push(0x00);
        this.acc = 0;
        this.n = 0;
      }
    }
  }
  symbol(codes: HuffmanCodes, symbol: number): void {
    this.write(codes.code[symbol]!, codes.length[symbol]!);
  }
  /** Pads the partial byte with 1-bits. */
  pad(): void {
    while (this.n) this.write(1, 1);
  }
}

/** The cheapest leaf below `node` in the current context, by code bits plus the bits needed to finish the block. */
function cheapestLeaf(c: Cursor): { path: number[]; symbol: number } {
  const codes = CODES[c.block]!;
  const eob = codes.ac.length[EOB]!;
  const coef = codes.ac.length[0x01]! + 1;
  const after = (symbol: number): number => {
    if (c.k === 0) return symbol + eob;
    if (symbol === EOB) return c.zrl ? Number.POSITIVE_INFINITY : 0;
    if (symbol === ZRL) return c.k + 16 > 63 ? Number.POSITIVE_INFINITY : coef + (c.k + 17 < 64 ? eob : 0);
    const run = symbol >>> 4;
    const size = symbol & 15;
    if (!size || c.k + run > 63) return Number.POSITIVE_INFINITY;
    return size + (c.k + run + 1 < 64 ? eob : 0);
  };
  let best = { cost: Number.POSITIVE_INFINITY, path: [] as number[], symbol: -1 };
  const path: number[] = [];
  const walk = (node: number): void => {
    for (let bit = 0; bit < 2; bit++) {
      const next = CHILD[2 * node + bit]!;
      if (next === 0) continue;
      path.push(bit);
      if (next < 0) {
        const cost = path.length + after(-next - 1);
        if (cost < best.cost) best = { cost, path: [...path], symbol: -next - 1 };
      } else if (path.length < best.cost) {
        walk(next);
      }
      path.pop();
    }
  };
  walk(c.node);
  if (best.symbol < 0) throw new Error('internal: no way to finish the block');
  return best;
}

/** Bytes that finish the MCU from `c` (at a byte boundary) with few bits (cheapest next symbol, zero magnitude bits, EOB, then DC 0 + EOB per block not begun), padded and stuffed. */
function finishMcu(c: Cursor): number[] {
  const w = new BitWriter();
  const codes = CODES[c.block]!;
  const endOfBlock = (nextK: number): void => {
    if (nextK < 64) w.symbol(codes.ac, EOB);
  };
  if (c.extra > 0) {
    w.write(0, c.extra);
    endOfBlock(c.k === 0 ? 1 : c.k + 1);
  } else {
    const { path, symbol } = cheapestLeaf(c);
    for (const bit of path) w.write(bit, 1);
    if (c.k === 0) {
      w.write(0, symbol);
      w.symbol(codes.ac, EOB);
    } else if (symbol === ZRL) {
      w.symbol(codes.ac, 0x01);
      w.write(1, 1);
      endOfBlock(c.k + 17);
    } else if (symbol !== EOB) {
      w.write(0, symbol & 15);
      endOfBlock(c.k + (symbol >>> 4) + 1);
    }
  }
  for (let b = c.block + 1; b < BLOCKS; b++) {
    w.symbol(CODES[b]!.dc, 0);
    w.symbol(CODES[b]!.ac, EOB);
  }
  w.pad();
  return w.bytes;
}

/** A whole flat-grey MCU: every block DC difference 0 (DC is predicted from 0 after each restart) and EOB. */
const GREY_MCU: readonly number[] = finishMcu(new Cursor());

/** Everything a validator's position is made of: phase, header position, MCU, offset, then the cursor's fields. */
type Snapshot = [number, number, number, number, number, number, number, number, number, number];

export interface ValidatorOptions {
  /** Accept EOI where a restart marker is due (an early end); default false: all MCUs are required. */
  readonly allowEarlyEoi?: boolean;
}

/** How `closingBytes` ends a stream: after the current MCU (needs `allowEarlyEoi`) or after grey-filling the rest. */
export type ClosingMode = 'truncate' | 'fill';

export interface Rejection {
  /** Offset of the rejected byte in the stream. */
  readonly offset: number;
  readonly byte: number;
  readonly reason: string;
}

export class JpegStreamValidator {
  readonly geometry: JpegGeometry;
  readonly mcuCount: number;
  readonly allowEarlyEoi: boolean;
  private readonly header: Uint8Array;
  private phase = HEADER;
  private headerPos = 0;
  private mcu = 0;
  private offset = 0;
  private readonly cur = new Cursor();
  private readonly probe = new Cursor();
  private rejection: Rejection | undefined;

  constructor(geometry: JpegGeometry, options: ValidatorOptions = {}) {
    this.geometry = { width: geometry.width, height: geometry.height };
    this.mcuCount = mcuLayout(geometry).mcuCount;
    this.header = canonicalHeader(geometry);
    this.allowEarlyEoi = options.allowEarlyEoi ?? false;
  }

  /** Bytes accepted so far. */
  get position(): number {
    return this.offset;
  }

  /** MCUs whose data is complete (for progressive previews: MCU rows are done every `mcusPerRow`). */
  get mcusDone(): number {
    switch (this.phase) {
      case HEADER:
        return 0;
      case ENTROPY:
      case STUFF:
        return this.mcu + this.cur.done;
      default:
        return this.mcu + 1;
    }
  }

  get phaseName(): ValidatorPhase {
    return PHASE_NAMES[this.phase]!;
  }

  /** The last byte `feed` refused, and why. */
  get lastRejection(): Rejection | undefined {
    return this.rejection;
  }

  /** EOI has been read: the stream is complete and nothing more is allowed. */
  isComplete(): boolean {
    return this.phase === DONE;
  }

  /** EOI may come next (FF D9 at a marker position, or D9 after its FF): the last MCU is done, or an early end is allowed. */
  canClose(): boolean {
    return (this.phase === MARKER_FF || this.phase === MARKER_CODE) && (this.allowEarlyEoi || this.mcu === this.mcuCount - 1);
  }

  /** Accepts `byte` if it keeps the stream valid (returns true); otherwise leaves the state unchanged and returns false. */
  feed(byte: number): boolean {
    switch (this.phase) {
      case HEADER:
        if (byte !== this.header[this.headerPos]) return this.reject(byte, `header byte ${this.headerPos} must be ${hex(this.header[this.headerPos]!)}`);
        if (++this.headerPos === this.header.length) {
          this.phase = ENTROPY;
          this.cur.reset();
        }
        break;
      case ENTROPY: {
        const p = this.probe;
        p.copyFrom(this.cur);
        const r = stepByte(p, byte);
        if (r !== OK) return this.reject(byte, `MCU ${this.mcu}, block ${this.cur.block}: ${REASONS[r]}`);
        this.cur.copyFrom(p);
        this.phase = byte === 0xff ? STUFF : p.done ? MARKER_FF : ENTROPY;
        break;
      }
      case STUFF:
        if (byte !== 0x00) return this.reject(byte, 'a 0xFF data byte must be followed by a stuffed 00');
        this.phase = this.cur.done ? MARKER_FF : ENTROPY;
        break;
      case MARKER_FF:
        if (byte !== 0xff) return this.reject(byte, `MCU ${this.mcu} is complete: a marker (FF) must follow`);
        this.phase = MARKER_CODE;
        break;
      case MARKER_CODE: {
        const last = this.mcu === this.mcuCount - 1;
        if (!last && byte === RST0 + (this.mcu & 7)) {
          this.mcu++;
          this.cur.reset();
          this.phase = ENTROPY;
        } else if (byte === EOI && (last || this.allowEarlyEoi)) {
          this.phase = DONE;
        } else {
          return this.reject(
            byte,
            last ? 'EOI (D9) must follow the last MCU' : `restart marker RST${this.mcu & 7} (${hex(RST0 + (this.mcu & 7))}) must follow MCU ${this.mcu}`,
          );
        }
        break;
      }
      default:
        return this.reject(byte, 'nothing may follow EOI');
    }
    this.offset++;
    return true;
  }

  /** Feeds bytes until one is refused; returns how many were accepted. */
  feedAll(bytes: Uint8Array | readonly number[]): number {
    for (let i = 0; i < bytes.length; i++) if (!this.feed(bytes[i]!)) return i;
    return bytes.length;
  }

  /** Whether all of `bytes` would be accepted from the current state (which is left unchanged). */
  accepts(bytes: Uint8Array | readonly number[]): boolean {
    const saved = this.save();
    const ok = this.feedAll(bytes) === bytes.length;
    this.restore(saved);
    return ok;
  }

  /** The bytes allowed next (shared, read-only). Empty after EOI. */
  allowedNextBytes(): ByteMask {
    switch (this.phase) {
      case HEADER:
        return single(this.header[this.headerPos]!);
      case ENTROPY:
        return entropyMask(this.cur);
      case STUFF:
        return single(0x00);
      case MARKER_FF:
        return single(0xff);
      case MARKER_CODE:
        if (this.mcu === this.mcuCount - 1) return single(EOI);
        return this.allowEarlyEoi ? RST_OR_EOI[this.mcu & 7]! : single(RST0 + (this.mcu & 7));
      default:
        return EMPTY_MASK;
    }
  }

  /**
   * Which token ids may come next, for a vocabulary described by the bytes of each token: `out[id]` = 1 when all of
   * its bytes are accepted. Non-byte tokens (undefined) get 0: the caller allows EOS exactly when `isComplete()`.
   */
  allowedTokens(vocabulary: TokenBytes, out: Uint8Array = new Uint8Array(vocabulary.length)): Uint8Array {
    return allowedTokensOf(this, vocabulary, out);
  }

  /**
   * Bytes that end the stream validly from here: the rest of the header if inside it, the current MCU finished
   * with few bits (the cheapest next symbol, zero magnitude bits, EOB, DC 0 + EOB for the blocks not begun), padding,
   * then EOI ('truncate', which needs `allowEarlyEoi` unless this is the last MCU) or RSTn and a flat grey MCU for
   * every remaining MCU, then EOI ('fill'). Empty once complete. The state is unchanged.
   */
  closingBytes(mode: ClosingMode = this.allowEarlyEoi ? 'truncate' : 'fill'): Uint8Array {
    if (mode === 'truncate' && !this.allowEarlyEoi) throw new Error("closing by truncation needs a validator with allowEarlyEoi (use 'fill')");
    const out: number[] = [];
    let phase = this.phase;
    let mcu = this.mcu;
    let cursor = this.cur;
    if (phase === HEADER) {
      out.push(...this.header.subarray(this.headerPos));
      cursor = new Cursor();
      phase = ENTROPY;
    }
    if (phase === STUFF) {
      out.push(0x00);
      phase = cursor.done ? MARKER_FF : ENTROPY;
    }
    if (phase === ENTROPY) {
      out.push(...finishMcu(cursor));
      phase = MARKER_FF;
    }
    if (phase === MARKER_FF) {
      out.push(0xff);
      phase = MARKER_CODE;
    }
    if (phase === MARKER_CODE) {
      while (mode === 'fill' && mcu < this.mcuCount - 1) {
        out.push(RST0 + (mcu & 7), ...GREY_MCU, 0xff);
        mcu++;
      }
      out.push(EOI);
    }
    return Uint8Array.from(out);
  }

  /** An independent copy (same geometry, options and position). */
  clone(): JpegStreamValidator {
    const v = new JpegStreamValidator(this.geometry, { allowEarlyEoi: this.allowEarlyEoi });
    v.restore(this.save());
    return v;
  }

  private save(): Snapshot {
    const c = this.cur;
    return [this.phase, this.headerPos, this.mcu, this.offset, c.block, c.node, c.extra, c.k, c.zrl, c.done];
  }

  private restore(s: Snapshot): void {
    const c = this.cur;
    [this.phase, this.headerPos, this.mcu, this.offset, c.block, c.node, c.extra, c.k, c.zrl, c.done] = s;
  }

  private reject(byte: number, reason: string): false {
    this.rejection = { offset: this.offset, byte, reason };
    return false;
  }
}

export interface StreamVerdict {
  readonly ok: boolean;
  /** Bytes accepted before the first refusal (the whole length when ok). */
  readonly accepted: number;
  readonly rejection?: Rejection;
  readonly mcusDone: number;
}

/** Validates a whole image-only stream; ok only when every byte is accepted and the stream ends with EOI. */
export function validateImageStream(stream: Uint8Array, geometry: JpegGeometry, options: ValidatorOptions = {}): StreamVerdict {
  const v = new JpegStreamValidator(geometry, options);
  const accepted = v.feedAll(stream);
  if (accepted < stream.length) return { ok: false, accepted, rejection: v.lastRejection!, mcusDone: v.mcusDone };
  if (!v.isComplete())
    return { ok: false, accepted, rejection: { offset: stream.length, byte: -1, reason: 'the stream ends before EOI' }, mcusDone: v.mcusDone };
  return { ok: true, accepted, mcusDone: v.mcusDone };
}

/**
 * Bits of H.264 (ITU-T H.264 §7.2, §9.1): an MSB-first bit reader with exp-Golomb codes, the RBSP ↔ NAL payload
 * conversion (emulation prevention, §7.4.1) and a bit writer.
 */
import { H264FormatError } from './errors';

/** A plain MSB-first reader over RBSP bytes (for whole, well-formed units; the validator uses `SyntaxReader`). */
export class BitReader {
  private pos = 0;
  constructor(
    private readonly data: Uint8Array,
    private readonly length = data.length,
  ) {}

  /** Bits read so far. */
  get position(): number {
    return this.pos;
  }

  get bitsLeft(): number {
    return this.length * 8 - this.pos;
  }

  bit(): number {
    if (this.pos >= this.length * 8) throw new RangeError('read past the end of the data');
    const b = (this.data[this.pos >> 3]! >> (7 - (this.pos & 7))) & 1;
    this.pos++;
    return b;
  }

  /** u(n), n ≤ 32. */
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.bit();
    return v;
  }

  /** ue(v): unsigned exp-Golomb (§9.1). */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError('exp-Golomb code longer than 32 bits');
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  /** se(v): signed exp-Golomb (§9.1.1). */
  se(): number {
    return seValue(this.ue());
  }
}

/** The se(v) value of exp-Golomb code number k (§9.1.1, Table 9-3). */
export function seValue(k: number): number {
  return k % 2 === 1 ? (k + 1) / 2 : k === 0 ? 0 : -k / 2;
}

/** The code number k of a se(v) value. */
export function seCodeNum(v: number): number {
  return v > 0 ? 2 * v - 1 : -2 * v;
}

/** MSB-first bit writer. */
export class BitWriter {
  private readonly bits: number[] = [];

  get length(): number {
    return this.bits.length;
  }

  /** Writes the low `n` bits of `value` (any non-negative number below 2^53), MSB first. */
  u(n: number, value: number): void {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
  }

  ue(v: number): void {
    const n = Math.floor(Math.log2(v + 1));
    this.u(2 * n + 1, v + 1);
  }

  se(v: number): void {
    this.ue(seCodeNum(v));
  }

  /** rbsp_trailing_bits: a 1, then 0s to the byte boundary. */
  trailing(): void {
    this.bits.push(1);
    while (this.bits.length % 8) this.bits.push(0);
  }

  /** The bits as bytes (the last byte padded with 0s). */
  bytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.bits.length / 8));
    this.bits.forEach((b, i) => {
      if (b) out[i >> 3]! |= 0x80 >> (i & 7);
    });
    return out;
  }
}

export interface Rbsp {
  /** The RBSP bytes (emulation prevention bytes removed). */
  bytes: Uint8Array;
  /** For each RBSP byte, its index in the escaped input. */
  sourceIndex: Int32Array;
}

/**
 * NAL payload → RBSP: removes each emulation_prevention_three_byte (00 00 03 → 00 00). Throws `H264FormatError`
 * (offset = `base` + index) on 00 00 00, 00 00 01 or 00 00 02 inside the payload, which a NAL unit cannot contain.
 */
export function unescapeRbsp(payload: Uint8Array, base = 0): Rbsp {
  const bytes = new Uint8Array(payload.length);
  const sourceIndex = new Int32Array(payload.length);
  let n = 0;
  let zeros = 0;
  for (let i = 0; i < payload.length; i++) {
    const b = payload[i]!;
    if (zeros >= 2 && b <= 3) {
      if (b < 3) throw new H264FormatError(`00 00 ${b.toString(16).padStart(2, '0')} inside a NAL unit (a start code or forbidden sequence)`, base + i);
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    sourceIndex[n] = i;
    bytes[n++] = b;
  }
  return { bytes: bytes.subarray(0, n), sourceIndex: sourceIndex.subarray(0, n) };
}

/**
 * RBSP → NAL payload: inserts 03 after every 00 00 that is followed by 00…03 (§7.4.1). `leadingZeros` is the number
 * of 00 bytes that precede `rbsp` in the same payload (so a continuation is escaped correctly).
 */
export function escapeRbsp(rbsp: Uint8Array | readonly number[], leadingZeros = 0): Uint8Array {
  const out: number[] = [];
  let zeros = Math.min(leadingZeros, 2);
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

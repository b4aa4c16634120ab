/**
 * `SyntaxReader`: reads the syntax elements of one RBSP in one of three modes, so that a single parser serves as a
 * checker of whole NAL units, an incremental checker of prefixes, and a generator of completions:
 *  - 'final': the RBSP is the whole NAL unit; running out of bits is an error, more_rbsp_data() looks for the stop bit;
 *  - 'prefix': more bytes will follow; running out of bits throws `NEED_MORE` when some valid value of the element
 *    being read still starts with the bits seen (otherwise it is an error), and more_rbsp_data() is true inside the
 *    prefix (the stop bit is in a later byte);
 *  - 'complete': like 'prefix', but where the bits run out the reader *chooses* the rest: each element takes its
 *    preferred valid value that starts with the bits seen (then the cheapest), its remaining bits are written to
 *    `generated`, and every later element is chosen the same way; slices end where the parser's policy says.
 * Every element is read with its constraints (a range and a predicate), so a prefix accepted in 'prefix' mode always
 * has a valid continuation of the element being read. With `soft` set (`runParse` sets it in 'prefix' and 'final'
 * modes), running out of bits and syntax errors are recorded in `stop` instead of thrown, and the parse runs out
 * with zeros (exceptions cost microseconds each, and the validator's parses mostly end that way).
 */
import { seCodeNum, seValue } from './bits';
import type { Vlc, VlcEntry } from './tables';

export type ParseMode = 'final' | 'prefix' | 'complete';

/** Thrown in 'prefix' mode where the bits run out and the prefix is still valid. */
export const NEED_MORE: unique symbol = Symbol('need more bits');

/** A syntax error at a bit position of the RBSP. */
export class SyntaxFailure {
  constructor(
    readonly message: string,
    readonly bit: number,
  ) {}
}

export interface ElementOptions {
  /** Values tried first, in order, when the reader chooses (mode 'complete'). */
  readonly prefer?: readonly number[] | undefined;
  /** Extra validity test (besides the range). */
  readonly valid?: ((v: number) => boolean) | undefined;
  /** When choosing without a preferred value: the largest valid value instead of the smallest. */
  readonly largest?: boolean | undefined;
  /** What the value means, for messages. */
  readonly what?: string | undefined;
}

const SCAN_LIMIT = 1 << 16;
/** te(v) with one bit: value 0 is the bit 1. */
const PREFER_ONE: ElementOptions = { prefer: [1] };

/** A valid value of [a, b] ∩ [lo, hi]: a preferred one first, then the smallest (or largest); undefined if none. */
function pick(a: number, b: number, lo: number, hi: number, o: ElementOptions | undefined): number | undefined {
  const from = Math.max(a, lo);
  const to = Math.min(b, hi);
  if (from > to) return undefined;
  const ok = (v: number): boolean => v >= from && v <= to && (!o?.valid || o.valid(v));
  for (const v of o?.prefer ?? []) if (ok(v)) return v;
  if (!o?.valid) return o?.largest ? to : from;
  if (o.largest) {
    for (let v = to, n = 0; v >= from && n < SCAN_LIMIT; v--, n++) if (o.valid(v)) return v;
  } else {
    for (let v = from, n = 0; v <= to && n < SCAN_LIMIT; v++, n++) if (o.valid(v)) return v;
  }
  return undefined;
}

export class SyntaxReader {
  /** Bit position (in 'complete' mode it goes on through the generated bits). */
  pos = 0;
  /** True once the reader has started choosing (mode 'complete', past the end of the data). */
  generating = false;
  /** The bits chosen in 'complete' mode, in order (0/1). */
  readonly generated: number[] = [];
  /** Bits of data. */
  readonly end: number;
  /** 'final' mode: position of the rbsp_stop_one_bit (the last 1 bit), −1 if there is none. */
  readonly stopBit: number;
  /**
   * Soft stops ('prefix' and 'final' modes, set by the parser where it is safe): where the reader would throw
   * `NEED_MORE` or a `SyntaxFailure`, it records that in `stop`, sets `halted` and returns 0 instead; once halted,
   * every read returns 0 at once (more_rbsp_data() false) and nothing more is recorded, so the parse runs out quickly
   * and its caller reads the outcome from `stop` (throwing is slow: the validator's parses mostly end this way).
   */
  soft = false;
  halted = false;
  stop: SyntaxFailure | typeof NEED_MORE | undefined;

  constructor(
    private readonly data: Uint8Array,
    length: number,
    readonly mode: ParseMode,
  ) {
    this.end = length * 8;
    let stop = -1;
    for (let i = length - 1; i >= 0; i--) {
      const b = data[i]!;
      if (b) {
        let bit = 7;
        while (!((b >> (7 - bit)) & 1)) bit--;
        stop = i * 8 + bit;
        break;
      }
    }
    this.stopBit = stop;
  }

  fail(message: string, at = this.pos): never {
    throw new SyntaxFailure(message, at);
  }

  /** `fail`, or in soft mode a recorded stop (returns 0). */
  failSoft(message: string, at = this.pos): number {
    if (!this.soft) throw new SyntaxFailure(message, at);
    if (!this.halted) {
      this.halted = true;
      this.stop = new SyntaxFailure(message, at);
    }
    return 0;
  }

  /** Throws `NEED_MORE`, or in soft mode records it (returns 0). */
  private needMore(): number {
    if (!this.soft) throw NEED_MORE;
    if (!this.halted) {
      this.halted = true;
      this.stop = NEED_MORE;
    }
    return 0;
  }

  private bitAt(p: number): number {
    return (this.data[p >> 3]! >> (7 - (p & 7))) & 1;
  }

  /** Writes bits `from`… of a `length`-bit code (MSB first) as generated bits. */
  private emit(code: number, length: number, from: number): void {
    for (let i = from; i < length; i++) this.generated.push(Math.floor(code / 2 ** (length - 1 - i)) % 2);
    this.pos += length - from;
  }

  /** The code of value `v` for a fixed-length (`n` > 0) or exp-Golomb (`n` = 0) element: [code, length]. */
  private static codeLength(n: number, v: number): number {
    return n > 0 ? n : 2 * Math.floor(Math.log2(v + 1)) + 1;
  }

  /**
   * The bits ran out inside an element that started at `start` (fixed-length `n` bits, or exp-Golomb when `n` is 0);
   * [a, b] are the values that start with the bits seen. Returns the chosen value ('complete'), or throws.
   */
  private outOfBits(name: string, start: number, a: number, b: number, lo: number, hi: number, o: ElementOptions | undefined, n: number): number {
    if (this.mode === 'final') return this.failSoft(`the NAL unit ends inside ${name}`, start);
    const v = pick(a, b, lo, hi, o);
    if (v === undefined) return this.failSoft(`no valid ${name} starts with these bits`, start);
    if (this.mode === 'prefix') return this.needMore();
    this.pos = this.end;
    this.emit(n > 0 ? v : v + 1, SyntaxReader.codeLength(n, v), this.end - start);
    this.generating = true;
    return v;
  }

  private check(name: string, v: number, lo: number, hi: number, o: ElementOptions | undefined, start: number): number {
    if (v < lo || v > hi) return this.failSoft(`${name} ${v} is out of range ${lo}…${hi}${o?.what ? ` (${o.what})` : ''}`, start);
    if (o?.valid && !o.valid(v)) return this.failSoft(`${name} ${v} is not allowed here${o.what ? ` (${o.what})` : ''}`, start);
    return v;
  }

  private choose(name: string, lo: number, hi: number, o: ElementOptions | undefined, n: number): number {
    const v = pick(lo, hi, lo, hi, o);
    if (v === undefined) this.fail(`internal: no valid ${name} to choose`);
    this.emit(n > 0 ? v : v + 1, SyntaxReader.codeLength(n, v), 0);
    return v;
  }

  /** u(n), n ≤ 32, with the range lo…hi. */
  u(n: number, name: string, lo = 0, hi = 2 ** n - 1, o?: ElementOptions): number {
    if (this.halted) return 0;
    if (this.generating) return this.choose(name, lo, hi, o, n);
    const start = this.pos;
    if (start + n <= this.end) {
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 2 + this.bitAt(this.pos++);
      return v < lo || v > hi || (o?.valid && !o.valid(v)) ? this.check(name, v, lo, hi, o, start) : v;
    }
    let v = 0;
    let k = 0;
    while (this.pos < this.end) {
      v = v * 2 + this.bitAt(this.pos++);
      k++;
    }
    const scale = 2 ** (n - k);
    return this.outOfBits(name, start, v * scale, (v + 1) * scale - 1, lo, hi, o, n);
  }

  flag(name: string, o?: ElementOptions): boolean {
    return this.u(1, name, 0, 1, o) === 1;
  }

  /** ue(v) with the range lo…hi. */
  ue(name: string, lo = 0, hi = 2 ** 32 - 2, o?: ElementOptions): number {
    if (this.halted) return 0;
    if (this.generating) return this.choose(name, lo, hi, o, 0);
    const start = this.pos;
    let zeros = 0;
    while (this.pos < this.end && this.bitAt(this.pos) === 0) {
      this.pos++;
      if (++zeros > 31) return this.failSoft(`${name}: exp-Golomb code longer than 32 bits`, start);
    }
    if (this.pos >= this.end) {
      // Only zeros so far: any value with at least this many leading zeros.
      if (2 ** zeros - 1 > hi) return this.failSoft(`${name}: no value ≤ ${hi} has ${zeros} leading zeros`, start);
      return this.outOfBits(name, start, 2 ** zeros - 1, 2 ** 32 - 2, lo, hi, o, 0);
    }
    this.pos++;
    let s = 0;
    let k = 0;
    while (k < zeros && this.pos < this.end) {
      s = s * 2 + this.bitAt(this.pos++);
      k++;
    }
    if (k < zeros) {
      const scale = 2 ** (zeros - k);
      const base = 2 ** zeros - 1;
      return this.outOfBits(name, start, base + s * scale, base + (s + 1) * scale - 1, lo, hi, o, 0);
    }
    const v = 2 ** zeros - 1 + s;
    return v < lo || v > hi || (o?.valid && !o.valid(v)) ? this.check(name, v, lo, hi, o, start) : v;
  }

  /** se(v) with the range lo…hi (lo ≤ 0 ≤ hi); values other than those of `o.prefer` are not preferred. */
  se(name: string, lo: number, hi: number, o?: ElementOptions): number {
    if (this.halted) return 0;
    const kMax = Math.max(2 * hi - 1, -2 * lo, 0);
    // Fast path: a whole code in the data, no predicate.
    if (!this.generating && !o?.valid) {
      const start = this.pos;
      const save = this.pos;
      let zeros = 0;
      while (this.pos < this.end && this.bitAt(this.pos) === 0 && zeros < 32) {
        this.pos++;
        zeros++;
      }
      if (zeros <= 31 && this.pos + 1 + zeros <= this.end) {
        this.pos++;
        let s = 0;
        for (let i = 0; i < zeros; i++) s = s * 2 + this.bitAt(this.pos++);
        const v = seValue(2 ** zeros - 1 + s);
        if (v < lo || v > hi) return this.failSoft(`${name} ${v} is out of range ${lo}…${hi}${o?.what ? ` (${o.what})` : ''}`, start);
        return v;
      }
      this.pos = save;
    }
    const k = this.ue(name, 0, kMax, {
      prefer: (o?.prefer ?? [0]).map(seCodeNum),
      valid: (c) => {
        const v = seValue(c);
        return v >= lo && v <= hi && (!o?.valid || o.valid(v));
      },
      what: o?.what ?? `a value in ${lo}…${hi}`,
    });
    return seValue(k);
  }

  /** te(v) with the range 0…max (max ≥ 1): one inverted bit when max is 1, else ue(v). */
  te(name: string, max: number): number {
    if (max === 1) return 1 - this.u(1, name, 0, 1, PREFER_ONE);
    return this.ue(name, 0, max);
  }

  private static okEntry(o: ElementOptions | undefined, e: VlcEntry): boolean {
    return !o?.valid || o.valid(e.value);
  }

  private static anyEntry(o: ElementOptions | undefined, entries: readonly VlcEntry[]): boolean {
    if (!o?.valid) return entries.length > 0;
    for (const e of entries) if (o.valid(e.value)) return true;
    return false;
  }

  private static bestEntry(o: ElementOptions | undefined, entries: readonly VlcEntry[]): VlcEntry | undefined {
    for (const v of o?.prefer ?? []) {
      const e = entries.find((x) => x.value === v);
      if (e && SyntaxReader.okEntry(o, e)) return e;
    }
    let choice: VlcEntry | undefined;
    for (const e of entries) if (SyntaxReader.okEntry(o, e) && (!choice || e.length < choice.length)) choice = e;
    return choice;
  }

  /** A code word of a VLC table. */
  vlc(table: Vlc, o?: ElementOptions): number {
    if (this.halted) return 0;
    if (this.generating) {
      const e = SyntaxReader.bestEntry(o, table.entries);
      if (!e) this.fail(`internal: no valid ${table.name} to choose`);
      this.emit(e.code, e.length, 0);
      return e.value;
    }
    const start = this.pos;
    const child = table.child;
    const leaf = table.leaf;
    let node = 0;
    for (;;) {
      const v = leaf[node]!;
      if (v >= 0) {
        if (o?.valid && !o.valid(v)) return this.failSoft(`${table.name}: code for ${v} is not allowed here${o.what ? ` (${o.what})` : ''}`, start);
        return v;
      }
      if (this.pos >= this.end) {
        if (this.mode === 'final') return this.failSoft(`the NAL unit ends inside ${table.name}`, start);
        if (this.mode === 'prefix') {
          if (!SyntaxReader.anyEntry(o, table.under[node]!)) return this.failSoft(`no valid ${table.name} starts with these bits`, start);
          return this.needMore();
        }
        const e = SyntaxReader.bestEntry(o, table.under[node]!);
        if (!e) this.fail(`no valid ${table.name} starts with these bits`, start);
        this.pos = this.end;
        this.emit(e.code, e.length, this.end - start);
        this.generating = true;
        return e.value;
      }
      const next = child[2 * node + this.bitAt(this.pos)]!;
      if (next < 0) return this.failSoft(`invalid ${table.name} code`, start);
      this.pos++;
      node = next;
    }
  }

  /**
   * more_rbsp_data() at a point where the syntax may end. `mayContinue`: whether more syntax is allowed here (e.g.
   * macroblocks remain in the picture). When choosing, the reader continues exactly when it may.
   */
  moreData(mayContinue: boolean): boolean {
    if (this.halted) return false;
    if (this.generating) return mayContinue;
    if (this.mode === 'final') {
      const more = this.pos < this.stopBit;
      if (more && !mayContinue) {
        this.failSoft('data continues where the syntax must end');
        return false;
      }
      return more;
    }
    if (this.pos < this.end) return mayContinue;
    // At the end of the bytes seen: the unit may end with the next byte, or go on.
    if (this.mode === 'prefix') {
      this.needMore();
      return false;
    }
    this.generating = true;
    return mayContinue;
  }

  /** rbsp_trailing_bits(): the stop bit, zeros to the byte boundary, and the end of the unit. */
  trailing(): void {
    if (this.halted) return;
    if (this.generating) {
      this.emit(1, 1, 0);
      while (this.pos % 8) this.emit(0, 1, 0);
      return;
    }
    const start = this.pos;
    if (this.pos >= this.end) {
      if (this.mode === 'final') {
        this.failSoft('the NAL unit ends without rbsp_stop_one_bit', start);
        return;
      }
      if (this.mode === 'prefix') {
        this.needMore();
        return;
      }
      this.generating = true;
      this.trailing();
      return;
    }
    if (this.bitAt(this.pos++) !== 1) {
      this.failSoft('rbsp_stop_one_bit must be 1', start);
      return;
    }
    while (this.pos % 8) {
      if (this.bitAt(this.pos++) !== 0) {
        this.failSoft('rbsp_alignment_zero_bit must be 0', this.pos - 1);
        return;
      }
    }
    if (this.pos < this.end) {
      this.failSoft('data after rbsp_trailing_bits', this.pos);
      return;
    }
    // In 'prefix' mode more bytes were to follow, but the unit is complete.
    if (this.mode === 'prefix') this.failSoft('the NAL unit is complete here: a start code must follow', this.pos);
  }

  /** The generated bits as bytes (a whole number of bytes once the unit is complete). */
  generatedBytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.generated.length / 8));
    this.generated.forEach((b, i) => {
      if (b) out[i >> 3]! |= 0x80 >> (i & 7);
    });
    return out;
  }
}

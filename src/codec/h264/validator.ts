/**
 * `H264StreamValidator`: an incremental validator of canonical H.264 Annex B streams for grammar-constrained
 * decoding over bytes. Fed one byte at a time, it says which next bytes keep the stream decodable (a 256-bit mask),
 * how many frames are complete, whether the stream may end here, and which bytes close it from any state.
 *
 * The grammar, on top of a prompt (any prefix of a stream `describeStream` accepts, e.g. `cutAfterFrames`):
 *  - start codes 00 00 01 or 00 00 00 01, then a NAL unit header: slices (types 1 and 5, nal_ref_idc ≠ 0, the same
 *    type and nal_ref_idc within a picture, type 5 only for IDR pictures), one SPS and new PPS ids before the first
 *    slice, afterwards only byte-identical copies of them between pictures; no SEI, AUD or other types;
 *  - emulation prevention: no 00 00 00 / 00 00 01 / 00 00 02 inside a NAL unit, 00 00 03 removed before parsing;
 *  - every NAL unit parses completely (src/codec/h264/slice.ts, params.ts): slice headers consistent with the
 *    parameter sets and the stream (first_mb_in_slice continuing the picture, slice_type, pps id, frame_num
 *    progression, idr_pic_id, POC, reference counts), slice data as Baseline CAVLC macroblocks, rbsp_trailing_bits;
 *  - a NAL unit ends only where its RBSP is complete; a stream ends only after a complete frame.
 * Every state the validator accepts has a valid continuation: each syntax element is checked for a valid completion
 * of the bits seen so far, and `closingBytes` constructs one.
 *
 * Frames: `frames` counts complete frames, prompt included (a frame is complete once the last byte of the slice that
 * covers its last macroblock is accepted). With `maxFrames`, nothing may follow the frame that reaches it:
 * `isComplete()` is then true and the mask is empty. To generate m frames after a prompt, feed the prompt, then use a
 * validator made with `maxFrames = frames + m` (or `withMaxFrames`).
 *
 * Cost: each byte tried is a parse of the NAL unit being written with that byte after it ('prefix', and 'final' where
 * it could end the unit). In slice data a parse resumes at the latest checkpoint (slice.ts `SliceCheckpoint`: the
 * top of each macroblock, each residual block, coefficient, total_zeros and run_before) within the bytes already
 * accepted, so it reads a few syntax elements instead of the whole unit; 'final' is skipped where the 'prefix' parse
 * shows it cannot succeed (`sliceFinalMaySucceed`); the reader stops without throwing (`SyntaxReader.soft`).
 * `allowedNextBytes` memoises the parses' verdicts for the 256 bytes on (checkpoint key, bits after it, pending
 * zeros), and parameter sets on their bytes. The slice header and parameter sets are still parsed from the start.
 * `checkpoints: false` keeps the plain re-parse path as the tests' reference: the results are the same.
 */
import { escapeRbsp } from './bits';
import { nalHeaderByte, NAL_IDR, NAL_PPS, NAL_SLICE, NAL_SPS } from './nal';
import type { ParseMode, SyntaxReader } from './reader';
import type { CheckpointSink, ParseOutcome, SliceCheckpoint, SliceInfo } from './slice';
import { checkpointKey, runParse, runSliceParse, sliceFinalMaySucceed } from './slice';
import { isNalKind, type NalKind, StreamState } from './stream';

import { allowedTokensOf, maskHas, type ByteMask } from '../byteMask';

export { maskBytes, maskHas, type ByteMask } from '../byteMask';

export interface H264ValidatorOptions {
  /** Total frames (prompt included) after which the stream must end. */
  readonly maxFrames?: number | undefined;
  /**
   * false: re-parse the NAL unit being written from its start for every byte tried, without checkpoints (the
   * reference path the tests compare the default with; same results, slower).
   */
  readonly checkpoints?: boolean | undefined;
  /**
   * Most macroblocks one slice may cover (undefined: any). The canonical streams have 1 (x264's slice-max-mbs, the
   * pack's `codec.sliceMaxMbs`): generated slices then look like the training data, and closing bytes write one
   * skipped macroblock per slice.
   */
  readonly maxMbsPerSlice?: number | undefined;
}

/** How `closingBytes` ends: after the current frame, or also with frozen frames (all macroblocks skipped) up to `maxFrames`. */
export type H264ClosingMode = 'frame' | 'fill';

export interface H264Rejection {
  readonly offset: number;
  readonly byte: number;
  readonly reason: string;
}

/** Memoised parse verdicts of slice payload states (`parsedBytes`), shared by all validators; read-only masks. */
const PARSED = new Map<string, ByteMask>();
const PARSED_LIMIT = 1 << 14;
/** `checkpointKey` of each checkpoint (immutable, shared by clones). */
const KEYS = new WeakMap<SliceCheckpoint, string>();

/** Bytes of the byte stream between NAL units (start codes). */
const SC = 0;
/** The NAL unit header byte. */
const HEADER = 1;
/** A NAL unit payload that is parsed. */
const PAYLOAD = 2;
/** A parameter set repeated byte for byte. */
const COPY = 3;

type Action =
  | { kind: 'sc-zero' }
  | { kind: 'sc-one' }
  | { kind: 'header'; nal: NalKind }
  | { kind: 'copy' }
  | { kind: 'copy-end' }
  | { kind: 'pending-zero' }
  | { kind: 'end-nal' }
  | { kind: 'escape' }
  | { kind: 'append' };

interface Snapshot {
  phase: number;
  zeros: number;
  header: number;
  nal: NalKind;
  state: StreamState;
  rbsp: Uint8Array;
  rbspLen: number;
  raw: number[];
  rawLen: number;
  final: ParseOutcome<unknown> | undefined;
  offset: number;
  parse: ((r: SyntaxReader) => unknown) | undefined;
  copies: Uint8Array[];
  checkpoint: SliceCheckpoint | undefined;
  checkpointLimit: number;
}

export class H264StreamValidator {
  readonly maxFrames: number | undefined;
  private phase = SC;
  /** SC: zeros of the start code so far; PAYLOAD: 00 bytes not yet known to be payload or a start code. */
  private zeros = 0;
  private header = 0;
  private nal: NalKind = 'ignored';
  private state = new StreamState();
  private rbsp: Uint8Array = new Uint8Array(64);
  private rbspLen = 0;
  /** The NAL unit as coded so far (header byte, escaped payload; pending zeros not included). */
  private raw: number[] = [];
  /** The final-mode parse of the RBSP so far (computed lazily). */
  private final: ParseOutcome<unknown> | undefined;
  private parse: ((r: SyntaxReader) => unknown) | undefined;
  private copies: Uint8Array[] = [];
  private offset = 0;
  private rejection: H264Rejection | undefined;
  private readonly useCheckpoints: boolean;
  /** The latest slice-data checkpoint within the RBSP so far (a cache: parses resume there). */
  private checkpoint: SliceCheckpoint | undefined;
  /** The RBSP bit length up to which `checkpoint` is the latest (−1: not known). */
  private checkpointLimit = -1;
  private readonly sink: CheckpointSink = { limit: 0, best: undefined };

  constructor(options: H264ValidatorOptions = {}) {
    this.maxFrames = options.maxFrames;
    this.useCheckpoints = options.checkpoints ?? true;
    this.state.maxMbsPerSlice = options.maxMbsPerSlice;
  }

  private get options(): H264ValidatorOptions {
    return { maxFrames: this.maxFrames, checkpoints: this.useCheckpoints, maxMbsPerSlice: this.state.maxMbsPerSlice };
  }

  /** Bytes accepted so far. */
  get position(): number {
    return this.offset;
  }

  /** Complete frames so far (prompt included). */
  get frames(): number {
    return this.state.frames + (this.completesPicture() ? 1 : 0);
  }

  /** The picture size, once the SPS has been read. */
  get size(): { width: number; height: number } | undefined {
    const s = this.state.sps;
    return s && { width: s.width, height: s.height };
  }

  /** Macroblocks of the current picture covered by complete slices (0 between pictures). */
  get macroblocksDone(): number {
    return this.state.picture?.nextMb ?? 0;
  }

  get lastRejection(): H264Rejection | undefined {
    return this.rejection;
  }

  /**
   * The stream may end here: it has a frame and the last NAL unit is a complete slice that completes its picture
   * (a stream ending with a parameter set is valid, but decoders complain of an access unit without a picture).
   */
  canEnd(): boolean {
    return this.zeros === 0 && this.completesPicture();
  }

  /** `maxFrames` is reached at a clean end: nothing more may follow. */
  isComplete(): boolean {
    return this.maxFrames !== undefined && this.frames >= this.maxFrames && this.canEnd();
  }

  /** Accepts `byte` if the stream stays valid (true); otherwise changes nothing and returns false. */
  feed(byte: number): boolean {
    const a = this.decide(byte);
    if (typeof a === 'string') {
      this.rejection = { offset: this.offset, byte, reason: a };
      return false;
    }
    this.apply(a, byte);
    this.offset++;
    return true;
  }

  /** Feeds bytes until one is refused; returns how many were accepted. */
  feedAll(bytes: Uint8Array | readonly number[]): number {
    for (let i = 0; i < bytes.length; i++) if (!this.feed(bytes[i]!)) return i;
    return bytes.length;
  }

  /** Whether all of `bytes` would be accepted from here (the state is left unchanged). */
  accepts(bytes: Uint8Array | readonly number[]): boolean {
    const s = this.save();
    const ok = this.feedAll(bytes) === bytes.length;
    this.restore(s);
    return ok;
  }

  /** The bytes allowed next (a new mask each call). */
  allowedNextBytes(): ByteMask {
    const m = new Uint32Array(8);
    const parsed = this.phase === PAYLOAD && this.parse && this.useCheckpoints && this.zeros < 3 ? this.parsedBytes() : undefined;
    if (!parsed) {
      for (let b = 0; b < 256; b++) if (typeof this.decide(b) !== 'string') m[b >>> 5]! |= 1 << (b & 31);
      return m;
    }
    // decide(b) of the PAYLOAD phase, with the parses' verdicts from `parsed`.
    const z = this.zeros;
    for (let b = 0; b < 256; b++) {
      let ok: boolean;
      if (b === 0) ok = (z < 2 && maskHas(parsed, 0)) || this.endOk() === undefined;
      else if (z >= 2 && b === 1) ok = this.endOk() === undefined;
      else if (z === 2 && b === 2) ok = false;
      else ok = maskHas(parsed, b);
      if (ok) m[b >>> 5]! |= 1 << (b & 31);
    }
    return m;
  }

  /**
   * In a slice's payload (fewer than 3 pending zeros), the verdicts of the parses `decide` makes, as a mask: bit 0
   * `payloadOk([...zeros, 0], false)` (z < 2), bit 3 when z = 2 `payloadOk([0, 0], false)` (the escape), every
   * other bit b (but 1 and 2 when z = 2) `payloadOk([...zeros, b], true)`. Memoised on the latest checkpoint's key,
   * the bits after it and z (see `checkpointKey`): parses that resume there depend on nothing else. Undefined where
   * the checkpoint cannot serve (none yet: the slice header; or more_rbsp_data() asked at the end of the RBSP).
   */
  private parsedBytes(): ByteMask | undefined {
    const z = this.zeros;
    const limit = this.rbspLen * 8;
    let key: string;
    if (this.nal === 'slice') {
      // Bring the checkpoint up to the RBSP's end (one parse; its verdict is not needed).
      if (this.checkpointLimit !== limit) this.payloadOk([...new Array<number>(z).fill(0), 0xff], false);
      const cp = this.checkpoint;
      if (!cp || cp.maxMore >= limit) return undefined;
      let k = KEYS.get(cp);
      if (k === undefined) {
        k = checkpointKey(cp);
        KEYS.set(cp, k);
      }
      key = `${k}|${z}|`;
      for (let p = cp.pos; p < limit; p++) key += (this.rbsp[p >> 3]! >> (7 - (p & 7))) & 1;
    } else {
      // A parameter set: its parse depends on its bytes and (a PPS) on the ids known (fixed for the NAL unit).
      const st = this.state;
      key = `${this.nal}|${st.sps?.spsId}|${[...st.pps.keys()].join(',')}|${z}|`;
      for (let i = 0; i < this.rbspLen; i++) key += String.fromCharCode(this.rbsp[i]!);
    }
    const known = PARSED.get(key);
    if (known) return known;
    const extra = new Array<number>(z + 1).fill(0);
    const m = new Uint32Array(8);
    for (let b = 0; b < 256; b++) {
      let why: string | undefined;
      if (z === 2 && b <= 3) {
        if (b < 3) continue;
        why = this.payloadOk([0, 0], false);
      } else {
        if (b === 0 && z >= 2) continue;
        extra[z] = b;
        why = this.payloadOk(extra, b !== 0);
      }
      if (why === undefined) m[b >>> 5]! |= 1 << (b & 31);
    }
    if (PARSED.size >= PARSED_LIMIT) PARSED.clear();
    PARSED.set(key, m);
    return m;
  }

  /** Tokens allowed next for a vocabulary given as the bytes of each token (undefined: not bytes, never allowed). */
  allowedTokens(vocabulary: readonly (Uint8Array | readonly number[] | undefined)[], out: Uint8Array = new Uint8Array(vocabulary.length)): Uint8Array {
    return allowedTokensOf(this, vocabulary, out);
  }

  /** An independent copy. */
  clone(): H264StreamValidator {
    const v = new H264StreamValidator(this.options);
    v.restore(this.save());
    v.rbsp = this.rbsp.slice();
    v.raw = this.raw.slice();
    return v;
  }

  /** A copy at the same position with another frame limit (e.g. after the prompt: frames + m). */
  withMaxFrames(maxFrames: number | undefined): H264StreamValidator {
    const v = new H264StreamValidator({ maxFrames, checkpoints: this.useCheckpoints, maxMbsPerSlice: this.state.maxMbsPerSlice });
    v.restore(this.save());
    v.rbsp = this.rbsp.slice();
    v.raw = this.raw.slice();
    return v;
  }

  /**
   * Bytes that end the stream validly from here: the NAL unit being written completed with the cheapest syntax
   * (the rest of the slice header as the picture requires, remaining macroblocks skipped in P slices, I_16x16 DC
   * macroblocks without coefficients in I slices, zero motion and coefficients), the current picture finished with
   * one more slice if needed, and with 'fill' frozen P frames (every macroblock skipped) up to `maxFrames`. Empty when
   * the stream may already end. The state is unchanged.
   */
  closingBytes(mode: H264ClosingMode = 'frame'): Uint8Array {
    const v = this.clone();
    const out: number[] = [];
    const push = (bytes: Iterable<number>): void => {
      for (const b of bytes) {
        if (!v.feed(b)) throw new Error(`internal: closing byte ${b} refused at ${v.offset}: ${v.rejection?.reason}`);
        out.push(b);
      }
    };
    const target = mode === 'fill' && v.maxFrames !== undefined ? v.maxFrames : 0;
    for (let guard = 0; guard < 100000; guard++) {
      if (v.canEnd() && v.frames >= target) return Uint8Array.from(out);
      switch (v.phase) {
        case PAYLOAD: {
          if (!v.zeros && v.finalParse().status === 'ok') {
            // The NAL unit is complete; another must follow.
            // x264's habit: a 4-byte start code before a picture's first NAL unit, 3 bytes inside a picture.
            push(v.nal === 'slice' && !v.completesPicture() ? [0, 0, 1] : [0, 0, 0, 1]);
            break;
          }
          const done = v.completion();
          if (done) push(done);
          else push(v.zeros >= 2 ? [1] : [0, 1]);
          break;
        }
        case SC:
          push(v.zeros >= 2 ? [1] : [0]);
          break;
        case COPY: {
          const c = v.copies.find((x) => x.length > v.raw.length);
          push(c ? c.subarray(v.raw.length) : [0, 0, 0, 1]);
          break;
        }
        case HEADER: {
          const st = v.state;
          const p = st.picture;
          let header: number;
          if (!st.sps) header = nalHeaderByte(3, NAL_SPS);
          else if (st.pps.size === 0) header = nalHeaderByte(3, NAL_PPS);
          else if (p) header = nalHeaderByte(p.nalRefIdc, p.idr ? NAL_IDR : NAL_SLICE);
          else header = st.refFrames > 0 ? nalHeaderByte(st.lastSlice?.nalRefIdc ?? 2, NAL_SLICE) : nalHeaderByte(3, NAL_IDR);
          push([header]);
          if ((v.phase as number) === PAYLOAD) push(v.completion()!);
          break;
        }
        default:
          throw new Error('internal: unknown phase');
      }
    }
    throw new Error('internal: closing did not terminate');
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────────────────────────

  /** The escaped bytes that complete the current NAL unit's payload (pending zeros taken as payload), or undefined. */
  private completion(): Uint8Array | undefined {
    const extra = new Array<number>(this.zeros).fill(0);
    const len = this.stage(extra);
    const out = runParse(this.rbsp, len, 'complete', this.parse!);
    if (out.status !== 'ok') return undefined;
    let trailingZeros = this.zeros;
    if (!trailingZeros) for (let i = this.raw.length - 1; i >= 1 && this.raw[i] === 0; i--) trailingZeros++;
    const gen = out.reader.generatedBytes();
    return escapeRbsp(gen, trailingZeros);
  }

  /** The NAL unit being read (pending zeros aside: they can only be a start code then) completes its picture. */
  private completesPicture(): boolean {
    if (this.phase !== PAYLOAD || this.nal !== 'slice') return false;
    const f = this.finalParse();
    if (f.status !== 'ok') return false;
    const sps = this.state.sps!;
    return (f.value as SliceInfo).mbEnd === sps.widthInMbs * sps.heightInMbs;
  }

  private finalParse(): ParseOutcome<unknown> {
    if (!this.final) this.final = this.parse ? this.run(this.rbspLen, 'final') : { status: 'error', message: 'no parser', bit: 0 };
    return this.final;
  }

  /**
   * Parses the RBSP staged up to `len` bytes: a slice resumes at the latest checkpoint (the RBSP before `rbspLen` is
   * the same for every parse of this NAL unit) and leaves a later one if it passes one within those bytes.
   */
  private run(len: number, mode: ParseMode): ParseOutcome<unknown> {
    if (this.nal !== 'slice' || !this.useCheckpoints) return runParse(this.rbsp, len, mode, this.parse!);
    const sink = this.sink;
    sink.limit = this.rbspLen * 8;
    sink.best = this.checkpoint;
    const out = runSliceParse(this.rbsp, len, mode, this.parse!, this.checkpoint, sink);
    this.checkpoint = sink.best;
    this.checkpointLimit = sink.limit;
    sink.best = undefined;
    return out;
  }

  /** Writes `extra` after the RBSP (not committed); returns the staged length. */
  private stage(extra: readonly number[]): number {
    const len = this.rbspLen + extra.length;
    if (len > this.rbsp.length) {
      const b = new Uint8Array(Math.max(len, this.rbsp.length * 2));
      b.set(this.rbsp.subarray(0, this.rbspLen));
      this.rbsp = b;
    }
    for (let i = 0; i < extra.length; i++) this.rbsp[this.rbspLen + i] = extra[i]!;
    return len;
  }

  /** Whether the RBSP followed by `extra` is a valid prefix (more to come), or also (`orFinal`) a complete unit. */
  private payloadOk(extra: readonly number[], orFinal: boolean): string | undefined {
    const len = this.stage(extra);
    const p = this.run(len, 'prefix');
    if (p.status === 'more') return undefined;
    // A slice whose 'prefix' parse never asked more_rbsp_data() at the stop bit cannot be whole (sliceFinalMaySucceed).
    if (orFinal && (this.nal !== 'slice' || !this.useCheckpoints || p.status !== 'error' || sliceFinalMaySucceed())) {
      const f = this.run(len, 'final');
      if (f.status === 'ok') return undefined;
    }
    return p.status === 'error' ? p.message : 'invalid';
  }

  /** Why the NAL unit may not end here (undefined: it may, and a start code may follow). */
  private endOk(): string | undefined {
    const f = this.finalParse();
    if (f.status !== 'ok') return f.status === 'error' ? `the NAL unit is not complete here (${f.message})` : 'the NAL unit is not complete here';
    if (this.maxFrames !== undefined && this.frames >= this.maxFrames) return `the stream has its ${this.maxFrames} frames: it must end here`;
    return undefined;
  }

  private decide(b: number): Action | string {
    switch (this.phase) {
      case SC:
        if (this.maxFrames !== undefined && this.state.frames >= this.maxFrames) return `the stream has its ${this.maxFrames} frames: it must end`;
        if (b === 0) return this.zeros < 3 ? { kind: 'sc-zero' } : 'a start code has at most three 00 bytes before 01';
        if (b === 1 && this.zeros >= 2) return { kind: 'sc-one' };
        return 'a start code (00 00 01 or 00 00 00 01) must come here';
      case HEADER: {
        const k = this.state.nalKind(b);
        return isNalKind(k) && k !== 'ignored' ? { kind: 'header', nal: k } : isNalKind(k) ? 'not allowed' : k;
      }
      case COPY: {
        const n = this.raw.length;
        if (this.copies.some((c) => c.length === n)) {
          if (b === 0 && !this.endCopyBlocked()) return { kind: 'copy-end' };
          return 'the repeated parameter set is complete: a start code must follow';
        }
        return this.copies.some((c) => c[n] === b) ? { kind: 'copy' } : 'a repeated parameter set must be identical to the first';
      }
      case PAYLOAD: {
        const z = this.zeros;
        const zeros = new Array<number>(z).fill(0);
        if (b === 0) {
          if (z === 3) return 'four 00 bytes';
          if (z < 2 && this.payloadOk([...zeros, 0], false) === undefined) return { kind: 'pending-zero' };
          const why = this.endOk();
          return why === undefined ? { kind: 'pending-zero' } : why;
        }
        if (z >= 2 && b === 1) {
          const why = this.endOk();
          return why === undefined ? { kind: 'end-nal' } : why;
        }
        if (z === 3) return 'after 00 00 00 only 01 may follow (a start code)';
        if (z === 2 && b === 2) return '00 00 02 may not occur in a NAL unit';
        if (z === 2 && b === 3) {
          const why = this.payloadOk([0, 0], false);
          return why === undefined ? { kind: 'escape' } : why;
        }
        const why = this.payloadOk([...zeros, b], true);
        return why === undefined ? { kind: 'append' } : why;
      }
      default:
        return 'internal';
    }
  }

  private endCopyBlocked(): boolean {
    return this.maxFrames !== undefined && this.state.frames >= this.maxFrames;
  }

  private apply(a: Action, b: number): void {
    switch (a.kind) {
      case 'sc-zero':
        this.zeros++;
        break;
      case 'sc-one':
        this.phase = HEADER;
        this.zeros = 0;
        break;
      case 'header':
        this.header = b;
        this.nal = a.nal;
        this.raw = [b];
        this.rbsp = new Uint8Array(64);
        this.rbspLen = 0;
        this.final = undefined;
        this.checkpoint = undefined;
        this.checkpointLimit = -1;
        this.zeros = 0;
        if (a.nal === 'copy') {
          this.phase = COPY;
          this.copies = this.state.copyCandidates(b);
          this.parse = undefined;
        } else {
          this.phase = PAYLOAD;
          this.parse = this.state.parser(a.nal, b);
        }
        break;
      case 'copy': {
        const n = this.raw.length;
        this.copies = this.copies.filter((c) => c[n] === b);
        this.raw.push(b);
        break;
      }
      case 'copy-end':
        this.phase = SC;
        this.zeros = 1;
        break;
      case 'pending-zero':
        this.zeros++;
        break;
      case 'end-nal': {
        const f = this.finalParse();
        const state = this.state.clone();
        state.commit(this.nal, Uint8Array.from(this.raw), f.status === 'ok' ? f.value : undefined);
        this.state = state;
        this.phase = HEADER;
        this.zeros = 0;
        break;
      }
      case 'escape':
        this.stage([0, 0]);
        this.rbspLen += 2;
        this.raw.push(0, 0, 3);
        this.zeros = 0;
        this.final = undefined;
        break;
      case 'append': {
        const extra = new Array<number>(this.zeros).fill(0);
        extra.push(b);
        this.stage(extra);
        this.rbspLen += extra.length;
        this.raw.push(...extra);
        this.zeros = 0;
        this.final = undefined;
        break;
      }
    }
  }

  private save(): Snapshot {
    return {
      phase: this.phase,
      zeros: this.zeros,
      header: this.header,
      nal: this.nal,
      state: this.state,
      rbsp: this.rbsp,
      rbspLen: this.rbspLen,
      raw: this.raw,
      rawLen: this.raw.length,
      final: this.final,
      offset: this.offset,
      parse: this.parse,
      copies: this.copies,
      checkpoint: this.checkpoint,
      checkpointLimit: this.checkpointLimit,
    };
  }

  private restore(s: Snapshot): void {
    this.phase = s.phase;
    this.zeros = s.zeros;
    this.header = s.header;
    this.nal = s.nal;
    this.state = s.state;
    this.rbsp = s.rbsp;
    this.rbspLen = s.rbspLen;
    this.raw = s.raw;
    this.raw.length = s.rawLen;
    this.final = s.final;
    this.offset = s.offset;
    this.parse = s.parse;
    this.copies = s.copies;
    this.checkpoint = s.checkpoint;
    this.checkpointLimit = s.checkpointLimit;
  }
}

export interface H264Verdict {
  readonly ok: boolean;
  /** Bytes accepted before the first refusal (the whole length when ok). */
  readonly accepted: number;
  readonly frames: number;
  readonly rejection?: H264Rejection;
}

/** Validates a whole stream with the incremental validator: ok when every byte is accepted and the stream may end. */
export function validateStream(stream: Uint8Array, options: H264ValidatorOptions = {}): H264Verdict {
  const v = new H264StreamValidator(options);
  const accepted = v.feedAll(stream);
  if (accepted < stream.length) return { ok: false, accepted, frames: v.frames, rejection: v.lastRejection! };
  if (!v.canEnd())
    return { ok: false, accepted, frames: v.frames, rejection: { offset: stream.length, byte: -1, reason: 'the stream ends inside a NAL unit or a frame' } };
  return { ok: true, accepted, frames: v.frames };
}

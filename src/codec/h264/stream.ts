/**
 * Whole streams: the state a stream builds up NAL unit by NAL unit (parameter sets, the picture in progress, frame
 * and reference counting; shared with the incremental validator), `describeStream` (every NAL unit parsed, slice
 * data included) and `cutAfterFrames` (prompts).
 *
 * Pictures (§7.4.1.2.4): with arbitrary slice order and slice groups absent (Constrained Baseline), a picture is a run
 * of slices whose first_mb_in_slice continue where the previous slice ended, from 0 up to the last macroblock; the
 * slices of a picture share nal_unit_type, nal_ref_idc, frame_num, pic_parameter_set_id, idr_pic_id and
 * pic_order_cnt_lsb. A picture is a frame once all its macroblocks are covered.
 */
import { unescapeRbsp } from './bits';
import { H264FormatError } from './errors';
import { NAL_AUD, NAL_IDR, NAL_PPS, NAL_SEI, NAL_SLICE, NAL_SPS, type NalUnit, nalTypeName, splitAnnexB } from './nal';
import { type Pps, type Sps, parsePps, parseSps } from './params';
import type { SyntaxReader } from './reader';
import { type PictureState, type SliceContext, type SliceInfo, parseSlice, runParse } from './slice';

/** What a NAL unit header may be at a point of the stream; `kind` says how its payload is read. */
export type NalKind = 'sps' | 'pps' | 'slice' | 'copy' | 'ignored';

const KINDS: ReadonlySet<string> = new Set(['sps', 'pps', 'slice', 'copy', 'ignored']);

/** Whether `nalKind` returned a kind (otherwise it is the reason the header is refused). */
export function isNalKind(k: string): k is NalKind {
  return KINDS.has(k);
}

export class StreamState {
  sps: Sps | undefined;
  /** The SPS NAL unit as coded (header byte and escaped payload). */
  spsNal: Uint8Array | undefined;
  readonly pps = new Map<number, Pps>();
  readonly ppsNals = new Map<number, Uint8Array>();
  /** The picture whose macroblocks are not all covered yet. */
  picture: PictureState | undefined;
  /** Complete pictures. */
  frames = 0;
  /** Reference frames available to the next picture (sliding window, §8.2.5.3). */
  refFrames = 0;
  nextFrameNum = 0;
  /** Most macroblocks one slice may cover (undefined: any; the canonical streams have 1: x264's slice-max-mbs). */
  maxMbsPerSlice: number | undefined;
  prevIdrPicId: number | undefined;
  prevPoc: { msb: number; lsb: number; poc: number } | undefined;
  /** A slice has been seen: parameter sets may now only be repeated byte for byte. */
  sliceSeen = false;
  /** nal_ref_idc and type of the last slice. */
  lastSlice: { nalUnitType: number; nalRefIdc: number } | undefined;

  clone(): StreamState {
    const s = new StreamState();
    s.sps = this.sps;
    s.spsNal = this.spsNal;
    for (const [k, v] of this.pps) s.pps.set(k, v);
    for (const [k, v] of this.ppsNals) s.ppsNals.set(k, v);
    s.picture = this.picture;
    s.frames = this.frames;
    s.refFrames = this.refFrames;
    s.nextFrameNum = this.nextFrameNum;
    s.prevIdrPicId = this.prevIdrPicId;
    s.prevPoc = this.prevPoc;
    s.sliceSeen = this.sliceSeen;
    s.lastSlice = this.lastSlice;
    s.pendingPoc = this.pendingPoc;
    s.maxMbsPerSlice = this.maxMbsPerSlice;
    return s;
  }

  /** How a NAL unit with this header byte is read here, or why it is not allowed. `tolerant`: SEI/AUD allowed. */
  nalKind(header: number, tolerant = false): NalKind | string {
    if (header & 0x80) return 'forbidden_zero_bit is 1';
    const refIdc = (header >> 5) & 3;
    const type = header & 31;
    const between = !this.picture;
    switch (type) {
      case NAL_SPS:
      case NAL_PPS: {
        if (!between) return `a ${nalTypeName(type)} inside a picture`;
        if (refIdc === 0) return `a ${nalTypeName(type)} with nal_ref_idc 0`;
        if (type === NAL_PPS && !this.sps) return 'a picture parameter set before the sequence parameter set';
        if (this.sliceSeen) {
          const known = type === NAL_SPS ? (this.spsNal ? [this.spsNal] : []) : [...this.ppsNals.values()];
          return known.some((n) => n[0] === header) ? 'copy' : `a new ${nalTypeName(type)} after the first slice (only identical copies may follow)`;
        }
        if (type === NAL_SPS && this.sps) return tolerant ? 'copy' : 'a second sequence parameter set';
        return type === NAL_SPS ? 'sps' : 'pps';
      }
      case NAL_SLICE:
      case NAL_IDR: {
        if (!this.sps || this.pps.size === 0) return 'a slice before the parameter sets';
        if (refIdc === 0) return 'a non-reference slice (nal_ref_idc 0) — not supported';
        const p = this.picture;
        if (p) {
          if ((type === NAL_IDR) !== p.idr) return `a ${nalTypeName(type)} inside ${p.idr ? 'an IDR' : 'a non-IDR'} picture`;
          if (refIdc !== p.nalRefIdc) return `nal_ref_idc ${refIdc} differs from the picture's ${p.nalRefIdc}`;
        } else if (type === NAL_SLICE && this.refFrames === 0) return 'the first picture must be an IDR picture';
        return 'slice';
      }
      case NAL_SEI:
      case NAL_AUD:
        if (tolerant && between) return 'ignored';
        return `NAL unit type ${type} (${nalTypeName(type)}) is not allowed here`;
      default:
        return `NAL unit type ${type} (${nalTypeName(type)}) is not used by Constrained Baseline streams of this kind`;
    }
  }

  sliceContext(header: number): SliceContext {
    return {
      nalUnitType: header & 31,
      nalRefIdc: (header >> 5) & 3,
      sps: this.sps!,
      pps: this.pps,
      picture: this.picture,
      nextFrameNum: this.nextFrameNum,
      refFrames: this.refFrames,
      prevIdrPicId: this.prevIdrPicId,
      prevPoc: this.prevPoc,
      maxMbsPerSlice: this.maxMbsPerSlice,
    };
  }

  /** Reads a NAL unit payload (RBSP, after the header byte) of a kind; for 'copy' use `copyCandidates`. */
  parser(kind: NalKind, header: number): (r: SyntaxReader) => unknown {
    switch (kind) {
      case 'sps':
        return parseSps;
      case 'pps': {
        const spsId = this.sps!.spsId;
        const taken = [...this.pps.keys()];
        return (r) => parsePps(r, [spsId], taken);
      }
      case 'slice': {
        const ctx = this.sliceContext(header);
        return (r) => parseSlice(r, ctx);
      }
      default:
        throw new Error(`internal: no parser for ${kind}`);
    }
  }

  /** Coded parameter set NAL units (header byte first) that a 'copy' with this header byte may repeat. */
  copyCandidates(header: number): Uint8Array[] {
    const all = (header & 31) === NAL_SPS ? (this.spsNal ? [this.spsNal] : []) : [...this.ppsNals.values()];
    return all.filter((n) => n[0] === header);
  }

  /** Records a NAL unit read whole: `nal` is its header byte and escaped payload, `value` what the parser returned. */
  commit(kind: NalKind, nal: Uint8Array, value: unknown): void {
    const header = nal[0]!;
    if (kind === 'sps') {
      this.sps = value as Sps;
      this.spsNal = nal;
    } else if (kind === 'pps') {
      const pps = value as Pps;
      this.pps.set(pps.ppsId, pps);
      this.ppsNals.set(pps.ppsId, nal);
    } else if (kind === 'slice') {
      this.commitSlice(header, value as SliceInfo);
    }
  }

  private commitSlice(header: number, s: SliceInfo): void {
    const idr = (header & 31) === NAL_IDR;
    const nalRefIdc = (header >> 5) & 3;
    const p = this.picture;
    const base = s.sliceType % 5;
    this.sliceSeen = true;
    this.lastSlice = { nalUnitType: header & 31, nalRefIdc };
    const picture: PictureState = p
      ? { ...p, sameType: p.sameType || s.sliceType >= 5, mixedTypes: p.mixedTypes || base !== p.baseType, nextMb: s.mbEnd }
      : {
          idr,
          nalRefIdc,
          frameNum: s.frameNum,
          idrPicId: s.idrPicId,
          pocLsb: s.pocLsb,
          ppsId: s.ppsId,
          baseType: base,
          sameType: s.sliceType >= 5,
          mixedTypes: false,
          nextMb: s.mbEnd,
        };
    if (picture.nextMb < this.sps!.widthInMbs * this.sps!.heightInMbs) {
      this.picture = picture;
      if (!p) this.pendingPoc = { msb: s.pocMsb, lsb: s.pocLsb, poc: s.poc };
      return;
    }
    // The picture is complete.
    const poc = p ? this.pendingPoc! : { msb: s.pocMsb, lsb: s.pocLsb, poc: s.poc };
    this.picture = undefined;
    this.frames++;
    this.refFrames = idr ? 1 : Math.min(this.refFrames + 1, Math.max(1, this.sps!.maxNumRefFrames));
    this.nextFrameNum = (picture.frameNum + 1) % 2 ** this.sps!.log2MaxFrameNum;
    this.prevIdrPicId = idr ? picture.idrPicId : undefined;
    this.prevPoc = poc;
  }

  /** POC of the picture in progress (becomes prevPoc when it completes). */
  pendingPoc: { msb: number; lsb: number; poc: number } | undefined;
}

export interface NalInfo extends NalUnit {
  /** Index of the picture a slice belongs to. */
  readonly picture?: number;
  readonly firstMb?: number;
  readonly sliceType?: number;
  /** Macroblocks the slice covers. */
  readonly mbCount?: number;
}

export interface PictureInfo {
  readonly index: number;
  readonly idr: boolean;
  readonly frameNum: number;
  /** Indices into `nals` of its first and last slice. */
  readonly firstNal: number;
  readonly lastNal: number;
  /** Byte range from its first slice's start code to the end of its last slice. */
  readonly start: number;
  readonly end: number;
}

export interface StreamDescription {
  /** Display size (frame cropping applied). */
  readonly width: number;
  readonly height: number;
  readonly widthInMbs: number;
  readonly heightInMbs: number;
  /** Complete frames (pictures). */
  readonly frames: number;
  readonly sps: Sps;
  readonly pps: readonly Pps[];
  readonly nals: readonly NalInfo[];
  readonly pictures: readonly PictureInfo[];
}

/**
 * Parses a whole Annex B stream: every NAL unit header, parameter set and slice (header and CAVLC macroblock data),
 * picture boundaries and frame count. SEI and access unit delimiters between pictures are tolerated and listed.
 * Throws `H264FormatError` (with the byte offset) on anything else: no start code, forbidden NAL types, a profile
 * other than Baseline, a second SPS (e.g. a size change), a slice that does not parse, a picture left incomplete.
 */
export function describeStream(stream: Uint8Array): StreamDescription {
  const units = splitAnnexB(stream);
  const state = new StreamState();
  const nals: NalInfo[] = [];
  const pictures: PictureInfo[] = [];
  for (const u of units) {
    const header = stream[u.headerOffset]!;
    const kind = state.nalKind(header, true);
    if (kind === 'copy') {
      const nal = stream.subarray(u.headerOffset, u.end);
      if (!state.copyCandidates(header).some((c) => equalBytes(c, nal))) {
        const what = (header & 31) === NAL_SPS ? 'sequence' : 'picture';
        let detail = '';
        if ((header & 31) === NAL_SPS) {
          const rb = unescapeRbsp(nal.subarray(1), u.headerOffset + 1);
          const p = runParse(rb.bytes, rb.bytes.length, 'final', parseSps);
          const old = state.sps!;
          if (p.status === 'ok' && (p.value.width !== old.width || p.value.height !== old.height))
            detail = `: the picture size changes from ${old.width}×${old.height} to ${p.value.width}×${p.value.height} mid-stream`;
        }
        throw new H264FormatError(`a ${what} parameter set that differs from the stream's first${detail}`, u.offset);
      }
      nals.push(u);
      continue;
    }
    if (kind === 'ignored') {
      nals.push(u);
      continue;
    }
    if (!isNalKind(kind)) throw new H264FormatError(kind, u.headerOffset);
    const rb = unescapeRbsp(stream.subarray(u.headerOffset + 1, u.end), u.headerOffset + 1);
    const out = runParse(rb.bytes, rb.bytes.length, 'final', state.parser(kind, header));
    if (out.status !== 'ok') {
      const msg = out.status === 'error' ? out.message : 'incomplete';
      const bit = out.status === 'error' ? out.bit : 0;
      const idx = Math.min(bit >> 3, rb.bytes.length - 1);
      const at = idx >= 0 ? u.headerOffset + 1 + rb.sourceIndex[idx]! : u.headerOffset;
      throw new H264FormatError(`${nalTypeName(header & 31)}: ${msg}`, at);
    }
    const wasPicture = state.picture;
    const framesBefore = state.frames;
    state.commit(kind, stream.subarray(u.headerOffset, u.end), out.value);
    if (kind === 'slice') {
      const s = out.value as SliceInfo;
      const index = wasPicture ? pictures.length - 1 : pictures.length;
      nals.push({ ...u, picture: index, firstMb: s.firstMb, sliceType: s.sliceType, mbCount: s.mbEnd - s.firstMb });
      if (!wasPicture) {
        pictures.push({
          index,
          idr: (header & 31) === NAL_IDR,
          frameNum: s.frameNum,
          firstNal: nals.length - 1,
          lastNal: nals.length - 1,
          start: u.offset,
          end: u.end,
        });
      } else {
        const last = pictures[pictures.length - 1]!;
        pictures[pictures.length - 1] = { ...last, lastNal: nals.length - 1, end: u.end };
      }
      void framesBefore;
    } else {
      nals.push(u);
    }
  }
  if (!state.sps) throw new H264FormatError('the stream has no sequence parameter set', 0);
  if (state.picture)
    throw new H264FormatError(
      `the stream ends inside frame ${state.frames} (macroblock ${state.picture.nextMb} of ${state.sps.widthInMbs * state.sps.heightInMbs} is missing)`,
      stream.length,
    );
  const sps = state.sps;
  return {
    width: sps.width,
    height: sps.height,
    widthInMbs: sps.widthInMbs,
    heightInMbs: sps.heightInMbs,
    frames: state.frames,
    sps,
    pps: [...state.pps.values()],
    nals,
    pictures: pictures.map((p) => p),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A prompt: the parameter sets and the first `frames` complete frames of a stream, each NAL unit with its own start
 * code as in the stream; SEI and access unit delimiters are left out (the validator does not take them). 0 frames
 * gives the parameter sets alone. Throws `H264FormatError` if the stream is invalid or has fewer frames.
 */
export function cutAfterFrames(stream: Uint8Array, frames: number): Uint8Array {
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`frames must be a non-negative integer, not ${frames}`);
  const d = describeStream(stream);
  if (frames > d.frames) throw new H264FormatError(`the stream has ${d.frames} frames, fewer than the ${frames} asked for`, stream.length);
  const endNal = frames === 0 ? (d.pictures[0]?.firstNal ?? d.nals.length) : d.pictures[frames - 1]!.lastNal + 1;
  const parts: Uint8Array[] = [];
  for (let i = 0; i < endNal; i++) {
    const n = d.nals[i]!;
    if (n.nalUnitType === NAL_SEI || n.nalUnitType === NAL_AUD) continue;
    parts.push(stream.subarray(n.headerOffset - n.startCodeLength, n.end));
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

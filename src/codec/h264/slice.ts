/**
 * Slices (H.264 §7.3.3, §7.3.4, §7.3.5): the slice header checked against the stream so far, and the slice data
 * parsed as Baseline CAVLC macroblocks, with the neighbour rules that decide the syntax (nC of coeff_token,
 * §9.2.1; Intra4x4PredMode prediction, §8.3.1.1) and the availability of intra prediction samples (a mode that
 * needs unavailable neighbours is refused, as decoders refuse it). Macroblocks of other slices are unavailable, so
 * with one macroblock per slice only the blocks of the same macroblock count.
 *
 * Refused (each with a message): I_PCM, reference list modification, adaptive (MMCO) or long-term reference marking,
 * no_output_of_prior_pics_flag 1, non-reference pictures (nal_ref_idc 0), num_ref_idx_active larger than the
 * reference frames decoded since the IDR picture, delta_pic_order_cnt_bottom ≠ 0, |mvd| beyond ±2048 (horizontal)
 * or ±512 (vertical) quarter samples.
 *
 * When the reader chooses (mode 'complete'), the policy is the cheapest continuation: end the slice where it may,
 * but only once the picture is covered (P slices: mb_skip_run = all remaining macroblocks; I slices: I_16x16 DC
 * macroblocks with no coefficients), zero motion vector differences and coefficients, DC intra modes.
 *
 * Checkpoints (`runSliceParse`, for the validator): the slice data parse records, at the top of each macroblock and
 * before each residual block, coefficient, total_zeros and run_before, everything the rest of the parse depends on
 * (`SliceCheckpoint`: the header values, the position in the macroblock and block, the neighbour arrays of the
 * slice so far); a parse of the same RBSP with more bytes resumes there and gives exactly the outcome of a parse
 * from the start (messages and bit positions included).
 */
import type { Pps, Sps } from './params';
import { type ElementOptions, NEED_MORE, type ParseMode, SyntaxFailure, SyntaxReader } from './reader';
import {
  CBP_INTER,
  CBP_INTRA,
  I_NxN,
  I_PCM,
  LEVEL_PREFIX,
  P_8x8,
  P_8x8ref0,
  P_PARTS,
  RUN_BEFORE,
  SUB_PARTS,
  TOTAL_ZEROS_4x4,
  TOTAL_ZEROS_CHROMA_DC,
  coeffTokenVlc,
  intra16x16,
} from './tables';

export const SLICE_P = 0;
export const SLICE_I = 2;

/** What the slices of a picture must share (§7.4.1.2.4) and how far it is covered. */
export interface PictureState {
  readonly idr: boolean;
  readonly nalRefIdc: number;
  readonly frameNum: number;
  readonly idrPicId: number;
  readonly pocLsb: number;
  readonly ppsId: number;
  /** slice_type % 5 of the first slice. */
  readonly baseType: number;
  /** Some slice had slice_type ≥ 5: every slice of the picture has the same type. */
  readonly sameType: boolean;
  /** The slices so far do not all have the same type. */
  readonly mixedTypes: boolean;
  /** Next macroblock address (the first one not covered yet). */
  readonly nextMb: number;
}

/** The stream around a slice: what its header must agree with. */
export interface SliceContext {
  readonly nalUnitType: number;
  readonly nalRefIdc: number;
  readonly sps: Sps;
  readonly pps: ReadonlyMap<number, Pps>;
  /** The picture this slice continues, if one is incomplete. */
  readonly picture?: PictureState | undefined;
  /** frame_num of a new non-IDR picture (§7.4.3: PrevRefFrameNum + 1). */
  readonly nextFrameNum: number;
  /** Reference frames a P slice of a new picture may use (of the picture in progress, if any). */
  readonly refFrames: number;
  /** idr_pic_id of the previous picture if it was an IDR picture (two IDR pictures in a row must differ). */
  readonly prevIdrPicId?: number | undefined;
  /** pic_order_cnt_type 0: PicOrderCntMsb, lsb and PicOrderCnt of the previous picture. */
  readonly prevPoc?: { readonly msb: number; readonly lsb: number; readonly poc: number } | undefined;
  /** Most macroblocks one slice may cover (undefined: any). */
  readonly maxMbsPerSlice?: number | undefined;
}

export interface SliceInfo {
  readonly firstMb: number;
  /** slice_type as coded (0…9). */
  readonly sliceType: number;
  readonly isP: boolean;
  readonly ppsId: number;
  readonly frameNum: number;
  readonly idrPicId: number;
  readonly pocLsb: number;
  /** PicOrderCntMsb and PicOrderCnt (type 0), or 0. */
  readonly pocMsb: number;
  readonly poc: number;
  readonly numRefIdxActive: number;
  readonly sliceQp: number;
  /** The macroblock address after the slice's last. */
  readonly mbEnd: number;
  /** Macroblocks coded (not skipped). */
  readonly codedMbs: number;
}

// ── scratch state of the slice being parsed (one parse at a time; sized by the picture) ──────────────────────
let capacity = 0;
/** Per macroblock: 1 intra, 0 inter or skipped. */
let mbIntra = new Uint8Array(0);
/** Per macroblock: 1 for I_NxN. */
let mbI4 = new Uint8Array(0);
/** TotalCoeff per 4×4 luma block, index mb·16 + y·4 + x. */
let tcLuma = new Uint8Array(0);
/** TotalCoeff per chroma AC block, index (mb·2 + iCbCr)·4 + y·2 + x. */
let tcChroma = new Uint8Array(0);
/** Intra4x4PredMode per 4×4 block, index mb·16 + y·4 + x. */
let i4Mode = new Uint8Array(0);

function ensureCapacity(mbs: number): void {
  if (mbs <= capacity) return;
  capacity = mbs;
  mbIntra = new Uint8Array(mbs);
  mbI4 = new Uint8Array(mbs);
  tcLuma = new Uint8Array(mbs * 16);
  tcChroma = new Uint8Array(mbs * 8);
  i4Mode = new Uint8Array(mbs * 16);
}

/** Intra 4×4 modes (Table 8-2) and the neighbours each needs: bit 0 left, 1 top, 2 top-left. */
const I4_NEEDS = [2, 1, 0, 2, 7, 7, 7, 2, 1];
/** Intra 16×16 modes (Table 8-4): vertical, horizontal, DC, plane. */
const I16_NEEDS = [2, 1, 0, 7];
/** intra_chroma_pred_mode (Table 7-16): DC, horizontal, vertical, plane. */
const CHROMA_NEEDS = [0, 1, 2, 7];

const CBP_INTRA_OPTIONS: ElementOptions = { prefer: [CBP_INTRA.indexOf(0)] };
const CBP_INTER_OPTIONS: ElementOptions = { prefer: [CBP_INTER.indexOf(0)] };

const MVD_X = 2048;
const MVD_Y = 512;

// Scratch of the slice header being read (module state keeps the hot path free of per-element closures).
let hCtx: SliceContext;
let hIdr = false;
let hExpectedFirst = 0;
let hPAllowed = false;
let hExpectedFrameNum = 0;
let hMaxPocLsb = 0;
let hPrevPoc = { msb: 0, lsb: 0, poc: -1 };
let hDefaultRefs = 1;

function sliceTypeOk(t: number): boolean {
  const base = t % 5;
  if (base !== SLICE_P && base !== SLICE_I) return false;
  if (base === SLICE_P && !hPAllowed) return false;
  const p = hCtx.picture;
  if (!p) return true;
  if (p.sameType && base !== p.baseType) return false;
  if (t >= 5 && (p.mixedTypes || base !== p.baseType)) return false;
  return true;
}

function pocMsbOf(lsb: number): number {
  if (hIdr) return 0;
  const prev = hPrevPoc;
  if (lsb < prev.lsb && prev.lsb - lsb >= hMaxPocLsb / 2) return prev.msb + hMaxPocLsb;
  if (lsb > prev.lsb && lsb - prev.lsb > hMaxPocLsb / 2) return prev.msb - hMaxPocLsb;
  return prev.msb;
}

const zeroOnly = (what: string): ElementOptions => ({ valid: (v) => v === 0, what, prefer: [0] });
const FIRST_MB: ElementOptions = { valid: (v) => v === hExpectedFirst, what: 'slices of a picture follow each other from macroblock 0, without gaps' };
const SLICE_TYPE: ElementOptions = {
  valid: sliceTypeOk,
  what: 'P or I (IDR: I), the same in every slice of the picture where slice_type ≥ 5 says so',
  prefer: [SLICE_P, SLICE_I],
};
const PPS_ID: ElementOptions = {
  valid: (v) => hCtx.pps.has(v) && (!hCtx.picture || v === hCtx.picture.ppsId),
  what: 'a known picture parameter set, the same in every slice of a picture',
};
const FRAME_NUM: ElementOptions = {
  valid: (v) => v === hExpectedFrameNum,
  what: 'frame_num is PrevRefFrameNum + 1 (0 for IDR pictures), the same in every slice of a picture',
};
const IDR_PIC_ID: ElementOptions = {
  valid: (v) => (hCtx.picture ? v === hCtx.picture.idrPicId : v !== hCtx.prevIdrPicId),
  what: 'the same in every slice of a picture; consecutive IDR pictures differ',
};
const POC_LSB: ElementOptions = {
  valid: (v) => (hCtx.picture ? v === hCtx.picture.pocLsb : hIdr || pocMsbOf(v) + v > hPrevPoc.poc),
  what: 'the same in every slice of a picture; pictures come in output order (increasing POC)',
};
const BOTTOM_DELTA = zeroOnly('only 0 is supported');
const OVERRIDE: ElementOptions = { valid: (v) => v === 1 || hDefaultRefs <= hCtx.refFrames, what: 'more reference frames than decoded', prefer: [0] };
const NUM_REF: ElementOptions = { valid: (v) => v < hCtx.refFrames, what: 'more reference frames than decoded', prefer: [0] };
const NO_MODIFICATION = zeroOnly('reference list modification is not supported');
const NO_OUTPUT_FLAG = zeroOnly('every picture must be output');
const NO_LONG_TERM = zeroOnly('long-term references are not supported');
const NO_MMCO = zeroOnly('only sliding-window reference marking is supported');

/** The header elements' options that depend on the context (made once per context: a slice is parsed many times). */
interface HeaderOptions {
  readonly sliceType: ElementOptions;
  readonly ppsId: ElementOptions;
  pocLsb?: ElementOptions;
}
const headerOptionsOf = new WeakMap<SliceContext, HeaderOptions>();

function headerOptions(ctx: SliceContext): HeaderOptions {
  let o = headerOptionsOf.get(ctx);
  if (!o) {
    const picture = ctx.picture;
    o = {
      sliceType: picture?.sameType ? { ...SLICE_TYPE, prefer: [picture.baseType + 5] } : SLICE_TYPE,
      ppsId: { ...PPS_ID, prefer: picture ? [picture.ppsId] : [...ctx.pps.keys()] },
    };
    headerOptionsOf.set(ctx, o);
  }
  return o;
}

/** Parses a slice_layer_without_partitioning_rbsp() (after the NAL header byte). */
export function parseSlice(r: SyntaxReader, ctx: SliceContext): SliceInfo {
  const { sps, picture } = ctx;
  const picMbs = sps.widthInMbs * sps.heightInMbs;
  const idr = ctx.nalUnitType === 5;
  hCtx = ctx;
  // Soft stops (SyntaxReader.soft): after a stop every read gives 0, so the code below returns early where a 0 could
  // not be followed (an unknown PPS).
  r.soft = r.mode !== 'complete';
  hIdr = idr;
  // ── header ──
  hExpectedFirst = picture ? picture.nextMb : 0;
  const firstMb = r.ue('first_mb_in_slice', 0, picMbs - 1, FIRST_MB);
  hPAllowed = !idr && (picture ? true : ctx.refFrames > 0);
  const options = headerOptions(ctx);
  const sliceType = r.ue('slice_type', 0, 9, options.sliceType);
  const isP = sliceType % 5 === SLICE_P;
  const ppsId = r.ue('pic_parameter_set_id', 0, 255, options.ppsId);
  if (r.halted) return HALTED;
  const pps = ctx.pps.get(ppsId)!;
  hExpectedFrameNum = picture ? picture.frameNum : idr ? 0 : ctx.nextFrameNum;
  const frameNum = r.u(sps.log2MaxFrameNum, 'frame_num', 0, 2 ** sps.log2MaxFrameNum - 1, FRAME_NUM);
  const idrPicId = idr ? r.ue('idr_pic_id', 0, 65535, IDR_PIC_ID) : 0;
  let pocLsb = 0;
  let pocMsb = 0;
  let poc = 0;
  if (sps.pocType === 0) {
    hMaxPocLsb = 2 ** sps.log2MaxPocLsb;
    hPrevPoc = idr ? { msb: 0, lsb: 0, poc: -1 } : (ctx.prevPoc ?? { msb: 0, lsb: 0, poc: -1 });
    options.pocLsb ??= { ...POC_LSB, prefer: picture ? [picture.pocLsb] : idr ? [0] : [(hPrevPoc.lsb + 2) % hMaxPocLsb] };
    pocLsb = r.u(sps.log2MaxPocLsb, 'pic_order_cnt_lsb', 0, hMaxPocLsb - 1, options.pocLsb);
    pocMsb = pocMsbOf(pocLsb);
    poc = pocMsb + pocLsb;
    if (pps.bottomFieldPicOrderPresent) r.se('delta_pic_order_cnt_bottom', -(2 ** 31) + 1, 2 ** 31 - 1, BOTTOM_DELTA);
  }
  let numRefIdxActive = pps.numRefIdxL0DefaultActive;
  hDefaultRefs = numRefIdxActive;
  if (isP) {
    if (r.flag('num_ref_idx_active_override_flag', OVERRIDE)) numRefIdxActive = r.ue('num_ref_idx_l0_active_minus1', 0, 15, NUM_REF) + 1;
    r.flag('ref_pic_list_modification_flag_l0', NO_MODIFICATION);
  }
  if (ctx.nalRefIdc !== 0) {
    if (idr) {
      r.flag('no_output_of_prior_pics_flag', NO_OUTPUT_FLAG);
      r.flag('long_term_reference_flag', NO_LONG_TERM);
    } else {
      r.flag('adaptive_ref_pic_marking_mode_flag', NO_MMCO);
    }
  }
  const sliceQp = pps.picInitQp + r.se('slice_qp_delta', -pps.picInitQp, 51 - pps.picInitQp);
  if (pps.deblockingFilterControlPresent) {
    const idc = r.ue('disable_deblocking_filter_idc', 0, 2);
    if (idc !== 1) {
      r.se('slice_alpha_c0_offset_div2', -6, 6);
      r.se('slice_beta_offset_div2', -6, 6);
    }
  }
  // ── data ──
  if (r.halted) return HALTED;
  const sliceMbEnd = ctx.maxMbsPerSlice === undefined ? picMbs : Math.min(picMbs, firstMb + ctx.maxMbsPerSlice);
  const head: SliceHead = { sps, pps, picMbs, firstMb, sliceMbEnd, sliceType, isP, ppsId, frameNum, idrPicId, pocLsb, pocMsb, poc, numRefIdxActive, sliceQp };
  return parseSliceData(r, head, undefined);
}

/** What a slice parse returns after a soft stop (never seen: the outcome is the stop). */
const HALTED: SliceInfo = {
  firstMb: 0,
  sliceType: 0,
  isP: false,
  ppsId: 0,
  frameNum: 0,
  idrPicId: 0,
  pocLsb: 0,
  pocMsb: 0,
  poc: 0,
  numRefIdxActive: 0,
  sliceQp: 0,
  mbEnd: 0,
  codedMbs: 0,
};

/** The slice header as read, and what the slice data needs of it. */
export interface SliceHead {
  readonly sps: Sps;
  readonly pps: Pps;
  readonly picMbs: number;
  readonly firstMb: number;
  /** The macroblock address this slice must end before (picMbs, or sooner with SliceContext.maxMbsPerSlice). */
  readonly sliceMbEnd: number;
  readonly sliceType: number;
  readonly isP: boolean;
  readonly ppsId: number;
  readonly frameNum: number;
  readonly idrPicId: number;
  readonly pocLsb: number;
  readonly pocMsb: number;
  readonly poc: number;
  readonly numRefIdxActive: number;
  readonly sliceQp: number;
}

/**
 * A point of a slice's data parse (before a syntax element or more_rbsp_data()) from which a parse of the same RBSP
 * with more bytes after it goes on exactly as a parse from the start would: the parse up to there read only bits
 * before `pos`, and each more_rbsp_data() before it (at bit positions ≤ `maxMore`) answered "yes". Immutable.
 */
export interface SliceCheckpoint {
  /** Bit position. */
  readonly pos: number;
  /** The largest bit position at which more_rbsp_data() was asked before it (−1: never). */
  readonly maxMore: number;
  readonly head: SliceHead;
  /** The macroblock being read (or next, at the top of the loop) and the macroblocks coded before it. */
  readonly mb: number;
  readonly coded: number;
  /** −1: at the top of the macroblock loop (before mb_skip_run / mb_type); else the residual step of macroblock mb. */
  readonly step: number;
  readonly i16: boolean;
  readonly cbpLuma: number;
  readonly cbpChroma: number;
  /** Inside a residual block (step ≥ 0): 0 before coeff_token, 1 before coefficient `bI`, 2 before total_zeros, 3 before run_before `bI`. */
  readonly bPhase: number;
  readonly bTotal: number;
  readonly bTrailing: number;
  readonly bI: number;
  readonly bSuffix: number;
  readonly bZeros: number;
  /** The neighbour state of the slice's macroblocks so far (mbIntra, mbI4, tcLuma, tcChroma, i4Mode). */
  readonly arrays: Uint8Array;
  readonly arraysMbs: number;
}

/** Where a parse leaves the latest checkpoint at a bit position ≤ `limit` (the bits shared by every parse tried). */
export interface CheckpointSink {
  limit: number;
  best: SliceCheckpoint | undefined;
}

let sink: CheckpointSink | undefined;
/** The largest bit position of a more_rbsp_data() so far in this parse. */
let dMaxMore = -1;
/** The next checkpoint site is the one the parse resumed at (nothing to record). */
let dSkipSite = false;
let dHead: SliceHead;

/** more_rbsp_data() was asked at the stop bit (the last 1 bit of the data): only then can 'prefix' and 'final' differ. */
let dMoreAtStop = false;

function moreData(r: SyntaxReader, mayContinue: boolean): boolean {
  if (r.halted) return false;
  if (r.pos > dMaxMore) dMaxMore = r.pos;
  if (r.pos === r.stopBit) dMoreAtStop = true;
  return r.moreData(mayContinue);
}

/**
 * After a slice parse in mode 'prefix' that failed: whether the same data can still be a whole NAL unit ('final' can
 * succeed). The two modes read the same bits alike and differ only in more_rbsp_data(): 'prefix' answers whether the
 * syntax may continue, 'final' whether the stop bit is ahead; before the stop bit both go on where the syntax may
 * (and both fail where it may not), after it 'final' fails. So 'final' can only succeed where the 'prefix' parse
 * asked more_rbsp_data() at the stop bit itself.
 */
export function sliceFinalMaySucceed(): boolean {
  return dMoreAtStop;
}

// Where the slice data parse is (for checkpoints): macroblock, macroblocks coded before it, residual step and the
// macroblock's coded_block_pattern, and inside a residual block its phase and counters.
let sMb = 0;
let sCoded = 0;
let sStep = -1;
let sI16 = false;
let sCbpLuma = 0;
let sCbpChroma = 0;
let bPhase = 0;
let bTotal = 0;
let bTrailing = 0;
let bI = 0;
let bSuffix = 0;
let bZeros = 0;

/** Records a checkpoint here if it lies in the shared bits and is not behind the sink's latest. */
function site(r: SyntaxReader): void {
  if (dSkipSite) {
    dSkipSite = false;
    return;
  }
  if (r.halted) return;
  const s = sink;
  if (!s || r.pos > s.limit || r.generating || (s.best && s.best.pos > r.pos)) return;
  const first = dFirstMb;
  const last = sStep < 0 ? sMb : sMb + 1;
  const n = last - first;
  const arrays = new Uint8Array(n * 42);
  for (let i = 0; i < n; i++) {
    arrays[i] = mbIntra[first + i]!;
    arrays[n + i] = mbI4[first + i]!;
  }
  for (let i = 0, o = first * 16; i < 16 * n; i++) {
    arrays[2 * n + i] = tcLuma[o + i]!;
    arrays[18 * n + i] = i4Mode[o + i]!;
  }
  for (let i = 0, o = first * 8; i < 8 * n; i++) arrays[34 * n + i] = tcChroma[o + i]!;
  // Only what the parse from here reads (so that equal states have equal keys).
  const inMb = sStep >= 0;
  const p = inMb ? bPhase : 0;
  s.best = {
    pos: r.pos,
    maxMore: dMaxMore,
    head: dHead,
    mb: sMb,
    coded: sCoded,
    step: sStep,
    i16: inMb && sI16,
    cbpLuma: inMb ? sCbpLuma : 0,
    cbpChroma: inMb ? sCbpChroma : 0,
    bPhase: p,
    bTotal: p > 0 ? bTotal : 0,
    bTrailing: p === 1 ? bTrailing : 0,
    bI: p === 1 || p === 3 ? bI : 0,
    bSuffix: p === 1 ? bSuffix : 0,
    bZeros: p === 3 ? bZeros : 0,
    arrays,
    arraysMbs: n,
  };
}

function restoreArrays(c: SliceCheckpoint): void {
  const first = c.head.firstMb;
  const n = c.arraysMbs;
  const a = c.arrays;
  for (let i = 0; i < n; i++) {
    mbIntra[first + i] = a[i]!;
    mbI4[first + i] = a[n + i]!;
  }
  for (let i = 0, o = first * 16; i < 16 * n; i++) {
    tcLuma[o + i] = a[2 * n + i]!;
    i4Mode[o + i] = a[18 * n + i]!;
  }
  for (let i = 0, o = first * 8; i < 8 * n; i++) tcChroma[o + i] = a[34 * n + i]!;
}

/**
 * The parts of a checkpoint that decide how the parse goes on from it (not where it is in the RBSP, nor what the
 * slice header said beyond what the slice data needs): equal keys and equal bits after them give equal outcomes.
 */
export function checkpointKey(c: SliceCheckpoint): string {
  const h = c.head;
  let k = `${h.sps.widthInMbs},${h.picMbs},${h.firstMb},${h.sliceMbEnd},${h.isP ? 1 : 0},${h.numRefIdxActive},${h.pps.constrainedIntraPred ? 1 : 0},${c.mb},${c.step},`;
  k += `${c.i16 ? 1 : 0},${c.cbpLuma},${c.cbpChroma},${c.bPhase},${c.bTotal},${c.bTrailing},${c.bI},${c.bSuffix},${c.bZeros},`;
  for (let i = 0; i < c.arrays.length; i++) k += String.fromCharCode(65 + c.arrays[i]!);
  return k;
}

/**
 * `runParse` of a slice that may resume at a checkpoint `from` taken on the same RBSP bits before `from.pos`
 * (ignored where this parse might differ before it: mode 'complete', or a stop bit at or before a more_rbsp_data()
 * it passed), and leaves the latest checkpoint at a bit position ≤ `to.limit` in `to.best`. The outcome is the one
 * `runParse(rbsp, length, mode, parse)` gives, messages and bit positions included.
 */
export function runSliceParse(
  rbsp: Uint8Array,
  length: number,
  mode: ParseMode,
  parse: (r: SyntaxReader) => unknown,
  from: SliceCheckpoint | undefined,
  to: CheckpointSink | undefined,
): ParseOutcome<unknown> {
  const r = new SyntaxReader(rbsp, length, mode);
  dMoreAtStop = false;
  const resume = from !== undefined && mode !== 'complete' && from.maxMore < (mode === 'final' ? r.stopBit : r.end) && from.pos <= r.end;
  sink = mode === 'complete' ? undefined : to;
  try {
    let value: unknown;
    if (resume) {
      r.pos = from.pos;
      r.soft = true;
      value = parseSliceData(r, from.head, from);
    } else value = parse(r);
    return outcome(r, value);
  } catch (e) {
    if (e === NEED_MORE) return { status: 'more' };
    if (e instanceof SyntaxFailure) return { status: 'error', message: e.message, bit: e.bit };
    throw e;
  } finally {
    sink = undefined;
    dSkipSite = false;
  }
}

// Scratch of the slice data and macroblock being read.
let dFirstMb = 0;
let dConstrained = false;
let mAvailA = false;
let mAvailB = false;
let mAvailD = false;
let mIOffset = 0;

/** Available for intra prediction: in this slice (and intra, with constrained_intra_pred). */
function intraAvail(n: number): boolean {
  return n >= dFirstMb && (!dConstrained || mbIntra[n] === 1);
}

function mbNeeds(needs: number): boolean {
  return (!(needs & 1) || mAvailA) && (!(needs & 2) || mAvailB) && (!(needs & 4) || mAvailD);
}

const MB_TYPE_WHAT = 'I_PCM is not supported; intra 16×16 prediction needs its neighbours';
function mbTypeOk(t: number): boolean {
  if (t < mIOffset) return true;
  const it = t - mIOffset;
  if (it === I_PCM) return false;
  if (it === I_NxN) return true;
  return mbNeeds(I16_NEEDS[intra16x16(it).predMode]!);
}
const MB_TYPE_P: ElementOptions = { valid: mbTypeOk, what: MB_TYPE_WHAT, prefer: [0] };
const MB_TYPE_I: ElementOptions = { valid: mbTypeOk, what: MB_TYPE_WHAT, prefer: [3] };
const CHROMA_MODE: ElementOptions = { valid: (m) => mbNeeds(CHROMA_NEEDS[m]!), what: 'the prediction needs its neighbours' };
const SKIP_RUN: ElementOptions = { largest: true };

function parseSliceData(r: SyntaxReader, head: SliceHead, from: SliceCheckpoint | undefined): SliceInfo {
  const { sps, pps, firstMb, isP, numRefIdxActive, picMbs, sliceMbEnd } = head;
  ensureCapacity(picMbs);
  const w = sps.widthInMbs;
  dFirstMb = firstMb;
  dConstrained = pps.constrainedIntraPred;
  dHead = head;
  let mb = firstMb;
  let coded = 0;
  let more = true;
  if (from) {
    mb = from.mb;
    coded = from.coded;
    restoreArrays(from);
    dMaxMore = from.maxMore;
    dSkipSite = true;
    // The more_rbsp_data() calls before the checkpoint were at bit positions ≤ maxMore.
    dMoreAtStop = r.stopBit <= from.maxMore;
  } else {
    dMaxMore = -1;
    dSkipSite = false;
  }
  while (more) {
    if (from && from.step >= 0) {
      parseMacroblock(r, mb, w, isP, numRefIdxActive, coded, from);
    } else {
      sMb = mb;
      sCoded = coded;
      sStep = -1;
      site(r);
      if (isP) {
        const run = r.ue('mb_skip_run', 0, sliceMbEnd - mb, SKIP_RUN);
        for (let i = 0; i < run; i++, mb++) {
          mbIntra[mb] = 0;
          mbI4[mb] = 0;
          tcLuma.fill(0, mb * 16, mb * 16 + 16);
          tcChroma.fill(0, mb * 8, mb * 8 + 8);
        }
        if (run > 0) more = moreData(r, mb < sliceMbEnd);
        if (!more) break;
        if (mb >= sliceMbEnd)
          r.failSoft(
            mb >= picMbs ? 'mb_skip_run leaves no macroblock for the data that follows' : `a slice covers at most ${sliceMbEnd - firstMb} macroblocks here`,
          );
      }
      parseMacroblock(r, mb, w, isP, numRefIdxActive, coded, undefined);
    }
    from = undefined;
    coded++;
    mb++;
    more = moreData(r, mb < sliceMbEnd);
  }
  r.trailing();
  const h = head;
  return {
    firstMb: h.firstMb,
    sliceType: h.sliceType,
    isP: h.isP,
    ppsId: h.ppsId,
    frameNum: h.frameNum,
    idrPicId: h.idrPicId,
    pocLsb: h.pocLsb,
    pocMsb: h.pocMsb,
    poc: h.poc,
    numRefIdxActive: h.numRefIdxActive,
    sliceQp: h.sliceQp,
    mbEnd: mb,
    codedMbs: coded,
  };
}

/** Residual steps of a macroblock (§7.3.5.3): 0 Intra16x16DCLevel, 1…16 luma 4×4 blocks, 17–18 chroma DC, 19…26 chroma AC. */
const RESIDUAL_STEPS = 27;

function parseMacroblock(
  r: SyntaxReader,
  mb: number,
  w: number,
  isP: boolean,
  numRefIdxActive: number,
  coded: number,
  from: SliceCheckpoint | undefined,
): void {
  const mbx = mb % w;
  const mby = (mb - mbx) / w;
  const mbA = mbx > 0 && mb - 1 >= dFirstMb ? mb - 1 : -1;
  const mbB = mby > 0 && mb - w >= dFirstMb ? mb - w : -1;
  let cbpLuma = 0;
  let cbpChroma = 0;
  let i16 = false;
  let start = 0;
  if (from) {
    cbpLuma = from.cbpLuma;
    cbpChroma = from.cbpChroma;
    i16 = from.i16;
    start = from.step;
  } else {
    const mbD = mbx > 0 && mby > 0 && mb - w - 1 >= dFirstMb ? mb - w - 1 : -1;
    mAvailA = mbA >= 0 && intraAvail(mbA);
    mAvailB = mbB >= 0 && intraAvail(mbB);
    mAvailD = mbD >= 0 && intraAvail(mbD);
    mIOffset = isP ? 5 : 0;
    const mbType = r.ue('mb_type', 0, mIOffset + I_PCM, isP ? MB_TYPE_P : MB_TYPE_I);
    const intra = mbType >= mIOffset;
    const it = mbType - mIOffset;
    mbIntra[mb] = intra ? 1 : 0;
    mbI4[mb] = intra && it === I_NxN ? 1 : 0;
    tcLuma.fill(0, mb * 16, mb * 16 + 16);
    tcChroma.fill(0, mb * 8, mb * 8 + 8);

    i16 = intra && it !== I_NxN;
    if (intra) {
      if (it === I_NxN) parseIntra4x4Modes(r, mb, mbA, mbB, mAvailA, mAvailB, mAvailD);
      else {
        const t = intra16x16(it);
        cbpLuma = t.cbpLuma;
        cbpChroma = t.cbpChroma;
      }
      r.ue('intra_chroma_pred_mode', 0, 3, CHROMA_MODE);
    } else if (mbType === P_8x8 || mbType === P_8x8ref0) {
      const s0 = r.ue('sub_mb_type', 0, 3);
      const s1 = r.ue('sub_mb_type', 0, 3);
      const s2 = r.ue('sub_mb_type', 0, 3);
      const s3 = r.ue('sub_mb_type', 0, 3);
      if (numRefIdxActive > 1 && mbType !== P_8x8ref0) for (let i = 0; i < 4; i++) r.te('ref_idx_l0', numRefIdxActive - 1);
      const parts = SUB_PARTS[s0 as 0]! + SUB_PARTS[s1 as 0]! + SUB_PARTS[s2 as 0]! + SUB_PARTS[s3 as 0]!;
      for (let i = 0; i < parts; i++) mvd(r);
    } else {
      const parts = P_PARTS[mbType as 0 | 1 | 2];
      if (numRefIdxActive > 1) for (let i = 0; i < parts; i++) r.te('ref_idx_l0', numRefIdxActive - 1);
      for (let i = 0; i < parts; i++) mvd(r);
    }
    if (!i16) {
      const table = intra ? CBP_INTRA : CBP_INTER;
      const cbp = table[r.ue('coded_block_pattern', 0, 47, intra ? CBP_INTRA_OPTIONS : CBP_INTER_OPTIONS)]!;
      cbpLuma = cbp & 15;
      cbpChroma = cbp >> 4;
    }
    if (cbpLuma > 0 || cbpChroma > 0 || i16) r.se('mb_qp_delta', -26, 25);
  }

  // ── residual (§7.3.5.3), resumable at each block ──
  for (let s = start; s < RESIDUAL_STEPS; s++) {
    if (s === 0) {
      if (!i16) continue;
    } else if (s <= 16) {
      if (!(cbpLuma & (1 << ((s - 1) >> 2)))) continue;
    } else if (s <= 18) {
      if (!(cbpChroma & 3)) continue;
    } else if (!(cbpChroma & 2)) continue;
    sMb = mb;
    sCoded = coded;
    sStep = s;
    sI16 = i16;
    sCbpLuma = cbpLuma;
    sCbpChroma = cbpChroma;
    bPhase = 0;
    // Resuming inside this step's block: the block goes on from the checkpoint's phase (its site comes there).
    const inBlock = s === start ? from : undefined;
    if (!inBlock || inBlock.bPhase === 0) site(r);
    if (s === 0) residualBlock(r, lumaNc(mb, mbA, mbB, 0, 0), 16, inBlock);
    else if (s <= 16) {
      const blk = s - 1;
      const x = ((blk >> 2) & 1) * 2 + (blk & 1);
      const y = (blk >> 3) * 2 + ((blk >> 1) & 1);
      tcLuma[mb * 16 + y * 4 + x] = residualBlock(r, lumaNc(mb, mbA, mbB, x, y), i16 ? 15 : 16, inBlock);
    } else if (s <= 18) residualBlock(r, -1, 4, inBlock);
    else {
      const c = (s - 19) >> 2;
      const blk = (s - 19) & 3;
      const base = (mb * 2 + c) * 4;
      const x = blk & 1;
      const y = blk >> 1;
      const hasA = x > 0 || mbA >= 0;
      const hasB = y > 0 || mbB >= 0;
      const nA = x > 0 ? tcChroma[base + y * 2]! : hasA ? tcChroma[(mbA * 2 + c) * 4 + y * 2 + 1]! : 0;
      const nB = y > 0 ? tcChroma[base + x]! : hasB ? tcChroma[(mbB * 2 + c) * 4 + 2 + x]! : 0;
      const nC = hasA && hasB ? (nA + nB + 1) >> 1 : hasA ? nA : hasB ? nB : 0;
      tcChroma[base + y * 2 + x] = residualBlock(r, nC, 15, inBlock);
    }
  }
  sMb = mb;
  sCoded = coded;
  sStep = RESIDUAL_STEPS;
  sI16 = i16;
  sCbpLuma = cbpLuma;
  sCbpChroma = cbpChroma;
  bPhase = 0;
  site(r);
}

/** nC of a luma 4×4 block (§9.2.1): from the left and upper blocks, those of other macroblocks only in the slice. */
function lumaNc(mb: number, mbA: number, mbB: number, x: number, y: number): number {
  const hasA = x > 0 || mbA >= 0;
  const hasB = y > 0 || mbB >= 0;
  const nA = x > 0 ? tcLuma[mb * 16 + y * 4 + x - 1]! : hasA ? tcLuma[mbA * 16 + y * 4 + 3]! : 0;
  const nB = y > 0 ? tcLuma[mb * 16 + (y - 1) * 4 + x]! : hasB ? tcLuma[mbB * 16 + 12 + x]! : 0;
  if (hasA && hasB) return (nA + nB + 1) >> 1;
  return hasA ? nA : hasB ? nB : 0;
}

function mvd(r: SyntaxReader): void {
  r.se('mvd_l0 (horizontal)', -MVD_X, MVD_X - 1);
  r.se('mvd_l0 (vertical)', -MVD_Y, MVD_Y - 1);
}

// Scratch of the 4×4 block being read (module state keeps the hot path free of per-element closures).
let blkLeft = false;
let blkTop = false;
let blkTopLeft = false;
let blkPred = 2;

function i4ModeOk(m: number): boolean {
  const n = I4_NEEDS[m]!;
  return (!(n & 1) || blkLeft) && (!(n & 2) || blkTop) && (!(n & 4) || blkTopLeft);
}

function i4RemMode(rem: number): number {
  return rem < blkPred ? rem : rem + 1;
}

function i4AnyRem(): boolean {
  for (let rem = 0; rem < 8; rem++) if (i4ModeOk(i4RemMode(rem))) return true;
  return false;
}

const I4_WHAT = 'the mode needs unavailable neighbours';
const PREV_FLAG_PRED: ElementOptions = { valid: (f) => (f ? i4ModeOk(blkPred) : i4AnyRem()), what: I4_WHAT, prefer: [1] };
const PREV_FLAG_REM: ElementOptions = { valid: (f) => (f ? i4ModeOk(blkPred) : i4AnyRem()), what: I4_WHAT, prefer: [0] };
const REM_LOW: ElementOptions = { valid: (v) => i4ModeOk(i4RemMode(v)), what: I4_WHAT, prefer: [1] };
const REM_HIGH: ElementOptions = { valid: (v) => i4ModeOk(i4RemMode(v)), what: I4_WHAT, prefer: [2] };

/** prev_intra4x4_pred_mode_flag / rem_intra4x4_pred_mode for the 16 blocks (§7.3.5.1, §8.3.1.1). */
function parseIntra4x4Modes(r: SyntaxReader, mb: number, mbA: number, mbB: number, availA: boolean, availB: boolean, availD: boolean): void {
  for (let blk = 0; blk < 16; blk++) {
    const x = ((blk >> 2) & 1) * 2 + (blk & 1);
    const y = (blk >> 3) * 2 + ((blk >> 1) & 1);
    blkLeft = x > 0 || availA;
    blkTop = y > 0 || availB;
    blkTopLeft = x > 0 && y > 0 ? true : x > 0 ? availB : y > 0 ? availA : availD;
    // Predicted mode: DC when a neighbour block is unavailable (for intra), else the smaller of the two, where a
    // neighbour outside I_NxN counts as DC (2).
    blkPred = 2;
    if (blkLeft && blkTop) {
      const a = x > 0 ? i4Mode[mb * 16 + y * 4 + x - 1]! : mbI4[mbA] ? i4Mode[mbA * 16 + y * 4 + 3]! : 2;
      const b = y > 0 ? i4Mode[mb * 16 + (y - 1) * 4 + x]! : mbI4[mbB] ? i4Mode[mbB * 16 + 12 + x]! : 2;
      blkPred = Math.min(a, b);
    }
    const usePred = r.flag('prev_intra4x4_pred_mode_flag', i4ModeOk(blkPred) ? PREV_FLAG_PRED : PREV_FLAG_REM);
    let mode = blkPred;
    if (!usePred) mode = i4RemMode(r.u(3, 'rem_intra4x4_pred_mode', 0, 7, blkPred < 2 ? REM_LOW : REM_HIGH));
    i4Mode[mb * 16 + y * 4 + x] = mode;
  }
}

// Scratch of the residual block being read.
let blockMax = 16;
let blockTotal = 0;
let blockZerosLeft = 0;
const TOKEN_OPTIONS: ElementOptions = { valid: (v) => v >> 2 <= blockMax, what: 'too many coefficients for the block', prefer: [0] };
const TOTAL_ZEROS_OPTIONS: ElementOptions = { valid: (v) => v <= blockMax - blockTotal, what: 'more zeros than the block has room for', prefer: [0] };
const LEVEL_PREFIX_OPTIONS: ElementOptions = { prefer: [0] };
const RUN_BEFORE_OPTIONS: ElementOptions = { valid: (v) => v <= blockZerosLeft, what: 'a run longer than the zeros left', largest: true };

/**
 * residual_block_cavlc() (§7.3.5.3.2) of a block of maxNumCoeff coefficients; returns TotalCoeff. With `from`, the
 * block resumes at the checkpoint's phase (bPhase > 0; the caller recorded the checkpoint before coeff_token).
 */
function residualBlock(r: SyntaxReader, nC: number, maxNumCoeff: number, from?: SliceCheckpoint): number {
  blockMax = maxNumCoeff;
  let totalCoeff: number;
  let trailingOnes: number;
  let suffixLength: number;
  let i = 0;
  let zerosLeft = 0;
  let phase: number;
  if (from && from.bPhase > 0) {
    phase = from.bPhase;
    totalCoeff = from.bTotal;
    trailingOnes = from.bTrailing;
    suffixLength = from.bSuffix;
    i = from.bI;
    zerosLeft = from.bZeros;
  } else {
    const token = r.vlc(coeffTokenVlc(nC), TOKEN_OPTIONS);
    totalCoeff = token >> 2;
    trailingOnes = token & 3;
    if (totalCoeff === 0) return 0;
    suffixLength = totalCoeff > 10 && trailingOnes < 3 ? 1 : 0;
    phase = 1;
  }
  bTotal = totalCoeff;
  bTrailing = trailingOnes;
  if (phase === 1) {
    for (; i < totalCoeff; i++) {
      bPhase = 1;
      bI = i;
      bSuffix = suffixLength;
      site(r);
      if (i < trailingOnes) {
        r.u(1, 'trailing_ones_sign_flag');
        continue;
      }
      const prefix = r.vlc(LEVEL_PREFIX, LEVEL_PREFIX_OPTIONS);
      let levelCode = Math.min(15, prefix) << suffixLength;
      if (suffixLength > 0 || prefix >= 14) {
        const size = prefix === 14 && suffixLength === 0 ? 4 : prefix >= 15 ? prefix - 3 : suffixLength;
        if (size > 0) levelCode += r.u(size, 'level_suffix');
      }
      if (prefix >= 15 && suffixLength === 0) levelCode += 15;
      if (i === trailingOnes && trailingOnes < 3) levelCode += 2;
      const level = levelCode % 2 === 0 ? (levelCode + 2) >> 1 : (-levelCode - 1) >> 1;
      if (suffixLength === 0) suffixLength = 1;
      if (Math.abs(level) > 3 << (suffixLength - 1) && suffixLength < 6) suffixLength++;
    }
    phase = 2;
  }
  if (phase === 2) {
    zerosLeft = 0;
    if (totalCoeff < maxNumCoeff) {
      bPhase = 2;
      bSuffix = 0;
      bI = 0;
      site(r);
      blockMax = maxNumCoeff;
      blockTotal = totalCoeff;
      zerosLeft = r.vlc(maxNumCoeff === 4 ? TOTAL_ZEROS_CHROMA_DC[totalCoeff]! : TOTAL_ZEROS_4x4[totalCoeff]!, TOTAL_ZEROS_OPTIONS);
    }
    i = 0;
  }
  for (; i < totalCoeff - 1 && zerosLeft > 0; i++) {
    bPhase = 3;
    bI = i;
    bSuffix = 0;
    bZeros = zerosLeft;
    site(r);
    blockZerosLeft = zerosLeft;
    zerosLeft -= r.vlc(RUN_BEFORE[Math.min(zerosLeft, 7)]!, RUN_BEFORE_OPTIONS);
  }
  bPhase = 0;
  bZeros = 0;
  return totalCoeff;
}

/** The outcome of a parse that returned: a soft stop of the reader, or the value. */
function outcome<T>(r: SyntaxReader, value: T): ParseOutcome<T> {
  const stop = r.stop;
  if (stop === undefined) return { status: 'ok', value, reader: r };
  if (stop === NEED_MORE) return MORE;
  return { status: 'error', message: stop.message, bit: stop.bit };
}

const MORE: ParseOutcome<never> = Object.freeze({ status: 'more' });

/** Runs `parse` on an RBSP in a mode: 'ok' (with the value), 'more' (a valid prefix, mode 'prefix'), or an error. */
export type ParseOutcome<T> = { status: 'ok'; value: T; reader: SyntaxReader } | { status: 'more' } | { status: 'error'; message: string; bit: number };

export function runParse<T>(rbsp: Uint8Array, length: number, mode: ParseMode, parse: (r: SyntaxReader) => T): ParseOutcome<T> {
  const r = new SyntaxReader(rbsp, length, mode);
  // Every parser here may run on after a soft stop (reads give 0; see SyntaxReader.soft).
  r.soft = mode !== 'complete';
  try {
    return outcome(r, parse(r));
  } catch (e) {
    if (e === NEED_MORE) return { status: 'more' };
    if (e instanceof SyntaxFailure) return { status: 'error', message: e.message, bit: e.bit };
    throw e;
  }
}

/**
 * An H.264 decoder for previews and tests: the npm package `tinyh264` (0.0.7, Apache-2.0: the Android h264bsd
 * Baseline decoder compiled to WebAssembly by emscripten, the .wasm embedded as a data URI), run in Node.
 *
 * The package is built for web workers: its module factory reads `self.location.href` when it starts, and its
 * `lib/` files are ES modules in a package without `"type": "module"`. So this adapter imports the factory file
 * itself (esbuild bundles it; tsx runs it), defines a stand-in `self` only while the factory starts, and drives the
 * exported C functions directly (h264bsdAlloc/Init/Decode/Shutdown/Free) instead of the package's worker wrapper:
 * one NAL unit per call (split here with src/codec/h264), a picture taken when the call says PIC_RDY. h264bsd says
 * so with the slice that completes a picture, or (seen with single-slice IDR pictures) only when the next picture's
 * first slice comes — then that slice was not decoded and is fed again — or at an end-of-stream NAL unit, fed after
 * the last one. Output is I420 (Y, then Cb, then Cr planes), in decoding order (output reordering off).
 *
 * Bounds: picture sides over `maxSide` (default 4096) are refused from the SPS before any decoding; decoding stops
 * after `maxFrames` pictures; one NAL unit may be at most 4 MiB. h264bsd decodes the Baseline profile only and
 * conceals errors instead of reporting them: a damaged stream gives fewer or wrong pictures, not an error, so judge
 * streams with src/codec/h264 (`describeStream`) and use this for pixels.
 */
import { H264FormatError, MAX_SIDE, NAL_SPS, parseSps, runParse, splitAnnexB, unescapeRbsp } from '../codec/h264';
// The emscripten factory (an ES module file inside a CommonJS package; see above).
import TinyH264Factory from 'tinyh264/lib/TinyH264.js';

/** The part of the emscripten module this adapter uses. */
interface TinyH264Module {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _h264bsdAlloc(): number;
  _h264bsdInit(storage: number, noOutputReordering: number): number;
  _h264bsdDecode(storage: number, data: number, length: number, picture: number, width: number, height: number): number;
  _h264bsdShutdown(storage: number): void;
  _h264bsdFree(storage: number): void;
  getValue(ptr: number, type: string): number;
}

/** h264bsdDecode: a picture is ready. */
const PIC_RDY = 1;
const MAX_NAL_BYTES = 4 << 20;
/** An end-of-stream NAL unit (type 11): makes h264bsd return the last picture. */
const END_OF_STREAM = Uint8Array.of(0x0b);

let modulePromise: Promise<TinyH264Module> | undefined;

/** The WebAssembly module, started once per process. */
function tinyH264(): Promise<TinyH264Module> {
  if (!modulePromise) {
    const g = globalThis as { self?: unknown };
    const hadSelf = 'self' in g;
    const previous = g.self;
    if (!hadSelf) g.self = { location: { href: '' } };
    try {
      const factory = TinyH264Factory as unknown as (module?: object) => Promise<TinyH264Module>;
      modulePromise = factory({ print: () => undefined, printErr: () => undefined });
    } finally {
      if (!hadSelf) delete g.self;
      else g.self = previous;
    }
  }
  return modulePromise;
}

export interface DecodedFrame {
  readonly width: number;
  readonly height: number;
  /** I420: width·height luma bytes, then the Cb and Cr planes of (width/2)·(height/2) bytes each. */
  readonly yuv: Uint8Array;
}

export interface H264DecodeOptions {
  /** Stop after this many pictures (default: all). */
  readonly maxFrames?: number;
  /** Refuse streams whose SPS declares a side (in pixels, coded size) above this (default 4096). */
  readonly maxSide?: number;
}

export interface H264DecodeResult {
  readonly frames: DecodedFrame[];
  /** Pictures decoded (= frames.length). */
  readonly count: number;
  /** Decoding stopped at `maxFrames` with NAL units left. */
  readonly truncated: boolean;
}

/** Decodes an Annex B stream. Throws `H264FormatError` when there are no start codes or the size is too large. */
export async function decodeH264(stream: Uint8Array, options: H264DecodeOptions = {}): Promise<H264DecodeResult> {
  const maxSide = Math.min(options.maxSide ?? MAX_SIDE, MAX_SIDE);
  const maxFrames = options.maxFrames ?? Number.POSITIVE_INFINITY;
  const units = splitAnnexB(stream);
  for (const u of units) {
    if (u.end - u.headerOffset > MAX_NAL_BYTES) throw new H264FormatError(`a NAL unit of ${u.end - u.headerOffset} bytes (at most ${MAX_NAL_BYTES})`, u.offset);
    if (u.nalUnitType !== NAL_SPS) continue;
    const rb = unescapeRbsp(stream.subarray(u.headerOffset + 1, u.end), u.headerOffset + 1);
    const sps = runParse(rb.bytes, rb.bytes.length, 'final', parseSps);
    if (sps.status !== 'ok') throw new H264FormatError(`sequence parameter set: ${sps.status === 'error' ? sps.message : 'incomplete'}`, u.headerOffset);
    const w = sps.value.widthInMbs * 16;
    const h = sps.value.heightInMbs * 16;
    if (w > maxSide || h > maxSide) throw new H264FormatError(`the picture is ${w}×${h}: sides above ${maxSide} pixels are refused`, u.headerOffset);
  }
  const m = await tinyH264();
  const storage = m._h264bsdAlloc();
  const pWidth = m._malloc(4);
  const pHeight = m._malloc(4);
  const pPicture = m._malloc(4);
  let buffer = 0;
  let bufferSize = 0;
  const frames: DecodedFrame[] = [];
  let truncated = false;
  const take = (): void => {
    const width = m.getValue(pWidth, 'i32');
    const height = m.getValue(pHeight, 'i32');
    const ptr = m.getValue(pPicture, 'i32') >>> 0;
    // HEAPU8 may be replaced when memory grows: read it after the call.
    frames.push({ width, height, yuv: m.HEAPU8.slice(ptr, ptr + (width * height * 3) / 2) });
  };
  const decode = (nal: Uint8Array): number => {
    if (nal.length > bufferSize) {
      if (buffer) m._free(buffer);
      bufferSize = Math.max(nal.length, 64 << 10);
      buffer = m._malloc(bufferSize);
    }
    m.HEAPU8.set(nal, buffer);
    return m._h264bsdDecode(storage, buffer, nal.length, pPicture, pWidth, pHeight);
  };
  try {
    // noOutputReordering = 1: pictures come out in decoding order, as soon as decoded (these streams never reorder).
    m._h264bsdInit(storage, 1);
    // A picture decoded but not returned yet: h264bsd returns it when the next picture's first slice comes (without
    // decoding that slice, which is then fed again) or at the end-of-stream NAL unit fed after the last one.
    let pending = false;
    for (let i = 0; i < units.length; i++) {
      if (frames.length >= maxFrames) {
        truncated = true;
        break;
      }
      const u = units[i]!;
      const nal = stream.subarray(u.headerOffset, u.end);
      const slice = u.nalUnitType === 1 || u.nalUnitType === 5;
      // first_mb_in_slice = 0 (ue(v) '1'): the slice starts a picture.
      const starts = slice && nal.length > 1 && (nal[1]! & 0x80) !== 0;
      let ret = decode(nal);
      if (ret === PIC_RDY && pending && starts) {
        take();
        pending = false;
        if (frames.length >= maxFrames) {
          truncated = true;
          break;
        }
        ret = decode(nal);
      }
      if (ret === PIC_RDY) {
        take();
        pending = false;
      } else if (slice) pending = true;
    }
    if (pending && frames.length < maxFrames && decode(END_OF_STREAM) === PIC_RDY) take();
  } finally {
    if (buffer) m._free(buffer);
    m._free(pWidth);
    m._free(pHeight);
    m._free(pPicture);
    m._h264bsdShutdown(storage);
    m._h264bsdFree(storage);
  }
  return { frames, count: frames.length, truncated };
}

/** I420 → RGBA (BT.601 limited range, the x264 default), alpha 255. */
export function yuvToRgba(frame: DecodedFrame): Uint8Array {
  const { width: w, height: h, yuv } = frame;
  const out = new Uint8Array(w * h * 4);
  const cw = w >> 1;
  const uOff = w * h;
  const vOff = uOff + cw * (h >> 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = (y >> 1) * cw + (x >> 1);
      const yy = 1.164 * (yuv[y * w + x]! - 16);
      const u = yuv[uOff + c]! - 128;
      const v = yuv[vOff + c]! - 128;
      const o = (y * w + x) * 4;
      out[o] = clamp(yy + 1.596 * v);
      out[o + 1] = clamp(yy - 0.392 * u - 0.813 * v);
      out[o + 2] = clamp(yy + 2.017 * u);
      out[o + 3] = 255;
    }
  }
  return out;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/**
 * A user's clip as the canonical Annex-B stream of an H.264 codec-lm pack (AVC-LM, thesis ch. 6). A stream that is
 * already canonical for the pack (a raw .h264 whose every byte the stream validator accepts, at the pack's size) is
 * used as it is, so the bundled samples need no encoder; anything else goes through ffmpeg with the thesis' x264
 * settings (ffmpeg.ts), and without ffmpeg the error says how to get it.
 */
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { H264FormatError, cutAfterFrames, describeStream, validateStream } from '../codec/h264';
import { MAX_VIDEO_FILE_BYTES } from '../protocol/worker';
import { FfmpegError, FfmpegMissingError, canonicalClip, ffmpegNeeded, findFfmpeg } from './ffmpeg';
import type { H264CodecSpec } from './manifest';

export class VideoSourceError extends Error {}

export interface CanonicalClip {
  stream: Uint8Array;
  frames: number;
  /** Set when ffmpeg converted the clip. */
  canonicalisedWith?: 'ffmpeg';
}

/** Why `stream` is not a canonical stream of the pack, or undefined when it is one. */
export function notCanonical(stream: Uint8Array, c: H264CodecSpec): string | undefined {
  if (stream.length < 4 || stream[0] !== 0 || stream[1] !== 0) return 'it is not a raw H.264 (Annex B) stream';
  let d;
  try {
    d = describeStream(stream);
  } catch (e) {
    if (e instanceof H264FormatError) return e.message;
    throw e;
  }
  if (d.width !== c.width || d.height !== c.height) return `its frames are ${d.width}×${d.height}, the model's are ${c.width}×${c.height}`;
  const v = validateStream(stream, { maxMbsPerSlice: c.sliceMaxMbs });
  if (!v.ok) return `byte ${v.rejection!.offset}: ${v.rejection!.reason}`;
  if (d.frames < 1) return 'it has no complete frame';
  return undefined;
}

async function readClip(file: string): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VideoSourceError(code === 'ENOENT' ? `cannot read "${file}": no such file` : `cannot read "${file}": ${(e as Error).message}`);
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new VideoSourceError(`"${file}" is a folder; give a video clip (.h264, .mp4 …)`);
    if (!st.isFile()) throw new VideoSourceError(`"${file}" is not a regular file`);
    if (st.size === 0) throw new VideoSourceError(`"${file}" is empty (0 bytes)`);
    if (st.size > MAX_VIDEO_FILE_BYTES)
      throw new VideoSourceError(`"${file}" is ${(st.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_VIDEO_FILE_BYTES / 1024 / 1024} MB`);
    const buf = Buffer.alloc(st.size);
    await fh.read(buf, 0, st.size, 0);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } finally {
    await fh.close();
  }
}

/**
 * The clip of `file` (or the bytes of a canonical stream) for the pack: canonical as it is, else converted by ffmpeg
 * (at most `maxFrames` frames). Bad input is a VideoSourceError that says what to do.
 */
export async function canonicalVideo(
  source: { file: string } | { bytes: Uint8Array },
  c: H264CodecSpec,
  o: { ffmpegPath?: string; maxFrames?: number; signal?: AbortSignal } = {},
): Promise<CanonicalClip> {
  if ('bytes' in source) {
    const why = notCanonical(source.bytes, c);
    if (why) throw new VideoSourceError(`the stream is not a canonical H.264 stream of ${c.width}×${c.height}: ${why}`);
    return { stream: source.bytes, frames: describeStream(source.bytes).frames };
  }
  const { file } = source;
  const bytes = await readClip(file);
  const why = notCanonical(bytes, c);
  if (!why) return { stream: bytes, frames: describeStream(bytes).frames };
  const name = `"${path.basename(file)}"`;
  let ffmpeg: string | undefined;
  try {
    ffmpeg = await findFfmpeg(o.ffmpegPath);
  } catch (e) {
    if (e instanceof FfmpegMissingError) throw new VideoSourceError(`${name} is not a canonical clip (${why}), and ${e.message}`);
    throw e;
  }
  if (!ffmpeg) throw new VideoSourceError(`${name} is not a canonical clip (${why}). ${ffmpegNeeded(name)}`);
  let stream: Uint8Array;
  try {
    stream = await canonicalClip(ffmpeg, file, c, o.maxFrames ?? c.frames, o.signal);
  } catch (e) {
    if (e instanceof FfmpegError) throw new VideoSourceError(`${name} could not be converted: ${e.message}`);
    throw e;
  }
  const still = notCanonical(stream, c);
  if (still) throw new VideoSourceError(`ffmpeg's conversion of ${name} is not canonical (${still}); is it ffmpeg with libx264?`);
  return { stream, frames: describeStream(stream).frames, canonicalisedWith: 'ffmpeg' };
}

/** The prompt of a continuation: the parameter sets and the clip's first `frames` frames (a VideoSourceError if it cannot be cut). */
export function videoPrompt(stream: Uint8Array, frames: number): Uint8Array {
  try {
    return cutAfterFrames(stream, frames);
  } catch (e) {
    if (e instanceof H264FormatError) throw new VideoSourceError(`the clip cannot be cut after ${frames} frames: ${e.message}`);
    throw e;
  }
}

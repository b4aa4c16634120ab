/**
 * ffmpeg for the video feature (AVC-LM, thesis ch. 6): turning a user's clip into the canonical H.264 stream of a
 * pack (the thesis' x264 settings at the pack's size, rate and QP) and wrapping a raw stream into .mp4. Concert does
 * not ship an encoder: ffmpeg is found at the path the user set (`concert.ffmpegPath`, `--ffmpeg`), else on PATH;
 * canonical `.h264` clips (the bundled samples among them) need none.
 *
 * The arguments are built from the pack's codec block; for the bundled pack they equal, flag for flag, those the
 * training pipeline encodes with (tools/video/x264_flags.json; test/unit/video-input.test.ts checks it).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { H264CodecSpec } from './manifest';

/** ffmpeg is needed and not found, or the path given is not an executable. */
export class FfmpegMissingError extends Error {}
/** ffmpeg ran and failed (its last error lines in the message), or was stopped. */
export class FfmpegError extends Error {}

/** Longest an ffmpeg run may take (a short clip at 32×32 takes well under a second). */
const FFMPEG_TIMEOUT_MS = 60_000;
/** Most bytes read from ffmpeg's stdout (a canonical clip of a few seconds is a few KB at small sizes). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

const exe = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';

async function isExecutable(file: string): Promise<boolean> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return false;
    await access(file, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The ffmpeg to run: `explicit` when given (it must be an executable file: a wrong setting is an error, not a silent
 * fallback), else the first `ffmpeg` on PATH, else undefined.
 */
export async function findFfmpeg(explicit?: string, envPath = process.env['PATH'] ?? ''): Promise<string | undefined> {
  if (explicit) {
    if (!path.isAbsolute(explicit)) throw new FfmpegMissingError(`the ffmpeg path "${explicit}" must be absolute (concert.ffmpegPath / --ffmpeg)`);
    if (!(await isExecutable(explicit)))
      throw new FfmpegMissingError(`the ffmpeg path "${explicit}" is not an executable file (concert.ffmpegPath / --ffmpeg)`);
    return explicit;
  }
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, exe);
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** What a message says when a clip needs ffmpeg and there is none. */
export function ffmpegNeeded(what: string): string {
  return `${what} needs ffmpeg (with libx264) to convert it to the model's canonical H.264, and none was found: install ffmpeg (e.g. "sudo apt-get install ffmpeg", "brew install ffmpeg", "winget install ffmpeg") or set concert.ffmpegPath / --ffmpeg to its absolute path. Canonical .h264 clips, like the bundled samples, need no ffmpeg.`;
}

/** The video filter of the canonical stream: the thesis' rate, fit inside the frame, centred padding ((ow-iw)/2). */
export function canonicalVideoFilter(c: Pick<H264CodecSpec, 'width' | 'height' | 'fps'>): string {
  return `fps=${c.fps},scale=${c.width}:${c.height}:force_original_aspect_ratio=decrease,pad=${c.width}:${c.height}:(ow-iw)/2:(oh-ih)/2`;
}

/**
 * ffmpeg's output arguments for the canonical stream (thesis §6.6.4 with `frames` frames at most): constrained
 * baseline, fixed QP, no B-frames, one macroblock per slice, Annex-B, x264's SEI (NAL type 6) removed.
 */
export function canonicalOutputArgs(c: Pick<H264CodecSpec, 'fps' | 'frames' | 'qp'>, frames = c.frames): string[] {
  // The flags of the thesis as one string (x264_flags.json lists them the same way), split on spaces.
  const thesis =
    '-c:v libx264 -pix_fmt yuv420p -profile:v baseline -qp QP -bf 0 -an -sn -x264opts slice-max-mbs=1 -trellis 0 -me_method dia ' +
    '-threads 1 -subq 0 -psy 0 -mixed-refs 0 -fast-pskip 0 -partitions none -refs 3 ' +
    '-bsf:v h264_mp4toannexb,filter_units=remove_types=6 -f h264';
  return ['-t', String(Math.ceil(frames / c.fps)), '-frames:v', String(frames), ...thesis.split(' ').map((a) => (a === 'QP' ? String(c.qp) : a))];
}

interface RunOptions {
  signal?: AbortSignal;
  input?: Uint8Array;
  timeoutMs?: number;
}

/** Runs ffmpeg; resolves with its stdout, rejects with FfmpegError (stderr's last lines) on failure or cancel. */
function runFfmpeg(ffmpeg: string, args: string[], o: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', ...args], {
      stdio: [o.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let failure: string | undefined;
    const stop = (why: string) => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(`ffmpeg took longer than ${(o.timeoutMs ?? FFMPEG_TIMEOUT_MS) / 1000} s`), o.timeoutMs ?? FFMPEG_TIMEOUT_MS);
    const onAbort = () => stop('cancelled');
    o.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout!.on('data', (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > MAX_OUTPUT_BYTES) stop(`ffmpeg wrote more than ${MAX_OUTPUT_BYTES / 1024 / 1024} MB`);
      else out.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-4000);
    });
    if (o.input) {
      child.stdin!.on('error', () => {}); // ffmpeg may exit before reading everything; its exit code says why
      child.stdin!.end(Buffer.from(o.input.buffer, o.input.byteOffset, o.input.byteLength));
    }
    child.on('error', (e) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      reject(new FfmpegError(`ffmpeg could not be started (${ffmpeg}): ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (failure) return reject(new FfmpegError(failure));
      if (code !== 0) {
        const last = err.trim().split('\n').slice(-3).join(' · ');
        return reject(new FfmpegError(`ffmpeg failed (exit ${code})${last ? `: ${last}` : ''}`));
      }
      resolve(Buffer.concat(out));
    });
  });
}

/** A clip (any format ffmpeg reads) as the pack's canonical Annex-B stream, at most `frames` frames. */
export async function canonicalClip(ffmpeg: string, file: string, c: H264CodecSpec, frames = c.frames, signal?: AbortSignal): Promise<Uint8Array> {
  const args = ['-i', file, '-vf', canonicalVideoFilter(c), ...canonicalOutputArgs(c, frames), 'pipe:1'];
  const out = await runFfmpeg(ffmpeg, args, signal ? { signal } : {});
  if (!out.length) throw new FfmpegError(`ffmpeg found no video frames in "${file}"`);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** A raw Annex-B stream wrapped into .mp4 bytes (no re-encoding; fragmented, as ffmpeg writes to a pipe). */
export async function writeMp4Bytes(ffmpeg: string, stream: Uint8Array, fps: number, signal?: AbortSignal): Promise<Uint8Array> {
  const args = ['-f', 'h264', '-r', String(fps), '-i', 'pipe:0', '-c:v', 'copy', '-movflags', 'frag_keyframe+empty_moov', '-f', 'mp4', 'pipe:1'];
  const out = await runFfmpeg(ffmpeg, args, { input: stream, ...(signal && { signal }) });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

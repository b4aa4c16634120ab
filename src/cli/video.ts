/**
 * `concert video continue <clip>`: AVC-LM continuations of a short clip with an H.264 codec-lm pack (worker request
 * `video/run`). The clip's first --prompt-frames frames are kept and --frames more are sampled per sample. Files are
 * written only once the worker has answered, so bad input, a cancel or a failure writes nothing: per sample the whole
 * clip (prompt + continuation) as `<stem>-continue-<i>.h264`, and `.mp4` beside it when the worker found ffmpeg
 * (--ffmpeg, else PATH) to wrap it.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MAX_VIDEO_FILE_BYTES, Requests, type VideoRunParams, type VideoRunResult } from '../protocol/worker';
import { UsageError, type Parsed } from './args';
import type { RunContext } from './commands';
import { InputError } from './inputFile';

export async function checkVideo(args: Parsed): Promise<void> {
  const [sub, ...rest] = args.positionals;
  if (sub !== 'continue')
    throw new UsageError('video needs "continue <clip>", e.g. "concert video continue clip.h264 --prompt-frames 4 --frames 4 --out out/video"');
  if (rest.length !== 1) throw new UsageError('video continue needs exactly one clip (.h264, or any video when ffmpeg is installed)');
  if (args.image.ratio !== undefined) throw new UsageError('--ratio is for image complete (video continue keeps whole frames: --prompt-frames)');
  if (!args.video.out) throw new UsageError('video continue needs --out <folder> for the .h264 files');
  const outStat = await fs.stat(args.video.out).catch(() => undefined);
  if (outStat && !outStat.isDirectory()) throw new UsageError(`--out ${args.video.out} is a file, not a folder`);
  const file = rest[0]!;
  const st = await fs.stat(file).catch(() => undefined);
  if (!st) throw new InputError(`cannot read "${file}": no such file`);
  if (st.isDirectory()) throw new InputError(`"${file}" is a folder; give a video clip (.h264, .mp4 …)`);
  if (!st.isFile()) throw new InputError(`"${file}" is not a regular file`);
  if (st.size === 0) throw new InputError(`"${file}" is empty (0 bytes)`);
  if (st.size > MAX_VIDEO_FILE_BYTES)
    throw new InputError(`"${file}" is ${(st.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_VIDEO_FILE_BYTES / 1024 / 1024} MB`);
}

/** The file name (without extension) of sample i (0-based). */
export function videoSampleStem(i: number, input: string): string {
  const stem = path.basename(input, path.extname(input)) || 'clip';
  return `${stem}-continue-${i + 1}`;
}

export async function runVideo(ctx: RunContext): Promise<void> {
  const file = ctx.args.positionals[1]!;
  const { out, ...knobs } = ctx.args.video;
  const params: VideoRunParams = { ...knobs, file: path.resolve(file), mp4: true };
  const r = await ctx.client.request(Requests.videoRun, params, ctx.signal);
  await fs.mkdir(out!, { recursive: true });
  const files: { h264: string; mp4?: string }[] = [];
  for (const s of r.samples) {
    const stem = path.join(out!, videoSampleStem(s.index, file));
    await fs.writeFile(`${stem}.h264`, Buffer.from(s.h264, 'base64'));
    if (s.mp4) await fs.writeFile(`${stem}.mp4`, Buffer.from(s.mp4, 'base64'));
    files.push({ h264: `${stem}.h264`, ...(s.mp4 && { mp4: `${stem}.mp4` }) });
  }
  if (ctx.args.json) ctx.out(JSON.stringify(videoJson(r, files), null, 2));
  else printVideo(r, files, ctx.out);
}

/** The --json shape: each written file with its verdict and decoded frame count, and the run record. */
export function videoJson(r: VideoRunResult, files: readonly { h264: string; mp4?: string }[]): unknown {
  return {
    model: r.model,
    width: r.width,
    height: r.height,
    fps: r.fps,
    promptFrames: r.run.knobs.promptFrames,
    frames: r.run.knobs.frames,
    decodable: r.decodable,
    samples: r.samples.length,
    ...(r.mp4Skipped !== undefined && { mp4Skipped: r.mp4Skipped }),
    files: r.samples.map((s, i) => ({
      path: files[i]!.h264,
      ...(files[i]!.mp4 && { mp4: files[i]!.mp4 }),
      decodable: s.decodable,
      decodedFrames: s.decodedFrames,
      ...(s.previewFrames !== undefined && { previewFrames: s.previewFrames }),
      tokens: s.tokens,
      streamBytes: s.streamBytes,
      closingBytes: s.closingBytes,
      stoppedBy: s.stoppedBy,
      ...(s.problem !== undefined && { problem: s.problem }),
    })),
    run: r.run,
  };
}

export function printVideo(r: VideoRunResult, files: readonly { h264: string; mp4?: string }[], out: (s: string) => void): void {
  const width = Math.max(4, ...files.map((f) => f.h264.length));
  const want = r.run.knobs.promptFrames + r.run.knobs.frames;
  out(`  ${'file'.padEnd(width)}  frames  decodable  tokens  ended`);
  r.samples.forEach((s, i) => {
    const ended =
      s.stoppedBy === 'max-tokens'
        ? `budget${s.closingBytes ? ` (+${s.closingBytes} bytes closing)` : ''}`
        : s.stoppedBy === 'complete'
          ? 'frames done'
          : 'eos';
    out(
      `  ${files[i]!.h264.padEnd(width)}  ${`${s.decodedFrames}/${want}`.padStart(6)}  ${(s.decodable ? 'yes' : 'no').padEnd(9)}  ${String(s.tokens).padStart(6)}  ${ended}`,
    );
  });
  const k = r.run.knobs;
  const d =
    k.decoding.mode === 'greedy' ? 'greedy' : `T ${k.decoding.temperature}, top-p ${k.decoding.topP}${k.decoding.topK ? `, top-k ${k.decoding.topK}` : ''}`;
  const mp4 = files.some((f) => f.mp4) ? ' · .mp4 beside each' : r.mp4Skipped ? ` · no .mp4 (${r.mp4Skipped})` : '';
  out(
    `${r.decodable} of ${r.samples.length} decodable · ${r.model.id} (${r.width}×${r.height}, ${r.fps} fps) · ${k.promptFrames} prompt + ${k.frames} new frames · ${k.constrained ? 'constrained' : 'unconstrained'}, ${d}, seed ${r.run.seed} · ${(r.run.timings.totalMs / 1000).toFixed(1)} s${mp4}`,
  );
}

/**
 * `video/run`: AVC-LM video continuation (thesis ch. 6) with an H.264 codec-lm pack. The clip becomes the pack's
 * canonical Annex-B stream (runtime/videoInput.ts: as it is when canonical, else through ffmpeg), its first n frames
 * are the prompt (src/codec/h264 `cutAfterFrames`), and N samples are decoded as one batch (engine/sampling.ts), each
 * constrained by its own stream validator so that it decodes to n + m frames (runtime/videoSamples.ts). Progress
 * carries, per sample, the frames it completed since the last notification, decoded to PNG, so a panel can show them
 * as they come. The autoregressive path is the image job's: one codec-lm runtime (runtime/codecLm.ts), one sampler.
 */
import type { SampledRow } from '../engine/sampling';
import {
  VIDEO_DEFAULTS,
  VIDEO_MAX_FRAMES,
  VIDEO_MAX_SAMPLES,
  WorkerErrorCode,
  type VideoProgress,
  type VideoRunParams,
  type VideoRunResult,
  type VideoSampleResult,
} from '../protocol/worker';
import { FfmpegError, findFfmpeg, writeMp4Bytes } from '../runtime/ffmpeg';
import { decodeH264Frames } from '../runtime/h264Frames';
import type { H264CodecSpec } from '../runtime/manifest';
import { sha256 } from '../runtime/packs';
import { VideoSourceError, canonicalVideo, videoPrompt } from '../runtime/videoInput';
import { VideoSample } from '../runtime/videoSamples';
import { MAX_STREAM_BASE64, b64, bad, checkSamplingKnobs, codecTimings, sampleCodecBatch, type SamplingKnobs } from './codecJobs';
import { WorkerFailure, type WorkerService } from './service';

export interface VideoJobControl {
  signal: AbortSignal;
  onProgress?: (p: Omit<VideoProgress, 'progressToken'>) => void;
  /** Minimum gap between progress notifications (the first and the last always go out). */
  progressIntervalMs?: number;
}

interface Knobs extends SamplingKnobs {
  promptFrames: number | undefined;
  frames: number;
}

function checkParams(p: VideoRunParams): Knobs {
  if (typeof p !== 'object' || p === null) throw bad('video/run needs its parameters');
  if ((p.file === undefined) === (p.stream === undefined)) throw bad('video/run needs the clip: a file, or a canonical stream (one of them)');
  if (p.file !== undefined && (typeof p.file !== 'string' || !p.file)) throw bad('file must be a path');
  if (p.stream !== undefined && (typeof p.stream !== 'string' || p.stream.length > MAX_STREAM_BASE64)) throw bad('stream must be base64 text of at most 16 MB');
  if (p.promptFrames !== undefined && (!Number.isInteger(p.promptFrames) || p.promptFrames < 1)) throw bad('prompt frames must be a positive integer');
  const frames = p.frames ?? VIDEO_DEFAULTS.frames;
  if (!Number.isInteger(frames) || frames < 1 || frames > VIDEO_MAX_FRAMES) throw bad(`frames must be an integer from 1 to ${VIDEO_MAX_FRAMES}`);
  const sampling = checkSamplingKnobs(p, VIDEO_DEFAULTS, VIDEO_MAX_SAMPLES);
  if (p.mp4 !== undefined && typeof p.mp4 !== 'boolean') throw bad('mp4 must be true or false');
  if (p.ffmpegPath !== undefined && (typeof p.ffmpegPath !== 'string' || !p.ffmpegPath)) throw bad('ffmpegPath must be a path');
  return { promptFrames: p.promptFrames, frames, ...sampling };
}

export async function runVideo(service: WorkerService, p: VideoRunParams, job: VideoJobControl): Promise<VideoRunResult> {
  const started = performance.now();
  const knobs = checkParams(p);
  const model = await service.codecModel(p.packId, 'h264');
  const codec = model.codec as H264CodecSpec;
  const cancelled = (what: string, data?: unknown) => new WorkerFailure(WorkerErrorCode.Cancelled, `video continuation cancelled ${what}`, data);

  // The clip: at most the prompt frames are needed (or the pack's clip length when none were asked for).
  let clip;
  try {
    clip = await canonicalVideo(p.file !== undefined ? { file: p.file } : { bytes: new Uint8Array(Buffer.from(p.stream!, 'base64')) }, codec, {
      ...(p.ffmpegPath !== undefined && { ffmpegPath: p.ffmpegPath }),
      maxFrames: Math.max(knobs.promptFrames ?? 0, codec.frames),
      signal: job.signal,
    });
  } catch (e) {
    if (job.signal.aborted) throw cancelled('while reading the clip');
    if (e instanceof VideoSourceError) throw bad(e.message);
    throw e;
  }
  const promptFrames = knobs.promptFrames ?? Math.min(VIDEO_DEFAULTS.promptFrames, clip.frames);
  if (promptFrames > clip.frames) throw bad(`the clip has ${clip.frames} frames; prompt frames must be from 1 to ${clip.frames} (got ${promptFrames})`);
  let prompt: Uint8Array;
  try {
    prompt = videoPrompt(clip.stream, promptFrames);
  } catch (e) {
    if (e instanceof VideoSourceError) throw bad(e.message);
    throw e;
  }
  if (job.signal.aborted) throw cancelled('before decoding');
  const promptIds = Int32Array.from([codec.bos, ...model.encode(prompt)]);
  // The model read [bos] + stream + [eos] in training: room is left for the eos it was taught to end with.
  const limit = Math.min(codec.maxTokens - 1, model.lm.maxContext) - promptIds.length;
  if (limit < 1)
    throw bad(
      `the prompt (${promptFrames} frames, ${promptIds.length} tokens) leaves no room in the model's context of ${Math.min(codec.maxTokens, model.lm.maxContext)} tokens: keep fewer frames`,
    );
  const maxTokens = Math.max(0, Math.min(p.maxTokens ?? limit, limit));
  const samples = Array.from({ length: knobs.samples }, () => new VideoSample(model, prompt, promptFrames, knobs.frames, knobs.constrained, codec.sliceMaxMbs));
  const promptPngs = (await decodeH264Frames(prompt)).map(b64);

  // Progress: per sample, the frames it completed since the last notification, decoded.
  const sentFrames = samples.map(() => promptFrames);
  let lastSent = 0;
  const interval = job.progressIntervalMs ?? 100;
  let sentPrompt = false;
  const report = async (step: number, rows: readonly SampledRow[], force: boolean) => {
    if (!job.onProgress) return;
    const now = performance.now();
    if (!force && step !== 1 && now - lastSent < interval) return;
    lastSent = now;
    const list = [];
    for (const [i, s] of samples.entries()) {
      const done = Math.min(s.framesDone, s.targetFrames);
      let newFrames: string[] | undefined;
      if (done > sentFrames[i]!) {
        const decoded = await decodeH264Frames(s.completeFramesPrefix());
        newFrames = decoded.slice(sentFrames[i]!, done).map(b64);
        sentFrames[i] = sentFrames[i]! + newFrames.length;
      }
      list.push({
        index: i,
        tokens: rows[i]?.tokens.length ?? 0,
        framesDone: done - promptFrames,
        done: !!rows[i]?.stoppedBy,
        ...(newFrames?.length ? { newFrames } : {}),
      });
    }
    job.onProgress({ ...(!sentPrompt && { promptFrames: promptPngs }), step, maxSteps: maxTokens, frames: knobs.frames, samples: list });
    sentPrompt = true;
  };

  const prepared = performance.now();
  let pending: Promise<void> = Promise.resolve();
  const batch = await sampleCodecBatch(model, {
    promptIds,
    knobs,
    maxTokens,
    constraint: (r) => samples[r]!,
    signal: job.signal,
    // Previews are decoded between steps, one report at a time.
    onStep: (step, rs) => {
      pending = pending.then(() => report(step, rs, false));
    },
    cancelled,
  });
  const { rows, steps } = batch;
  await pending;

  const want = promptFrames + knobs.frames;
  let ffmpeg: string | undefined;
  let mp4Skipped: string | undefined;
  if (p.mp4) {
    ffmpeg = await findFfmpeg(p.ffmpegPath).catch((e: Error) => ((mp4Skipped = e.message), undefined));
    if (!ffmpeg && !mp4Skipped) mp4Skipped = 'ffmpeg was not found (set concert.ffmpegPath or --ffmpeg, or put ffmpeg on PATH)';
  }
  const results: VideoSampleResult[] = [];
  for (const [i, row] of rows.entries()) {
    const done = samples[i]!.finish(row.closing);
    const frames = await decodeH264Frames(done.stream);
    // The verdict is the stream validator's (the H.264 syntax and decoding process, checked element by element; ffmpeg
    // agrees in the tests). The preview decoder (h264bsd in WebAssembly) can miss a picture of some valid streams
    // (pictures whose slices cover several macroblocks), so its count only reports what the previews show.
    const decodable = done.valid && done.frames === want;
    let mp4: string | undefined;
    if (ffmpeg) {
      try {
        mp4 = b64(await writeMp4Bytes(ffmpeg, done.stream, codec.fps, job.signal));
      } catch (e) {
        if (!(e instanceof FfmpegError)) throw e;
        mp4Skipped = `ffmpeg could not write the .mp4: ${e.message}`;
        ffmpeg = undefined;
      }
    }
    results.push({
      index: i,
      h264: b64(done.stream),
      streamBytes: done.stream.length,
      tokens: row.tokens.length,
      closingBytes: done.closingBytes,
      stoppedBy: row.stoppedBy ?? 'max-tokens',
      decodedFrames: done.valid ? done.frames : frames.length,
      decodable,
      ...(!decodable && { problem: done.problem ?? `it decodes to ${done.frames} frames, not ${want}` }),
      ...(frames.length !== (done.valid ? done.frames : frames.length) && { previewFrames: frames.length }),
      frames: frames.slice(promptFrames).map(b64),
      ...(mp4 !== undefined && { mp4 }),
    });
  }
  if (mp4Skipped !== undefined) for (const r of results) delete r.mp4;
  await report(steps, rows, true);
  const provider = service.providerReport();
  const m = model.pack.manifest;
  return {
    model: { id: m.id, ...(m.displayName && { displayName: m.displayName }) },
    width: codec.width,
    height: codec.height,
    fps: codec.fps,
    promptFrames: promptPngs,
    prompt: b64(prompt),
    samples: results,
    decodable: results.filter((r) => r.decodable).length,
    ...(mp4Skipped !== undefined && { mp4Skipped }),
    run: {
      packId: m.id,
      manifestSha256: model.pack.manifestSha256,
      modelSha256: model.modelSha256,
      seed: knobs.seed,
      knobs: { promptFrames, frames: knobs.frames, samples: knobs.samples, decoding: knobs.decoding, maxTokens, constrained: knobs.constrained },
      video: {
        width: codec.width,
        height: codec.height,
        fps: codec.fps,
        clipFrames: clip.frames,
        ...(clip.canonicalisedWith && { canonicalisedWith: clip.canonicalisedWith }),
      },
      source: { ...(p.file !== undefined && { file: p.file }), streamSha256: sha256(clip.stream), streamBytes: clip.stream.length },
      promptBytes: prompt.length,
      promptTokens: promptIds.length,
      perSample: results.map((r) => ({ tokens: r.tokens, decodable: r.decodable, decodedFrames: r.decodedFrames, stoppedBy: r.stoppedBy })),
      provider: provider.chosen,
      device: provider.device,
      timings: codecTimings(started, prepared, batch),
    },
  };
}

/**
 * `image/run`: JPEG-LM image completion and generation (thesis ch. 6) with a codec-lm pack. The input image becomes
 * the canonical image-only stream of the pack's size (runtime/imageInput.ts), the ratio cuts it after whole patches
 * (the prompt), and N samples are decoded as one batch (engine/sampling.ts), each constrained by its own incremental
 * stream validator so that every sample decodes (runtime/codecLm.ts). Progress carries, per sample, the bytes so far
 * as a decodable JPEG (the rest grey) whenever its MCUs advance, so a panel can show the rows as they come.
 */
import {
  IMAGE_DEFAULTS,
  IMAGE_MAX_SAMPLES,
  WorkerErrorCode,
  type ImageProgress,
  type ImageRunParams,
  type ImageRunResult,
  type ImageSampleResult,
} from '../protocol/worker';
import type { SampledRow } from '../engine/sampling';
import { ImageSample, closedJpeg, completionPrompt, generationPrompt, jpegFile, type ImagePrompt } from '../runtime/imageSamples';
import { ImageSourceError, imageStreamFromBytes, imageStreamFromFile } from '../runtime/imageInput';
import { sha256 } from '../runtime/packs';
import { MAX_STREAM_BASE64, b64, bad, checkSamplingKnobs, codecTimings, sampleCodecBatch, type SamplingKnobs } from './codecJobs';
import { WorkerFailure, type WorkerService } from './service';

export interface ImageJobControl {
  signal: AbortSignal;
  onProgress?: (p: Omit<ImageProgress, 'progressToken'>) => void;
  /** Minimum gap between progress notifications (the first and the last always go out). */
  progressIntervalMs?: number;
}

interface Knobs extends SamplingKnobs {
  ratio: number;
}

function checkParams(p: ImageRunParams): Knobs {
  if (p?.mode !== 'complete' && p?.mode !== 'generate') throw bad('mode must be "complete" or "generate"');
  if (p.mode === 'complete') {
    if ((p.file === undefined) === (p.stream === undefined)) throw bad('complete needs the image: a file, or a canonical stream (one of them)');
    if (p.file !== undefined && (typeof p.file !== 'string' || !p.file)) throw bad('file must be a path');
    if (p.stream !== undefined && (typeof p.stream !== 'string' || p.stream.length > MAX_STREAM_BASE64))
      throw bad('stream must be base64 text of at most 16 MB');
  } else if (p.file !== undefined || p.stream !== undefined || p.ratio !== undefined) {
    throw bad('generate takes no image and no ratio (it samples whole images)');
  }
  const ratio = p.ratio ?? (p.mode === 'complete' ? IMAGE_DEFAULTS.ratio : 0);
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) throw bad(`ratio must be a number from 0 to 1 (got ${String(p.ratio)})`);
  return { ratio, ...checkSamplingKnobs(p, IMAGE_DEFAULTS, IMAGE_MAX_SAMPLES) };
}

export async function runImage(service: WorkerService, p: ImageRunParams, job: ImageJobControl): Promise<ImageRunResult> {
  const started = performance.now();
  const knobs = checkParams(p);
  const model = await service.codecModel(p.packId);
  const { geometry } = model;
  const cancelled = (what: string, data?: unknown) =>
    new WorkerFailure(WorkerErrorCode.Cancelled, `image ${p.mode === 'complete' ? 'completion' : 'generation'} cancelled ${what}`, data);

  let stream: Uint8Array | undefined;
  try {
    if (p.file !== undefined) stream = await imageStreamFromFile(p.file, geometry);
    else if (p.stream !== undefined) stream = await imageStreamFromBytes(new Uint8Array(Buffer.from(p.stream, 'base64')), geometry);
  } catch (e) {
    if (e instanceof ImageSourceError) throw bad(e.message);
    throw e;
  }
  if (job.signal.aborted) throw cancelled('before decoding');
  const prompt: ImagePrompt = stream ? completionPrompt(stream, knobs.ratio, geometry) : generationPrompt(geometry);
  const promptIds = Int32Array.from([model.codec.bos, ...model.encode(prompt.bytes)]);
  // The model read [bos] + stream + [eos] in training: room is left for the eos it was taught to end with.
  const limit = Math.min(model.codec.maxTokens - 1, model.lm.maxContext) - promptIds.length;
  const maxTokens = Math.max(0, Math.min(p.maxTokens ?? limit, limit));
  const samples = Array.from({ length: knobs.samples }, () => new ImageSample(model, prompt.bytes, knobs.constrained));

  // Progress: per sample, a preview when its decodable MCUs advanced since the last one sent.
  const sentMcus = samples.map(() => -1);
  let lastSent = 0;
  const interval = job.progressIntervalMs ?? 50;
  let sentImages = false;
  const report = (step: number, rows: readonly SampledRow[], force: boolean) => {
    if (!job.onProgress) return;
    const now = performance.now();
    if (!force && step !== 1 && now - lastSent < interval) return;
    lastSent = now;
    // The first notification also carries the input and the kept region, so a panel shows them while samples stream.
    const images = sentImages ? {} : { ...(stream && { source: b64(jpegFile(stream)) }), prompt: b64(closedJpeg(prompt.bytes, geometry)) };
    sentImages = true;
    job.onProgress({
      ...images,
      step,
      maxSteps: maxTokens,
      mcuCount: prompt.mcuCount,
      samples: samples.map((s, i) => {
        const mcusDone = s.mcusDone;
        const changed = mcusDone !== sentMcus[i];
        sentMcus[i] = mcusDone;
        return { index: i, tokens: rows[i]?.tokens.length ?? 0, mcusDone, done: !!rows[i]?.stoppedBy, ...(changed && { jpeg: b64(s.preview()) }) };
      }),
    });
  };

  const prepared = performance.now();
  const batch = await sampleCodecBatch(model, {
    promptIds,
    knobs,
    maxTokens,
    // Constrained rows end at EOI (eos is never allowed); raw rows at eos or at the first FF D9.
    constraint: (r) => samples[r]!,
    signal: job.signal,
    onStep: (step, rs) => report(step, rs, false),
    cancelled,
  });
  const { rows, steps } = batch;

  const results: ImageSampleResult[] = rows.map((row, i) => {
    const done = samples[i]!.finish(row.closing);
    return {
      index: i,
      jpeg: b64(jpegFile(done.stream)),
      streamBytes: done.stream.length,
      tokens: row.tokens.length,
      closingBytes: done.closingBytes,
      stoppedBy: row.stoppedBy ?? 'max-tokens',
      decodable: done.decodable,
      ...(done.problem !== undefined && { problem: done.problem }),
    };
  });
  report(steps, rows, true);
  const provider = service.providerReport();
  const m = model.pack.manifest;
  return {
    mode: p.mode,
    model: { id: m.id, ...(m.displayName && { displayName: m.displayName }) },
    width: geometry.width,
    height: geometry.height,
    ...(stream && { source: b64(jpegFile(stream)) }),
    prompt: b64(closedJpeg(prompt.bytes, geometry)),
    samples: results,
    decodable: results.filter((r) => r.decodable).length,
    run: {
      packId: m.id,
      manifestSha256: model.pack.manifestSha256,
      modelSha256: model.modelSha256,
      seed: knobs.seed,
      knobs: { mode: p.mode, ratio: knobs.ratio, samples: knobs.samples, decoding: knobs.decoding, maxTokens, constrained: knobs.constrained },
      image: {
        width: geometry.width,
        height: geometry.height,
        mcuCount: prompt.mcuCount,
        patches: prompt.patches,
        keptPatches: prompt.keptPatches,
        keptMcus: prompt.keptMcus,
      },
      ...(stream && { source: { ...(p.file !== undefined && { file: p.file }), streamSha256: sha256(stream), streamBytes: stream.length } }),
      promptBytes: prompt.bytes.length,
      promptTokens: promptIds.length,
      perSample: results.map((r) => ({ tokens: r.tokens, decodable: r.decodable, stoppedBy: r.stoppedBy })),
      provider: provider.chosen,
      device: provider.device,
      timings: codecTimings(started, prepared, batch),
    },
  };
}

/**
 * What the codec-LM jobs share (`image/run`: JPEG-LM, `video/run`: AVC-LM): the sampling knobs and their checks, and
 * one batch of N samples of a prompt through the engine's constrained sampler with cancel and error mapping and the
 * run record's timings. The jobs differ in their streams (imageSamples.ts, videoSamples.ts) and previews.
 */
import { CancelledError, ContextTooLongError, EngineInputError } from '../engine/errors';
import { validateDecoding } from '../engine/logits';
import { sampleRows, type RowConstraint, type SampledRow } from '../engine/sampling';
import { WorkerErrorCode, type DecodingParams } from '../protocol/worker';
import type { CodecModel } from '../runtime/codecLm';
import { WorkerFailure } from './service';

/** Longest base64 stream accepted in a request (a canonical 1024×1024 image or a short clip is far smaller). */
export const MAX_STREAM_BASE64 = 16 * 1024 * 1024;

export const bad = (msg: string) => new WorkerFailure(WorkerErrorCode.BadInput, msg);
export const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export interface SamplingKnobs {
  samples: number;
  decoding: DecodingParams;
  seed: number;
  constrained: boolean;
}

/** The knobs both requests have, checked (BadInput with what is allowed), defaults filled in. */
export function checkSamplingKnobs(
  p: { samples?: number; decoding?: DecodingParams; seed?: number; maxTokens?: number; constrained?: boolean },
  defaults: { samples: number; decoding: DecodingParams },
  maxSamples: number,
): SamplingKnobs {
  const samples = p.samples ?? defaults.samples;
  if (!Number.isInteger(samples) || samples < 1 || samples > maxSamples) throw bad(`samples must be an integer from 1 to ${maxSamples}`);
  const decoding = p.decoding ?? defaults.decoding;
  const why = validateDecoding(decoding);
  if (why) throw bad(why);
  if (decoding.mode === 'sample' && decoding.topK !== undefined && (!Number.isInteger(decoding.topK) || decoding.topK < 1))
    throw bad('top-k must be a positive integer');
  const seed = p.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw bad('seed must be a non-negative 32-bit integer');
  if (p.maxTokens !== undefined && (!Number.isInteger(p.maxTokens) || p.maxTokens < 1)) throw bad('max tokens must be a positive integer');
  if (p.constrained !== undefined && typeof p.constrained !== 'boolean') throw bad('constrained must be true or false');
  return { samples, decoding, seed, constrained: p.constrained ?? true };
}

export interface CodecBatch {
  rows: SampledRow[];
  steps: number;
  /** performance.now() after the prompt's forward pass, and at the end. */
  prefilled: number;
  decoded: number;
}

/**
 * N samples of one prompt as one batch, each row with its constraint; stops at the codec's eos. A cancel becomes the
 * job's Cancelled failure (`cancelled` words it, with how far it got); engine input errors become BadInput.
 */
export async function sampleCodecBatch(
  model: CodecModel,
  o: {
    promptIds: Int32Array;
    knobs: SamplingKnobs;
    maxTokens: number;
    constraint: (row: number) => RowConstraint;
    signal: AbortSignal;
    onStep?: (step: number, rows: readonly SampledRow[]) => void;
    cancelled: (what: string, data?: unknown) => WorkerFailure;
  },
): Promise<CodecBatch> {
  let prefilled = performance.now();
  try {
    const r = await sampleRows(model.lm, {
      prompt: o.promptIds,
      samples: o.knobs.samples,
      decoding: o.knobs.decoding,
      maxTokens: o.maxTokens,
      seed: o.knobs.seed,
      stopTokens: [model.codec.eos],
      padToken: model.codec.pad,
      constraint: o.constraint,
      signal: o.signal,
      onPrefill: () => (prefilled = performance.now()),
      ...(o.onStep && { onStep: o.onStep }),
    });
    return { rows: r.rows, steps: r.steps, prefilled, decoded: performance.now() };
  } catch (e) {
    if (e instanceof CancelledError) {
      const partial = e.partial as { rows: SampledRow[]; steps: number } | undefined;
      throw o.cancelled(`after ${partial?.steps ?? 0} steps`, { steps: partial?.steps ?? 0, tokens: partial?.rows.map((r) => r.tokens.length) ?? [] });
    }
    if (e instanceof ContextTooLongError || e instanceof EngineInputError) throw bad(e.message);
    throw e;
  }
}

/** The run record's timings (ms; per step in µs precision). */
export function codecTimings(started: number, prepared: number, batch: CodecBatch) {
  const decodeMs = batch.decoded - batch.prefilled;
  return {
    totalMs: Math.round(performance.now() - started),
    prepareMs: Math.round(prepared - started),
    prefillMs: Math.round(batch.prefilled - prepared),
    decodeMs: Math.round(decodeMs),
    steps: batch.steps,
    msPerStep: batch.steps ? Math.round((decodeMs / batch.steps) * 1000) / 1000 : 0,
  };
}

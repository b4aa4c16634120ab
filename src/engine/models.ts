/**
 * What the engine asks of models. Plain typed arrays, row-major, with explicit dims: no onnxruntime types here, so
 * the decoding algorithms are tested with fake models and golden vectors. src/runtime adapts each pack kind to
 * these interfaces inside the worker.
 */

/** An opaque per-row KV cache owned by the runtime. */
export interface KvCache {
  readonly length: number;
}

/** A decoder-only LM (optimum decoder layout underneath). */
export interface CausalLM {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly maxContext: number;
  /**
   * Feeds new tokens for each row (rows may differ in length; the runtime pads and masks) and returns the
   * last-position logits per row plus the updated caches.
   */
  step(rows: { tokens: Int32Array; cache?: KvCache }[], signal?: AbortSignal): Promise<{ logits: Float32Array[]; caches: KvCache[] }>;
}

/** Reusable encoded context of a simplex diffusion LM. */
export interface ContextState {
  readonly length: number;
}

/** A simplex diffusion LM (SSD-LM / SSD-2 style; the manifest says which). */
export interface DiffusionLM {
  readonly vocabSize: number;
  readonly blockSize: number;
  readonly k: number;
  readonly tTrain: number;
  readonly selfConditioning: boolean;
  encodeContext(rows: Int32Array[], t: number): Promise<ContextState[]>;
  /** One denoising step: `[rows, B, V]` logits for noisy simplex logits at time t/T. */
  denoise(req: { context: ContextState[]; noisy: Float32Array; selfCond?: Float32Array; t: number }): Promise<Float32Array>;
}

/** Guidance contract: log p(label | softmax(logits)) and its gradient with respect to the logits. */
export interface Classifier {
  readonly attribute: string;
  readonly labels: readonly string[];
  score(simplexLogits: Float32Array, dims: readonly [number, number, number], label: number): Promise<{ logProb: Float32Array; grad: Float32Array }>;
}

/** Seeded and addressable by (block, step), so a remote core can regenerate the same noise. */
export interface NoiseSource {
  gaussian(out: Float32Array, std: number, at: { block: number; step: number }): void;
}

/**
 * What the engine asks of models. Plain typed arrays, row-major, with explicit dims: no onnxruntime types here, so
 * the decoding algorithms are tested with fake models and golden vectors. src/runtime adapts each pack kind to
 * these interfaces inside the worker.
 */

/** Opaque decoding state of a batch (KV caches, masks, positions), owned by the runtime. */
export interface DecodeState {
  readonly rows: number;
}

/**
 * A decoder-only LM (optimum decoder layout underneath). The rows of one batch advance together: `prefill` takes a
 * prompt per row (lengths may differ; the runtime pads and masks), `extend` appends one token per row. Both
 * return the next-token logits of every row.
 */
export interface CausalLM {
  readonly vocabSize: number;
  readonly eos: number;
  /** Longest sequence (prompt + generated tokens) the model accepts. */
  readonly maxContext: number;
  prefill(prompts: readonly Int32Array[], signal?: AbortSignal): Promise<{ logits: Float32Array[]; state: DecodeState }>;
  extend(state: DecodeState, tokens: Int32Array, signal?: AbortSignal): Promise<{ logits: Float32Array[]; state: DecodeState }>;
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

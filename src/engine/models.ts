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

/** Encoded contexts of a batch of rows, reused across the diffusion steps of a block. */
export interface ContextState {
  readonly rows: number;
}

/**
 * A simplex diffusion LM (SSD-LM / SSD-2 style). Contexts are encoded once per block; `denoise` runs one step for
 * a block of B positions per row. Inputs are the noisy almost-one-hot logits (the model applies softmax itself) and,
 * when the model was trained with it, the previous step's logits for self-conditioning.
 */
export interface DiffusionLM {
  readonly vocabSize: number;
  readonly blockSize: number;
  /** Simplex magnitude K: tokens are represented as +K / −K logits. */
  readonly k: number;
  readonly tTrain: number;
  readonly selfConditioning: boolean;
  /** Longest context (tokens) plus one block the model accepts. */
  readonly maxContext: number;
  encodeContext(rows: readonly Int32Array[], signal?: AbortSignal): Promise<ContextState>;
  /**
   * `noisy` and `selfCond` are `[rows, B, V]`; returns `[rows, B, V]` logits. `recipe`, when the decoder knows it,
   * says how `noisy` was made (every row is the same block), so that a remote core can rebuild it from a few numbers
   * instead of receiving it (src/runtime/oip, bandwidth-light mode); local models ignore it.
   */
  denoise(
    context: ContextState,
    noisy: Float32Array,
    selfCond: Float32Array | undefined,
    tFrac: number,
    signal?: AbortSignal,
    recipe?: NoisyRecipe,
  ): Promise<Float32Array>;
}

/**
 * How a block's noisy input was made from seeded noise (engine/diffusion/recipe.ts rebuilds it bit for bit):
 * z = SeededNoise(seed).gaussian(K, at); x = z when `tokens` is absent (pure noise), else
 * x = √ᾱ·almostOneHot(tokens, V, K) + √(1−ᾱ)·z (the projected, or rewritten, tokens re-noised).
 */
export interface NoisyRecipe {
  seed: number;
  at: { block: number; step: number };
  alphaBar: number;
  /** One token per block position. */
  tokens?: Int32Array;
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

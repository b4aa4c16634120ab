/**
 * The remote core's wire signature over the Open Inference Protocol v2 (KServe v2 REST; docs/remote-core.md). One
 * denoising step of the core diffusion LM is one stateless `infer` call that carries the core's context token ids:
 *
 * - dense (`concert-core`, exact): the `[R, B, V]` noisy and self-conditioning tensors go, the `[R, B, V]` logits come
 *   back. Everything is in the request, so any step can be retried anywhere (a restarted server included).
 * - sparse (`concert-core-sparse`, bandwidth-light, the default for remote cores): the block's projected token ids,
 *   the noise seed and address and ᾱ go (the server rebuilds the noisy input bit for bit, engine/diffusion/recipe.ts),
 *   self-conditioning is a reference to the server's own previous output (`concert_self_cond`), and only the top-k
 *   logits of each position come back with one `tail_logit` that keeps the remaining probability mass.
 *
 * Both `concert serve` (src/worker/serve.ts) and a Triton model repository expose these names, shapes and datatypes.
 * Dimensions: R rows (≤ MAX_ROWS), L context tokens (≤ the model's maxContext), B block size, V vocabulary, k top-k.
 */

export const SIGNATURE_VERSION = 1;
export const DENSE_MODEL = 'concert-core';
export const SPARSE_MODEL = 'concert-core-sparse';
export const DEFAULT_TOP_K = 64;
export const MAX_TOP_K = 1024;
export const MAX_ROWS = 16;

export type OipDatatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

export interface TensorSpec {
  name: string;
  datatype: OipDatatype;
  /** −1 = variable (OIP metadata convention). */
  shape: number[];
  doc: string;
}

/** Request parameters (OIP `parameters`; none uses Triton's reserved names or the `triton_` prefix). */
export const PARAM = {
  /** sparse request: `zeros`, or the `concert_state` of the server's previous output for this row set. */
  selfCond: 'concert_self_cond',
  /** sparse response: an id for these logits, to be named as the next step's self-conditioning. */
  state: 'concert_state',
  /** every response: an id of the server process; a change mid-run means it restarted. */
  server: 'concert_server',
} as const;

/** Model metadata `parameters` (Triton: `parameters { key: "concert_k" value { string_value: "5" } }` in config.pbtxt). */
export const META = {
  signature: 'concert_signature',
  pack: 'concert_pack',
  vocabSize: 'concert_vocab_size',
  blockSize: 'concert_block_size',
  k: 'concert_k',
  tTrain: 'concert_t_train',
  selfConditioning: 'concert_self_conditioning',
  maxContext: 'concert_max_context',
} as const;

const contextInputs = (): TensorSpec[] => [
  {
    name: 'context_ids',
    datatype: 'INT64',
    shape: [-1, -1],
    doc: '[R, L] the core context token ids of each row (instruction + generated blocks), left-padded with 0',
  },
  { name: 'context_mask', datatype: 'INT64', shape: [-1, -1], doc: '[R, L] 1 = token, 0 = left padding' },
];

export function denseSignature(B: number, V: number): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return {
    inputs: [
      ...contextInputs(),
      { name: 'noisy_logits', datatype: 'FP32', shape: [-1, B, V], doc: '[R, B, V] the noisy almost-one-hot block (the model applies softmax)' },
      { name: 'self_cond_logits', datatype: 'FP32', shape: [-1, B, V], doc: "[R, B, V] the core's previous logits of this block (zeros at its first step)" },
      { name: 't_frac', datatype: 'FP32', shape: [-1], doc: '[R] t / T of the step' },
    ],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, B, V], doc: '[R, B, V] the denoiser logits' }],
  };
}

export function sparseSignature(B: number): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  return {
    inputs: [
      ...contextInputs(),
      { name: 'block_ids', datatype: 'INT32', shape: [B], doc: '[B] the projected (or rewritten) token per position; all −1 = pure noise' },
      { name: 'noise_seed', datatype: 'UINT32', shape: [1], doc: 'seed of the counter-based Gaussian noise (engine/random.ts SeededNoise)' },
      { name: 'noise_at', datatype: 'INT32', shape: [2], doc: '(block, step): the address of the noise draw' },
      { name: 'alpha_bar', datatype: 'FP64', shape: [1], doc: 'ᾱ: x = √ᾱ·almostOneHot(block_ids) + √(1−ᾱ)·K·z (ignored for pure noise)' },
      { name: 't_frac', datatype: 'FP32', shape: [-1], doc: '[R] t / T of the step' },
      { name: 'top_k', datatype: 'INT32', shape: [1], doc: `k ≤ ${MAX_TOP_K}: logits returned per position` },
    ],
    outputs: [
      { name: 'topk_ids', datatype: 'INT32', shape: [-1, B, -1], doc: '[R, B, k] token ids, highest logit first (ties: lower id)' },
      { name: 'topk_logits', datatype: 'FP32', shape: [-1, B, -1], doc: '[R, B, k] their logits' },
      {
        name: 'tail_logit',
        datatype: 'FP32',
        shape: [-1, B],
        doc: '[R, B] the logit that, given to each of the V − k other tokens, keeps their total probability mass',
      },
    ],
  };
}

/** What the client needs to know of the core model (from the metadata `parameters`). */
export interface CoreModelInfo {
  pack: string;
  vocabSize: number;
  blockSize: number;
  k: number;
  tTrain: number;
  selfConditioning: boolean;
  maxContext: number;
}

export function metadataParameters(info: CoreModelInfo): Record<string, string | number | boolean> {
  return {
    [META.signature]: SIGNATURE_VERSION,
    [META.pack]: info.pack,
    [META.vocabSize]: info.vocabSize,
    [META.blockSize]: info.blockSize,
    [META.k]: info.k,
    [META.tTrain]: info.tTrain,
    [META.selfConditioning]: info.selfConditioning,
    [META.maxContext]: info.maxContext,
  };
}

/** Reads the model info from metadata parameters, plain (`concert serve`) or Triton's `{ string_value: "…" }`. */
export function parseModelInfo(params: unknown): CoreModelInfo {
  if (!params || typeof params !== 'object') throw new Error('the model metadata has no concert_* parameters');
  const raw = (key: string): unknown => {
    const v = (params as Record<string, unknown>)[key];
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return o['string_value'] ?? o['int64_param'] ?? o['bool_param'] ?? o['double_param'];
    }
    return v;
  };
  const num = (key: string): number => {
    const n = Number(raw(key));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`the model metadata parameter ${key} must be a positive number`);
    return n;
  };
  const version = Number(raw(META.signature));
  if (version !== SIGNATURE_VERSION)
    throw new Error(`the server speaks Concert core signature ${String(raw(META.signature))}; this client speaks ${SIGNATURE_VERSION}`);
  const sc = raw(META.selfConditioning);
  return {
    pack: String(raw(META.pack) ?? ''),
    vocabSize: num(META.vocabSize),
    blockSize: num(META.blockSize),
    k: num(META.k),
    tTrain: num(META.tTrain),
    selfConditioning: sc === true || sc === 'true',
    maxContext: num(META.maxContext),
  };
}

/**
 * Synthetic ONNX graphs for the benchmark, built in memory with src/runtime/onnxModel.ts:
 * - a denoiser and a causal LM step over a large vocabulary (|V| = 50k, the bundled model's hidden size), whose
 *   cost is the vocabulary-sized work a real step does (softmax over the simplex, embedding and output products), run
 *   through the real engine loops (decodeDiffusion, decodeRecipe) for row P4;
 * - a chain of MatMuls shaped like a diffusion step, to measure this machine's GEMM rate for row P6.
 * Random weights: the numbers only need the shapes.
 */
import type { CausalLM, ContextState, DecodeState, DiffusionLM } from '../../src/engine/models';
import { buildOnnxModel, type NodeInit, type TensorInit } from '../../src/runtime/onnxModel';
import { ort } from '../../src/runtime/ort';

export interface SessionTuning {
  threads: number;
  spinning?: boolean;
  cpuMemArena?: boolean;
}

export function sessionOptions(t: SessionTuning): ort.InferenceSession.SessionOptions {
  const spin = t.spinning ? '1' : '0';
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: t.threads,
    interOpNumThreads: 1,
    enableCpuMemArena: t.cpuMemArena ?? true,
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
}

/** Deterministic weights, N(0, std²)-ish (sum of uniforms). */
function weights(name: string, dims: number[], std: number, seed: number): TensorInit {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const k = std * Math.sqrt(12 / 4);
  for (let i = 0; i < n; i++) data[i] = (next() + next() + next() + next() - 2) * k;
  return { name, dtype: 'float32', dims, data };
}

/**
 * The vocabulary-sized part of a denoising step: softmax of the noisy and self-conditioning simplices ([rows, B, V]),
 * their products with the embedding matrix E [V, d], `layers` square products as a stand-in for the transformer, and
 * the output product with Eᵀ [d, V]. `logitScale` sets the spread of the output logits (so the top-p nuclei have the
 * size of a trained model's, thousands of tokens rather than the whole vocabulary).
 */
export function denoiserGraph(V: number, d: number, layers: number, logitScale = 3): Uint8Array {
  const nodes: NodeInit[] = [
    { opType: 'Softmax', inputs: ['noisy_logits'], outputs: ['pn'], attributes: [{ name: 'axis', int: -1 }] },
    { opType: 'Softmax', inputs: ['self_cond_logits'], outputs: ['ps'], attributes: [{ name: 'axis', int: -1 }] },
    { opType: 'MatMul', inputs: ['pn', 'E'], outputs: ['hn'] },
    { opType: 'MatMul', inputs: ['ps', 'E'], outputs: ['hs'] },
    { opType: 'Add', inputs: ['hn', 'hs'], outputs: ['h0'] },
  ];
  const inits: TensorInit[] = [weights('E', [V, d], 1, 1), weights('ET', [d, V], logitScale / Math.sqrt(d), 2)];
  for (let i = 0; i < layers; i++) {
    inits.push(weights(`W${i}`, [d, d], 1 / Math.sqrt(d), 10 + i));
    nodes.push({ opType: 'MatMul', inputs: [`h${i}`, `W${i}`], outputs: [`h${i + 1}`] });
  }
  nodes.push({ opType: 'MatMul', inputs: [`h${layers}`, 'ET'], outputs: ['logits'] });
  return buildOnnxModel({
    inputs: [
      { name: 'noisy_logits', dtype: 'float32', shape: ['batch_size', 'block_length', V] },
      { name: 'self_cond_logits', dtype: 'float32', shape: ['batch_size', 'block_length', V] },
    ],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch_size', 'block_length', V] }],
    nodes,
    initializers: inits,
  });
}

/** A DiffusionLM over denoiserGraph (contexts are ignored: the step's vocabulary work is what is measured). */
export class SyntheticDiffusionLM implements DiffusionLM {
  readonly k = 5;
  readonly tTrain = 1000;
  readonly selfConditioning = true;
  readonly maxContext = 1 << 20;
  /** Milliseconds spent inside the model (denoise and context calls), for the JS-side share. */
  modelMs = 0;
  constructor(
    private readonly session: ort.InferenceSession,
    readonly vocabSize: number,
    readonly blockSize: number,
  ) {}
  async encodeContext(rows: readonly Int32Array[]): Promise<ContextState> {
    return { rows: rows.length };
  }
  async denoise(ctx: ContextState, noisy: Float32Array, selfCond: Float32Array | undefined): Promise<Float32Array> {
    const t0 = performance.now();
    const dims = [ctx.rows, this.blockSize, this.vocabSize];
    const out = await this.session.run({
      noisy_logits: new ort.Tensor('float32', noisy, dims),
      self_cond_logits: new ort.Tensor('float32', selfCond ?? new Float32Array(noisy.length), dims),
    });
    this.modelMs += performance.now() - t0;
    return out['logits']!.data as Float32Array;
  }
}

/** One causal-LM step over a large vocabulary: embedding lookup, `layers` square products, output product Eᵀ. */
export function causalStepGraph(V: number, d: number, layers: number, logitScale = 3): Uint8Array {
  const nodes: NodeInit[] = [{ opType: 'Gather', inputs: ['E', 'input_ids'], outputs: ['h0'] }];
  const inits: TensorInit[] = [weights('E', [V, d], 1, 3), weights('ET', [d, V], logitScale / Math.sqrt(d), 4)];
  for (let i = 0; i < layers; i++) {
    inits.push(weights(`W${i}`, [d, d], 1 / Math.sqrt(d), 20 + i));
    nodes.push({ opType: 'MatMul', inputs: [`h${i}`, `W${i}`], outputs: [`h${i + 1}`] });
  }
  nodes.push({ opType: 'MatMul', inputs: [`h${layers}`, 'ET'], outputs: ['logits'] });
  return buildOnnxModel({
    inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch_size', 1] }],
    outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch_size', 1, V] }],
    nodes,
    initializers: inits,
  });
}

interface StepState extends DecodeState {
  last: Int32Array;
}

/** A CausalLM over causalStepGraph: every call runs one step on each row's last token (no cache to keep). */
export class SyntheticCausalLM implements CausalLM {
  readonly eos = 0;
  readonly maxContext = 1 << 20;
  modelMs = 0;
  constructor(
    private readonly session: ort.InferenceSession,
    readonly vocabSize: number,
  ) {}
  private async step(last: Int32Array): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    const t0 = performance.now();
    const rows = last.length;
    const out = await this.session.run({
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(last, (t) => BigInt(t)),
        [rows, 1],
      ),
    });
    const data = out['logits']!.data as Float32Array;
    this.modelMs += performance.now() - t0;
    const V = this.vocabSize;
    return { logits: Array.from({ length: rows }, (_, r) => data.slice(r * V, (r + 1) * V)), state: { rows, last } as StepState };
  }
  prefill(prompts: readonly Int32Array[]): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    return this.step(Int32Array.from(prompts, (p) => p[p.length - 1]!));
  }
  extend(_state: DecodeState, tokens: Int32Array): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    return this.step(Int32Array.from(tokens));
  }
}

/**
 * A chain of MatMuls with a diffusion step's shapes, x [M, V] · E [V, d] · W1 [d, f] · W2 [f, d] · Eᵀ [d, V], and its
 * FLOP count: the GEMM rate this machine reaches on such shapes (row P6's denominator).
 */
export function gemmGraph(M: number, V: number, d: number, f: number): { bytes: Uint8Array; flops: number } {
  const bytes = buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: [M, V] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [M, V] }],
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'E'], outputs: ['h'] },
      { opType: 'MatMul', inputs: ['h', 'W1'], outputs: ['g'] },
      { opType: 'MatMul', inputs: ['g', 'W2'], outputs: ['h2'] },
      { opType: 'MatMul', inputs: ['h2', 'ET'], outputs: ['y'] },
    ],
    initializers: [weights('E', [V, d], 0.02, 5), weights('W1', [d, f], 0.02, 6), weights('W2', [f, d], 0.02, 7), weights('ET', [d, V], 0.02, 8)],
  });
  return { bytes, flops: 2 * M * (V * d + d * f + f * d + d * V) };
}

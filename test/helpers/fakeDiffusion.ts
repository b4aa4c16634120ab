/** Fake diffusion models and classifiers with hand-checkable behaviour, for engine tests. */
import type { Classifier, ContextState, DiffusionLM } from '../../src/engine/models';

interface Ctx extends ContextState {
  contexts: Int32Array[];
}

export interface DenoiseCall {
  tFrac: number;
  rows: number;
  contextLengths: number[];
  selfCondSum: number;
}

/** Returns logits = f(context, noisy) per row; records each call. */
export class FakeDiffusionLM implements DiffusionLM {
  calls: DenoiseCall[] = [];
  constructor(
    readonly vocabSize = 12,
    readonly blockSize = 4,
    readonly k = 5,
    readonly tTrain = 100,
    readonly selfConditioning = false,
    readonly maxContext = 256,
    /** logits for one row: default "identity" (predicts the noisy input itself). */
    private readonly fn: (context: Int32Array, noisyRow: Float32Array, tFrac: number) => Float32Array = (_c, noisy) => Float32Array.from(noisy),
  ) {}
  async encodeContext(rows: readonly Int32Array[]): Promise<ContextState> {
    return { rows: rows.length, contexts: rows.map((r) => Int32Array.from(r)) } as Ctx;
  }
  async denoise(ctx: ContextState, noisy: Float32Array, selfCond: Float32Array | undefined, tFrac: number): Promise<Float32Array> {
    const c = ctx as Ctx;
    const n = this.blockSize * this.vocabSize;
    this.calls.push({
      tFrac,
      rows: c.rows,
      contextLengths: c.contexts.map((x) => x.length),
      selfCondSum: selfCond ? selfCond.reduce((s, v) => s + Math.abs(v), 0) : -1,
    });
    const out = new Float32Array(c.rows * n);
    for (let r = 0; r < c.rows; r++) out.set(this.fn(c.contexts[r]!, noisy.subarray(r * n, (r + 1) * n), tFrac), r * n);
    return out;
  }
}

/** A model that always prefers `token` at every position (plus the noisy input, scaled down). */
export const prefers =
  (token: number, V: number, B: number) =>
  (_c: Int32Array, noisy: Float32Array): Float32Array => {
    const out = Float32Array.from(noisy, (x) => x * 0.01);
    for (let i = 0; i < B; i++) out[i * V + token]! += 10;
    return out;
  };

/** A classifier whose gradient pushes every position towards `towards` with unit strength. */
export class FakeClassifier implements Classifier {
  readonly attribute = 'fake';
  readonly labels = ['no', 'yes'] as const;
  calls = 0;
  constructor(private readonly towards: number) {}
  async score(logits: Float32Array, dims: readonly [number, number, number], _label: number): Promise<{ logProb: Float32Array; grad: Float32Array }> {
    this.calls++;
    const [, B, V] = dims;
    const grad = new Float32Array(logits.length);
    for (let i = 0; i < B; i++) grad[i * V + this.towards] = 1;
    return { logProb: new Float32Array([0]), grad };
  }
}

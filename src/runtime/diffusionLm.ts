/**
 * A simplex-diffusion-lm pack adapted to the engine's DiffusionLM, in one of two layouts (the manifest's `diffusion`
 * block, src/runtime/manifest.ts):
 * - `ssd2` (the bundled packs; graphs `context` and `denoiser`, see tools/diffusion/export.py): contexts are encoded
 *   causally once per block; when the next block's contexts extend the previous ones by the same number of tokens,
 *   only the new tokens are encoded (the cached keys/values are reused).
 * - `ssd-lm` (the official SSD-LM checkpoint, tools/export): one `denoiser` graph that attends bidirectionally over
 *   context and block, so nothing can be cached: every step feeds the (left-padded) context ids with the block.
 */
import type { ContextState, DiffusionLM } from '../engine/models';
import { ort, type LoadedGraph } from './ort';
import { PackError, type ValidatedPack } from './packs';
import { extendMask, leftPad } from './padding';

interface OrtContext extends ContextState {
  rows: number;
  sequences: Int32Array[];
  /** [rows, length] attention mask, 1 = token, 0 = left padding */
  mask: BigInt64Array;
  length: number;
  past: Record<string, ort.Tensor>;
  /** Each row's last context token (the anchored denoiser's `anchor_ids`), built once per context, not per step. */
  anchors: ort.Tensor;
  /** All-zero self-conditioning input [rows, B, V] for steps without one, allocated once per context. */
  zeros?: Float32Array;
}

export interface DiffusionShape {
  layers: number;
  heads: number;
  headDim: number;
  vocabSize: number;
  blockSize: number;
  k: number;
  tTrain: number;
  selfConditioning: boolean;
  maxContext: number;
  /**
   * The denoiser takes `anchor_ids` [batch]: each row's last context token, which the anchored model (Concert's
   * packs, tools/diffusion/model.py) puts at the head of the block stream instead of attending to it in the context.
   */
  anchored: boolean;
  /** `ssd2`: causal context graph + cached keys/values; `ssd-lm`: one bidirectional denoiser graph (no cache). */
  layout: 'ssd2' | 'ssd-lm';
}

export function diffusionShape(pack: ValidatedPack): DiffusionShape {
  const m = pack.manifest;
  const id = m.id;
  const knob = (k: string) => m.knobs?.[k];
  const num = (k: string): number => {
    const v = knob(k);
    if (typeof v !== 'number' || !(v > 0)) throw new PackError(id, `knobs.${k} must be a positive number`);
    return v;
  };
  if (m.diffusion?.layout === 'ssd-lm') {
    // The manifest parser checked the graphs and inputs of the layout.
    const vocab = m.io['denoiser']?.outputs.find((o) => o.name === 'logits')?.shape[2];
    if (typeof vocab !== 'number') throw new PackError(id, 'denoiser logits need a fixed vocabulary dimension');
    return {
      layers: 0,
      heads: 0,
      headDim: 0,
      vocabSize: vocab,
      blockSize: num('blockSize'),
      k: num('K'),
      tTrain: num('tTrain'),
      selfConditioning: false,
      maxContext: num('maxContext'),
      anchored: false,
      layout: 'ssd-lm',
    };
  }
  const ctxIo = m.io['context'];
  const denIo = m.io['denoiser'];
  if (!ctxIo || !denIo) throw new PackError(id, 'a simplex-diffusion-lm pack needs graphs "context" and "denoiser"');
  const names = new Set(denIo.inputs.map((i) => i.name));
  for (const n of ['noisy_logits', 'self_cond_logits', 't_frac', 'attention_mask'])
    if (!names.has(n)) throw new PackError(id, `denoiser graph needs input "${n}"`);
  let layers = 0;
  while (names.has(`past_key_values.${layers}.key`)) layers++;
  if (!layers) throw new PackError(id, 'denoiser graph has no past_key_values inputs');
  const past = denIo.inputs.find((i) => i.name === 'past_key_values.0.key')!.shape;
  const heads = typeof past[1] === 'number' ? past[1] : num('numHeads');
  const headDim = typeof past[3] === 'number' ? past[3] : num('headDim');
  const vocab = denIo.outputs.find((o) => o.name === 'logits')?.shape[2];
  if (typeof vocab !== 'number') throw new PackError(id, 'denoiser logits need a fixed vocabulary dimension');
  return {
    layers,
    heads,
    headDim,
    vocabSize: vocab,
    blockSize: num('blockSize'),
    k: num('K'),
    tTrain: num('tTrain'),
    selfConditioning: knob('selfConditioning') === true,
    maxContext: num('maxContext'),
    anchored: names.has('anchor_ids'),
    layout: 'ssd2',
  };
}

export class OnnxDiffusionLM implements DiffusionLM {
  readonly vocabSize: number;
  readonly blockSize: number;
  readonly k: number;
  readonly tTrain: number;
  readonly selfConditioning: boolean;
  readonly maxContext: number;
  private last: OrtContext | undefined;
  /** How many context tokens were encoded (for benchmarks of context reuse). */
  encodedTokens = 0;

  constructor(
    /** Absent for the `ssd-lm` layout (no context graph). */
    private readonly context: LoadedGraph | undefined,
    private readonly denoiser: LoadedGraph,
    readonly shape: DiffusionShape,
    private readonly padId: number,
    /** Set false to re-encode whole contexts every block (benchmark baseline). */
    public reuseContext = true,
  ) {
    ({
      vocabSize: this.vocabSize,
      blockSize: this.blockSize,
      k: this.k,
      tTrain: this.tTrain,
      selfConditioning: this.selfConditioning,
      maxContext: this.maxContext,
    } = shape);
  }

  private emptyPast(rows: number): Record<string, ort.Tensor> {
    const past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.shape.layers; i++)
      for (const kv of ['key', 'value'])
        past[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [rows, this.shape.heads, 0, this.shape.headDim]);
    return past;
  }

  private async runContext(
    ids: BigInt64Array,
    mask: BigInt64Array,
    pos: BigInt64Array,
    rows: number,
    n: number,
    total: number,
    past: Record<string, ort.Tensor>,
  ): Promise<Record<string, ort.Tensor>> {
    const context = this.context!;
    context.lastUsed = Date.now();
    this.encodedTokens += rows * n;
    const out = await context.session.run({
      input_ids: new ort.Tensor('int64', ids, [rows, n]),
      attention_mask: new ort.Tensor('int64', mask, [rows, total]),
      position_ids: new ort.Tensor('int64', pos, [rows, n]),
      ...past,
    });
    const presents: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.shape.layers; i++) for (const kv of ['key', 'value']) presents[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`]!;
    return presents;
  }

  /** The common extension length if every row extends the previous state's row, else undefined. */
  private extension(rows: readonly Int32Array[]): number | undefined {
    const prev = this.last;
    if (!this.reuseContext || !prev || prev.rows !== rows.length) return undefined;
    let n: number | undefined;
    for (let r = 0; r < rows.length; r++) {
      const old = prev.sequences[r]!;
      const cur = rows[r]!;
      if (cur.length <= old.length) return undefined;
      for (let j = 0; j < old.length; j++) if (cur[j] !== old[j]) return undefined;
      const d = cur.length - old.length;
      if (n !== undefined && d !== n) return undefined;
      n = d;
    }
    return n;
  }

  async encodeContext(rows: readonly Int32Array[]): Promise<ContextState> {
    const R = rows.length;
    if (rows.some((r) => r.length === 0)) throw new Error('every context row needs at least one token');
    if (this.shape.layout === 'ssd-lm') {
      // Nothing to encode ahead: the bidirectional denoiser reads the context ids with every step.
      const { ids, mask, length: L } = leftPad(rows, this.padId);
      const state: SsdLmContext = { rows: R, ids: new ort.Tensor('int64', ids, [R, L]), mask: new ort.Tensor('int64', mask, [R, L]) };
      return state;
    }
    const n = this.extension(rows);
    let state: OrtContext;
    if (n !== undefined) {
      const prev = this.last!;
      const L = prev.length + n;
      const ids = new BigInt64Array(R * n);
      const pos = new BigInt64Array(R * n);
      for (let r = 0; r < R; r++) {
        const row = rows[r]!;
        const old = prev.sequences[r]!.length;
        for (let j = 0; j < n; j++) {
          ids[r * n + j] = BigInt(row[old + j]!);
          pos[r * n + j] = BigInt(old + j);
        }
      }
      const mask = extendMask(prev.mask, R, prev.length, n);
      const past = await this.runContext(ids, mask, pos, R, n, L, prev.past);
      state = { rows: R, sequences: rows.map((r) => Int32Array.from(r)), mask, length: L, past, anchors: anchorsOf(rows) };
    } else {
      const { ids, mask, pos, length: L } = leftPad(rows, this.padId);
      const past = await this.runContext(ids, mask, pos, R, L, L, this.emptyPast(R));
      state = { rows: R, sequences: rows.map((r) => Int32Array.from(r)), mask, length: L, past, anchors: anchorsOf(rows) };
    }
    this.last = state;
    return state;
  }

  async denoise(ctx: ContextState, noisy: Float32Array, selfCond: Float32Array | undefined, tFrac: number): Promise<Float32Array> {
    const { blockSize: B, vocabSize: V } = this;
    this.denoiser.lastUsed = Date.now();
    if (this.shape.layout === 'ssd-lm') {
      const s = ctx as SsdLmContext;
      this.encodedTokens += s.ids.size;
      const out = await this.denoiser.session.run({
        context_ids: s.ids,
        context_mask: s.mask,
        noisy_logits: new ort.Tensor('float32', noisy, [s.rows, B, V]),
        t_frac: new ort.Tensor('float32', new Float32Array(s.rows).fill(tFrac), [s.rows]),
      });
      return out['logits']!.data as Float32Array;
    }
    const c = ctx as OrtContext;
    const dims = [c.rows, B, V];
    const out = await this.denoiser.session.run({
      noisy_logits: new ort.Tensor('float32', noisy, dims),
      self_cond_logits: new ort.Tensor('float32', selfCond ?? (c.zeros ??= new Float32Array(c.rows * B * V)), dims),
      t_frac: new ort.Tensor('float32', new Float32Array(c.rows).fill(tFrac), [c.rows]),
      attention_mask: new ort.Tensor('int64', c.mask, [c.rows, c.length]),
      ...(this.shape.anchored && { anchor_ids: c.anchors }),
      ...c.past,
    });
    return out['logits']!.data as Float32Array;
  }
}

/** An ssd-lm layout's context: the left-padded ids and mask, fed with every denoising step. */
interface SsdLmContext extends ContextState {
  ids: ort.Tensor;
  mask: ort.Tensor;
}

/** `anchor_ids` [rows]: each context row's last token. */
function anchorsOf(rows: readonly Int32Array[]): ort.Tensor {
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(rows, (row) => BigInt(row[row.length - 1] ?? 0)),
    [rows.length],
  );
}

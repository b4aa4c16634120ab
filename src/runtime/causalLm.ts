/**
 * A causal LM pack (optimum decoder I/O: input_ids, attention_mask, position_ids, past_key_values.{i}.key/value →
 * logits, present.{i}.key/value) adapted to the engine's CausalLM. Rows of a batch are left-padded and masked;
 * position ids count only real tokens, so a padded row computes what it would alone.
 */
import type { CausalLM, DecodeState } from '../engine/models';
import { ort, type LoadedGraph } from './ort';
import { PackError, type ValidatedPack } from './packs';
import { extendMask, leftPad } from './padding';

interface OrtState extends DecodeState {
  /** attention mask so far, [rows, length] */
  mask: BigInt64Array;
  length: number;
  /** next position id per row (= number of real tokens so far) */
  nextPos: number[];
  past: Record<string, ort.Tensor>;
}

export interface CausalLmShape {
  layers: number;
  heads: number;
  headDim: number;
  vocabSize: number;
  maxContext: number;
}

/** Reads the cache layout from the manifest: layer count from input names, heads/head size from fixed dims or knobs. */
export function causalLmShape(pack: ValidatedPack, role = 'decoder'): CausalLmShape {
  const m = pack.manifest;
  const io = m.io[role];
  if (!io) throw new PackError(m.id, `has no "${role}" graph`);
  const label = m.id;
  const names = new Set(io.inputs.map((i) => i.name));
  for (const n of ['input_ids', 'attention_mask', 'position_ids']) if (!names.has(n)) throw new PackError(label, `causal-lm graph "${role}" needs input "${n}" (optimum decoder layout)`);
  let layers = 0;
  while (names.has(`past_key_values.${layers}.key`) && names.has(`past_key_values.${layers}.value`)) layers++;
  const knob = (k: string): number | undefined => (typeof m.knobs?.[k] === 'number' ? m.knobs[k] : undefined);
  const pastShape = io.inputs.find((i) => i.name === 'past_key_values.0.key')?.shape ?? [];
  const heads = (typeof pastShape[1] === 'number' ? pastShape[1] : undefined) ?? knob('numHeads');
  const headDim = (typeof pastShape[3] === 'number' ? pastShape[3] : undefined) ?? knob('headDim');
  const logits = io.outputs.find((o) => o.name === 'logits');
  const vocabSize = (typeof logits?.shape[2] === 'number' ? logits.shape[2] : undefined) ?? knob('vocabSize');
  const maxContext = knob('maxContext');
  if (!layers) throw new PackError(label, 'causal-lm graph has no past_key_values.{i}.key/value inputs');
  if (!heads || !headDim) throw new PackError(label, 'cannot tell the KV-cache shape: declare numHeads and headDim in knobs or as fixed dimensions');
  if (!vocabSize) throw new PackError(label, 'cannot tell the vocabulary size: declare logits [batch, sequence, vocab] with a fixed vocab');
  if (!maxContext) throw new PackError(label, 'knobs.maxContext (the longest sequence the model accepts) is required');
  return { layers, heads, headDim, vocabSize, maxContext };
}

export class OnnxCausalLM implements CausalLM {
  readonly vocabSize: number;
  readonly maxContext: number;

  constructor(
    private readonly graph: LoadedGraph,
    readonly shape: CausalLmShape,
    readonly eos: number,
    private readonly padId: number,
  ) {
    this.vocabSize = shape.vocabSize;
    this.maxContext = shape.maxContext;
  }

  private emptyPast(rows: number): Record<string, ort.Tensor> {
    const past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.shape.layers; i++) {
      for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [rows, this.shape.heads, 0, this.shape.headDim]);
    }
    return past;
  }

  private async run(feeds: Record<string, ort.Tensor>, rows: number, seqLen: number): Promise<{ logits: Float32Array[]; past: Record<string, ort.Tensor> }> {
    this.graph.lastUsed = Date.now();
    const out = await this.graph.session.run(feeds);
    const logits = out['logits'];
    if (!logits || logits.dims.length !== 3 || logits.dims[2] !== this.vocabSize) throw new PackError(this.graph.pack.manifest.id, `logits have shape [${logits?.dims.join(', ')}], expected [${rows}, ${seqLen}, ${this.vocabSize}]`);
    const data = logits.data as Float32Array;
    const V = this.vocabSize;
    // Left padding puts every row's last real token at the last position.
    const last = Array.from({ length: rows }, (_, r) => data.slice((r * seqLen + seqLen - 1) * V, (r * seqLen + seqLen) * V));
    const past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < this.shape.layers; i++) {
      for (const kv of ['key', 'value']) {
        const t = out[`present.${i}.${kv}`];
        if (!t) throw new PackError(this.graph.pack.manifest.id, `graph did not return present.${i}.${kv}`);
        past[`past_key_values.${i}.${kv}`] = t;
      }
    }
    return { logits: last, past };
  }

  async prefill(prompts: readonly Int32Array[]): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    const rows = prompts.length;
    const L = Math.max(...prompts.map((p) => p.length));
    if (L > this.maxContext) throw new PackError(this.graph.pack.manifest.id, `prompt of ${L} tokens exceeds the model's context of ${this.maxContext}`);
    const { ids, mask, pos } = leftPad(prompts, this.padId);
    const { logits, past } = await this.run(
      { input_ids: new ort.Tensor('int64', ids, [rows, L]), attention_mask: new ort.Tensor('int64', mask, [rows, L]), position_ids: new ort.Tensor('int64', pos, [rows, L]), ...this.emptyPast(rows) },
      rows,
      L,
    );
    const state: OrtState = { rows, mask, length: L, nextPos: prompts.map((p) => p.length), past };
    return { logits, state };
  }

  async extend(s: DecodeState, tokens: Int32Array): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    const state = s as OrtState;
    const rows = state.rows;
    if (tokens.length !== rows) throw new Error(`extend: ${tokens.length} tokens for ${rows} rows`);
    const L = state.length + 1;
    if (Math.max(...state.nextPos) + 1 > this.maxContext) throw new PackError(this.graph.pack.manifest.id, `sequence would exceed the model's context of ${this.maxContext}`);
    const mask = extendMask(state.mask, rows, state.length, 1);
    const { logits, past } = await this.run(
      {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [rows, 1]),
        attention_mask: new ort.Tensor('int64', mask, [rows, L]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(state.nextPos, (p) => BigInt(p)), [rows, 1]),
        ...state.past,
      },
      rows,
      1,
    );
    return { logits, state: { rows, mask, length: L, nextPos: state.nextPos.map((p) => p + 1), past } as OrtState };
  }
}

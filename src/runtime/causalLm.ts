/**
 * A causal LM (optimum / transformers.js decoder I/O: input_ids, attention_mask, optional position_ids,
 * past_key_values.{i}.key/value, optional use_cache_branch and num_logits_to_keep → logits, present.{i}.key/value)
 * adapted to the engine's CausalLM. Rows of a batch are left-padded and masked; position ids count only real tokens,
 * so a padded row computes what it would alone. The KV-cache and logits dtypes (float32 or float16) come from the
 * session's own metadata; logits beyond the tokenizer's ids (padding rows of the head) are never chosen.
 */
import type { CausalLM, DecodeState } from '../engine/models';
import { toFloat32 } from './float16';
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
  /** Graphs without position_ids: rows of different lengths run one by one (left padding would shift positions). */
  parts?: DecodeState[];
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
  for (const n of ['input_ids', 'attention_mask'])
    if (!names.has(n)) throw new PackError(label, `causal-lm graph "${role}" needs input "${n}" (optimum decoder layout)`);
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

/** How a graph wants to be fed, read from the session's input metadata. */
export interface DecoderFeeds {
  positionIds: boolean;
  useCacheBranch: boolean;
  /** Shape of num_logits_to_keep when the graph has it ([] scalar, or [1]). */
  numLogitsToKeep: number[] | undefined;
  /** dtype of the past_key_values inputs. */
  kvType: 'float32' | 'float16';
}

export function decoderFeeds(session: Pick<ort.InferenceSession, 'inputMetadata'>, label: string): DecoderFeeds {
  const meta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const past = meta.get('past_key_values.0.key');
  const kvType = past?.isTensor ? past.type : 'float32';
  if (kvType !== 'float32' && kvType !== 'float16') throw new PackError(label, `past_key_values are ${kvType}; Concert feeds float32 or float16 caches`);
  const keep = meta.get('num_logits_to_keep');
  return {
    positionIds: meta.has('position_ids'),
    useCacheBranch: meta.has('use_cache_branch'),
    numLogitsToKeep: keep?.isTensor ? keep.shape.map(() => 1) : undefined,
    kvType,
  };
}

export interface CausalLmOptions {
  /** Every end-of-sequence id (generation_config may list several); the first is `eos`. */
  eosIds?: readonly number[];
  /** The tokenizer's id count: when the logits are wider, the extra ids are cut off (never chosen). */
  tokenizerVocab?: number;
}

/** Padding positions (summed over the rows) from which a batch's prompts are prefilled row by row. */
const PREFILL_SPLIT_PADDING = 16;

/** One batch of caches [rows, heads, L, headDim] from per-row caches [1, heads, length_r, headDim], left-padded with zeros. */
function leftPadPasts(pasts: readonly Record<string, ort.Tensor>[], lengths: readonly number[], L: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const name of Object.keys(pasts[0]!)) {
    const first = pasts[0]![name]!;
    const [, heads, , headDim] = first.dims as [number, number, number, number];
    const data = first.data as Float32Array | Uint16Array;
    const merged = new (data.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(pasts.length * heads * L * headDim);
    pasts.forEach((p, r) => {
      const src = p[name]!.data as Float32Array | Uint16Array;
      const n = lengths[r]! * headDim;
      for (let h = 0; h < heads; h++) merged.set(src.subarray(h * n, (h + 1) * n), ((r * heads + h) * L + L - lengths[r]!) * headDim);
    });
    out[name] = new ort.Tensor(first.type as 'float32' | 'float16', merged, [pasts.length, heads, L, headDim]);
  }
  return out;
}

function sameTokens(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** `rows` copies of a one-row array (a mask, or a tensor's data) one after another. */
function tileRows<T extends BigInt64Array | Float32Array | Uint16Array>(one: T, rows: number): T {
  const out = new (one.constructor as new (n: number) => T)(one.length * rows);
  for (let r = 0; r < rows; r++) out.set(one as never, r * one.length);
  return out;
}

/** A one-row KV cache copied to `rows` rows (the cache is [rows, heads, length, headDim], row-major). */
function tilePasts(past: Record<string, ort.Tensor>, rows: number): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(past)) {
    const [, heads, L, headDim] = t.dims as [number, number, number, number];
    out[name] = new ort.Tensor(t.type as 'float32' | 'float16', tileRows(t.data as Float32Array | Uint16Array, rows), [rows, heads, L, headDim]);
  }
  return out;
}

export class OnnxCausalLM implements CausalLM {
  /** Ids a decode can choose: min(the logits' width, the tokenizer's ids). */
  readonly vocabSize: number;
  readonly maxContext: number;
  readonly eos: number;
  readonly eosIds: readonly number[];
  readonly feeds: DecoderFeeds;
  /**
   * Whether the rows of one batch change each other's logits: dynamically quantised graphs (int8/uint8 exports:
   * DynamicQuantizeLinear) quantise the activations with one scale for the whole batch. CAD's two rows must be
   * p(y|c,x) and p(y|x) exactly, so such a graph runs every row as its own batch of one.
   */
  readonly rowsCoupled: boolean;

  constructor(
    private readonly graph: LoadedGraph,
    readonly shape: CausalLmShape,
    eos: number | readonly number[],
    private readonly padId: number,
    options: CausalLmOptions = {},
  ) {
    const eosIds = typeof eos === 'number' ? [eos, ...(options.eosIds ?? []).filter((e) => e !== eos)] : [...eos];
    if (!eosIds.length) throw new PackError(graph.pack.manifest.id, 'has no end-of-sequence id');
    this.eos = eosIds[0]!;
    this.eosIds = eosIds;
    this.vocabSize = Math.min(shape.vocabSize, options.tokenizerVocab ?? shape.vocabSize);
    this.maxContext = shape.maxContext;
    this.feeds = decoderFeeds(graph.session, graph.pack.manifest.id);
    this.rowsCoupled = (graph.opTypes ?? []).includes('DynamicQuantizeLinear');
  }

  private emptyPast(rows: number): Record<string, ort.Tensor> {
    const past: Record<string, ort.Tensor> = {};
    const empty = this.feeds.kvType === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    for (let i = 0; i < this.shape.layers; i++) {
      for (const kv of ['key', 'value'])
        past[`past_key_values.${i}.${kv}`] = new ort.Tensor(this.feeds.kvType, empty, [rows, this.shape.heads, 0, this.shape.headDim]);
    }
    return past;
  }

  /** The optional inputs: position_ids (when declared), use_cache_branch (false on prefill), num_logits_to_keep = 1. */
  private extras(pos: BigInt64Array, rows: number, seqLen: number, cached: boolean): Record<string, ort.Tensor> {
    const f = this.feeds;
    return {
      ...(f.positionIds && { position_ids: new ort.Tensor('int64', pos, [rows, seqLen]) }),
      ...(f.useCacheBranch && { use_cache_branch: new ort.Tensor('bool', Uint8Array.of(cached ? 1 : 0), [1]) }),
      ...(f.numLogitsToKeep && { num_logits_to_keep: new ort.Tensor('int64', BigInt64Array.of(1n), f.numLogitsToKeep) }),
    };
  }

  private async run(feeds: Record<string, ort.Tensor>, rows: number, seqLen: number): Promise<{ logits: Float32Array[]; past: Record<string, ort.Tensor> }> {
    this.graph.lastUsed = Date.now();
    const out = await this.graph.session.run(feeds);
    const logits = out['logits'];
    const V = this.shape.vocabSize;
    const seq = logits?.dims[1];
    if (!logits || logits.dims.length !== 3 || logits.dims[0] !== rows || logits.dims[2] !== V || !seq || (seq !== seqLen && seq !== 1)) {
      throw new PackError(this.graph.pack.manifest.id, `logits have shape [${logits?.dims.join(', ')}], expected [${rows}, ${seqLen}, ${V}]`);
    }
    const data = logits.data as Float32Array | Uint16Array;
    // Left padding puts every row's last real token at the last position (the only one with num_logits_to_keep = 1).
    const last = Array.from({ length: rows }, (_, r) => toFloat32(data, (r * seq + seq - 1) * V, (r * seq + seq - 1) * V + this.vocabSize));
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
    // N samples of one prompt (image completion): the prompt runs once and its cache is copied to every row.
    if (rows > 1 && prompts.every((p) => p === prompts[0] || sameTokens(p, prompts[0]!))) {
      const one = await this.prefill([prompts[0]!]);
      const logits = prompts.map(() => one.logits[0]!.slice());
      const state = one.state as OrtState;
      if (this.rowsCoupled || state.parts)
        return { logits, state: { rows, mask: new BigInt64Array(0), length: 0, nextPos: [], past: {}, parts: prompts.map(() => state) } as OrtState };
      return {
        logits,
        state: { rows, mask: tileRows(state.mask, rows), length: L, nextPos: prompts.map(() => L), past: tilePasts(state.past, rows) } as OrtState,
      };
    }
    if (rows > 1 && (this.rowsCoupled || (!this.feeds.positionIds && prompts.some((p) => p.length !== L)))) {
      // Rows run one at a time: the graph couples them (see rowsCoupled), or it counts positions from the past length,
      // so a left-padded row would read shifted positions.
      const parts = [];
      const logits: Float32Array[] = [];
      for (const p of prompts) {
        const r = await this.prefill([p]);
        logits.push(r.logits[0]!);
        parts.push(r.state);
      }
      return { logits, state: { rows, mask: new BigInt64Array(0), length: 0, nextPos: [], past: {}, parts } as OrtState };
    }
    if (L > this.maxContext) throw new PackError(this.graph.pack.manifest.id, `prompt of ${L} tokens exceeds the model's context of ${this.maxContext}`);
    const { ids, mask, pos } = leftPad(prompts, this.padId);
    // Rows of very different lengths (CAD's document prompt and its short no-document prompt): a padded batch would
    // run the model over every padding position. Each row is prefilled alone instead, and the caches are then
    // left-padded into one batch (masked, so the padding's keys/values are never read).
    if (rows > 1 && this.feeds.positionIds && rows * L - prompts.reduce((n, p) => n + p.length, 0) >= PREFILL_SPLIT_PADDING) {
      const logits: Float32Array[] = [];
      const pasts: Record<string, ort.Tensor>[] = [];
      for (const p of prompts) {
        const r = await this.prefill([p]);
        logits.push(r.logits[0]!);
        pasts.push((r.state as OrtState).past);
      }
      const past = leftPadPasts(
        pasts,
        prompts.map((p) => p.length),
        L,
      );
      return { logits, state: { rows, mask, length: L, nextPos: prompts.map((p) => p.length), past } as OrtState };
    }
    const { logits, past } = await this.run(
      {
        input_ids: new ort.Tensor('int64', ids, [rows, L]),
        attention_mask: new ort.Tensor('int64', mask, [rows, L]),
        ...this.extras(pos, rows, L, false),
        ...this.emptyPast(rows),
      },
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
    if (state.parts) {
      const logits: Float32Array[] = [];
      const parts = [];
      for (let r = 0; r < rows; r++) {
        const out = await this.extend(state.parts[r]!, tokens.subarray(r, r + 1));
        logits.push(out.logits[0]!);
        parts.push(out.state);
      }
      return { logits, state: { ...state, parts } as OrtState };
    }
    const L = state.length + 1;
    if (Math.max(...state.nextPos) + 1 > this.maxContext)
      throw new PackError(this.graph.pack.manifest.id, `sequence would exceed the model's context of ${this.maxContext}`);
    const mask = extendMask(state.mask, rows, state.length, 1);
    const { logits, past } = await this.run(
      {
        input_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from(tokens, (t) => BigInt(t)),
          [rows, 1],
        ),
        attention_mask: new ort.Tensor('int64', mask, [rows, L]),
        ...this.extras(
          BigInt64Array.from(state.nextPos, (p) => BigInt(p)),
          rows,
          1,
          true,
        ),
        ...state.past,
      },
      rows,
      1,
    );
    return { logits, state: { rows, mask, length: L, nextPos: state.nextPos.map((p) => p + 1), past } as OrtState };
  }
}

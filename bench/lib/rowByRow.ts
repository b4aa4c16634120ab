/**
 * A CausalLM that runs every row of a batch as its own batch of one, one after the other: "two passes" of CAD with
 * exactly the engine's per-token work (decodeRecipe, the same combination, token choice and reported log-probabilities),
 * so that a comparison with the batched model isolates the batching.
 */
import type { CausalLM, DecodeState } from '../../src/engine/models';

interface RowsState extends DecodeState {
  parts: DecodeState[];
}

export class RowByRowLM implements CausalLM {
  constructor(private readonly lm: CausalLM) {}
  get vocabSize(): number {
    return this.lm.vocabSize;
  }
  get eos(): number {
    return this.lm.eos;
  }
  get maxContext(): number {
    return this.lm.maxContext;
  }

  async prefill(prompts: readonly Int32Array[], signal?: AbortSignal): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    const logits: Float32Array[] = [];
    const parts: DecodeState[] = [];
    for (const p of prompts) {
      const r = await this.lm.prefill([p], signal);
      logits.push(r.logits[0]!);
      parts.push(r.state);
    }
    return { logits, state: { rows: prompts.length, parts } as RowsState };
  }

  async extend(state: DecodeState, tokens: Int32Array, signal?: AbortSignal): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    const s = state as RowsState;
    const logits: Float32Array[] = [];
    const parts: DecodeState[] = [];
    for (let r = 0; r < s.rows; r++) {
      const out = await this.lm.extend(s.parts[r]!, tokens.subarray(r, r + 1), signal);
      logits.push(out.logits[0]!);
      parts.push(out.state);
    }
    return { logits, state: { rows: s.rows, parts } as RowsState };
  }
}

/**
 * A fake causal LM with hand-checkable logits: row logits are a deterministic function of the row's whole token
 * sequence, so batching, padding and caching cannot change them — exactly the property the real runtime must have.
 */
import type { CausalLM, DecodeState } from '../../src/engine/models';

interface FakeState extends DecodeState {
  seqs: number[][];
}

export class FakeLM implements CausalLM {
  readonly eos: number;
  calls = { prefill: 0, extend: 0, rowsSeen: [] as number[] };
  constructor(
    readonly vocabSize = 16,
    readonly maxContext = 64,
    eos = 1,
    /** logits for a sequence; default: a hash-like function with clear preferences. */
    private readonly fn: (seq: readonly number[], v: number) => number = (seq, v) =>
      Math.sin(seq.reduce((h, t, i) => h * 31 + t * (i + 7), 17) * 0.001 + v * 1.3) * 3,
  ) {
    this.eos = eos;
  }
  private logits(seq: readonly number[]): Float32Array {
    return Float32Array.from({ length: this.vocabSize }, (_, v) => this.fn(seq, v));
  }
  async prefill(prompts: readonly Int32Array[]): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    this.calls.prefill++;
    this.calls.rowsSeen.push(prompts.length);
    const seqs = prompts.map((p) => [...p]);
    return { logits: seqs.map((s) => this.logits(s)), state: { rows: seqs.length, seqs } as FakeState };
  }
  async extend(state: DecodeState, tokens: Int32Array): Promise<{ logits: Float32Array[]; state: DecodeState }> {
    this.calls.extend++;
    const seqs = (state as FakeState).seqs.map((s, i) => [...s, tokens[i]!]);
    return { logits: seqs.map((s) => this.logits(s)), state: { rows: seqs.length, seqs } as FakeState };
  }
}

/**
 * N samples of one prompt, decoded as ONE batch of N rows of a causal LM: every row has its own seeded random stream
 * (sample r of seed s is the same whatever N is) and picks its own token each step.
 *
 * Grammar-constrained decoding is a per-row hook, `RowConstraint`: before a row picks, its constraint says which
 * tokens may come next; the others are removed from the logits (the same as setting them to −∞ and renormalising)
 * before greedy / temperature / top-k / top-p, so top-k and the nucleus are taken among the allowed tokens. A row ends
 * when its constraint is complete, at a stop token, or at the budget, where the constraint's closing tokens are
 * appended unsampled (so a constrained row always ends as a valid sequence). Rows that have ended are fed `padToken`
 * while the others run; their outputs are ignored.
 */
import { CancelledError, ContextTooLongError, EngineInputError } from './errors';
import { pickToken, validateDecoding, type Decoding } from './logits';
import type { CausalLM } from './models';
import { Rng } from './random';

/** The grammar of one row (e.g. an incremental stream validator over the tokens' bytes). */
export interface RowConstraint {
  /**
   * Tokens allowed next, `mask[id]` = 1 (ids past the mask's end are refused); undefined allows every token. Called
   * once per step while the row runs, before `accept`. The mask may be reused by the constraint after `accept`.
   */
  allowedTokens(): Uint8Array | undefined;
  /** Records the token the row took (one the mask allowed). */
  accept(id: number): void;
  /** Whether the row is complete: it ends here, without a stop token. */
  isComplete(): boolean;
  /** Tokens that complete the row from where it is (empty: none); appended unsampled when the row hits the budget. */
  closingTokens(): readonly number[];
}

export interface SampleRowsOptions {
  /** The prompt every row starts from. */
  prompt: Int32Array;
  /** Number of rows (samples), 1…256. */
  samples: number;
  decoding: Decoding;
  /** Most tokens a row samples (the closing tokens come on top). May be 0: rows are then closed at once. */
  maxTokens: number;
  seed: number;
  /** A row ends after any of these (not returned). */
  stopTokens: readonly number[];
  /** What a row that has ended is fed while others run. */
  padToken: number;
  /** Row r's constraint; absent: rows are unconstrained. */
  constraint?: (row: number) => RowConstraint;
  signal?: AbortSignal;
  /** After the prompt's forward pass. */
  onPrefill?: () => void;
  /** A row took a token (sampled; closing tokens are not reported here). */
  onToken?: (row: number, id: number, index: number) => void;
  /** After each step of the batch (1-based), once every row has taken its token (or ended). */
  onStep?: (step: number, rows: readonly SampledRow[]) => void;
}

export type RowEnd = 'complete' | 'stop-token' | 'max-tokens';

export interface SampledRow {
  /** Sampled tokens, in order. */
  tokens: number[];
  /** Tokens appended at the budget by the constraint (not sampled). */
  closing: number[];
  /** Undefined while the row runs. */
  stoppedBy: RowEnd | undefined;
}

export interface SampleRowsResult {
  rows: SampledRow[];
  /** Sampling steps taken (the forward passes after the prompt's are one fewer). */
  steps: number;
}

/** Indices of allowed tokens and their logits, reused across calls (one row at a time). */
let allowedIds = new Int32Array(0);
let allowedLogits = new Float32Array(0);

/**
 * Picks a token among those `mask` allows: the decoding applied to the allowed logits alone, which is the masked
 * distribution (−∞ elsewhere) renormalised; ties go to the lower id, as in `pickToken`. One allowed token is taken
 * without drawing. Throws when nothing is allowed.
 */
export function pickAllowed(logits: Float32Array, mask: Uint8Array, d: Decoding, rng: Rng): number {
  const n = Math.min(logits.length, mask.length);
  if (allowedIds.length < n) {
    allowedIds = new Int32Array(n);
    allowedLogits = new Float32Array(n);
  }
  let k = 0;
  for (let id = 0; id < n; id++) {
    if (mask[id]) {
      allowedIds[k] = id;
      allowedLogits[k++] = logits[id]!;
    }
  }
  if (k === 0) throw new EngineInputError('the constraint allows no token');
  if (k === 1) return allowedIds[0]!;
  return allowedIds[pickToken(allowedLogits.subarray(0, k), d, rng)]!;
}

/** `logits` with the tokens `mask` refuses set to −∞ (a copy): what `pickAllowed` samples from, for inspection and tests. */
export function maskLogits(logits: Float32Array, mask: Uint8Array): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = i < mask.length && mask[i] ? logits[i]! : Number.NEGATIVE_INFINITY;
  return out;
}

export async function sampleRows(lm: CausalLM, o: SampleRowsOptions): Promise<SampleRowsResult> {
  if (!Number.isInteger(o.samples) || o.samples < 1 || o.samples > 256) throw new EngineInputError('samples must be an integer from 1 to 256');
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 0) throw new EngineInputError('maxTokens must be a non-negative integer');
  if (!o.prompt.length) throw new EngineInputError('the prompt is empty');
  const bad = validateDecoding(o.decoding);
  if (bad) throw new EngineInputError(bad);
  const needed = o.prompt.length + o.maxTokens;
  if (needed > lm.maxContext) throw new ContextTooLongError(needed, lm.maxContext, `the prompt (${o.prompt.length} tokens) plus ${o.maxTokens} new tokens`);

  const n = o.samples;
  const rows: SampledRow[] = Array.from({ length: n }, () => ({ tokens: [], closing: [], stoppedBy: undefined }));
  const constraints = Array.from({ length: n }, (_, r) => o.constraint?.(r));
  const rngs = Array.from({ length: n }, (_, r) => new Rng(o.seed, r));
  const stops = new Set(o.stopTokens);
  let steps = 0;
  const check = () => {
    if (o.signal?.aborted) throw new CancelledError<SampleRowsResult>({ rows, steps });
  };
  /** Ends row r if its constraint is complete or it has used its budget (closing it). */
  const settle = (r: number): void => {
    const row = rows[r]!;
    const c = constraints[r];
    if (row.stoppedBy) return;
    if (c?.isComplete()) row.stoppedBy = 'complete';
    else if (row.tokens.length >= o.maxTokens) {
      row.closing = [...(c?.closingTokens() ?? [])];
      row.stoppedBy = 'max-tokens';
    }
  };

  check();
  for (let r = 0; r < n; r++) settle(r);
  if (rows.every((row) => row.stoppedBy)) return { rows, steps };
  let { logits, state } = await lm.prefill(
    Array.from({ length: n }, () => o.prompt),
    o.signal,
  );
  o.onPrefill?.();
  const next = new Int32Array(n);
  for (;;) {
    check();
    for (let r = 0; r < n; r++) {
      const row = rows[r]!;
      next[r] = o.padToken;
      if (row.stoppedBy) continue;
      const c = constraints[r];
      const mask = c?.allowedTokens();
      const id = mask ? pickAllowed(logits[r]!, mask, o.decoding, rngs[r]!) : pickToken(logits[r]!, o.decoding, rngs[r]!);
      if (stops.has(id)) {
        row.stoppedBy = 'stop-token';
        continue;
      }
      c?.accept(id);
      row.tokens.push(id);
      next[r] = id;
      o.onToken?.(r, id, row.tokens.length - 1);
      settle(r);
    }
    steps++;
    o.onStep?.(steps, rows);
    if (rows.every((row) => row.stoppedBy)) return { rows, steps };
    check();
    ({ logits, state } = await lm.extend(state, next, o.signal));
  }
}

/**
 * Extractive answers: a decoding constraint under which everything generated is one contiguous span of a source
 * text (the document's tokens) that starts and ends at word boundaries. A small model that has learnt the *type* of
 * an answer but not yet to copy it writes plausible made-up words ("Bramfield" for the document's "Bramworth");
 * under this constraint it can only choose *which* span of the document to quote, so an answer is always the
 * document's own words (docs/cad.md, "Extractive answers").
 *
 * The source may be several token sequences (e.g. each line of the document encoded on its own, so that a word at
 * the start of a line is found in the form it takes after "Answer:"); a span never crosses two sequences.
 * Each step costs O(number of source positions still matching), i.e. O(source length) at most.
 */
import { EngineInputError } from './errors';

export interface SpanSource {
  tokens: Int32Array;
  /**
   * `boundaries[i]` (length tokens.length + 1): whether a span may start before token i / end after token i − 1 —
   * a word boundary. Index 0 and tokens.length are always boundaries.
   */
  boundaries: Uint8Array;
  /**
   * `starts[i]` (length tokens.length): whether a span may start at token i; default: at every boundary. A quote
   * should open on a word, not on the punctuation after one (`wordStarts`).
   */
  starts?: Uint8Array;
  /**
   * `ends[i]` (length tokens.length + 1): whether a span may end before token i; default: at every boundary. Quoting
   * whole sentences ends only after a full stop (`sentenceEnds`).
   */
  ends?: Uint8Array;
}

export class SpanConstraint {
  /** All sources, back to back, with −1 between them (a token that never matches). */
  private readonly tokens: Int32Array;
  /** Where a span may end (before position p). */
  private readonly boundary: Uint8Array;
  /** Where a word ends (before position p): the same as `boundary` unless quotes end only after sentences. */
  private readonly wordEnd: Uint8Array;
  private readonly stops: readonly number[];
  /** Positions p such that tokens[p − generated.length … p − 1] equals what was generated (the next token is tokens[p]). */
  private positions: Int32Array;
  private generated = 0;
  private keep?: Uint8Array;

  constructor(sources: readonly SpanSource[], stopTokens: readonly number[]) {
    const total = sources.reduce((n, s) => n + s.tokens.length + 1, 0);
    this.tokens = new Int32Array(total).fill(-1);
    this.boundary = new Uint8Array(total + 1);
    this.wordEnd = new Uint8Array(total + 1);
    let at = 0;
    for (const s of sources) {
      if (s.boundaries.length !== s.tokens.length + 1)
        throw new EngineInputError(`a span source of ${s.tokens.length} tokens needs ${s.tokens.length + 1} boundary flags`);
      if (s.ends && s.ends.length !== s.tokens.length + 1)
        throw new EngineInputError(`a span source of ${s.tokens.length} tokens needs ${s.tokens.length + 1} end flags`);
      this.tokens.set(s.tokens, at);
      const ends = s.ends ?? s.boundaries;
      for (let i = 0; i <= s.tokens.length; i++) {
        this.boundary[at + i] = i === s.tokens.length ? 1 : i === 0 ? 0 : ends[i]!;
        this.wordEnd[at + i] = i === s.tokens.length ? 1 : i === 0 ? 0 : s.boundaries[i]!;
      }
      at += s.tokens.length + 1;
    }
    const starts = quoteStarts(sources);
    if (!starts.length) throw new EngineInputError('extractive output needs a document with at least one word (or turn extractive output off)');
    this.positions = Int32Array.from(starts);
    this.stops = stopTokens;
  }

  /** Whether generation may stop now: something was generated and it ends at a word boundary. */
  mayStop(): boolean {
    return this.endsAt(this.boundary);
  }

  /** Whether what was generated ends on a word boundary (though perhaps not where a quote may end, e.g. mid-sentence). */
  atWordEnd(): boolean {
    return this.endsAt(this.wordEnd);
  }

  /** Whether something was generated and a matching position is flagged in `flags`. */
  private endsAt(flags: Uint8Array): boolean {
    if (this.generated === 0) return false;
    for (const p of this.positions) if (flags[p]) return true;
    return false;
  }

  /** Sets every token the constraint forbids to −∞ (in place); stop tokens stay as they are once stopping is allowed. */
  mask(logits: Float32Array): Float32Array {
    // One flag buffer for the whole decode (a vocabulary-sized allocation per step is what the GC then pays for).
    if (this.keep?.length !== logits.length) this.keep = new Uint8Array(logits.length);
    const keep = this.keep;
    keep.fill(0);
    for (const p of this.positions) {
      const t = this.tokens[p]!;
      if (t >= 0 && t < logits.length) keep[t] = 1;
    }
    if (this.mayStop()) for (const s of this.stops) if (s >= 0 && s < logits.length) keep[s] = 1;
    for (let i = 0; i < logits.length; i++) if (!keep[i]) logits[i] = -Infinity;
    return logits;
  }

  /** Records the chosen (non-stop) token. */
  advance(token: number): void {
    const next: number[] = [];
    for (const p of this.positions) if (this.tokens[p] === token) next.push(p + 1);
    if (!next.length) throw new EngineInputError(`token ${token} does not continue any span of the document`);
    this.positions = Int32Array.from(next);
    this.generated++;
  }
}

/**
 * Whole sentences: a quote opens only where a sentence starts (the source's first word, after any markup, or the
 * first word after a token ending in . ! ? — closing quotes and brackets allowed — and a space, if it is capitalised or
 * a number) and ends only there or at the source's end.
 */
export function sentenceSpans(pieces: readonly string[]): { starts: Uint8Array; ends: Uint8Array } {
  const closes = (p: string) => /[.!?]["'”’)\]]*\s*$/u.test(p);
  // U+FFFD: the first bytes of a character split over byte-fallback tokens ("α" as two tokens), part of its word.
  const hasWord = (p: string) => /[\p{L}\p{N}\uFFFD]/u.test(p);
  const ends = new Uint8Array(pieces.length + 1);
  const starts = new Uint8Array(pieces.length);
  ends[pieces.length] = 1;
  /** Whether a sentence may open at the next word: at the source's start (after any markup such as "- **"), or after a full stop. */
  let open = true;
  /** Whether a piece before i has a letter or digit (kept as the loop goes: a rescan per piece was quadratic). */
  let sawWord = false;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    const first = !sawWord;
    if (hasWord(p)) sawWord = true;
    // "export.py" has a full stop too: a sentence ends only where a space follows it.
    const stop = i > 0 && closes(pieces[i - 1]!) && /^\s/u.test(p);
    if (i > 0) ends[i] = stop ? 1 : 0;
    if (stop) open = true;
    // A lone space before a word (tokenizers that split numbers give " " "2" "3") opens with that word.
    const word = spaceBeforeWord(pieces, i) ? ` ${pieces[i + 1]!}` : p;
    if (!hasWord(word)) continue;
    // The source's first word always opens a sentence; elsewhere a sentence opens on a capital or a digit.
    starts[i] = open && (first || /^\s*["'“‘([*_]*[\p{Lu}\p{N}]/u.test(word)) ? 1 : 0;
    if (word === p) open = false;
  }
  return { starts, ends };
}

/** Where a quote may open, as positions in the sources laid end to end (each followed by one separator slot). */
export function quoteStarts(sources: readonly SpanSource[]): number[] {
  const starts: number[] = [];
  let at = 0;
  for (const s of sources) {
    if (s.starts && s.starts.length !== s.tokens.length)
      throw new EngineInputError(`a span source of ${s.tokens.length} tokens needs ${s.tokens.length} start flags`);
    for (let i = 0; i < s.tokens.length; i++) if ((i === 0 || s.boundaries[i]) && (s.starts?.[i] ?? 1)) starts.push(at + i);
    at += s.tokens.length + 1;
  }
  return starts;
}

/**
 * Where a quote may open: at a boundary, on a token whose text has a letter or digit (not on bare punctuation), or on
 * a lone space token right before one.
 */
export function wordStarts(pieces: readonly string[], boundaries: Uint8Array): Uint8Array {
  return Uint8Array.from(pieces, (p, i) => (boundaries[i] && (/[\p{L}\p{N}]/u.test(p) || spaceBeforeWord(pieces, i)) ? 1 : 0));
}

/** Piece i is whitespace alone and piece i + 1 starts with a letter or digit (" " "6" "2" for " 62"). */
function spaceBeforeWord(pieces: readonly string[], i: number): boolean {
  return /^\s+$/u.test(pieces[i]!) && i + 1 < pieces.length && /^[\p{L}\p{N}]/u.test(pieces[i + 1]!);
}

/**
 * Word boundaries of a token sequence from each token's text: a boundary sits before token i when token i starts
 * with, or token i − 1 ends with, a character that is not a letter, digit or mark (spaces, punctuation). A text of
 * '' (a byte-fallback piece of a longer character) never makes a boundary.
 */
export function wordBoundaries(pieces: readonly string[]): Uint8Array {
  const out = new Uint8Array(pieces.length + 1);
  out[0] = 1;
  out[pieces.length] = 1;
  const isWordChar = (c: string | undefined) => c === undefined || c === '\uFFFD' || /[\p{L}\p{N}\p{M}_]/u.test(c);
  for (let i = 1; i < pieces.length; i++) {
    const prev = pieces[i - 1]!;
    const cur = pieces[i]!;
    if (!cur || !prev) continue;
    out[i] = !isWordChar(cur[0]) || !isWordChar(prev[prev.length - 1]) ? 1 : 0;
  }
  return out;
}

/**
 * Finds the span of the source text that supports one generated token, for "click a token to see where the
 * document says so". The output is searched as words (tokens are often word pieces): the longest n-gram of output
 * words around the clicked token that occurs in the source wins, earliest occurrence first; a lone word must not
 * be a stop word, and a lone long word may match by its stem. No `vscode` import, so tests cover it.
 */

export interface SupportSpan {
  /** Character offsets in the searched text, end exclusive. */
  start: number;
  end: number;
  /** How many words matched (more words: stronger evidence). */
  words: number;
  /** The output words that were looked for. */
  query: string;
  /** True when only a word stem matched (e.g. "summarised" for "summarises"). */
  stem?: boolean;
}

export type SupportResult = { found: true; span: SupportSpan } | { found: false; word?: string; reason: string };

interface Word {
  norm: string;
  start: number;
  end: number;
}

/** Letters or digits, with inner apostrophes ("don't", "O’Neil"). */
const WORD_RE = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu;

const STOP_WORDS = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her his i if in into is it its ' +
    'me my no not of on or our she so than that the their them then there these they this those to was we were what ' +
    'when where which who will with would you your also more most such very about over after before between'
  ).split(' '),
);

const normalize = (w: string) => w.normalize('NFKC').toLowerCase().replace(/’/g, "'");

export function splitWords(text: string): Word[] {
  const out: Word[] = [];
  for (const m of text.matchAll(WORD_RE)) out.push({ norm: normalize(m[0]), start: m.index, end: m.index + m[0].length });
  return out;
}

const meaningful = (w: string) => /\p{N}/u.test(w) || (w.length >= 2 && !STOP_WORDS.has(w));

export interface SupportQuery {
  /** The output's tokens, in order; their texts concatenated are the output. */
  tokens: readonly { text: string }[];
  /** The clicked token. */
  index: number;
  /** Longest n-gram tried (default 6). */
  maxWords?: number;
}

/** Where in `source` the words around output token `index` occur; `found: false` says why not. */
export function findSupportSpan(source: string, q: SupportQuery): SupportResult {
  const { tokens, index } = q;
  if (!Number.isInteger(index) || index < 0 || index >= tokens.length) return { found: false, reason: 'that token is not part of the output' };
  let offset = 0;
  for (let i = 0; i < index; i++) offset += tokens[i]!.text.length;
  const tokStart = offset;
  const tokEnd = offset + tokens[index]!.text.length;
  const output = tokens.map((t) => t.text).join('');
  const outWords = splitWords(output);
  // The words the clicked token is part of (a token may be a piece of a word, or span several short ones).
  const core = outWords.flatMap((w, i) => (w.start < tokEnd && w.end > tokStart ? [i] : []));
  if (!core.length) return { found: false, reason: 'that token is punctuation or white space' };
  const c0 = core[0]!;
  const c1 = core[core.length - 1]!;
  const word = outWords
    .slice(c0, c1 + 1)
    .map((w) => output.slice(w.start, w.end))
    .join(' ');

  const srcWords = splitWords(source);
  if (!srcWords.length) return { found: false, word, reason: 'the source has no words' };
  const positions = new Map<string, number[]>();
  srcWords.forEach((w, i) => {
    const list = positions.get(w.norm);
    if (list) list.push(i);
    else positions.set(w.norm, [i]);
  });

  const maxWords = Math.max(c1 - c0 + 1, q.maxWords ?? 6);
  for (let n = Math.min(maxWords, outWords.length); n >= c1 - c0 + 1; n--) {
    let best: { p: number; s: number } | undefined;
    // Every window of n output words that contains the core.
    for (let s = Math.max(0, c1 - n + 1); s <= c0 && s + n <= outWords.length; s++) {
      const window = outWords.slice(s, s + n);
      if (!window.some((w) => meaningful(w.norm))) continue;
      for (const p of positions.get(window[0]!.norm) ?? []) {
        if (p + n > srcWords.length) break;
        let k = 1;
        while (k < n && srcWords[p + k]!.norm === window[k]!.norm) k++;
        if (k === n && (!best || p < best.p)) best = { p, s };
        if (best && best.p <= p) break;
      }
    }
    if (best) {
      return {
        found: true,
        span: {
          start: srcWords[best.p]!.start,
          end: srcWords[best.p + n - 1]!.end,
          words: n,
          query: outWords
            .slice(best.s, best.s + n)
            .map((w) => output.slice(w.start, w.end))
            .join(' '),
        },
      };
    }
  }

  // A lone long word: accept a source word with the same stem ("merged" for "merging").
  if (c0 === c1) {
    const w = outWords[c0]!.norm;
    if (w.length >= 5 && meaningful(w)) {
      const stem = w.slice(0, Math.max(4, w.length - 3));
      const hit = srcWords.find((s) => s.norm.startsWith(stem) && Math.abs(s.norm.length - w.length) <= 4);
      if (hit) return { found: true, span: { start: hit.start, end: hit.end, words: 1, query: word, stem: true } };
    }
    if (!meaningful(w))
      return { found: false, word, reason: `"${word}" is too common a word to point at a passage, and the words around it do not occur in the source` };
  }
  return { found: false, word, reason: `"${word}" does not occur in the source text` };
}

/**
 * Splitting a long document into pieces that each fit a token budget, at the most natural boundary available:
 * paragraphs, then sentences, then words, then characters. Ranges are character offsets into the original text,
 * so results can point back at the source.
 */

export interface TextRange {
  start: number;
  end: number;
}

const SPLITTERS: RegExp[] = [/\n\s*\n/g, /(?<=[.!?;:])\s+/g, /\s+/g];

function pieces(text: string, start: number, end: number, level: number): TextRange[] {
  if (level >= SPLITTERS.length) {
    return Array.from({ length: end - start }, (_, i) => ({ start: start + i, end: start + i + 1 }));
  }
  const re = new RegExp(SPLITTERS[level]!.source, 'g');
  const slice = text.slice(start, end);
  const out: TextRange[] = [];
  let last = 0;
  for (const m of slice.matchAll(re)) {
    const cut = m.index + m[0].length;
    if (cut > last) out.push({ start: start + last, end: start + cut });
    last = cut;
  }
  if (last < slice.length) out.push({ start: start + last, end });
  return out;
}

/**
 * Greedily packs consecutive pieces into chunks with `count(chunkText) ≤ budget`. A piece that is too long on its
 * own is split at the next finer boundary.
 */
export function chunkText(text: string, budget: number, count: (s: string) => number): TextRange[] {
  if (!(budget >= 1)) throw new Error('chunk budget must be at least one token');
  const fits = (r: TextRange) => count(text.slice(r.start, r.end)) <= budget;
  const split = (r: TextRange, level: number): TextRange[] => {
    if (fits(r)) return [r];
    const parts = pieces(text, r.start, r.end, level);
    if (parts.length <= 1) return level + 1 <= SPLITTERS.length ? split(r, level + 1) : [r];
    const chunks: TextRange[] = [];
    let cur: TextRange | undefined;
    for (const p of parts.flatMap((q) => (fits(q) ? [q] : split(q, level + 1)))) {
      if (cur && fits({ start: cur.start, end: p.end })) cur = { start: cur.start, end: p.end };
      else {
        if (cur) chunks.push(cur);
        cur = p;
      }
    }
    if (cur) chunks.push(cur);
    return chunks;
  };
  if (!text.trim()) return [];
  return split({ start: 0, end: text.length }, 0).filter((r) => text.slice(r.start, r.end).trim());
}

/** Lines longer than this are cut at sentence ends before any token count of them (encoding is superlinear). */
const LONG_LINE_CHARS = 4000;

/**
 * Passages of at most about `budget` tokens for retrieval over a document of any size: consecutive lines of one
 * paragraph (blank lines end a passage), a line over the budget cut by `chunkText`. Token counts are only taken of
 * single lines or shorter pieces (a passage's `tokens` is the sum of its lines', which a joined encoding may differ
 * from by a token or so at each join), so a document of millions of characters costs one pass of small encodings.
 */
export function linePassages(text: string, budget: number, count: (s: string) => number): (TextRange & { tokens: number })[] {
  if (!(budget >= 1)) throw new Error('passage budget must be at least one token');
  const out: (TextRange & { tokens: number })[] = [];
  let cur: (TextRange & { tokens: number }) | undefined;
  const flush = () => {
    if (cur) out.push(cur);
    cur = undefined;
  };
  for (let start = 0; start < text.length; ) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    const line = text.slice(start, end);
    if (!line.trim()) flush();
    else {
      for (const piece of lineParts(line, budget, count)) {
        const r = { start: start + piece.start, end: start + piece.end };
        const tokens = count(text.slice(r.start, r.end));
        if (cur && cur.tokens + tokens <= budget) {
          cur.end = r.end;
          cur.tokens += tokens;
        } else {
          flush();
          cur = { ...r, tokens };
        }
      }
    }
    start = end;
  }
  flush();
  return out;
}

/** A line as pieces within `budget` (ranges relative to the line): itself, or cut at sentences, words, then anywhere. */
function lineParts(line: string, budget: number, count: (s: string) => number): TextRange[] {
  if (line.length <= LONG_LINE_CHARS && count(line) <= budget) return [{ start: 0, end: line.length }];
  return boundedPieces(line, 0, line.length, 1).flatMap((p) =>
    chunkText(line.slice(p.start, p.end), budget, count).map((r) => ({ start: p.start + r.start, end: p.start + r.end })),
  );
}

/** [start, end) of `text` as pieces of at most LONG_LINE_CHARS, cut at the most natural boundary from `level` on. */
function boundedPieces(text: string, start: number, end: number, level: number): TextRange[] {
  if (end - start <= LONG_LINE_CHARS) return [{ start, end }];
  if (level >= SPLITTERS.length) {
    const out: TextRange[] = [];
    for (let i = start; i < end; i += LONG_LINE_CHARS) out.push({ start: i, end: Math.min(end, i + LONG_LINE_CHARS) });
    return out;
  }
  return pieces(text, start, end, level).flatMap((p) => boundedPieces(text, p.start, p.end, level + 1));
}

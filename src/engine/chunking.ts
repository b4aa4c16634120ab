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

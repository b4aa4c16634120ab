/**
 * Knowledge for the SSD-2 collaboration: whole documents and notes are cut into passages that fit the user model's
 * context (paragraphs, then sentences, then words when a sentence alone is too long), and BM25 (minisearch) picks the
 * passages that best match the instruction until the user model's knowledge budget is full. Deterministic: the same
 * items, instruction and budget always give the same passages in the same order (ties go to the earlier passage).
 */
import MiniSearch from 'minisearch';

export interface KnowledgeSource {
  id: string;
  title: string;
  text: string;
}

export interface Passage {
  itemId: string;
  title: string;
  /** One line: whitespace collapsed (the diffusion models never saw line breaks). */
  text: string;
  /** Order of the passage among all passages (items in order, then position in the item). */
  index: number;
  tokens: number;
}

export interface ScoredPassage extends Passage {
  /** BM25 score for the query; 0 for passages taken in document order because nothing matched. */
  score: number;
}

/** Counts the tokens a text costs in the model's context (as it will be encoded there). */
export type CountTokens = (text: string) => number;

/** A passage's text: white space runs (line breaks included) collapsed to one space, trimmed. */
export const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Sentences of a paragraph: split after . ! ? (and closing quotes or brackets) followed by white space. */
export function splitSentences(paragraph: string): string[] {
  return oneLine(paragraph)
    .split(/(?<=[.!?]["'”’)\]]?)\s+(?=\S)/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Greedily packs `pieces` (joined with a space) into runs of at most `max` tokens; pieces over `max` are cut by words. */
function pack(pieces: string[], max: number, count: CountTokens): string[] {
  const out: string[] = [];
  let cur = '';
  const flush = () => {
    if (cur) out.push(cur);
    cur = '';
  };
  for (const piece of pieces) {
    const joined = cur ? `${cur} ${piece}` : piece;
    if (count(joined) <= max) {
      cur = joined;
      continue;
    }
    flush();
    if (count(piece) <= max) {
      cur = piece;
      continue;
    }
    // A sentence longer than a passage: cut it between words (a single over-long word is cut by characters).
    for (const word of piece.split(' ')) {
      const w = count(word) <= max ? [word] : cutWord(word, max, count);
      for (const part of w) {
        const j = cur ? `${cur} ${part}` : part;
        if (count(j) <= max) cur = j;
        else {
          flush();
          cur = part;
        }
      }
    }
  }
  flush();
  return out;
}

function cutWord(word: string, max: number, count: CountTokens): string[] {
  const parts: string[] = [];
  let cur = '';
  for (const ch of word) {
    if (cur && count(cur + ch) > max) {
      parts.push(cur);
      cur = '';
    }
    cur += ch;
  }
  if (cur) parts.push(cur);
  return parts;
}

/**
 * Passages of at most `maxTokens` tokens each: paragraphs (blank-line separated) are kept whole when they fit, else
 * split into sentences packed greedily; consecutive short paragraphs are not merged (a paragraph is a unit of meaning).
 */
export function chunkKnowledge(items: readonly KnowledgeSource[], maxTokens: number, count: CountTokens): Passage[] {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error('the passage size must be a positive number of tokens');
  const passages: Passage[] = [];
  for (const item of items) {
    for (const para of item.text.split(/\n\s*\n/)) {
      const line = oneLine(para);
      if (!line) continue;
      const parts = count(line) <= maxTokens ? [line] : pack(splitSentences(line), maxTokens, count);
      for (const text of parts) passages.push({ itemId: item.id, title: item.title, text, index: passages.length, tokens: count(text) });
    }
  }
  return passages;
}

/** Words that carry no topic (questions are full of them). */
const STOP_WORDS = new Set(
  (
    'a an the and or but if of to in on at by for with from as into about over after before under between is are was were be been ' +
    'being am do does did done have has had having it its this that these those there here what which who whom whose when where why ' +
    'how i me my we our you your he him his she her they them their not no yes so than then too very can could will would shall should ' +
    'may might must just also any some all each every one s t tell say please give write answer question'
  ).split(' '),
);

/** Lower case, possessive and plural `s` removed, stop words dropped: the same for passages and queries. */
export function normalizeTerm(term: string): string | null {
  let t = term.toLowerCase().replace(/['’]s$/, '');
  if (!t || STOP_WORDS.has(t)) return null;
  if (t.length > 4 && t.endsWith('s') && !t.endsWith('ss')) t = t.slice(0, -1);
  return t;
}

const tokenize = (text: string) => text.split(/[\s\p{P}\p{S}]+/u).filter(Boolean);

/**
 * The passages that best match `query` (BM25 over passage text and title) and fit together in `budgetTokens`, best
 * first. `joinedTokens` counts what the chosen passages cost together as the caller will join them. When no passage
 * shares a word with the query, the passages are taken in document order (score 0), so a request like "summarise my
 * notes" still reads something. With `minRelativeScore` > 0, passages scoring below that share of the best passage's
 * score are left out even when they would fit (0 fills the budget).
 */
export function retrievePassages(
  passages: readonly Passage[],
  query: string,
  budgetTokens: number,
  joinedTokens: (chosen: readonly Passage[]) => number,
  minRelativeScore = 0,
): ScoredPassage[] {
  if (!passages.length || budgetTokens <= 0) return [];
  const index = new MiniSearch<{ id: number; text: string; title: string }>({
    fields: ['text', 'title'],
    idField: 'id',
    tokenize,
    processTerm: normalizeTerm,
  });
  index.addAll(passages.map((p) => ({ id: p.index, text: p.text, title: p.title })));
  const hits = index.search(query, { boost: { text: 1, title: 0.5 }, combineWith: 'OR', prefix: false, fuzzy: false });
  const scored: ScoredPassage[] = hits
    .map((h) => ({ ...passages[h.id as number]!, score: Math.round(h.score * 1e6) / 1e6 }))
    .sort((a, b) => b.score - a.score || a.index - b.index);
  const floor = minRelativeScore * (scored[0]?.score ?? 0);
  const candidates = scored.length ? scored.filter((c) => c.score >= floor) : passages.map((p) => ({ ...p, score: 0 }));
  const smallest = Math.min(...candidates.map((c) => c.tokens));
  const chosen: ScoredPassage[] = [];
  let used = 0;
  for (const c of candidates) {
    if (budgetTokens - used < smallest) break;
    const cost = joinedTokens([...chosen, c]);
    if (cost <= budgetTokens) {
      chosen.push(c);
      used = cost;
    }
  }
  return chosen;
}

/**
 * Tokenizers from a pack's `tokenizer.json`, through @huggingface/tokenizers.
 *
 * Two encodings exist on purpose: `encodeControl` understands special-token strings (for the pack's own prompt
 * templates), `encodePlain` treats every character of user or document text as text, so a document containing
 * "</s>" cannot end a prompt early or inject a separator.
 */
import { Tokenizer } from '@huggingface/tokenizers';

const ALLOWED_MODELS = new Set(['BPE', 'Unigram', 'WordPiece']);
/** A group that itself ends in a quantifier, quantified again: (a+)+, (\w*)*, (x{2,})+ … (catastrophic backtracking). */
const NESTED_QUANTIFIER = /\((?:[^()\\]|\\.)*[+*}]\)\s*[+*{]/;
const MAX_VOCAB = 1_000_000;

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function collectRegexes(node: unknown, out: string[]): void {
  if (Array.isArray(node)) node.forEach((n) => collectRegexes(n, out));
  else if (isObj(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'Regex' && typeof v === 'string') out.push(v);
      else collectRegexes(v, out);
    }
  }
}

export interface TokenizerFacts {
  modelType: string;
  vocabSize: number;
  specialIds: Record<string, number>;
}

/** Static checks of tokenizer.json before it is used. Throws with a one-line reason. */
export function checkTokenizerJson(text: string, specialTokens: Record<string, string>): TokenizerFacts {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(json) || !isObj(json.model)) throw new Error('has no "model" section');
  const modelType = String(json.model.type ?? '');
  if (!ALLOWED_MODELS.has(modelType)) throw new Error(`model type "${modelType}" is not supported (use ${[...ALLOWED_MODELS].join(', ')})`);
  const ids: number[] = [];
  const vocab = json.model.vocab;
  if (modelType === 'Unigram') {
    if (!Array.isArray(vocab)) throw new Error('Unigram vocab must be an array of [piece, score]');
    vocab.forEach((_, i) => ids.push(i));
  } else {
    if (!isObj(vocab)) throw new Error(`${modelType} vocab must be an object of token → id`);
    for (const v of Object.values(vocab)) ids.push(v as number);
  }
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
  for (const t of added) ids.push(t.id as number);
  for (const id of ids) if (!Number.isInteger(id) || id < 0 || id >= MAX_VOCAB) throw new Error(`token id ${String(id)} is not an integer in [0, ${MAX_VOCAB})`);
  const vocabSize = ids.length ? Math.max(...ids) + 1 : 0;
  const distinct = new Set(ids).size;
  // Allow a few unused ids (added tokens reuse vocab ids), but not a sparse table that would blow up allocations.
  if (vocabSize > distinct * 2 + 256) throw new Error(`token ids are sparse (max id ${vocabSize - 1} for ${distinct} tokens)`);

  const regexes: string[] = [];
  collectRegexes([json.normalizer, json.pre_tokenizer], regexes);
  for (const r of regexes) if (NESTED_QUANTIFIER.test(r)) throw new Error(`regular expression ${JSON.stringify(r)} has nested quantifiers (catastrophic backtracking risk)`);

  const byContent = new Map<string, number>();
  for (const t of added) if (typeof t.content === 'string') byContent.set(t.content, t.id as number);
  const specialIds: Record<string, number> = {};
  for (const [role, content] of Object.entries(specialTokens)) {
    const id = byContent.get(content) ?? (isObj(vocab) ? (vocab[content] as number | undefined) : undefined);
    if (id === undefined) throw new Error(`special token ${role} = "${content}" is not in the tokenizer`);
    specialIds[role] = id;
  }
  return { modelType, vocabSize, specialIds };
}

export class PackTokenizer {
  readonly vocabSize: number;
  readonly specialIds: Readonly<Record<string, number>>;
  private readonly control: Tokenizer;
  private readonly plain: Tokenizer;
  private readonly specialStrings: string[];
  private readonly specialIdSet: Set<number>;

  constructor(jsonText: string, specialTokens: Record<string, string>) {
    const facts = checkTokenizerJson(jsonText, specialTokens);
    this.vocabSize = facts.vocabSize;
    this.specialIds = facts.specialIds;
    const json = JSON.parse(jsonText) as Json;
    const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as Json[];
    const special = added.filter((t) => t.special === true);
    this.specialStrings = [...new Set([...special.map((t) => String(t.content)), ...Object.values(specialTokens)])].sort((a, b) => b.length - a.length);
    this.specialIdSet = new Set([...special.map((t) => t.id as number), ...Object.values(facts.specialIds)]);
    this.control = new Tokenizer(json, {});
    // The plain tokenizer does not split out special tokens: they stay only in the id table.
    this.plain = new Tokenizer({ ...json, added_tokens: added.filter((t) => t.special !== true) }, {});
  }

  /** Encodes text that may contain the pack's special-token strings as control tokens (prompt templates only). */
  encodeControl(text: string): number[] {
    return this.control.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Encodes user or document text as plain text: special-token strings inside it are split so that they can never
   * become control tokens. The result contains no special-token ids.
   */
  encodePlain(text: string): number[] {
    const ids: number[] = [];
    let rest = text;
    while (rest.length) {
      let at = -1;
      let hit = '';
      for (const s of this.specialStrings) {
        const i = rest.indexOf(s);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          hit = s;
        }
      }
      if (at < 0) {
        ids.push(...this.plainIds(rest));
        break;
      }
      if (at > 0) ids.push(...this.plainIds(rest.slice(0, at)));
      // Split the special string so that no single piece equals it.
      ids.push(...this.plainIds(hit.slice(0, 1)), ...this.plainIds(hit.slice(1)));
      rest = rest.slice(at + hit.length);
    }
    return ids;
  }

  private plainIds(text: string): number[] {
    const ids = this.plain.encode(text, { add_special_tokens: false }).ids;
    for (const id of ids) {
      if (this.specialIdSet.has(id)) throw new Error(`the tokenizer maps plain text ${JSON.stringify(text.slice(0, 40))} to special token id ${id}; the pack's vocabulary must not reach special tokens through ordinary text`);
    }
    return ids;
  }

  decode(ids: readonly number[], skipSpecial = true): string {
    if (!ids.length) return '';
    // No clean-up of spaces before punctuation: decoding must round-trip the model's text exactly.
    return this.control.decode([...ids], { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  tokens(ids: readonly number[]): string[] {
    return ids.map((id) => this.control.id_to_token(id) ?? `<${id}>`);
  }
}

/**
 * Tokenizers from a pack's `tokenizer.json`, through @huggingface/tokenizers.
 *
 * Two encodings exist on purpose: `encodeControl` understands special-token strings (for the pack's own prompt
 * templates), `encodePlain` treats every character of user or document text as text, so a document containing
 * "</s>" cannot end a prompt early or inject a separator.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { regexRisk } from './safeRegex';

const ALLOWED_MODELS = new Set(['BPE', 'Unigram', 'WordPiece']);
const MAX_VOCAB = 1_000_000;
/** Deepest nesting of arrays/objects accepted in tokenizer.json (real ones nest fewer than 10 levels). */
export const MAX_JSON_DEPTH = 64;
/** Encoded and decoded once when a tokenizer is loaded, so that a malformed configuration fails there (ASCII: every vocabulary covers it). */
const LOAD_PROBE = 'Concert probe 123, ok.';
/** Plain text longer than this is encoded in slices of about this many characters (see encodePlainAsync). */
const SLICE_CHARS = 8192;

/** The deepest nesting of `[` / `{` in JSON text, counted without parsing (so without recursion). */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Appends without spreading (a spread of ~100k ids as arguments overflows the stack). */
const append = (into: number[], ids: ArrayLike<number>): void => {
  for (let i = 0; i < ids.length; i++) into.push(ids[i]!);
};

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A value of the file for a message or a comparison, never converted by its own `toString` (`{"toString": 1}` throws). */
const valueText = (v: unknown): string =>
  typeof v === 'string'
    ? v
    : typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined
      ? String(v)
      : Array.isArray(v)
        ? '(a list)'
        : '(an object)';

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
  const depth = jsonDepth(text);
  if (depth > MAX_JSON_DEPTH) throw new Error(`is nested too deeply (${depth} levels of arrays/objects; at most ${MAX_JSON_DEPTH})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(json) || !isObj(json.model)) throw new Error('has no "model" section');
  const modelType = valueText(json.model.type ?? '');
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
  const merges = json.model.merges;
  if (modelType === 'BPE' && merges !== undefined) {
    const pair = (m: unknown) =>
      (typeof m === 'string' && m.includes(' ')) || (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string');
    if (!Array.isArray(merges) || !merges.every(pair)) throw new Error('BPE merges must be a list of "a b" strings or [a, b] pairs');
  }
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as Json[]) : [];
  for (const t of added) {
    if (!isObj(t) || typeof t.content !== 'string') throw new Error('has an entry of "added_tokens" that is not an object {id, content, …}');
    ids.push(t.id as number);
  }
  for (const id of ids)
    if (!Number.isInteger(id) || id < 0 || id >= MAX_VOCAB) throw new Error(`token id ${valueText(id)} is not an integer in [0, ${MAX_VOCAB})`);
  const vocabSize = ids.reduce((m, id) => Math.max(m, id + 1), 0);
  const distinct = new Set(ids).size;
  // Allow a few unused ids (added tokens reuse vocab ids), but not a sparse table that would blow up allocations.
  if (vocabSize > distinct * 2 + 256) throw new Error(`token ids are sparse (max id ${vocabSize - 1} for ${distinct} tokens)`);

  const regexes: string[] = [];
  collectRegexes([json.normalizer, json.pre_tokenizer], regexes);
  for (const r of regexes) {
    const risk = regexRisk(r);
    if (risk) throw new Error(`regular expression ${JSON.stringify(r)} ${risk} (catastrophic backtracking risk)`);
  }

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

/**
 * checkTokenizerJson's verdicts on files already verified against a sha256 (a pack's manifest), by that digest and the
 * special tokens asked for. A worker checks a pack's tokenizer when it validates the pack and again when it loads it,
 * and the bundled packs share one tokenizer file: parsing 300 kB of JSON each time was a tenth of the first request.
 * Failures are not kept (they are rare, and their message is wanted each time).
 */
const checkedTokenizers = new Map<string, TokenizerFacts>();
const CHECKED_TOKENIZERS_MAX = 64;

export function checkVerifiedTokenizerJson(text: string, sha256: string, specialTokens: Record<string, string>): TokenizerFacts {
  const key = JSON.stringify([sha256, specialTokens]);
  let facts = checkedTokenizers.get(key);
  if (!facts) {
    facts = checkTokenizerJson(text, specialTokens);
    if (checkedTokenizers.size >= CHECKED_TOKENIZERS_MAX) checkedTokenizers.clear();
    checkedTokenizers.set(key, facts);
  }
  return facts;
}

export class PackTokenizer {
  readonly vocabSize: number;
  readonly specialIds: Readonly<Record<string, number>>;
  private readonly control: Tokenizer;
  private readonly plain: Tokenizer;
  private readonly specialStrings: string[];
  private readonly specialIdSet: Set<number>;
  /** Finds the special-token strings in one pass (longest first at a position, as the loop it replaces did). */
  private readonly specialPattern: RegExp | undefined;
  /** Whether plain text may be cut before a space (see sliceSafe): the slices then encode to the same ids. */
  readonly sliceable: boolean;

  /** `facts`: checkTokenizerJson's result for this very text, where the caller has it (checkVerifiedTokenizerJson). */
  constructor(jsonText: string, specialTokens: Record<string, string>, facts: TokenizerFacts = checkTokenizerJson(jsonText, specialTokens)) {
    this.vocabSize = facts.vocabSize;
    this.specialIds = facts.specialIds;
    const json = JSON.parse(jsonText) as Json;
    const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as Json[];
    const special = added.filter((t) => t.special === true);
    this.specialStrings = [...new Set([...special.map((t) => String(t.content)), ...Object.values(specialTokens)])].sort((a, b) => b.length - a.length);
    this.specialIdSet = new Set([...special.map((t) => t.id as number), ...Object.values(facts.specialIds)]);
    const nonEmpty = this.specialStrings.filter((x) => x.length > 0);
    this.specialPattern = nonEmpty.length ? new RegExp(nonEmpty.map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : undefined;
    this.sliceable = sliceSafe(
      json,
      added.filter((t) => t.special !== true),
    );
    // The tokenizer library assumes a well-formed file: what it throws on a malformed one (a TypeError from deep
    // inside) is turned into one clear reason, here rather than at the first encode of a user's text.
    try {
      this.control = new Tokenizer(json, {});
      // The plain tokenizer does not split out special tokens: they stay only in the id table.
      this.plain = new Tokenizer({ ...json, added_tokens: added.filter((t) => t.special !== true) }, {});
      for (const t of [this.control, this.plain]) t.decode(t.encode(LOAD_PROBE, { add_special_tokens: false }).ids, { skip_special_tokens: false });
    } catch (e) {
      throw new Error(`cannot be loaded by the tokenizer library (${(e as Error)?.message ?? String(e)})`);
    }
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
    for (const piece of this.plainPieces(text)) append(ids, this.plainIds(piece));
    return ids;
  }

  /**
   * encodePlain for long text (documents of up to millions of characters): encodes it in slices of about 8k
   * characters, cut before a space where the tokenizer gives the same ids as for the whole text (otherwise in one
   * piece), and between slices yields to the event loop and asks `isCancelled`, so a cancel is answered within one
   * slice. Throws `cancelled()`'s error when cancelled.
   */
  async encodePlainAsync(text: string, isCancelled: () => boolean = () => false, cancelled: () => Error = () => new Error('cancelled')): Promise<number[]> {
    const ids: number[] = [];
    // Yield once per SLICE_CHARS characters encoded, not per piece: text full of special-token strings is cut into
    // thousands of tiny pieces, and a turn of the event loop for each made it many times slower.
    let sinceYield = text.length > SLICE_CHARS ? SLICE_CHARS : 0;
    for (const piece of this.plainPieces(text)) {
      for (const slice of this.sliceable ? sliceText(piece, SLICE_CHARS) : [piece]) {
        if (sinceYield >= SLICE_CHARS) {
          await new Promise<void>((r) => setImmediate(r));
          sinceYield = 0;
        }
        if (isCancelled()) throw cancelled();
        append(ids, this.plainIds(slice));
        sinceYield += slice.length;
      }
    }
    return ids;
  }

  /** The text cut around special-token strings, each of which is split in two so that no piece equals it. */
  private *plainPieces(text: string): Generator<string> {
    if (!this.specialPattern) {
      if (text) yield text;
      return;
    }
    const re = new RegExp(this.specialPattern.source, 'g');
    let from = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (m.index > from) yield text.slice(from, m.index);
      const hit = m[0];
      yield hit.slice(0, 1);
      if (hit.length > 1) yield hit.slice(1);
      from = m.index + hit.length;
    }
    if (from < text.length) yield text.slice(from);
  }

  private plainIds(text: string): number[] {
    const ids = this.plain.encode(text, { add_special_tokens: false }).ids;
    for (const id of ids) {
      if (this.specialIdSet.has(id))
        throw new Error(
          `the tokenizer maps plain text ${JSON.stringify(text.slice(0, 40))} to special token id ${id}; the pack's vocabulary must not reach special tokens through ordinary text`,
        );
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

/** Cuts `text` into slices of about `size` characters, each cut just before a space that follows a non-space. */
export function sliceText(text: string, size: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (text.length - start > size) {
    let cut = text.indexOf(' ', start + size);
    while (cut > 0 && /\s/.test(text[cut - 1]!)) cut = text.indexOf(' ', cut + 1);
    if (cut < 0) break;
    out.push(text.slice(start, cut));
    start = cut;
  }
  out.push(text.slice(start));
  return out;
}

/**
 * Whether encoding text in slices cut before a space (preceded by a non-space) gives the same ids as encoding it
 * whole. True only for configurations where no token can span such a cut: normalizers that map characters one by one
 * (Unicode forms, lower case, one-character Replace), pre-tokenizers that split at spaces (ByteLevel with its regex,
 * Whitespace, WhitespaceSplit, Metaspace with split), or none when no token of the vocabulary or merges has a space
 * marker after another character. Anything else (Prepend, Strip, Split regexes, …) is encoded whole.
 */
function sliceSafe(json: Json, plainAdded: Json[]): boolean {
  const replaces: [string, string][] = [];
  const okNormalizer = (n: unknown): boolean => {
    if (n === null || n === undefined) return true;
    if (!isObj(n)) return false;
    if (n.type === 'Sequence') return Array.isArray(n.normalizers) && n.normalizers.every(okNormalizer);
    if (['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase'].includes(valueText(n.type))) return true;
    if (
      n.type === 'Replace' &&
      isObj(n.pattern) &&
      typeof n.pattern.String === 'string' &&
      [...n.pattern.String].length === 1 &&
      typeof n.content === 'string'
    ) {
      replaces.push([n.pattern.String, n.content]);
      return true;
    }
    return false;
  };
  const splitsAtSpaces = (p: unknown): boolean | undefined => {
    if (p === null || p === undefined) return false;
    if (!isObj(p)) return undefined;
    if (p.type === 'ByteLevel') return p.use_regex !== false ? true : false;
    if (p.type === 'Whitespace' || p.type === 'WhitespaceSplit') return true;
    if (p.type === 'Metaspace') return p.split !== false;
    if (p.type === 'Sequence' && Array.isArray(p.pretokenizers)) {
      let any = false;
      for (const x of p.pretokenizers) {
        const r = splitsAtSpaces(x);
        if (r === undefined) return undefined;
        any ||= r;
      }
      return any;
    }
    return undefined;
  };
  if (!okNormalizer(json.normalizer)) return false;
  if (plainAdded.some((t) => typeof t.content !== 'string' || /\S\s/u.test(t.content))) return false;
  const splits = splitsAtSpaces(json.pre_tokenizer);
  if (splits === undefined) return false;
  if (splits) return true;
  // No pre-tokenizer: the model sees the whole text; safe when no token holds a space marker after other characters.
  let marker = ' ';
  for (const [from, to] of replaces) marker = marker.split(from).join(to);
  if (!marker) return false;
  const model = isObj(json.model) ? json.model : {};
  const pieces: string[] = [];
  if (isObj(model.vocab)) pieces.push(...Object.keys(model.vocab));
  else if (Array.isArray(model.vocab)) for (const v of model.vocab) if (Array.isArray(v) && typeof v[0] === 'string') pieces.push(v[0]);
  if (Array.isArray(model.merges)) for (const m of model.merges) pieces.push(Array.isArray(m) ? m.map(valueText).join('') : valueText(m).replace(' ', ''));
  const spans = (p: string): boolean => {
    for (let k = p.indexOf(marker, 1); k > 0; k = p.indexOf(marker, k + 1)) {
      const before = p.slice(0, k);
      if (!before.endsWith(marker) && !/\s$/u.test(before)) return true;
    }
    return false;
  };
  return !pieces.some(spans);
}

/**
 * Prompt templates shipped in a pack (`prompts.json`, written by tools/data/templates.py): the exact token layout
 * the model was trained with. A template is a list of pieces: `{special}` is one control token, `{text}` is text
 * with `{field}` slots, encoded as plain text so that document content can never produce control tokens.
 */
import { readPackFile, type ValidatedPack } from './packs';
import type { PackTokenizer } from './tokenizer';

export type Piece = { special: string } | { text: string };
export interface PromptTemplate {
  prompt: Piece[];
  no_context?: Piece[];
  target?: Piece[];
}
export interface PromptFile {
  version: number;
  prompts: Record<string, PromptTemplate>;
}

export class PromptError extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parsePrompts(text: string): PromptFile {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new PromptError(`prompts file is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(j) || !isObj(j.prompts)) throw new PromptError('prompts file has no "prompts" object');
  const prompts: Record<string, PromptTemplate> = {};
  for (const [name, t] of Object.entries(j.prompts)) {
    if (!isObj(t)) throw new PromptError(`prompt "${name}" must be an object`);
    const pieces = (v: unknown, where: string): Piece[] => {
      if (!Array.isArray(v)) throw new PromptError(`prompt "${name}".${where} must be a list of pieces`);
      return v.map((p, i) => {
        if (isObj(p) && typeof p.special === 'string' && Object.keys(p).length === 1) return { special: p.special };
        if (isObj(p) && typeof p.text === 'string' && Object.keys(p).length === 1) return { text: p.text };
        throw new PromptError(`prompt "${name}".${where}[${i}] must be {"special": …} or {"text": …}`);
      });
    };
    prompts[name] = {
      prompt: pieces(t.prompt, 'prompt'),
      ...(t.no_context !== undefined && { no_context: pieces(t.no_context, 'no_context') }),
      ...(t.target !== undefined && { target: pieces(t.target, 'target') }),
    };
  }
  return { version: Number(j.version ?? 1), prompts };
}

/** Renders pieces to token ids. Every `{field}` used must be given; unknown fields are an error, not empty text. */
export function renderPieces(pieces: readonly Piece[], fields: Record<string, string>, tok: PackTokenizer): Int32Array {
  const ids: number[] = [];
  for (const p of pieces) {
    if ('special' in p) {
      const enc = tok.encodeControl(p.special);
      if (enc.length !== 1) throw new PromptError(`template token ${JSON.stringify(p.special)} is not a single token of this tokenizer`);
      ids.push(enc[0]!);
    } else {
      const text = p.text.replace(/\{(\w+)\}/g, (_, f: string) => {
        const v = fields[f];
        if (v === undefined) throw new PromptError(`template field {${f}} has no value`);
        return v;
      });
      if (text) ids.push(...tok.encodePlain(text));
    }
  }
  return Int32Array.from(ids);
}

/** Parsed prompt files by pack folder and manifest hash (a changed manifest is another key). Failures are not kept. */
const packPromptCache = new Map<string, Promise<PromptFile | undefined>>();
/** More packs than anyone installs; the oldest entry goes first. */
const PACK_PROMPT_CACHE_MAX = 64;

/**
 * The pack's prompt templates (`manifest.prompts`), or undefined when it has none: read, checked against the manifest's
 * sha256 and parsed once per (pack folder, manifest hash), then shared by every job (diffusion runs, collaborations)
 * instead of being re-read on every request. A pack object discovered again (packs named by folder are) hits the same
 * entry.
 */
export function loadPackPrompts(pack: Pick<ValidatedPack, 'dir' | 'manifest' | 'manifestSha256' | 'linkRoot'>): Promise<PromptFile | undefined> {
  const file = pack.manifest.prompts;
  if (!file) return Promise.resolve(undefined);
  const key = `${pack.dir}\0${pack.manifestSha256}`;
  let hit = packPromptCache.get(key);
  if (!hit) {
    hit = readPackFile(pack, file).then((bytes) => parsePrompts(bytes.toString('utf8')));
    if (packPromptCache.size >= PACK_PROMPT_CACHE_MAX) packPromptCache.delete(packPromptCache.keys().next().value!);
    packPromptCache.set(key, hit);
    hit.catch(() => {
      if (packPromptCache.get(key) === hit) packPromptCache.delete(key);
    });
  }
  return hit;
}

/** Forgets every cached prompt file (tests). */
export function clearPackPromptCache(): void {
  packPromptCache.clear();
}

/**
 * Prompt templates shipped in a pack (`prompts.json`, written by tools/data/templates.py): the exact token layout
 * the model was trained with. A template is a list of pieces: `{special}` is one control token, `{text}` is text
 * with `{field}` slots, encoded as plain text so that document content can never produce control tokens.
 */
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

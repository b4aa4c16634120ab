/**
 * The two prompts of a CAD task (with and without the document) for every kind of causal LM:
 * - Concert packs: their own prompt templates (prompts.ts);
 * - published instruct models: the model's chat template (tokenizer_config.json `chat_template`), rendered with
 *   @huggingface/jinja. Both rows are the same conversation, with and without the document in the user turn, both
 *   ending in the generation prompt, so CAD still contrasts p(y|c,x) with p(y|x). The template is rendered with
 *   placeholders in place of user text: the template's own text is encoded with control tokens, the user's text as
 *   plain text, so `<|im_end|>` typed in a document stays text;
 * - published base models (no chat template): plain-text prompts, with BOS when tokenizer_config asks for it.
 */
import { Template } from '@huggingface/jinja';
import { renderPieces, type Piece, type PromptTemplate } from './prompts';
import type { PackTokenizer } from './tokenizer';

export type PromptTask = 'summary' | 'qa';

export interface TaskPrompt {
  /** Which template produced the prompts: `pack:summary`, `chat-template`, `plain:summary` … (shown in --json). */
  template: string;
  /** Token ids of the prompt with (`true`) or without the document; `fields` holds document and question. */
  render(fields: Record<string, string>, withDocument: boolean): Int32Array;
}

export class TemplateError extends Error {}

/** A Concert pack's prompt template (null when it has no no-context form, which CAD needs). */
export function packTaskPrompt(name: PromptTask, t: PromptTemplate | undefined, tok: PackTokenizer): TaskPrompt | undefined {
  if (!t?.no_context) return undefined;
  const noContext = t.no_context;
  return { template: `pack:${name}`, render: (fields, withDocument) => renderPieces(withDocument ? t.prompt : noContext, fields, tok) };
}

/** Plain-text prompts for base models (no chat template). */
export const PLAIN_PROMPTS: Record<PromptTask, { prompt: Piece[]; no_context: Piece[] }> = {
  summary: { prompt: [{ text: '{document}\n\nSummary:' }], no_context: [{ text: 'Summary:' }] },
  qa: { prompt: [{ text: '{document}\n\nQuestion: {question}\nAnswer:' }], no_context: [{ text: 'Question: {question}\nAnswer:' }] },
};

export function plainTaskPrompt(name: PromptTask, tok: PackTokenizer, bos: number | undefined): TaskPrompt {
  const t = PLAIN_PROMPTS[name];
  return {
    template: `plain:${name}`,
    render: (fields, withDocument) => {
      const ids = renderPieces(withDocument ? t.prompt : t.no_context, fields, tok);
      return bos === undefined ? ids : Int32Array.from([bos, ...ids]);
    },
  };
}

/** The user turn of an instruct model: the same instruction, with the document before it in the with-document row. */
export function chatUserTurn(name: PromptTask, slot: (field: string) => string, withDocument: boolean): string {
  const instruction =
    name === 'summary'
      ? 'Summarize the document in a few sentences.'
      : `Answer the question${withDocument ? ' using the document' : ''}.\n\nQuestion: ${slot('question')}`;
  return withDocument ? `Document:\n${slot('document')}\n\n${instruction}` : instruction;
}

const MARK = /\uE000(\d+)\uE001/;

/**
 * Renders a chat template with placeholders (private-use characters around a slot number) in place of user text,
 * then encodes the template's text with control tokens and each slot's value as plain text.
 */
export function renderChat(
  template: Template,
  messages: (slot: (field: string) => string) => { role: string; content: string }[],
  fields: Record<string, string>,
  tok: PackTokenizer,
  specials: Record<string, string | undefined>,
): { ids: Int32Array; text: string } {
  const values: string[] = [];
  const slot = (field: string) => {
    const v = fields[field];
    if (v === undefined) throw new TemplateError(`template field {${field}} has no value`);
    values.push(v);
    return `\uE000${values.length - 1}\uE001`;
  };
  const msgs = messages(slot);
  let rendered: string;
  try {
    rendered = template.render({
      messages: msgs,
      add_generation_prompt: true,
      ...Object.fromEntries(Object.entries(specials).filter(([, v]) => v !== undefined)),
    });
  } catch (e) {
    throw new TemplateError(`the chat template failed: ${(e as Error).message}`);
  }
  const parts = rendered.split(new RegExp(MARK.source, 'g'));
  const ids: number[] = [];
  let text = '';
  const used = new Set<number>();
  parts.forEach((p, i) => {
    if (i % 2 === 0) {
      if (p) ids.push(...tok.encodeControl(p));
      text += p;
    } else {
      const n = Number(p);
      const v = values[n];
      if (v === undefined || used.has(n)) throw new TemplateError('the chat template repeated or altered a message');
      used.add(n);
      if (v) ids.push(...tok.encodePlain(v));
      text += v;
    }
  });
  if (used.size !== values.length) throw new TemplateError('the chat template dropped part of a message (e.g. a system turn it does not support)');
  return { ids: Int32Array.from(ids), text };
}

export function chatTaskPrompt(name: PromptTask, source: string, tok: PackTokenizer, specials: Record<string, string | undefined>): TaskPrompt {
  let template: Template;
  try {
    template = new Template(source);
  } catch (e) {
    throw new TemplateError(`the chat template does not parse: ${(e as Error).message}`);
  }
  return {
    template: 'chat-template',
    render: (fields, withDocument) =>
      renderChat(template, (slot) => [{ role: 'user', content: chatUserTurn(name, slot, withDocument) }], fields, tok, specials).ids,
  };
}

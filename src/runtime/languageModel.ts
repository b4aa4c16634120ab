/**
 * A causal LM ready for text jobs: adapter, tokenizer and the prompts of each task (used by the worker and benches).
 * Concert packs bring their prompt templates; published Hugging Face folders (hfLayout.ts) their chat template or,
 * for base models, plain prompts (taskPrompts.ts).
 */
import { OnnxCausalLM, causalLmShape } from './causalLm';
import { chatTemplateOf, isHfManifest, tokenString } from './hfLayout';
import type { SessionCache } from './ort';
import { PackError, readPackFile, type ValidatedPack } from './packs';
import { parsePrompts, type PromptFile } from './prompts';
import { TemplateError, chatTaskPrompt, packTaskPrompt, plainTaskPrompt, type PromptTask, type TaskPrompt } from './taskPrompts';
import { PackTokenizer, checkVerifiedTokenizerJson } from './tokenizer';

export interface LanguageModel {
  pack: ValidatedPack;
  lm: OnnxCausalLM;
  tok: PackTokenizer;
  /** The pack's prompt file (empty for published folders, which use `taskPrompt`). */
  prompts: PromptFile;
  /** The with-document / without-document prompts of a task, or undefined when the model has none. */
  taskPrompt(task: PromptTask): TaskPrompt | undefined;
  /** sha256 of the decoder graph. */
  modelSha256: string;
}

export async function loadTokenizer(pack: ValidatedPack): Promise<PackTokenizer> {
  const name = pack.manifest.tokenizer;
  if (!name) throw new PackError(pack.manifest.id, 'has no tokenizer');
  const text = (await readPackFile(pack, name)).toString('utf8');
  const specials = pack.manifest.specialTokens ?? {};
  // readPackFile has just verified the text against the manifest's sha256, so validation's check of it stands.
  return new PackTokenizer(text, specials, checkVerifiedTokenizerJson(text, pack.manifest.files[name]!.sha256, specials));
}

async function readJsonFile(pack: ValidatedPack, name: string): Promise<Record<string, unknown> | undefined> {
  if (!pack.manifest.files[name]) return undefined;
  const j: unknown = JSON.parse((await readPackFile(pack, name)).toString('utf8'));
  return typeof j === 'object' && j !== null && !Array.isArray(j) ? (j as Record<string, unknown>) : undefined;
}

export async function loadLanguageModel(pack: ValidatedPack, sessions: SessionCache, tok?: PackTokenizer): Promise<LanguageModel> {
  const id = pack.manifest.id;
  const m = pack.manifest;
  if (m.kind !== 'causal-lm') throw new PackError(id, `is a ${m.kind}, not a causal-lm`);
  tok ??= await loadTokenizer(pack);
  const modelSha256 = m.files[m.graphs['decoder']!]!.sha256;
  if (isHfManifest(m)) {
    const eosIds = Array.isArray(m.knobs?.['eosTokenIds']) ? (m.knobs['eosTokenIds'] as number[]) : [];
    const eos = eosIds.length ? eosIds : tok.specialIds['eos'] !== undefined ? [tok.specialIds['eos']] : [];
    if (!eos.length) throw new PackError(id, 'names no end-of-sequence token');
    const pad = tok.specialIds['pad'] ?? eos[0]!;
    const lm = new OnnxCausalLM(await sessions.get(pack, 'decoder'), causalLmShape(pack), eos, pad, { tokenizerVocab: tok.vocabSize });
    const tokConfig = await readJsonFile(pack, 'tokenizer_config.json');
    const chat = chatTemplateOf(tokConfig) ?? (m.files['chat_template.jinja'] ? (await readPackFile(pack, 'chat_template.jinja')).toString('utf8') : undefined);
    const specials = {
      bos_token: tokenString(tokConfig?.['bos_token']),
      eos_token: tokenString(tokConfig?.['eos_token']),
      pad_token: tokenString(tokConfig?.['pad_token']),
      unk_token: tokenString(tokConfig?.['unk_token']),
    };
    const bos = m.knobs?.['addBosToken'] === true ? tok.specialIds['bos'] : undefined;
    const cache = new Map<PromptTask, TaskPrompt>();
    const taskPrompt = (task: PromptTask): TaskPrompt => {
      let p = cache.get(task);
      if (!p) {
        try {
          p = chat ? chatTaskPrompt(task, chat, tok, specials) : plainTaskPrompt(task, tok, bos);
        } catch (e) {
          throw e instanceof TemplateError ? new PackError(id, e.message) : e;
        }
        cache.set(task, p);
      }
      return p;
    };
    return { pack, lm, tok, prompts: { version: 1, prompts: {} }, taskPrompt, modelSha256 };
  }
  if (!m.prompts) throw new PackError(id, 'has no prompt templates (manifest key "prompts")');
  const prompts = parsePrompts((await readPackFile(pack, m.prompts)).toString('utf8'));
  const eos = tok.specialIds['eos'];
  const pad = tok.specialIds['pad'] ?? eos;
  if (eos === undefined || pad === undefined) throw new PackError(id, 'must declare specialTokens.eos');
  const lm = new OnnxCausalLM(await sessions.get(pack, 'decoder'), causalLmShape(pack), eos, pad);
  const taskPrompt = (task: PromptTask) => packTaskPrompt(task, prompts.prompts[task], tok);
  return { pack, lm, tok, prompts, taskPrompt, modelSha256 };
}

/** A causal-lm pack ready for text jobs: adapter, tokenizer and prompt templates (used by the worker and benches). */
import { OnnxCausalLM, causalLmShape } from './causalLm';
import type { SessionCache } from './ort';
import { PackError, readPackFile, type ValidatedPack } from './packs';
import { parsePrompts, type PromptFile } from './prompts';
import { PackTokenizer } from './tokenizer';

export interface LanguageModel {
  pack: ValidatedPack;
  lm: OnnxCausalLM;
  tok: PackTokenizer;
  prompts: PromptFile;
  /** sha256 of the decoder graph. */
  modelSha256: string;
}

export async function loadTokenizer(pack: ValidatedPack): Promise<PackTokenizer> {
  if (!pack.manifest.tokenizer) throw new PackError(pack.manifest.id, 'has no tokenizer');
  return new PackTokenizer((await readPackFile(pack, pack.manifest.tokenizer)).toString('utf8'), pack.manifest.specialTokens ?? {});
}

export async function loadLanguageModel(pack: ValidatedPack, sessions: SessionCache, tok?: PackTokenizer): Promise<LanguageModel> {
  const id = pack.manifest.id;
  if (pack.manifest.kind !== 'causal-lm') throw new PackError(id, `is a ${pack.manifest.kind}, not a causal-lm`);
  tok ??= await loadTokenizer(pack);
  if (!pack.manifest.prompts) throw new PackError(id, 'has no prompt templates (manifest key "prompts")');
  const prompts = parsePrompts((await readPackFile(pack, pack.manifest.prompts)).toString('utf8'));
  const eos = tok.specialIds['eos'];
  const pad = tok.specialIds['pad'] ?? eos;
  if (eos === undefined || pad === undefined) throw new PackError(id, 'must declare specialTokens.eos');
  const lm = new OnnxCausalLM(await sessions.get(pack, 'decoder'), causalLmShape(pack), eos, pad);
  return { pack, lm, tok, prompts, modelSha256: pack.manifest.files[pack.manifest.graphs['decoder']!]!.sha256 };
}

/**
 * `collab/run`: SSD-2 collaboration (thesis ch. 5, "David helps Goliath"). A small user model reads the knowledge
 * passages (chosen by BM25 to fit its window) and the instruction; the core model reads the instruction only, never
 * the knowledge. Every diffusion step combines (1−λ_user)·core + λ_user(1+α)·user(knowledge) − λ_user·α·user(no
 * knowledge), and every model reads the combined logits as self-conditioning. With `compare`, the core alone and the
 * user alone run with the same seed, and the spans where the collaboration's tokens differ from the core's are
 * reported. The autoregressive baseline mixes the same three rows token by token with one causal LM.
 *
 * The core may be remote (engineer R's Open Inference Protocol client): `CollabDeps.connectRemoteCore` turns
 * `params.core` into a `DiffusionLM` and a privacy ledger; without it a remote core is refused clearly.
 */
import {
  COLLAB_DEFAULT_ALPHA,
  COLLAB_DEFAULT_LAMBDA_USER,
  WorkerErrorCode,
  type CollabLedger,
  type CollabRunParams,
  type CollabRunResult,
  type DiffusionStepProgress,
  type KnowledgeItem,
  type RemoteCoreParams,
} from '../protocol/worker';
import { collaborationRecipe, decodeRecipe } from '../engine/autoregressive';
import { collaborationTerms, decodeDiffusion, type DiffusionOptions, type DiffusionTerm } from '../engine/diffusion/decode';
import { CancelledError, ContextTooLongError, EngineInputError } from '../engine/errors';
import type { Decoding } from '../engine/logits';
import type { DiffusionLM } from '../engine/models';
import { chunkKnowledge, retrievePassages, type Passage } from '../runtime/knowledge';
import { loadPackPrompts, renderPieces } from '../runtime/prompts';
import type { ValidatedPack } from '../runtime/packs';
import type { PackTokenizer } from '../runtime/tokenizer';
import { modelText } from './diffusionText';
import { WorkerFailure, type WorkerService } from './service';

export const COLLAB_DEFAULTS = {
  lambdaUser: COLLAB_DEFAULT_LAMBDA_USER,
  alpha: COLLAB_DEFAULT_ALPHA,
  maxTokens: 16,
  steps: 50,
  /** Answers are short facts: greedy projection (top-p 0) is what the bundled user model was evaluated with. */
  topP: 0,
  corePackId: 'concert-ssd-core',
  userPackId: 'concert-ssd-user',
};
/** All knowledge together (characters); passages are cut from it and only the best few are read. */
export const MAX_KNOWLEDGE_CHARS = 2_000_000;
const MAX_INSTRUCTION_CHARS = 4000;
/** Largest passage (tokens): small passages let BM25 pick precisely inside the user model's small window. */
const PASSAGE_TOKENS = 48;
/**
 * Passages scoring under half the best one's BM25 score are not read, even when they would fit: the user model was
 * trained on documents about one thing, and passages about other countries or people beside the right one make it
 * answer with their names (bench/collab-eval.ts, docs/collaboration.md: 16.7% → 25.0% at λ_user 0.5).
 */
const PASSAGE_MIN_RELATIVE_SCORE = 0.5;

const bad = (msg: string) => new WorkerFailure(WorkerErrorCode.BadInput, msg);

/** A core model served elsewhere (src/runtime/oip): the engine sees a `DiffusionLM`; the ledger says what left. */
export interface RemoteCore {
  lm: DiffusionLM;
  /** What identifies the remote model in the run record. */
  model: { packId: string; manifestSha256?: string; modelSha256?: string };
  ledger(): CollabLedger;
  close(): Promise<void>;
}
export type ConnectRemoteCore = (
  params: RemoteCoreParams,
  expect: { vocabSize: number; blockSize: number; k: number; tTrain: number },
  signal: AbortSignal,
) => Promise<RemoteCore>;

export interface CollabDeps {
  /** Present when this build has the remote core client (src/runtime/oip/client.ts). */
  connectRemoteCore?: ConnectRemoteCore;
}

export interface CollabJobControl {
  signal: AbortSignal;
  onStep?: (p: Omit<DiffusionStepProgress, 'progressToken'>) => void;
}

interface Knobs {
  lambdaUser: number;
  alpha: number;
  maxTokens: number;
  topP: number;
  seed: number;
  method: 'diffusion' | 'autoregressive';
}

function checkKnowledge(items: unknown): KnowledgeItem[] {
  if (items === undefined) return [];
  if (!Array.isArray(items)) throw bad('knowledge must be a list of {id, title, text}');
  let total = 0;
  for (const [i, k] of items.entries()) {
    const item = k as Partial<KnowledgeItem> | null;
    if (!item || typeof item.id !== 'string' || typeof item.title !== 'string' || typeof item.text !== 'string')
      throw bad(`knowledge item ${i + 1} must have string id, title and text`);
    if (item.text.includes('\u0000')) throw bad(`knowledge "${item.title}" looks binary (it contains NUL bytes)`);
    total += item.text.length;
  }
  if (total > MAX_KNOWLEDGE_CHARS) throw bad(`the knowledge has ${total} characters; the limit is ${MAX_KNOWLEDGE_CHARS}`);
  return items as KnowledgeItem[];
}

function checkParams(p: CollabRunParams): Knobs {
  if (!p || typeof p.instruction !== 'string' || !p.instruction.trim()) throw bad('the instruction is empty');
  if (p.instruction.length > MAX_INSTRUCTION_CHARS) throw bad(`the instruction has ${p.instruction.length} characters; the limit is ${MAX_INSTRUCTION_CHARS}`);
  const lambdaUser = p.lambdaUser ?? COLLAB_DEFAULTS.lambdaUser;
  if (typeof lambdaUser !== 'number' || !(lambdaUser >= 0 && lambdaUser <= 1)) throw bad(`λ_user must be a number from 0 to 1 (got ${String(p.lambdaUser)})`);
  const alpha = p.alpha ?? COLLAB_DEFAULTS.alpha;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 10)
    throw bad(`alpha must be a number from 0 to 10 (got ${String(p.alpha)})`);
  const maxTokens = p.maxTokens ?? COLLAB_DEFAULTS.maxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 256) throw bad('tokens must be an integer from 1 to 256');
  const topP = p.topP ?? COLLAB_DEFAULTS.topP;
  if (typeof topP !== 'number' || !(topP >= 0 && topP <= 1)) throw bad('top-p must be between 0 and 1');
  const seed = p.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw bad('seed must be a non-negative 32-bit integer');
  const method = p.method ?? 'diffusion';
  if (method !== 'diffusion' && method !== 'autoregressive') throw bad('method must be "diffusion" or "autoregressive"');
  if (method === 'autoregressive' && p.core) throw bad('the autoregressive baseline runs locally only (no remote core)');
  return { lambdaUser, alpha, maxTokens, topP, seed, method };
}

/**
 * The text of generated tokens and where each token's text lies in it: byte-fallback pieces of one character count
 * for the token that completes it; bytes that never form a character are dropped. Leading and trailing white space
 * is trimmed from the text (the spans follow).
 */
export function tokenTexts(tok: Pick<PackTokenizer, 'decode'>, ids: readonly number[]): { text: string; spans: { start: number; end: number }[] } {
  const pieces: string[] = [];
  let prev = '';
  for (let i = 0; i < ids.length; i++) {
    const all = tok.decode(ids.slice(0, i + 1));
    if (all.endsWith('\uFFFD')) {
      pieces.push('');
      continue;
    }
    pieces.push(all.slice(prev.length).replace(/\uFFFD+/g, ''));
    prev = all;
  }
  const raw = pieces.join('');
  const lead = raw.length - raw.trimStart().length;
  const text = raw.trim();
  const spans: { start: number; end: number }[] = [];
  let at = 0;
  for (const piece of pieces) {
    const start = Math.min(Math.max(at - lead, 0), text.length);
    at += piece.length;
    spans.push({ start, end: Math.min(Math.max(at - lead, 0), text.length) });
  }
  return { text, spans };
}

/** Character spans of the collaboration's text whose token differs from the core-only token at the same position. */
export function changedSpans(
  collab: readonly number[],
  core: readonly number[],
  spans: readonly { start: number; end: number }[],
): { start: number; end: number }[] {
  const out: { start: number; end: number }[] = [];
  for (let i = 0; i < collab.length; i++) {
    if (collab[i] === core[i]) continue;
    const s = spans[i];
    if (!s || s.end <= s.start) continue;
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ start: s.start, end: s.end });
  }
  return out;
}

/** The user model's rows and the passages in them, built so that each context plus `newTokens` fits `maxContext`. */
function userContexts(
  render: (document: string, withDocument: boolean) => Int32Array,
  count: (text: string) => number,
  knowledge: KnowledgeItem[],
  instruction: string,
  maxContext: number,
  newTokens: number,
): { withKnowledge: Int32Array; withoutKnowledge: Int32Array; passages: (Passage & { score: number })[]; knowledgeTokens: number } {
  const budget = maxContext - newTokens;
  const withoutKnowledge = render('', false);
  const empty = render('', true);
  if (empty.length > budget)
    throw bad(
      `the instruction is too long for the user model: with ${newTokens} new tokens it needs ${empty.length + newTokens} of its ${maxContext} tokens; shorten it or ask for fewer tokens`,
    );
  const passageTokens = Math.max(1, Math.min(PASSAGE_TOKENS, budget - empty.length));
  const passages = chunkKnowledge(knowledge, passageTokens, count);
  const joined = (chosen: readonly Passage[]) => modelText(chosen.map((c) => c.text).join(' '));
  const chosen = retrievePassages(passages, instruction, budget, (c) => render(joined(c), true).length, PASSAGE_MIN_RELATIVE_SCORE);
  const withKnowledge = render(joined(chosen), true);
  return { withKnowledge, withoutKnowledge, passages: chosen, knowledgeTokens: withKnowledge.length - empty.length };
}

export async function runCollab(service: WorkerService, p: CollabRunParams, job: CollabJobControl, deps: CollabDeps = {}): Promise<CollabRunResult> {
  const started = performance.now();
  const knobs = checkParams(p);
  const knowledge = checkKnowledge(p.knowledge);
  const instruction = modelText(p.instruction);
  try {
    return knobs.method === 'autoregressive'
      ? await runAutoregressive(service, p, knobs, knowledge, instruction, started, job)
      : await runDiffusionCollab(service, p, knobs, knowledge, instruction, started, job, deps);
  } catch (e) {
    if (e instanceof CancelledError) throw new WorkerFailure(WorkerErrorCode.Cancelled, 'collaboration cancelled');
    if (e instanceof ContextTooLongError) throw bad(`${e.message}: shorten the instruction or ask for fewer tokens`);
    if (e instanceof EngineInputError) throw bad(e.message);
    throw e;
  }
}

async function runDiffusionCollab(
  service: WorkerService,
  p: CollabRunParams,
  knobs: Knobs,
  knowledge: KnowledgeItem[],
  instruction: string,
  started: number,
  job: CollabJobControl,
  deps: CollabDeps,
): Promise<CollabRunResult> {
  const user = await service.diffusionModel(p.userPackId ?? COLLAB_DEFAULTS.userPackId);
  const B = user.lm.blockSize;
  const newTokens = Math.ceil(knobs.maxTokens / B) * B;
  const steps = p.steps ?? Math.min(COLLAB_DEFAULTS.steps, user.lm.tTrain);
  if (!Number.isInteger(steps) || steps < 1 || steps > user.lm.tTrain) throw bad(`steps must be an integer from 1 to ${user.lm.tTrain} (the user model's T)`);

  // The core: in this process, or remote (the seam for src/runtime/oip).
  let remote: RemoteCore | undefined;
  let core: { lm: DiffusionLM; tok: PackTokenizer; pack?: ValidatedPack; model: RemoteCore['model'] };
  if (p.core) {
    if (typeof p.core.url !== 'string' || !p.core.url) throw bad('core.url must be the remote core’s URL');
    if (!deps.connectRemoteCore)
      throw new WorkerFailure(WorkerErrorCode.BadInput, 'remote core not available in this build: run without --core (the core then runs on this machine)');
    remote = await deps.connectRemoteCore(p.core, { vocabSize: user.lm.vocabSize, blockSize: B, k: user.lm.k, tTrain: user.lm.tTrain }, job.signal);
    // A remote core shares the user pack's tokenizer (the engine checks vocabulary, block size and K).
    core = { lm: remote.lm, tok: user.tok, model: remote.model };
  } else {
    const local = await service.diffusionModel(p.corePackId ?? COLLAB_DEFAULTS.corePackId);
    core = {
      lm: local.lm,
      tok: local.tok,
      pack: local.pack,
      model: { packId: local.pack.manifest.id, manifestSha256: local.pack.manifestSha256, modelSha256: local.modelSha256 },
    };
    const tokSha = (pk: ValidatedPack) => (pk.manifest.tokenizer ? pk.manifest.files[pk.manifest.tokenizer]?.sha256 : undefined);
    if (tokSha(local.pack) !== tokSha(user.pack))
      throw bad(`the core pack ${local.pack.manifest.id} and the user pack ${user.pack.manifest.id} do not share a tokenizer, so they cannot collaborate`);
  }
  try {
    if (steps > core.lm.tTrain) throw bad(`steps must be an integer from 1 to ${core.lm.tTrain} (the core model's T)`);
    // Contexts: the packs' qa templates; the user reads passages + instruction, the core the instruction alone.
    const userPrompts = await loadPackPrompts(user.pack);
    const qa = userPrompts?.prompts['qa'];
    if (!qa?.no_context)
      throw new WorkerFailure(
        WorkerErrorCode.PackInvalid,
        `model pack "${user.pack.manifest.id}" has no "qa" prompt with a no-context form, so it cannot be the user model`,
      );
    const renderUser = (document: string, withDocument: boolean) =>
      renderPieces(withDocument ? qa.prompt : qa.no_context!, { document, question: instruction }, user.tok);
    const count = (text: string) => user.tok.encodePlain(` ${text}`).length;
    const u = userContexts(renderUser, count, knowledge, instruction, user.lm.maxContext, newTokens);
    const coreQa = core.pack ? (await loadPackPrompts(core.pack))?.prompts['qa'] : qa;
    const coreContext = coreQa?.no_context
      ? renderPieces(coreQa.no_context, { question: instruction }, core.tok)
      : Int32Array.from([core.tok.specialIds['bos'] ?? core.tok.specialIds['eos']!, ...core.tok.encodePlain(` ${instruction}`)]);
    const eos = user.tok.specialIds['eos'];
    const blocks = Math.ceil(knobs.maxTokens / B);
    const decodeWith = async (terms: DiffusionTerm[], variant: 'collab' | 'core-only' | 'user-only') => {
      const o: DiffusionOptions = {
        terms,
        maxTokens: knobs.maxTokens,
        steps,
        projection: { kind: 'sample', topP: knobs.topP },
        seed: knobs.seed,
        selfCondition: 'combined',
        signal: job.signal,
        ...(eos !== undefined && { eos }),
        ...(job.onStep && {
          onStep: (s) => job.onStep!({ variant, block: s.block, blocks, t: s.t, T: s.T, text: user.tok.decode([...s.tokens]), scores: {} }),
        }),
      };
      return decodeDiffusion(core.lm, o);
    };
    const collabTerms = collaborationTerms(
      { lm: core.lm, context: coreContext },
      { lm: user.lm, withKnowledge: u.withKnowledge, withoutKnowledge: u.withoutKnowledge },
      { lambdaUser: knobs.lambdaUser, alpha: knobs.alpha },
    );
    const r = await decodeWith(collabTerms, 'collab');
    const out = tokenTexts(user.tok, r.tokens);
    let coreOnly: { text: string; tokens: number[] } | undefined;
    let userOnly: { text: string } | undefined;
    if (p.compare) {
      const c = await decodeWith([{ lm: core.lm, context: coreContext, weight: 1, label: 'core' }], 'core-only');
      coreOnly = { text: tokenTexts(user.tok, c.tokens).text, tokens: c.tokens };
      const uo = await decodeWith([{ lm: user.lm, context: u.withKnowledge, weight: 1, label: 'user with knowledge' }], 'user-only');
      userOnly = { text: tokenTexts(user.tok, uo.tokens).text };
    }
    const provider = service.providerReport();
    const ledger: CollabLedger = remote
      ? remote.ledger()
      : {
          coreLocation: 'local',
          requests: 0,
          bytesSent: 0,
          bytesReceived: 0,
          sent: [],
          summary: 'core ran in this process; nothing left the machine',
        };
    return {
      text: out.text,
      tokens: r.tokens,
      stoppedBy: r.stoppedBy,
      ...(coreOnly && { coreOnly: { text: coreOnly.text } }),
      ...(userOnly && { userOnly }),
      passages: u.passages.map((x) => ({ itemId: x.itemId, title: x.title, text: x.text, score: x.score })),
      changedByUser: coreOnly ? changedSpans(r.tokens, coreOnly.tokens, out.spans) : [],
      ledger,
      record: {
        method: 'diffusion',
        core: { ...core.model, location: remote ? p.core!.url : 'local' },
        user: { packId: user.pack.manifest.id, manifestSha256: user.pack.manifestSha256, modelSha256: user.modelSha256 },
        seed: knobs.seed,
        knobs: { lambdaUser: knobs.lambdaUser, alpha: knobs.alpha, steps, topP: knobs.topP, maxTokens: knobs.maxTokens, minTokens: 0 },
        promptTokens: { core: coreContext.length, userWithKnowledge: u.withKnowledge.length, userWithoutKnowledge: u.withoutKnowledge.length },
        knowledgeTokens: u.knowledgeTokens,
        provider: provider.chosen,
        device: provider.device,
        durationMs: Math.round(performance.now() - started),
      },
    };
  } finally {
    await remote?.close();
  }
}

/** The autoregressive baseline: the same three rows mixed token by token with one causal LM (the core pack's). */
async function runAutoregressive(
  service: WorkerService,
  p: CollabRunParams,
  knobs: Knobs,
  knowledge: KnowledgeItem[],
  instruction: string,
  started: number,
  job: CollabJobControl,
): Promise<CollabRunResult> {
  if (p.userPackId !== undefined && p.corePackId !== undefined && p.userPackId !== p.corePackId)
    throw bad('the autoregressive baseline runs one causal LM: give one pack (corePackId) or the same pack for both');
  const model = await service.languageModel(p.corePackId ?? p.userPackId);
  const template = model.taskPrompt('qa');
  if (!template) throw new WorkerFailure(WorkerErrorCode.PackInvalid, `model pack "${model.pack.manifest.id}" has no "qa" prompt with a no-context form`);
  const render = (document: string, withDocument: boolean) => template.render({ document, question: instruction }, withDocument);
  const count = (text: string) => model.tok.encodePlain(` ${text}`).length;
  const u = userContexts(render, count, knowledge, instruction, model.lm.maxContext, knobs.maxTokens);
  const decoding: Decoding = knobs.topP > 0 ? { mode: 'sample', temperature: 1, topP: knobs.topP } : { mode: 'greedy' };
  const stopTokens = [...new Set([...Object.values(model.tok.specialIds), ...model.lm.eosIds])];
  const run = async (lambdaUser: number, alpha: number) => {
    if (job.signal.aborted) throw new CancelledError(undefined);
    const r = await decodeRecipe(model.lm, {
      terms: collaborationRecipe(u.withoutKnowledge, u.withKnowledge, u.withoutKnowledge, { lambdaUser, alpha }),
      decoding,
      maxTokens: knobs.maxTokens,
      seed: knobs.seed,
      stopTokens,
      signal: job.signal,
    });
    return { ids: r.tokens.map((t) => t.id), stoppedBy: r.stoppedBy };
  };
  const r = await run(knobs.lambdaUser, knobs.alpha);
  const out = tokenTexts(model.tok, r.ids);
  const coreOnly = p.compare ? await run(0, knobs.alpha) : undefined;
  const userOnly = p.compare ? await run(1, 0) : undefined;
  const provider = service.providerReport();
  const id = { packId: model.pack.manifest.id, manifestSha256: model.pack.manifestSha256, modelSha256: model.modelSha256 };
  return {
    text: out.text,
    tokens: r.ids,
    stoppedBy: r.stoppedBy === 'stop-token' ? 'eos' : 'max-tokens',
    ...(coreOnly && { coreOnly: { text: tokenTexts(model.tok, coreOnly.ids).text } }),
    ...(userOnly && { userOnly: { text: tokenTexts(model.tok, userOnly.ids).text } }),
    passages: u.passages.map((x) => ({ itemId: x.itemId, title: x.title, text: x.text, score: x.score })),
    changedByUser: coreOnly ? changedSpans(r.ids, coreOnly.ids, out.spans) : [],
    ledger: { coreLocation: 'local', requests: 0, bytesSent: 0, bytesReceived: 0, sent: [], summary: 'core ran in this process; nothing left the machine' },
    record: {
      method: 'autoregressive',
      core: { ...id, location: 'local' },
      user: id,
      seed: knobs.seed,
      knobs: { lambdaUser: knobs.lambdaUser, alpha: knobs.alpha, steps: 0, topP: knobs.topP, maxTokens: knobs.maxTokens, minTokens: 0 },
      promptTokens: { core: u.withoutKnowledge.length, userWithKnowledge: u.withKnowledge.length, userWithoutKnowledge: u.withoutKnowledge.length },
      knowledgeTokens: u.knowledgeTokens,
      provider: provider.chosen,
      device: provider.device,
      durationMs: Math.round(performance.now() - started),
    },
  };
}

/**
 * `diffusion/run`: continue or rewrite text with the simplex diffusion LM, steered at every step by classifier
 * guidance (thesis ch. 3). Streams each step's argmax tokens and classifier scores for the timeline view.
 */
import {
  DIFFUSION_DEFAULT_MIN_TOKENS,
  DIFFUSION_DEFAULT_TOP_P,
  PROJECTIONS,
  WorkerErrorCode,
  type AttributeScore,
  type AttributeTarget,
  type DiffusionRunParams,
  type DiffusionRunResult,
  type DiffusionStepProgress,
} from '../protocol/worker';
import { decodeDiffusion, type DiffusionOptions, type GuidanceTerm } from '../engine/diffusion/decode';
import type { Projection } from '../engine/diffusion/projection';
import { CancelledError, ContextTooLongError, EngineInputError } from '../engine/errors';
import { loadPackPrompts, renderPieces } from '../runtime/prompts';
import type { ValidatedPack } from '../runtime/packs';
import type { OnnxClassifier } from '../runtime/classifier';
import type { PackTokenizer } from '../runtime/tokenizer';
import { modelText, splitParagraphs, tailChars, withoutBrokenBytes } from './diffusionText';
import { WorkerFailure, type WorkerService } from './service';

export const DIFFUSION_DEFAULTS = {
  maxTokens: 24,
  minTokens: DIFFUSION_DEFAULT_MIN_TOKENS,
  steps: 50,
  topP: DIFFUSION_DEFAULT_TOP_P,
  projection: 'sampling' as const,
  strength: 0.5,
  earlyStop: 0,
};
/** Longest text to rewrite in one request (about 5000 tokens, minutes of work on a CPU). */
const MAX_TEXT_CHARS = 20_000;
/** Only the end of a longer prompt is read: the model's window holds far less (its head and the latest tokens). */
const MAX_PROMPT_CHARS = 20_000;

const bad = (msg: string) => new WorkerFailure(WorkerErrorCode.BadInput, msg);

export interface DiffusionJobControl {
  signal: AbortSignal;
  onStep?: (p: Omit<DiffusionStepProgress, 'progressToken'>) => void;
}

export async function runDiffusion(service: WorkerService, p: DiffusionRunParams, job: DiffusionJobControl): Promise<DiffusionRunResult> {
  const started = performance.now();
  if (p.mode !== 'generate' && p.mode !== 'rewrite') throw bad('mode must be "generate" or "rewrite"');
  if (typeof p.prompt !== 'string') throw bad('prompt must be a string');
  if (p.mode === 'rewrite' && (typeof p.text !== 'string' || !p.text.trim())) throw bad('there is no text to rewrite: select some text first');
  if (p.mode === 'rewrite' && p.text!.length > MAX_TEXT_CHARS)
    throw bad(`the text to rewrite has ${p.text!.length} characters; at most ${MAX_TEXT_CHARS} are rewritten at a time: rewrite it in parts`);
  if (p.mode === 'generate' && !p.prompt.trim()) throw bad('the prompt is empty: give some text to continue');
  const projection = p.projection ?? DIFFUSION_DEFAULTS.projection;
  if (!PROJECTIONS.includes(projection)) throw bad(`projection must be one of ${PROJECTIONS.join(', ')}`);
  const topP = p.topP ?? DIFFUSION_DEFAULTS.topP;
  if (!(topP >= 0 && topP <= 1)) throw bad('top-p must be between 0 and 1');
  const earlyStop = p.earlyStop ?? DIFFUSION_DEFAULTS.earlyStop;
  const strength = p.strength ?? DIFFUSION_DEFAULTS.strength;
  const maxTokens = p.maxTokens ?? DIFFUSION_DEFAULTS.maxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 512) throw bad('tokens must be an integer from 1 to 512');
  const minTokensAsked = p.minTokens ?? DIFFUSION_DEFAULTS.minTokens;
  if (!Number.isInteger(minTokensAsked) || minTokensAsked < 0 || minTokensAsked > 512) throw bad('the minimum of new tokens must be an integer from 0 to 512');
  // A minimum above the budget means "write the whole budget".
  const minTokens = Math.min(minTokensAsked, maxTokens);
  const seed = p.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw bad('seed must be a non-negative 32-bit integer');

  const model = await service.diffusionModel(p.packId);
  const steps = p.steps ?? Math.min(DIFFUSION_DEFAULTS.steps, model.lm.tTrain);
  if (!Number.isInteger(steps) || steps < 1 || steps > model.lm.tTrain) throw bad(`steps must be an integer from 1 to ${model.lm.tTrain} (the model's T)`);

  // Guidance: every requested attribute must name an installed classifier and one of its labels. Only those
  // classifiers are loaded here (the attribute comes from the manifest): a broken classifier pack fails only the runs
  // that steer with it.
  const installed = await service.classifierPacks();
  const targets: AttributeTarget[] = p.attributes ?? [];
  const classifiers: { pack: ValidatedPack; clf: OnnxClassifier }[] = [];
  const guidance: GuidanceTerm[] = [];
  for (const a of targets) {
    const found = installed.find((c) => c.attribute === a.attribute);
    if (!found) throw bad(`unknown attribute "${a.attribute}" (installed: ${installed.map((c) => c.attribute).join(', ') || 'none'})`);
    let clf: OnnxClassifier;
    try {
      clf = await service.classifier(found.pack);
    } catch (e) {
      throw new WorkerFailure(WorkerErrorCode.PackInvalid, `the ${a.attribute} classifier cannot be used: ${(e as Error).message}`);
    }
    const hit = { pack: found.pack, clf };
    if (!classifiers.some((c) => c.pack === hit.pack)) classifiers.push(hit);
    const label = hit.clf.labels.indexOf(a.label);
    if (label < 0) throw bad(`"${a.label}" is not a label of ${a.attribute} (labels: ${hit.clf.labels.join(', ')})`);
    if (typeof a.lambda !== 'number' || !Number.isFinite(a.lambda) || a.lambda < 0) throw bad(`the strength λ for ${a.attribute} must be a number ≥ 0`);
    if (hit.clf.vocabSize !== model.lm.vocabSize)
      throw bad(
        `the ${a.attribute} classifier (${hit.pack.manifest.id}) was made for another model than ${model.pack.manifest.id}, so it cannot steer it: steer without ${a.attribute}, or install a ${a.attribute} classifier made for this model`,
      );
    guidance.push({ classifier: hit.clf, label, lambda: a.lambda });
  }
  if (new Set(targets.map((a) => a.attribute)).size !== targets.length) throw bad('each attribute may be given once');

  // Context: the pack's "lm" template head (<s>), then the text before, as the model reads text (one line). With no
  // text before (a rewrite of a document's first words), the head alone starts the run, as it starts every training text.
  const head = await contextHead(model);
  const encode = (text: string): number[] => (text ? [...model.tok.encodePlain(` ${text}`)] : []);
  const contextOf = (before: string) => Int32Array.from([...head, ...encode(modelText(tailChars(before, MAX_PROMPT_CHARS)))]);
  // A rewrite runs paragraph by paragraph (the model never saw line breaks); each reads the text before it, with the
  // paragraphs already rewritten. Long paragraphs slide through the model's window block by block.
  const parts = p.mode === 'rewrite' ? splitParagraphs(p.text!).map((x) => ({ ...x, tokens: Int32Array.from(encode(modelText(x.text))) })) : undefined;
  const eos = model.tok.specialIds['eos'];
  const proj: Projection = projection === 'multihot' ? { kind: 'multi-hot', topP } : { kind: 'sample', topP: projection === 'greedy' ? 0 : topP };
  const B = model.lm.blockSize;
  const blocks = parts ? parts.reduce((n, x) => n + Math.ceil(x.tokens.length / B), 0) : Math.ceil(maxTokens / B);
  let blockOffset = 0;
  const base: Omit<DiffusionOptions, 'terms' | 'seed'> = {
    maxTokens,
    steps,
    projection: proj,
    guidance,
    earlyStop,
    // Long prompts and long outputs slide through the model's context window, keeping the template head.
    slide: { keepHead: head.length },
    scoreEveryStep: !!job.onStep,
    signal: job.signal,
    ...(job.onStep && {
      onStep: (s) =>
        job.onStep!({
          block: blockOffset + s.block,
          blocks,
          t: s.t,
          T: s.T,
          text: withoutBrokenBytes(model.tok.decode([...s.tokens])),
          scores: Object.fromEntries(targets.map((a, i) => [a.attribute, s.scores[i]!])),
        }),
    }),
  };

  try {
    let r: { tokens: number[]; stoppedBy: 'eos' | 'max-tokens' };
    let text: string;
    if (!parts) {
      // End-of-text may end a continuation, but only after minTokens new tokens.
      r = await decodeDiffusion(model.lm, {
        ...base,
        terms: [{ context: contextOf(p.prompt), weight: 1, label: 'prompt' }],
        seed,
        ...(eos !== undefined && { eos, minTokens }),
      });
      text = withoutBrokenBytes(model.tok.decode(r.tokens)).trim();
    } else {
      r = { tokens: [], stoppedBy: 'max-tokens' };
      text = '';
      let before = p.prompt;
      for (const [i, part] of parts.entries()) {
        const out = await decodeDiffusion(model.lm, {
          ...base,
          terms: [{ context: contextOf(before), weight: 1, label: 'prompt' }],
          // Part 0 keeps the run's seed (a one-paragraph rewrite is what it always was); later parts draw other noise.
          seed: (seed + i) >>> 0,
          // A rewrite keeps the length of the original: end-of-text is suppressed, not a reason to drop the rest.
          ...(eos !== undefined && { suppress: [eos] }),
          rewrite: { tokens: part.tokens, strength },
        });
        const rewritten = withoutBrokenBytes(model.tok.decode(out.tokens)).trim();
        r.tokens.push(...out.tokens);
        text += rewritten + part.after;
        before = `${before} ${rewritten}`;
        blockOffset += Math.ceil(part.tokens.length / B);
      }
      text = text.trim();
    }
    // Final scores of the output under every installed classifier (the external judge is separate: bench/), loaded
    // now; one that cannot be loaded is left out of the scores (the worker log and the model listing say why).
    const attributes: AttributeScore[] = [];
    for (const { pack } of r.tokens.length ? installed : []) {
      let c = classifiers.find((x) => x.pack === pack);
      if (!c) {
        try {
          c = { pack, clf: await service.classifier(pack) };
        } catch (e) {
          console.error(`diffusion/run: classifier pack ${pack.manifest.id} left out of the scores: ${(e as Error).message}`);
          continue;
        }
      }
      if (c.clf.vocabSize !== model.lm.vocabSize) continue;
      const probs = await c.clf.classifyTokens(r.tokens);
      const target = targets.find((a) => a.attribute === c.clf.attribute)?.label;
      attributes.push({ attribute: c.clf.attribute, ...(target && { target }), probabilities: Object.fromEntries(c.clf.labels.map((l, i) => [l, probs[i]!])) });
    }
    const provider = service.providerReport();
    return {
      mode: p.mode,
      text,
      tokens: r.tokens,
      stoppedBy: r.stoppedBy,
      attributes,
      model: { id: model.pack.manifest.id, ...(model.pack.manifest.displayName && { displayName: model.pack.manifest.displayName }) },
      run: {
        packId: model.pack.manifest.id,
        manifestSha256: model.pack.manifestSha256,
        modelSha256: model.modelSha256,
        classifiers: classifiers
          .filter((c) => targets.some((a) => a.attribute === c.clf.attribute))
          .map((c) => ({ id: c.pack.manifest.id, manifestSha256: c.pack.manifestSha256 })),
        seed,
        knobs: {
          steps,
          topP,
          projection,
          earlyStop,
          ...(p.mode === 'rewrite' ? { strength } : { minTokens }),
          maxTokens: parts ? r.tokens.length : maxTokens,
          attributes: targets,
        },
        provider: provider.chosen,
        device: provider.device,
        durationMs: Math.round(performance.now() - started),
      },
    };
  } catch (e) {
    if (e instanceof CancelledError) throw new WorkerFailure(WorkerErrorCode.Cancelled, `${p.mode === 'rewrite' ? 'rewrite' : 'generation'} cancelled`);
    // With a sliding window only a pack whose template fills its whole window is too long: say so in the user's words.
    if (e instanceof ContextTooLongError)
      throw bad(
        `the model pack ${model.pack.manifest.id} cannot write text: its prompt template leaves no room in its ${e.limit}-token window; choose another diffusion model pack`,
      );
    if (e instanceof EngineInputError) throw bad(e.message);
    throw e;
  }
}

/**
 * The head of every context of a pack: its "lm" template prompt (`<s>`), or its bos (else eos) token. The prompt file
 * is read and parsed once per pack (runtime/prompts.ts loadPackPrompts), not on every run.
 */
async function contextHead(model: { pack: ValidatedPack; tok: PackTokenizer }): Promise<Int32Array> {
  const lm = (await loadPackPrompts(model.pack))?.prompts['lm'];
  return lm ? renderPieces(lm.prompt, {}, model.tok) : Int32Array.of(model.tok.specialIds['bos'] ?? model.tok.specialIds['eos'] ?? 0);
}

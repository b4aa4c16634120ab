/**
 * `diffusion/run`: continue or rewrite text with the simplex diffusion LM, steered at every step by classifier
 * guidance (thesis ch. 3). Streams each step's argmax tokens and classifier scores for the timeline view.
 */
import { DIFFUSION_DEFAULT_TOP_P, PROJECTIONS, WorkerErrorCode, type AttributeScore, type AttributeTarget, type DiffusionRunParams, type DiffusionRunResult, type DiffusionStepProgress } from '../protocol/worker';
import { decodeDiffusion, type GuidanceTerm } from '../engine/diffusion/decode';
import type { Projection } from '../engine/diffusion/projection';
import { CancelledError, ContextTooLongError, EngineInputError } from '../engine/errors';
import { parsePrompts, renderPieces } from '../runtime/prompts';
import { readPackFile } from '../runtime/packs';
import { WorkerFailure, type WorkerService } from './service';

export const DIFFUSION_DEFAULTS = { maxTokens: 24, steps: 50, topP: DIFFUSION_DEFAULT_TOP_P, projection: 'sampling' as const, strength: 0.5, earlyStop: 0 };
const MAX_TEXT_CHARS = 20_000;

const bad = (msg: string) => new WorkerFailure(WorkerErrorCode.BadInput, msg);

export interface DiffusionJobControl {
  signal: AbortSignal;
  onStep?: (p: Omit<DiffusionStepProgress, 'progressToken'>) => void;
}

export async function runDiffusion(service: WorkerService, p: DiffusionRunParams, job: DiffusionJobControl): Promise<DiffusionRunResult> {
  const started = performance.now();
  if (p.mode !== 'generate' && p.mode !== 'rewrite') throw bad('mode must be "generate" or "rewrite"');
  if (typeof p.prompt !== 'string') throw bad('prompt must be a string');
  if (p.prompt.length > MAX_TEXT_CHARS) throw bad(`the prompt is longer than ${MAX_TEXT_CHARS} characters`);
  if (p.mode === 'rewrite' && (typeof p.text !== 'string' || !p.text.trim())) throw bad('there is no text to rewrite: select some text first');
  if (p.mode === 'generate' && !p.prompt.trim()) throw bad('the prompt is empty: give some text to continue');
  const projection = p.projection ?? DIFFUSION_DEFAULTS.projection;
  if (!PROJECTIONS.includes(projection)) throw bad(`projection must be one of ${PROJECTIONS.join(', ')}`);
  const topP = p.topP ?? DIFFUSION_DEFAULTS.topP;
  if (!(topP >= 0 && topP <= 1)) throw bad('top-p must be between 0 and 1');
  const earlyStop = p.earlyStop ?? DIFFUSION_DEFAULTS.earlyStop;
  const strength = p.strength ?? DIFFUSION_DEFAULTS.strength;
  const maxTokens = p.maxTokens ?? DIFFUSION_DEFAULTS.maxTokens;
  if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 512) throw bad('tokens must be an integer from 1 to 512');
  const seed = p.seed ?? Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) throw bad('seed must be a non-negative 32-bit integer');

  const model = await service.diffusionModel(p.packId);
  const steps = p.steps ?? Math.min(DIFFUSION_DEFAULTS.steps, model.lm.tTrain);
  if (!Number.isInteger(steps) || steps < 1 || steps > model.lm.tTrain) throw bad(`steps must be an integer from 1 to ${model.lm.tTrain} (the model's T)`);

  // Guidance: every requested attribute must name an installed classifier and one of its labels.
  const classifiers = await service.classifiers();
  const targets: AttributeTarget[] = p.attributes ?? [];
  const guidance: GuidanceTerm[] = targets.map((a) => {
    const hit = classifiers.find((c) => c.clf.attribute === a.attribute);
    if (!hit) throw bad(`unknown attribute "${a.attribute}" (installed: ${classifiers.map((c) => c.clf.attribute).join(', ') || 'none'})`);
    const label = hit.clf.labels.indexOf(a.label);
    if (label < 0) throw bad(`"${a.label}" is not a label of ${a.attribute} (labels: ${hit.clf.labels.join(', ')})`);
    if (typeof a.lambda !== 'number' || !Number.isFinite(a.lambda) || a.lambda < 0) throw bad(`the strength λ for ${a.attribute} must be a number ≥ 0`);
    if (hit.clf.vocabSize !== model.lm.vocabSize) throw bad(`classifier ${hit.pack.manifest.id} does not share the model's tokenizer`);
    return { classifier: hit.clf, label, lambda: a.lambda };
  });
  if (new Set(targets.map((a) => a.attribute)).size !== targets.length) throw bad('each attribute may be given once');

  // Context: the pack's "lm" template (<s>) then the prompt text with its slot space.
  const prompts = model.pack.manifest.prompts ? parsePrompts((await readPackFile(model.pack, model.pack.manifest.prompts)).toString('utf8')) : undefined;
  const head = prompts?.prompts['lm'] ? renderPieces(prompts.prompts['lm'].prompt, {}, model.tok) : Int32Array.of(model.tok.specialIds['bos'] ?? model.tok.specialIds['eos']!);
  const promptText = p.prompt.trim();
  const context = Int32Array.from([...head, ...(promptText ? model.tok.encodePlain(` ${promptText}`) : [])]);
  const original = p.mode === 'rewrite' ? Int32Array.from(model.tok.encodePlain(` ${p.text!.trim()}`)) : undefined;
  const eos = model.tok.specialIds['eos'];
  const proj: Projection = projection === 'multihot' ? { kind: 'multi-hot', topP } : { kind: 'sample', topP: projection === 'greedy' ? 0 : topP };
  const blocks = Math.ceil((original?.length ?? maxTokens) / model.lm.blockSize);

  try {
    const r = await decodeDiffusion(model.lm, {
      terms: [{ context, weight: 1, label: 'prompt' }],
      maxTokens,
      steps,
      projection: proj,
      seed,
      guidance,
      earlyStop,
      // A rewrite keeps the length of the original: end-of-text is suppressed, not a reason to drop the rest.
      ...(eos !== undefined && (original ? { suppress: [eos] } : { eos })),
      ...(original && { rewrite: { tokens: original, strength } }),
      // Long prompts and long outputs slide through the model's context window, keeping the template head.
      slide: { keepHead: head.length },
      scoreEveryStep: !!job.onStep,
      signal: job.signal,
      ...(job.onStep && {
        onStep: (s) =>
          job.onStep!({
            block: s.block,
            blocks,
            t: s.t,
            T: s.T,
            text: model.tok.decode([...s.tokens]),
            scores: Object.fromEntries(targets.map((a, i) => [a.attribute, s.scores[i]!])),
          }),
      }),
    });
    const text = model.tok.decode(r.tokens).trim();
    // Final scores of the output under every installed classifier (the external judge is separate: bench/).
    const attributes: AttributeScore[] = [];
    for (const c of classifiers) {
      if (c.clf.vocabSize !== model.lm.vocabSize || !r.tokens.length) continue;
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
        classifiers: classifiers.filter((c) => targets.some((a) => a.attribute === c.clf.attribute)).map((c) => ({ id: c.pack.manifest.id, manifestSha256: c.pack.manifestSha256 })),
        seed,
        knobs: { steps, topP, projection, earlyStop, ...(p.mode === 'rewrite' && { strength }), maxTokens: original ? original.length : maxTokens, attributes: targets },
        provider: provider.chosen,
        device: provider.device,
        durationMs: Math.round(performance.now() - started),
      },
    };
  } catch (e) {
    if (e instanceof CancelledError) throw new WorkerFailure(WorkerErrorCode.Cancelled, `${p.mode === 'rewrite' ? 'rewrite' : 'generation'} cancelled`);
    if (e instanceof ContextTooLongError || e instanceof EngineInputError) throw bad(e.message);
    throw e;
  }
}

/**
 * What the diffusion evaluations share (bench/diffusion-eval.ts, bench/diffusion-curve.ts): the bundled core model
 * with its context head, the guidance classifier, and the two judges of a steered continuation —
 *  - VADER, an EXTERNAL sentiment judge (a lexicon scorer the data pipeline keeps out of labelling): compound > 0.05
 *    counts for the positive target, < −0.05 for the negative one, anything else is a miss;
 *  - perplexity under the bundled causal LM after its `lm` prompt (teacher forcing through the KV cache).
 */
import * as path from 'node:path';
import { logSoftmax } from '../../src/engine/logits';
import { OnnxClassifier } from '../../src/runtime/classifier';
import { OnnxDiffusionLM, diffusionShape } from '../../src/runtime/diffusionLm';
import { loadLanguageModel, loadTokenizer } from '../../src/runtime/languageModel';
import type { SessionCache } from '../../src/runtime/ort';
import { readPackFile, validatePack, type ValidatedPack } from '../../src/runtime/packs';
import { parsePrompts, renderPieces } from '../../src/runtime/prompts';
import type { PackTokenizer } from '../../src/runtime/tokenizer';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vader = require('vader-sentiment') as { SentimentIntensityAnalyzer: { polarity_scores(s: string): { compound: number } } };

/** Openings to continue, none of them in the training templates. */
export const DIFFUSION_PROMPTS = [
  'The movie',
  'My neighbour',
  'The new phone',
  'This restaurant',
  'The weather this week',
  'Our trip to the coast',
  'The book I read',
  'The service at the hotel',
  'The concert last night',
  'My first day at work',
  'The old car',
  'The city council',
  'This software update',
  'The garden',
  'The train journey',
];

/** The two steering targets: the classifier's label index and its name. */
export const SENTIMENT_TARGETS = [
  [1, 'positive'],
  [0, 'negative'],
] as const;

/** Share of distinct word n-grams among all of them in `texts`. */
export function distinct(texts: string[], n: number): number {
  const grams = new Set<string>();
  let total = 0;
  for (const t of texts) {
    const w = t.toLowerCase().split(/\s+/).filter(Boolean);
    for (let i = 0; i + n <= w.length; i++) {
      grams.add(w.slice(i, i + n).join(' '));
      total++;
    }
  }
  return total ? grams.size / total : 0;
}

/** Whether VADER reads prompt + continuation as the target sentiment (a neutral verdict is a miss). */
export function vaderAgrees(prompt: string, text: string, target: 'positive' | 'negative'): boolean {
  const compound = vader.SentimentIntensityAnalyzer.polarity_scores(`${prompt} ${text}`).compound;
  return target === 'positive' ? compound > 0.05 : compound < -0.05;
}

export interface DiffusionJudges {
  pack: ValidatedPack;
  tok: PackTokenizer;
  /** The core model as the product runs it (context reuse on). */
  lm: OnnxDiffusionLM;
  /** Another adapter over the same sessions, made with `reuseContext` as asked. */
  adapter(reuseContext: boolean): OnnxDiffusionLM;
  clfPack: ValidatedPack;
  clf: OnnxClassifier;
  /** The context a continuation of `prompt` reads: the pack's `lm` head, then the prompt as plain text. */
  context(prompt: string): Int32Array;
  /** Summed negative log-likelihood of `text` after `prompt` under the causal LM, and its token count. */
  nll(prompt: string, text: string): Promise<{ nll: number; n: number }>;
}

export async function loadDiffusionJudges(sessions: SessionCache, dirs: { pack: string; classifier: string; lm: string }): Promise<DiffusionJudges> {
  const pack = await validatePack(path.resolve(dirs.pack), 'bundled');
  const tok = await loadTokenizer(pack);
  const [contextGraph, denoiser] = [await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser')];
  const adapter = (reuseContext: boolean) => new OnnxDiffusionLM(contextGraph, denoiser, diffusionShape(pack), tok.specialIds['pad']!, reuseContext);
  const clfPack = await validatePack(path.resolve(dirs.classifier), 'bundled');
  const clf = new OnnxClassifier(await sessions.get(clfPack, 'classifier'));
  const judgeLm = await loadLanguageModel(await validatePack(path.resolve(dirs.lm), 'bundled'), sessions);
  const prompts = pack.manifest.prompts ? parsePrompts((await readPackFile(pack, pack.manifest.prompts)).toString('utf8')) : undefined;
  const head = prompts?.prompts['lm'] ? [...renderPieces(prompts.prompts['lm'].prompt, {}, tok)] : [tok.specialIds['bos']!];
  const lmHead = [...renderPieces(judgeLm.prompts.prompts['lm']!.prompt, {}, judgeLm.tok)];
  return {
    pack,
    tok,
    lm: adapter(true),
    adapter,
    clfPack,
    clf,
    context: (prompt) => Int32Array.from([...head, ...tok.encodePlain(` ${prompt}`)]),
    nll: async (prompt, text) => {
      const ctx = [...lmHead, ...judgeLm.tok.encodePlain(` ${prompt}`)];
      const cont = judgeLm.tok.encodePlain(` ${text}`);
      if (!cont.length) return { nll: 0, n: 0 };
      let s = await judgeLm.lm.prefill([Int32Array.from(ctx)]);
      let nll = 0;
      for (const id of cont) {
        nll -= logSoftmax(s.logits[0]!)[id]!;
        s = await judgeLm.lm.extend(s.state, Int32Array.of(id));
      }
      return { nll, n: cont.length };
    },
  };
}

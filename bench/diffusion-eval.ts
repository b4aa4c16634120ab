/**
 * Controlled generation with classifier guidance (thesis §3.3.3, scaled down), on the bundled diffusion core model:
 * short prompts × both polarities × several samples, for λ ∈ {0, small, large}. Reports
 *  - accuracy of an EXTERNAL sentiment judge (VADER, which the data pipeline keeps out of labelling; compound > 0.05
 *    positive, < −0.05 negative, otherwise counted as a miss),
 *  - the guidance classifier's own accuracy (for reference),
 *  - perplexity of the continuations under the bundled causal LM,
 *  - distinct-1/2/3 across the samples.
 * Usage: node --import tsx bench/diffusion-eval.ts [--pack models/concert-ssd-core] [--classifier models/concert-clf-sentiment]
 *        [--lm models/concert-lm-small] [--samples 3] [--tokens 16]
 *        [--steps 50] [--top-p 0.5] [--lambdas 0,100,400,1000] [--out docs/diffusion-eval.json]
 * `--top-p` takes a list too (`--top-p 0.3,0.5,0.7`): the table is then the λ × top-p grid behind the defaults, and the
 * same seeds are drawn in every cell so that each top-p's λ = 0 row is the unguided baseline of its own draws.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeDiffusion } from '../src/engine/diffusion/decode';
import { logSoftmax } from '../src/engine/logits';
import { OnnxClassifier } from '../src/runtime/classifier';
import { OnnxDiffusionLM, diffusionShape } from '../src/runtime/diffusionLm';
import { loadLanguageModel, loadTokenizer } from '../src/runtime/languageModel';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { parsePrompts, renderPieces } from '../src/runtime/prompts';
import { readPackFile } from '../src/runtime/packs';
import { arg } from './common';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const vader = require('vader-sentiment') as { SentimentIntensityAnalyzer: { polarity_scores(s: string): { compound: number } } };

const PROMPTS = [
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

function distinct(texts: string[], n: number): number {
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

async function main(): Promise<void> {
  const samples = Number(arg('samples', '3'));
  const tokens = Number(arg('tokens', '16'));
  const steps = Number(arg('steps', '50'));
  const lambdas = arg('lambdas', '0,100,400,1000').split(',').map(Number);
  const topPs = arg('top-p', '0.5').split(',').map(Number);
  const sessions = new SessionCache('cpu', Number(arg('threads', '2')), 0);
  const pack = await validatePack(path.resolve(arg('pack', 'models/concert-ssd-core')), 'bundled');
  const tok = await loadTokenizer(pack);
  const lm = new OnnxDiffusionLM(await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser'), diffusionShape(pack), tok.specialIds['pad']!);
  const clfPack = await validatePack(path.resolve(arg('classifier', 'models/concert-clf-sentiment')), 'bundled');
  const clf = new OnnxClassifier(await sessions.get(clfPack, 'classifier'));
  const judgeLm = await loadLanguageModel(await validatePack(path.resolve(arg('lm', 'models/concert-lm-small')), 'bundled'), sessions);
  const prompts = pack.manifest.prompts ? parsePrompts((await readPackFile(pack, pack.manifest.prompts)).toString('utf8')) : undefined;
  const head = prompts?.prompts['lm'] ? [...renderPieces(prompts.prompts['lm'].prompt, {}, tok)] : [tok.specialIds['bos']!];
  const lmHead = [...renderPieces(judgeLm.prompts.prompts['lm']!.prompt, {}, judgeLm.tok)];

  /** Perplexity of `text` after `prompt` under the causal LM (teacher forcing through the KV cache). */
  const perplexity = async (prompt: string, text: string): Promise<{ nll: number; n: number }> => {
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
  };

  const rows: Record<string, unknown>[] = [];
  const examples: Record<string, string[]> = {};
  for (const [topP, lambda] of topPs.flatMap((p) => lambdas.map((l) => [p, l] as const))) {
    let judgeHits = 0;
    let clfHits = 0;
    let total = 0;
    let nll = 0;
    let n = 0;
    const texts: string[] = [];
    const t0 = performance.now();
    for (const [label, target] of [
      [1, 'positive'],
      [0, 'negative'],
    ] as const) {
      for (const [pi, prompt] of PROMPTS.entries()) {
        for (let k = 0; k < samples; k++) {
          const r = await decodeDiffusion(lm, {
            terms: [{ context: Int32Array.from([...head, ...tok.encodePlain(` ${prompt}`)]), weight: 1, label: 'prompt' }],
            maxTokens: tokens,
            steps,
            projection: { kind: 'sample', topP },
            seed: 1000 * pi + 10 * k + label,
            guidance: [{ classifier: clf, label, lambda }],
            eos: tok.specialIds['eos']!,
          });
          const text = tok.decode(r.tokens).trim();
          texts.push(text);
          const compound = vader.SentimentIntensityAnalyzer.polarity_scores(`${prompt} ${text}`).compound;
          if ((target === 'positive' && compound > 0.05) || (target === 'negative' && compound < -0.05)) judgeHits++;
          if (r.tokens.length) {
            const probs = await clf.classifyTokens(r.tokens);
            if (probs[label]! > 0.5) clfHits++;
          }
          const p = await perplexity(prompt, text);
          nll += p.nll;
          n += p.n;
          total++;
          if (k === 0 && pi < 3) (examples[`topP=${topP} lambda=${lambda} ${target}`] ??= []).push(`${prompt} → ${text}`);
        }
      }
    }
    const row = {
      topP,
      lambda,
      externalJudgeAccuracy: +(judgeHits / total).toFixed(3),
      guidanceClassifierAccuracy: +(clfHits / total).toFixed(3),
      perplexity: +Math.exp(nll / Math.max(1, n)).toFixed(1),
      distinct1: +distinct(texts, 1).toFixed(3),
      distinct2: +distinct(texts, 2).toFixed(3),
      distinct3: +distinct(texts, 3).toFixed(3),
      generations: total,
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
    };
    rows.push(row);
    console.error(JSON.stringify(row));
  }
  const result = {
    pack: pack.manifest.id,
    manifestSha256: pack.manifestSha256,
    classifier: clfPack.manifest.id,
    judge: 'vader-sentiment 1.1.3 (compound, ±0.05)',
    prompts: PROMPTS.length,
    samples,
    tokens,
    steps,
    topPs,
    rows,
    examples,
  };
  const out = arg('out', '');
  if (out) {
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  }
  console.log(JSON.stringify(result, null, 2));
  await sessions.clear();
}

void main();

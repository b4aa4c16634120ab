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
import { decodeDiffusion } from '../src/engine/diffusion/decode';
import { SessionCache } from '../src/runtime/ort';
import { arg, writeJsonOut } from './common';
import { DIFFUSION_PROMPTS as PROMPTS, SENTIMENT_TARGETS, distinct, loadDiffusionJudges, vaderAgrees } from './lib/diffusionJudges';

async function main(): Promise<void> {
  const samples = Number(arg('samples', '3'));
  const tokens = Number(arg('tokens', '16'));
  const steps = Number(arg('steps', '50'));
  const lambdas = arg('lambdas', '0,100,400,1000').split(',').map(Number);
  const topPs = arg('top-p', '0.5').split(',').map(Number);
  const sessions = new SessionCache('cpu', Number(arg('threads', '2')), 0);
  const j = await loadDiffusionJudges(sessions, {
    pack: arg('pack', 'models/concert-ssd-core'),
    classifier: arg('classifier', 'models/concert-clf-sentiment'),
    lm: arg('lm', 'models/concert-lm-small'),
  });
  const { pack, tok, lm, clf, clfPack } = j;

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
    for (const [label, target] of SENTIMENT_TARGETS) {
      for (const [pi, prompt] of PROMPTS.entries()) {
        for (let k = 0; k < samples; k++) {
          const r = await decodeDiffusion(lm, {
            terms: [{ context: j.context(prompt), weight: 1, label: 'prompt' }],
            maxTokens: tokens,
            steps,
            projection: { kind: 'sample', topP },
            seed: 1000 * pi + 10 * k + label,
            guidance: [{ classifier: clf, label, lambda }],
            eos: tok.specialIds['eos']!,
          });
          const text = tok.decode(r.tokens).trim();
          texts.push(text);
          if (vaderAgrees(prompt, text, target)) judgeHits++;
          if (r.tokens.length) {
            const probs = await clf.classifyTokens(r.tokens);
            if (probs[label]! > 0.5) clfHits++;
          }
          const p = await j.nll(prompt, text);
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
  writeJsonOut(result);
  console.log(JSON.stringify(result, null, 2));
  await sessions.clear();
}

void main();

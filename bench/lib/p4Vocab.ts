/**
 * P4: the JS-side vocabulary work of a step (softmax for the nucleus, top-p, projection, noise, guidance arithmetic,
 * the combination of terms) as a share of the whole step, at |V| = 50k, through the engine's own loops over
 * synthetic 50k-vocabulary graphs (bench/lib/synthetic.ts) with the bundled models' hidden size.
 *   diffusion: decodeDiffusion, one term, sampling projection top-p 0.95: (wall − time in the model) ÷ wall
 *   CAD (AR): decodeRecipe, two terms, sampling top-p 0.9: (wall − time in the model) ÷ wall
 * The details add this process's CPU time per step (JS and ONNX Runtime's threads together), steadier than wall time
 * on a shared machine.
 */
import { decodeRecipe } from '../../src/engine/autoregressive';
import { decodeDiffusion } from '../../src/engine/diffusion/decode';
import { ort } from '../../src/runtime/ort';
import { cpuMs, median, round } from './measure';
import { SyntheticCausalLM, SyntheticDiffusionLM, causalStepGraph, denoiserGraph, sessionOptions } from './synthetic';
import type { BenchContext, BenchRow } from './types';

export const P4_VOCAB = 50257;
const BLOCK = 2;

export async function benchVocabShare(ctx: BenchContext): Promise<BenchRow[]> {
  const opts = sessionOptions({ threads: ctx.threads });
  // The bundled models' hidden size (a smaller one in the smoke run: building the weights is most of its time).
  const hidden = ctx.quick ? 64 : 256;
  const rows: BenchRow[] = [];

  const den = await ort.InferenceSession.create(denoiserGraph(P4_VOCAB, hidden, 8), opts);
  const dlm = new SyntheticDiffusionLM(den, P4_VOCAB, BLOCK);
  const steps = ctx.quick ? 4 : 20;
  const diffusionRun = async () => {
    dlm.modelMs = 0;
    const c0 = cpuMs();
    const t0 = performance.now();
    await decodeDiffusion(dlm, {
      terms: [{ context: Int32Array.of(1, 2, 3), weight: 1, label: 'c' }],
      maxTokens: BLOCK,
      steps,
      projection: { kind: 'sample', topP: 0.95 },
      seed: 1,
    });
    const wall = performance.now() - t0;
    return { wall, js: wall - dlm.modelMs, cpu: cpuMs() - c0 };
  };
  await diffusionRun();
  const d = [];
  for (let i = 0; i < ctx.repeats; i++) d.push(await diffusionRun());
  const dStep = median(d.map((r) => r.wall)) / steps;
  const dJs = median(d.map((r) => r.js)) / steps;
  rows.push({
    id: 'P4',
    measure: `diffusion step, JS-side vocabulary work ÷ whole step (vocabulary ${P4_VOCAB}, B = ${BLOCK}, top-p 0.95)`,
    ratio: round(median(d.map((r) => r.js / r.wall))),
    goal: 0.1,
    numerator: `${dJs.toFixed(2)} ms/step in JS`,
    denominator: `${dStep.toFixed(2)} ms/step`,
    detail: {
      vocab: P4_VOCAB,
      hidden: hidden,
      blockSize: BLOCK,
      steps,
      msPerStep: round(dStep, 2),
      jsMsPerStep: round(dJs, 2),
      cpuMsPerStep: round(median(d.map((r) => r.cpu)) / steps, 2),
    },
  });
  await den.release();

  const step = await ort.InferenceSession.create(causalStepGraph(P4_VOCAB, hidden, 8), opts);
  const clm = new SyntheticCausalLM(step, P4_VOCAB);
  const tokens = ctx.quick ? 4 : 32;
  const arRun = async () => {
    clm.modelMs = 0;
    const c0 = cpuMs();
    const t0 = performance.now();
    await decodeRecipe(clm, {
      terms: [
        { prompt: Int32Array.of(5, 6, 7), weight: 1.5, label: 'context' },
        { prompt: Int32Array.of(5), weight: -0.5, label: 'no context' },
      ],
      decoding: { mode: 'sample', temperature: 1, topP: 0.9 },
      maxTokens: tokens,
      seed: 1,
      stopTokens: [],
    });
    const wall = performance.now() - t0;
    return { wall, js: wall - clm.modelMs, cpu: cpuMs() - c0 };
  };
  await arRun();
  const a = [];
  for (let i = 0; i < ctx.repeats; i++) a.push(await arRun());
  const aStep = median(a.map((r) => r.wall)) / tokens;
  const aJs = median(a.map((r) => r.js)) / tokens;
  rows.push({
    id: 'P4-AR',
    measure: `CAD token (two rows), JS-side vocabulary work ÷ whole step (vocabulary ${P4_VOCAB}, top-p 0.9)`,
    ratio: round(median(a.map((r) => r.js / r.wall))),
    goal: 0.1,
    numerator: `${aJs.toFixed(2)} ms/token in JS`,
    denominator: `${aStep.toFixed(2)} ms/token`,
    detail: {
      vocab: P4_VOCAB,
      hidden: hidden,
      tokens,
      msPerToken: round(aStep, 2),
      jsMsPerToken: round(aJs, 2),
      cpuMsPerToken: round(median(a.map((r) => r.cpu)) / tokens, 2),
    },
  });
  await step.release();
  return rows;
}

/**
 * The quality-speed curve of diffusion (#18): tokens per second and the #6 evaluation (external judge VADER's agreement
 * with the steering target, perplexity under the causal LM) against the number of denoising steps T, for the bundled
 * core steered by the sentiment classifier at the product's defaults (top-p 0.5, λ 100):
 *   full            context reuse, the reverse process run to t = 1 (what the product does)
 *   early stop      context reuse, stopped at t = ⌈earlyStop·T⌉ (SSD-2 uses 0.4)
 *   no reuse        every block re-encodes its whole context (speed only: the same tokens as `full`, checked)
 * Each cell decodes the same prompts, targets and seeds. Writes JSON and an SVG plot; prints the table.
 * Usage: node --import tsx bench/diffusion-curve.ts [--steps-list 50,100,200,400,1000] [--prompts 5] [--samples 1]
 *        [--tokens 8] [--lambda 100] [--top-p 0.5] [--early-stop 0.4] [--speed-runs 2] [--threads 2]
 *        [--out docs/diffusion-curve.json] [--svg docs/media/diffusion-curve.svg]
 *        node --import tsx bench/diffusion-curve.ts --replot docs/diffusion-curve.json [--svg FILE]   (redraw only)
 * T_train (the pack's `tTrain`) is the last T by default.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeDiffusion } from '../src/engine/diffusion/decode';
import type { OnnxDiffusionLM } from '../src/runtime/diffusionLm';
import { SessionCache } from '../src/runtime/ort';
import { arg, writeJsonOut } from './common';
import { DIFFUSION_PROMPTS, SENTIMENT_TARGETS, loadDiffusionJudges, vaderAgrees } from './lib/diffusionJudges';
import { curveSvg, type CurveSeries } from './lib/curveSvg';

interface Cell {
  variant: string;
  steps: number;
  tokensPerSecond: number;
  generations: number;
  meanTokens: number;
  externalJudgeAccuracy?: number;
  perplexity?: number;
  /** no reuse: whether every run chose the tokens of the `full` run with the same seed. */
  sameTokensAsFull?: boolean;
  contextTokensEncoded: number;
}

interface CurveResult {
  pack: string;
  lambda: number;
  topP: number;
  prompts: number;
  samples: number;
  cells: Cell[];
}

/** The plot of a result: the same colours for the same variants in every panel. */
function plot(result: CurveResult): string {
  const variants = [...new Set(result.cells.map((c) => c.variant))];
  const series = (pick: (c: Cell) => number | undefined): CurveSeries[] =>
    variants
      .map((v) => ({
        label: v,
        points: result.cells.filter((c) => c.variant === v && pick(c) !== undefined).map((c) => [c.steps, pick(c)!] as [number, number]),
      }))
      .filter((s) => s.points.length);
  const per = 2 * result.prompts * result.samples;
  return curveSvg(`Diffusion quality and speed against T (${result.pack}, λ ${result.lambda}, top-p ${result.topP}, ${per} continuations per point)`, [
    { title: 'tokens per second', series: series((c) => c.tokensPerSecond) },
    { title: 'external judge (VADER) agrees with the target', series: series((c) => c.externalJudgeAccuracy), percent: true },
    { title: 'perplexity under the causal LM', series: series((c) => c.perplexity) },
  ]);
}

async function main(): Promise<void> {
  // --replot FILE: draw the SVG of an earlier run's JSON again (after a change to the drawing), nothing decoded.
  const replot = arg('replot', '');
  if (replot) {
    writeFileSync(arg('svg', 'docs/media/diffusion-curve.svg'), plot(JSON.parse(readFileSync(replot, 'utf8')) as CurveResult));
    return;
  }
  const sessions = new SessionCache('cpu', Number(arg('threads', '2')), 0);
  const j = await loadDiffusionJudges(sessions, {
    pack: arg('pack', 'models/concert-ssd-core'),
    classifier: arg('classifier', 'models/concert-clf-sentiment'),
    lm: arg('lm', 'models/concert-lm-small'),
  });
  const tTrain = j.lm.tTrain;
  const stepsList = arg('steps-list', `50,100,200,400,${tTrain}`).split(',').map(Number);
  const prompts = DIFFUSION_PROMPTS.slice(0, Number(arg('prompts', '5')));
  const samples = Number(arg('samples', '1'));
  const tokens = Number(arg('tokens', '8'));
  const lambda = Number(arg('lambda', '100'));
  const topP = Number(arg('top-p', '0.5'));
  const earlyStop = Number(arg('early-stop', '0.4'));
  const speedRuns = Number(arg('speed-runs', '2'));
  const runs = SENTIMENT_TARGETS.flatMap(([label, target]) =>
    prompts.flatMap((prompt, pi) => Array.from({ length: samples }, (_, k) => ({ label, target, prompt, promptIndex: pi, seed: 1000 * pi + 10 * k + label }))),
  );

  const decode = async (lm: OnnxDiffusionLM, run: (typeof runs)[number], steps: number, stopAt: number) => {
    const t0 = performance.now();
    const r = await decodeDiffusion(lm, {
      terms: [{ context: j.context(run.prompt), weight: 1, label: 'prompt' }],
      maxTokens: tokens,
      steps,
      projection: { kind: 'sample', topP },
      seed: run.seed,
      guidance: [{ classifier: j.clf, label: run.label, lambda }],
      eos: j.tok.specialIds['eos']!,
      ...(stopAt > 0 && { earlyStop: stopAt }),
    });
    return { tokens: r.tokens, seconds: (performance.now() - t0) / 1000 };
  };

  const cells: Cell[] = [];
  const examples: Record<string, string[]> = {};
  for (const steps of stepsList) {
    const fullTokens: number[][] = [];
    for (const [variant, stopAt] of [
      ['full', 0],
      [`early stop ${earlyStop}`, earlyStop],
    ] as const) {
      const lm = j.adapter(true);
      let seconds = 0;
      let generated = 0;
      let hits = 0;
      let nll = 0;
      let n = 0;
      for (const run of runs) {
        const r = await decode(lm, run, steps, stopAt);
        if (variant === 'full') fullTokens.push(r.tokens);
        seconds += r.seconds;
        generated += r.tokens.length;
        const text = j.tok.decode(r.tokens).trim();
        if (vaderAgrees(run.prompt, text, run.target)) hits++;
        const p = await j.nll(run.prompt, text);
        nll += p.nll;
        n += p.n;
        if (run.promptIndex < 2) (examples[`T=${steps} ${variant}`] ??= []).push(`${run.prompt} → [${run.target}] ${text}`);
      }
      cells.push({
        variant,
        steps,
        tokensPerSecond: +(generated / seconds).toFixed(2),
        generations: runs.length,
        meanTokens: +(generated / runs.length).toFixed(2),
        externalJudgeAccuracy: +(hits / runs.length).toFixed(3),
        perplexity: +Math.exp(nll / Math.max(1, n)).toFixed(1),
        contextTokensEncoded: lm.encodedTokens,
      });
      console.error(JSON.stringify(cells.at(-1)));
    }
    // Speed without context reuse, on the first runs: the tokens must be those of `full` (reuse is exact).
    const lm = j.adapter(false);
    let seconds = 0;
    let generated = 0;
    let same = true;
    for (const [i, run] of runs.slice(0, speedRuns).entries()) {
      const r = await decode(lm, run, steps, 0);
      seconds += r.seconds;
      generated += r.tokens.length;
      same &&= r.tokens.join(' ') === fullTokens[i]!.join(' ');
    }
    cells.push({
      variant: 'no context reuse',
      steps,
      tokensPerSecond: +(generated / seconds).toFixed(2),
      generations: Math.min(speedRuns, runs.length),
      meanTokens: +(generated / Math.max(1, Math.min(speedRuns, runs.length))).toFixed(2),
      sameTokensAsFull: same,
      contextTokensEncoded: lm.encodedTokens,
    });
    console.error(JSON.stringify(cells.at(-1)));
  }

  const result = {
    pack: j.pack.manifest.id,
    manifestSha256: j.pack.manifestSha256,
    classifier: j.clfPack.manifest.id,
    judge: 'vader-sentiment 1.1.3 (compound, ±0.05)',
    tTrain,
    prompts: prompts.length,
    samples,
    tokens,
    lambda,
    topP,
    earlyStop,
    threads: Number(arg('threads', '2')),
    cells,
    examples,
  };
  writeJsonOut(result);
  const svg = arg('svg', '');
  if (svg) {
    mkdirSync(path.dirname(svg), { recursive: true });
    writeFileSync(svg, plot(result));
  }
  console.log('| T | variant | tokens/s | VADER agrees | perplexity | context tokens encoded |');
  console.log('|---|---|---|---|---|---|');
  for (const c of cells)
    console.log(
      `| ${c.steps} | ${c.variant} | ${c.tokensPerSecond} | ${c.externalJudgeAccuracy === undefined ? (c.sameTokensAsFull ? 'same tokens as full' : '**tokens differ**') : `${(100 * c.externalJudgeAccuracy).toFixed(1)}%`} | ${c.perplexity ?? '—'} | ${c.contextTokensEncoded} |`,
    );
  await sessions.clear();
}

void main();

/**
 * What grammar-constrained decoding costs (issue #14): JPEG-LM completions of one image with a codec-lm pack
 * (in-process, CPU), N samples as one batch, constrained (src/codec's validator masks every step) and unconstrained,
 * interleaved with the same seeds. Rows that end stay in the batch until all have ended, so a step costs the same
 * however many rows still run, but a step's cost grows with the sequence (attention over the cache), and the two modes
 * end after different numbers of steps: each pair is compared over the steps both ran (the first S = min(steps)),
 * constrained ÷ unconstrained decoding time (prefill excluded); the median over the pairs is the ratio (goal ≤ 1.10).
 * On a loaded machine that ratio is noisy, so the loop's own work (masks, sampling, bookkeeping: a step's time less the
 * model's forward pass) is also timed per step in each mode: `hostEstimate` = (model + constrained host) ÷ (model +
 * unconstrained host) per step, the same model time on both sides, is the cost of the constraint with the load's noise
 * on the model's time taken out. Also printed: each mode's decodable rate over all samples.
 * Usage: node --import tsx bench/image-constrained.ts [--pack models/concert-jpeg-32] [--image test/fixtures/jpeg/noise-32.png]
 *        [--ratio 0.5] [--samples 4] [--repeats 5] [--threads 2] [--seed 1]
 * Default pack: models/concert-jpeg-32 when it is there, else the tiny random test pack (test/fixtures/codec-lm-tiny),
 * whose steps are so cheap that the mask's cost shows most.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { sampleRows } from '../src/engine/sampling';
import { loadCodecModel } from '../src/runtime/codecLm';
import { imageStreamFromFile } from '../src/runtime/imageInput';
import { ImageSample, completionPrompt } from '../src/runtime/imageSamples';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { arg, median } from './common';

async function main(): Promise<void> {
  const root = path.join(__dirname, '..');
  const bundled = path.join(root, 'models', 'concert-jpeg-32');
  const packDir = path.resolve(arg('pack', existsSync(path.join(bundled, 'concert.json')) ? bundled : path.join(root, 'test', 'fixtures', 'codec-lm-tiny')));
  const image = path.resolve(arg('image', path.join(root, 'test', 'fixtures', 'jpeg', 'noise-32.png')));
  const ratio = Number(arg('ratio', '0.5'));
  const samples = Number(arg('samples', '4'));
  const repeats = Number(arg('repeats', '5'));
  const threads = Number(arg('threads', '2'));
  const seed = Number(arg('seed', '1'));

  const pack = await validatePack(packDir, 'user');
  const sessions = new SessionCache('cpu', threads, 0);
  const model = await loadCodecModel(pack, sessions);
  const stream = await imageStreamFromFile(image, model.geometry);
  const prompt = completionPrompt(stream, ratio, model.geometry);
  const ids = Int32Array.from([model.codec.bos, ...model.encode(prompt.bytes)]);
  const maxTokens = Math.min(model.codec.maxTokens - 1, model.lm.maxContext) - ids.length;

  const once = async (constrained: boolean, s: number) => {
    const rows = Array.from({ length: samples }, () => new ImageSample(model, prompt.bytes, constrained));
    let modelMs = 0;
    const lm = {
      vocabSize: model.lm.vocabSize,
      eos: model.lm.eos,
      maxContext: model.lm.maxContext,
      prefill: model.lm.prefill.bind(model.lm),
      extend: async (...a: Parameters<typeof model.lm.extend>) => {
        const t = performance.now();
        const out = await model.lm.extend(...a);
        modelMs += performance.now() - t;
        return out;
      },
    };
    /** Time after each step, from the end of the prefill. */
    const at: number[] = [];
    let t1 = performance.now();
    const r = await sampleRows(lm, {
      prompt: ids,
      samples,
      decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 },
      maxTokens,
      seed: s,
      stopTokens: [model.codec.eos],
      padToken: model.codec.pad,
      constraint: (i) => rows[i]!,
      onPrefill: () => (t1 = performance.now()),
      onStep: () => at.push(performance.now() - t1),
    });
    const decodable = r.rows.filter((row, i) => rows[i]!.finish(row.closing).decodable).length;
    const total = at[at.length - 1]!;
    return { at, steps: r.steps, decodable, modelMsPerStep: modelMs / Math.max(1, r.steps - 1), hostMsPerStep: (total - modelMs) / r.steps };
  };

  // Warm-up (sessions, masks memo), then interleaved runs with the same seeds.
  await once(true, seed);
  await once(false, seed);
  const runs = { constrained: [] as Awaited<ReturnType<typeof once>>[], unconstrained: [] as Awaited<ReturnType<typeof once>>[] };
  for (let i = 0; i < repeats; i++) {
    runs.constrained.push(await once(true, seed + i));
    runs.unconstrained.push(await once(false, seed + i));
  }
  await sessions.clear();
  const summary = (rs: Awaited<ReturnType<typeof once>>[]) => ({
    msPerStep: Math.round(median(rs.map((r) => r.at[r.at.length - 1]! / r.steps)) * 1000) / 1000,
    modelMsPerStep: Math.round(median(rs.map((r) => r.modelMsPerStep)) * 1000) / 1000,
    hostMsPerStep: Math.round(median(rs.map((r) => r.hostMsPerStep)) * 1000) / 1000,
    stepsMedian: median(rs.map((r) => r.steps)),
    decodable: `${rs.reduce((n, r) => n + r.decodable, 0)}/${rs.length * samples}`,
  });
  const c = summary(runs.constrained);
  const u = summary(runs.unconstrained);
  const pairs = runs.constrained.map((cr, i) => {
    const ur = runs.unconstrained[i]!;
    const S = Math.min(cr.steps, ur.steps);
    return { steps: S, ratio: cr.at[S - 1]! / ur.at[S - 1]! };
  });
  console.log(
    JSON.stringify(
      {
        id: 'image-constrained',
        pack: pack.manifest.id,
        image: path.relative(root, image),
        ratio,
        samples,
        repeats,
        threads,
        promptTokens: ids.length,
        maxTokens,
        constrained: c,
        unconstrained: u,
        comparedSteps: pairs.map((x) => x.steps),
        ratioConstrainedOverUnconstrained: Math.round(median(pairs.map((x) => x.ratio)) * 1000) / 1000,
        hostEstimate: Math.round(((u.modelMsPerStep + c.hostMsPerStep) / (u.modelMsPerStep + u.hostMsPerStep)) * 1000) / 1000,
        goal: 1.1,
      },
      null,
      2,
    ),
  );
}

void main();

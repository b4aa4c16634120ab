/**
 * What grammar-constrained decoding costs (issue #14): JPEG-LM completions of one image with a codec-lm pack
 * (in-process, CPU), N samples as one batch, constrained (src/codec's validator masks every step) and unconstrained,
 * compared as bench/lib/constrainedRuns.ts describes (goal ≤ 1.10). Also printed: each mode's decodable rate.
 * Usage: node --import tsx bench/image-constrained.ts [--pack models/concert-jpeg-32] [--image test/fixtures/jpeg/noise-32.png]
 *        [--ratio 0.5] [--samples 4] [--repeats 5] [--threads 2] [--seed 1]
 * Default pack: models/concert-jpeg-32 when it is there, else the tiny random test pack (test/fixtures/codec-lm-tiny),
 * whose steps are so cheap that the mask's cost shows most.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { SampledRow } from '../src/engine/sampling';
import { loadCodecModel } from '../src/runtime/codecLm';
import { imageStreamFromFile } from '../src/runtime/imageInput';
import { ImageSample, completionPrompt } from '../src/runtime/imageSamples';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { arg } from './common';
import { compareConstrained } from './lib/constrainedRuns';

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

  const figures = await compareConstrained(model, {
    promptIds: ids,
    maxTokens,
    samples,
    repeats,
    seed,
    sample: (constrained) => {
      const x = new ImageSample(model, prompt.bytes, constrained);
      return Object.assign(x, { decodes: (row: SampledRow) => x.finish(row.closing).decodable });
    },
  });
  await sessions.clear();
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
        ...figures,
        goal: 1.1,
      },
      null,
      2,
    ),
  );
}

void main();

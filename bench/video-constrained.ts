/**
 * AVC-LM continuations (issue #15) with and without the grammar constraint: for every canonical clip of the pack's
 * size in a folder (default test/fixtures/h264: clips made for the tests, none of them training data), the first
 * `--prompt-frames` frames are the prompt and N samples of `--frames` more frames are decoded as one batch, constrained
 * (src/codec/h264's validator masks every step) and unconstrained, interleaved with the same seeds
 * (bench/lib/constrainedRuns.ts). Printed: per clip and over all, the share of samples that decode to prompt +
 * generated frames (goal ≥ 99% constrained; the unconstrained share beside it), and constrained ÷ unconstrained
 * decoding time (no goal for video; the JPEG goal is 1.10).
 * Usage: node --import tsx bench/video-constrained.ts [--pack models/concert-avc-32] [--clips test/fixtures/h264]
 *        [--prompt-frames 4] [--frames 4] [--samples 4] [--repeats 2] [--threads 2] [--seed 1]
 * Default pack: models/concert-avc-32 when it is there, else the tiny random test pack (test/fixtures/codec-lm-tiny-h264).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { SampledRow } from '../src/engine/sampling';
import { loadCodecModel } from '../src/runtime/codecLm';
import type { H264CodecSpec } from '../src/runtime/manifest';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { notCanonical, videoPrompt } from '../src/runtime/videoInput';
import { VideoSample } from '../src/runtime/videoSamples';
import { arg, median } from './common';
import { compareConstrained } from './lib/constrainedRuns';

async function main(): Promise<void> {
  const root = path.join(__dirname, '..');
  const bundled = path.join(root, 'models', 'concert-avc-32');
  const packDir = path.resolve(
    arg('pack', existsSync(path.join(bundled, 'concert.json')) ? bundled : path.join(root, 'test', 'fixtures', 'codec-lm-tiny-h264')),
  );
  const clipsDir = path.resolve(arg('clips', path.join(root, 'test', 'fixtures', 'h264')));
  const promptFrames = Number(arg('prompt-frames', '4'));
  const frames = Number(arg('frames', '4'));
  const samples = Number(arg('samples', '4'));
  const repeats = Number(arg('repeats', '2'));
  const threads = Number(arg('threads', '2'));
  const seed = Number(arg('seed', '1'));

  const pack = await validatePack(packDir, 'user');
  const sessions = new SessionCache('cpu', threads, 0);
  const model = await loadCodecModel(pack, sessions);
  const codec = model.codec as H264CodecSpec;
  const perClip: Record<string, unknown>[] = [];
  const totals = { constrained: [0, 0], unconstrained: [0, 0] };
  const ratios: number[] = [];
  for (const name of readdirSync(clipsDir)
    .filter((f) => f.endsWith('.h264'))
    .sort()) {
    const stream = new Uint8Array(readFileSync(path.join(clipsDir, name)));
    if (notCanonical(stream, codec)) continue; // another size
    const prompt = videoPrompt(stream, promptFrames);
    const promptIds = Int32Array.from([codec.bos, ...model.encode(prompt)]);
    const maxTokens = Math.min(codec.maxTokens - 1, model.lm.maxContext) - promptIds.length;
    const figures = await compareConstrained(model, {
      promptIds,
      maxTokens,
      samples,
      repeats,
      seed,
      sample: (constrained) => {
        const x = new VideoSample(model, prompt, promptFrames, frames, constrained, codec.sliceMaxMbs);
        return Object.assign(x, {
          decodes: (row: SampledRow) => {
            const done = x.finish(row.closing);
            return done.valid && done.frames === promptFrames + frames;
          },
        });
      },
    });
    for (const mode of ['constrained', 'unconstrained'] as const) {
      const [ok, all] = String((figures[mode] as { decodable: string }).decodable)
        .split('/')
        .map(Number) as [number, number];
      totals[mode][0]! += ok;
      totals[mode][1]! += all;
    }
    ratios.push(figures['ratioConstrainedOverUnconstrained'] as number);
    perClip.push({ clip: name, ...figures });
  }
  await sessions.clear();
  const rate = ([ok, all]: number[]) => `${ok}/${all} (${((100 * ok!) / all!).toFixed(1)}%)`;
  console.log(
    JSON.stringify(
      {
        id: 'video-constrained',
        pack: pack.manifest.id,
        clips: path.relative(root, clipsDir),
        promptFrames,
        frames,
        samples,
        repeats,
        threads,
        decodableConstrained: rate(totals.constrained),
        decodableUnconstrained: rate(totals.unconstrained),
        goalConstrained: '≥ 99%',
        ratioConstrainedOverUnconstrainedMedian: median(ratios),
        perClip,
      },
      null,
      2,
    ),
  );
}

void main();

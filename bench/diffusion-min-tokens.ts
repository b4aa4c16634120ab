/**
 * How long continuations after a finished sentence are, per minimum of new tokens before end-of-text may end them
 * (`concert.diffusion.minTokens`, `--min-tokens`): the share of empty continuations, the median length, how many
 * the model ended itself within the budget, and a few samples. Everyday prompts, each ending with a full stop.
 * Usage: node --import tsx bench/diffusion-min-tokens.ts [--pack models/concert-ssd-core] [--mins 0,2,4,6,8,12,16]
 *        [--tokens 32] [--steps 30] [--seeds 2] [--threads 2]
 */
import * as path from 'node:path';
import { decodeDiffusion } from '../src/engine/diffusion/decode';
import { OnnxDiffusionLM, diffusionShape } from '../src/runtime/diffusionLm';
import { loadTokenizer } from '../src/runtime/languageModel';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { arg, median } from './common';

const PROMPTS = [
  'We walked along the river after dinner.',
  'The meeting was moved to Thursday afternoon.',
  'My sister bought a new bicycle last week.',
  'The train was late again this morning.',
  'I finished the report before lunch.',
  'The soup needed more salt.',
  'Our neighbours painted their fence blue.',
  'The library closes early on Sundays.',
  'He forgot his umbrella at the office.',
  'The kids played in the garden all day.',
  'She called the plumber about the leak.',
  'The museum was quiet on a rainy Monday.',
];

async function main(): Promise<void> {
  const mins = arg('mins', '0,2,4,6,8,12,16').split(',').map(Number);
  const tokens = Number(arg('tokens', '32'));
  const steps = Number(arg('steps', '30'));
  const seeds = Number(arg('seeds', '2'));
  const sessions = new SessionCache('cpu', Number(arg('threads', '2')), 0);
  const pack = await validatePack(path.resolve(arg('pack', 'models/concert-ssd-core')), 'bundled');
  const tok = await loadTokenizer(pack);
  const lm = new OnnxDiffusionLM(await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser'), diffusionShape(pack), tok.specialIds['pad']!);
  const eos = tok.specialIds['eos']!;
  const rows = [];
  for (const minTokens of mins) {
    const lengths: number[] = [];
    let ended = 0;
    const samples: string[] = [];
    for (const [i, prompt] of PROMPTS.entries()) {
      for (let seed = 1; seed <= seeds; seed++) {
        const context = Int32Array.from([tok.specialIds['bos']!, ...tok.encodePlain(` ${prompt}`)]);
        const r = await decodeDiffusion(lm, {
          terms: [{ context, weight: 1, label: 'c' }],
          maxTokens: tokens,
          steps,
          projection: { kind: 'sample', topP: 0.5 },
          seed,
          eos,
          minTokens,
          slide: { keepHead: 1 },
        });
        lengths.push(r.tokens.length);
        if (r.stoppedBy === 'eos') ended++;
        if (seed === 1 && i < 3) samples.push(`${prompt} → ${tok.decode(r.tokens).trim() || '(nothing)'}`);
      }
    }
    const n = lengths.length;
    rows.push({
      minTokens,
      runs: n,
      empty: lengths.filter((x) => x === 0).length / n,
      medianTokens: median(lengths),
      lengths: [...lengths].sort((a, b) => a - b),
      endedByModel: ended / n,
      samples,
    });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  console.log(JSON.stringify({ pack: pack.manifest.id, tokens, steps, seeds, prompts: PROMPTS.length, rows }, null, 2));
  await sessions.clear();
}

void main();

/**
 * Diffusion decoding speed on the bundled core model (CPU): ms per denoising step and per block, with and without
 * context reuse across blocks, and with SSD-2's early stop. Prints ratios.
 * Usage: node --import tsx bench/diffusion-speed.ts [--pack models/concert-ssd-core] [--tokens 32] [--steps 50]
 *        [--threads 2] [--repeats 3]
 *        [--ckpt data/build/ckpt/ssd-core/final.pt]
 * The PyTorch reference loop (tools/diffusion/decode.py through tools/diffusion/bench_torch.py: same weights, prompt,
 * settings and threads) is timed when the training checkpoint is present (after tools/diffusion/train_all.sh); the
 * ratio TypeScript ÷ PyTorch is the issue's speed goal (≤ 0.33).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { decodeDiffusion } from '../src/engine/diffusion/decode';
import { OnnxDiffusionLM, diffusionShape } from '../src/runtime/diffusionLm';
import { loadTokenizer } from '../src/runtime/languageModel';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { arg, median } from './common';

async function main(): Promise<void> {
  const tokens = Number(arg('tokens', '32'));
  const steps = Number(arg('steps', '50'));
  const repeats = Number(arg('repeats', '3'));
  const sessions = new SessionCache('cpu', Number(arg('threads', '2')), 0);
  const pack = await validatePack(path.resolve(arg('pack', 'models/concert-ssd-core')), 'bundled');
  const tok = await loadTokenizer(pack);
  const shape = diffusionShape(pack);
  const lm = new OnnxDiffusionLM(await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser'), shape, tok.specialIds['pad']!);
  const context = Int32Array.from([
    tok.specialIds['bos']!,
    ...tok.encodePlain(' The history of the old harbour town begins with a small fishing village on the river.'),
  ]);
  const run = async (reuse: boolean, earlyStop: number) => {
    lm.reuseContext = reuse;
    lm.encodedTokens = 0;
    let denoiseCalls = 0;
    const t0 = performance.now();
    await decodeDiffusion(lm, {
      terms: [{ context, weight: 1, label: 'c' }],
      maxTokens: tokens,
      steps,
      projection: { kind: 'sample', topP: 0.95 },
      seed: 1,
      earlyStop,
      onStep: () => denoiseCalls++,
    });
    return { ms: performance.now() - t0, denoiseCalls, encodedTokens: lm.encodedTokens };
  };
  await run(true, 0); // warm-up
  const measure = async (reuse: boolean, earlyStop: number) => {
    const rs = [];
    for (let i = 0; i < repeats; i++) rs.push(await run(reuse, earlyStop));
    const ms = median(rs.map((r) => r.ms));
    return {
      ms: +ms.toFixed(1),
      msPerStep: +(ms / rs[0]!.denoiseCalls).toFixed(2),
      msPerBlock: +(ms / Math.ceil(tokens / shape.blockSize)).toFixed(1),
      steps: rs[0]!.denoiseCalls,
      contextTokensEncoded: rs[0]!.encodedTokens,
    };
  };
  const full = await measure(true, 0);
  const noReuse = await measure(false, 0);
  const early = await measure(true, 0.4);
  const ckpt = arg('ckpt', 'data/build/ckpt/ssd-core/final.pt');
  let torch: { ms: number; msPerStep: number; torch: string } | string =
    `no checkpoint at ${ckpt}: run tools/diffusion/train_all.sh to time the PyTorch reference`;
  if (existsSync(ckpt)) {
    await sessions.clear(); // the reference runs alone, on the same threads
    const r = spawnSync(
      process.env['CONCERT_PYTHON'] ?? '/usr/bin/python3',
      [
        'tools/diffusion/bench_torch.py',
        '--ckpt',
        ckpt,
        '--tokens',
        String(tokens),
        '--steps',
        String(steps),
        '--threads',
        arg('threads', '2'),
        '--repeats',
        String(repeats),
      ],
      { encoding: 'utf8' },
    );
    torch =
      r.status === 0
        ? (JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; msPerStep: number; torch: string })
        : `the PyTorch reference failed: ${r.stderr.slice(-400)}`;
  }
  console.log(
    JSON.stringify(
      {
        pack: pack.manifest.id,
        blockSize: shape.blockSize,
        vocab: shape.vocabSize,
        tokens,
        steps,
        contextReuse: full,
        reEncodeEveryBlock: noReuse,
        earlyStop04: early,
        pytorchReference: torch,
        ratios: {
          reuseOverReEncode: +(full.ms / noReuse.ms).toFixed(3),
          earlyStopOverFull: +(early.ms / full.ms).toFixed(3),
          ...(typeof torch === 'object' && { typescriptOverPytorch: +(full.ms / torch.ms).toFixed(3) }),
        },
      },
      null,
      2,
    ),
  );
  await sessions.clear();
}

void main();

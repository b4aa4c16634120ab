/**
 * P1: a diffusion block, Concert (TypeScript engine + ONNX Runtime) ÷ the PyTorch eager reference loop
 * (tools/diffusion/decode.py through tools/bench/torch_diffusion.py) on the SAME weights — the reference reads the
 * pack's own ONNX initializers — with the same context, blocks, steps, top-p, seed and thread count. The two run
 * interleaved: the Python process stays up and decodes once per `run` line.
 * P6: the same run's time per denoising step ÷ the step's compute floor (its FLOPs from the pack's shape ÷ the GEMM
 * rate of a MatMul chain of the step's shapes, measured here in the same run through onnxruntime-node).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { decodeDiffusion } from '../../src/engine/diffusion/decode';
import { OnnxDiffusionLM, diffusionShape, type DiffusionShape } from '../../src/runtime/diffusionLm';
import { loadTokenizer } from '../../src/runtime/languageModel';
import { scanOnnxModel } from '../../src/runtime/onnxModel';
import { SessionCache, ort } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import { cpuMs, interleave, median, round, type Measured } from './measure';
import { gemmGraph, sessionOptions } from './synthetic';
import type { BenchContext, BenchRow } from './types';

const PROMPT = ' The history of the old harbour town begins with a small fishing village on the river.';

/** A line-protocol client of tools/bench/torch_diffusion.py. */
async function startTorch(ctx: BenchContext, args: string[]) {
  const child = spawn(ctx.python, ['tools/bench/torch_diffusion.py', ...args], { cwd: ctx.root, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const l = await lines.next();
    if (l.done) throw new Error(`the PyTorch reference exited: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return JSON.parse(l.value) as Record<string, unknown>;
  };
  const ready = await next();
  return {
    ready,
    run: async (): Promise<{ ms: number; cpuMs: number; tokens: number[] }> => {
      child.stdin.write('run\n');
      return (await next()) as { ms: number; cpuMs: number; tokens: number[] };
    },
    close: () => {
      child.stdin.end();
      child.kill();
    },
  };
}

/** FLOPs of one denoising step (multiply-adds × 2) for `rows` rows over a context of `ctxLen` tokens. */
export function denoiseStepFlops(s: DiffusionShape, dFf: number, rows: number, ctxLen: number, timeFeatures: number): number {
  const d = s.layers > 0 ? s.heads * s.headDim : 0;
  const B = s.blockSize;
  const V = s.vocabSize;
  const P = B + (s.anchored ? 1 : 0); // positions through the layers
  const embed = 2 * 2 * B * V * d; // softmax(noisy)·E and softmax(self-cond)·E
  const small = 2 * B * d * d + 2 * B * (timeFeatures * d + d * d); // self-conditioning projection, time MLP
  const layer = 2 * P * (d * 3 * d + d * d + 2 * d * dFf) + 2 * 2 * P * (ctxLen + P) * d;
  const out = 2 * B * d * V;
  return rows * (embed + small + s.layers * layer + out);
}

export async function benchDiffusion(ctx: BenchContext): Promise<BenchRow[]> {
  const packDir = path.join(ctx.root, 'models', 'concert-ssd-core');
  const pack = await validatePack(packDir, 'bundled');
  const tok = await loadTokenizer(pack);
  const shape = diffusionShape(pack);
  const sessions = new SessionCache('cpu', ctx.threads, 0);
  const lm = new OnnxDiffusionLM(await sessions.get(pack, 'context'), await sessions.get(pack, 'denoiser'), shape, tok.specialIds['pad']!);
  const context = Int32Array.from([tok.specialIds['bos']!, ...tok.encodePlain(PROMPT)]);
  const tokens = ctx.quick ? shape.blockSize : 2 * shape.blockSize;
  const steps = ctx.quick ? 5 : 50;
  const blocks = Math.ceil(tokens / shape.blockSize);
  const seed = 1;
  const topP = 0.95;

  let concertTokens: number[] = [];
  let denoiseMs = 0;
  let denoiseCalls = 0;
  const inner = lm.denoise.bind(lm);
  lm.denoise = async (...a: Parameters<OnnxDiffusionLM['denoise']>) => {
    const t0 = performance.now();
    const out = await inner(...a);
    denoiseMs += performance.now() - t0;
    denoiseCalls++;
    return out;
  };
  const stepSamples: { engine: number; model: number }[] = [];
  const concert = async () => {
    denoiseMs = 0;
    denoiseCalls = 0;
    const c0 = cpuMs();
    const t0 = performance.now();
    const r = await decodeDiffusion(lm, {
      terms: [{ context, weight: 1, label: 'prompt' }],
      maxTokens: tokens,
      steps,
      projection: { kind: 'sample', topP },
      seed,
    });
    const ms = performance.now() - t0;
    stepSamples.push({ engine: ms / denoiseCalls, model: denoiseMs / denoiseCalls });
    concertTokens = r.tokens;
    return { ms, cpuMs: cpuMs() - c0 };
  };

  // The compute floor's GEMM rate, measured between the runs like a third variant.
  const ext = scanOnnxModel(readFileSync(path.join(packDir, 'denoiser.onnx'))).externalRefs;
  const d = shape.heads * shape.headDim;
  // Bytes per weight from the tied embedding [V, d] (4 for float32, 2 for a pack whose weights are stored as float16).
  const wte = ext.find((e) => e.tensor.endsWith('wte.weight'));
  const bytesPerWeight = wte?.length ? wte.length / (shape.vocabSize * d) : 4;
  const fc1 = ext.find((e) => e.tensor.endsWith('blocks.0.fc1.weight'));
  const dFf = fc1?.length ? fc1.length / bytesPerWeight / d : 4 * d;
  const tf = ext.find((e) => e.tensor.endsWith('time_fc1.weight'));
  const timeFeatures = tf?.length ? tf.length / bytesPerWeight / d : 32;
  const gemm = gemmGraph(shape.blockSize, shape.vocabSize, d, dFf);
  const gemmSession = await ort.InferenceSession.create(gemm.bytes, sessionOptions({ threads: ctx.threads }));
  const gx = new ort.Tensor('float32', new Float32Array(shape.blockSize * shape.vocabSize).fill(0.01), [shape.blockSize, shape.vocabSize]);
  const gemmRuns = ctx.quick ? 20 : 100;
  const gemmRate = async () => {
    const t0 = performance.now();
    for (let i = 0; i < gemmRuns; i++) await gemmSession.run({ x: gx });
    return (performance.now() - t0) / gemmRuns;
  };

  let torch: Awaited<ReturnType<typeof startTorch>> | undefined;
  let torchError: string | undefined;
  let torchTokens: number[] = [];
  try {
    torch = await startTorch(ctx, [
      '--pack',
      packDir,
      '--context',
      Array.from(context).join(','),
      '--tokens',
      String(tokens),
      '--steps',
      String(steps),
      '--top-p',
      String(topP),
      '--seed',
      String(seed),
      '--threads',
      String(ctx.threads),
    ]);
  } catch (e) {
    torchError = (e as Error).message;
  }
  const variants: Record<string, () => Promise<Measured>> = { concert, gemm: gemmRate };
  if (torch)
    variants['pytorch'] = async () => {
      const r = await torch!.run();
      torchTokens = r.tokens;
      return { ms: r.ms, cpuMs: r.cpuMs };
    };
  const r = await interleave(variants, ctx.repeats);
  torch?.close();
  await gemmSession.release();
  await sessions.clear();

  const c = r.median['concert']!;
  const rows: BenchRow[] = [];
  const p = r.median['pytorch'];
  const same = concertTokens.length === torchTokens.length && concertTokens.every((t, i) => t === torchTokens[i]);
  rows.push({
    id: 'P1',
    measure: `diffusion block, Concert ÷ PyTorch eager reference loop (${pack.manifest.id}'s own weights, B = ${shape.blockSize}, T = ${steps}, top-p ${topP}, seed ${seed})`,
    ratio: p === undefined ? null : round(c / p),
    goal: 0.33,
    numerator: `${(c / blocks).toFixed(1)} ms/block`,
    denominator: p === undefined ? 'not run' : `${(p / blocks).toFixed(1)} ms/block`,
    detail: {
      pack: pack.manifest.id,
      contextTokens: context.length,
      newTokens: tokens,
      blocks,
      steps,
      medianMs: { concert: round(c, 1), pytorch: p === undefined ? null : round(p, 1) },
      cpuRatio: p === undefined ? null : round(r.cpuMedian['concert']! / r.cpuMedian['pytorch']!),
      pytorch: torch?.ready ?? null,
      sameTokens: torch ? same : null,
    },
    ...(torchError && { note: `the PyTorch reference could not run: ${torchError}` }),
    ...(torch && !same && { note: `different tokens (Concert ${concertTokens.join(' ')}; PyTorch ${torchTokens.join(' ')})` }),
  });

  const engineStep = median(stepSamples.map((s) => s.engine));
  const modelStep = median(stepSamples.map((s) => s.model));
  const gemmMs = r.median['gemm']!;
  const gflops = gemm.flops / gemmMs / 1e6;
  const ctxLen = context.length + tokens - shape.blockSize; // the longest context of the run
  const flops = denoiseStepFlops(shape, dFf, 1, ctxLen, timeFeatures);
  const floorMs = flops / (gflops * 1e6);
  rows.push({
    id: 'P6',
    measure: `diffusion step ÷ compute floor (step FLOPs ÷ GEMM rate of a [${shape.blockSize}×${shape.vocabSize}]·[${shape.vocabSize}×${d}] … MatMul chain, same run)`,
    ratio: round(engineStep / floorMs),
    goal: 1.5,
    numerator: `${engineStep.toFixed(2)} ms/step`,
    denominator: `${floorMs.toFixed(2)} ms (${(flops / 1e6).toFixed(1)} MFLOP at ${gflops.toFixed(1)} GFLOP/s)`,
    detail: {
      stepMs: round(engineStep, 3),
      denoiseCallMs: round(modelStep, 3),
      floorMs: round(floorMs, 3),
      stepMflop: round(flops / 1e6, 2),
      gemmGflops: round(gflops, 2),
      gemmShape: { M: shape.blockSize, V: shape.vocabSize, d, ff: dFf },
      modelOnlyRatio: round(modelStep / floorMs),
    },
  });
  return rows;
}

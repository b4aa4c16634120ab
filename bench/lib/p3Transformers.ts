/**
 * P3: Concert's autoregressive decoding ÷ transformers.js (`@huggingface/transformers`, its Node build on the same
 * onnxruntime-node) `generate`, on the same folder in Hugging Face's published ONNX layout: a Llama-architecture model
 * with random weights generated at benchmark time by tools/bench/make_llama.py (not committed), fp32, greedy, the
 * same prompt ids and number of new tokens, the same intra-op thread count and spinning setting.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeRecipe } from '../../src/engine/autoregressive';
import { loadLanguageModel } from '../../src/runtime/languageModel';
import { SessionCache, ortVersion } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import { interleave, round } from './measure';
import { sessionOptions } from './synthetic';
import type { BenchContext, BenchRow } from './types';

const PROMPT = [72, 101, 108, 108, 111, 44, 256, 119, 111, 114, 108, 100, 33, 32, 73, 116, 32, 119, 97, 115];

/** The benchmark's model folder (made once per size; `make_llama.py` writes it atomically). */
function modelFolder(ctx: BenchContext): { dir: string; params: number } {
  const size = ctx.quick ? { hidden: 128, layers: 2 } : { hidden: 512, layers: 12 };
  const dir = path.join(ctx.cacheDir, `llama-h${size.hidden}-l${size.layers}`);
  if (!existsSync(path.join(dir, 'bench.json'))) {
    ctx.log(`P3: generating ${dir} (tools/bench/make_llama.py)`);
    const r = spawnSync(ctx.python, ['tools/bench/make_llama.py', '--out', dir, '--hidden', String(size.hidden), '--layers', String(size.layers)], {
      cwd: ctx.root,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`tools/bench/make_llama.py failed: ${(r.stderr || r.stdout).slice(-600)}`);
  }
  return { dir, params: (JSON.parse(readFileSync(path.join(dir, 'bench.json'), 'utf8')) as { params: number }).params };
}

export async function benchTransformersJs(ctx: BenchContext): Promise<BenchRow> {
  const tokens = ctx.quick ? 4 : 32;
  const { dir, params } = modelFolder(ctx);

  // Concert: the folder as `concert` loads it (derived manifest, fp32 variant), CPU, same threads, no spinning.
  const pack = await validatePack(dir, 'user', undefined, { dtype: 'fp32', provider: 'cpu' });
  const sessions = new SessionCache('cpu', ctx.threads, 0);
  const model = await loadLanguageModel(pack, sessions);
  const prompt = Int32Array.from(PROMPT);
  let concertTokens: number[] = [];
  const concert = async () => {
    const r = await decodeRecipe(model.lm, {
      terms: [{ prompt, weight: 1, label: 'prompt' }],
      decoding: { mode: 'greedy' },
      maxTokens: tokens,
      seed: 0,
      stopTokens: [],
    });
    concertTokens = r.tokens.map((t) => t.id);
  };

  // transformers.js on the same folder, the same ONNX Runtime package (npm ls shows it deduped) and session options.
  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = path.dirname(path.resolve(dir)) + path.sep;
  const tModel = await tjs.AutoModelForCausalLM.from_pretrained(path.basename(dir), {
    dtype: 'fp32',
    device: 'cpu',
    session_options: sessionOptions({ threads: ctx.threads }),
  });
  const input_ids = new tjs.Tensor(
    'int64',
    BigInt64Array.from(PROMPT, (t) => BigInt(t)),
    [1, PROMPT.length],
  );
  const attention_mask = new tjs.Tensor('int64', new BigInt64Array(PROMPT.length).fill(1n), [1, PROMPT.length]);
  let tjsTokens: number[] = [];
  const transformersJs = async () => {
    const out = (await tModel.generate({ input_ids, attention_mask, max_new_tokens: tokens, min_new_tokens: tokens, do_sample: false })) as {
      tolist(): bigint[][];
    };
    tjsTokens = out
      .tolist()[0]!
      .slice(PROMPT.length)
      .map((t) => Number(t));
  };

  const r = await interleave({ concert, transformersJs }, ctx.repeats);
  await sessions.clear();
  await (tModel as { dispose?: () => Promise<unknown> }).dispose?.();
  const same = concertTokens.length === tjsTokens.length && concertTokens.every((t, i) => t === tjsTokens[i]);
  const c = r.median['concert']!;
  const t = r.median['transformersJs']!;
  return {
    id: 'P3',
    measure: `AR decoding, Concert ÷ transformers.js generate (same HF-layout folder: Llama, ${(params / 1e6).toFixed(1)} M random params, fp32, greedy)`,
    ratio: round(c / t),
    goal: 0.8,
    numerator: `${(c / tokens).toFixed(2)} ms/token`,
    denominator: `${(t / tokens).toFixed(2)} ms/token`,
    detail: {
      folder: dir,
      params,
      promptTokens: PROMPT.length,
      newTokens: tokens,
      sameTokens: same,
      medianMs: { concert: round(c, 1), transformersJs: round(t, 1) },
      cpuRatio: round(r.cpuMedian['concert']! / r.cpuMedian['transformersJs']!),
      onnxruntimeNode: ortVersion(),
      transformersJs: (tjs.env as { version?: string }).version ?? 'unknown',
    },
    ...(!same && { note: `the two decoders chose different tokens (Concert ${concertTokens.join(' ')}; transformers.js ${tjsTokens.join(' ')})` }),
  };
}

/**
 * CAD cost relative to plain decoding for the same number of tokens, on the bundled LM (CPU):
 *   batched  = CAD with both inputs as one batch of two rows (what Concert runs)
 *   two-pass = CAD with the two inputs run one after the other each step
 * Usage: node --import tsx bench/cad-speed.ts [--pack DIR] [--tokens 32] [--repeats 5] [--threads 2]
 * Prints ratios (time ÷ plain time); the goal for batched is ≤ 1.35.
 */
import { decodeRecipe } from '../src/engine/autoregressive';
import { combine, argmax } from '../src/engine/logits';
import { renderPieces } from '../src/runtime/prompts';
import { arg, loadBenchModel, median } from './common';

const DOC =
  'The river town grew around an old stone bridge. Merchants brought wool and salt from the hills, and the market square filled every Thursday. ' +
  'In the nineteenth century a railway line reached the valley, and the mills along the river were rebuilt in brick.';

async function main(): Promise<void> {
  const tokens = Number(arg('tokens', '32'));
  const repeats = Number(arg('repeats', '5'));
  const { model, close } = await loadBenchModel();
  const t = model.prompts.prompts.summary!;
  const withContext = renderPieces(t.prompt, { document: DOC }, model.tok);
  const withoutContext = renderPieces(t.no_context!, { document: '' }, model.tok);
  const greedy = { mode: 'greedy' } as const;
  const time = async (fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    return performance.now() - t0;
  };
  // No stop tokens: every variant decodes exactly `tokens` tokens.
  const plain = () =>
    decodeRecipe(model.lm, { terms: [{ prompt: withContext, weight: 1, label: 'plain' }], decoding: greedy, maxTokens: tokens, seed: 0, stopTokens: [] });
  const batched = () =>
    decodeRecipe(model.lm, {
      terms: [
        { prompt: withContext, weight: 1.5, label: 'c' },
        { prompt: withoutContext, weight: -0.5, label: 'n' },
      ],
      decoding: greedy,
      maxTokens: tokens,
      seed: 0,
      stopTokens: [],
    });
  const twoPass = async () => {
    let a = await model.lm.prefill([withContext]);
    let b = await model.lm.prefill([withoutContext]);
    for (let i = 0; i < tokens; i++) {
      const id = argmax(combine([a.logits[0]!, b.logits[0]!], [1.5, -0.5]));
      if (i === tokens - 1) break;
      a = await model.lm.extend(a.state, Int32Array.of(id));
      b = await model.lm.extend(b.state, Int32Array.of(id));
    }
  };
  await plain();
  await batched();
  await twoPass(); // warm-up
  const runs = { plain: [] as number[], batched: [] as number[], twoPass: [] as number[] };
  for (let r = 0; r < repeats; r++) {
    runs.plain.push(await time(plain));
    runs.batched.push(await time(batched));
    runs.twoPass.push(await time(twoPass));
  }
  const p = median(runs.plain);
  const result = {
    pack: model.pack.manifest.id,
    tokens,
    promptTokens: { withContext: withContext.length, withoutContext: withoutContext.length },
    medianMs: { plain: +p.toFixed(1), cadBatched: +median(runs.batched).toFixed(1), cadTwoPass: +median(runs.twoPass).toFixed(1) },
    ratio: { cadBatchedOverPlain: +(median(runs.batched) / p).toFixed(3), cadTwoPassOverPlain: +(median(runs.twoPass) / p).toFixed(3) },
  };
  console.log(JSON.stringify(result, null, 2));
  await close();
}

void main();

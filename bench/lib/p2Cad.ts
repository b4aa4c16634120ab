/**
 * P2: CAD ÷ plain decoding of the same number of tokens on the bundled causal LM (greedy, no stop tokens, so every
 * variant decodes exactly `tokens` tokens), the summary prompt of a 70-token document:
 *   plain    — decodeRecipe with the document prompt alone
 *   batched  — CAD as Concert runs it (decodeCad, α = 0.5, as the worker's CAD job calls it): both prompts as one
 *              batch of two rows
 *   twoPass  — CAD with the same engine loop over a model that runs each row as its own batch (bench/lib/rowByRow.ts)
 * The three run interleaved; the ratio is batched ÷ plain (Concert's path), two passes ÷ plain beside it.
 */
import * as path from 'node:path';
import { decodeRecipe } from '../../src/engine/autoregressive';
import { decodeCad } from '../../src/engine/cad';
import { loadLanguageModel } from '../../src/runtime/languageModel';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import { renderPieces } from '../../src/runtime/prompts';
import { interleave, round } from './measure';
import { RowByRowLM } from './rowByRow';
import type { BenchContext, BenchRow } from './types';

const DOC =
  'The river town grew around an old stone bridge. Merchants brought wool and salt from the hills, and the market square filled every Thursday. ' +
  'In the nineteenth century a railway line reached the valley, and the mills along the river were rebuilt in brick.';

export async function benchCad(ctx: BenchContext, tokensOverride?: number): Promise<BenchRow> {
  const pack = await validatePack(path.join(ctx.root, 'models', 'concert-lm-small'), 'bundled');
  const sessions = new SessionCache('cpu', ctx.threads, 0);
  const model = await loadLanguageModel(pack, sessions);
  const t = model.prompts.prompts['summary']!;
  const withContext = renderPieces(t.prompt, { document: DOC }, model.tok);
  const withoutContext = renderPieces(t.no_context!, { document: '' }, model.tok);
  const tokens = tokensOverride ?? (ctx.quick ? 8 : 64);
  const greedy = { mode: 'greedy' } as const;
  const rowByRow = new RowByRowLM(model.lm);
  const plain = () =>
    decodeRecipe(model.lm, { terms: [{ prompt: withContext, weight: 1, label: 'plain' }], decoding: greedy, maxTokens: tokens, seed: 0, stopTokens: [] }).then(
      () => undefined,
    );
  // (1 + α)·context − α·no context with α = 0.5: weights 1.5 and −0.5.
  const cad = (lm: typeof model.lm | RowByRowLM) => () =>
    decodeCad(lm, { withContext, withoutContext, alpha: 0.5, decoding: greedy, maxTokens: tokens, seed: 0, stopTokens: [] }).then(() => undefined);
  const r = await interleave(
    {
      plain,
      batched: cad(model.lm),
      twoPass: cad(rowByRow),
    },
    ctx.repeats,
  );
  await sessions.clear();
  const p = r.median['plain']!;
  const b = r.median['batched']!;
  const two = r.median['twoPass']!;
  return {
    id: 'P2',
    measure: `CAD ÷ plain decoding, same tokens (${pack.manifest.id}, batch of two rows; two passes in detail)`,
    ratio: round(b / p),
    goal: 1.35,
    numerator: `${(b / tokens).toFixed(2)} ms/token (two passes ${(two / tokens).toFixed(2)}, ratio ${(two / p).toFixed(3)})`,
    denominator: `${(p / tokens).toFixed(2)} ms/token`,
    detail: {
      pack: pack.manifest.id,
      tokens,
      promptTokens: { withContext: withContext.length, withoutContext: withoutContext.length },
      medianMs: { plain: round(p, 1), batched: round(b, 1), twoPass: round(two, 1) },
      ratio: { batchedOverPlain: round(b / p), twoPassOverPlain: round(two / p) },
      cpuMedianMs: { plain: round(r.cpuMedian['plain']!, 1), batched: round(r.cpuMedian['batched']!, 1), twoPass: round(r.cpuMedian['twoPass']!, 1) },
      cpuRatio: {
        batchedOverPlain: round(r.cpuMedian['batched']! / r.cpuMedian['plain']!),
        twoPassOverPlain: round(r.cpuMedian['twoPass']! / r.cpuMedian['plain']!),
      },
    },
  };
}

/**
 * Constrained vs unconstrained sampling of a codec LM (JPEG-LM images, AVC-LM video): N samples of one prompt as one
 * batch, each mode run with the same seeds, interleaved. Rows that end stay in the batch until all have ended, so a
 * step costs the same however many rows still run, but a step's cost grows with the sequence (attention over the
 * cache), and the two modes end after different numbers of steps: each pair is compared over the steps both ran (the
 * first S = min(steps)), constrained ÷ unconstrained decoding time (prefill excluded); the median over the pairs is the
 * ratio. On a loaded machine that ratio is noisy, so the loop's own work (masks, sampling, bookkeeping: a step's time
 * less the model's forward pass) is also timed per step in each mode: `hostEstimate` = (model + constrained host) ÷
 * (model + unconstrained host) per step, the same model time on both sides.
 */
import { sampleRows, type RowConstraint, type SampledRow } from '../../src/engine/sampling';
import type { CodecModel } from '../../src/runtime/codecLm';
import { median } from '../common';

/** One sample's constraint, and whether its finished stream decodes. */
export interface BenchSample extends RowConstraint {
  decodes(row: SampledRow): boolean;
}

interface Run {
  at: number[];
  steps: number;
  decodable: number;
  modelMsPerStep: number;
  hostMsPerStep: number;
}

export async function compareConstrained(
  model: CodecModel,
  o: { promptIds: Int32Array; maxTokens: number; samples: number; repeats: number; seed: number; sample: (constrained: boolean) => BenchSample },
): Promise<Record<string, unknown>> {
  const once = async (constrained: boolean, s: number): Promise<Run> => {
    const rows = Array.from({ length: o.samples }, () => o.sample(constrained));
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
      prompt: o.promptIds,
      samples: o.samples,
      decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 },
      maxTokens: o.maxTokens,
      seed: s,
      stopTokens: [model.codec.eos],
      padToken: model.codec.pad,
      constraint: (i) => rows[i]!,
      onPrefill: () => (t1 = performance.now()),
      onStep: () => at.push(performance.now() - t1),
    });
    const decodable = r.rows.filter((row, i) => rows[i]!.decodes(row)).length;
    const total = at[at.length - 1]!;
    return { at, steps: r.steps, decodable, modelMsPerStep: modelMs / Math.max(1, r.steps - 1), hostMsPerStep: (total - modelMs) / r.steps };
  };

  // Warm-up (sessions, masks memo), then interleaved runs with the same seeds.
  await once(true, o.seed);
  await once(false, o.seed);
  const runs = { constrained: [] as Run[], unconstrained: [] as Run[] };
  for (let i = 0; i < o.repeats; i++) {
    runs.constrained.push(await once(true, o.seed + i));
    runs.unconstrained.push(await once(false, o.seed + i));
  }
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const summary = (rs: Run[]) => ({
    msPerStep: round(median(rs.map((r) => r.at[r.at.length - 1]! / r.steps))),
    modelMsPerStep: round(median(rs.map((r) => r.modelMsPerStep))),
    hostMsPerStep: round(median(rs.map((r) => r.hostMsPerStep))),
    stepsMedian: median(rs.map((r) => r.steps)),
    decodable: `${rs.reduce((n, r) => n + r.decodable, 0)}/${rs.length * o.samples}`,
  });
  const c = summary(runs.constrained);
  const u = summary(runs.unconstrained);
  const pairs = runs.constrained.map((cr, i) => {
    const ur = runs.unconstrained[i]!;
    const S = Math.min(cr.steps, ur.steps);
    return { steps: S, ratio: cr.at[S - 1]! / ur.at[S - 1]! };
  });
  return {
    promptTokens: o.promptIds.length,
    maxTokens: o.maxTokens,
    constrained: c,
    unconstrained: u,
    comparedSteps: pairs.map((x) => x.steps),
    ratioConstrainedOverUnconstrained: round(median(pairs.map((x) => x.ratio))),
    hostEstimate: round((u.modelMsPerStep + c.hostMsPerStep) / (u.modelMsPerStep + u.hostMsPerStep)),
  };
}

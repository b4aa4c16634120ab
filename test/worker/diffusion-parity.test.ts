/**
 * ONNX Runtime parity of the bundled simplex diffusion LMs (models/concert-ssd-core, models/concert-ssd-user) against
 * PyTorch, without torch: the golden fixtures (test/fixtures/golden/<pack>/graphs.json and decode.json, written by
 * tools/diffusion/export.py) hold the inputs and samples of PyTorch's outputs. Also checks inside ONNX Runtime that a
 * context encoded in two pieces equals one encoding, that left padding leaves a row unchanged, and that whole decoding
 * runs of src/engine/diffusion/decode.ts over the two graphs reproduce the PyTorch reference loop
 * (tools/diffusion/decode.py) token for token under the engine's seeded noise.
 *
 * CONCERT_SSD_PACK_ROOT / CONCERT_SSD_GOLDEN_ROOT point the test at other folders (e.g. the smoke packs in
 * data/build/smoke-packs and data/build/smoke-golden).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { decodeDiffusion } from '../../src/engine/diffusion/decode';
import type { ContextState, DiffusionLM } from '../../src/engine/models';
import { Rng, SeededNoise } from '../../src/engine/random';
import { OnnxDiffusionLM, diffusionShape } from '../../src/runtime/diffusionLm';
import { SessionCache, type LoadedGraph } from '../../src/runtime/ort';
import { validatePack, type ValidatedPack } from '../../src/runtime/packs';
import { compareOutputs, feedsFor, formula, loadGolden, maxAbsDiff, type Golden, type GoldenCase, type Outputs } from '../helpers/golden';

const here = path.dirname(fileURLToPath(import.meta.url));
const PACK_ROOT = process.env['CONCERT_SSD_PACK_ROOT'] ?? path.join(here, '../../models');
const GOLDEN_ROOT = process.env['CONCERT_SSD_GOLDEN_ROOT'] ?? path.join(here, '../fixtures/golden');
const PACKS = ['concert-ssd-core', 'concert-ssd-user'];

interface Case extends GoldenCase {
  graph: 'context' | 'denoiser';
}
type GraphsGolden = Golden<Case>;
interface DecodeRun {
  name: string;
  steps: number;
  top_p: number;
  max_tokens: number;
  seed: number;
  early_stop: number;
  prompt: number[];
  eos: number | null;
  expected: { tokens: number[]; blocks: number; stoppedBy: string; steps: { block: number; t: number; argmax: number[]; chosen: number[] | null }[] };
}
interface DecodeGolden {
  pack: string;
  noiseProbe: { seed: number; block: number; step: number; std: number; first8: number[] };
  rngProbe: { seed: number; stream: number; first4: number[] };
  runs: DecodeRun[];
}

/** The anchored denoiser's `anchor_ids` [rows]: each context row's last token. */
const anchors = (rows: readonly (readonly number[] | Int32Array)[]): ort.Tensor =>
  new ort.Tensor(
    'int64',
    BigInt64Array.from(rows, (r) => BigInt(r[r.length - 1]!)),
    [rows.length],
  );

interface Shape {
  layers: number;
  heads: number;
  headDim: number;
  vocab: number;
  block: number;
}

function shapeOf(pack: ValidatedPack): Shape {
  const knobs = pack.manifest.knobs!;
  return {
    layers: Number(knobs['numLayers']),
    heads: Number(knobs['numHeads']),
    headDim: Number(knobs['headDim']),
    vocab: Number(knobs['vocabSize']),
    block: Number(knobs['blockSize']),
  };
}

const emptyPast = (s: Shape, rows: number): Record<string, ort.Tensor> => {
  const out: Record<string, ort.Tensor> = {};
  for (let i = 0; i < s.layers; i++)
    for (const kv of ['key', 'value']) out[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [rows, s.heads, 0, s.headDim]);
  return out;
};

const asPast = (out: Outputs): Record<string, ort.Tensor> =>
  Object.fromEntries(
    Object.entries(out)
      .filter(([k]) => k.startsWith('present.'))
      .map(([k, t]) => [k.replace('present.', 'past_key_values.'), t]),
  );

/** Left-pads rows into context-graph feeds (position ids count real tokens; padding positions 1, as in PyTorch). */
function contextFeeds(rows: readonly ArrayLike<number>[], pad: number): { ids: ort.Tensor; mask: ort.Tensor; pos: ort.Tensor } {
  const L = Math.max(...rows.map((r) => r.length));
  const n = rows.length;
  const ids = new BigInt64Array(n * L).fill(BigInt(pad));
  const mask = new BigInt64Array(n * L);
  const pos = new BigInt64Array(n * L).fill(1n);
  rows.forEach((r, i) => {
    const o = L - r.length;
    for (let j = 0; j < r.length; j++) {
      ids[i * L + o + j] = BigInt(r[j]!);
      mask[i * L + o + j] = 1n;
      pos[i * L + o + j] = BigInt(j);
    }
  });
  return { ids: new ort.Tensor('int64', ids, [n, L]), mask: new ort.Tensor('int64', mask, [n, L]), pos: new ort.Tensor('int64', pos, [n, L]) };
}

interface OrtCtx extends ContextState {
  mask: ort.Tensor;
  past: Record<string, ort.Tensor>;
  anchors: ort.Tensor;
}

/** A minimal DiffusionLM over the two graphs (what a runtime adapter does), for the whole-run check. */
class TestDiffusionLM implements DiffusionLM {
  readonly vocabSize: number;
  readonly blockSize: number;
  readonly k: number;
  readonly tTrain: number;
  readonly selfConditioning: boolean;
  readonly maxContext: number;
  constructor(
    pack: ValidatedPack,
    private readonly ctxGraph: LoadedGraph,
    private readonly denGraph: LoadedGraph,
    private readonly shape: Shape,
    private readonly pad: number,
  ) {
    const k = pack.manifest.knobs!;
    this.vocabSize = shape.vocab;
    this.blockSize = shape.block;
    this.k = Number(k['K']);
    this.tTrain = Number(k['tTrain']);
    this.selfConditioning = k['selfConditioning'] === true;
    this.maxContext = Number(k['maxContext']);
  }
  async encodeContext(rows: readonly Int32Array[]): Promise<ContextState> {
    const f = contextFeeds(rows, this.pad);
    const out = (await this.ctxGraph.session.run({
      input_ids: f.ids,
      attention_mask: f.mask,
      position_ids: f.pos,
      ...emptyPast(this.shape, rows.length),
    })) as Outputs;
    return { rows: rows.length, mask: f.mask, past: asPast(out), anchors: anchors(rows) } as OrtCtx;
  }
  async denoise(ctx: ContextState, noisy: Float32Array, selfCond: Float32Array | undefined, tFrac: number): Promise<Float32Array> {
    const c = ctx as OrtCtx;
    const dims = [c.rows, this.blockSize, this.vocabSize];
    const out = (await this.denGraph.session.run({
      noisy_logits: new ort.Tensor('float32', noisy, dims),
      self_cond_logits: new ort.Tensor('float32', selfCond ?? new Float32Array(noisy.length), dims),
      t_frac: new ort.Tensor('float32', new Float32Array(c.rows).fill(tFrac), [c.rows]),
      attention_mask: c.mask,
      anchor_ids: c.anchors,
      ...c.past,
    })) as Outputs;
    return out['logits']!.data as Float32Array;
  }
}

for (const PACK_ID of PACKS) {
  const packDir = path.join(PACK_ROOT, PACK_ID);
  const goldenDir = path.join(GOLDEN_ROOT, PACK_ID);

  describe(`simplex diffusion LM parity (${PACK_ID})`, () => {
    let pack: ValidatedPack;
    let sessions: SessionCache;
    const graphs: Record<string, LoadedGraph> = {};
    let golden: GraphsGolden;
    let decodeGolden: DecodeGolden;
    let shape: Shape;
    const results = new Map<string, Outputs>();

    before(async () => {
      golden = loadGolden<GraphsGolden>(path.join(goldenDir, 'graphs.json'));
      decodeGolden = loadGolden<DecodeGolden>(path.join(goldenDir, 'decode.json'));
      pack = await validatePack(packDir, 'bundled');
      sessions = new SessionCache('cpu', 1, 0);
      for (const role of ['context', 'denoiser']) graphs[role] = await sessions.get(pack, role);
      shape = shapeOf(pack);
    });
    after(async () => sessions?.clear());

    it('validates and declares the diffusion knobs and the two graphs', () => {
      const m = pack.manifest;
      assert.equal(m.kind, 'simplex-diffusion-lm');
      assert.equal(golden.pack, PACK_ID);
      assert.deepEqual(Object.keys(m.graphs).sort(), ['context', 'denoiser']);
      assert.ok('weights.bin' in m.files, 'the graphs share weights.bin');
      const k = m.knobs!;
      assert.equal(k['K'], 5);
      assert.equal(k['schedule'], 'cosine');
      assert.equal(k['selfConditioning'], true);
      assert.ok(Number(k['blockSize']) >= 2 && Number(k['tTrain']) >= 100 && Number(k['maxContext']) > Number(k['blockSize']));
      assert.ok(['core', 'user'].includes(String(k['role'])));
      const den = m.io['denoiser']!;
      assert.deepEqual(
        den.inputs.slice(0, 5).map((v) => v.name),
        ['noisy_logits', 'self_cond_logits', 't_frac', 'attention_mask', 'anchor_ids'],
      );
      assert.deepEqual(
        den.outputs.map((v) => v.name),
        ['logits'],
      );
      assert.deepEqual(den.inputs[0]!.shape, ['batch_size', 'block_length', shape.vocab]);
      const ctx = m.io['context']!;
      assert.deepEqual(
        ctx.inputs.slice(0, 3).map((v) => v.name),
        ['input_ids', 'attention_mask', 'position_ids'],
      );
      assert.equal(ctx.outputs.length, 2 * shape.layers);
      assert.deepEqual(ctx.outputs[0]!.shape, ['batch_size', shape.heads, 'past_sequence_length + sequence_length', shape.headDim]);
      assert.ok(m.prompts && m.prompts in m.files);
    });

    it('matches PyTorch on every golden case (≤ 1e-4)', async (t) => {
      for (const c of golden.cases) {
        const out = (await graphs[c.graph]!.session.run(feedsFor(c, results))) as Outputs;
        results.set(c.name, out);
        // A row's sum: every entry may differ by up to tol, in the same direction (float32 kernels differ systematically).
        const worst = compareOutputs(c, out, golden.tolerance, { rowSumTolerance: (tol, row) => tol * row });
        t.diagnostic(`${c.name}: max-abs difference ${worst.toExponential(2)}`);
      }
    });

    it('a context encoded in two pieces (with past) equals one encoding, and so do the block logits', async () => {
      const ids = [2, 17, 99, 345, 12, 7, 1000, 55, 3001, 42].map((v) => v % shape.vocab);
      const run = async (pieces: number[][]) => {
        let past = emptyPast(shape, 1);
        let done = 0;
        for (const p of pieces) {
          const out = (await graphs['context']!.session.run({
            input_ids: new ort.Tensor('int64', BigInt64Array.from(p.map(BigInt)), [1, p.length]),
            attention_mask: new ort.Tensor('int64', new BigInt64Array(done + p.length).fill(1n), [1, done + p.length]),
            position_ids: new ort.Tensor('int64', BigInt64Array.from(p.map((_, j) => BigInt(done + j))), [1, p.length]),
            ...past,
          })) as Outputs;
          past = asPast(out);
          done += p.length;
        }
        const B = shape.block;
        const out = (await graphs['denoiser']!.session.run({
          noisy_logits: new ort.Tensor('float32', formula([1, B, shape.vocab], 0.3, 5), [1, B, shape.vocab]),
          self_cond_logits: new ort.Tensor('float32', formula([1, B, shape.vocab], 1.1, 2), [1, B, shape.vocab]),
          t_frac: new ort.Tensor('float32', Float32Array.from([0.6]), [1]),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(done).fill(1n), [1, done]),
          anchor_ids: anchors([ids]),
          ...past,
        })) as Outputs;
        return { past, logits: out['logits']!.data as Float32Array };
      };
      const whole = await run([ids]);
      const split = await run([ids.slice(0, 6), ids.slice(6)]);
      for (const k of Object.keys(whole.past)) assert.ok(maxAbsDiff(whole.past[k]!.data as Float32Array, split.past[k]!.data as Float32Array) <= 1e-4, k);
      assert.ok(maxAbsDiff(whole.logits, split.logits) <= 1e-4);
    });

    it('left padding leaves a row unchanged (batch 2, different context lengths)', async () => {
      const long = [2, 400, 401, 402, 403, 404, 405, 406, 407].map((v) => v % shape.vocab);
      const short = [2, 50, 60, 70].map((v) => v % shape.vocab);
      const B = shape.block;
      const V = shape.vocab;
      const noisy = formula([2, B, V], 0.9, 5);
      const sc = formula([2, B, V], 2.2, 3);
      const den = async (rows: number[][], rowSel: number[]) => {
        const f = contextFeeds(rows, 0);
        const ctx = (await graphs['context']!.session.run({
          input_ids: f.ids,
          attention_mask: f.mask,
          position_ids: f.pos,
          ...emptyPast(shape, rows.length),
        })) as Outputs;
        const n = rows.length;
        const nz = new Float32Array(n * B * V);
        const s = new Float32Array(n * B * V);
        rowSel.forEach((r, i) => {
          nz.set(noisy.subarray(r * B * V, (r + 1) * B * V), i * B * V);
          s.set(sc.subarray(r * B * V, (r + 1) * B * V), i * B * V);
        });
        const out = (await graphs['denoiser']!.session.run({
          noisy_logits: new ort.Tensor('float32', nz, [n, B, V]),
          self_cond_logits: new ort.Tensor('float32', s, [n, B, V]),
          t_frac: new ort.Tensor('float32', Float32Array.from(rowSel.map((r) => (r === 0 ? 0.8 : 0.2))), [n]),
          attention_mask: f.mask,
          anchor_ids: anchors(rows),
          ...asPast(ctx),
        })) as Outputs;
        return out['logits']!.data as Float32Array;
      };
      const batch = await den([long, short], [0, 1]);
      const alone = await den([short], [1]);
      const first = await den([long], [0]);
      assert.ok(maxAbsDiff(batch.subarray(B * V), alone) <= 1e-4, 'padded row differs from the row alone');
      assert.ok(maxAbsDiff(batch.subarray(0, B * V), first) <= 1e-4, 'unpadded row differs');
    });

    it("the golden fixture's noise and sampling streams are the engine's", () => {
      const p = decodeGolden.noiseProbe;
      const out = new Float32Array(8);
      new SeededNoise(p.seed).gaussian(out, p.std, { block: p.block, step: p.step });
      assert.deepEqual([...out], p.first8);
      const r = new Rng(decodeGolden.rngProbe.seed, decodeGolden.rngProbe.stream);
      assert.deepEqual([r.next(), r.next(), r.next(), r.next()], decodeGolden.rngProbe.first4);
    });

    const wholeRuns = async (lm: DiffusionLM, t: { diagnostic: (m: string) => void }) => {
      for (const run of decodeGolden.runs) {
        const steps: { block: number; t: number; tokens: number[] }[] = [];
        const res = await decodeDiffusion(lm, {
          terms: [{ context: Int32Array.from(run.prompt), weight: 1, label: 'prompt' }],
          maxTokens: run.max_tokens,
          steps: run.steps,
          projection: { kind: 'sample', topP: run.top_p },
          seed: run.seed,
          earlyStop: run.early_stop,
          ...(run.eos !== null && { eos: run.eos }),
          onStep: (s) => steps.push({ block: s.block, t: s.t, tokens: [...s.tokens] }),
        });
        assert.equal(steps.length, run.expected.steps.length, `${run.name}: number of steps`);
        let mismatches = 0;
        steps.forEach((s, i) => {
          const e = run.expected.steps[i]!;
          assert.equal(s.block, e.block);
          assert.equal(s.t, e.t);
          if (s.tokens.join(',') !== e.argmax.join(',')) mismatches++;
        });
        assert.equal(mismatches, 0, `${run.name}: ${mismatches} steps whose argmax tokens differ from PyTorch's`);
        assert.deepEqual(res.tokens, run.expected.tokens, `${run.name}: released tokens`);
        assert.equal(res.stoppedBy, run.expected.stoppedBy === 'max-tokens' ? 'max-tokens' : 'eos');
        t.diagnostic(`${run.name}: ${steps.length} steps, ${res.tokens.length} tokens, stopped by ${res.stoppedBy}`);
      }
    };

    it('whole decoding runs of the engine over the graphs reproduce the PyTorch reference loop', async (t) => {
      await wholeRuns(new TestDiffusionLM(pack, graphs['context']!, graphs['denoiser']!, shape, 0), t);
    });

    it("the same runs through the runtime's OnnxDiffusionLM (incremental context encoding)", async (t) => {
      const dshape = diffusionShape(pack);
      assert.equal(dshape.layers, shape.layers);
      const lm = new OnnxDiffusionLM(graphs['context']!, graphs['denoiser']!, dshape, 0);
      await wholeRuns(lm, t);
      assert.ok(lm.encodedTokens > 0);
    });
  });
}

/**
 * ONNX Runtime parity of the bundled guidance classifiers (models/concert-clf-*) against PyTorch, without torch: the
 * golden fixtures (test/fixtures/golden/<pack>/classifier.json, written by tools/models/export_classifier.py) hold
 * the inputs and PyTorch's `log_probs` and a fixed sample of `grad`. Also checks, inside ONNX Runtime, that `grad` is
 * the derivative of the graph's own log p(label) (central finite differences) and sums to 0 over the vocabulary.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';

const PACKS = ['concert-clf-sentiment', 'concert-clf-style'];

interface InputSpec {
  dtype: 'int64' | 'float32';
  dims: number[];
  data?: number[];
  formula?: { kind: 'sin'; seed: number; scale: number };
  onehot?: { ids: number[]; K: number };
}
interface OutputSummary {
  dims: number[];
  sample: { index: number[]; value: number[] };
  rowSum: number[];
  rowArgmax: number[];
}
interface Case {
  name: string;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, OutputSummary>;
}
interface Golden {
  pack: string;
  tolerance: number;
  cases: Case[];
}
type Outputs = Record<string, ort.Tensor>;

function formula(dims: number[], seed: number, scale: number): Float32Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const step = 0.7853981 * 1.618034;
  for (let i = 0; i < n; i++) out[i] = scale * Math.sin(i * step + seed);
  return out;
}

function tensor(spec: InputSpec): ort.Tensor {
  if (spec.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(spec.data!.map((v) => BigInt(v))), spec.dims);
  if (spec.onehot) {
    const vocab = spec.dims[2]!;
    const { ids, K } = spec.onehot;
    const out = new Float32Array(ids.length * vocab).fill(-K);
    ids.forEach((id, p) => (out[p * vocab + id] = K));
    return new ort.Tensor('float32', out, spec.dims);
  }
  return new ort.Tensor('float32', formula(spec.dims, spec.formula!.seed, spec.formula!.scale), spec.dims);
}

/** Max-abs difference relative to the output's scale (max |value| of the reference sample, at least 1). */
function compare(name: string, got: ort.Tensor, want: OutputSummary, tol: number): number {
  assert.deepEqual(got.dims, want.dims, `${name} dims`);
  const data = got.data as Float32Array;
  const scale = Math.max(1, ...want.sample.value.map(Math.abs));
  let maxAbs = 0;
  want.sample.index.forEach((idx, k) => {
    assert.ok(Number.isFinite(data[idx]!), `${name}[${idx}] is not finite`);
    maxAbs = Math.max(maxAbs, Math.abs(data[idx]! - want.sample.value[k]!));
  });
  assert.ok(maxAbs <= tol * scale, `${name}: max-abs difference ${maxAbs} over ${want.sample.index.length} sampled entries exceeds ${tol * scale}`);
  const row = want.dims[want.dims.length - 1]!;
  want.rowSum.forEach((s, r) => {
    let sum = 0;
    for (let j = 0; j < row; j++) sum += data[r * row + j]!;
    assert.ok(Math.abs(sum - s) <= tol * scale * Math.max(1, Math.sqrt(row)) * 10, `${name} row ${r}: sum ${sum} vs ${s}`);
  });
  want.rowArgmax.forEach((a, r) => {
    let best = -Infinity;
    for (let j = 0; j < row; j++) best = Math.max(best, data[r * row + j]!);
    assert.ok(best - data[r * row + a]! <= tol * scale, `${name} row ${r}: argmax disagrees`);
  });
  return maxAbs;
}

for (const id of PACKS) {
  const packDir = fileURLToPath(new URL(`../../models/${id}/`, import.meta.url));
  const golden = JSON.parse(readFileSync(new URL(`../fixtures/golden/${id}/classifier.json`, import.meta.url), 'utf8')) as Golden;

  describe(`classifier parity (${id})`, () => {
    const sessions = new SessionCache('cpu', 1, 0);
    after(async () => sessions.clear());
    const session = async () => (await sessions.get(await validatePack(packDir, 'bundled'), 'classifier')).session;

    it('the bundled pack validates and declares logits/label → log_probs/grad', async () => {
      const pack = await validatePack(packDir, 'bundled');
      assert.equal(pack.manifest.kind, 'classifier');
      assert.equal(golden.pack, id);
      const io = pack.manifest.io['classifier']!;
      assert.deepEqual(io.inputs.map((v) => v.name), ['logits', 'label']);
      assert.deepEqual(io.outputs.map((v) => v.name), ['log_probs', 'grad']);
      const labels = pack.manifest.knobs?.['labels'] as string[];
      assert.equal(labels.length, io.outputs[0]!.shape[1]);
    });

    for (const c of golden.cases) {
      it(`matches PyTorch: ${c.name}`, async (t) => {
        const s = await session();
        const feeds: Record<string, ort.Tensor> = {};
        for (const [name, spec] of Object.entries(c.inputs)) feeds[name] = tensor(spec);
        const out = (await s.run(feeds)) as Outputs;
        let worst = 0;
        for (const [name, want] of Object.entries(c.outputs)) worst = Math.max(worst, compare(`${c.name}/${name}`, out[name]!, want, golden.tolerance));
        t.diagnostic(`max-abs difference ${worst.toExponential(2)}`);
        // Probabilities sum to 1; the gradient sums to 0 over the vocabulary at every position (softmax Jacobian).
        const lp = out['log_probs']!.data as Float32Array;
        const n = out['log_probs']!.dims[1]!;
        for (let r = 0; r < out['log_probs']!.dims[0]!; r++) {
          let z = 0;
          for (let j = 0; j < n; j++) z += Math.exp(lp[r * n + j]!);
          assert.ok(Math.abs(z - 1) < 1e-5, `row ${r} probabilities sum to ${z}`);
        }
        const g = out['grad']!.data as Float32Array;
        const V = out['grad']!.dims[2]!;
        let gmax = 0;
        for (const v of g) gmax = Math.max(gmax, Math.abs(v));
        for (let p = 0; p < g.length / V; p++) {
          let sum = 0;
          for (let j = 0; j < V; j++) sum += g[p * V + j]!;
          assert.ok(Math.abs(sum) <= 1e-4 * Math.max(gmax, 1e-3), `position ${p}: gradient sums to ${sum}`);
        }
      });
    }

    it('grad is the derivative of the graph\'s own log p(label) (finite differences)', async () => {
      const s = await session();
      const c = golden.cases.find((x) => x.name === 'random')!;
      const logits = tensor(c.inputs['logits']!);
      const label = tensor(c.inputs['label']!);
      const base = (await s.run({ logits, label })) as Outputs;
      const g = base['grad']!.data as Float32Array;
      const [B, L, V] = logits.dims as [number, number, number];
      const target = Number((label.data as BigInt64Array)[0]!);
      const data = logits.data as Float32Array;
      // The largest-magnitude gradient entries of row 0 (small ones drown in float32 rounding).
      const idx = Array.from({ length: L * V }, (_, i) => i).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 4);
      const eps = 1e-2;
      for (const i of idx) {
        const lpAt = async (delta: number) => {
          const x = Float32Array.from(data);
          x[i] = x[i]! + delta;
          const o = (await s.run({ logits: new ort.Tensor('float32', x, [B, L, V]), label })) as Outputs;
          return (o['log_probs']!.data as Float32Array)[target]!; // row 0's log p(label)
        };
        const fd = ((await lpAt(eps)) - (await lpAt(-eps))) / (2 * eps);
        assert.ok(Math.abs(fd - g[i]!) <= 0.05 * Math.abs(g[i]!) + 2e-4, `entry ${i}: finite difference ${fd} vs grad ${g[i]}`);
      }
    });
  });
}

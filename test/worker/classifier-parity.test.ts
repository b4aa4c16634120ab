/**
 * ONNX Runtime parity of the bundled guidance classifiers (models/concert-clf-*) against PyTorch, without torch: the
 * golden fixtures (test/fixtures/golden/<pack>/classifier.json, written by tools/models/export_classifier.py) hold
 * the inputs and PyTorch's `log_probs` and a fixed sample of `grad`. Also checks, inside ONNX Runtime, that `grad` is
 * the derivative of the graph's own log p(label) (central finite differences) and sums to 0 over the vocabulary.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import { compareOutputs, feedsFor, loadGolden, tensor, type Golden, type Outputs } from '../helpers/golden';

const PACKS = ['concert-clf-sentiment', 'concert-clf-style'];

for (const id of PACKS) {
  const packDir = fileURLToPath(new URL(`../../models/${id}/`, import.meta.url));
  const golden = loadGolden<Golden>(new URL(`../fixtures/golden/${id}/classifier.json`, import.meta.url));

  describe(`classifier parity (${id})`, () => {
    const sessions = new SessionCache('cpu', 1, 0);
    after(async () => sessions.clear());
    const session = async () => (await sessions.get(await validatePack(packDir, 'bundled'), 'classifier')).session;

    it('the bundled pack validates and declares logits/label → log_probs/grad', async () => {
      const pack = await validatePack(packDir, 'bundled');
      assert.equal(pack.manifest.kind, 'classifier');
      assert.equal(golden.pack, id);
      const io = pack.manifest.io['classifier']!;
      assert.deepEqual(
        io.inputs.map((v) => v.name),
        ['logits', 'label'],
      );
      assert.deepEqual(
        io.outputs.map((v) => v.name),
        ['log_probs', 'grad'],
      );
      const labels = pack.manifest.knobs?.['labels'] as string[];
      assert.equal(labels.length, io.outputs[0]!.shape[1]);
    });

    for (const c of golden.cases) {
      it(`matches PyTorch: ${c.name}`, async (t) => {
        const s = await session();
        const out = (await s.run(feedsFor(c, new Map()))) as Outputs;
        // Tolerances relative to the output's scale (max |value| of the reference sample, at least 1).
        const worst = compareOutputs(c, out, golden.tolerance, { relative: true });
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

    it("grad is the derivative of the graph's own log p(label) (finite differences)", async () => {
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
      const idx = Array.from({ length: L * V }, (_, i) => i)
        .sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!))
        .slice(0, 4);
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

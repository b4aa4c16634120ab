/**
 * ONNX Runtime parity of the bundled decoders against PyTorch, without torch: the causal LM (models/concert-lm-small)
 * and the JPEG-LM (models/concert-jpeg-32, kind codec-lm, the same optimum decoder I/O). The golden fixtures
 * (test/fixtures/golden/<pack>/decoder.json, written by tools/models/export_causal_lm.py and tools/jpeg/export.py) hold the
 * inputs and a fixed sample of PyTorch's outputs. Also checks, inside ONNX Runtime, that a cached decode equals the
 * full forward and that left padding does not change the real tokens' logits.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack, type ValidatedPack } from '../../src/runtime/packs';
import { compareOutputs, feedsFor, loadGolden, maxAbsDiff, tensor, type Golden, type Outputs } from '../helpers/golden';

for (const [PACK_ID, KIND] of [
  ['concert-lm-small', 'causal-lm'],
  ['concert-jpeg-32', 'codec-lm'],
  ['concert-avc-32', 'codec-lm'],
] as const) {
  const packDir = fileURLToPath(new URL(`../../models/${PACK_ID}/`, import.meta.url));
  const golden = loadGolden<Golden>(new URL(`../fixtures/golden/${PACK_ID}/decoder.json`, import.meta.url));

  describe(`decoder parity (${PACK_ID})`, () => {
    let pack: ValidatedPack;
    let sessions: SessionCache;
    let session: ort.InferenceSession;
    const results = new Map<string, Outputs>();

    before(async () => {
      pack = await validatePack(packDir, 'bundled');
      sessions = new SessionCache('cpu', 1, 0);
      session = (await sessions.get(pack, 'decoder')).session;
    });
    after(async () => sessions?.clear());

    it('the bundled pack validates and declares the optimum decoder I/O', () => {
      assert.equal(pack.manifest.kind, KIND);
      assert.equal(golden.pack, PACK_ID);
      const io = pack.manifest.io['decoder']!;
      const names = io.inputs.map((v) => v.name);
      assert.deepEqual(names.slice(0, 3), ['input_ids', 'attention_mask', 'position_ids']);
      const layers = Number(pack.manifest.knobs?.['numLayers']);
      assert.ok(layers > 0);
      for (let i = 0; i < layers; i++) assert.ok(names.includes(`past_key_values.${i}.key`) && names.includes(`past_key_values.${i}.value`));
      assert.deepEqual(
        io.outputs.map((v) => v.name),
        ['logits', ...Array.from({ length: layers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat()],
      );
      assert.deepEqual(io.inputs.find((v) => v.name === 'attention_mask')!.shape, ['batch_size', 'past_sequence_length + sequence_length']);
    });

    for (const c of golden.cases) {
      it(`matches PyTorch: ${c.name}`, async (t) => {
        const out = (await session.run(feedsFor(c, results))) as Outputs;
        results.set(c.name, out);
        const worst = compareOutputs(c, out, golden.tolerance);
        t.diagnostic(`max-abs difference ${worst.toExponential(2)}`);
      });
    }

    it('a cached decode (prefix, then one token at a time) equals the full forward', async () => {
      const c = golden.cases.find((x) => x.name === 'nopast')!;
      const full = results.get('nopast') ?? ((await session.run(feedsFor(c, results))) as Outputs);
      const ids = c.inputs['input_ids']!.data!;
      const [b, n] = c.inputs['input_ids']!.dims as [number, number];
      const layerNames = Object.keys(c.inputs).filter((k) => k.startsWith('past_key_values.'));
      let past: Record<string, ort.Tensor> = {};
      for (const k of layerNames) past[k] = tensor(c.inputs[k]!);
      const vocab = full['logits']!.dims[2]!;
      const got = new Float32Array(b * n * vocab);
      let done = 0;
      for (const len of [3, 1, n - 4]) {
        const rows = Array.from({ length: b }, (_, r) => r);
        const feeds: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flatMap((r) => ids.slice(r * n + done, r * n + done + len)).map(BigInt)), [b, len]),
          attention_mask: new ort.Tensor('int64', new BigInt64Array(b * (done + len)).fill(1n), [b, done + len]),
          position_ids: new ort.Tensor('int64', BigInt64Array.from(rows.flatMap(() => Array.from({ length: len }, (_, j) => BigInt(done + j)))), [b, len]),
          ...past,
        };
        const out = (await session.run(feeds)) as Outputs;
        const lg = out['logits']!.data as Float32Array;
        for (let r = 0; r < b; r++) got.set(lg.subarray(r * len * vocab, (r + 1) * len * vocab), (r * n + done) * vocab);
        past = {};
        for (const k of layerNames) past[k] = out[k.replace('past_key_values.', 'present.')]!;
        done += len;
      }
      const d = maxAbsDiff(got, full['logits']!.data as Float32Array);
      assert.ok(d <= 1e-4, `cached vs full max-abs ${d}`);
    });

    it('left padding leaves the real tokens of a row unchanged (batch 2, different lengths)', async () => {
      const c = golden.cases.find((x) => x.name === 'padded')!;
      const padded = results.get('padded') ?? ((await session.run(feedsFor(c, results))) as Outputs);
      const mask = c.inputs['attention_mask']!.data!;
      const ids = c.inputs['input_ids']!.data!;
      const n = c.inputs['input_ids']!.dims[1]!;
      const start = mask.slice(0, n).indexOf(1);
      const real = ids.slice(start, n);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(real.map(BigInt)), [1, real.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(real.length).fill(1n), [1, real.length]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from(real.map((_, j) => BigInt(j))), [1, real.length]),
      };
      for (const k of Object.keys(c.inputs).filter((x) => x.startsWith('past_key_values.'))) {
        const dims = [...c.inputs[k]!.dims];
        dims[0] = 1;
        feeds[k] = new ort.Tensor('float32', new Float32Array(0), dims);
      }
      const alone = (await session.run(feeds)) as Outputs;
      const vocab = alone['logits']!.dims[2]!;
      const rowPadded = (padded['logits']!.data as Float32Array).subarray(start * vocab, n * vocab);
      const d = maxAbsDiff(rowPadded, alone['logits']!.data as Float32Array);
      assert.ok(d <= 1e-4, `padded vs unpadded max-abs ${d}`);
    });
  });
}

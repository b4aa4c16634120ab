/**
 * The Open Inference Protocol v2 codec (src/runtime/oip/codec.ts) against the protocol's documented JSON examples
 * (kserve open-inference-protocol inference_rest.md) and Triton's binary tensor extension example
 * (extension_binary_data.md); the noisy-block recipe the bandwidth-light core rebuilds (engine/diffusion/recipe.ts)
 * against what the decoder really fed; the server's top-k with its tail logit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDiffusion } from '../../src/engine/diffusion/decode';
import { rebuildNoisy } from '../../src/engine/diffusion/recipe';
import type { ContextState, DiffusionLM, NoisyRecipe } from '../../src/engine/models';
import {
  OipCodecError,
  decodeInferRequest,
  decodeInferResponse,
  encodeInferRequest,
  encodeInferResponse,
  tensorFromJson,
  type Tensor,
} from '../../src/runtime/oip/codec';
import { parseModelInfo, metadataParameters, sparseSignature, denseSignature } from '../../src/runtime/oip/signature';
import { topKOf } from '../../src/worker/serve';
import { FakeDiffusionLM } from '../helpers/fakeDiffusion';

const enc = new TextEncoder();

describe('OIP v2 JSON form (documented examples)', () => {
  it('decodes the spec inference request example', () => {
    const body = enc.encode(
      JSON.stringify({
        id: '42',
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
          { name: 'input1', shape: [1], datatype: 'BOOL', data: [true] },
        ],
        outputs: [{ name: 'output0' }],
      }),
    );
    const r = decodeInferRequest(body);
    assert.equal(r.id, '42');
    assert.deepEqual(Array.from(r.inputs[0]!.data as Uint32Array), [1, 2, 3, 4]);
    assert.ok(r.inputs[0]!.data instanceof Uint32Array);
    assert.deepEqual(Array.from(r.inputs[1]!.data as Uint8Array), [1]);
    assert.deepEqual(r.outputs, [{ name: 'output0', binary: false }]);
    assert.equal(r.binaryAll, false);
  });

  it('decodes the spec inference response example and nested (row-major) data', () => {
    const body = enc.encode(
      JSON.stringify({
        model_name: 'mymodel',
        id: '42',
        outputs: [{ name: 'output0', shape: [3, 2], datatype: 'FP32', data: [1.0, 1.1, 2.0, 2.1, 3.0, 3.1] }],
      }),
    );
    const r = decodeInferResponse(body);
    assert.equal(r.id, '42');
    assert.deepEqual(r.outputs[0]!.shape, [3, 2]);
    assert.deepEqual(Array.from(r.outputs[0]!.data as Float32Array), Array.from(Float32Array.of(1.0, 1.1, 2.0, 2.1, 3.0, 3.1)));
    const nested = tensorFromJson(
      'x',
      'INT32',
      [2, 2],
      [
        [1, 2],
        [4, 5],
      ],
    );
    assert.deepEqual(Array.from(nested.data as Int32Array), [1, 2, 4, 5]);
  });

  it('encodes JSON that a JSON-only server reads (INT64 as numbers, BYTES as strings)', () => {
    const { body, headerLength } = encodeInferRequest(
      {
        id: '7',
        inputs: [
          { name: 'ids', datatype: 'INT64', shape: [1, 3], data: BigInt64Array.of(1n, 2n, 3n) },
          { name: 's', datatype: 'BYTES', shape: [1], data: [enc.encode('hi')] },
        ],
      },
      false,
    );
    assert.equal(headerLength, undefined);
    const j = JSON.parse(new TextDecoder().decode(body)) as { inputs: { data: unknown[] }[] };
    assert.deepEqual(j.inputs[0]!.data, [1, 2, 3]);
    assert.deepEqual(j.inputs[1]!.data, ['hi']);
  });

  it('refuses mismatched data, unknown types and FP16 in JSON', () => {
    assert.throws(() => tensorFromJson('x', 'INT32', [3], [1, 2]), OipCodecError);
    assert.throws(() => tensorFromJson('x', 'NOPE' as 'INT32', [1], [1]), OipCodecError);
    assert.throws(() => tensorFromJson('x', 'FP16', [1], [1]), OipCodecError);
    assert.throws(() => decodeInferRequest(enc.encode('{"inputs": 3}')), OipCodecError);
    assert.throws(() => decodeInferRequest(enc.encode('not json')), OipCodecError);
  });
});

describe('OIP v2 binary tensor extension', () => {
  it("decodes Triton's documented binary request (UINT32 [2,2] and BOOL [16], 16 bytes each)", () => {
    const header = enc.encode(
      JSON.stringify({
        model_name: 'mymodel',
        inputs: [
          { name: 'input0', shape: [2, 2], datatype: 'UINT32', parameters: { binary_data_size: 16 } },
          { name: 'input1', shape: [16], datatype: 'BOOL', parameters: { binary_data_size: 16 } },
        ],
        outputs: [{ name: 'output0', parameters: { binary_data: true } }, { name: 'output1' }],
      }),
    );
    const input0 = new Uint8Array(Uint32Array.of(1, 2, 3, 0xfffffffe).buffer);
    const input1 = Uint8Array.from({ length: 16 }, (_, i) => i % 2);
    const body = new Uint8Array(header.length + 32);
    body.set(header);
    body.set(input0, header.length);
    body.set(input1, header.length + 16);
    // Content-Length = header + 4*4 + 1*16, as in the documentation.
    assert.equal(body.length, header.length + 4 * 4 + 1 * 16);
    const r = decodeInferRequest(body, header.length);
    assert.deepEqual(Array.from(r.inputs[0]!.data as Uint32Array), [1, 2, 3, 0xfffffffe]);
    assert.deepEqual(Array.from(r.inputs[1]!.data as Uint8Array), Array.from(input1));
    assert.deepEqual([...r.binaryOutputs], ['output0']);
    assert.deepEqual(r.outputs, [
      { name: 'output0', binary: true },
      { name: 'output1', binary: false },
    ]);
    // A wrong header length or trailing bytes are errors, not silent misreads.
    assert.throws(() => decodeInferRequest(body, header.length + 1), OipCodecError);
    assert.throws(() => decodeInferRequest(body.subarray(0, body.length - 1), header.length), OipCodecError);
    assert.throws(() => decodeInferRequest(body, body.length + 1), OipCodecError);
  });

  it('round-trips every datatype, little-endian and row-major, with BYTES length prefixes', () => {
    const tensors: Tensor[] = [
      { name: 'b', datatype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
      { name: 'u8', datatype: 'UINT8', shape: [2], data: Uint8Array.of(0, 255) },
      { name: 'i8', datatype: 'INT8', shape: [2], data: Int8Array.of(-128, 127) },
      { name: 'u16', datatype: 'UINT16', shape: [1], data: Uint16Array.of(65535) },
      { name: 'i16', datatype: 'INT16', shape: [1], data: Int16Array.of(-2) },
      { name: 'h', datatype: 'FP16', shape: [1], data: Uint16Array.of(0x3c00) },
      { name: 'u32', datatype: 'UINT32', shape: [1], data: Uint32Array.of(7) },
      { name: 'i32', datatype: 'INT32', shape: [2, 1], data: Int32Array.of(-1, 5) },
      { name: 'f32', datatype: 'FP32', shape: [3], data: Float32Array.of(0.1, -0, Number.NEGATIVE_INFINITY) },
      { name: 'u64', datatype: 'UINT64', shape: [1], data: BigUint64Array.of(2n ** 63n) },
      { name: 'i64', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.of(-3n, 8191n) },
      { name: 'f64', datatype: 'FP64', shape: [1], data: Float64Array.of(Math.PI) },
      { name: 's', datatype: 'BYTES', shape: [2], data: [enc.encode('ab'), enc.encode('')] },
    ];
    const { body, headerLength } = encodeInferRequest({ parameters: { concert_self_cond: 'zeros' }, inputs: tensors }, true);
    assert.ok(headerLength! > 0);
    // BYTES: 4-byte little-endian length, then the bytes: 'ab' → 02 00 00 00 61 62, '' → 00 00 00 00.
    assert.deepEqual(Array.from(body.subarray(body.length - 10)), [2, 0, 0, 0, 0x61, 0x62, 0, 0, 0, 0]);
    // INT64 8191 = ff 1f 00 … (little-endian) right before FP64 and BYTES.
    const r = decodeInferRequest(body, headerLength);
    assert.equal(r.parameters?.['concert_self_cond'], 'zeros');
    for (const [i, t] of tensors.entries()) {
      const got = r.inputs[i]!;
      assert.equal(got.name, t.name);
      assert.deepEqual(got.shape, t.shape);
      if (t.datatype === 'BYTES')
        assert.deepEqual(
          (got.data as Uint8Array[]).map((b) => Array.from(b)),
          (t.data as Uint8Array[]).map((b) => Array.from(b)),
        );
      else assert.deepEqual(got.data, t.data, t.name);
    }
  });

  it('encodes responses with binary and JSON outputs mixed', () => {
    const outputs: Tensor[] = [
      { name: 'logits', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(1.5, -2) },
      { name: 'ids', datatype: 'INT32', shape: [2], data: Int32Array.of(4, 9) },
    ];
    const { body, headerLength } = encodeInferResponse({ model_name: 'm', parameters: { concert_state: 'abc' }, outputs }, new Set(['logits']));
    const r = decodeInferResponse(body, headerLength);
    assert.equal(r.parameters?.['concert_state'], 'abc');
    assert.deepEqual(Array.from(r.outputs[0]!.data as Float32Array), [1.5, -2]);
    assert.deepEqual(Array.from(r.outputs[1]!.data as Int32Array), [4, 9]);
    const json = JSON.parse(new TextDecoder().decode(body.subarray(0, headerLength))) as {
      outputs: { parameters?: { binary_data_size?: number }; data?: unknown }[];
    };
    assert.equal(json.outputs[0]!.parameters?.binary_data_size, 8);
    assert.deepEqual(json.outputs[1]!.data, [4, 9]);
  });
});

describe('the core signature', () => {
  it('names the dense and sparse tensors and carries the model knobs in metadata parameters', () => {
    assert.deepEqual(
      denseSignature(2, 8192).inputs.map((t) => `${t.name}:${t.datatype}`),
      ['context_ids:INT64', 'context_mask:INT64', 'noisy_logits:FP32', 'self_cond_logits:FP32', 't_frac:FP32'],
    );
    assert.deepEqual(
      sparseSignature(2).outputs.map((t) => t.name),
      ['topk_ids', 'topk_logits', 'tail_logit'],
    );
    const info = { pack: 'p', vocabSize: 8192, blockSize: 2, k: 5, tTrain: 1000, selfConditioning: true, maxContext: 128 };
    assert.deepEqual(parseModelInfo(metadataParameters(info)), info);
    // Triton's config.pbtxt parameters arrive as { string_value }.
    const triton = Object.fromEntries(Object.entries(metadataParameters(info)).map(([k, v]) => [k, { string_value: String(v) }]));
    assert.deepEqual(parseModelInfo(triton), info);
    assert.throws(() => parseModelInfo({ ...metadataParameters(info), concert_signature: 2 }), /signature/);
  });
});

/** The fake model, with every denoise call's noisy input and recipe reported. */
function recording(fake: FakeDiffusionLM, see: (noisy: Float32Array, recipe: NoisyRecipe | undefined) => void): DiffusionLM {
  const lm: DiffusionLM = Object.create(fake) as DiffusionLM;
  lm.denoise = async (ctx: ContextState, noisy: Float32Array, sc: Float32Array | undefined, t: number, _signal?: AbortSignal, recipe?: NoisyRecipe) => {
    see(noisy, recipe);
    return fake.denoise(ctx, noisy, sc, t);
  };
  return lm;
}

describe('the noisy-block recipe', () => {
  for (const mode of ['generate', 'rewrite'] as const) {
    it(`rebuilds every step's noisy input bit for bit (${mode})`, async () => {
      const seen: { noisy: Float32Array; recipe: NoisyRecipe | undefined }[] = [];
      const fake = new FakeDiffusionLM(12, 4, 5, 100, true);
      const lm = recording(fake, (noisy, recipe) => seen.push({ noisy: Float32Array.from(noisy), recipe }));
      await decodeDiffusion(lm, {
        terms: [{ context: Int32Array.of(1, 2), weight: 1, label: 'x' }],
        maxTokens: 8,
        steps: 6,
        projection: { kind: 'sample', topP: 0.9 },
        seed: 42,
        ...(mode === 'rewrite' && { rewrite: { tokens: Int32Array.of(3, 4, 5, 6, 7), strength: 0.5 } }),
      });
      assert.ok(seen.length >= 6);
      for (const s of seen) {
        assert.ok(s.recipe);
        assert.deepEqual(rebuildNoisy(s.recipe, 4, 12, 5), s.noisy);
      }
      assert.ok(seen.some((s) => !s.recipe!.tokens) === (mode === 'generate'));
    });
  }

  it('has no recipe for a multi-hot projection or a custom noise source', async () => {
    const recipes: (NoisyRecipe | undefined)[] = [];
    const lm = recording(new FakeDiffusionLM(), (_noisy, recipe) => recipes.push(recipe));
    const base = { terms: [{ context: Int32Array.of(1), weight: 1, label: 'x' }], maxTokens: 4, steps: 3, seed: 1 };
    await decodeDiffusion(lm, { ...base, projection: { kind: 'multi-hot', topP: 0.5 } });
    assert.ok(recipes[0] && recipes.slice(1).every((r) => r === undefined));
    recipes.length = 0;
    await decodeDiffusion(lm, { ...base, projection: { kind: 'sample', topP: 0.5 }, noise: { gaussian: (out) => out.fill(0) } });
    assert.ok(recipes.every((r) => r === undefined));
  });
});

describe('top-k with a tail logit', () => {
  it('returns the k best (ties by id) and a tail that keeps the rest of the mass', () => {
    const V = 10;
    const logits = Float32Array.of(0, 3, 1, 3, -1, 2, 0.5, 0, -2, 1);
    const ids = new Int32Array(3);
    const vals = new Float32Array(3);
    const tail = topKOf(logits, 0, V, 3, ids, vals, 0);
    assert.deepEqual(Array.from(ids), [1, 3, 5]);
    assert.deepEqual(Array.from(vals), [3, 3, 2]);
    const rest = [0, 1, -1, 0.5, 0, -2, 1].reduce((s, x) => s + Math.exp(x), 0);
    assert.ok(Math.abs(7 * Math.exp(tail) - rest) < 1e-5 * rest);
    assert.ok(tail <= 2);
    // k = V: everything, tail irrelevant but finite.
    const all = new Int32Array(V);
    assert.ok(Number.isFinite(topKOf(logits, 0, V, V, all, new Float32Array(V), 0)));
  });
});

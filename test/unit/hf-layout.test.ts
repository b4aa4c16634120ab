/** Pure parts of the published-folder support: variant choice, pack ids, float16 conversion, registry paths. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseVariant, chatTemplateOf, hfPackId, tokenString } from '../../src/runtime/hfLayout';
import { floatToHalf, halfToFloat, toFloat32 } from '../../src/runtime/float16';
import { modelRef, registryPath } from '../../src/cli/modelRegistry';

describe('hfLayout', () => {
  const all = [
    { dtype: 'fp32', file: 'onnx/model.onnx' },
    { dtype: 'fp16', file: 'onnx/model_fp16.onnx' },
    { dtype: 'int8', file: 'onnx/model_quantized.onnx' },
    { dtype: 'q4', file: 'onnx/model_q4.onnx' },
  ] as const;
  it('chooses q4, then int8, then fp32 on CPU; fp16 on GPU providers; a named dtype or an error naming the others', () => {
    assert.equal(chooseVariant(all).dtype, 'q4');
    assert.equal(chooseVariant(all.filter((v) => v.dtype !== 'q4')).dtype, 'int8');
    assert.equal(chooseVariant([all[0], all[1]], { provider: 'cpu' }).dtype, 'fp32');
    assert.equal(chooseVariant(all, { provider: 'cuda' }).dtype, 'fp16');
    assert.equal(chooseVariant(all, { dtype: 'fp32', provider: 'cuda' }).dtype, 'fp32');
    assert.throws(() => chooseVariant([all[0]], { dtype: 'q4f16' }), /has no q4f16 weights \(available: fp32\)/);
  });
  it('the quantised set of test/fixtures/hf/llama-tiny: q4 on CPU, q4f16 (no fp16 file) on GPU providers', () => {
    const quantised = [
      { dtype: 'fp32', file: 'onnx/model.onnx' },
      { dtype: 'int8', file: 'onnx/model_quantized.onnx' },
      { dtype: 'uint8', file: 'onnx/model_uint8.onnx' },
      { dtype: 'q4', file: 'onnx/model_q4.onnx' },
      { dtype: 'q4f16', file: 'onnx/model_q4f16.onnx' },
    ] as const;
    assert.equal(chooseVariant(quantised).file, 'onnx/model_q4.onnx');
    assert.equal(chooseVariant(quantised, { provider: 'cuda' }).file, 'onnx/model_q4f16.onnx');
    assert.equal(chooseVariant(quantised.filter((v) => !v.dtype.startsWith('q4'))).dtype, 'int8');
    assert.equal(chooseVariant(quantised, { dtype: 'uint8' }).file, 'onnx/model_uint8.onnx');
  });
  it('pack ids from folder names and Hub cache snapshots', () => {
    assert.equal(hfPackId('/m/Qwen2.5-0.5B-Instruct'), 'qwen2.5-0.5b-instruct');
    assert.equal(hfPackId('/c/hub/models--onnx-community--Qwen2.5-0.5B-Instruct/snapshots/abc123'), 'onnx-community--qwen2.5-0.5b-instruct');
    assert.equal(hfPackId('/m/__weird name!'), 'weird-name-');
  });
  it('token strings and chat templates in their published shapes', () => {
    assert.equal(tokenString('<s>'), '<s>');
    assert.equal(tokenString({ content: '</s>', lstrip: false }), '</s>');
    assert.equal(tokenString(null), undefined);
    assert.equal(chatTemplateOf({ chat_template: '{{ x }}' }), '{{ x }}');
    assert.equal(
      chatTemplateOf({
        chat_template: [
          { name: 'tool_use', template: 'a' },
          { name: 'default', template: 'b' },
        ],
      }),
      'b',
    );
    assert.equal(chatTemplateOf({}), undefined);
  });
});

describe('float16', () => {
  it('round-trips representable values and rounds to nearest even', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8, -0.333251953125]) assert.equal(halfToFloat(floatToHalf(v)), v);
    assert.equal(floatToHalf(Infinity), 0x7c00);
    assert.ok(Number.isNaN(halfToFloat(floatToHalf(NaN))));
    assert.equal(halfToFloat(floatToHalf(1 + 2 ** -11)), 1, 'ties go to even');
    assert.equal(floatToHalf(1e6), 0x7c00, 'overflow');
    assert.deepEqual([...toFloat32(Uint16Array.from([0x3c00, 0xc000, 0x3800]), 1, 3)], [-2, 0.5]);
  });
});

describe('CLI model registry', () => {
  it("lives in Concert's config folder", () => {
    assert.equal(registryPath({ XDG_CONFIG_HOME: '/x/cfg' }, 'linux'), '/x/cfg/concert/models.json');
    assert.equal(registryPath({ HOME: '/home/u' }, 'linux'), '/home/u/.config/concert/models.json');
  });
  it('--model takes a pack id, or a folder as an absolute path', () => {
    assert.equal(modelRef('concert-lm-small'), 'concert-lm-small');
    assert.equal(modelRef('./some/folder'), `${process.cwd()}/some/folder`);
  });
});

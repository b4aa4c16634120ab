import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ProviderName } from '../../src/protocol/worker';
import { chooseProvider, firstLine, mapBackends } from '../../src/runtime/providers';

const all = mapBackends([
  { name: 'cpu', bundled: true },
  { name: 'webgpu', bundled: true },
  { name: 'cuda', bundled: false },
  { name: 'tensorrt', bundled: false },
]);

describe('execution provider choice', () => {
  it('maps onnxruntime-node backend names and always includes cpu', () => {
    assert.deepEqual(
      all.map((a) => a.name),
      ['cpu', 'webgpu', 'cuda'],
    );
    assert.deepEqual(
      mapBackends([]).map((a) => a.name),
      ['cpu'],
    );
  });
  it('auto takes the first accelerator whose canary passes', async () => {
    const tried: ProviderName[] = [];
    const r = await chooseProvider(
      'auto',
      all,
      async (p) => {
        tried.push(p);
        if (p === 'cuda') throw new Error('libonnxruntime_providers_cuda.so: cannot open shared object file');
      },
      2,
    );
    assert.deepEqual(tried, ['cuda', 'webgpu']);
    assert.equal(r.chosen, 'webgpu');
    assert.match(r.fallbackReasons[0]!, /^cuda: .*cannot open shared object/);
  });
  it('auto falls back to cpu with a reason for each failed accelerator', async () => {
    const r = await chooseProvider(
      'auto',
      all,
      async (p) => {
        if (p !== 'cpu') throw new Error(`${p} broken`);
      },
      2,
    );
    assert.equal(r.chosen, 'cpu');
    assert.equal(r.fallbackReasons.length, 2);
    assert.match(r.device, /^CPU/);
  });
  it('an explicit provider that is not available falls back to cpu visibly', async () => {
    const r = await chooseProvider('coreml', all, async () => {}, 1);
    assert.equal(r.chosen, 'cpu');
    assert.equal(r.requested, 'coreml');
    assert.match(r.fallbackReasons[0]!, /coreml: not available/);
  });
  it('a hanging canary times out instead of blocking start-up', async () => {
    const r = await chooseProvider('webgpu', all, (p) => (p === 'webgpu' ? new Promise(() => {}) : Promise.resolve()), 1, 50);
    assert.equal(r.chosen, 'cpu');
    assert.match(r.fallbackReasons[0]!, /did not finish/);
  });
  it('fails loudly when even cpu fails', async () => {
    await assert.rejects(
      chooseProvider(
        'cpu',
        all,
        async () => {
          throw new Error('no');
        },
        1,
      ),
      /even the CPU provider failed/,
    );
  });
  it('keeps the actionable part of ONNX Runtime errors', () => {
    assert.equal(
      firstLine('/onnxruntime_src/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::Init() Failed to get a WebGPU adapter\nstack'),
      'Failed to get a WebGPU adapter',
    );
  });
});

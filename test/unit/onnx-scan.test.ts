import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OnnxScanError, buildOnnxModel, scanOnnxModel } from '../../src/runtime/onnxModel';
import { ProtoWriter } from '../../src/runtime/protobuf';
import { bigramModel } from '../helpers/packs';

describe('ONNX pre-parse', () => {
  it('reads the I/O signature, opsets and operators of a real model', () => {
    const { bytes } = bigramModel(10);
    const s = scanOnnxModel(bytes);
    assert.deepEqual(s.inputs, [{ name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] }]);
    assert.deepEqual(s.outputs, [{ name: 'logits', dtype: 'float32', shape: ['batch_size', 'sequence_length', 10] }]);
    assert.deepEqual(s.opTypes, ['Gather']);
    assert.deepEqual(s.opsets, [{ domain: '', version: 14 }]);
    assert.equal(s.externalRefs.length, 0);
  });

  it('finds external-data references with offsets', () => {
    const bytes = buildOnnxModel({
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
      nodes: [{ opType: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
      initializers: [{ name: 'w', dtype: 'float32', dims: [2], external: { location: '../../etc/passwd', offset: 16, length: 8 } }],
    });
    assert.deepEqual(scanOnnxModel(bytes).externalRefs, [{ tensor: 'w', location: '../../etc/passwd', offset: 16, length: 8 }]);
  });

  it('sees nodes and external data inside nested subgraphs', () => {
    const inner = new ProtoWriter()
      .message(1, new ProtoWriter().string(1, 'a').string(2, 'b').string(4, 'Relu').string(7, 'ai.onnx.ml'))
      .message(
        5,
        new ProtoWriter().packedInts(1, [1]).int(2, 1).string(8, 'deep').message(13, new ProtoWriter().string(1, 'location').string(2, '/abs/path')).int(14, 1),
      );
    const ifNode = new ProtoWriter()
      .string(1, 'c')
      .string(2, 'o')
      .string(4, 'If')
      .message(5, new ProtoWriter().string(1, 'then_branch').message(6, inner).int(20, 5));
    const graph = new ProtoWriter().message(1, ifNode);
    const model = new ProtoWriter().int(1, 8).message(7, graph).finish();
    const s = scanOnnxModel(model);
    assert.equal(s.maxGraphDepth, 2);
    assert.ok(s.nodeDomains.includes('ai.onnx.ml'));
    assert.deepEqual(
      s.externalRefs.map((r) => r.location),
      ['/abs/path'],
    );
  });

  it('bounds subgraph nesting', () => {
    let g = new ProtoWriter().message(1, new ProtoWriter().string(4, 'Relu'));
    for (let i = 0; i < 40; i++)
      g = new ProtoWriter().message(1, new ProtoWriter().string(4, 'Loop').message(5, new ProtoWriter().string(1, 'body').message(6, g)));
    const model = new ProtoWriter().int(1, 8).message(7, g).finish();
    assert.throws(
      () => scanOnnxModel(model),
      (e: Error) => e instanceof OnnxScanError && /nested deeper than 32/.test(e.message),
    );
  });

  it('rejects truncated and non-ONNX bytes with a clear error', () => {
    const { bytes } = bigramModel(10);
    assert.throws(() => scanOnnxModel(bytes.subarray(0, bytes.length - 7)), /not a valid ONNX file/);
    assert.throws(() => scanOnnxModel(new TextEncoder().encode('PK\u0003\u0004 this is a zip')), /not a valid ONNX file/);
    assert.throws(() => scanOnnxModel(new Uint8Array()), /no graph/);
  });

  it('round-trips negative int64 values through the writer', () => {
    const w = new ProtoWriter().int(1, -1).finish();
    assert.equal(w.length, 11); // key + ten-byte varint
  });
});

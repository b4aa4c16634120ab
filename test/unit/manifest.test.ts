import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManifestError, checkRelativePath, parseManifest } from '../../src/runtime/manifest';

const good = () => ({
  schemaVersion: 1,
  id: 'demo-lm',
  kind: 'causal-lm',
  licence: 'MIT',
  files: { 'model.onnx': { sha256: 'a'.repeat(64), bytes: 10 }, 'tokenizer.json': { sha256: 'b'.repeat(64), bytes: 5 } },
  graphs: { decoder: 'model.onnx' },
  tokenizer: 'tokenizer.json',
  io: {
    decoder: {
      inputs: [{ name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 'seq', 262] }],
    },
  },
  specialTokens: { eos: '</s>' },
  knobs: { maxContext: 64, labels: ['negative', 'positive'] },
});

const bad = (edit: (m: ReturnType<typeof good> & Record<string, unknown>) => void, expected: RegExp) => {
  const m = good() as ReturnType<typeof good> & Record<string, unknown>;
  edit(m);
  assert.throws(
    () => parseManifest(JSON.stringify(m)),
    (e: Error) => e instanceof ManifestError && expected.test(e.message),
  );
};

describe('manifest schema', () => {
  it('accepts a complete manifest and keeps its values', () => {
    const m = parseManifest(JSON.stringify(good()));
    assert.equal(m.id, 'demo-lm');
    assert.deepEqual(m.graphs, { decoder: 'model.onnx' });
    assert.deepEqual(m.io.decoder!.outputs[0]!.shape, ['batch', 'seq', 262]);
    assert.deepEqual(m.knobs!.labels, ['negative', 'positive']);
  });
  it('rejects invalid JSON with the parser message', () => assert.throws(() => parseManifest('{'), /not valid JSON/));
  it('rejects unknown keys', () => bad((m) => (m.extra = 1), /unknown key "extra"/));
  it('rejects a wrong schema version', () => bad((m) => (m.schemaVersion = 2), /schemaVersion/));
  it('rejects unknown kinds', () => bad((m) => (m.kind = 'gan'), /kind: must be one of/));
  it('requires a licence', () => bad((m) => (m.licence = ' '), /licence/));
  it('rejects bad ids', () => bad((m) => (m.id = '../x'), /^id:/));
  it('rejects a malformed hash', () => bad((m) => (m.files['model.onnx'].sha256 = 'xyz'), /sha256/));
  it('rejects graphs that are not listed files', () => bad((m) => (m.graphs.decoder = 'other.onnx'), /not listed in files/));
  it('rejects path traversal in file names', () =>
    bad((m) => ((m.files as Record<string, unknown>)['../secret.onnx'] = { sha256: 'c'.repeat(64), bytes: 1 }), /outside the pack/));
  it('rejects absolute file names', () =>
    bad((m) => ((m.files as Record<string, unknown>)['/etc/passwd'] = { sha256: 'c'.repeat(64), bytes: 1 }), /absolute path/));
  it('requires io for every graph', () => bad((m) => (m.io = {} as never), /io\.decoder: is missing/));
  it('rejects io for an unknown graph', () => bad((m) => ((m.io as Record<string, unknown>).extra = m.io.decoder), /io\.extra/));
  it('rejects unknown dtypes', () => bad((m) => (m.io.decoder.inputs[0]!.dtype = 'complex64'), /dtype/));
  it('requires a tokenizer for text kinds but not for codec-lm', () => {
    bad((m) => delete (m as Record<string, unknown>).tokenizer, /tokenizer: is required/);
    const m = good() as Record<string, unknown>;
    delete m.tokenizer;
    delete m.specialTokens;
    m.kind = 'codec-lm';
    m.codec = codecBlock();
    assert.equal(parseManifest(JSON.stringify(m)).kind, 'codec-lm');
  });
  it('rejects nested knob objects', () => bad((m) => ((m.knobs as Record<string, unknown>).nested = { a: 1 }), /knobs\.nested/));
});

/** The codec block of a 32×32 byte-token pack (vocabulary 262 in `good()`: specials 0–2, bytes 3–258). */
const codecBlock = (): Record<string, unknown> => ({
  format: 'jpeg',
  stream: 'image-only',
  width: 32,
  height: 32,
  quality: 25,
  subsampling: '4:2:0',
  restartInterval: 1,
  tokens: { mapping: 'bytes', offset: 3 },
  bos: 0,
  eos: 1,
  pad: 2,
  maxTokens: 512,
});

describe('codec-lm manifests', () => {
  const codecPack = (edit: (c: Record<string, unknown>) => void = () => {}) => {
    const m = good() as Record<string, unknown>;
    delete m.tokenizer;
    delete m.specialTokens;
    m.files = { 'model.onnx': { sha256: 'a'.repeat(64), bytes: 10 } };
    m.kind = 'codec-lm';
    const c = codecBlock();
    edit(c);
    m.codec = c;
    return JSON.stringify(m);
  };
  const refused = (edit: (c: Record<string, unknown>) => void, expected: RegExp) =>
    assert.throws(
      () => parseManifest(codecPack(edit)),
      (e: Error) => e instanceof ManifestError && expected.test(e.message),
    );

  it('keeps the codec block', () => {
    const m = parseManifest(codecPack());
    assert.deepEqual(m.codec, codecBlock());
    assert.equal(m.tokenizer, undefined);
  });
  it('requires the block for codec-lm and refuses it elsewhere', () => {
    const m = JSON.parse(codecPack()) as Record<string, unknown>;
    delete m.codec;
    assert.throws(() => parseManifest(JSON.stringify(m)), /codec: is required for kind codec-lm/);
    bad((x) => (x.codec = codecBlock()), /codec: only codec-lm packs/);
  });
  it('refuses sizes that are not whole MCUs, or too large', () => {
    refused((c) => (c.width = 40), /codec\.width: must be a multiple of 16/);
    refused((c) => (c.height = 0), /codec\.height: must be an integer from 16/);
    refused((c) => (c.width = 4096), /codec\.width: must be an integer from 16 to 1024/);
  });
  it('refuses formats and settings the runtime cannot restore', () => {
    refused((c) => (c.format = 'png'), /codec\.format/);
    refused((c) => (c.stream = 'full'), /codec\.stream/);
    refused((c) => (c.quality = 50), /codec\.quality: must be 25/);
    refused((c) => (c.subsampling = '4:4:4'), /codec\.subsampling/);
    refused((c) => (c.restartInterval = 2), /codec\.restartInterval/);
    refused((c) => (c.extra = 1), /codec: unknown key "extra"/);
    refused((c) => delete c.maxTokens, /codec\.maxTokens: is required/);
  });
  it('knows the token mappings', () => {
    refused((c) => (c.tokens = { mapping: 'bpe' }), /codec\.tokens\.mapping: must be "bytes", "bytes-bpe" or "braille"/);
    refused((c) => (c.tokens = { mapping: 'bytes-bpe', offset: 3 }), /codec\.tokens\.merges: undefined is not listed in files/);
    refused((c) => (c.tokens = { mapping: 'bytes-bpe', offset: 3, merges: 'merges.json' }), /codec\.tokens\.merges: "merges\.json" is not listed in files/);
    refused((c) => (c.tokens = { mapping: 'bytes' }), /codec\.tokens\.offset/);
    refused((c) => (c.tokens = { mapping: 'braille' }), /braille mapping needs the pack's tokenizer/);
  });
  it('keeps a bytes-bpe mapping whose merges file the pack lists', () => {
    const m = JSON.parse(codecPack((c) => (c.tokens = { mapping: 'bytes-bpe', offset: 3, merges: 'merges.json' }))) as {
      files: Record<string, unknown>;
      codec: { tokens: { merges: string } };
    };
    m.files['merges.json'] = { sha256: 'b'.repeat(64), bytes: 2 };
    assert.deepEqual(parseManifest(JSON.stringify(m)).codec?.tokens, { mapping: 'bytes-bpe', offset: 3, merges: 'merges.json' });
    m.files['merges.txt'] = m.files['merges.json'];
    m.codec.tokens.merges = 'merges.txt';
    assert.throws(() => parseManifest(JSON.stringify(m)), /codec\.tokens\.merges: "merges\.txt" must be a \.json file/);
  });
  it('keeps ids inside the vocabulary and off the byte tokens', () => {
    refused((c) => (c.eos = 262), /codec\.eos: id 262 is outside the decoder's vocabulary of 262/);
    refused((c) => (c.tokens = { mapping: 'bytes', offset: 7 }), /byte tokens 7…262 do not fit the decoder's vocabulary of 262/);
    refused((c) => (c.pad = 3), /codec\.pad: id 3 is a byte token/);
    refused((c) => (c.eos = 0), /codec\.eos: must differ from codec\.bos/);
  });
});

describe('codec-lm manifests: H.264 (AVC-LM)', () => {
  const h264Block = (): Record<string, unknown> => {
    const c = codecBlock();
    for (const k of ['quality', 'subsampling', 'restartInterval']) delete c[k];
    return { ...c, format: 'h264', stream: 'annex-b', fps: 3, frames: 12, profile: 'constrained-baseline', qp: 37, sliceMaxMbs: 1 };
  };
  const pack = (edit: (c: Record<string, unknown>) => void = () => {}) => {
    const m = good() as Record<string, unknown>;
    delete m.tokenizer;
    delete m.specialTokens;
    m.files = { 'model.onnx': { sha256: 'a'.repeat(64), bytes: 10 } };
    m.kind = 'codec-lm';
    const c = h264Block();
    edit(c);
    m.codec = c;
    return JSON.stringify(m);
  };
  const refused = (edit: (c: Record<string, unknown>) => void, expected: RegExp) =>
    assert.throws(
      () => parseManifest(pack(edit)),
      (e: Error) => e instanceof ManifestError && expected.test(e.message),
    );

  it('keeps the block', () => assert.deepEqual(parseManifest(pack()).codec, h264Block()));
  it('refuses what the runtime cannot continue', () => {
    refused((c) => (c.stream = 'avcc'), /codec\.stream: must be "annex-b"/);
    refused((c) => (c.profile = 'high'), /codec\.profile: must be "constrained-baseline"/);
    refused((c) => (c.sliceMaxMbs = 4), /codec\.sliceMaxMbs: must be 1/);
    refused((c) => (c.qp = 60), /codec\.qp: must be an integer from 0 to 51/);
    refused((c) => (c.fps = 0), /codec\.fps: must be an integer from 1/);
    refused((c) => delete c.frames, /codec\.frames: is required/);
    refused((c) => (c.width = 40), /codec\.width: must be a multiple of 16 \(whole macroblocks/);
  });
  it("refuses the other format's keys", () => refused((c) => (c.quality = 25), /codec: unknown key "quality" for format h264/));
});

describe('relative pack paths', () => {
  for (const p of ['../a', 'a/../../b', '/abs', 'C:\\x', 'C:/x', 'a\\b', 'a//b', './a', 'a\0b', '']) {
    it(`rejects ${JSON.stringify(p)}`, () => assert.throws(() => checkRelativePath(p, 'f')));
  }
  for (const p of ['model.onnx', 'sub/model.onnx_data', 'a.b-c_d']) {
    it(`accepts ${p}`, () => assert.doesNotThrow(() => checkRelativePath(p, 'f')));
  }
});

describe('simplex-diffusion-lm manifests: the diffusion layout (issue #19)', () => {
  const sig = (names: string[]) => names.map((name) => ({ name, dtype: name.endsWith('_ids') || name.endsWith('_mask') ? 'int64' : 'float32', shape: ['b'] }));
  interface Spec {
    kind: string;
    graphs: Record<string, string>;
    io: Record<string, { inputs: unknown[]; outputs: unknown[] }>;
    knobs: Record<string, unknown>;
    diffusion?: Record<string, unknown>;
    [k: string]: unknown;
  }
  const ssdLm = (edit: (m: Spec) => void = () => {}) => {
    const m: Spec = {
      ...good(),
      id: 'ssdlm',
      kind: 'simplex-diffusion-lm',
      graphs: { denoiser: 'model.onnx' },
      io: {
        denoiser: {
          inputs: sig(['context_ids', 'context_mask', 'noisy_logits', 't_frac']),
          outputs: [{ name: 'logits', dtype: 'float32', shape: ['b', 4, 262] }],
        },
      },
      knobs: { K: 5, blockSize: 4, tTrain: 100, maxContext: 64, selfConditioning: false },
      diffusion: { layout: 'ssd-lm', contextAttention: 'bidirectional', positionOffset: 2 },
    };
    edit(m);
    return JSON.stringify(m);
  };
  const refused = (edit: (m: Spec) => void, re: RegExp) =>
    assert.throws(
      () => parseManifest(ssdLm(edit)),
      (e: Error) => e instanceof ManifestError && re.test(e.message),
    );
  it('keeps the block of an ssd-lm pack', () =>
    assert.deepEqual(parseManifest(ssdLm()).diffusion, { layout: 'ssd-lm', contextAttention: 'bidirectional', positionOffset: 2 }));
  it('leaves it absent for the bundled (ssd2) packs', () => assert.equal(parseManifest(ssdLm((m) => delete m.diffusion)).diffusion, undefined));
  it('accepts an explicit ssd2 block with causal attention', () => {
    const m = parseManifest(
      ssdLm((m) => {
        m.graphs = { context: 'model.onnx', denoiser: 'model.onnx' };
        m.io = { context: m.io['denoiser']!, denoiser: m.io['denoiser']! };
        m.diffusion = { layout: 'ssd2', contextAttention: 'causal', positionOffset: 0 };
      }),
    );
    assert.equal(m.diffusion!.layout, 'ssd2');
  });
  it('is for diffusion packs only', () => refused((m) => (m.kind = 'causal-lm'), /only simplex-diffusion-lm packs have a diffusion block/));
  it('refuses unknown layouts, keys and offsets', () => {
    refused((m) => (m.diffusion!.layout = 'ssd3'), /diffusion\.layout: must be "ssd2" or "ssd-lm"/);
    refused((m) => (m.diffusion!.extra = 1), /diffusion: unknown key "extra"/);
    refused((m) => delete m.diffusion!.positionOffset, /diffusion\.positionOffset: is required/);
    refused((m) => (m.diffusion!.positionOffset = -1), /positionOffset: must be an integer/);
  });
  it('refuses what the ssd-lm layout cannot be', () => {
    refused((m) => (m.diffusion!.contextAttention = 'causal'), /ssd-lm pack reads its context bidirectionally/);
    refused((m) => (m.knobs['selfConditioning'] = true), /knobs\.selfConditioning: an ssd-lm pack has no self-conditioning/);
    refused((m) => (m.io['denoiser']!.inputs = m.io['denoiser']!.inputs.slice(1)), /ssd-lm denoiser needs input "context_ids"/);
    refused((m) => {
      m.graphs['context'] = 'model.onnx';
      m.io['context'] = m.io['denoiser']!;
    }, /an ssd-lm pack has no context graph/);
    refused((m) => (m.diffusion = { layout: 'ssd2', contextAttention: 'bidirectional', positionOffset: 0 }), /ssd2 pack encodes its context causally/);
  });
});

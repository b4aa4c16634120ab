/**
 * Model-pack validation against real files and real ONNX Runtime sessions: each broken pack gives its own clear
 * error naming the pack, and nothing is loaded.
 */
import assert from 'node:assert/strict';
import { linkSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildOnnxModel } from '../../src/runtime/onnxModel';
import { SessionCache } from '../../src/runtime/ort';
import { PackError, checkSessionSignature, discoverPacks, validatePack } from '../../src/runtime/packs';
import { bigramModel, bigramPack, sha, tempDir, writePack } from '../helpers/packs';

let tmp: ReturnType<typeof tempDir>;
before(() => (tmp = tempDir()));
after(() => tmp.cleanup());

async function expectPackError(dir: string, pattern: RegExp): Promise<void> {
  const sessions = new SessionCache('cpu', 1, 0);
  await assert.rejects((async () => sessions.get(await validatePack(dir, 'user'), 'decoder'))(), (e: Error) => {
    assert.ok(e instanceof PackError, `expected PackError, got ${e.constructor.name}: ${e.message}`);
    assert.match(e.message, /^Model pack "[^"]+": /);
    assert.match(e.message, pattern);
    return true;
  });
  assert.deepEqual(sessions.keys(), [], 'nothing may be loaded');
}

const externalModel = (location: string, length = 8) =>
  buildOnnxModel({
    inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
    nodes: [{ opType: 'Add', inputs: ['x', 'w'], outputs: ['y'] }],
    initializers: [{ name: 'w', dtype: 'float32', dims: [2], external: { location, offset: 0, length } }],
  });
const externalIo = { inputs: [{ name: 'x', dtype: 'float32', shape: [2] }], outputs: [{ name: 'y', dtype: 'float32', shape: [2] }] };

describe('model pack validation', () => {
  it('a valid pack validates, loads lazily, and runs', async () => {
    const dir = bigramPack(tmp.dir, 'valid-pack');
    const pack = await validatePack(dir, 'user');
    assert.equal(pack.manifest.id, 'valid-pack');
    const sessions = new SessionCache('cpu', 1, 0);
    assert.deepEqual(sessions.keys(), []);
    const g = await sessions.get(pack, 'decoder');
    const out = await g.session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from([1n, 5n]), [1, 2]) });
    assert.deepEqual(out.logits!.dims, [1, 2, 262]);
    assert.equal(sessions.keys().length, 1);
    assert.equal(await sessions.get(pack, 'decoder'), g, 'sessions are cached');
    await sessions.clear();
  });

  it('missing file', async () => {
    const dir = bigramPack(tmp.dir, 'missing-file');
    unlinkSync(path.join(dir, 'model.onnx'));
    await expectPackError(dir, /file "model\.onnx" is missing/);
  });

  it('wrong hash', async () => {
    const dir = bigramPack(tmp.dir, 'wrong-hash', (m) => ((m.files as Record<string, { sha256: string }>)['model.onnx']!.sha256 = sha('something else')));
    await expectPackError(dir, /file "model\.onnx" has sha256 .* but the manifest says .*corrupt or modified/);
  });

  it('same size, modified content', async () => {
    const dir = bigramPack(tmp.dir, 'tampered');
    const bytes = bigramModel().bytes;
    const copy = Buffer.from(bytes);
    copy[copy.length - 20] = copy[copy.length - 20]! ^ 0xff;
    writeFileSync(path.join(dir, 'model.onnx'), copy);
    await expectPackError(dir, /has sha256/);
  });

  it('path traversal in the manifest', async () => {
    const dir = bigramPack(tmp.dir, 'traversal', (m) => ((m.files as Record<string, unknown>)['../outside.onnx'] = { sha256: sha(''), bytes: 0 }));
    await expectPackError(dir, /invalid concert\.json: .*"\.\.\/outside\.onnx" points outside the pack/);
  });

  it('external data pointing outside the pack', async () => {
    const dir = writePack(tmp.dir, { id: 'ext-outside', graphs: { decoder: { file: 'model.onnx', bytes: externalModel('../secret.bin'), io: externalIo } } });
    writeFileSync(path.join(tmp.dir, 'secret.bin'), Buffer.alloc(8));
    await expectPackError(dir, /external data location: "\.\.\/secret\.bin" points outside the pack/);
  });

  it('external data with an absolute path', async () => {
    const dir = writePack(tmp.dir, { id: 'ext-absolute', graphs: { decoder: { file: 'model.onnx', bytes: externalModel('/etc/passwd'), io: externalIo } } });
    await expectPackError(dir, /"\/etc\/passwd" is an absolute path/);
  });

  it('external data that is not a listed file', async () => {
    const dir = writePack(tmp.dir, {
      id: 'ext-unlisted',
      graphs: { decoder: { file: 'model.onnx', bytes: externalModel('weights.onnx_data'), io: externalIo } },
    });
    writeFileSync(path.join(dir, 'weights.onnx_data'), Buffer.alloc(8));
    await expectPackError(dir, /"weights\.onnx_data" is not a file listed in the manifest/);
  });

  it('external data read past the end of its file', async () => {
    const dir = writePack(tmp.dir, {
      id: 'ext-short',
      graphs: { decoder: { file: 'model.onnx', bytes: externalModel('weights.onnx_data', 64), io: externalIo } },
      extraFiles: { 'weights.onnx_data': new Uint8Array(8) },
    });
    await expectPackError(dir, /offset\/length lie outside the 8-byte file/);
  });

  it('valid external data inside the pack loads from the verified bytes', async () => {
    const w = new Float32Array([10, 20]);
    const dir = writePack(tmp.dir, {
      id: 'ext-ok',
      graphs: { decoder: { file: 'model.onnx', bytes: externalModel('weights.onnx_data'), io: externalIo } },
      extraFiles: { 'weights.onnx_data': new Uint8Array(w.buffer) },
    });
    const sessions = new SessionCache('cpu', 1, 0);
    const g = await sessions.get(await validatePack(dir, 'user'), 'decoder');
    const y = (await g.session.run({ x: new ort.Tensor('float32', new Float32Array([1, 2]), [2]) })).y!.data as Float32Array;
    assert.deepEqual([...y], [11, 22]);
    await sessions.clear();
  });

  it('symlink out of the pack', async () => {
    const dir = bigramPack(tmp.dir, 'symlinked');
    const outside = path.join(tmp.dir, 'outside-model.onnx');
    writeFileSync(outside, bigramModel().bytes);
    unlinkSync(path.join(dir, 'model.onnx'));
    symlinkSync(outside, path.join(dir, 'model.onnx'));
    await expectPackError(dir, /file "model\.onnx" is a symbolic link/);
  });

  it('hard link to a file elsewhere', async () => {
    const dir = bigramPack(tmp.dir, 'hardlinked');
    linkSync(path.join(dir, 'model.onnx'), path.join(tmp.dir, 'hardlink-elsewhere.onnx'));
    await expectPackError(dir, /file "model\.onnx" is a hard link/);
  });

  it('I/O mismatch between manifest and graph', async () => {
    const dir = bigramPack(tmp.dir, 'io-mismatch', (m) => {
      const io = m.io as Record<string, { inputs: { name: string }[] }>;
      io.decoder!.inputs[0]!.name = 'tokens';
    });
    await expectPackError(dir, /I\/O mismatch in graph "decoder" \(ONNX file\): inputs missing \[tokens\], undeclared \[input_ids\]/);
  });

  it('I/O mismatch in a fixed dimension', async () => {
    const dir = bigramPack(tmp.dir, 'dim-mismatch', (m) => {
      const io = m.io as Record<string, { outputs: { shape: unknown[] }[] }>;
      io.decoder!.outputs[0]!.shape[2] = 1000;
    });
    await expectPackError(dir, /logits dimension 2 is 262, manifest says 1000/);
  });

  it('the loaded session is checked against the manifest too', async () => {
    const pack = await validatePack(bigramPack(tmp.dir, 'session-check'), 'user');
    const session = await ort.InferenceSession.create(bigramModel().bytes);
    const wrong = {
      inputs: [{ name: 'input_ids', dtype: 'int32', shape: ['b', 's'] }],
      outputs: [{ name: 'logits', dtype: 'float32', shape: ['b', 's', 262] }],
    };
    assert.throws(() => checkSessionSignature(pack, 'decoder', wrong), /loaded session\): input_ids is int32, manifest says int64/);
    await session.release();
  });

  it('operator domains outside the allowlist', async () => {
    const bytes = buildOnnxModel({
      ...externalIo,
      nodes: [{ opType: 'Normalizer', domain: 'ai.onnx.ml', inputs: ['x'], outputs: ['y'] }],
      extraOpsets: [{ domain: 'ai.onnx.ml', version: 3 }],
    });
    const dir = writePack(tmp.dir, { id: 'ml-domain', graphs: { decoder: { file: 'model.onnx', bytes, io: externalIo } } });
    await expectPackError(dir, /operator domain\(s\) "ai\.onnx\.ml"/);
  });

  it('a tokenizer with a catastrophic regex', async () => {
    const tok = JSON.parse((await import('../helpers/packs')).tinyTokenizerJson());
    tok.pre_tokenizer = { type: 'Split', pattern: { Regex: '(a+)+$' }, behavior: 'Isolated', invert: false };
    const dir = writePack(tmp.dir, { id: 'redos', graphs: { decoder: { file: 'model.onnx', ...bigramModel() } }, tokenizer: JSON.stringify(tok) });
    await expectPackError(dir, /tokenizer "tokenizer\.json": regular expression .* nested quantifiers/);
  });

  it('discovery reports each pack and flags duplicate ids', async () => {
    const { dir: root, cleanup } = tempDir();
    try {
      bigramPack(root, 'alpha');
      const broken = bigramPack(root, 'beta');
      unlinkSync(path.join(broken, 'MODEL_CARD.md'));
      const other = tempDir();
      bigramPack(other.dir, 'alpha');
      const found = await discoverPacks([
        { dir: root, source: 'bundled' },
        { dir: other.dir, source: 'user' },
        { dir: path.join(root, 'nope'), source: 'user' },
      ]);
      assert.deepEqual(
        found.map((f) => [f.pack?.manifest.id ?? null, f.error?.message.replace(/ \(.*$/, '') ?? null]),
        [
          ['alpha', null],
          [null, 'Model pack "beta": file "MODEL_CARD.md" is missing from ' + path.join(root, 'beta')],
          [null, 'Model pack "alpha": duplicate pack id'],
          [null, `Model pack "nope": model folder ${path.join(root, 'nope')} does not exist or is not a folder`],
        ],
      );
      other.cleanup();
    } finally {
      cleanup();
    }
  });

  it('idle sessions are released', async () => {
    const pack = await validatePack(bigramPack(tmp.dir, 'idle'), 'user');
    const sessions = new SessionCache('cpu', 1, 1000);
    await sessions.get(pack, 'decoder');
    await sessions.unloadIdle(Date.now() + 500);
    assert.equal(sessions.keys().length, 1);
    await sessions.unloadIdle(Date.now() + 1500);
    assert.deepEqual(sessions.keys(), []);
  });
});

/**
 * Issue #19: the packs `tools/export/export.py` writes from PyTorch checkpoints, loaded by the runtime and run end to
 * end through the CLI (real processes, the real worker, ONNX Runtime). The packs in test/fixtures/export are exported
 * from tiny random-weight checkpoints (`/usr/bin/python3 tools/export/fixtures.py`): the official SSD-LM layout
 * (bidirectional context, no self-conditioning) with a RoBERTa guidance classifier sharing its tokenizer, JPEG-LM with
 * the Braille byte mapping (int4 weights), and a Llama decoder in the published ONNX layout. One more JPEG-LM pack is
 * exported here, from the same tiny checkpoint, with ONNX external data forced on (`--external-data always`: the form
 * of graphs past protobuf's 2 GB limit, e.g. JPEG-LM 7 B at int4), when /usr/bin/python3 has torch and onnx.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FINISH_WORD_TOKENS } from '../../src/engine/cad';
import type { DiffusionRunResult } from '../../src/protocol/worker';
import { parseManifest } from '../../src/runtime/manifest';
import { tempDir } from '../helpers/packs';
import { requireBuild } from '../helpers/worker';

const ROOT = path.resolve('test/fixtures/export');
const PACKS = path.join(ROOT, 'packs');
const LLAMA = path.join(ROOT, 'hf', 'llama-tiny');
let tmp: ReturnType<typeof tempDir>;

before(() => {
  requireBuild();
  assert.ok(existsSync(path.join(PACKS, 'ssdlm-tiny', 'concert.json')), 'exported packs missing: run /usr/bin/python3 tools/export/fixtures.py');
  tmp = tempDir();
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args, '--models', PACKS, '--device', 'cpu', '--threads', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      ...process.env,
      CONCERT_MODEL_FOLDERS: '',
      CONCERT_DEVICE: '',
      XDG_CONFIG_HOME: path.join(tmp.dir, 'config'),
      XDG_DATA_HOME: path.join(tmp.dir, 'data'),
    },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function json<T>(...args: string[]): T {
  const r = concert(...args, '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

const manifest = (id: string) => parseManifest(readFileSync(path.join(PACKS, id, 'concert.json'), 'utf8'));
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('exported packs: manifests', () => {
  it('every pack passes `concert validate` (hashes, graphs in ONNX Runtime, tokenizer)', () => {
    const r = concert('validate', PACKS);
    assert.equal(r.code, 0, r.err + r.out);
    for (const id of ['ssdlm-tiny', 'clf-roberta-tiny', 'jpeg-lm-tiny']) assert.match(r.out, new RegExp(id));
  });

  it('records the layout, the export check and the file hashes', () => {
    const ssd = manifest('ssdlm-tiny');
    assert.deepEqual(ssd.diffusion, { layout: 'ssd-lm', contextAttention: 'bidirectional', positionOffset: 2 });
    assert.deepEqual(Object.keys(ssd.graphs), ['denoiser']);
    assert.equal(ssd.knobs!['selfConditioning'], false);
    const clf = manifest('clf-roberta-tiny');
    assert.deepEqual(clf.knobs!['labels'], ['negative', 'neutral', 'positive']);
    assert.equal(clf.io['classifier']!.inputs[0]!.shape[2], ssd.io['denoiser']!.outputs[0]!.shape[2], 'the classifier shares the vocabulary');
    const jpeg = manifest('jpeg-lm-tiny');
    assert.deepEqual(jpeg.codec!.tokens, { mapping: 'braille' });
    assert.equal(jpeg.codec!.width, 32);
    for (const [id, m] of [
      ['ssdlm-tiny', ssd],
      ['clf-roberta-tiny', clf],
      ['jpeg-lm-tiny', jpeg],
    ] as const) {
      assert.equal(m.provenance!['modelPath'], 'reference', `${id}: exported on the reference-module path here`);
      assert.ok(Number(m.provenance!['parityMaxRelErr']) <= Number(m.provenance!['parityTolerance']), id);
      for (const [file, e] of Object.entries(m.files)) assert.equal(sha(path.join(PACKS, id, file)), e.sha256, `${id}/${file}`);
    }
    const report = JSON.parse(readFileSync(path.join(LLAMA, 'concert_export.json'), 'utf8'));
    for (const [file, e] of Object.entries(report.files as Record<string, { sha256: string }>)) assert.equal(sha(path.join(LLAMA, file)), e.sha256, file);
  });
});

describe('ssd-lm pack: generate and guided rewrite', () => {
  const TEXT = 'the food was cold and the waiter ignored us';
  it('generate: whole blocks of new tokens, the same for the same seed', () => {
    const args = ['generate', '--prompt', 'the food', '--model', 'ssdlm-tiny', '--steps', '6', '--tokens', '8', '--min-tokens', '8', '--seed', '3'];
    const a = json<DiffusionRunResult>(...args);
    assert.equal(a.mode, 'generate');
    assert.equal(a.model.id, 'ssdlm-tiny');
    assert.equal(a.tokens.length, 8, 'two blocks of 4');
    assert.ok(a.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 279));
    assert.equal(typeof a.text, 'string');
    assert.deepEqual(json<DiffusionRunResult>(...args).tokens, a.tokens, 'deterministic for a seed');
  });

  it('rewrite steered by the exported classifier: same length, the guidance moves the tokens towards the label', () => {
    const run = (lambda: number) =>
      json<DiffusionRunResult>(
        'rewrite',
        '--prefix',
        '',
        '--text',
        TEXT,
        '--model',
        'ssdlm-tiny',
        '--steps',
        '8',
        '--seed',
        '1',
        '--attribute',
        `tweet-sentiment=positive:${lambda}`,
      );
    const plain = run(0);
    const guided = run(100);
    const ids = json<{ ids: number[] }>('tokenize', 'ssdlm-tiny', ` ${TEXT}`).ids;
    assert.equal(plain.tokens.length, ids.length);
    assert.equal(guided.tokens.length, ids.length);
    assert.deepEqual(
      guided.run.classifiers.map((c) => c.id),
      ['clf-roberta-tiny'],
    );
    const p = (r: DiffusionRunResult) => r.attributes.find((a) => a.attribute === 'tweet-sentiment')!.probabilities['positive']!;
    assert.notDeepEqual(guided.tokens, plain.tokens, 'λ = 100 changes the rewrite');
    assert.ok(p(guided) > p(plain), `p(positive) ${p(guided)} after guidance vs ${p(plain)} without`);
  });
});

describe('jpeg-lm pack (Braille mapping, int4 weights): image complete and generate', () => {
  it('complete: decodable JPEG files that begin with the prompt, deterministic for a seed', () => {
    const run = (out: string) =>
      json<{ decodable: number; samples: number; files: { path: string; decodable: boolean; tokens: number; streamBytes: number }[] }>(
        'image',
        'complete',
        path.resolve('test/fixtures/jpeg/checker-32.png'),
        '--out',
        out,
        '--model',
        'jpeg-lm-tiny',
        '--samples',
        '2',
        '--seed',
        '3',
      );
    const a = run(path.join(tmp.dir, 'a'));
    assert.equal(a.samples, 2);
    assert.equal(a.decodable, 2);
    for (const f of a.files) {
      const b = readFileSync(f.path);
      assert.deepEqual([...b.subarray(0, 2)], [0xff, 0xd8]);
      assert.deepEqual([...b.subarray(-2)], [0xff, 0xd9]);
      assert.ok(f.tokens < f.streamBytes, 'merged Braille pieces: fewer tokens than bytes');
    }
    const b = run(path.join(tmp.dir, 'b'));
    assert.deepEqual(
      b.files.map((f) => sha(f.path)),
      a.files.map((f) => sha(f.path)),
    );
  });
  it('generate: unconditional samples decode', () => {
    const out = path.join(tmp.dir, 'gen');
    const r = json<{ decodable: number }>('image', 'generate', '--out', out, '--model', 'jpeg-lm-tiny', '--samples', '1', '--seed', '5');
    assert.equal(r.decodable, 1);
    assert.equal(readdirSync(out).length, 1);
  });
});

// The exporter itself, for the external-data pack (test/setup.mjs installs python3-torch / python3-onnx on CI).
const PYTHON = '/usr/bin/python3';
const probe = existsSync(PYTHON) ? spawnSync(PYTHON, ['-c', 'import torch, onnx; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 }) : undefined;
const TORCH = probe?.status === 0 ? probe.stdout.trim() : undefined;

function python(...args: string[]) {
  const r = spawnSync(PYTHON, args, {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', CONCERT_EXPORT_REFERENCE: '1' },
  });
  assert.equal(r.status, 0, `${args.slice(0, 2).join(' ')}: ${r.stderr}`);
}

describe('jpeg-lm pack with ONNX external data (exported in the test)', { skip: TORCH ? false : `needs ${PYTHON} with torch and onnx` }, () => {
  // The committed jpeg-lm-tiny's checkpoint and options, with the tensors forced into external data and the data
  // split into files of at most 40 000 bytes (model.onnx_data, model.onnx_data_1 …): the form of a JPEG-LM 7 B
  // int4 export (4.3 GB), whose data must stay in files under 2 GiB for the runtime to read them.
  let pack: string;
  before(() => {
    const ckpt = path.join(tmp.dir, 'jpeg-ckpt');
    pack = path.join(tmp.dir, 'ext-packs', 'jpeg-lm-ext');
    python('tools/export/fixtures.py', '--checkpoint', 'jpeg-lm', '--out', ckpt);
    python(
      'tools/export/export.py',
      'jpeg-lm',
      '--from',
      ckpt,
      '--out',
      pack,
      '--size',
      '32',
      '--max-tokens',
      '512',
      '--dtype',
      'q4',
      '--external-data',
      'always',
      '--external-data-chunk-bytes',
      '40000',
      '--licence',
      'MIT',
    );
  });

  it('lists each data file with its hash; the graph refers to them by plain relative locations', () => {
    const m = parseManifest(readFileSync(path.join(pack, 'concert.json'), 'utf8'));
    const data = Object.keys(m.files).filter((f) => f.startsWith('model.onnx_data'));
    assert.ok(data.includes('model.onnx_data') && data.includes('model.onnx_data_1'), `data files: ${data.join(', ')}`);
    assert.deepEqual(Object.keys(m.files).sort(), ['MODEL_CARD.md', 'model.onnx', ...data, 'tokenizer.json'].sort());
    assert.deepEqual(readdirSync(pack).sort(), ['concert.json', ...Object.keys(m.files)].sort(), 'nothing unlisted');
    const graph = readFileSync(path.join(pack, 'model.onnx'));
    for (const f of data) {
      assert.equal(sha(path.join(pack, f)), m.files[f]!.sha256, f);
      assert.ok(m.files[f]!.bytes <= 40_000, f);
      assert.ok(graph.includes(f), `the graph names ${f}`);
    }
    const r = concert('validate', pack);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /jpeg-lm-ext/);
  });

  it('image generate --model <pack folder>: the samples decode, the same for the same seed', () => {
    const run = (out: string, ...model: string[]) =>
      json<{ decodable: number; samples: number; files: { path: string; decodable: boolean }[] }>(
        'image',
        'generate',
        '--out',
        out,
        ...model,
        '--samples',
        '2',
        '--seed',
        '5',
      );
    const a = run(path.join(tmp.dir, 'ext-a'), '--model', pack);
    assert.equal(a.samples, 2);
    assert.equal(a.decodable, 2);
    for (const f of a.files) {
      const b = readFileSync(f.path);
      assert.deepEqual([...b.subarray(0, 2)], [0xff, 0xd8]);
      assert.deepEqual([...b.subarray(-2)], [0xff, 0xd9]);
    }
    const shas = a.files.map((f) => sha(f.path));
    assert.deepEqual(
      run(path.join(tmp.dir, 'ext-b'), '--model', pack).files.map((f) => sha(f.path)),
      shas,
    );
    // With the torch that exported the committed fixture, the weights are the same: so are the samples.
    if (JSON.parse(readFileSync(path.join(ROOT, 'fixtures.json'), 'utf8')).torch === TORCH) {
      assert.deepEqual(
        run(path.join(tmp.dir, 'ext-c'), '--model', 'jpeg-lm-tiny').files.map((f) => sha(f.path)),
        shas,
        'the external-data pack samples what the inline jpeg-lm-tiny samples',
      );
    }
  });

  it('a changed data file is refused by its hash', () => {
    const bad = path.join(tmp.dir, 'ext-bad', 'jpeg-lm-ext');
    cpSync(pack, bad, { recursive: true });
    const data = readFileSync(path.join(bad, 'model.onnx_data_1'));
    data[0] = data[0]! ^ 1;
    writeFileSync(path.join(bad, 'model.onnx_data_1'), data);
    const r = concert('image', 'generate', '--out', path.join(tmp.dir, 'ext-bad-out'), '--model', bad, '--samples', '1', '--json');
    assert.notEqual(r.code, 0);
    assert.match(r.err + r.out, /"model\.onnx_data_1" has sha256 .* but the manifest says/);
  });
});

describe('causal-lm export (published ONNX layout): summarize --model <folder>', () => {
  it('runs the fp32 and the int4 graph, greedy and deterministic', () => {
    const doc = path.join(tmp.dir, 'doc.txt');
    writeFileSync(doc, 'Ships come at dawn. The harbour is quiet.\n');
    const run = (dtype: string) =>
      json<{ model: { id: string; displayName: string }; run: { prompt: { template: string; generated: number[] } } }>(
        'summarize',
        doc,
        '--model',
        LLAMA,
        '--dtype',
        dtype,
        '--greedy',
        '--max-tokens',
        '4',
      );
    for (const dtype of ['fp32', 'q4']) {
      const r = run(dtype);
      assert.equal(r.model.id, 'llama-tiny');
      assert.equal(r.model.displayName, `llama-tiny (${dtype})`);
      assert.equal(r.run.prompt.template, 'plain:summary');
      // The budget of 4, or a few tokens more where the summary's quote had to finish its last word.
      const n = r.run.prompt.generated.length;
      assert.ok(n >= 4 && n <= 4 + FINISH_WORD_TOKENS, `${dtype}: ${n} tokens`);
      assert.deepEqual(run(dtype).run.prompt.generated, r.run.prompt.generated);
    }
  });
});

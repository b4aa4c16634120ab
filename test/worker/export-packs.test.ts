/**
 * Issue #19: the packs `tools/export/export.py` writes from PyTorch checkpoints, loaded by the runtime and run end to
 * end through the CLI (real processes, the real worker, ONNX Runtime). The packs in test/fixtures/export are exported
 * from tiny random-weight checkpoints (`/usr/bin/python3 tools/export/fixtures.py`): the official SSD-LM layout
 * (bidirectional context, no self-conditioning) with a RoBERTa guidance classifier sharing its tokenizer, JPEG-LM with
 * the Braille byte mapping (int4 weights), and a Llama decoder in the published ONNX layout.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
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
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '', XDG_CONFIG_HOME: path.join(tmp.dir, 'config'), XDG_DATA_HOME: path.join(tmp.dir, 'data') },
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
      json<DiffusionRunResult>('rewrite', '--prefix', '', '--text', TEXT, '--model', 'ssdlm-tiny', '--steps', '8', '--seed', '1', '--attribute', `tweet-sentiment=positive:${lambda}`);
    const plain = run(0);
    const guided = run(100);
    const ids = json<{ ids: number[] }>('tokenize', 'ssdlm-tiny', ` ${TEXT}`).ids;
    assert.equal(plain.tokens.length, ids.length);
    assert.equal(guided.tokens.length, ids.length);
    assert.deepEqual(guided.run.classifiers.map((c) => c.id), ['clf-roberta-tiny']);
    const p = (r: DiffusionRunResult) => r.attributes.find((a) => a.attribute === 'tweet-sentiment')!.probabilities['positive']!;
    assert.notDeepEqual(guided.tokens, plain.tokens, 'λ = 100 changes the rewrite');
    assert.ok(p(guided) > p(plain), `p(positive) ${p(guided)} after guidance vs ${p(plain)} without`);
  });
});

describe('jpeg-lm pack (Braille mapping, int4 weights): image complete and generate', () => {
  it('complete: decodable JPEG files that begin with the prompt, deterministic for a seed', () => {
    const run = (out: string) =>
      json<{ decodable: number; samples: number; files: { path: string; decodable: boolean; tokens: number; streamBytes: number }[] }>(
        'image', 'complete', path.resolve('test/fixtures/jpeg/checker-32.png'), '--out', out, '--model', 'jpeg-lm-tiny', '--samples', '2', '--seed', '3',
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

describe('causal-lm export (published ONNX layout): summarize --model <folder>', () => {
  it('runs the fp32 and the int4 graph, greedy and deterministic', () => {
    const doc = path.join(tmp.dir, 'doc.txt');
    writeFileSync(doc, 'Ships come at dawn. The harbour is quiet.\n');
    const run = (dtype: string) =>
      json<{ model: { id: string; displayName: string }; run: { prompt: { template: string; generated: number[] } } }>(
        'summarize', doc, '--model', LLAMA, '--dtype', dtype, '--greedy', '--max-tokens', '4',
      );
    for (const dtype of ['fp32', 'q4']) {
      const r = run(dtype);
      assert.equal(r.model.id, 'llama-tiny');
      assert.equal(r.model.displayName, `llama-tiny (${dtype})`);
      assert.equal(r.run.prompt.template, 'plain:summary');
      assert.equal(r.run.prompt.generated.length, 4);
      assert.deepEqual(run(dtype).run.prompt.generated, r.run.prompt.generated);
    }
  });
});

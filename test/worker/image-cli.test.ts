/**
 * `concert image complete|generate` and the image/run request (issue #14) on the tiny random-weight codec-lm pack
 * (test/fixtures/codec-lm-tiny, written by tools/jpeg/make_test_pack.py): real processes, the real worker, ONNX
 * Runtime. Its logits are close to uniform, so only the grammar constraint makes samples decodable: every
 * constrained sample must decode (the codec validator, and libjpeg-turbo's djpeg where installed), begin with exactly
 * the prompt bytes of the canonicalised input, and bad inputs must fail with one clear line and write nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalHeader, promptForRatio, stripTables, validateImageStream } from '../../src/codec/jpeg';
import { Requests, WorkerErrorCode, type ImageProgress, type ImageRunParams, type ImageRunRecord } from '../../src/protocol/worker';
import { canonicalImageStream } from '../../src/runtime/images';
import type { WorkerError } from '../../src/worker/client';
import { tempDir } from '../helpers/packs';
import { requireBuild, startClient } from '../helpers/worker';

const PACK = path.resolve('test/fixtures/codec-lm-tiny');
const G = { width: 32, height: 32 };
const fixture = (name: string) => path.resolve('test/fixtures/jpeg', name);
const noDjpeg = spawnSync('djpeg', ['-version']).error !== undefined;

let tmp: ReturnType<typeof tempDir>;
before(() => {
  requireBuild();
  assert.ok(existsSync(path.join(PACK, 'concert.json')), `the test pack is missing at ${PACK} (tools/jpeg/make_test_pack.py)`);
  tmp = tempDir();
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args, '--models', PACK, '--device', 'cpu', '--threads', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface ImageJson {
  mode: string;
  decodable: number;
  samples: number;
  files: { path: string; decodable: boolean; tokens: number; streamBytes: number; closingBytes: number; stoppedBy: string; problem?: string }[];
  run: ImageRunRecord;
}

function image(...args: string[]): ImageJson {
  const r = concert('image', ...args, '--model', 'codec-lm-tiny', '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as ImageJson;
}

/** A file written by the CLI: a full JPEG (tables restored) whose image-only stream libjpeg decodes without warnings. */
function readSample(file: string): Uint8Array {
  const full = new Uint8Array(readFileSync(file));
  if (!noDjpeg) {
    const r = spawnSync('djpeg', ['-pnm'], { input: full, maxBuffer: 1 << 24 });
    assert.equal(r.status, 0, `djpeg ${file}: ${r.stderr?.toString()}`);
    assert.equal(r.stderr.toString(), '', `djpeg warned about ${file}`);
  }
  const stream = stripTables(full);
  assert.ok(validateImageStream(stream, G).ok, `${file} is not a valid canonical stream`);
  return stream;
}

const outDir = (name: string) => path.join(tmp.dir, name);
const startsWith = (a: Uint8Array, prefix: Uint8Array) => a.length >= prefix.length && prefix.every((b, i) => a[i] === b);

describe('concert image complete / generate', () => {
  it('the bundled JPEG-LM completes the bundled sample image (README): 4 decodable JPEGs that begin with its prompt', async () => {
    const sample = path.resolve('media/samples/scene.png');
    const out = outDir('bundled');
    const r = concert('image', 'complete', sample, '--ratio', '0.5', '--samples', '4', '--out', out, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out) as ImageJson;
    assert.equal(j.run.packId, 'concert-jpeg-32', 'the bundled pack is the default');
    assert.equal(j.decodable, 4);
    const { prompt } = promptForRatio(await canonicalImageStream(sample, G), 0.5, G);
    for (const f of j.files) {
      assert.equal(f.decodable, true, f.problem);
      assert.ok(startsWith(readSample(f.path), prompt), `${f.path} does not begin with the prompt`);
    }
  });

  it('complete writes N decodable JPEGs that begin with exactly the prompt of the canonicalised input', async () => {
    const out = outDir('complete-png');
    const j = image('complete', fixture('checker-32.png'), '--ratio', '0.5', '--samples', '4', '--out', out, '--seed', '7');
    assert.equal(j.mode, 'complete');
    assert.equal(j.samples, 4);
    assert.equal(j.decodable, 4);
    const stream = await canonicalImageStream(fixture('checker-32.png'), G);
    const { prompt } = promptForRatio(stream, 0.5, G);
    assert.equal(j.run.promptBytes, prompt.length);
    assert.equal(j.run.promptTokens, prompt.length + 1, '[bos] + bytes');
    assert.deepEqual([j.run.image.patches, j.run.image.keptPatches, j.run.image.keptMcus, j.run.image.mcuCount], [2, 1, 2, 4]);
    assert.deepEqual(
      readdirSync(out).sort(),
      [1, 2, 3, 4].map((i) => `checker-32-complete-${i}.jpg`),
    );
    for (const f of j.files) {
      assert.equal(f.decodable, true, f.problem);
      const s = readSample(f.path);
      assert.ok(startsWith(s, prompt), `${f.path} does not begin with the prompt`);
      assert.equal(s.length, f.streamBytes);
    }
    assert.deepEqual(
      j.run.perSample.map((p) => p.decodable),
      [true, true, true, true],
    );
    assert.equal(j.run.seed, 7);
    assert.equal(j.run.knobs.constrained, true);
    assert.deepEqual(j.run.knobs.decoding, { mode: 'sample', temperature: 1, topP: 1, topK: 50 });
    assert.match(j.run.manifestSha256, /^[0-9a-f]{64}$/);
    assert.ok(j.run.timings.steps > 0 && j.run.timings.msPerStep > 0);
    // Same seed, same files.
    const again = image('complete', fixture('checker-32.png'), '--ratio', '0.5', '--samples', '4', '--out', outDir('complete-png-2'), '--seed', '7');
    for (const [i, f] of again.files.entries()) assert.deepEqual(readFileSync(f.path), readFileSync(j.files[i]!.path));
  });

  it('takes a canonical stream as it is, a larger image through the canonicaliser, and the ratio cuts whole patches', () => {
    const stream = new Uint8Array(readFileSync(fixture('noise-32.bin')));
    for (const [ratio, kept] of [
      ['0', 0],
      ['0.49', 0],
      ['0.5', 2],
      ['1', 4],
    ] as const) {
      const out = outDir(`ratio-${ratio}`);
      const j = image('complete', fixture('noise-32.bin'), '--ratio', ratio, '--samples', '2', '--out', out, '--seed', '1');
      assert.equal(j.run.image.keptMcus, kept);
      const { prompt } = promptForRatio(stream, Number(ratio), G);
      assert.equal(j.run.promptBytes, prompt.length);
      // One restart marker closes each kept MCU (none after the last MCU of the image).
      const restarts = prompt.reduce((n, b, i) => n + (b === 0xff && prompt[i + 1]! >= 0xd0 && prompt[i + 1]! <= 0xd7 ? 1 : 0), 0);
      assert.equal(restarts, Math.min(kept, 3));
      for (const f of j.files) assert.ok(startsWith(readSample(f.path), prompt));
      if (kept === 4) for (const f of j.files) assert.deepEqual(readSample(f.path), stream, 'ratio 1 keeps the whole image');
    }
    const big = image('complete', fixture('plasma-256.png'), '--ratio', '0.5', '--samples', '1', '--out', outDir('big'), '--seed', '2');
    assert.equal(big.decodable, 1);
    assert.equal(big.run.source?.file, fixture('plasma-256.png'));
  });

  it('generate writes decodable whole images that start with the canonical header', () => {
    const j = image('generate', '--samples', '3', '--out', outDir('generate'), '--seed', '3', '--top-k', '20', '--temperature', '0.9');
    assert.equal(j.decodable, 3);
    assert.deepEqual(j.run.knobs.decoding, { mode: 'sample', temperature: 0.9, topP: 1, topK: 20 });
    for (const [i, f] of j.files.entries()) {
      assert.equal(path.basename(f.path), `generate-${i + 1}.jpg`);
      assert.ok(startsWith(readSample(f.path), canonicalHeader(G)));
    }
  });

  it('closes samples at a small budget with grey MCUs, still decodable', () => {
    const j = image('generate', '--samples', '2', '--out', outDir('budget'), '--seed', '4', '--max-tokens', '12');
    for (const f of j.files) {
      assert.equal(f.decodable, true);
      assert.equal(f.tokens, 12);
      assert.equal(f.stoppedBy, 'max-tokens');
      assert.ok(f.closingBytes > 0);
      readSample(f.path);
    }
  });

  it('--unconstrained samples the raw model and says which files decode', () => {
    const j = image('complete', fixture('checker-32.png'), '--samples', '4', '--out', outDir('raw'), '--seed', '5', '--unconstrained');
    assert.equal(j.run.knobs.constrained, false);
    assert.equal(j.files.length, 4);
    for (const f of j.files) {
      assert.equal(typeof f.decodable, 'boolean');
      if (!f.decodable) assert.match(f.problem ?? '', /\S/);
      assert.ok(existsSync(f.path));
    }
  });

  it('prints a table without --json', () => {
    const r = concert('image', 'generate', '--samples', '2', '--out', outDir('table'), '--model', 'codec-lm-tiny', '--seed', '1');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /generate-1\.jpg\s+yes/);
    assert.match(r.out, /2 of 2 decodable · codec-lm-tiny \(32×32\)/);
  });

  it('lists, validates and explains the codec-lm pack', () => {
    const models = concert('models');
    assert.match(models.out, /✓ codec-lm-tiny {2}\[codec-lm jpeg 32×32, user/);
    const v = concert('validate', PACK, '--json');
    assert.equal(v.code, 0, v.err);
    assert.deepEqual(
      (JSON.parse(v.out) as { packs: { id: string; valid: boolean; codec?: unknown }[] }).packs.map((p) => [p.id, p.valid, p.codec]),
      [['codec-lm-tiny', true, { format: 'jpeg', width: 32, height: 32, tokens: 'bytes' }]],
    );
    const help = concert('--help');
    assert.match(help.out, /image complete <file> --out <dir>/);
    assert.match(help.out, /--unconstrained/);
  });

  describe('bad input: a clear error, exit code ≠ 0, nothing written', () => {
    const refused = (args: string[], message: RegExp, model = 'codec-lm-tiny') => {
      const out = outDir(`bad-${readdirSync(tmp.dir).length}`);
      const r = concert('image', ...args, '--out', out, '--model', model);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.equal(existsSync(out), false, `${out} was written`);
    };
    it('a zero-byte file', () => {
      const f = path.join(tmp.dir, 'empty.png');
      writeFileSync(f, '');
      refused(['complete', f], /empty/);
    });
    it('a missing file and a folder', () => {
      refused(['complete', path.join(tmp.dir, 'nope.png')], /no such file/);
      refused(['complete', tmp.dir], /is a folder/);
    });
    it('bytes that are no image, and a truncated PNG', () => {
      const junk = path.join(tmp.dir, 'junk.png');
      writeFileSync(junk, Buffer.from('this is not an image at all, just some text\n'.repeat(4)));
      refused(['complete', junk], /not a PNG or JPEG/);
      const cut = path.join(tmp.dir, 'cut.png');
      const png = readFileSync(fixture('noise-32.png'));
      writeFileSync(cut, png.subarray(0, png.length >> 1));
      refused(['complete', cut], /cut\.png/);
    });
    it('huge dimensions', () => {
      // A PNG header that claims 100000 × 100000 pixels (the data never comes).
      const ihdr = Buffer.alloc(13);
      ihdr.writeUInt32BE(100_000, 0);
      ihdr.writeUInt32BE(100_000, 4);
      ihdr.set([8, 2, 0, 0, 0], 8);
      const chunk = Buffer.concat([Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR'), ihdr, Buffer.alloc(4)]);
      const f = path.join(tmp.dir, 'huge.png');
      writeFileSync(f, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk, Buffer.alloc(64)]));
      refused(['complete', f], /100000/);
    });
    it('an image-only stream of another size', () => refused(['complete', fixture('plasma-256.bin')], /image-only JPEG stream of 256×256/));
    it('usage errors', () => {
      refused(['complete'], /exactly one image file/);
      refused(['complete', fixture('checker-32.png'), '--ratio', '1.5'], /--ratio must be a number from 0 to 1/);
      refused(['generate', '--ratio', '0.5'], /--ratio is for image complete/);
      refused(['complete', fixture('checker-32.png'), '--samples', '99'], /--samples must be an integer from 1 to 16/);
      refused(['paint'], /image needs "complete <file>" or "generate"/);
      const r = concert('image', 'generate', '--model', 'codec-lm-tiny');
      assert.equal(r.code, 2);
      assert.match(r.err, /needs --out <folder>/);
      const file = path.join(tmp.dir, 'a-file');
      writeFileSync(file, 'x');
      const r2 = concert('image', 'generate', '--out', file, '--model', 'codec-lm-tiny');
      assert.equal(r2.code, 2);
      assert.match(r2.err, /is a file, not a folder/);
    });
    it('a pack that is not a codec-lm', () => refused(['generate'], /not a codec-lm/, 'concert-lm-small'));
  });
});

/**
 * The tiny pack again with the official checkpoint's text form (`codec.tokens.mapping: "braille"`): a tokenizer whose
 * pieces are the Braille characters U+2800 + byte at the same ids (3 + byte), so its samples must be the byte pack's.
 */
function braillePack(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(PACK, 'model.onnx'), path.join(dir, 'model.onnx'));
  const vocab: Record<string, number> = { '<s>': 0, '</s>': 1, '<unk>': 2 };
  for (let b = 0; b < 256; b++) vocab[String.fromCharCode(0x2800 + b)] = 3 + b;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['<s>', '</s>', '<unk>'].map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const entry = (f: string) => {
    const b = readFileSync(path.join(dir, f));
    return { sha256: createHash('sha256').update(b).digest('hex'), bytes: b.length };
  };
  const m = JSON.parse(readFileSync(path.join(PACK, 'concert.json'), 'utf8')) as Record<string, unknown> & { codec: Record<string, unknown> };
  m.id = 'codec-lm-braille';
  m.files = { 'model.onnx': entry('model.onnx'), 'tokenizer.json': entry('tokenizer.json') };
  delete m.modelCard;
  m.tokenizer = 'tokenizer.json';
  m.specialTokens = { bos: '<s>', eos: '</s>', pad: '<unk>' };
  m.codec.tokens = { mapping: 'braille' };
  writeFileSync(path.join(dir, 'concert.json'), JSON.stringify(m, null, 2));
  return dir;
}

describe('image/run through the worker client', () => {
  it('a Braille-mapped pack (tokenizer pieces U+2800 + byte) samples what the byte pack does', async () => {
    const braille = braillePack(path.join(tmp.dir, 'braille', 'codec-lm-braille'));
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK, braille] });
    try {
      const ask = (packId: string) => client.request(Requests.imageRun, { mode: 'complete', file: fixture('stripes-32.png'), samples: 2, seed: 4, packId });
      const [bytes, text] = [await ask('codec-lm-tiny'), await ask('codec-lm-braille')];
      assert.equal(text.decodable, 2);
      assert.deepEqual(
        text.samples.map((x) => x.jpeg),
        bytes.samples.map((x) => x.jpeg),
      );
      assert.equal(text.run.promptTokens, bytes.run.promptTokens);
    } finally {
      await client.stop();
    }
  });

  it('a bytes-bpe pack (byte tokens + merges.json) samples merged tokens and still decodes, prompt kept byte for byte', async () => {
    const bpe = path.resolve('test/fixtures/codec-lm-tiny-bpe');
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK, bpe] });
    try {
      const file = fixture('stripes-32.png');
      const r = await client.request(Requests.imageRun, { mode: 'complete', file, samples: 3, seed: 5, packId: 'codec-lm-tiny-bpe', ratio: 0.5 });
      assert.equal(r.decodable, 3);
      const stream = await canonicalImageStream(file, G);
      const { prompt } = promptForRatio(stream, 0.5, G);
      // The prompt is BPE-encoded: fewer tokens than bytes (+1 for bos), as the merges were learned on such streams.
      assert.ok(r.run.promptTokens < prompt.length + 1, `${r.run.promptTokens} tokens for ${prompt.length} bytes`);
      assert.equal(r.run.promptBytes, prompt.length);
      for (const x of r.samples) {
        const s = stripTables(Buffer.from(x.jpeg, 'base64'));
        assert.ok(startsWith(s, prompt), 'a sample does not begin with the prompt');
        assert.ok(validateImageStream(s, G).ok);
      }
      // A random model over 323 tokens takes merged ones (ids ≥ 259) too: some sample spends fewer tokens than bytes.
      assert.ok(
        r.samples.some((x) => x.tokens < x.streamBytes - prompt.length - x.closingBytes),
        JSON.stringify(r.samples.map(({ tokens, streamBytes, closingBytes }) => ({ tokens, streamBytes, closingBytes }))),
      );
    } finally {
      await client.stop();
    }
  });

  it('streams decodable previews row by row and ends with every sample done', async () => {
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK] });
    const seen: ImageProgress[] = [];
    client.onImageProgress.on((p) => seen.push(p));
    try {
      const r = await client.request(Requests.imageRun, { mode: 'complete', file: fixture('disc-32.png'), ratio: 0, samples: 3, seed: 2, progressToken: 'p' });
      assert.equal(r.decodable, 3);
      assert.ok(seen.length > 3, `${seen.length} progress notifications`);
      assert.ok(seen.every((p) => p.progressToken === 'p' && p.mcuCount === 4 && p.samples.length === 3));
      const last = seen[seen.length - 1]!;
      assert.ok(last.samples.every((s) => s.done));
      // The first notification carries the input and the kept region (as the result does); later ones do not.
      assert.deepEqual([seen[0]!.source, seen[0]!.prompt], [r.source, r.prompt]);
      assert.ok(seen.slice(1).every((p) => p.source === undefined && p.prompt === undefined));
      // Previews come when a sample's MCUs advance; each is a JPEG any decoder opens.
      const previews = seen.flatMap((p) => p.samples.filter((s) => s.jpeg !== undefined));
      assert.ok(previews.length >= 3 * 4, `${previews.length} previews`);
      for (const s of previews) validateImageStream(stripTables(new Uint8Array(Buffer.from(s.jpeg!, 'base64'))), G);
      for (let i = 0; i < 3; i++) {
        const mcus = seen.map((p) => p.samples[i]!.mcusDone);
        assert.deepEqual(
          mcus,
          [...mcus].sort((a, b) => a - b),
          'MCUs only advance',
        );
        assert.equal(mcus[mcus.length - 1], 4);
      }
      // The result carries the input and the kept region as JPEG files too.
      assert.ok(validateImageStream(stripTables(new Uint8Array(Buffer.from(r.source!, 'base64'))), G).ok);
      assert.ok(validateImageStream(stripTables(new Uint8Array(Buffer.from(r.prompt, 'base64'))), G).ok);
    } finally {
      await client.stop();
    }
  });

  it('a cancel between steps answers Cancelled with how far it got', async () => {
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK] });
    const ac = new AbortController();
    let after = 0;
    client.onImageProgress.on((p) => {
      if (p.step >= 5) ac.abort();
      if (ac.signal.aborted) after++;
    });
    try {
      const err = await client.request(Requests.imageRun, { mode: 'generate', samples: 16, seed: 1, progressToken: 'c', constrained: false }, ac.signal).then(
        () => assert.fail('expected a cancel'),
        (e: WorkerError) => e,
      );
      assert.equal(err.code, WorkerErrorCode.Cancelled, err.message);
      assert.match(err.message, /image generation cancelled after \d+ steps/);
      // It stopped between steps, long before the budget of 511 − 60 prompt tokens.
      const data = err.data as { steps: number; tokens: number[] };
      assert.ok(data.steps >= 5 && data.steps < 300, `cancelled after ${data.steps} steps`);
      assert.equal(data.tokens.length, 16);
      assert.ok(after < 300, `${after} progress notifications after the cancel`);
    } finally {
      await client.stop();
    }
  });

  it('refuses a stream of the wrong size and bad knobs with BadInput', async () => {
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK] });
    const bad = async (params: ImageRunParams, message: RegExp) => {
      const e = await client.request(Requests.imageRun, params).then(
        () => assert.fail('expected an error'),
        (x: WorkerError) => x,
      );
      assert.equal(e.code, WorkerErrorCode.BadInput, e.message);
      assert.match(e.message, message);
    };
    try {
      await bad({ mode: 'complete', stream: readFileSync(fixture('rings-64.bin')).toString('base64') }, /not a canonical image-only JPEG stream of 32×32/);
      await bad({ mode: 'complete' }, /needs the image/);
      await bad({ mode: 'generate', ratio: 0.5 }, /generate takes no image and no ratio/);
      await bad({ mode: 'generate', samples: 0 }, /samples must be an integer from 1 to 16/);
      await bad({ mode: 'generate', decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 0 } }, /top-k/);
      // A canonical stream given as bytes works.
      const r = await client.request(Requests.imageRun, { mode: 'complete', stream: readFileSync(fixture('grad-h-32.bin')).toString('base64'), samples: 1 });
      assert.equal(r.decodable, 1);
      assert.equal(r.run.source?.file, undefined);
    } finally {
      await client.stop();
    }
  });
});

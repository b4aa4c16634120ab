/**
 * Issue #17, fuzzing (the short version; `npm run reliability` runs 10,000 inputs per target): every target of
 * bench/reliability/fuzz.ts with a fixed seed, in this process, and for every input no crash, no input over 1 s, and
 * every rejection a clear error of our own. Then one regression test per defect the fuzzer found.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { IPCMessageReader, IPCMessageWriter, createMessageConnection, type MessageConnection } from 'vscode-jsonrpc/node';
import { JpegFormatError, streamGeometry } from '../../src/codec/jpeg';
import { parseManifest, ManifestError } from '../../src/runtime/manifest';
import { HEADER_LENGTH, OipCodecError, decodeInferRequest, decodeInferResponse, encodeInferRequest } from '../../src/runtime/oip/codec';
import { PackTokenizer, checkTokenizerJson } from '../../src/runtime/tokenizer';
import { guardedReader, unsafeMessage } from '../../src/protocol/rpcGuard';
import { CoreServer } from '../../src/worker/serve';
import type { WorkerService } from '../../src/worker/service';
import { TARGETS, workerIpcBytesTarget, workerIpcTarget } from '../../bench/reliability/fuzz';
import { deepJsonText, fuzz, isClearError, type FuzzRow } from '../../bench/reliability/fuzzing';
import { FakeDiffusionLM } from '../helpers/fakeDiffusion';
import { SPECIALS, tinyTokenizerJson } from '../helpers/packs';

const SEED = 17;
/** Inputs per target here (the long budget is 10,000). */
const BUDGET: Record<string, number> = {
  manifest: 500,
  pack: 300,
  onnx: 300,
  'tokenizer-input': 200,
  'tokenizer-json': 400,
  'worker-ipc': 300,
  'worker-ipc-bytes': 100,
  'oip-http': 400,
  webview: 500,
  'jpeg-stream': 500,
  'image-file': 300,
};

const summary = (r: FuzzRow) =>
  `${r.target}: ${r.inputs} inputs, ${r.crashes} crashes, ${r.hangs} hangs, ${r.unclear} unclear, ${r.violations} violations, max ${Math.round(r.maxMs)} ms\n${r.failures
    .slice(0, 5)
    .map((f) => `  #${f.index} ${f.outcome}: ${f.detail}\n    ${f.input.slice(0, 300)}`)
    .join('\n')}`;

describe('fuzzing, short budget (#17)', () => {
  it('has a budget here for every target', () => assert.deepEqual(Object.keys(BUDGET).sort(), Object.keys(TARGETS).sort()));

  for (const name of Object.keys(TARGETS)) {
    it(`${name}: no crash, no hang over 1 s, every rejection clear`, { timeout: 120_000 }, async () => {
      const row = await fuzz(TARGETS[name]!(), { seed: SEED, budget: BUDGET[name]! });
      assert.equal(row.inputs, BUDGET[name]);
      assert.equal(row.crashes + row.hangs + row.unclear + row.violations, 0, summary(row));
      // Every text is valid tokenizer input and every byte string only has to leave the worker answering; the other
      // targets' inputs are mostly refused.
      if (name !== 'tokenizer-input' && name !== 'worker-ipc-bytes') assert.ok(row.rejected > 0, `${name}: the inputs reach a rejection`);
    });
  }
});

describe('the harness', () => {
  it('is deterministic: the same seed gives the same outcomes', async () => {
    const a = await fuzz(TARGETS['manifest']!(), { seed: 3, budget: 200 });
    const b = await fuzz(TARGETS['manifest']!(), { seed: 3, budget: 200 });
    assert.deepEqual([a.accepted, a.rejected], [b.accepted, b.rejected]);
  });

  it('counts raw engine errors as unclear, and our own errors as clear', () => {
    assert.equal(isClearError(new ManifestError('files: must list every file')), true);
    assert.equal(isClearError(new Error('tokenizer.json: is not valid JSON (Unexpected token } in JSON at position 3)')), true);
    assert.equal(isClearError(new TypeError('x')), false);
    assert.equal(isClearError(new Error('Maximum call stack size exceeded')), false);
    assert.equal(isClearError(new Error("Cannot read properties of null (reading 'id')")), false);
    assert.equal(isClearError(new Error('')), false);
    assert.equal(isClearError('a string'), false);
  });

  it('counts an input over 1 s as a hang and a raw TypeError as unclear', async () => {
    const row = await fuzz(
      {
        name: 'probe',
        what: 'harness self-test',
        generate: (rng) => rng.int(3),
        run: async (k) => {
          if (k === 0) await new Promise((r) => setTimeout(r, 1100));
          if (k === 1) throw new TypeError("Cannot read properties of null (reading 'x')");
          return { outcome: 'accepted' };
        },
      },
      { seed: 1, budget: 8 },
    );
    assert.ok(row.hangs >= 1 && row.unclear >= 1 && row.accepted >= 1, JSON.stringify(row));
  });
});

describe('defects found by fuzzing (#17)', () => {
  it('OIP JSON data nested 100k deep is a 400-class codec error, not a stack overflow', () => {
    const body = `{"inputs":[{"name":"t","datatype":"FP32","shape":[1],"data":${deepJsonText(100_000)}}]}`;
    assert.throws(
      () => decodeInferRequest(new TextEncoder().encode(body)),
      (e: Error) => e instanceof OipCodecError && /nested deeper than 32/.test(e.message),
    );
    const outputs = `{"inputs":[],"outputs":[{"name":${deepJsonText(100_000)}}]}`;
    assert.throws(() => decodeInferRequest(new TextEncoder().encode(outputs)), OipCodecError);
    const size = `{"inputs":[{"name":"t","datatype":"FP32","shape":[1],"parameters":{"binary_data_size":${deepJsonText(100_000)}}}]}`;
    assert.throws(() => decodeInferRequest(new TextEncoder().encode(size)), OipCodecError);
    const shape = `{"inputs":[{"name":"t","datatype":"FP32","shape":[${deepJsonText(100_000)}],"data":[1]}]}`;
    assert.throws(() => decodeInferRequest(new TextEncoder().encode(shape)), OipCodecError);
    const response = `{"model_name":${deepJsonText(100_000)},"outputs":[]}`;
    assert.equal(decodeInferResponse(new TextEncoder().encode(response)).model_name, '');
  });

  it('nested data within the limit still decodes row-major', () => {
    const body = '{"inputs":[{"name":"t","datatype":"INT32","shape":[2,2],"data":[[1,2],[3,4]]}]}';
    assert.deepEqual([...(decodeInferRequest(new TextEncoder().encode(body)).inputs[0]!.data as Int32Array)], [1, 2, 3, 4]);
  });

  describe('concert serve refuses non-finite dense inputs', () => {
    const V = 32;
    const B = 2;
    let server: CoreServer;
    before(async () => {
      const lm = new FakeDiffusionLM(V, B, 5, 100, true, 64);
      const model = { pack: { manifest: { id: 'fuzz-core' } }, tok: { specialIds: { bos: 1 } }, lm };
      server = await CoreServer.start({ diffusionModel: async () => model } as unknown as WorkerService, { host: '127.0.0.1', port: 0 });
    });
    after(() => server.close());
    const post = async (noisy: Float32Array) => {
      const enc = encodeInferRequest(
        {
          inputs: [
            { name: 'context_ids', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.of(1n, 2n) },
            { name: 'context_mask', datatype: 'INT64', shape: [1, 2], data: BigInt64Array.of(1n, 1n) },
            { name: 'noisy_logits', datatype: 'FP32', shape: [1, B, V], data: noisy },
            { name: 'self_cond_logits', datatype: 'FP32', shape: [1, B, V], data: new Float32Array(B * V) },
            { name: 't_frac', datatype: 'FP32', shape: [1], data: Float32Array.of(0.5) },
          ],
        },
        true,
      );
      const r = await fetch(`${server.url}/v2/models/concert-core/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(enc.headerLength) },
        body: Buffer.from(enc.body),
      });
      return { status: r.status, text: await r.text() };
    };
    it('NaN or Infinity in noisy_logits is a 400 naming the tensor (was a 200 whose JSON logits were null)', async () => {
      for (const bad of [Number.NaN, Infinity, -Infinity]) {
        const noisy = new Float32Array(B * V).fill(0.1);
        noisy[3] = bad;
        const r = await post(noisy);
        assert.equal(r.status, 400, r.text);
        assert.match(r.text, /noisy_logits must hold finite numbers/);
      }
      assert.equal((await post(new Float32Array(B * V).fill(0.1))).status, 200);
    });
  });

  it('a canonical stream whose header declares 65535×65535 is refused before closing or previewing it (was an out-of-memory abort)', () => {
    const stream = new Uint8Array(readFileSync(new URL('../fixtures/jpeg/disc-32.bin', import.meta.url)));
    const sof = stream.findIndex((b, i) => b === 0xff && stream[i + 1] === 0xc0);
    stream.set([0xff, 0xff, 0xff, 0xff], sof + 5);
    assert.throws(
      () => streamGeometry(stream),
      (e: Error) => e instanceof JpegFormatError && /65535×65535 is over the 4096×4096/.test(e.message),
    );
  });

  it('manifest values nested 30k deep are named by kind, not serialised (stack overflow)', () => {
    assert.throws(
      () => parseManifest(`{"schemaVersion": ${deepJsonText(30_000)}}`),
      (e: Error) => e instanceof ManifestError && /found an array/.test(e.message),
    );
  });

  it('tokenizer.json: a null added token, non-string merges and what the library throws are clear errors', () => {
    const j = JSON.parse(tinyTokenizerJson()) as Record<string, unknown> & { model: Record<string, unknown>; added_tokens: unknown[] };
    assert.throws(
      () => checkTokenizerJson(JSON.stringify({ ...j, added_tokens: [null] }), {}),
      (e: Error) => !(e instanceof TypeError) && /added_tokens/.test(e.message),
    );
    assert.throws(
      () => checkTokenizerJson(JSON.stringify({ ...j, model: { ...j.model, merges: [1, 2] } }), SPECIALS),
      (e: Error) => !(e instanceof TypeError) && /merges/.test(e.message),
    );
    assert.throws(
      () => new PackTokenizer(JSON.stringify({ ...j, pre_tokenizer: { type: 'NoSuchPreTokenizer' } }), SPECIALS),
      (e: Error) => !(e instanceof TypeError) && /cannot be loaded by the tokenizer library/.test(e.message),
    );
  });

  it('a $/cancelRequest without an id no longer crashes the receiver (vscode-jsonrpc throws outside any handler)', async () => {
    assert.match(unsafeMessage({ jsonrpc: '2.0', method: '$/cancelRequest', params: '%00' }) ?? '', /needs params/);
    assert.equal(unsafeMessage({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 3 } }), undefined);
    assert.equal(unsafeMessage({ jsonrpc: '2.0', id: 1, method: '$/cancelRequest' }), undefined, 'a request of that name is answered, not dropped');
    // A fake IPC peer: what the reader hears is what process.on('message') would deliver.
    const run = async (guard: boolean) => {
      const peer = Object.assign(new EventEmitter(), { send: (_m: unknown, cb?: (e: Error | null) => void) => (cb?.(null), true) });
      const stray: unknown[] = [];
      const onStray = (e: unknown) => void stray.push(e);
      process.on('uncaughtException', onStray);
      const reader = new IPCMessageReader(peer as unknown as NodeJS.Process);
      const dropped: string[] = [];
      let conn: MessageConnection | undefined;
      try {
        conn = createMessageConnection(guard ? guardedReader(reader, (w) => dropped.push(w)) : reader, new IPCMessageWriter(peer as unknown as NodeJS.Process));
        conn.listen();
        try {
          peer.emit('message', { jsonrpc: '2.0', method: '$/cancelRequest', params: '%00' });
        } catch (e) {
          stray.push(e);
        }
        await new Promise((r) => setImmediate(r));
      } finally {
        conn?.dispose();
        process.off('uncaughtException', onStray);
      }
      return { stray, dropped };
    };
    const unguarded = await run(false);
    assert.ok(unguarded.stray.length > 0, 'without the guard vscode-jsonrpc throws (if this fails, the library fixed it)');
    const guarded = await run(true);
    assert.deepEqual(guarded.stray, []);
    assert.equal(guarded.dropped.length, 1);
  });

  describe('the IPC channel of the worker (raw bytes, real process)', () => {
    const target = workerIpcBytesTarget();
    before(() => target.setup!(), { timeout: 120_000 });
    after(() => target.teardown!());
    it('answers again after a bad line that spanned several reads (Node kept its start and glued every later read to it)', async () => {
      const v = await target.run(Buffer.concat([Buffer.alloc(300_000, 0x41), Buffer.from('\n')]));
      assert.equal(v.outcome, 'accepted', v.detail);
      assert.equal((await target.run(Buffer.from('{"jsonrpc":"2.0","method":"x"}\n'))).outcome, 'accepted');
    });
  });

  describe('the worker (real process, from source)', () => {
    const target = workerIpcTarget();
    before(() => target.setup!(), { timeout: 120_000 });
    after(() => target.teardown!());
    for (const [what, message, expect] of [
      ['a cancel whose params are a string', { jsonrpc: '2.0', method: '$/cancelRequest', params: '%00' }, undefined],
      ['a cancel with no params', { jsonrpc: '2.0', method: '$/cancelRequest' }, undefined],
      ['models/tokenize with params null', { jsonrpc: '2.0', id: 901, method: 'models/tokenize', params: null }, 901],
      ['models/validate with params as a list', { jsonrpc: '2.0', id: 902, method: 'models/validate', params: [1, 2] }, 902],
    ] as const) {
      it(`survives ${what}, answering with a clear error`, async () => {
        await target.beforeEach?.();
        const v = await target.run({ message, ...(expect !== undefined && { expect }) });
        assert.ok(v.outcome === 'accepted' || v.outcome === 'rejected', `${v.outcome}: ${v.detail}`);
      });
    }
  });
});

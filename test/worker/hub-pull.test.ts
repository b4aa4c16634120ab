/**
 * `models/pull` through the real worker and `concert models pull` as a user runs it, against a loopback Hub served
 * from this test process (HF_ENDPOINT): the real Hub is unreachable from this machine.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Requests, WorkerErrorCode, type DownloadProgress } from '../../src/protocol/worker';
import { WorkerError } from '../../src/worker/client';
import { repoFromFolder, startLoopbackHub, tinyRepo, type LoopbackHub } from '../helpers/loopbackHub';
import { BUNDLED_MODELS, tempDir } from '../helpers/packs';
import { requireBuild, startClient, until } from '../helpers/worker';

const LOOPBACK = '(loopback Hub: the real Hub is unreachable from this machine)';
const REPO = 'concert-test/tiny-lm';
const GATED = 'concert-test/gated-lm';
/** A real published-layout export (the HF-folder tests' fixture), so the pulled folder is a model Concert runs. */
const REAL = 'concert-test/qwen2-tiny';
const REAL_FOLDER = path.resolve('test/fixtures/hf/qwen2-tiny');
const TOKEN = 'hf_loopbacktoken';
const MARKER = '.concert-download.json';
const fixture = tinyRepo();

let hub: LoopbackHub;
let tmp: ReturnType<typeof tempDir>;
before(async () => {
  requireBuild();
  tmp = tempDir();
  hub = await startLoopbackHub({ [REPO]: tinyRepo(), [GATED]: tinyRepo({ gatedToken: TOKEN }), [REAL]: repoFromFolder(REAL_FOLDER) });
});
after(async () => {
  await hub.close();
  tmp.cleanup();
});

/** Runs the CLI without blocking this process's event loop (the loopback Hub lives in it). */
function concert(
  args: string[],
  env: Record<string, string>,
  onSpawn?: (child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve('bin/concert.js'), ...args], {
      env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '', HF_TOKEN: '', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
    onSpawn?.(child);
  });
}

const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);

describe(`concert models pull ${LOOPBACK}`, () => {
  it(`downloads the chosen variant into $XDG_DATA_HOME/concert/models and marks it complete ${LOOPBACK}`, async () => {
    const xdg = path.join(tmp.dir, 'xdg-ok');
    const r = await concert(['models', 'pull', REPO, '--dtype', 'fp32', '--json'], { HF_ENDPOINT: hub.endpoint, XDG_DATA_HOME: xdg });
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    const dir = path.join(xdg, 'concert', 'models', 'concert-test--tiny-lm');
    assert.equal(res.dir, dir);
    assert.equal(res.dtype, 'fp32');
    assert.equal(res.commit, fixture.commit);
    assert.deepEqual(res.files.map((f: { path: string }) => f.path).slice(-2), ['onnx/model.onnx', 'onnx/model.onnx_data']);
    assert.deepEqual(readFileSync(path.join(dir, 'onnx/model.onnx_data')), fixture.files['onnx/model.onnx_data']);
    assert.ok(existsSync(path.join(dir, MARKER)));

    const human = await concert(['models', 'pull', REPO, '--dtype', 'fp32'], { HF_ENDPOINT: hub.endpoint, XDG_DATA_HOME: xdg });
    assert.equal(human.code, 0, human.err);
    assert.match(human.out, /^Pulled concert-test\/tiny-lm \(fp32, main @ c0ffee0000\): 7 files, .*0\.0 MB fetched, 7 already here\)/);
  });

  it(`a pulled model is listed by "concert models" and runs ${LOOPBACK}`, async () => {
    const xdg = path.join(tmp.dir, 'xdg-real');
    const r = await concert(['models', 'pull', REAL, '--dtype', 'fp32', '--json'], { HF_ENDPOINT: hub.endpoint, XDG_DATA_HOME: xdg });
    assert.equal(r.code, 0, r.err);
    const res = JSON.parse(r.out);
    assert.equal(res.pack?.valid, true, JSON.stringify(res.pack));
    const list = await concert(['models', '--json'], { XDG_DATA_HOME: xdg });
    assert.equal(list.code, 0, list.err);
    const listed = JSON.parse(list.out).packs.find((p: { dir: string }) => p.dir === res.dir);
    assert.ok(listed?.valid, list.out);
    const tok = await concert(['tokenize', listed.id, 'hello'], { XDG_DATA_HOME: xdg });
    assert.equal(tok.code, 0, tok.err);
  });

  it(`says what to do: gated without HF_TOKEN (401), unknown variant, unreachable Hub, bad arguments ${LOOPBACK}`, async () => {
    const env = { HF_ENDPOINT: hub.endpoint, XDG_DATA_HOME: path.join(tmp.dir, 'xdg-errors') };
    const gated = await concert(['models', 'pull', GATED], env);
    assert.equal(gated.code, 1);
    assert.ok(oneLine(gated.err), gated.err);
    assert.match(gated.err, /^concert: "concert-test\/gated-lm" is gated or private \(HTTP 401\): set HF_TOKEN/);
    const withToken = await concert(['models', 'pull', GATED, '--dtype', 'fp16'], { ...env, HF_TOKEN: TOKEN });
    assert.equal(withToken.code, 0, withToken.err);

    const int8 = await concert(['models', 'pull', REPO, '--dtype', 'int8'], env);
    assert.equal(int8.code, 1);
    assert.match(int8.err, /no int8 variant \(available: q4, fp16, fp32/);

    const missing = await concert(['models', 'pull', 'concert-test/none'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no model repository "concert-test\/none"/);

    const down = await concert(['models', 'pull', REPO], { ...env, HF_ENDPOINT: 'http://127.0.0.1:9' });
    assert.equal(down.code, 1);
    assert.ok(oneLine(down.err), down.err);
    assert.match(down.err, /could not reach the Hugging Face Hub at http:\/\/127\.0\.0\.1:9 .*HF_ENDPOINT/);

    const badDtype = await concert(['models', 'pull', REPO, '--dtype', 'q3'], env);
    assert.equal(badDtype.code, 2);
    assert.match(badDtype.err, /--dtype must be one of q4, int8, fp16, fp32/);
    const badRepo = await concert(['models', 'pull', '../etc'], env);
    assert.equal(badRepo.code, 2);
    assert.match(badRepo.err, /is not a Hub model id/);
    const noRepo = await concert(['models', 'pull'], env);
    assert.equal(noRepo.code, 2);
  });

  it(`Ctrl-C cancels cleanly: no marker, nothing listed, and the next pull resumes ${LOOPBACK}`, async () => {
    const xdg = path.join(tmp.dir, 'xdg-cancel');
    const dir = path.join(xdg, 'concert', 'models', 'concert-test--tiny-lm');
    hub.slow = { path: 'onnx/model_q4.onnx', chunk: 8 * 1024, delayMs: 50 };
    try {
      const r = await concert(['models', 'pull', REPO, '--dtype', 'q4'], { HF_ENDPOINT: hub.endpoint, XDG_DATA_HOME: xdg }, (child) => {
        void until(
          () => existsSync(path.join(dir, 'onnx')) && readdirSync(path.join(dir, 'onnx')).some((n) => n.endsWith('.partial')),
          30_000,
          'a partial file',
        ).then(() => child.kill('SIGINT'));
      });
      assert.equal(r.code, 130, r.err);
      assert.match(r.err, /cancelled/);
      assert.match(r.err, /run the same command again to resume/);
    } finally {
      hub.slow = undefined;
    }
    assert.ok(!existsSync(path.join(dir, MARKER)));
    assert.ok(!existsSync(path.join(dir, 'onnx/model_q4.onnx')));
    const list = await concert(['models', '--json'], { XDG_DATA_HOME: xdg });
    assert.equal(list.code, 0, list.err);
    assert.ok(!JSON.parse(list.out).packs.some((p: { dir: string }) => p.dir.startsWith(xdg)), 'the cancelled download is no model');

    hub.requests.length = 0;
    const again = await concert(['models', 'pull', REPO, '--dtype', 'q4', '--json'], { HF_ENDPOINT: hub.endpoint, XDG_DATA_HOME: xdg });
    assert.equal(again.code, 0, again.err);
    assert.ok(
      hub.requests.some((q) => q.range && /^bytes=[1-9]\d*-$/.test(q.range)),
      'resumed with a Range request',
    );
    assert.ok(existsSync(path.join(dir, MARKER)));
  });
});

describe(`models/pull in the worker ${LOOPBACK}`, () => {
  it(`streams progress/download per file and answers $/cancelRequest with Cancelled ${LOOPBACK}`, async () => {
    const downloadsDir = path.join(tmp.dir, 'worker-downloads');
    const { client } = startClient({ bundledModelsDir: BUNDLED_MODELS, downloadsDir });
    try {
      const seen: DownloadProgress[] = [];
      const sub = client.onDownloadProgress.on((p) => seen.push(p));
      const r = await client.request(Requests.pullModel, { repo: REPO, dtype: 'fp16', endpoint: hub.endpoint, progressToken: 't1' });
      sub.dispose();
      assert.equal(r.dir, path.join(downloadsDir, 'concert-test--tiny-lm'));
      assert.ok(seen.length && seen.every((p) => p.progressToken === 't1'));
      const lastOfGraph = seen.filter((p) => p.file === 'onnx/model_fp16.onnx').at(-1)!;
      assert.equal(lastOfGraph.bytesDone, fixture.files['onnx/model_fp16.onnx']!.length);
      assert.equal(seen.at(-1)!.totalDone, seen.at(-1)!.totalBytes);

      hub.slow = { path: 'onnx/model_q4.onnx', chunk: 8 * 1024, delayMs: 40 };
      const ac = new AbortController();
      const sub2 = client.onDownloadProgress.on((p) => {
        if (p.file === 'onnx/model_q4.onnx' && p.bytesDone > 0) ac.abort();
      });
      await assert.rejects(
        client.request(Requests.pullModel, { repo: REPO, dtype: 'q4', endpoint: hub.endpoint, progressToken: 't2' }, ac.signal),
        (e: unknown) => e instanceof WorkerError && e.code === WorkerErrorCode.Cancelled,
      );
      sub2.dispose();
      assert.ok(
        !existsSync(path.join(downloadsDir, 'concert-test--tiny-lm', MARKER)),
        'the re-pull was cancelled: the folder is no model until a pull completes',
      );
      await assert.rejects(
        client.request(Requests.pullModel, { repo: REPO, dtype: 'int8', endpoint: hub.endpoint }),
        (e: unknown) => e instanceof WorkerError && e.code === WorkerErrorCode.DownloadFailed && (e.data as { kind: string }).kind === 'no-variant',
      );
    } finally {
      hub.slow = undefined;
      await client.stop();
    }
  });
});

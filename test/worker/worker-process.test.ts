/**
 * The real worker process: forked, speaking JSON-RPC over IPC, running real ONNX models. Cancellation, crashes,
 * restarts and the crash-loop guard are observed from the client side, as the extension and CLI see them.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Requests, WorkerErrorCode, type StepProgress } from '../../src/protocol/worker';
import type { WorkerError } from '../../src/worker/client';
import { bigramPack, slowModel, tempDir, writePack } from '../helpers/packs';
import { crashingWorker, startClient, until } from '../helpers/worker';

let tmp: ReturnType<typeof tempDir>;
let packs: string;
let bundled: string;
before(() => {
  tmp = tempDir();
  packs = path.join(tmp.dir, 'packs');
  bundled = path.join(tmp.dir, 'bundled');
  bigramPack(packs, 'tiny-bigram');
  writePack(packs, { id: 'slow-chain', graphs: { decoder: { file: 'model.onnx', ...slowModel() } } });
  bigramPack(bundled, 'bundled-bigram');
});
after(() => tmp.cleanup());

describe('inference worker process', () => {
  it('starts lazily, reports cpu and the packs, and loads nothing until asked', async () => {
    const { client } = startClient({ bundledModelsDir: bundled, modelFolders: [packs] });
    try {
      assert.equal(client.state, 'stopped');
      assert.equal(client.pid, undefined, 'constructing the client must not spawn a process');
      const r = await client.request0(Requests.doctor);
      assert.equal(client.state, 'running');
      assert.equal(r.provider.chosen, 'cpu');
      assert.ok(r.provider.available.some((p) => p.name === 'cpu'));
      assert.deepEqual(
        r.packs.map((p) => [p.id, p.source, p.valid]),
        [
          ['bundled-bigram', 'bundled', true],
          ['slow-chain', 'user', true],
          ['tiny-bigram', 'user', true],
        ],
      );
      assert.deepEqual(r.loadedSessions, []);
      assert.equal(r.workerPid, client.pid);
      assert.notEqual(r.workerPid, process.pid);
    } finally {
      await client.stop();
    }
  });

  it('runs a real model, streams progress, and keeps the session cached', async () => {
    const { client } = startClient({ bundledModelsDir: bundled, modelFolders: [packs] });
    const seen: StepProgress[] = [];
    client.onProgress.on((p) => seen.push(p));
    try {
      const r = await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 5, progressToken: 'job-1' });
      assert.equal(r.stepsRun, 5);
      assert.deepEqual(r.graphs, ['decoder']);
      assert.deepEqual(
        seen.map((s) => [s.progressToken, s.step, s.total]),
        [1, 2, 3, 4, 5].map((i) => ['job-1', i, 5]),
      );
      const d = await client.request0(Requests.doctor);
      assert.equal(d.loadedSessions.length, 1);
      assert.match(d.loadedSessions[0]!, /^tiny-bigram\/decoder@/);
      const tok = await client.request(Requests.tokenize, { packId: 'tiny-bigram', text: 'the </s>' });
      assert.ok(!tok.ids.includes(2), 'special-token text in user input stays text');
    } finally {
      await client.stop();
    }
  });

  it('bad input and unknown packs give typed, one-line errors', async () => {
    const { client } = startClient({ bundledModelsDir: bundled, modelFolders: [packs] });
    try {
      await assert.rejects(
        client.request(Requests.selfTest, { packId: 'nope', steps: 1 }),
        (e: WorkerError) =>
          e.code === WorkerErrorCode.PackNotFound && /no model pack "nope" \(available: bundled-bigram, slow-chain, tiny-bigram\)/.test(e.message),
      );
      await assert.rejects(
        client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 0 }),
        (e: WorkerError) => e.code === WorkerErrorCode.BadInput && !e.message.includes('\n'),
      );
    } finally {
      await client.stop();
    }
  });

  it('cancel during a multi-step job stops it before the next step', async () => {
    const { client } = startClient({ bundledModelsDir: bundled, modelFolders: [packs] });
    const seen: StepProgress[] = [];
    const abort = new AbortController();
    let stepAtAbort = 0;
    client.onProgress.on((p) => {
      seen.push(p);
      if (p.step >= 3 && !abort.signal.aborted) {
        stepAtAbort = p.step;
        abort.abort();
      }
    });
    try {
      const t0 = Date.now();
      const err = await client.request(Requests.selfTest, { packId: 'slow-chain', steps: 5000, progressToken: 'c' }, abort.signal).then(
        () => assert.fail('should have been cancelled'),
        (e: WorkerError) => e,
      );
      assert.equal(err.code, WorkerErrorCode.Cancelled, err.message);
      const stepsRun = (err.data as { stepsRun: number }).stepsRun;
      // The step in flight when the cancel arrived may finish; no further step starts.
      assert.ok(stepsRun >= stepAtAbort && stepsRun <= stepAtAbort + 2, `ran ${stepsRun} steps after cancel at ${stepAtAbort}`);
      assert.ok(Date.now() - t0 < 5000);
      const before = seen.length;
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(seen.length, before, 'no progress after the cancellation was answered');
      assert.ok(seen.every((s) => s.step <= stepsRun));
      // The worker is still healthy.
      assert.equal((await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1 })).stepsRun, 1);
    } finally {
      await client.stop();
    }
  });

  it('killing the worker mid-request rejects the request within 1 s and the supervisor restarts it', async () => {
    const { client } = startClient({ bundledModelsDir: bundled, modelFolders: [packs] });
    let killedAt = 0;
    let firstPid: number | undefined;
    client.onProgress.on((p) => {
      if (p.step >= 2 && !killedAt) {
        firstPid = client.pid;
        killedAt = Date.now();
        process.kill(firstPid!, 'SIGKILL');
      }
    });
    try {
      const err = await client.request(Requests.selfTest, { packId: 'slow-chain', steps: 5000, progressToken: 'k' }).then(
        () => assert.fail('should have failed'),
        (e: WorkerError) => e,
      );
      const latency = Date.now() - killedAt;
      assert.equal(err.code, WorkerErrorCode.WorkerCrashed);
      assert.match(err.message, /stopped unexpectedly \(signal SIGKILL\) while handling "models\/selfTest"/);
      assert.ok(latency < 1000, `rejected after ${latency} ms`);
      await until(() => client.state === 'running', 5000, 'the restarted worker');
      assert.notEqual(client.pid, firstPid);
      const ping = await client.request0(Requests.ping);
      assert.equal(ping.pid, client.pid);
    } finally {
      await client.stop();
    }
  });

  it('a crash loop stops after 5 crashes and tells the user', async () => {
    const { client, logs } = startClient({ bundledModelsDir: bundled }, { workerModule: crashingWorker(path.join(tmp.dir, 'crash')) });
    const failures: string[] = [];
    client.onDidFail.on((m) => failures.push(m));
    try {
      await assert.rejects(client.request0(Requests.ping), (e: WorkerError) => e.code === WorkerErrorCode.WorkerCrashed);
      await until(() => client.state === 'failed', 10_000, 'the crash-loop guard');
      assert.equal(failures.length, 1);
      assert.match(failures[0]!, /crashed 5 times in the last 3 minutes and will not be restarted/);
      assert.equal(logs.filter((l) => l.includes('exited unexpectedly')).length, 5);
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(client.state, 'failed', 'no restart after giving up');
      await assert.rejects(
        client.request0(Requests.ping),
        (e: WorkerError) => e.code === WorkerErrorCode.WorkerUnavailable && /Restart Worker/.test(e.message),
      );
    } finally {
      await client.stop();
    }
  });

  it('stop() shuts the worker down and a later request starts a fresh one', async () => {
    const { client } = startClient({ bundledModelsDir: bundled });
    await client.request0(Requests.ping);
    const pid = client.pid!;
    await client.stop();
    assert.equal(client.state, 'stopped');
    assert.throws(() => process.kill(pid, 0), 'the old worker process is gone');
    await client.request0(Requests.ping);
    assert.notEqual(client.pid, pid);
    await client.stop();
  });
});

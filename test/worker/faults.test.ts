/**
 * Issue #17, worker faults, observed from the client side as the extension and the CLI see them: the real worker
 * (dist/worker.js) killed while loading a pack, mid-step and idle; stopped (SIGSTOP); killed again and again (the
 * crash-loop guard); garbage on its IPC channel in either direction (from the worker: killed and restarted; from the
 * client: dropped, the worker stays up); a GPU provider that fails when a session is created on it (simulated,
 * CONCERT_TEST_FAIL_PROVIDER), or that passes its canary and fails only on a model (CONCERT_TEST_FAIL_PROVIDER_SESSIONS:
 * that model runs on CPU); a pack file changed between validation and load. Each ends with the pending requests
 * rejected within the stated bound, a restart (or a clear stop), or the worker serving on, and no process left behind.
 */
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { Requests, WorkerErrorCode, type StepProgress } from '../../src/protocol/worker';
import type { WorkerClient, WorkerError } from '../../src/worker/client';
import { bigramPack, slowModel, tempDir, writePack } from '../helpers/packs';
import { alive, WORKER_JS, requireBuild, startClient, until } from '../helpers/worker';

let tmp: ReturnType<typeof tempDir>;
let packs: string;
before(() => {
  requireBuild();
  tmp = tempDir();
  packs = path.join(tmp.dir, 'packs');
  bigramPack(packs, 'tiny-bigram');
  writePack(packs, { id: 'slow-chain', graphs: { decoder: { file: 'model.onnx', ...slowModel() } } });
});
after(() => tmp.cleanup());

/** The live worker processes this test process started (forked with `--client-pid`; tsx's esbuild is not one). */
const children = (): number[] =>
  spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes('--client-pid'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter(alive);

/** After every case: no worker of this process is left running, whatever the case did. */
afterEach(async () => {
  await until(() => children().length === 0, 5000, 'every worker of this test process to be gone');
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The error `p` rejects with, and how long after `from()` (read when asked) it did. */
async function rejection(p: Promise<unknown>, from: () => number): Promise<{ e: WorkerError; readonly ms: number }> {
  const e = (await p.then(
    () => assert.fail('expected a rejection'),
    (x: WorkerError) => x,
  )) as WorkerError;
  const at = Date.now();
  return {
    e,
    get ms() {
      return at - from();
    },
  };
}

async function stopAll(...clients: WorkerClient[]): Promise<void> {
  for (const c of clients) await c.stop();
}

describe('worker faults (#17)', { timeout: 120_000 }, () => {
  it('killed while loading a pack: the request is rejected within 1 s, the worker restarts and loads it afterwards', async () => {
    // The load pauses (test-only switch) once the graph's bytes are read and checked: a load from the page cache takes
    // milliseconds, too short a window to hit reliably from outside.
    const { client, stderr } = startClient({ bundledModelsDir: packs }, { env: { CONCERT_PROGRESS_INTERVAL_MS: '0', CONCERT_TEST_LOAD_PAUSE_MS: '3000' } });
    const seen: StepProgress[] = [];
    client.onProgress.on((p) => seen.push(p));
    try {
      await client.request0(Requests.ping);
      const pid = client.pid!;
      const job = client.request(Requests.selfTest, { packId: 'slow-chain', steps: 3, progressToken: 'load' });
      let killedAt = 0;
      const t0 = Date.now();
      while (!killedAt && Date.now() - t0 < 20_000) {
        if (stderr.join('').includes('while loading graph "decoder" of slow-chain')) {
          killedAt = Date.now();
          process.kill(pid, 'SIGKILL');
        } else await sleep(5);
      }
      assert.ok(killedAt, 'the worker never started loading the pack');
      const { e, ms } = await rejection(job, () => killedAt);
      assert.equal(e.code, WorkerErrorCode.WorkerCrashed);
      assert.match(e.message, /stopped unexpectedly \(signal SIGKILL\) while handling "models\/selfTest"; it is being restarted/);
      assert.ok(ms < 1000, `rejected ${ms} ms after the kill`);
      assert.equal(seen.length, 0, 'killed before the first step');
      await until(() => client.state === 'running', 5000, 'the restart');
      assert.notEqual(client.pid, pid);
      assert.equal(alive(pid), false);
      assert.equal((await client.request(Requests.selfTest, { packId: 'slow-chain', steps: 1 })).stepsRun, 1);
    } finally {
      await stopAll(client);
    }
  });

  it('killed mid-step with several requests pending: all are rejected within 1 s, then it restarts', async () => {
    const { client } = startClient({ bundledModelsDir: packs });
    let killedAt = 0;
    let pid = 0;
    client.onProgress.on((p) => {
      if (p.step >= 2 && !killedAt) {
        pid = client.pid!;
        killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
      }
    });
    try {
      const jobs = [
        client.request(Requests.selfTest, { packId: 'slow-chain', steps: 5000, progressToken: 'mid' }),
        client
          .request(Requests.tokenize, { packId: 'tiny-bigram', text: 'the cat' })
          .then(() => client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1_000_000 })),
      ];
      for (const job of jobs) {
        const { e, ms } = await rejection(job, () => killedAt);
        assert.equal(e.code, WorkerErrorCode.WorkerCrashed);
        assert.ok(ms < 1000, `rejected ${ms} ms after the kill`);
      }
      await until(() => client.state === 'running', 5000, 'the restart');
      assert.equal(alive(pid), false);
      assert.equal((await client.request0(Requests.ping)).pid, client.pid);
    } finally {
      await stopAll(client);
    }
  });

  it('killed while idle: restarted on its own, nothing pending, the next request is served', async () => {
    const { client, logs } = startClient({ bundledModelsDir: packs });
    const states: string[] = [];
    client.onDidChangeState.on((s) => states.push(s));
    try {
      await client.request0(Requests.ping);
      const pid = client.pid!;
      process.kill(pid, 'SIGKILL');
      await until(() => client.state === 'running' && client.pid !== pid, 5000, 'the restart');
      assert.deepEqual(states.slice(-2), ['restarting', 'running']);
      assert.equal(logs.filter((l) => /exited unexpectedly \(signal SIGKILL\); crash 1 in the last 3 minutes/.test(l)).length, 1);
      assert.equal((await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 2 })).stepsRun, 2);
      assert.equal(alive(pid), false);
    } finally {
      await stopAll(client);
    }
  });

  it('stopped (SIGSTOP): every pending request is rejected within the heartbeat bound, the worker is killed and replaced', async () => {
    // Bound: hungAfterMs + one interval (production: 20 s + 5 s; here 1 s + 0.1 s).
    const { client } = startClient({ bundledModelsDir: packs }, { heartbeat: { intervalMs: 100, hungAfterMs: 1000 } });
    try {
      await client.request0(Requests.ping);
      const pid = client.pid!;
      const jobs: Promise<unknown>[] = [
        client.request(Requests.selfTest, { packId: 'slow-chain', steps: 1_000_000 }),
        client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1_000_000 }),
      ];
      await sleep(300);
      process.kill(pid, 'SIGSTOP');
      const stoppedAt = Date.now();
      jobs.push(client.request0(Requests.doctor));
      for (const job of jobs) {
        const { e, ms } = await rejection(job, () => stoppedAt);
        assert.equal(e.code, WorkerErrorCode.WorkerCrashed);
        assert.match(e.message, /stopped responding while handling "[^"]+" \(no answer for \d+\.\d s\), so it was killed; it is being restarted/);
        assert.ok(ms < 2000, `rejected ${ms} ms after SIGSTOP`);
      }
      assert.equal(alive(pid), false, 'the stopped worker was killed, not left behind');
      await until(() => client.state === 'running', 5000, 'the restart');
      assert.notEqual(client.pid, pid);
    } finally {
      await stopAll(client);
    }
  });

  it('a real worker killed five times within 3 minutes: no sixth start, one onDidFail with the message, nothing left running', async () => {
    const { client, logs } = startClient({ bundledModelsDir: packs });
    const failures: string[] = [];
    client.onDidFail.on((m) => failures.push(m));
    const pids: number[] = [];
    client.onDidStart.on((pid) => {
      pids.push(pid);
      process.kill(pid, 'SIGKILL');
    });
    try {
      await assert.rejects(client.request0(Requests.ping), (e: WorkerError) => e.code === WorkerErrorCode.WorkerCrashed);
      await until(() => client.state === 'failed', 15_000, 'the crash-loop guard');
      assert.equal(pids.length, 5);
      assert.equal(failures.length, 1);
      assert.match(failures[0]!, /crashed 5 times in the last 3 minutes and will not be restarted\. Check the Concert log, then run "Concert: Restart Worker"/);
      assert.equal(logs.filter((l) => l.includes('exited unexpectedly')).length, 5);
      await sleep(800);
      assert.equal(pids.length, 5, 'no restart after giving up');
      assert.ok(pids.every((p) => !alive(p)));
      await assert.rejects(client.request0(Requests.ping), (e: WorkerError) => e.code === WorkerErrorCode.WorkerUnavailable);
    } finally {
      await stopAll(client);
    }
  });

  it('garbage from the worker on the IPC channel: a protocol error, not an exception here; pending requests rejected, restart (stray stdout is only logged)', async () => {
    // A worker that, once (its first start), writes bytes that are not a message straight onto the channel.
    const marker = path.join(tmp.dir, 'garbage-written');
    const wrapper = path.join(tmp.dir, 'garbage-worker.js');
    writeFileSync(
      wrapper,
      `const fs = require('fs');
console.log('a stray line on stdout');
if (!fs.existsSync(${JSON.stringify(marker)})) setTimeout(() => { fs.writeFileSync(${JSON.stringify(marker)}, ''); process.send({ jsonrpc: '2.0', method: 'nope' }); fs.writeSync(process.channel.fd, 'this is not a message\\n'); }, 800);
require(${JSON.stringify(WORKER_JS)});
`,
    );
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    const { client, logs, stderr } = startClient({ bundledModelsDir: packs }, { workerModule: wrapper });
    try {
      await client.request0(Requests.ping);
      const pid = client.pid!;
      // Output on stdout is the worker's log, not the protocol: it goes to the log and changes nothing.
      await until(() => stderr.join('').includes('a stray line on stdout'), 2000, 'the stray line in the log');
      let wroteAt = 0;
      const outcome = rejection(client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1_000_000 }), () => wroteAt);
      await until(() => existsSync(marker), 5000, 'the garbage');
      wroteAt = statSync(marker).mtimeMs;
      const { e, ms } = await outcome;
      assert.equal(e.code, WorkerErrorCode.WorkerCrashed);
      assert.match(
        e.message,
        /broke the protocol while handling "models\/selfTest" \(it wrote bytes that are not a message\), so it was killed; it is being restarted/,
      );
      assert.ok(ms < 1000, `rejected ${ms} ms after the garbage`);
      assert.ok(logs.some((l) => /wrote bytes that are not a message on its IPC channel \(.*not valid JSON\); killing it/.test(l)));
      await until(() => client.state === 'running', 5000, 'the restart');
      assert.notEqual(client.pid, pid);
      assert.equal(alive(pid), false);
      assert.equal((await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1 })).stepsRun, 1);
      assert.deepEqual(uncaught, [], 'no uncaught exception in the client process');
    } finally {
      process.off('uncaughtException', onUncaught);
      await stopAll(client);
    }
  });

  it('garbage from the client side: stray messages are ignored; raw bytes are logged and dropped, the worker stays up and serves on', async () => {
    const { client, stderr } = startClient({ bundledModelsDir: packs });
    try {
      await client.request0(Requests.ping);
      const states: string[] = [];
      client.onDidChangeState.on((s) => states.push(s));
      const child = (client as unknown as { child: ChildProcess }).child;
      // Valid IPC messages that are not JSON-RPC, and responses to requests never made: ignored.
      child.send('not json-rpc');
      child.send({ jsonrpc: '2.0', id: 987654, result: 'unasked' });
      child.send({ jsonrpc: '2.0', method: 'no/such/method', id: 31337 });
      await sleep(200);
      const pid = client.pid!;
      assert.equal((await client.request0(Requests.ping)).pid, pid, 'still the same worker');
      // Raw bytes that are not a message, while a request is running: the worker drops them (a log line, no answer)
      // and goes on; the running request keeps running and can be cancelled, and the next one is served.
      const seen: StepProgress[] = [];
      client.onProgress.on((p) => seen.push(p));
      const ac = new AbortController();
      const job = client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1_000_000, progressToken: 'garbage' }, ac.signal);
      await until(() => seen.length > 0, 20_000, 'the first step');
      const fd = (child.channel as unknown as { fd: number }).fd;
      assert.ok(fd > 2);
      const dropped = () => (stderr.join('').match(/dropped bytes on the IPC channel that are not a message/g) ?? []).length;
      writeSync(fd, 'client garbage\n');
      await until(() => dropped() === 1, 5000, 'the first log line');
      writeSync(fd, '{"jsonrpc": "2.0", "method": \n');
      await until(() => dropped() === 2, 5000, 'the second log line');
      assert.match(stderr.join(''), /concert worker: dropped bytes on the IPC channel that are not a message \(.*not valid JSON\)/);
      assert.doesNotMatch(stderr.join(''), /SyntaxError|Uncaught/, 'no uncaught exception in the worker');
      assert.equal((await client.request0(Requests.ping)).pid, pid, 'the same worker answers');
      const stepsAfter = seen.length;
      await until(() => seen.length > stepsAfter, 5000, 'the running request to go on');
      ac.abort();
      await assert.rejects(job, (e: WorkerError) => e.code === WorkerErrorCode.Cancelled && /cancelled after \d+ of 1000000 steps/.test(e.message));
      assert.equal((await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1 })).stepsRun, 1);
      assert.equal(client.pid, pid);
      assert.equal(alive(pid), true);
      assert.deepEqual(states, [], 'no crash, no restart');
    } finally {
      await stopAll(client);
    }
  });

  it('a GPU provider that fails when a session is created on it: CPU is used, and the reason is shown', async () => {
    const { client, logs } = startClient(
      { bundledModelsDir: packs, device: 'cuda' },
      { env: { CONCERT_PROGRESS_INTERVAL_MS: '0', CONCERT_TEST_FAIL_PROVIDER: 'cuda' } },
    );
    try {
      const r = await client.request0(Requests.doctor);
      assert.equal(r.provider.requested, 'cuda');
      assert.equal(r.provider.chosen, 'cpu');
      assert.match(
        r.provider.fallbackReasons.join('\n'),
        /^cuda: could not create a session on cuda \(simulated by CONCERT_TEST_FAIL_PROVIDER, a test-only setting\)$/m,
      );
      assert.ok(logs.some((l) => /running on cpu .*; fell back: cuda: could not create a session on cuda/.test(l)));
      assert.equal(client.provider?.chosen, 'cpu', 'what the status bar shows');
      assert.equal((await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 2 })).provider, 'cpu');
    } finally {
      await stopAll(client);
    }
  });

  it('a GPU provider that passes its canary but cannot create a session for a model: that model runs on CPU, logged and reported, not a pack error', async () => {
    const { client, stderr } = startClient(
      { bundledModelsDir: packs, device: 'cuda' },
      { env: { CONCERT_PROGRESS_INTERVAL_MS: '0', CONCERT_TEST_FAIL_PROVIDER_SESSIONS: 'cuda' } },
    );
    try {
      const before = await client.request0(Requests.doctor);
      assert.equal(before.provider.chosen, 'cuda', 'the canary passed');
      assert.deepEqual(before.provider.fallbackReasons, []);
      const pid = client.pid!;
      const r = await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 2 });
      assert.equal(r.stepsRun, 2);
      assert.equal(r.provider, 'cpu', 'the model ran on CPU');
      const reason =
        'cuda: could not create a session for graph "decoder" of model pack "tiny-bigram" (could not create a session on cuda (simulated by CONCERT_TEST_FAIL_PROVIDER_SESSIONS, a test-only setting)); that model runs on cpu';
      await until(() => stderr.join('').includes(`concert worker: ${reason}`), 2000, 'the log line');
      const after = await client.request0(Requests.doctor);
      assert.equal(after.provider.chosen, 'cuda');
      assert.deepEqual(after.provider.fallbackReasons, [reason], 'what doctor and the status view show');
      assert.equal(after.packs.find((p) => p.id === 'tiny-bigram')?.valid, true, 'the pack stays valid');
      // Said once per model: the next run of the same pack is on CPU again, without a new reason.
      assert.equal((await client.request(Requests.selfTest, { packId: 'tiny-bigram', steps: 1 })).provider, 'cpu');
      assert.equal((await client.request0(Requests.doctor)).provider.fallbackReasons.length, 1);
      assert.equal(stderr.join('').split(reason).length - 1, 1);
      assert.equal(client.pid, pid, 'no crash');
    } finally {
      await stopAll(client);
    }
  });

  it('a pack file changed after it was listed: refused by its hash when used, used again once mended; the worker keeps serving', async () => {
    const own = path.join(tmp.dir, 'changing');
    const dir = bigramPack(own, 'changing-bigram');
    const { client } = startClient({ bundledModelsDir: own });
    try {
      const listed = await client.request0(Requests.listPacks);
      assert.ok(listed.find((p) => p.id === 'changing-bigram')?.valid, 'validated');
      const pid = client.pid!;
      // Same size, same mtime, one byte different: what a swap after validation looks like to a cheap check.
      const onnx = path.join(dir, 'model.onnx');
      const st = statSync(onnx);
      const bytes = readFileSync(onnx);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      writeFileSync(onnx, bytes);
      utimesSync(onnx, st.atime, st.mtime);
      await assert.rejects(client.request(Requests.selfTest, { packId: 'changing-bigram', steps: 1 }), (e: WorkerError) => {
        assert.match(e.message, /file "model\.onnx" has sha256 [0-9a-f]{12}… but the manifest says [0-9a-f]{12}… \(corrupt or modified\)/);
        assert.equal(e.code, WorkerErrorCode.PackInvalid, `code ${e.code} (${e.constructor.name})`);
        return true;
      });
      // Mended on disk, the pack is used again; then the tokenizer changes.
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      writeFileSync(onnx, bytes);
      assert.equal((await client.request(Requests.selfTest, { packId: 'changing-bigram', steps: 1 })).provider, 'cpu');
      const tok = path.join(dir, 'tokenizer.json');
      writeFileSync(tok, readFileSync(tok, 'utf8').replace('"<pad>"', '"<PAD>"'));
      await assert.rejects(
        client.request(Requests.tokenize, { packId: 'changing-bigram', text: 'the' }),
        (e: WorkerError) => e.code === WorkerErrorCode.PackInvalid && /tokenizer\.json/.test(e.message),
      );
      assert.equal(client.pid, pid, 'no crash');
      const after = await client.request0(Requests.listPacks);
      assert.equal(after.find((p) => p.dir === dir || p.id === 'changing-bigram')?.valid, false, 'the listing agrees');
    } finally {
      await stopAll(client);
    }
  });
});

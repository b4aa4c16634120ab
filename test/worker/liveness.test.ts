/**
 * Issue #17: a worker that stops answering (SIGSTOP, a stuck synchronous loop) is found by the heartbeat, killed and
 * its requests rejected; every exit path of the CLI takes the worker with it; Ctrl-C is "cancelled", exit 130.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Requests, WorkerErrorCode } from '../../src/protocol/worker';
import type { WorkerError } from '../../src/worker/client';
import { bigramPack, slowModel, tempDir, writePack } from '../helpers/packs';
import { alive, requireBuild, startClient, until } from '../helpers/worker';

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

const workerOf = (parent: number): number | undefined => {
  const out = spawnSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' }).stdout.trim();
  return out ? Number(out.split('\n')[0]) : undefined;
};

/** Starts `concert selftest slow-chain` (a long job) in its own process group; resolves when its worker is busy. */
async function longCli(): Promise<{ cli: ChildProcess; worker: number; done: Promise<{ code: number | null; err: string; ms: () => number }> }> {
  const cli = spawn(
    process.execPath,
    [path.resolve('bin/concert.js'), 'selftest', 'slow-chain', '--steps', '100000', '--models', packs, '--device', 'cpu', '--threads', '1'],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' } },
  );
  let err = '';
  cli.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let endedAt = 0;
  const done = new Promise<{ code: number | null; err: string; ms: () => number }>((resolve) =>
    cli.on('exit', (code) => {
      endedAt = Date.now();
      resolve({ code, err, ms: () => endedAt });
    }),
  );
  let worker: number | undefined;
  await until(() => (worker = workerOf(cli.pid!)) !== undefined, 10_000, 'the worker to start');
  await new Promise((r) => setTimeout(r, 1500)); // configured and running the job
  return { cli, worker: worker!, done };
}

describe('worker liveness and CLI exit paths (#17)', () => {
  it('a stopped worker (SIGSTOP) is found by the heartbeat: the request rejects in bounded time and no process is left', async () => {
    const { client } = startClient({ bundledModelsDir: packs }, { heartbeat: { intervalMs: 100, hungAfterMs: 1000 } });
    try {
      await client.request0(Requests.ping);
      const pid = client.pid!;
      const job = client.request(Requests.selfTest, { packId: 'slow-chain', steps: 1_000_000 });
      await new Promise((r) => setTimeout(r, 300));
      process.kill(pid, 'SIGSTOP');
      const t0 = Date.now();
      const e = (await job.then(
        () => assert.fail('expected a rejection'),
        (x: WorkerError) => x,
      )) as WorkerError;
      const ms = Date.now() - t0;
      assert.equal(e.code, WorkerErrorCode.WorkerCrashed);
      assert.match(e.message, /stopped responding while handling "models\/selfTest" \(no answer for \d+\.\d s\), so it was killed/);
      assert.ok(ms < 3000, `rejected after ${ms} ms`);
      assert.equal(alive(pid), false, 'the stopped worker was killed');
      // Restarted per the policy, and working.
      await until(() => client.state === 'running', 5000, 'the restart');
      assert.notEqual(client.pid, pid);
      await client.request0(Requests.ping);
    } finally {
      await client.stop();
    }
  });

  it('Ctrl-C with a stopped worker: the CLI kills it after the grace period and exits 130 "cancelled"', async () => {
    const { cli, worker, done } = await longCli();
    process.kill(worker, 'SIGSTOP');
    const t0 = Date.now();
    process.kill(-cli.pid!, 'SIGINT'); // the whole process group, as a terminal does
    const r = await done;
    assert.equal(r.code, 130, r.err);
    assert.match(r.err, /^concert: cancelled$/m);
    assert.ok(r.ms() - t0 < 5000, `exited after ${r.ms() - t0} ms`);
    await until(() => !alive(worker), 2000, 'the worker to be gone');
  });

  it('Ctrl-C in a terminal (SIGINT to the process group) is "cancelled", not a worker crash; no orphan, no mat-debug log', async () => {
    const { cli, worker, done } = await longCli();
    process.kill(-cli.pid!, 'SIGINT');
    const r = await done;
    assert.equal(r.code, 130, r.err);
    assert.match(r.err, /^concert: cancelled$/m);
    assert.doesNotMatch(r.err, /try again|unexpectedly/);
    await until(() => !alive(worker), 3000, 'the worker to be gone');
    assert.equal(existsSync(`/tmp/mat-debug-${worker}.log`), false, 'ONNX Runtime telemetry left a debug log');
  });

  it('SIGTERM to the CLI takes the worker with it', async () => {
    const { cli, worker, done } = await longCli();
    process.kill(cli.pid!, 'SIGTERM');
    const r = await done;
    assert.equal(r.code, 143, r.err);
    await until(() => !alive(worker), 3000, 'the worker to be gone');
  });

  it('a stopped worker whose CLI was killed exits once continued', async () => {
    const { cli, worker, done } = await longCli();
    process.kill(worker, 'SIGSTOP');
    process.kill(cli.pid!, 'SIGKILL');
    await done;
    process.kill(worker, 'SIGCONT');
    await until(() => !alive(worker), 5000, 'the orphaned worker to exit');
  });
});

/**
 * Issue #17, fault figures: how fast the worker's supervisor (src/worker/client.ts) reacts, measured on the real
 * worker (dist/worker.js) with real packs, each fault repeated `--repeat` times:
 *   - SIGKILL mid-step: time from the kill to the pending request's rejection; time to running again (restart, with
 *     the production restart policy, each kill a first crash: it includes the first backoff of 500 ms);
 *   - SIGSTOP (hung): time from the stop to the rejection, with a heartbeat of 250 ms / 2 s (production: 5 s / 20 s;
 *     the bound is hungAfterMs + one interval);
 *   - garbage on the IPC channel: time from the bytes to the rejection;
 *   - crash loop: a worker killed at every start → time until the client gives up, and how many onDidFail fired;
 *   - the CLI killed with SIGKILL while its worker runs a job: time until the orphaned worker has exited;
 *   - worker processes left behind at the end (orphans).
 * Usage: node --import tsx bench/reliability/faults.ts [--repeat 5] [--quick]   (needs dist/: npm run build)
 * Prints a table, then as the last line `RESULT <json>` ({ script, repeat, rows: [{ name, value, goal, ok }] }).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Requests } from '../../src/protocol/worker';
import { WorkerClient, type WorkerClientOptions } from '../../src/worker/client';
import { RestartPolicy } from '../../src/worker/restartPolicy';
import { bigramPack, slowModel, tempDir, writePack } from '../../test/helpers/packs';

const WORKER_JS = path.resolve('dist/worker.js');

interface Row {
  name: string;
  value: number | string;
  goal: string;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]! : Number.NaN;
};
const r0 = (x: number) => Math.round(x);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const st = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return st !== '' && !st.startsWith('Z');
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Worker processes forked by this process (they carry `--client-pid`). */
function workers(): number[] {
  return spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.includes('--client-pid'))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter(alive);
}

function client(packs: string, extra: Partial<WorkerClientOptions> = {}): WorkerClient {
  return new WorkerClient({
    workerModule: WORKER_JS,
    settings: () => ({ device: 'cpu', modelFolders: [], idleUnloadSeconds: 0, threads: 1, bundledModelsDir: packs }),
    log: { info: () => {}, warn: () => {}, error: () => {} },
    env: { CONCERT_PROGRESS_INTERVAL_MS: '0' },
    ...extra,
  });
}

/** Runs a long job, injects `fault` once it runs; the time from the fault to the job's rejection, and when it struck. */
async function rejectionAfter(c: WorkerClient, fault: (pid: number) => void): Promise<{ ms: number; at: number }> {
  await c.request0(Requests.ping);
  const pid = c.pid!;
  const job = c.request(Requests.selfTest, { packId: 'slow-chain', steps: 1_000_000 }).then(
    () => Number.NaN,
    () => Date.now(),
  );
  await sleep(300);
  const at = Date.now();
  fault(pid);
  return { ms: (await job) - at, at };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--repeat');
  const repeat = process.argv.includes('--quick') ? 2 : i >= 0 ? Number(process.argv[i + 1]) : 5;
  if (!existsSync(WORKER_JS)) throw new Error('dist/worker.js is missing: run "npm run build" first');
  const tmp = tempDir('concert-faults-');
  const packs = `${tmp.dir}/packs`;
  bigramPack(packs, 'tiny-bigram');
  writePack(packs, { id: 'slow-chain', graphs: { decoder: { file: 'model.onnx', ...slowModel() } } });
  const rows: Row[] = [];
  const kill: number[] = [];
  const restart: number[] = [];
  const hang: number[] = [];
  const garbage: number[] = [];
  const orphanExit: number[] = [];
  let crashLoopMs = Number.NaN;
  let crashLoopFails = 0;
  let crashLoopStarts = 0;
  try {
    // SIGKILL mid-step, and the restart that follows (default policy: first backoff 500 ms).
    const policy = new RestartPolicy(); // the production policy; reset so that every kill is a first crash
    const c1 = client(packs, { restartPolicy: policy });
    for (let n = 0; n < repeat; n++) {
      policy.reset();
      let victim = 0;
      const r = await rejectionAfter(c1, (pid) => {
        victim = pid;
        process.kill(pid, 'SIGKILL');
      });
      kill.push(r.ms);
      await until(() => c1.state === 'running' && c1.pid !== victim, 10_000, 'the restart');
      restart.push(Date.now() - r.at);
      await sleep(100);
    }
    await c1.stop();

    // Hung (SIGSTOP), heartbeat 250 ms / 2 s.
    const beat = { intervalMs: 250, hungAfterMs: 2000 };
    const c2 = client(packs, { heartbeat: beat, restartPolicy: new RestartPolicy(50, 180_000, 50, 400) });
    for (let n = 0; n < repeat; n++) hang.push((await rejectionAfter(c2, (pid) => process.kill(pid, 'SIGSTOP'))).ms);
    await c2.stop();

    // Garbage written by the worker straight onto its IPC channel (a wrapper around the real worker).
    const wrapper = path.join(tmp.dir, 'garbage-worker.js');
    const trigger = path.join(tmp.dir, 'garbage-now');
    writeFileSync(
      wrapper,
      `const fs = require('fs');
const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(trigger)})) { clearInterval(t); fs.writeSync(process.channel.fd, 'not a message\\n'); } }, 2);
t.unref();
require(${JSON.stringify(WORKER_JS)});
`,
    );
    const c3 = client(packs, { workerModule: wrapper, restartPolicy: new RestartPolicy(50, 180_000, 50, 400) });
    for (let n = 0; n < repeat; n++) {
      garbage.push((await rejectionAfter(c3, () => writeFileSync(trigger, ''))).ms);
      rmSync(trigger, { force: true });
      await until(() => c3.state === 'running', 10_000, 'the restart');
    }
    await c3.stop();

    // Crash loop: every start is killed; 5 crashes in 3 minutes stop it.
    const c4 = client(packs, { restartPolicy: new RestartPolicy(5, 180_000, 50, 400) });
    c4.onDidFail.on(() => crashLoopFails++);
    c4.onDidStart.on((pid) => {
      crashLoopStarts++;
      process.kill(pid, 'SIGKILL');
    });
    const t4 = Date.now();
    await c4.request0(Requests.ping).catch(() => undefined);
    await until(() => c4.state === 'failed', 30_000, 'the crash-loop guard');
    crashLoopMs = Date.now() - t4;
    await sleep(1000);
    await c4.stop();

    // The CLI killed outright while its worker runs a job: the worker must notice and exit on its own.
    for (let n = 0; n < repeat; n++) {
      const cli = spawn(
        process.execPath,
        [path.resolve('bin/concert.js'), 'selftest', 'slow-chain', '--steps', '100000', '--models', packs, '--device', 'cpu', '--threads', '1'],
        { stdio: 'ignore', env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' } },
      );
      let worker: number | undefined;
      await until(
        () =>
          (worker =
            Number(
              spawnSync('pgrep', ['-P', String(cli.pid)], { encoding: 'utf8' })
                .stdout.trim()
                .split('\n')[0],
            ) || undefined) !== undefined,
        20_000,
        'the CLI worker',
      );
      await sleep(1500);
      const t0 = Date.now();
      cli.kill('SIGKILL');
      await until(() => !alive(worker!), 10_000, 'the orphaned worker to exit');
      orphanExit.push(Date.now() - t0);
    }
  } finally {
    tmp.cleanup();
  }
  const left = workers();
  const stat = (xs: number[]) => `${r0(percentile(xs, 50))} / ${r0(Math.max(...xs))}`;
  rows.push(
    { name: 'faults: SIGKILL mid-step → request rejected (ms, p50 / max)', value: stat(kill), goal: 'max ≤ 1000', ok: Math.max(...kill) <= 1000 },
    {
      name: 'faults: SIGKILL → worker running again (ms, p50 / max; includes the first crash backoff of 500 ms)',
      value: stat(restart),
      goal: 'max ≤ 5000',
      ok: Math.max(...restart) <= 5000,
    },
    {
      name: 'faults: SIGSTOP (hung) → request rejected (ms, p50 / max; heartbeat 250 ms / 2 s)',
      value: stat(hang),
      goal: 'max ≤ 2750 (2 s + 1 interval + 0.5 s)',
      ok: Math.max(...hang) <= 2750,
    },
    {
      name: 'faults: garbage on the IPC channel → request rejected (ms, p50 / max)',
      value: stat(garbage),
      goal: 'max ≤ 1000',
      ok: Math.max(...garbage) <= 1000,
    },
    {
      name: 'faults: crash loop (killed at every start) → gave up (ms)',
      value: r0(crashLoopMs),
      goal: '5 starts, 1 onDidFail',
      ok: crashLoopStarts === 5 && crashLoopFails === 1,
    },
    {
      name: 'faults: crash loop starts / onDidFail',
      value: `${crashLoopStarts} / ${crashLoopFails}`,
      goal: '5 / 1',
      ok: crashLoopStarts === 5 && crashLoopFails === 1,
    },
    { name: 'faults: CLI SIGKILLed → its worker exits (ms, p50 / max)', value: stat(orphanExit), goal: 'max ≤ 4000', ok: Math.max(...orphanExit) <= 4000 },
    { name: 'faults: worker processes left behind', value: left.length, goal: '0', ok: left.length === 0 },
  );
  console.log(`faults: ${repeat} repetitions each`);
  for (const row of rows) console.log(`  ${row.ok ? 'ok  ' : 'FAIL'} ${row.name}: ${row.value} (goal ${row.goal})`);
  console.log(`RESULT ${JSON.stringify({ script: 'faults', repeat, rows })}`);
  process.exitCode = rows.every((x) => x.ok) ? 0 : 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}

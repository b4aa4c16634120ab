/**
 * Issue #17, load and soak: `concert serve` (the real CLI, `node bin/concert.js serve` on loopback, CPU) under ≥ 8
 * concurrent clients for `--seconds N`. Each client loops over a seeded mix of
 *   - collaboration steps: a one-block diffusion decode through the remote core client (src/runtime/oip/client.ts),
 *     exactly the OIP v2 `infer` requests `concert collab --core` sends, in its dense and its sparse (top-k) form;
 *   - health checks: GET /v2/health/live and /v2/health/ready (a canary inference on the server);
 *   - cancellations: a decode aborted after a few milliseconds (the client drops the connection mid-request).
 * It reports throughput, p50/p99 latency of the infer requests and of the health checks, the error count (anything
 * but a requested cancellation that did not end well), the server's RSS growth after warm-up (VmRSS of the worker
 * process that runs the HTTP server, sampled every 500 ms from /proc, Linux only), and whether the server and its
 * worker are gone after SIGTERM.
 *
 * `--leak-control` starts the server with CONCERT_TEST_LEAK_BYTES_PER_REQUEST (a test-only leak in
 * src/worker/serve.ts: every infer request keeps that many bytes, 1 MiB by default) and checks that the RSS check
 * flags it. It is a control of the detector, so it runs at most LEAK_CONTROL_MAX_SECONDS (30 s): at ~50 requests/s a
 * ten-minute leak would take tens of GB.
 *
 * Usage: node --import tsx bench/reliability/soak.ts [--seconds 600] [--quick] [--clients 8] [--leak-control]
 *          [--leak-bytes 1048576] [--threads 1] [--seed 1]
 * `--quick` = 20 s. Needs dist/ (npm run build). Prints a table, then as the last line `RESULT <json>`
 * ({ script, seconds, clients, leakControl, rows: [{ name, value, goal, ok }] }), read by bench/reliability.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { decodeDiffusion } from '../../src/engine/diffusion/decode';
import { CancelledError } from '../../src/engine/errors';
import { connectRemoteCore, RemoteCoreError, type RemoteCore } from '../../src/runtime/oip/client';

export const RSS_GROWTH_GOAL_MB = 50;
export const LEAK_CONTROL_MAX_SECONDS = 30;
export const LEAK_ENV = 'CONCERT_TEST_LEAK_BYTES_PER_REQUEST';

export interface SoakOptions {
  seconds: number;
  clients: number;
  /** Start the server with the deliberate leak (LEAK_ENV = leakBytes). */
  leakControl: boolean;
  leakBytes: number;
  threads: number;
  seed: number;
  /** Fraction of the run before the RSS baseline is taken (default 0.3). */
  warmupFraction?: number;
  /** The bound on RSS growth after warm-up (default RSS_GROWTH_GOAL_MB; a short run may allow for settling). */
  growthGoalMb?: number;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
}

export interface Row {
  name: string;
  value: number | string;
  goal: string;
  ok: boolean;
}

export interface SoakResult {
  script: 'soak';
  seconds: number;
  clients: number;
  leakControl: boolean;
  rows: Row[];
  /** Details for tests and the table. */
  stats: {
    inferRequests: number;
    inferPerSecond: number;
    inferP50Ms: number;
    inferP99Ms: number;
    healthChecks: number;
    healthP50Ms: number;
    healthP99Ms: number;
    decodes: number;
    cancelled: number;
    retriedTries: number;
    retrySamples: string[];
    errors: number;
    errorSamples: string[];
    rssBaselineMb: number;
    rssFinalMb: number;
    rssPeakMb: number;
    rssGrowthMb: number;
    rssSamples: number;
    leftBehind: number;
  };
}

/** mulberry32: a small seeded generator, so that a run's mix can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const percentile = (xs: number[], p: number): number => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};
const median = (xs: number[]) => percentile(xs, 50);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

interface Served {
  url: string;
  cli: ChildProcess;
  worker: number;
}

/** `concert serve --port 0` on loopback; resolves with its URL and the pid of the worker that runs the server. */
async function startServer(o: SoakOptions): Promise<Served> {
  const env: NodeJS.ProcessEnv = { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '', CONCERT_SERVE_TOKEN: '' };
  if (o.leakControl) env[LEAK_ENV] = String(o.leakBytes);
  else delete env[LEAK_ENV];
  const cli = spawn(process.execPath, [path.resolve('bin/concert.js'), 'serve', '--port', '0', '--device', 'cpu', '--threads', String(o.threads)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let out = '';
  let err = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      cli.kill('SIGKILL');
      reject(new Error(`concert serve printed no URL within 60 s: ${out} ${err}`));
    }, 60_000);
    cli.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    cli.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    cli.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`concert serve exited (${code}) before printing its URL: ${err}`));
    });
  });
  const worker = workersOf(cli.pid!)[0];
  if (!worker) throw new Error('concert serve is running but its worker process was not found');
  return { url, cli, worker };
}

function workersOf(parent: number): number[] {
  return spawnSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const st = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return st !== '' && !st.startsWith('Z');
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** GET `url` → status and time; a keep-alive agent per client, a 20 s deadline. */
function get(url: string, agent: http.Agent): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 20_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('health check timed out (20 s)')));
    req.on('error', reject);
  });
}

/** Runs the soak and stops the server; never throws for failures of the server under test (they are counted). */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const log = o.log ?? (() => {});
  const served = await startServer(o);
  log(`concert serve at ${served.url} (worker ${served.worker})${o.leakControl ? `, leaking ${o.leakBytes} bytes per request (control)` : ''}`);
  const inferMs: number[] = [];
  const healthMs: number[] = [];
  const errors: string[] = [];
  let decodes = 0;
  let cancelled = 0;
  let retried = 0;
  const retryKinds = new Set<string>();
  const rss: { t: number; mb: number }[] = [];
  const t0 = Date.now();
  const deadline = t0 + o.seconds * 1000;
  const sampler = setInterval(() => {
    const mb = rssMb(served.worker);
    if (mb !== undefined) rss.push({ t: Date.now() - t0, mb });
  }, 500);
  const fail = (what: string, e: unknown) => {
    const msg = `${what}: ${(e as Error)?.message ?? String(e)}`;
    errors.push(msg);
    if (errors.length <= 5) log(`error ${msg}`);
  };
  const onWire = (r: { kind: string; status?: number; ms: number; error?: string }) => {
    if (r.kind !== 'infer') return;
    if (r.status === 200) inferMs.push(r.ms);
    else if (r.error && r.error !== 'cancelled') {
      retried++;
      if (retryKinds.size < 5) retryKinds.add(r.error.slice(0, 120));
    }
  };

  const client = async (id: number) => {
    const rand = random(o.seed * 1000 + id);
    // Idle sockets are dropped before the server's keep-alive timeout (its Keep-Alive hint, honoured when a timeout is set).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2, timeout: 60_000 });
    const cores: RemoteCore[] = [];
    try {
      for (const mode of ['dense', 'sparse'] as const)
        cores.push(await connectRemoteCore({ url: served.url, mode, topK: 64, timeoutMs: 30_000, retries: 3, backoffMs: 100, onWire }));
      const V = cores[0]!.vocabSize;
      while (Date.now() < deadline) {
        const r = rand();
        if (r < 0.15) {
          // Health: liveness, or readiness (a canary inference queued behind the infer requests).
          const p = r < 0.075 ? '/v2/health/live' : '/v2/health/ready';
          try {
            const h = await get(`${served.url}${p}`, agent);
            if (h.status !== 200) fail(`GET ${p}`, new Error(`HTTP ${h.status}`));
            else healthMs.push(h.ms);
          } catch (e) {
            fail(`GET ${p}`, e);
          }
          continue;
        }
        // A collaboration step: the core's part of one block, as `concert collab --core` runs it.
        const core = cores[rand() < 0.5 ? 0 : 1]!;
        const context = Int32Array.from({ length: 4 + Math.floor(rand() * 16) }, () => 1 + Math.floor(rand() * (V - 1)));
        const cancel = r < 0.3;
        const ac = new AbortController();
        const timer = cancel ? setTimeout(() => ac.abort(), 1 + Math.floor(rand() * 30)) : undefined;
        try {
          await decodeDiffusion(core, {
            terms: [{ context, weight: 1, label: 'core' }],
            maxTokens: core.blockSize,
            steps: 4,
            projection: { kind: 'sample', topP: 0.5 },
            seed: Math.floor(rand() * 2 ** 31),
            signal: ac.signal,
          });
          decodes++;
        } catch (e) {
          const wasCancel = ac.signal.aborted && (e instanceof CancelledError || (e instanceof RemoteCoreError && e.kind === 'cancelled'));
          if (wasCancel) cancelled++;
          else fail(`${core.mode} decode`, e);
        } finally {
          if (timer) clearTimeout(timer);
        }
      }
    } catch (e) {
      fail(`client ${id}`, e);
    } finally {
      for (const c of cores) c.close();
      agent.destroy();
    }
  };

  const progress = setInterval(() => {
    const last = rss[rss.length - 1];
    log(
      `${Math.round((Date.now() - t0) / 1000)} s: ${inferMs.length} infer, ${healthMs.length} health, ${cancelled} cancelled, ${errors.length} errors, RSS ${last ? last.mb.toFixed(0) : '?'} MB`,
    );
  }, 10_000);
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));
  const elapsed = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  clearInterval(progress);

  // The server is stopped as a user would (SIGTERM to the CLI); its worker must go with it.
  const exited = new Promise<void>((r) => (served.cli.exitCode !== null ? r() : served.cli.once('exit', () => r())));
  served.cli.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  const until = Date.now() + 3000;
  while (alive(served.worker) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const leftBehind = [served.cli.pid!, served.worker].filter(alive).length;
  for (const pid of [served.cli.pid!, served.worker]) if (alive(pid)) process.kill(pid, 'SIGKILL');

  // RSS growth after warm-up: median of the first tenth of the samples after warm-up against the last tenth.
  const goalMb = o.growthGoalMb ?? RSS_GROWTH_GOAL_MB;
  const warm = Math.max(3000, (o.warmupFraction ?? 0.3) * o.seconds * 1000);
  const post = rss.filter((s) => s.t >= warm).map((s) => s.mb);
  const k = Math.max(3, Math.floor(post.length / 10));
  const baseline = post.length >= 2 * k ? median(post.slice(0, k)) : Number.NaN;
  const final = post.length >= 2 * k ? median(post.slice(-k)) : Number.NaN;
  const growth = final - baseline;
  const measured = Number.isFinite(growth);

  const stats: SoakResult['stats'] = {
    inferRequests: inferMs.length,
    inferPerSecond: round(inferMs.length / elapsed),
    inferP50Ms: round(percentile(inferMs, 50)),
    inferP99Ms: round(percentile(inferMs, 99)),
    healthChecks: healthMs.length,
    healthP50Ms: round(percentile(healthMs, 50)),
    healthP99Ms: round(percentile(healthMs, 99)),
    decodes,
    cancelled,
    retriedTries: retried,
    retrySamples: [...retryKinds],
    errors: errors.length,
    errorSamples: errors.slice(0, 5),
    rssBaselineMb: round(baseline),
    rssFinalMb: round(final),
    rssPeakMb: round(Math.max(0, ...rss.map((s) => s.mb))),
    rssGrowthMb: round(growth),
    rssSamples: rss.length,
    leftBehind,
  };
  const tag = o.leakControl ? 'soak (leak control)' : 'soak';
  const rows: Row[] = [
    { name: `${tag}: errors`, value: errors.length, goal: '0', ok: errors.length === 0 },
    { name: `${tag}: infer throughput (req/s, ${o.clients} clients)`, value: stats.inferPerSecond, goal: '> 0', ok: stats.inferPerSecond > 0 },
    { name: `${tag}: infer latency p50 (ms)`, value: stats.inferP50Ms, goal: 'report', ok: true },
    { name: `${tag}: infer latency p99 (ms)`, value: stats.inferP99Ms, goal: 'report', ok: true },
    { name: `${tag}: health check p99 (ms)`, value: stats.healthP99Ms, goal: 'report', ok: true },
    { name: `${tag}: cancelled decodes`, value: cancelled, goal: '> 0 (exercised)', ok: cancelled > 0 },
    { name: `${tag}: retried tries (503 busy etc.)`, value: retried, goal: 'report', ok: true },
    o.leakControl
      ? {
          name: `${tag}: server RSS growth after warm-up (MB), must be flagged`,
          value: stats.rssGrowthMb,
          goal: `> ${goalMb} (caught)`,
          ok: measured && growth > goalMb,
        }
      : {
          name: `${tag}: server RSS growth after warm-up (MB)`,
          value: stats.rssGrowthMb,
          goal: `≤ ${goalMb}`,
          ok: measured && growth <= goalMb,
        },
    { name: `${tag}: processes left after SIGTERM`, value: leftBehind, goal: '0', ok: leftBehind === 0 },
  ];
  return { script: 'soak', seconds: round(elapsed), clients: o.clients, leakControl: o.leakControl, rows, stats };
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const leakControl = process.argv.includes('--leak-control');
  const seconds = Number(arg('seconds', quick ? '20' : '600'));
  const o: SoakOptions = {
    seconds: leakControl ? Math.min(seconds, LEAK_CONTROL_MAX_SECONDS) : seconds,
    clients: Number(arg('clients', '8')),
    leakControl,
    leakBytes: Number(arg('leak-bytes', String(1024 * 1024))),
    threads: Number(arg('threads', '1')),
    seed: Number(arg('seed', '1')),
    log: (l) => process.stderr.write(`${l}\n`),
  };
  if (!(o.seconds > 0) || !(o.clients >= 1)) throw new Error('--seconds and --clients must be positive');
  const r = await runSoak(o);
  const s = r.stats;
  console.log(`soak: ${r.seconds} s, ${r.clients} clients${r.leakControl ? ', leak control' : ''}`);
  console.log(
    `  infer: ${s.inferRequests} requests, ${s.inferPerSecond}/s, p50 ${s.inferP50Ms} ms, p99 ${s.inferP99Ms} ms; decodes ${s.decodes}, cancelled ${s.cancelled}, retried tries ${s.retriedTries}${s.retrySamples.length ? ` (${s.retrySamples.join(' | ')})` : ''}`,
  );
  console.log(`  health: ${s.healthChecks} checks, p50 ${s.healthP50Ms} ms, p99 ${s.healthP99Ms} ms`);
  console.log(
    `  server RSS: ${s.rssBaselineMb} MB after warm-up → ${s.rssFinalMb} MB at the end (growth ${s.rssGrowthMb} MB, peak ${s.rssPeakMb} MB, ${s.rssSamples} samples)`,
  );
  console.log(`  errors: ${s.errors}${s.errorSamples.length ? ` (${s.errorSamples.join(' | ')})` : ''}; processes left after SIGTERM: ${s.leftBehind}`);
  for (const row of r.rows) console.log(`  ${row.ok ? 'ok  ' : 'FAIL'} ${row.name}: ${row.value} (goal ${row.goal})`);
  console.log(`RESULT ${JSON.stringify({ script: r.script, seconds: r.seconds, clients: r.clients, leakControl: r.leakControl, rows: r.rows })}`);
  process.exitCode = r.rows.every((x) => x.ok) ? 0 : 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}

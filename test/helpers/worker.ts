/** Starts the real, built worker (dist/worker.js) under a WorkerClient for tests. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { WorkerSettings } from '../../src/protocol/worker';
import { WorkerClient, type WorkerClientOptions } from '../../src/worker/client';
import { RestartPolicy } from '../../src/worker/restartPolicy';

export const WORKER_JS = path.resolve('dist/worker.js');

export function requireBuild(): void {
  if (!existsSync(WORKER_JS)) throw new Error('dist/worker.js is missing: run "npm run build" first (npm test does this)');
}

export interface TestClient {
  client: WorkerClient;
  logs: string[];
  stderr: string[];
}

export function startClient(settings: Partial<WorkerSettings> & { bundledModelsDir: string }, extra: Partial<WorkerClientOptions> = {}): TestClient {
  requireBuild();
  const logs: string[] = [];
  const stderr: string[] = [];
  const client = new WorkerClient({
    workerModule: WORKER_JS,
    settings: () => ({ device: 'cpu', modelFolders: [], idleUnloadSeconds: 0, threads: 1, ...settings }),
    log: { info: (m) => logs.push(`info ${m}`), warn: (m) => logs.push(`warn ${m}`), error: (m) => logs.push(`error ${m}`) },
    onStderr: (t) => stderr.push(t),
    restartPolicy: new RestartPolicy(5, 180_000, 50, 400),
    env: { CONCERT_PROGRESS_INTERVAL_MS: '0' },
    ...extra,
  });
  return { client, logs, stderr };
}

/** A "worker" that dies as soon as it starts, to drive the crash-loop guard. */
export function crashingWorker(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const p = path.join(dir, 'crash-worker.js');
  writeFileSync(p, 'process.exit(3);\n');
  return p;
}

export const until = async (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Whether `pid` is running or stopped: not gone, and not a zombie (a zombie still answers kill(0)). */
export const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const st = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  return st !== '' && !st.startsWith('Z');
};

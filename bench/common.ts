/** Shared set-up for benchmarks and evaluations: a causal-lm pack in-process on the CPU provider, or the built worker. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadLanguageModel, type LanguageModel } from '../src/runtime/languageModel';
import { SessionCache } from '../src/runtime/ort';
import { validatePack } from '../src/runtime/packs';
import { WorkerClient } from '../src/worker/client';

export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** Writes `result` as indented JSON to the file `--out` names (folders made as needed); nothing without `--out`. */
export function writeJsonOut(result: unknown): void {
  const out = arg('out', '');
  if (!out) return;
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

/** The built worker (dist/worker.js) on the CPU, reading the packs of `modelsDir` only, models kept loaded. */
export function benchWorker(modelsDir: string, threads: number): WorkerClient {
  return new WorkerClient({
    workerModule: path.resolve('dist/worker.js'),
    settings: () => ({ device: 'cpu', modelFolders: [], bundledModelsDir: modelsDir, idleUnloadSeconds: 0, threads }),
    log: { info: () => {}, warn: (m) => console.error(m), error: (m) => console.error(m) },
  });
}

export async function loadBenchModel(threads = Number(arg('threads', '2'))): Promise<{ model: LanguageModel; close: () => Promise<void> }> {
  const dir = path.resolve(arg('pack', 'models/concert-lm-small'));
  const pack = await validatePack(dir, 'bundled');
  const sessions = new SessionCache('cpu', threads, 0);
  const model = await loadLanguageModel(pack, sessions);
  return { model, close: () => sessions.clear() };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * `concert` — the command line over the same worker the extension uses.
 * Every command accepts --json; user errors print one line on stderr and exit 2 (bad input) or 1 (failure).
 */
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DEVICE_CHOICES, Requests, WorkerErrorCode, type DeviceChoice, type DoctorReport, type PackSummary, type WorkerSettings } from '../protocol/worker';
import type { WorkerError } from '../worker/client';
import { WorkerClient } from '../worker/client';

const USAGE = `Usage: concert <command> [options]

Commands:
  doctor                 versions, execution providers and model packs with their validation status
  models                 the discovered model packs
  selftest <pack-id>     load a pack and time its graphs on synthetic inputs
  tokenize <pack-id> <text>
                         the token ids a pack's tokenizer gives for text (special-token strings stay text)

Options (all commands):
  --json                 machine-readable output (one JSON object on stdout)
  --device <d>           ${DEVICE_CHOICES.join(' | ')} (default: auto, or $CONCERT_DEVICE)
  --models <dir>         an extra folder of model packs (repeatable; also $CONCERT_MODEL_FOLDERS, ':'-separated)
  --threads <n>          intra-op threads (default: ONNX Runtime's choice)
  --steps <n>            selftest: number of timed runs (default 10)
  -h, --help             this help
`;

export class UsageError extends Error {}

const options = {
  json: { type: 'boolean', default: false },
  device: { type: 'string' },
  models: { type: 'string', multiple: true },
  threads: { type: 'string' },
  steps: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

interface Parsed {
  command: string | undefined;
  positionals: string[];
  json: boolean;
  settings: WorkerSettings;
  steps: number;
  help: boolean;
  version: boolean;
}

export function parseCli(argv: string[], env: NodeJS.ProcessEnv, distDir: string): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
  const v = parsed.values;
  // An empty environment variable means "not set".
  const device = (v.device ?? (env.CONCERT_DEVICE || 'auto')) as DeviceChoice;
  if (!DEVICE_CHOICES.includes(device)) throw new UsageError(`--device must be one of ${DEVICE_CHOICES.join(', ')} (got "${device}")`);
  const int = (name: string, raw: string | undefined, dflt: number, min: number, max: number): number => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    return n;
  };
  const envFolders = (env.CONCERT_MODEL_FOLDERS ?? '').split(path.delimiter).filter(Boolean);
  return {
    command: parsed.positionals[0],
    positionals: parsed.positionals.slice(1),
    json: v.json,
    help: v.help,
    version: v.version,
    steps: int('steps', v.steps, 10, 1, 1_000_000),
    settings: {
      device,
      modelFolders: [...(v.models ?? []), ...envFolders].map((d) => path.resolve(d)),
      bundledModelsDir: path.resolve(distDir, '..', 'models'),
      idleUnloadSeconds: 0,
      threads: int('threads', v.threads, 0, 0, 256),
    },
  };
}

const fmtBytes = (n?: number) => (n === undefined ? '' : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);

function printPacks(packs: PackSummary[], out: (s: string) => void): void {
  if (!packs.length) {
    out('  (none found)');
    return;
  }
  for (const p of packs) {
    out(p.valid ? `  ✓ ${p.id}  [${p.kind}, ${p.source}, ${fmtBytes(p.sizeBytes)}]  ${p.dir}` : `  ✗ ${p.id}  [${p.source}]  ${p.error}`);
  }
}

function printDoctor(r: DoctorReport, out: (s: string) => void): void {
  out(`Concert ${r.versions.concert} · Node ${r.versions.node} · onnxruntime-node ${r.versions.onnxruntime} · ${r.versions.platform}`);
  out(`Execution providers available: ${r.provider.available.map((a) => a.name + (a.bundled ? '' : ' (needs extra libraries)')).join(', ')}`);
  out(`Requested: ${r.provider.requested} → using ${r.provider.chosen}: ${r.provider.device}`);
  for (const reason of r.provider.fallbackReasons) out(`  fallback: ${reason}`);
  out('Model packs:');
  printPacks(r.packs, out);
}

export async function main(argv: string[], io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) }, env = process.env, distDir = __dirname): Promise<number> {
  let args: Parsed;
  try {
    args = parseCli(argv, env, distDir);
  } catch (e) {
    io.err(`concert: ${(e as Error).message}. Run "concert --help".`);
    return 2;
  }
  if (args.version) {
    io.out('0.1.0');
    return 0;
  }
  if (args.help || !args.command) {
    (args.help ? io.out : io.err)(USAGE.trimEnd());
    return args.help ? 0 : 2;
  }
  const known = ['doctor', 'models', 'selftest', 'tokenize'];
  if (!known.includes(args.command)) {
    io.err(`concert: unknown command "${args.command}" (commands: ${known.join(', ')}). Run "concert --help".`);
    return 2;
  }
  if (args.command === 'selftest' && args.positionals.length !== 1) {
    io.err('concert: selftest needs exactly one pack id, e.g. "concert selftest <pack-id>" (see "concert models").');
    return 2;
  }
  if (args.command === 'tokenize' && (args.positionals.length !== 2 || !args.positionals[1])) {
    io.err('concert: tokenize needs a pack id and a non-empty text, e.g. concert tokenize <pack-id> "some text".');
    return 2;
  }

  const stderrLines: string[] = [];
  const client = new WorkerClient({
    workerModule: path.join(distDir, 'worker.js'),
    settings: () => args.settings,
    log: { info: () => {}, warn: (m) => stderrLines.push(m), error: (m) => stderrLines.push(m) },
    onStderr: (t) => (env.CONCERT_DEBUG ? io.err(t.trimEnd()) : stderrLines.push(t)),
  });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const emit = (human: () => void, data: unknown) => (args.json ? io.out(JSON.stringify(data, null, 2)) : human());
    switch (args.command) {
      case 'doctor': {
        const r = await client.request0(Requests.doctor, abort.signal);
        emit(() => printDoctor(r, io.out), r);
        break;
      }
      case 'models': {
        const r = await client.request0(Requests.listPacks, abort.signal);
        emit(() => printPacks(r, io.out), { packs: r });
        break;
      }
      case 'selftest': {
        const r = await client.request(Requests.selfTest, { packId: args.positionals[0]!, steps: args.steps }, abort.signal);
        emit(() => io.out(`${r.packId}: ${r.stepsRun} runs of [${r.graphs.join(', ')}] on ${r.provider}, ${r.meanMsPerStep.toFixed(2)} ms per run`), r);
        break;
      }
      case 'tokenize': {
        const r = await client.request(Requests.tokenize, { packId: args.positionals[0]!, text: args.positionals[1]! }, abort.signal);
        emit(() => io.out(r.ids.join(' ')), r);
        break;
      }
    }
    return 0;
  } catch (e) {
    const err = e as WorkerError;
    const code = err.code;
    if (code === WorkerErrorCode.Cancelled) io.err('concert: cancelled');
    else io.err(`concert: ${err.message}`);
    if (env.CONCERT_DEBUG && stderrLines.length) io.err(stderrLines.join('\n'));
    return code === WorkerErrorCode.BadInput || code === WorkerErrorCode.PackNotFound ? 2 : 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await client.stop();
  }
}

/** Entry used by bin/concert.js (and `node dist/cli.js`). */
export function runFromCommandLine(): void {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`concert: internal error: ${(e as Error).message}`);
      process.exitCode = 1;
    },
  );
}

if (require.main === module) runFromCommandLine();

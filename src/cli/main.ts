/**
 * `concert` — the command line over the same worker the extension uses.
 * Every command accepts --json; user errors print one line on stderr and exit 2 (bad input) or 1 (failure).
 */
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  DEFAULT_GUIDANCE_LAMBDA,
  DEVICE_CHOICES,
  DIFFUSION_DEFAULT_MIN_TOKENS,
  PROJECTIONS,
  Requests,
  WorkerErrorCode,
  type AttributeTarget,
  type CadRunParams,
  type CadRunResult,
  type DecodingParams,
  type DeviceChoice,
  type DiffusionRunParams,
  type DiffusionRunResult,
  type DoctorReport,
  type PackSummary,
  type ProjectionName,
  type WorkerSettings,
} from '../protocol/worker';
import { InputError, readTextFile } from './inputFile';
import { CONCERT_VERSION } from '../protocol/version';
import type { WorkerError } from '../worker/client';
import { WorkerClient } from '../worker/client';

const USAGE = `Usage: concert <command> [options]

Commands:
  summarize <file>       summarise a text file with context-aware decoding (CAD)
  ask --context <file> --question <text>
                         answer a question so that the answer follows the document
  generate --prompt <text>
                         continue text with the simplex diffusion LM (SSD-LM), steered by classifiers
  rewrite --prefix <text> --text <text>
                         rewrite text with the diffusion LM at an edit strength, steered by classifiers
  doctor                 versions, execution providers and model packs with their validation status
  models                 the discovered model packs
  validate <folder>...   fully check model packs you exported (each folder a pack or a folder of packs):
                         manifest, hashes, containment, graphs loaded into ONNX Runtime, tokenizer
  selftest <pack-id>     load a pack and time its graphs on synthetic inputs
  tokenize <pack-id> <text>
                         the token ids a pack's tokenizer gives for text (special-token strings stay text)

Options (all commands):
  --json                 machine-readable output (one JSON object on stdout)
  --device <d>           ${DEVICE_CHOICES.join(' | ')} (default: auto, or $CONCERT_DEVICE)
  --models <dir>         an extra folder of model packs (repeatable; also $CONCERT_MODEL_FOLDERS, ':'-separated)
  --threads <n>          intra-op threads (default: ONNX Runtime's choice)
  --steps <n>            selftest: number of timed runs (default 10)

Options (summarize, ask):
  --alpha <a>            CAD strength, 0 = regular decoding (default 0.5 for summarize, 1 for ask)
  --top-p <p>            nucleus sampling (default for summarize: 0.9)
  --greedy               greedy decoding (default for ask)
  --max-tokens <n>       length budget (default 64 for summarize, 24 for ask)
  --seed <s>             seed for sampling (default: random, printed in --json's run record)
  --regular              also run regular decoding on the same input, side by side
  --model <pack-id>      a causal-lm pack (default: the bundled one)

Options (generate, rewrite):
  --attribute <name=label[:lambda]>
                         steer towards a classifier label (repeatable), e.g. sentiment=positive:${DEFAULT_GUIDANCE_LAMBDA}
  --tokens <n>           generate: new tokens (default 24, whole blocks)
  --min-tokens <n>       generate: write at least this many new tokens before the model may end the text
                         (default ${DIFFUSION_DEFAULT_MIN_TOKENS}; 0 lets it stop at once, e.g. after a full stop)
  --strength <s>         rewrite: edit strength in (0, 1] (default 0.5); --prefix may be empty or left out,
                         and paragraphs (separated by blank lines) are rewritten one by one
  --steps <T>            diffusion steps per block (default 50)
  --top-p <p>            nucleus of the projection (default 0.5)
  --projection <p>       ${PROJECTIONS.join(' | ')} (default sampling)
  --early-stop <f>       stop each block at this fraction of T (default 0)
  --seed <s>             seed of the noise and sampling
  --model <pack-id>      a simplex-diffusion-lm pack (default: the bundled core model)
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
  alpha: { type: 'string' },
  'top-p': { type: 'string' },
  greedy: { type: 'boolean', default: false },
  'max-tokens': { type: 'string' },
  seed: { type: 'string' },
  regular: { type: 'boolean', default: false },
  model: { type: 'string' },
  context: { type: 'string' },
  question: { type: 'string' },
  prompt: { type: 'string' },
  prefix: { type: 'string' },
  text: { type: 'string' },
  attribute: { type: 'string', multiple: true },
  tokens: { type: 'string' },
  'min-tokens': { type: 'string' },
  strength: { type: 'string' },
  projection: { type: 'string' },
  'early-stop': { type: 'string' },
  version: { type: 'boolean', default: false },
} satisfies ParseArgsConfig['options'];

interface Parsed {
  command: string | undefined;
  diffusion: Omit<DiffusionRunParams, 'mode' | 'prompt'> & { prompt?: string; prefix?: string };
  cad: Omit<CadRunParams, 'task' | 'document'> & { contextFile?: string };
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
  const num = (name: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max} (got "${raw}")`);
    return n;
  };
  if (v.greedy && v['top-p'] !== undefined) throw new UsageError('use either --greedy or --top-p, not both');
  const topP = num('top-p', v['top-p'], Number.MIN_VALUE, 1);
  const decoding: DecodingParams | undefined = v.greedy ? { mode: 'greedy' } : topP !== undefined ? { mode: 'sample', temperature: 1, topP } : undefined;
  const alpha = num('alpha', v.alpha, 0, 10);
  const maxTokens = v['max-tokens'] === undefined ? undefined : int('max-tokens', v['max-tokens'], 0, 1, 1024);
  const seed = v.seed === undefined ? undefined : int('seed', v.seed, 0, 0, 2 ** 32 - 1);
  const cad: Parsed['cad'] = {
    ...(alpha !== undefined && { alpha }),
    ...(decoding && { decoding }),
    ...(maxTokens !== undefined && { maxTokens }),
    ...(seed !== undefined && { seed }),
    ...(v.regular && { compareRegular: true }),
    ...(v.model !== undefined && { packId: v.model }),
    ...(v.question !== undefined && { question: v.question }),
    ...(v.context !== undefined && { contextFile: v.context }),
  };
  const attributes: AttributeTarget[] = (v.attribute ?? []).map((spec) => {
    const m = /^([^=:\s]+)=([^:\s]+)(?::(.+))?$/.exec(spec);
    if (!m) throw new UsageError(`--attribute must look like name=label or name=label:lambda (got "${spec}")`);
    const lambda = m[3] === undefined ? DEFAULT_GUIDANCE_LAMBDA : Number(m[3]);
    if (!Number.isFinite(lambda) || lambda < 0) throw new UsageError(`the λ in --attribute ${spec} must be a number ≥ 0`);
    return { attribute: m[1]!, label: m[2]!, lambda };
  });
  if (v.projection !== undefined && !PROJECTIONS.includes(v.projection as ProjectionName)) throw new UsageError(`--projection must be one of ${PROJECTIONS.join(', ')} (got "${v.projection}")`);
  const strength = num('strength', v.strength, 0, 1);
  if (strength === 0) throw new UsageError('--strength must be greater than 0');
  const earlyStop = num('early-stop', v['early-stop'], 0, 0.99);
  const diffusionSteps = v.steps === undefined ? undefined : int('steps', v.steps, 0, 1, 100_000);
  const diffusion: Parsed['diffusion'] = {
    ...(v.prompt !== undefined && { prompt: v.prompt }),
    ...(v.prefix !== undefined && { prefix: v.prefix }),
    ...(v.text !== undefined && { text: v.text }),
    ...(attributes.length && { attributes }),
    ...(v.tokens !== undefined && { maxTokens: int('tokens', v.tokens, 0, 1, 512) }),
    ...(v['min-tokens'] !== undefined && { minTokens: int('min-tokens', v['min-tokens'], 0, 0, 512) }),
    ...(strength !== undefined && { strength }),
    ...(diffusionSteps !== undefined && { steps: diffusionSteps }),
    ...(topP !== undefined && { topP }),
    ...(v.projection !== undefined && { projection: v.projection as ProjectionName }),
    ...(earlyStop !== undefined && { earlyStop }),
    ...(seed !== undefined && { seed }),
    ...(v.model !== undefined && { packId: v.model }),
  };
  return {
    diffusion,
    cad,
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

/** The --json shape: the result plus `answer` for questions (the same string as `text`). */
function cadJson(r: CadRunResult): unknown {
  return { ...(r.task === 'ask' && { answer: r.text }), ...r };
}

function printCad(r: CadRunResult, out: (s: string) => void, alreadyStreamed: boolean): void {
  if (!alreadyStreamed) out(r.text || '(the model produced no text)');
  if (r.regular) out(`\n[regular decoding, α = 0]\n${r.regular.text || '(no text)'}`);
  if (r.chunks) out(`\n(${r.chunks.length} chunks summarised and merged: the document is longer than the model's context)`);
}

function printDiffusion(r: DiffusionRunResult, out: (s: string) => void): void {
  out(r.text || '(the model produced no text)');
  for (const a of r.attributes) {
    const probs = Object.entries(a.probabilities).map(([l, p]) => `${l} ${(p * 100).toFixed(0)}%`).join(', ');
    out(`  ${a.attribute}${a.target ? ` (target ${a.target})` : ''}: ${probs}`);
  }
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
    io.out(CONCERT_VERSION);
    return 0;
  }
  if (args.help || !args.command) {
    (args.help ? io.out : io.err)(USAGE.trimEnd());
    return args.help ? 0 : 2;
  }
  const known = ['summarize', 'ask', 'generate', 'rewrite', 'doctor', 'models', 'validate', 'selftest', 'tokenize'];
  if (!known.includes(args.command)) {
    io.err(`concert: unknown command "${args.command}" (commands: ${known.join(', ')}). Run "concert --help".`);
    return 2;
  }
  if (args.command === 'generate' && (args.diffusion.prompt === undefined || !args.diffusion.prompt.trim())) {
    io.err('concert: generate needs a non-empty --prompt "<text>"');
    return 2;
  }
  if (args.command === 'rewrite' && (args.diffusion.text === undefined || !args.diffusion.text.trim())) {
    io.err('concert: rewrite needs a non-empty --text "<text>" (and optionally --prefix "<text before it>")');
    return 2;
  }
  if (args.command === 'validate' && !args.positionals.length) {
    io.err('concert: validate needs at least one folder, e.g. "concert validate ./my-pack"');
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

  let document: string | undefined;
  try {
    if (args.command === 'summarize') {
      if (args.positionals.length !== 1) throw new UsageError('summarize needs exactly one file, e.g. "concert summarize README.md"');
      document = await readTextFile(args.positionals[0]!);
    } else if (args.command === 'ask') {
      if (!args.cad.contextFile) throw new UsageError('ask needs --context <file>');
      if (args.cad.question === undefined || !args.cad.question.trim()) throw new UsageError('ask needs a non-empty --question "<text>"');
      if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}" (quote the question: --question "…")`);
      document = await readTextFile(args.cad.contextFile);
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof InputError) {
      io.err(`concert: ${e.message}`);
      return 2;
    }
    throw e;
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
      case 'validate': {
        const r = await client.request(Requests.validatePacks, { dirs: args.positionals.map((d) => path.resolve(d)) }, abort.signal);
        emit(() => printPacks(r, io.out), { packs: r });
        if (!r.length || r.some((p) => !p.valid)) return 1;
        break;
      }
      case 'selftest': {
        const r = await client.request(Requests.selfTest, { packId: args.positionals[0]!, steps: args.steps }, abort.signal);
        emit(() => io.out(`${r.packId}: ${r.stepsRun} runs of [${r.graphs.join(', ')}] on ${r.provider}, ${r.meanMsPerStep.toFixed(2)} ms per run`), r);
        break;
      }
      case 'summarize':
      case 'ask': {
        const { contextFile: _file, ...cad } = args.cad;
        const params: CadRunParams = { ...cad, task: args.command, document: document!, progressToken: 'cli' };
        // Stream the answer as it is generated (human output only; --json prints one object at the end).
        let streamed = false;
        if (!args.json && process.stdout.isTTY) {
          client.onTokens.on((t) => {
            if (t.variant !== 'cad') return;
            streamed = true;
            process.stdout.write(t.token.text);
          });
        }
        const r = await client.request(Requests.cadRun, params, abort.signal);
        if (streamed && !r.chunks) process.stdout.write('\n');
        emit(() => printCad(r, io.out, streamed && !r.chunks), cadJson(r));
        break;
      }
      case 'generate':
      case 'rewrite': {
        const { prefix, prompt, ...rest } = args.diffusion;
        const params: DiffusionRunParams = { ...rest, mode: args.command === 'generate' ? 'generate' : 'rewrite', prompt: (args.command === 'generate' ? prompt : prefix) ?? '' };
        const r = await client.request(Requests.diffusionRun, params, abort.signal);
        emit(() => printDiffusion(r, io.out), r);
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

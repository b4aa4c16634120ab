/**
 * One handler per `concert` command: what it checks before the worker starts (`check`, which also reads input
 * files), and what it asks the worker and prints (`run`). main.ts owns the worker's lifetime and the exit codes.
 */
import * as path from 'node:path';
import { Requests, type CadRunParams, type CollabRunParams, type DiffusionRunParams, type KnowledgeItem } from '../protocol/worker';
import { checkImage, runImage } from './image';
import { checkVideo, runVideo } from './video';
import type { WorkerClient } from '../worker/client';
import { UsageError, type Parsed } from './args';
import { cadJson, collabJson, printCad, printCollab, printDiffusion, printDoctor, printPacks } from './format';
import { readTextFile } from './inputFile';
import { checkPull, runPull } from './pull';
import { checkAdd, runAdd } from './modelsAdd';

export interface RunContext {
  args: Parsed;
  client: WorkerClient;
  signal: AbortSignal;
  out: (s: string) => void;
  /** What `check` read (the document of summarize/ask). */
  document?: string;
}

export interface CommandHandler {
  /** Validates the command's arguments and reads its input; throws UsageError (or InputError). */
  check?(args: Parsed): Promise<{ document?: string } | void>;
  /** Runs it; returns the exit code when it is not 0. */
  run(ctx: RunContext): Promise<number | void>;
}

/** Prints `data` as JSON under --json, else calls `human`. */
const emit = (ctx: RunContext, human: () => void, data: unknown) => (ctx.args.json ? ctx.out(JSON.stringify(data, null, 2)) : human());

/** `text` as one shell word, double-quoted when it needs it (as the usage examples write questions). */
const shellWord = (text: string) => (/^[\w@%+=:,./-]+$/.test(text) ? text : `"${text.replace(/[\\"$`]/g, '\\$&')}"`);

const requireNonEmpty = (value: string | undefined, message: string) => {
  if (value === undefined || !value.trim()) throw new UsageError(message);
};

async function runCad(ctx: RunContext, task: 'summarize' | 'ask'): Promise<void> {
  const { contextFile: _file, ...cad } = ctx.args.cad;
  const params: CadRunParams = { ...cad, task, document: ctx.document ?? '', progressToken: 'cli' };
  // Stream the answer as it is generated (human output on a terminal only; --json prints one object at the end).
  let streamed = false;
  if (!ctx.args.json && process.stdout.isTTY) {
    ctx.client.onTokens.on((t) => {
      if (t.variant !== 'cad') return;
      streamed = true;
      process.stdout.write(t.token.text);
    });
  }
  const r = await ctx.client.request(Requests.cadRun, params, ctx.signal);
  if (streamed && !r.chunks) process.stdout.write('\n');
  emit(ctx, () => printCad(r, ctx.out, streamed && !r.chunks), cadJson(r));
}

async function runDiffusion(ctx: RunContext, mode: 'generate' | 'rewrite'): Promise<void> {
  const { prefix, prompt, ...rest } = ctx.args.diffusion;
  const params: DiffusionRunParams = { ...rest, mode, prompt: (mode === 'generate' ? prompt : prefix) ?? '' };
  const r = await ctx.client.request(Requests.diffusionRun, params, ctx.signal);
  emit(ctx, () => printDiffusion(r, ctx.out), r);
}

async function runCollab(ctx: RunContext): Promise<void> {
  const { knowledgeFiles: _files, knowledge, instruction, ...rest } = ctx.args.collab;
  const params: CollabRunParams = { ...rest, instruction: instruction ?? '', knowledge: knowledge ?? [], progressToken: 'cli' };
  const r = await ctx.client.request(Requests.collabRun, params, ctx.signal);
  emit(ctx, () => printCollab(r, ctx.out), collabJson(r));
}

export const COMMAND_HANDLERS: Record<string, CommandHandler> = {
  summarize: {
    async check(args) {
      if (args.positionals.length !== 1) throw new UsageError('summarize needs exactly one file, e.g. "concert summarize README.md"');
      return { document: await readTextFile(args.positionals[0] ?? '') };
    },
    run: (ctx) => runCad(ctx, 'summarize'),
  },
  ask: {
    async check(args) {
      // `concert ask notes.txt "Who?"` (summarize takes its file that way): name the flags, with the command they meant.
      const [file, ...words] = args.positionals;
      if (file !== undefined && (!args.cad.contextFile || args.cad.question === undefined)) {
        // With --context given, every loose word is the question's.
        const question = args.cad.question ?? ((args.cad.contextFile ? args.positionals : words).join(' ') || '<question>');
        throw new UsageError(
          `ask takes the document and the question as options: concert ask --context ${shellWord(args.cad.contextFile ?? file)} --question ${shellWord(question)}`,
        );
      }
      if (!args.cad.contextFile) throw new UsageError('ask needs --context <file>');
      requireNonEmpty(args.cad.question, 'ask needs a non-empty --question "<text>"');
      if (file !== undefined) throw new UsageError(`unexpected argument "${file}" (quote the question: --question "…")`);
      return { document: await readTextFile(args.cad.contextFile) };
    },
    run: (ctx) => runCad(ctx, 'ask'),
  },
  generate: {
    async check(args) {
      requireNonEmpty(args.diffusion.prompt, 'generate needs a non-empty --prompt "<text>"');
    },
    run: (ctx) => runDiffusion(ctx, 'generate'),
  },
  rewrite: {
    async check(args) {
      requireNonEmpty(args.diffusion.text, 'rewrite needs a non-empty --text "<text>" (and optionally --prefix "<text before it>")');
    },
    run: (ctx) => runDiffusion(ctx, 'rewrite'),
  },
  collab: {
    async check(args) {
      requireNonEmpty(args.collab.instruction, 'collab needs a non-empty --instruction "<text>" (and --knowledge <file> for what the user model may read)');
      if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}" (knowledge files go after --knowledge, one per file)`);
      const knowledge: KnowledgeItem[] = [];
      for (const file of args.collab.knowledgeFiles) knowledge.push({ id: file, title: path.basename(file), text: await readTextFile(file) });
      args.collab.knowledge = knowledge;
    },
    run: (ctx) => runCollab(ctx),
  },
  serve: {
    async check(args) {
      if (args.positionals.length) throw new UsageError(`unexpected argument "${args.positionals[0]}" (serve takes --host, --port, --token)`);
    },
    // Runs until Ctrl-C (or SIGTERM); a worker that dies takes the server with it, and that ends the command.
    async run(ctx) {
      const r = await ctx.client.request(Requests.serverStart, ctx.args.serve, ctx.signal);
      emit(
        ctx,
        () => {
          ctx.out(`Concert core server (Open Inference Protocol v2) at ${r.url}`);
          ctx.out(`models ${r.models.join(', ')} of pack ${r.packId}; ${r.auth ? 'bearer token required' : 'no token (loopback only)'}. Ctrl-C stops it.`);
        },
        r,
      );
      const ended = await new Promise<'stopped' | 'worker'>((resolve) => {
        if (ctx.signal.aborted) return resolve('stopped');
        ctx.signal.addEventListener('abort', () => resolve('stopped'), { once: true });
        ctx.client.onDidChangeState.on((s) => {
          if (s !== 'running' && s !== 'starting') resolve('worker');
        });
      });
      if (ended === 'worker') {
        process.stderr.write('concert: the worker serving the core stopped; the server is down\n');
        return 1;
      }
      await Promise.race([ctx.client.request0(Requests.serverStop).catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      return 0;
    },
  },
  image: {
    check: checkImage,
    run: runImage,
  },
  video: {
    check: checkVideo,
    run: runVideo,
  },
  doctor: {
    async run(ctx) {
      const r = await ctx.client.request0(Requests.doctor, ctx.signal);
      emit(ctx, () => printDoctor(r, ctx.out), r);
    },
  },
  models: {
    // `models` lists; `models pull <repo-id>` downloads from the Hugging Face Hub (pull.ts).
    async check(args) {
      if (args.positionals[0] === 'pull') checkPull(args);
      if (args.positionals[0] === 'add') checkAdd(args);
    },
    async run(ctx) {
      if (ctx.args.positionals[0] === 'pull') return runPull(ctx);
      // `models add <folder>` records a folder in Concert's own list (modelsAdd.ts).
      if (ctx.args.positionals[0] === 'add') return runAdd(ctx);
      const r = await ctx.client.request0(Requests.listPacks, ctx.signal);
      emit(ctx, () => printPacks(r, ctx.out), { packs: r });
    },
  },
  validate: {
    async check(args) {
      if (!args.positionals.length) throw new UsageError('validate needs at least one folder, e.g. "concert validate ./my-pack"');
    },
    async run(ctx) {
      const r = await ctx.client.request(Requests.validatePacks, { dirs: ctx.args.positionals.map((d) => path.resolve(d)) }, ctx.signal);
      emit(ctx, () => printPacks(r, ctx.out), { packs: r });
      return !r.length || r.some((p) => !p.valid) ? 1 : 0;
    },
  },
  selftest: {
    async check(args) {
      if (args.positionals.length !== 1) throw new UsageError('selftest needs exactly one pack id, e.g. "concert selftest <pack-id>" (see "concert models").');
    },
    async run(ctx) {
      const r = await ctx.client.request(Requests.selfTest, { packId: ctx.args.positionals[0] ?? '', steps: ctx.args.steps }, ctx.signal);
      emit(ctx, () => ctx.out(`${r.packId}: ${r.stepsRun} runs of [${r.graphs.join(', ')}] on ${r.provider}, ${r.meanMsPerStep.toFixed(2)} ms per run`), r);
    },
  },
  tokenize: {
    async check(args) {
      if (args.positionals.length !== 2 || !args.positionals[1])
        throw new UsageError('tokenize needs a pack id and a non-empty text, e.g. concert tokenize <pack-id> "some text".');
    },
    async run(ctx) {
      const r = await ctx.client.request(Requests.tokenize, { packId: ctx.args.positionals[0] ?? '', text: ctx.args.positionals[1] ?? '' }, ctx.signal);
      emit(ctx, () => ctx.out(r.ids.join(' ')), r);
    },
  },
};

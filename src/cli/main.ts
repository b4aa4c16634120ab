/**
 * `concert` — the command line over the same worker the extension uses: parse (args.ts), check the command's input
 * (commands.ts), start the worker, run, print (format.ts), stop the worker on every path.
 * Every command accepts --json; user errors print one line on stderr and exit 2 (bad input) or 1 (failure).
 */
import * as path from 'node:path';
import { WorkerErrorCode } from '../protocol/worker';
import { CONCERT_VERSION } from '../protocol/version';
import type { WorkerError } from '../worker/client';
import { WorkerClient } from '../worker/client';
import { parseCli, UsageError, type Parsed } from './args';
import { COMMAND_HANDLERS } from './commands';
import { InputError } from './inputFile';
import { USAGE } from './usage';

export async function main(
  argv: string[],
  io = { out: (s: string) => console.log(s), err: (s: string) => console.error(s) },
  env = process.env,
  distDir = __dirname,
): Promise<number> {
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
  const handler = COMMAND_HANDLERS[args.command];
  if (!handler) {
    io.err(`concert: unknown command "${args.command}" (commands: ${Object.keys(COMMAND_HANDLERS).join(', ')}). Run "concert --help".`);
    return 2;
  }

  let document: string | undefined;
  try {
    document = (await handler.check?.(args))?.document;
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
  // Ctrl-C once: cancel; if the worker has not answered within CANCEL_GRACE_MS (stuck, stopped), or on a second
  // Ctrl-C, kill it and end with 130. SIGTERM/SIGHUP kill it at once. However this process ends, the worker goes too.
  const abort = new AbortController();
  let interrupted: { exitCode: number } | undefined;
  let forceExit: (code: number) => void = () => {};
  const forced = new Promise<number>((resolve) => (forceExit = resolve));
  let graceTimer: NodeJS.Timeout | undefined;
  const onSigint = () => {
    if (!abort.signal.aborted) {
      interrupted = { exitCode: 130 };
      abort.abort();
      graceTimer = setTimeout(() => {
        client.kill();
        forceExit(130);
      }, CANCEL_GRACE_MS);
      graceTimer.unref();
      return;
    }
    client.kill();
    forceExit(130);
  };
  const onTerminate = (signal: NodeJS.Signals) => {
    interrupted = { exitCode: signal === 'SIGHUP' ? 129 : 143 };
    abort.abort();
    client.kill();
    forceExit(interrupted.exitCode);
  };
  const onExit = () => client.kill();
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onTerminate);
  process.on('SIGHUP', onTerminate);
  process.on('exit', onExit);
  try {
    const result = await Promise.race([
      handler.run({ args, client, signal: abort.signal, out: io.out, ...(document !== undefined && { document }) }).then((code) => ({ code: code ?? 0 })),
      forced.then((code) => ({ forced: code })),
    ]);
    if ('forced' in result) {
      io.err('concert: cancelled');
      return result.forced;
    }
    return result.code;
  } catch (e) {
    const err = e as WorkerError;
    const code = err.code;
    // After Ctrl-C whatever ends the request (its cancel, or the worker killed or dying of the signal) is a cancel.
    if (code === WorkerErrorCode.Cancelled || interrupted) {
      io.err('concert: cancelled');
      return interrupted?.exitCode ?? 130;
    }
    io.err(`concert: ${err.message}`);
    if (env.CONCERT_DEBUG && stderrLines.length) io.err(stderrLines.join('\n'));
    return code === WorkerErrorCode.BadInput || code === WorkerErrorCode.PackNotFound ? 2 : 1;
  } finally {
    if (graceTimer) clearTimeout(graceTimer);
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onTerminate);
    process.removeListener('SIGHUP', onTerminate);
    await client.stop();
    process.removeListener('exit', onExit);
  }
}

/** How long a cancelled request may take to answer before the CLI kills the worker. */
const CANCEL_GRACE_MS = 2000;

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

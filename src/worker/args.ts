/** Command-line arguments of the worker process. */
export interface WorkerArgs {
  clientPid?: number;
}

export function parseWorkerArgs(argv: readonly string[]): WorkerArgs {
  const out: WorkerArgs = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
    if (a.startsWith('--client-pid')) {
      const n = Number(v);
      if (Number.isInteger(n) && n > 0) out.clientPid = n;
      if (!a.includes('=')) i++;
    }
  }
  return out;
}

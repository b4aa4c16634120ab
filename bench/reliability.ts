/**
 * The one reliability command (issue #17): runs every script in bench/reliability/ (fuzz.ts, and the fault and soak
 * scripts next to it) as a child process, one after the other, prints one combined table and writes
 * bench/results/reliability.json.
 *
 *   npm run reliability                      long budgets (fuzzing: 10,000 inputs per target)
 *   npm run reliability -- --quick           short budgets (each script's --quick)
 *   npm run reliability -- --only fuzz,soak  some scripts only; other arguments are passed to every script
 *
 * The contract of a script: it runs with `node --import tsx`, accepts `--quick`, exits 0 when its properties hold,
 * and prints as its LAST stdout line `RESULT <json>` with `{ "script": name, "rows": [ {…}, … ] }` (each row flat:
 * numbers, strings, booleans; a row may say `"ok": false`). Files whose first line contains `reliability: library`
 * are helpers, not scripts.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RESULT_PREFIX, parseArgs, table } from './reliability/fuzzing';

const DIR = path.join(__dirname, 'reliability');
const ROOT = path.join(__dirname, '..');
const OUT = path.join(__dirname, 'results', 'reliability.json');

interface ScriptRun {
  script: string;
  file: string;
  exitCode: number;
  seconds: number;
  ok: boolean;
  error?: string;
  result?: { script?: string; rows?: Record<string, unknown>[]; [k: string]: unknown };
}

/** The scripts of bench/reliability, in name order (helpers marked `reliability: library` left out). */
export function reliabilityScripts(dir = DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .filter((f) => !/reliability: library/.test(readFileSync(path.join(dir, f), 'utf8').split('\n', 1)[0] ?? ''))
    .sort();
}

/** The JSON of the last `RESULT ` line of `stdout`, or undefined. */
export function lastResult(stdout: string): ScriptRun['result'] | undefined {
  const lines = stdout.split('\n').filter((l) => l.trim());
  const last = lines[lines.length - 1];
  if (!last?.startsWith(RESULT_PREFIX)) return undefined;
  try {
    return JSON.parse(last.slice(RESULT_PREFIX.length)) as ScriptRun['result'];
  } catch {
    return undefined;
  }
}

function runScript(file: string, args: string[]): Promise<{ code: number; stdout: string; seconds: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(DIR, file), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    let line = '';
    // Echo whole lines, but not the machine-readable one.
    const echo = (l: string) => void (l.startsWith(RESULT_PREFIX) || process.stdout.write(`${l}\n`));
    child.stdout.on('data', (c: Buffer) => {
      const text = c.toString();
      stdout += text;
      const lines = (line + text).split('\n');
      line = lines.pop()!;
      lines.forEach(echo);
    });
    child.on('close', (code, signal) => {
      if (line) echo(line);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** A cell for the combined table: numbers and short strings as they are, nested values left out. */
const cell = (v: unknown): string | number | undefined =>
  typeof v === 'number' ? Math.round(v * 10) / 10 : typeof v === 'string' ? v.slice(0, 90) : typeof v === 'boolean' ? (v ? 'yes' : 'NO') : undefined;

export function combinedTable(runs: readonly ScriptRun[]): string {
  const blocks: string[] = [];
  for (const r of runs) {
    const rows = r.result?.rows ?? [];
    const keys = [...new Set(rows.flatMap((row) => Object.keys(row).filter((k) => cell(row[k]) !== undefined)))];
    blocks.push(`${r.script} (${r.file}): ${r.ok ? 'ok' : `FAILED${r.error ? ` (${r.error})` : ''}`}, ${r.seconds.toFixed(0)} s`);
    if (rows.length)
      blocks.push(
        table(
          keys,
          rows.map((row) => keys.map((k) => cell(row[k]) ?? '')),
        ),
      );
  }
  return blocks.join('\n\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  const only = args.get('only')?.split(',').filter(Boolean);
  // Everything but --only goes to every script (--quick, --seed …).
  const passOn: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') i++;
    else passOn.push(argv[i]!);
  }
  const scripts = reliabilityScripts().filter((f) => !only || only.includes(path.basename(f, '.ts')));
  if (!scripts.length) throw new Error(`no reliability scripts${only ? ` named ${only.join(', ')}` : ''} in ${DIR}`);
  const started = new Date();
  const runs: ScriptRun[] = [];
  for (const file of scripts) {
    console.log(`\n=== ${file} ${passOn.join(' ')}`);
    const r = await runScript(file, passOn);
    const result = lastResult(r.stdout);
    const rowsOk = (result?.rows ?? []).every((row) => row['ok'] !== false);
    const error = !result ? 'no RESULT line' : r.code !== 0 ? `exit code ${r.code}` : !rowsOk ? 'a row is not ok' : undefined;
    runs.push({
      script: result?.script ?? path.basename(file, '.ts'),
      file,
      exitCode: r.code,
      seconds: r.seconds,
      ok: !error,
      ...(error && { error }),
      ...(result && { result }),
    });
  }
  console.log(`\n=== reliability: ${runs.length} scripts${args.has('quick') ? ' (quick)' : ''}\n`);
  console.log(combinedTable(runs));
  const report = {
    date: started.toISOString(),
    command: `npm run reliability${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
    quick: args.has('quick'),
    machine: {
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: availableParallelism(),
      cpu: cpus()[0]?.model ?? '',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
    },
    ok: runs.every((r) => r.ok),
    scripts: runs,
  };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\n${report.ok ? 'all reliability checks hold' : 'SOME RELIABILITY CHECKS FAILED'}; wrote ${path.relative(ROOT, OUT)}`);
  process.exitCode = report.ok ? 0 : 1;
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}

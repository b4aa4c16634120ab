// Runs test tiers with Node's built-in runner (TypeScript through tsx). Node 20's `--test` takes no globs, so the
// files are listed here. Usage: node test/run.mjs [tier…] with tiers
//   unit     pure logic, lint probes, contribution drift, bundle checks (files run concurrently)
//   worker   real forked worker processes and real ONNX models
//   webview  each webview bundle in headless Chromium (/usr/bin/chromium) under the extension's CSP, fake host
//   e2e      the built extension in code-server 4.99.4 (VS Code 1.99.3), driven in headless Chromium
//   package  the five platform VSIXs (contents, sizes) and the CLI's npm tarball installed globally
//   vscode   @vscode/test-electron on a desktop VS Code (CONCERT_VSCODE_EXECUTABLE or `code`); skipped, with the
//            reason, where there is none
//   tools    test/run-tools.mjs: Python tests of tools/ and the smoke training pipeline (slow; name it last)
// (default: unit worker). The webview and e2e tiers fail, saying how to install them, when Chromium or
// code-server is missing: .ci/run installs both.
//
// Every tier runs, even after a failing one. Each ends with a line `# <tier>: N passed, N failed, N skipped …`;
// the run ends with one line per tier and, last, the total exactly as `N passed, N failed, N skipped` (skipped
// includes todo tests; failed includes cancelled ones, and a tier that crashed without a summary counts as one
// failure). The exit status is non-zero when any tier failed.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

const tiers = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'worker'];
/** Unit files run concurrently, four at a time at least (Node's default, cores − 1, is 1 on a 2-core machine, and
 *  unit files spend much of their time waiting on tsx and the file system). Every other tier runs its files one at a
 *  time: worker tests fork processes and measure timing-sensitive behaviour (crash → reject within 1 s), the
 *  browser tiers each start a browser (and code-server), and the package tier writes hundreds of MB. */
const CONCURRENT = new Map([['unit', Math.max(4, availableParallelism())]]);

function testFiles(tier) {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.test.ts')) files.push(p);
    }
  };
  if (existsSync(join('test', tier))) walk(join('test', tier));
  return files;
}

/** The counts of the last TAP summary (`# tests N`, `# pass N`, …) in `text`, or undefined when it has none. */
function parseSummary(text) {
  const counts = {};
  for (const m of text.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[m[1]] = Number(m[2]);
  if (counts.tests === undefined) return undefined;
  return {
    tests: counts.tests,
    pass: counts.pass ?? 0,
    fail: counts.fail ?? 0,
    cancelled: counts.cancelled ?? 0,
    skipped: counts.skipped ?? 0,
    todo: counts.todo ?? 0,
  };
}

/** Runs node with `args`, stdout and stderr passed through; with `tee`, stdout is also collected and returned. */
function run(args, { tee = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['inherit', tee ? 'pipe' : 'inherit', 'inherit'] });
    let out = '';
    if (tee) {
      child.stdout.on('data', (chunk) => {
        process.stdout.write(chunk);
        out += chunk;
      });
    }
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

async function runTier(tier) {
  const t0 = Date.now();
  if (tier === 'tools') {
    // run-tools.mjs prints a TAP-style summary of the Python tests and smoke steps.
    const r = await run(['test/run-tools.mjs'], { tee: true });
    return { tier, code: r.code, summary: parseSummary(r.out), seconds: (Date.now() - t0) / 1000 };
  }
  const files = testFiles(tier);
  if (!files.length) return { tier, code: 1, summary: undefined, seconds: 0, note: `no test files in test/${tier}` };
  // One reporter for people (spec on a terminal, TAP otherwise, as Node picks), one TAP file to count from.
  const dir = mkdtempSync(join(tmpdir(), `concert-test-${tier}-`));
  const tap = join(dir, 'report.tap');
  try {
    const r = await run([
      '--import',
      'tsx',
      '--test',
      `--test-concurrency=${CONCURRENT.get(tier) ?? 1}`,
      `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`,
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ]);
    let text = '';
    try {
      text = readFileSync(tap, 'utf8');
    } catch {
      /* the runner died before writing its report */
    }
    return { tier, code: r.code, summary: parseSummary(text), seconds: (Date.now() - t0) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** passed / failed / skipped of one tier (a tier that failed without a summary counts as one failure). */
function tally(result) {
  const s = result.summary;
  const passed = s?.pass ?? 0;
  let failed = (s?.fail ?? 0) + (s?.cancelled ?? 0);
  if (result.code !== 0 && failed === 0) failed = 1;
  return { passed, failed, skipped: (s?.skipped ?? 0) + (s?.todo ?? 0) };
}
const counts = ({ passed, failed, skipped }) => `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;

function describeTier(result) {
  const t = tally(result);
  const why =
    result.note ??
    (result.summary
      ? result.code !== 0 && !(result.summary.fail + result.summary.cancelled)
        ? `exited with status ${result.code}`
        : ''
      : `exited with status ${result.code} without a test summary`);
  const todo = result.summary?.todo ? ` (${result.summary.todo} todo)` : '';
  return `${counts(t)}${todo} in ${result.seconds.toFixed(1)} s${why ? `; ${why}` : ''}`;
}

const results = [];
for (const tier of tiers) {
  const result = await runTier(tier);
  results.push(result);
  console.log(`# ${tier}: ${describeTier(result)}`);
}
const total = results
  .map(tally)
  .reduce((a, b) => ({ passed: a.passed + b.passed, failed: a.failed + b.failed, skipped: a.skipped + b.skipped }), { passed: 0, failed: 0, skipped: 0 });
if (results.length > 1) {
  console.log('');
  for (const r of results) console.log(`# ${r.tier.padEnd(8)} ${tally(r).failed ? 'FAIL' : 'ok  '} ${describeTier(r)}`);
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = total.failed ? 1 : 0;

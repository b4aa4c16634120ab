// Runs test tiers with Node's built-in runner (TypeScript through tsx). Node 20's `--test` takes no globs, so the
// files are listed here. Usage: node test/run.mjs [tier…] with tiers
//   unit     pure logic, lint probes, contribution drift
//   worker   real forked worker processes and real ONNX models
//   webview  each webview bundle in headless Chromium (/usr/bin/chromium) under the extension's CSP, fake host
//   e2e      the built extension in code-server 4.99.4 (VS Code 1.99.3), driven in headless Chromium
//   vscode   @vscode/test-electron on a desktop VS Code (CONCERT_VSCODE_EXECUTABLE or `code`); skipped, with the
//            reason, where there is none
// (default: unit worker). The webview and e2e tiers fail, saying how to install them, when Chromium or
// code-server is missing: .ci/run installs both.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const tiers = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'worker'];
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.ts')) files.push(p);
  }
};
for (const t of tiers) walk(join('test', t));
if (!files.length) {
  console.error(`no test files in ${tiers.join(', ')}`);
  process.exit(1);
}
// Worker tests fork processes and measure timing-sensitive behaviour (crash → reject within 1 s), and the browser
// tiers each start a browser (and code-server): run files one at a time.
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);

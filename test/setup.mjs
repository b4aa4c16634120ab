// `npm test` runs this first: it installs what the test tiers need and a fresh machine lacks, and nothing else.
// - Debian packages: Chromium (webview and VS Code tiers), what code-server 4.99.4 compiles its native modules with
//   at install time (kerberos needs libkrb5-dev), ripgrep (seeded below), and tools/requirements-apt.txt (the
//   Python tools tier). As root it runs apt-get; otherwise it prints the one command that is needed and fails.
// - The test harness of test/package.json (code-server, playwright-core), kept out of the product's own install.
// Idempotent and quick when everything is in place: `node test/setup.mjs --check` only reports.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const checkOnly = process.argv.includes('--check');

export const BROWSER_TIER_APT = [
  'chromium',
  'ripgrep',
  'build-essential',
  'python3',
  'pkg-config',
  'libkrb5-dev',
  'libx11-dev',
  'libxkbfile-dev',
  'libsecret-1-dev',
];
const toolsApt = () =>
  readFileSync(join(root, 'tools', 'requirements-apt.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

const installed = (pkg) => spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed');

function fail(message) {
  console.error(`test setup: ${message}`);
  process.exit(1);
}

function ensureApt() {
  if (spawnSync('dpkg-query', ['--version']).status !== 0) {
    console.log('test setup: not a Debian system; the browser and tools tiers need Chromium at /usr/bin/chromium, ripgrep and Python 3 with torch/onnx.');
    return;
  }
  const missing = [...new Set([...BROWSER_TIER_APT, ...toolsApt()])].filter((p) => !installed(p));
  if (!missing.length) return;
  const line = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (checkOnly) fail(`missing Debian packages: ${line}`);
  if (process.getuid?.() !== 0) fail(`the test tiers need Debian packages; run: sudo apt-get update && sudo ${line}`);
  console.log(`test setup: installing ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...missing],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (r.status !== 0) fail(`apt-get ${args[0]} failed; run: apt-get update && ${line}`);
  }
}

/**
 * code-server's nested @vscode/ripgrep@1.15.11 downloads ripgrep from GitHub in its postinstall unless its cache
 * already holds the archive: seed the cache with Debian's rg (only the npm registry is reachable here).
 */
function seedRipgrepCache() {
  const cache = join(process.env.TMPDIR || tmpdir(), 'vscode-ripgrep-cache-1.15.11');
  const archive = join(cache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
  if (existsSync(archive) || process.arch !== 'x64') return;
  const rg = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
  if (!rg) fail('ripgrep (rg) is not installed: apt-get install ripgrep');
  mkdirSync(cache, { recursive: true });
  const r = spawnSync('tar', ['czf', `${archive}.tmp`, '-C', dirname(rg), 'rg']);
  if (r.status !== 0) fail(`could not seed the ripgrep cache in ${cache}`);
  renameSync(`${archive}.tmp`, archive);
}

/** Installs test/package.json's harness when test/node_modules is missing or older than its lock file. */
function ensureHarness() {
  const testDir = join(root, 'test');
  const lock = readFileSync(join(testDir, 'package-lock.json'));
  const stamp = join(testDir, 'node_modules', '.concert-harness-lock');
  const want = createHash('sha256').update(lock).digest('hex');
  // code-server's install scripts build its native modules and put ripgrep in place: their absence means a broken
  // install (for example one that ran with ignore-scripts), whatever the stamp says.
  const rg = join(testDir, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want && existsSync(rg)) return;
  if (checkOnly) fail('the test harness is not installed (test/node_modules): run node test/setup.mjs');
  seedRipgrepCache();
  console.log('test setup: installing the test harness (test/package.json: code-server 4.99.4, playwright-core)');
  // As root, code-server's postinstall insists on unsafe-perm; node-pty's postinstall runs `npx node-gyp`, which
  // needs `yes` when nobody can answer. Both are read by the scripts themselves from the environment.
  // Under `npm test`, npm exports the root project's config (.npmrc: ignore-scripts=true) as npm_config_* variables;
  // the harness is its own project and needs its install scripts, so none of those may leak into its install.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(config|package|lifecycle)_/i.test(k)));
  Object.assign(env, { npm_config_unsafe_perm: 'true', npm_config_yes: 'true', npm_config_ignore_scripts: 'false' });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: testDir, stdio: 'inherit', env });
  if (r.status !== 0) fail('installing the test harness failed (see above); on Debian it needs: apt-get install ' + BROWSER_TIER_APT.join(' '));
  if (!existsSync(rg)) fail(`the test harness installed, but code-server's install scripts did not run (no ${rg})`);
  writeFileSync(stamp, want);
}

ensureApt();
ensureHarness();
console.log('test setup: Debian packages and the test harness are in place');

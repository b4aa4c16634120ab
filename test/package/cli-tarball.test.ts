/**
 * The CLI as an npm package: `npm pack` of the current build, installed globally (into a temporary prefix) the way
 * a user installs it, then `concert` run from a folder that has nothing to do with Concert.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the concert CLI from its npm tarball, installed globally', () => {
  let dir: string;
  let bin: string;
  let elsewhere: string;
  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist', 'cli.js')), 'run `npm run build` first (npm test does)');
    dir = mkdtempSync(join(tmpdir(), 'concert-cli-pack-'));
    const packed = spawnSync(npm, ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(packed.status, 0, packed.stderr);
    const tarball = join(dir, `concert-${pkg.version}.tgz`);
    assert.ok(existsSync(tarball), `no ${tarball}: ${readdirSync(dir).join(', ')}`);
    // ONNX Runtime's install script would fetch CUDA binaries from outside the npm registry; users offline skip it
    // the same way (README, "Use the CLI").
    const prefix = join(dir, 'prefix');
    const installed = spawnSync(npm, ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      timeout: 5 * 60_000,
    });
    assert.equal(installed.status, 0, installed.stderr);
    bin = join(prefix, 'bin', 'concert');
    elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(
      join(elsewhere, 'notes.md'),
      'The ferry leaves Oban at half past nine. The crossing takes forty-five minutes when the sea is calm, and the captain waits for the last bus if it is late.\n',
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('installs only what the CLI runs: no sources, tests or extension bundles', () => {
    const root = join(dir, 'prefix', 'lib', 'node_modules', 'concert');
    assert.deepEqual(readdirSync(root).sort(), ['CHANGELOG.md', 'LICENSE', 'README.md', 'bin', 'dist', 'models', 'node_modules', 'package.json']);
    assert.deepEqual(readdirSync(join(root, 'dist')).sort(), ['cli.js', 'worker.js']);
  });

  it('concert summarize works from any folder on the bundled models', () => {
    const r = spawnSync(bin, ['summarize', 'notes.md', '--json', '--max-tokens', '16', '--seed', '1'], { cwd: elsewhere, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { text?: string; summary?: string };
    const text = out.text ?? out.summary ?? '';
    assert.ok(text.trim().length > 0, `no summary text in ${r.stdout.slice(0, 500)}`);
    assert.equal(r.stderr, '', 'no warnings on stderr');
  });

  it('concert doctor lists the bundled packs as valid', () => {
    const r = spawnSync(bin, ['doctor', '--json'], { cwd: elsewhere, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { packs: { id: string; valid: boolean; source: string }[] };
    const bundled = report.packs.filter((p) => p.source === 'bundled');
    assert.ok(bundled.length >= 5, JSON.stringify(report.packs));
    assert.deepEqual(
      bundled.filter((p) => !p.valid),
      [],
    );
  });
});

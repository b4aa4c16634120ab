/**
 * The package tier: `npm run package` (build/packageVsix.mjs, on the current build) writes one VSIX per platform
 * that ONNX Runtime ships binaries for, each within the size budget and holding exactly its own platform's native
 * binaries, the bundles, the model packs and the media, and nothing from the source tree.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listZip, readZipText, type ZipEntry } from '../helpers/zipListing';

const ROOT = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const TARGETS: Record<string, string> = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
  'darwin-arm64': 'darwin/arm64',
};
const MAX_BYTES = 80 * 1024 * 1024;
const NAPI = 'extension/dist/node_modules/onnxruntime-node/bin/napi-v6/';

const bundledPacks = readdirSync(join(ROOT, 'models')).filter((d) => existsSync(join(ROOT, 'models', d, 'concert.json')));

describe('npm run package: one VSIX per platform', () => {
  let out: string;
  let printed: string;
  before(() => {
    assert.ok(existsSync(join(ROOT, 'dist', 'extension.js')), 'run `npm run build` first (npm test does)');
    out = mkdtempSync(join(tmpdir(), 'concert-vsix-test-'));
    // As `npm run package` does: the production build (minified, no source maps) into dist/, then the five VSIXs, so
    // the sizes checked are those that ship. Later tiers run on that build as well as on the development one.
    const r = spawnSync(process.execPath, ['build/packageVsix.mjs'], {
      cwd: ROOT,
      env: { ...process.env, VSIX_OUT: out },
      encoding: 'utf8',
      timeout: 10 * 60_000,
    });
    printed = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, printed.slice(-4000));
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('prints the folder it wrote to and writes exactly the five platform VSIXs there', () => {
    assert.match(printed, new RegExp(`VSIX files in ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(
      readdirSync(out).sort(),
      Object.keys(TARGETS)
        .map((t) => `concert-${t}-${pkg.version}.vsix`)
        .sort(),
    );
    assert.doesNotMatch(printed, /\bWARNING\b/, 'vsce packages without warnings');
  });

  for (const [target, folder] of Object.entries(TARGETS)) {
    describe(target, () => {
      let entries: ZipEntry[];
      let names: Set<string>;
      const file = () => join(out, `concert-${target}-${pkg.version}.vsix`);
      before(() => {
        entries = listZip(file());
        names = new Set(entries.map((e) => e.name));
      });

      it(`is at most ${MAX_BYTES / 2 ** 20} MB`, () => {
        const bytes = readFileSync(file()).length;
        assert.ok(bytes <= MAX_BYTES, `${(bytes / 2 ** 20).toFixed(1)} MB`);
      });

      it(`holds ONNX Runtime's ${folder} binaries and no other platform's`, () => {
        const napi = entries.filter((e) => e.name.startsWith(NAPI)).map((e) => e.name.slice(NAPI.length));
        assert.ok(napi.includes(`${folder}/onnxruntime_binding.node`), `no binding for ${folder}: ${napi.join(', ')}`);
        const others = napi.filter((n) => !n.startsWith(`${folder}/`));
        assert.deepEqual(others, [], 'binaries of other platforms');
        const lib = {
          'linux/x64': 'libonnxruntime.so.1',
          'linux/arm64': 'libonnxruntime.so.1',
          'win32/x64': 'onnxruntime.dll',
          'win32/arm64': 'onnxruntime.dll',
          'darwin/arm64': 'libonnxruntime.1.dylib',
        }[folder];
        assert.ok(names.has(`${NAPI}${folder}/${lib}`), `the binding's library ${lib} is missing`);
        // The JavaScript side of onnxruntime-node and onnxruntime-common, where Node resolves them from dist/worker.js.
        for (const f of [
          'onnxruntime-node/package.json',
          'onnxruntime-node/dist/index.js',
          'onnxruntime-node/dist/binding.js',
          'onnxruntime-common/package.json',
          'onnxruntime-common/dist/cjs/index.js',
        ])
          assert.ok(names.has(`extension/dist/node_modules/${f}`), f);
      });

      it('holds the bundles, webviews, model packs, media and build info, and declares its platform', () => {
        for (const f of [
          'extension/package.json',
          'extension/readme.md',
          'extension/changelog.md',
          'extension/LICENSE.txt',
          'extension/dist/extension.js',
          'extension/dist/worker.js',
          'extension/dist/cli.js',
          'extension/dist/webview/summary.js',
          'extension/dist/webview/rewrite.js',
          'extension/dist/webview/status.js',
          'extension/dist/webview/collab.js',
          'extension/dist/webview/images.js',
          'extension/media/icon.png',
          'extension/media/walkthrough/sample.md',
        ])
          assert.ok(names.has(f), `missing ${f}`);
        for (const id of bundledPacks) assert.ok(names.has(`extension/models/${id}/concert.json`), `model pack ${id} missing`);
        const manifest = readZipText(file(), 'extension.vsixmanifest');
        assert.match(manifest, new RegExp(`TargetPlatform="${target}"`));
        const info = JSON.parse(readZipText(file(), 'extension/dist/build-info.json')) as { target: string; version: string; onnxruntime: string };
        assert.deepEqual(info, { target, version: pkg.version, onnxruntime: pkg.dependencies['onnxruntime-node'] });
      });

      it('ships nothing from the source tree: no sources, tests, tools, maps, npm scripts or dev dependencies', () => {
        const leaked = [...names].filter(
          (n) =>
            /^extension\/(src|test|tools|webview|bench|build|data|docs|\.ci)\//.test(n) ||
            n.endsWith('.map') ||
            (n.endsWith('.ts') && !n.endsWith('.d.ts')) ||
            n.startsWith('extension/node_modules/'),
        );
        assert.deepEqual(leaked, []);
        const shipped = JSON.parse(readZipText(file(), 'extension/package.json')) as Record<string, unknown>;
        assert.equal(shipped.scripts, undefined);
        assert.equal(shipped.devDependencies, undefined);
        assert.equal(shipped.files, undefined);
      });
    });
  }

  it('refuses a platform ONNX Runtime ships no binaries for, saying which exist', () => {
    const r = spawnSync(process.execPath, ['build/packageVsix.mjs', '--no-build', '--target', 'darwin-x64'], {
      cwd: ROOT,
      env: { ...process.env, VSIX_OUT: out },
      encoding: 'utf8',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /unknown target darwin-x64; one of linux-x64, .*darwin-arm64 \(onnxruntime-node ships no darwin-x64 binaries\)/);
  });
});

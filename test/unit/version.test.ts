/**
 * The version lives in package.json only: esbuild injects it (`__CONCERT_VERSION__`, esbuild.mjs) and the sources
 * read it as CONCERT_VERSION (src/protocol/version.ts). The CLI's `--version` is checked in test/worker/cli.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|js|mjs|cjs)$/.test(name) ? [p] : [];
  });
}

describe('version in one place', () => {
  it("no source repeats package.json's version", () => {
    const literal = new RegExp(`['"\`]v?${version.replace(/\./g, '\\.')}['"\`]`);
    const repeats = ['src', 'webview', 'bin'].flatMap(files).filter((f) => literal.test(readFileSync(f, 'utf8')));
    assert.deepEqual(repeats, [], `these files spell out ${version}: import CONCERT_VERSION from src/protocol/version.ts`);
  });

  it('the build defines __CONCERT_VERSION__ from package.json', () => {
    const build = readFileSync('esbuild.mjs', 'utf8');
    assert.match(build, /__CONCERT_VERSION__: JSON\.stringify\(version\)/);
    assert.match(build, /const version = JSON\.parse\(readFileSync\('package\.json', 'utf8'\)\)\.version;/);
  });

  it('sources run without a build say so instead of guessing', async () => {
    const { CONCERT_VERSION } = await import('../../src/protocol/version');
    assert.equal(CONCERT_VERSION, '0.0.0-unbundled');
  });
});

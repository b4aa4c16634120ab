/** The `concert` command as a user runs it: a real process, real worker, real packs. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bigramPack, tempDir } from '../helpers/packs';
import { requireBuild } from '../helpers/worker';

let tmp: ReturnType<typeof tempDir>;
before(() => {
  requireBuild();
  tmp = tempDir();
  bigramPack(tmp.dir, 'cli-pack');
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);

describe('concert CLI', () => {
  it('doctor --json lists cpu as available and chosen, and the model packs', () => {
    const r = concert('doctor', '--json', '--models', tmp.dir);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.ok(report.provider.available.some((p: { name: string }) => p.name === 'cpu'));
    assert.equal(report.provider.chosen, 'cpu');
    const pack = report.packs.find((p: { id: string }) => p.id === 'cli-pack');
    assert.equal(pack.valid, true);
    assert.equal(pack.source, 'user');
    assert.match(report.versions.onnxruntime, /^\d+\.\d+\.\d+/);
  });

  it("--version and doctor report package.json's version (injected by the build)", () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const v = concert('--version');
    assert.equal(v.code, 0, v.err);
    assert.equal(v.out.trim(), version);
    const r = concert('doctor', '--json', '--models', tmp.dir);
    assert.equal(JSON.parse(r.out).versions.concert, version);
  });

  it('doctor prints a readable report', () => {
    const r = concert('doctor', '--models', tmp.dir, '--device', 'cpu');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Requested: cpu → using cpu: CPU/);
    assert.match(r.out, /✓ cli-pack {2}\[causal-lm, user,/);
  });

  it('selftest runs a pack and reports timing as JSON', () => {
    const r = concert('selftest', 'cli-pack', '--steps', '3', '--json', '--models', tmp.dir);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.stepsRun, 3);
    assert.equal(j.provider, 'cpu');
  });

  for (const [name, args, code, pattern] of [
    ['unknown command', ['summon'], 2, /unknown command "summon"/],
    ['bad device', ['doctor', '--device', 'tpu'], 2, /--device must be one of auto, webgpu, cuda, dml, coreml, cpu/],
    ['unknown option', ['doctor', '--frobnicate'], 2, /Unknown option '--frobnicate'/],
    ['bad number', ['selftest', 'cli-pack', '--steps', 'many'], 2, /--steps must be an integer/],
    ['missing pack', ['selftest', 'no-such-pack'], 2, /no model pack "no-such-pack"/],
    ['missing argument', ['selftest'], 2, /selftest needs exactly one pack id/],
    ['missing models folder', ['doctor', '--models', '/nonexistent/folder', '--json'], 0, /^$/],
  ] as const) {
    it(`${name}: exit ${code}, one line, no stack trace`, () => {
      const r = concert(...args);
      assert.equal(r.code, code, r.err + r.out);
      if (code !== 0) {
        assert.ok(oneLine(r.err), `stderr should be one line: ${r.err}`);
        assert.match(r.err, /^concert: /);
      }
      assert.match(r.err.trim(), pattern);
    });
  }

  it('validate loads every graph of the packs it is given and exits 1 on a broken one', () => {
    const ok = concert('validate', path.join(tmp.dir, 'cli-pack'), '--json');
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(
      JSON.parse(ok.out).packs.map((p: { id: string; valid: boolean }) => [p.id, p.valid]),
      [['cli-pack', true]],
    );
    const broken = bigramPack(path.join(tmp.dir, 'broken'), 'broken-pack', (m) => {
      (m.io as Record<string, { outputs: { name: string }[] }>).decoder!.outputs[0]!.name = 'scores';
    });
    const bad = concert('validate', broken);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /✗ broken-pack .*I\/O mismatch/);
    assert.equal(concert('validate').code, 2);
  });

  it('a missing models folder is reported as an invalid entry, not a crash', () => {
    const r = concert('doctor', '--models', '/nonexistent/folder', '--json');
    const report = JSON.parse(r.out);
    const entry = report.packs.find((p: { source: string; valid: boolean }) => p.source === 'user');
    assert.equal(entry.valid, false);
    assert.match(entry.error, /model folder \/nonexistent\/folder does not exist/);
  });
});

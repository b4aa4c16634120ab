/**
 * Issue #17: one classifier pack that cannot be loaded must not break every `generate`: classifiers are loaded only
 * for the attributes a run asks for (and for the final scores, where a broken one is left out), and the model listing
 * says which packs had their graphs loaded, and that a graph that failed to load makes the pack invalid.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DiffusionRunResult, PackSummary } from '../../src/protocol/worker';
import { tempDir } from '../helpers/packs';
import { Requests } from '../../src/protocol/worker';
import { requireBuild, startClient } from '../helpers/worker';

let tmp: ReturnType<typeof tempDir>;
let extra: string;
before(() => {
  requireBuild();
  tmp = tempDir();
  extra = path.join(tmp.dir, 'packs');
  // A copy of the bundled style classifier whose labels are unusable: every static check passes, loading fails.
  const src = path.resolve('models/concert-clf-style');
  const dst = path.join(extra, 'broken-clf');
  mkdirSync(dst, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(src, 'concert.json'), 'utf8'));
  for (const f of Object.keys(manifest.files)) copyFileSync(path.join(src, f), path.join(dst, f));
  manifest.id = 'broken-clf';
  manifest.knobs = { ...manifest.knobs, attribute: 'broken', labels: ['only-one'] };
  writeFileSync(path.join(dst, 'concert.json'), JSON.stringify(manifest, null, 2));
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args, '--models', extra, '--device', 'cpu', '--threads', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('classifier packs are loaded lazily and fail alone (#17)', () => {
  it('generate without --attribute works with a broken classifier installed; its scores are left out', () => {
    const r = concert('generate', '--prompt', 'The weather today', '--tokens', '8', '--steps', '2', '--seed', '1', '--json');
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as DiffusionRunResult;
    const attrs = out.attributes.map((a) => a.attribute);
    assert.ok(attrs.includes('sentiment') && attrs.includes('style'), `the working classifiers still score: ${attrs.join(', ')}`);
    assert.ok(!attrs.includes('broken'));
    const steered = concert(
      'generate',
      '--prompt',
      'The weather today',
      '--tokens',
      '8',
      '--steps',
      '2',
      '--seed',
      '1',
      '--attribute',
      'sentiment=positive',
      '--json',
    );
    assert.equal(steered.code, 0, steered.err);
  });

  it('steering with the broken classifier names the pack and the problem', () => {
    const r = concert('generate', '--prompt', 'The weather today', '--tokens', '8', '--steps', '2', '--attribute', 'broken=only-one');
    assert.equal(r.code, 1);
    assert.match(r.err, /the broken classifier cannot be used: Model pack "broken-clf": knobs\.labels must list the class names/);
  });

  it('the listing says the graphs were not loaded yet, and validate loads them', () => {
    const r = concert('models', '--json');
    assert.equal(r.code, 0, r.err);
    const packs = (JSON.parse(r.out) as { packs: PackSummary[] }).packs;
    const broken = packs.find((p) => p.id === 'broken-clf')!;
    assert.equal(broken.valid, true);
    assert.equal(broken.graphsLoaded, false);
    const human = concert('models');
    assert.match(human.out, /✓ broken-clf .*graphs not loaded yet/);
    assert.match(human.out, /concert validate <folder>" also loads the graphs/);
    const v = concert('validate', extra, '--json');
    const checked = (JSON.parse(v.out) as { packs: PackSummary[] }).packs;
    assert.equal(checked[0]!.graphsLoaded, true);
  });

  it('in a long-lived worker, a classifier that failed to load is listed as invalid, as validate says', async () => {
    const { client } = startClient({ bundledModelsDir: path.resolve('models'), modelFolders: [extra] });
    try {
      await assert.rejects(
        client.request(Requests.diffusionRun, {
          mode: 'generate',
          prompt: 'The weather',
          maxTokens: 8,
          steps: 2,
          attributes: [{ attribute: 'broken', label: 'only-one', lambda: 1 }],
        }),
        /broken-clf/,
      );
      const broken = (await client.request0(Requests.listPacks)).find((p) => p.dir.endsWith('broken-clf'))!;
      assert.equal(broken.valid, false);
      assert.match(broken.error!, /knobs\.labels must list the class names/);
    } finally {
      await client.stop();
    }
  });
});

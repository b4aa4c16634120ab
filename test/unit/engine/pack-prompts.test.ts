// The one cached loader of a pack's prompts.json (src/runtime/prompts.ts), shared by the diffusion and collaboration
// jobs: read, checked and parsed once per (pack folder, manifest hash), not on every run.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import type { PackManifest } from '../../../src/runtime/manifest';
import { clearPackPromptCache, loadPackPrompts } from '../../../src/runtime/prompts';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'concert-prompts-')));
after(() => rmSync(dir, { recursive: true, force: true }));

const promptsText = (word: string) => JSON.stringify({ version: 1, prompts: { lm: { prompt: [{ special: '<s>' }, { text: word }] } } });
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Writes prompts.json and returns a pack object whose manifest lists exactly these bytes. */
function pack(text: string, manifestSha256: string) {
  writeFileSync(join(dir, 'prompts.json'), text);
  const manifest = {
    id: 'p',
    prompts: 'prompts.json',
    files: { 'prompts.json': { sha256: sha(text), bytes: Buffer.byteLength(text) } },
  } as unknown as PackManifest;
  return { dir, manifest, manifestSha256 };
}

describe('loadPackPrompts', () => {
  beforeEach(() => clearPackPromptCache());

  it('reads and parses once per pack folder and manifest hash, also for a pack object discovered again', async () => {
    const first = pack(promptsText('aaaa'), 'm1');
    const a = await loadPackPrompts(first);
    assert.deepEqual(a?.prompts['lm']?.prompt, [{ special: '<s>' }, { text: 'aaaa' }]);
    // The file changes on disk behind the manifest's back (same size): a re-read would fail its sha256 check.
    writeFileSync(join(dir, 'prompts.json'), promptsText('bbbb'));
    const again = await loadPackPrompts({ ...first, manifest: { ...first.manifest } });
    assert.equal(again, a, 'the same parsed object, not a second read');
  });

  it('reads again for another manifest hash and keeps no failure', async () => {
    const p1 = pack(promptsText('aaaa'), 'm1');
    await loadPackPrompts(p1);
    writeFileSync(join(dir, 'prompts.json'), promptsText('bbbb'));
    // Another manifest hash (still listing the old bytes) is another key: it is read, and fails the digest check.
    await assert.rejects(loadPackPrompts({ ...p1, manifestSha256: 'm2' }), /sha256/);
    // The failure was not cached: once the file matches again, the same key loads.
    writeFileSync(join(dir, 'prompts.json'), promptsText('aaaa'));
    const ok = await loadPackPrompts({ ...p1, manifestSha256: 'm2' });
    assert.deepEqual(ok?.prompts['lm']?.prompt[1], { text: 'aaaa' });
  });

  it('gives undefined for a pack without prompt templates, without reading anything', async () => {
    const p = pack(promptsText('aaaa'), 'm3');
    assert.equal(await loadPackPrompts({ ...p, manifest: { ...p.manifest, prompts: undefined } as unknown as PackManifest }), undefined);
  });
});

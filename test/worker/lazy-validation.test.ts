/**
 * Issue #18 (P7): a request validates in full only the pack it uses. The worker lists the installed packs with a
 * `listing` check (manifest, and each file's place, kind and size, nothing read) and checks a pack's contents when it
 * is chosen: a pack whose contents are not what its manifest says is skipped for the next valid one of its kind, or
 * refused by name when asked for, and the listing then says it is invalid.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Requests, WorkerErrorCode } from '../../src/protocol/worker';
import type { WorkerError } from '../../src/worker/client';
import { tempDir } from '../helpers/packs';
import { requireBuild, startClient } from '../helpers/worker';

let tmp: ReturnType<typeof tempDir>;
let folder: string;

/** A copy of the bundled causal LM under another id; `corrupt` flips the graph's last byte (same size, same listing). */
function lmCopy(id: string, corrupt: boolean): void {
  const src = path.resolve('models/concert-lm-small');
  const dst = path.join(folder, id);
  mkdirSync(dst, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(src, 'concert.json'), 'utf8'));
  for (const f of Object.keys(manifest.files)) copyFileSync(path.join(src, f), path.join(dst, f));
  manifest.id = id;
  writeFileSync(path.join(dst, 'concert.json'), JSON.stringify(manifest, null, 2));
  if (corrupt) {
    const onnx = path.join(dst, manifest.graphs.decoder);
    const bytes = readFileSync(onnx);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(onnx, bytes);
  }
}

before(() => {
  requireBuild();
  tmp = tempDir();
  folder = path.join(tmp.dir, 'models');
  // Folders are taken in name order: the corrupt copy comes first.
  lmCopy('aa-corrupt-lm', true);
  lmCopy('bb-good-lm', false);
});
after(() => tmp.cleanup());

const DOC = 'The ferry leaves the harbour at seven. On Sundays it waits for the first train from the city.';

describe('packs are checked in full only when used (#18 P7)', { timeout: 120_000 }, () => {
  it('a corrupt pack is skipped for the next valid one of its kind, refused by name, and listed as invalid', async () => {
    const { client } = startClient({ bundledModelsDir: folder });
    try {
      const run = await client.request(Requests.cadRun, { task: 'summarize', document: DOC, maxTokens: 4, progressToken: 'p', decoding: { mode: 'greedy' } });
      assert.equal(run.model.id, 'bb-good-lm', 'the first valid causal-lm pack answered');
      await assert.rejects(
        client.request(Requests.cadRun, { task: 'summarize', document: DOC, maxTokens: 4, progressToken: 'q', packId: 'aa-corrupt-lm' }),
        (e: WorkerError) => {
          assert.equal(e.code, WorkerErrorCode.PackInvalid);
          assert.match(e.message, /Model pack "aa-corrupt-lm": file "model\.onnx" has sha256 .* \(corrupt or modified\)/);
          return true;
        },
      );
      const listed = await client.request0(Requests.listPacks);
      assert.deepEqual(
        listed.map((p) => [p.id, p.valid]),
        [
          ['aa-corrupt-lm', false],
          ['bb-good-lm', true],
        ],
      );
    } finally {
      await client.stop();
    }
  });
});

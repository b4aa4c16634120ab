/**
 * Issue #17: pack validation streams its hashes and caches verdicts by (device, inode, size, mtime, ctime) for the
 * worker's lifetime; a changed file is validated again; graphs are still re-read and re-hashed before loading.
 */
import assert from 'node:assert/strict';
import { promises as fsp, readFileSync, unlinkSync, utimesSync, writeFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { forgetPackVerdicts, readPackFile, validatePack, type PackError } from '../../src/runtime/packs';
import { bigramPack, tempDir } from '../helpers/packs';

let tmp: ReturnType<typeof tempDir>;
let dir: string;
before(() => {
  tmp = tempDir();
  dir = bigramPack(path.join(tmp.dir, 'packs'), 'tiny-bigram');
});
after(() => tmp.cleanup());

/** Counts fs.promises.readFile calls made while `fn` runs. */
async function readsDuring(fn: () => Promise<unknown>): Promise<number> {
  const original = fsp.readFile;
  let n = 0;
  (fsp as { readFile: unknown }).readFile = (...args: Parameters<typeof fsp.readFile>) => (n++, original(...args));
  try {
    await fn();
  } finally {
    (fsp as { readFile: unknown }).readFile = original;
  }
  return n;
}

describe('pack validation cache (#17)', () => {
  it('a second validation of an unchanged pack reads no file; a changed file is validated again', async () => {
    forgetPackVerdicts();
    assert.ok((await readsDuring(() => validatePack(dir, 'user'))) > 0);
    assert.equal(await readsDuring(() => validatePack(dir, 'user')), 0, 'the cached verdict was used');
    // Same size, same mtime, one byte changed: ctime moves, so the pack is checked again and refused.
    const onnx = path.join(dir, 'model.onnx');
    const st = statSync(onnx);
    const bytes = readFileSync(onnx);
    const last = bytes.length - 1;
    bytes[last] = bytes[last]! ^ 0xff;
    writeFileSync(onnx, bytes);
    utimesSync(onnx, st.atime, st.mtime);
    await assert.rejects(validatePack(dir, 'user'), (e: PackError) => /sha256 .* \(corrupt or modified\)/.test(e.message));
    // The refusal is cached too, until the file changes back.
    assert.equal(await readsDuring(() => validatePack(dir, 'user').catch(() => undefined)), 0);
    bytes[last] = bytes[last]! ^ 0xff;
    writeFileSync(onnx, bytes);
    const pack = await validatePack(dir, 'user');
    // Loading still re-reads and re-hashes (readPackFile), whatever the cache says.
    writeFileSync(onnx, Buffer.from(bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 0xff : b))));
    await assert.rejects(readPackFile(pack, 'model.onnx'), /corrupt or modified/);
  });

  it('a listing check reads no file; it passes changed contents and fails a missing file; a full check after it reads and refuses (#18)', async () => {
    const own = bigramPack(path.join(tmp.dir, 'listing'), 'listing-bigram');
    forgetPackVerdicts();
    assert.equal(await readsDuring(() => validatePack(own, 'user', undefined, {}, 'listing')), 1, 'the manifest only');
    // A full check is not answered by the listing verdict: it reads the files (and is cached in turn).
    assert.ok((await readsDuring(() => validatePack(own, 'user'))) > 1);
    assert.equal(await readsDuring(() => validatePack(own, 'user', undefined, {}, 'listing')), 0, 'the full verdict answers a listing check');
    const onnx = path.join(own, 'model.onnx');
    const bytes = readFileSync(onnx);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(onnx, bytes);
    const listed = await validatePack(own, 'user', undefined, {}, 'listing');
    assert.equal(listed.manifest.id, 'listing-bigram', 'same size: the listing cannot tell');
    await assert.rejects(validatePack(own, 'user'), (e: PackError) => /file "model\.onnx" has sha256 .* \(corrupt or modified\)/.test(e.message));
    unlinkSync(path.join(own, 'MODEL_CARD.md'));
    await assert.rejects(validatePack(own, 'user', undefined, {}, 'listing'), (e: PackError) => /file "MODEL_CARD\.md" is missing/.test(e.message));
  });
});

/**
 * Issue #17: `concert ask` with documents of hundreds of thousands of characters and with a very long question, on
 * the bundled causal LM: one-line messages that say what is too long, never "Maximum call stack size exceeded".
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/packs';
import { requireBuild } from '../helpers/worker';

let tmp: ReturnType<typeof tempDir>;
before(() => {
  requireBuild();
  tmp = tempDir();
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args, '--device', 'cpu', '--threads', '1'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('long inputs to concert ask (#17)', () => {
  it('a 600k-character document gets "select the passage", not a stack overflow', () => {
    const doc = path.join(tmp.dir, 'd.txt');
    writeFileSync(doc, 'The harbour cafe opens at eight and serves bread, soup and coffee to the fishermen. '.repeat(7200));
    const r = concert('ask', '--context', doc, '--question', 'what is it');
    assert.equal(r.code, 2, r.err);
    assert.doesNotMatch(r.err, /call stack/);
    assert.match(r.err, /the document has about \d+ tokens but model "concert-lm-small" reads at most \d+ with this question; select the passage that matters/);
  });

  it('a 100k-character question is called too long, not "lower the max tokens"', () => {
    const doc = path.join(tmp.dir, 'short.txt');
    writeFileSync(doc, 'The cafe opens at eight.');
    const r = concert('ask', '--context', doc, '--question', 'why '.repeat(25_000));
    assert.equal(r.code, 2, r.err);
    assert.doesNotMatch(r.err, /lower the max tokens/);
    assert.match(
      r.err,
      /the question is too long for model "concert-lm-small": it has about \d+ tokens and the model reads at most \d+, prompt and document included; shorten the question/,
    );
  });
});

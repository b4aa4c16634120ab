/**
 * Issue #17: `concert ask` with documents of hundreds of thousands of characters and with a very long question, on
 * the bundled causal LM: an answer from the passage the question is about, or a one-line message that says what is
 * too long, never "Maximum call stack size exceeded".
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
  it('a 600k-character document is answered from the passage that matches the question, not a stack overflow', () => {
    const doc = path.join(tmp.dir, 'd.txt');
    const filler = 'The harbour cafe opens at eight and serves bread, soup and coffee to the fishermen.\n';
    writeFileSync(doc, `${filler.repeat(3600)}\nThe lighthouse keeper is called Ingrid Malmo.\n\n${filler.repeat(3600)}`);
    const r = concert('ask', '--context', doc, '--question', 'Who is the lighthouse keeper?', '--json');
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /call stack/);
    const out = JSON.parse(r.out) as { answer: string; passages: { firstLine: number; lastLine: number; score: number }[] };
    // The one line that shares the question's words is what the model read, wherever it is in the document.
    assert.deepEqual(
      out.passages.map((p) => [p.firstLine, p.lastLine]),
      [[3602, 3602]],
    );
    assert.ok(out.passages[0]!.score > 0);
    assert.ok(out.answer.length > 0 && 'The lighthouse keeper is called Ingrid Malmo.'.includes(out.answer), out.answer);
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

/**
 * `concert rewrite` and `concert generate` as a user runs them (issue #21): a real process, the real worker and the
 * bundled diffusion and classifier packs. Rewrites with nothing before them, of several paragraphs and longer than
 * the model's window; continuations after a full stop with a minimum of new tokens.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import type { DiffusionRunResult } from '../../src/protocol/worker';
import { requireBuild } from '../helpers/worker';

const CORE = path.resolve('models/concert-ssd-core');

before(() => {
  requireBuild();
  assert.ok(existsSync(path.join(CORE, 'concert.json')), `the bundled diffusion pack is missing at ${CORE}`);
});

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function run(...args: string[]): DiffusionRunResult {
  const r = concert(...args, '--json', '--device', 'cpu', '--threads', '1');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as DiffusionRunResult;
}

/** How many tokens the model reads for `text` (as the worker encodes it: after a space). */
function tokenCount(text: string): number {
  const r = concert('tokenize', 'concert-ssd-core', ` ${text}`, '--json');
  assert.equal(r.code, 0, r.err);
  return (JSON.parse(r.out) as { ids: number[] }).ids.length;
}

const COMPLAINT = 'The food at the harbour cafe was cold and the waiter ignored us for twenty minutes.';

describe('concert rewrite / generate with the bundled diffusion pack', () => {
  it('rewrite --prefix "" (nothing before the text) writes a rewrite of the same length', () => {
    const r = run('rewrite', '--prefix', '', '--text', COMPLAINT, '--attribute', 'sentiment=positive', '--steps', '10', '--seed', '1');
    assert.equal(r.mode, 'rewrite');
    assert.ok(r.text.trim().length > 0, 'a rewrite came back');
    assert.equal(r.tokens.length, tokenCount(COMPLAINT), 'a rewrite keeps the length of the original');
    assert.ok(r.attributes.some((a) => a.attribute === 'sentiment' && a.target === 'positive'));
    // Leaving --prefix out is the same request.
    const same = run('rewrite', '--text', COMPLAINT, '--attribute', 'sentiment=positive', '--steps', '10', '--seed', '1');
    assert.equal(same.text, r.text);
  });

  it('rewrites text longer than the model’s window (it slides), keeping its length', () => {
    const sentence = 'The shop on the corner sells fresh bread every morning, and the baker knows everyone in the street by name.';
    const long = Array(7).fill(sentence).join(' ');
    const n = tokenCount(long);
    assert.ok(n > 128, `the text is longer than the 128-token window (${n} tokens)`);
    const r = run('rewrite', '--prefix', 'Our street.', '--text', long, '--steps', '4', '--seed', '2');
    assert.equal(r.tokens.length, n);
    assert.ok(r.text.length > sentence.length);
  });

  it('rewrites several paragraphs one by one and keeps the paragraph breaks', () => {
    const text = 'The bus was late again this morning.\n\nI stood in the rain for half an hour.\n\nNobody told us anything.';
    const r = run('rewrite', '--text', text, '--steps', '6', '--seed', '3');
    const parts = r.text.split('\n\n');
    assert.equal(parts.length, 3, JSON.stringify(r.text));
    for (const p of parts) assert.ok(p.trim().length > 0 && !p.includes('\n'), JSON.stringify(r.text));
  });

  it('generate after a full stop writes at least --min-tokens new tokens', () => {
    const prompt = 'We walked along the river after dinner. The evening was warm and quiet.';
    for (const seed of ['1', '2', '3']) {
      const r = run('generate', '--prompt', prompt, '--min-tokens', '8', '--tokens', '24', '--steps', '10', '--seed', seed);
      assert.ok(r.tokens.length >= 8, `seed ${seed}: ${r.tokens.length} tokens (${JSON.stringify(r.text)})`);
      assert.ok(r.text.trim().length > 0);
      assert.equal(r.run.knobs.minTokens, 8);
    }
    // Without a minimum the bundled model usually ends right after a full stop; with one above the budget it writes the budget.
    const whole = run('generate', '--prompt', prompt, '--min-tokens', '40', '--tokens', '12', '--steps', '5', '--seed', '1');
    assert.equal(whole.tokens.length, 12);
    assert.equal(whole.stoppedBy, 'max-tokens');
  });

  it('refuses a bad --min-tokens with the allowed range', () => {
    const r = concert('generate', '--prompt', 'Hello.', '--min-tokens', 'some');
    assert.equal(r.code, 2);
    assert.match(r.err, /--min-tokens must be an integer from 0 to 512/);
  });
});

/** CLI argument messages (#17): negative numbers, the top-p range, values that start with "-". */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError, joinNegativeValues, parseCli } from '../../src/cli/args';

const parse = (...argv: string[]) => parseCli(argv, {}, '/tmp/dist');

describe('concert argument parsing (#17)', () => {
  it('--tokens -1 gets the range, not "argument is ambiguous"', () => {
    assert.throws(
      () => parse('generate', '--prompt', 'x', '--tokens', '-1'),
      (e: Error) => e instanceof UsageError && e.message === '--tokens must be an integer from 1 to 512 (got "-1")',
    );
    assert.throws(() => parse('ask', '--alpha', '-0.5'), /--alpha must be a number from 0 to 10 \(got "-0.5"\)/);
    assert.deepEqual(joinNegativeValues(['--seed', '-3', '--json', '-h']), ['--seed=-3', '--json', '-h']);
  });

  it('--top-p out of range says "greater than 0 and at most 1"', () => {
    for (const v of ['2', '0', '-1'])
      assert.throws(() => parse('ask', '--top-p', v), new RegExp(`--top-p must be a number greater than 0 and at most 1 \\(got "${v}"\\)$`));
    assert.equal(parse('ask', '--top-p', '0.5').cad.decoding?.mode, 'sample');
  });

  it('--plausibility β is a number from 0 to 1 and --adaptive a switch, for summarize and ask (#16)', () => {
    for (const v of ['-0.1', '1.5', 'x', ''])
      assert.throws(
        () => parse('ask', '--plausibility', v),
        (e: Error) => e instanceof UsageError && e.message === `--plausibility must be a number from 0 to 1 (got "${v}")`,
      );
    assert.deepEqual(parse('summarize', '--plausibility', '0.1', '--adaptive').cad, { plausibility: 0.1, adaptive: true });
    assert.deepEqual(parse('ask', '--plausibility=0').cad, { plausibility: 0 });
    assert.deepEqual(parse('ask').cad, {});
  });

  it('--extractive / --no-extractive set the answer form; both at once is a usage error (#16)', () => {
    assert.deepEqual(parse('ask', '--no-extractive').cad, { extractive: false });
    assert.deepEqual(parse('summarize', '--extractive').cad, { extractive: true });
    assert.throws(
      () => parse('ask', '--extractive', '--no-extractive'),
      (e: Error) => e instanceof UsageError && /either --extractive or --no-extractive/.test(e.message),
    );
  });

  it('a text value that starts with "-" says how to pass it', () => {
    assert.throws(
      () => parse('rewrite', '--text', 'x', '--prefix', '-hello'),
      /argument is ambiguous: to give a value that starts with "-", write --prefix=-text$/,
    );
    assert.equal(parse('rewrite', '--text', 'x', '--prefix=-hello').diffusion.prefix, '-hello');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extendMask, leftPad } from '../../src/runtime/padding';

const big = (xs: number[]) => BigInt64Array.from(xs, (x) => BigInt(x));

describe('left padding of token rows', () => {
  it('right-aligns rows of different lengths behind the pad id, masks the padding and counts positions per row', () => {
    const p = leftPad([Int32Array.from([5, 6, 7]), Int32Array.from([9])], 0);
    assert.equal(p.length, 3);
    assert.deepEqual(p.ids, big([5, 6, 7, 0, 0, 9]));
    assert.deepEqual(p.mask, big([1, 1, 1, 0, 0, 1]));
    assert.deepEqual(p.pos, big([0, 1, 2, 0, 0, 0]));
  });

  it('leaves rows of equal length unpadded and uses the given pad id', () => {
    const p = leftPad(
      [
        [1, 2],
        [3, 4],
      ],
      42,
    );
    assert.equal(p.length, 2);
    assert.deepEqual(p.ids, big([1, 2, 3, 4]));
    assert.deepEqual(p.mask, big([1, 1, 1, 1]));
    assert.deepEqual(p.pos, big([0, 1, 0, 1]));
    assert.deepEqual(leftPad([[7], [8, 9]], 42).ids, big([42, 7, 8, 9]));
  });
});

describe('mask extension', () => {
  it('appends ones to every row and keeps the padding', () => {
    const mask = big([0, 1, 1, 1, 1, 1]); // 2 rows of 3
    assert.deepEqual(extendMask(mask, 2, 3, 1), big([0, 1, 1, 1, 1, 1, 1, 1]));
    assert.deepEqual(extendMask(mask, 2, 3, 2), big([0, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
    assert.deepEqual(extendMask(mask, 2, 3, 0), mask);
  });

  it('extends a padded batch like padding the longer rows would', () => {
    const before = leftPad([[1, 2, 3], [4]], 0);
    const after = leftPad(
      [
        [1, 2, 3, 5],
        [4, 6],
      ],
      0,
    );
    assert.deepEqual(extendMask(before.mask, 2, before.length, 1), after.mask);
  });
});

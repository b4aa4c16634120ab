import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng, SeededNoise, uniformAt } from '../../src/engine/random';

describe('seeded randomness', () => {
  it('is deterministic per (seed, stream, index) and differs across seeds and streams', () => {
    assert.equal(uniformAt(1, 2, 3), uniformAt(1, 2, 3));
    assert.notEqual(uniformAt(1, 2, 3), uniformAt(2, 2, 3));
    assert.notEqual(uniformAt(1, 2, 3), uniformAt(1, 3, 3));
    const a = new Rng(42);
    const b = new Rng(42);
    assert.deepEqual(
      Array.from({ length: 5 }, () => a.next()),
      Array.from({ length: 5 }, () => b.next()),
    );
  });
  it('uniforms are in [0, 1) with a plausible mean and variance', () => {
    const r = new Rng(7);
    const xs = Array.from({ length: 20000 }, () => r.next());
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 0.005, `variance ${variance}`);
  });
  it('gaussian noise has the requested std and is addressable by (block, step)', () => {
    const n = new SeededNoise(3);
    const a = new Float32Array(40001);
    n.gaussian(a, 5, { block: 0, step: 10 });
    const mean = a.reduce((s, x) => s + x, 0) / a.length;
    const std = Math.sqrt(a.reduce((s, x) => s + (x - mean) ** 2, 0) / a.length);
    assert.ok(Math.abs(mean) < 0.1, `mean ${mean}`);
    assert.ok(Math.abs(std - 5) < 0.1, `std ${std}`);
    const again = new Float32Array(40001);
    n.gaussian(again, 5, { block: 0, step: 10 });
    assert.deepEqual(again, a);
    const other = new Float32Array(40001);
    n.gaussian(other, 5, { block: 0, step: 9 });
    assert.notDeepEqual(other, a);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartPolicy } from '../../src/worker/restartPolicy';

describe('worker restart policy', () => {
  it('restarts with growing delays and gives up at the fifth crash within three minutes', () => {
    const p = new RestartPolicy();
    const t0 = 1_000_000;
    const d = [0, 1, 2, 3, 4].map((i) => p.recordCrash(t0 + i * 1000));
    assert.deepEqual(
      d.map((x) => x.restart),
      [true, true, true, true, false],
    );
    assert.deepEqual(
      d.slice(0, 4).map((x) => x.delayMs),
      [500, 1000, 2000, 4000],
    );
    assert.equal(d[4]!.crashesInWindow, 5);
  });
  it('forgets crashes older than the window', () => {
    const p = new RestartPolicy();
    for (let i = 0; i < 4; i++) p.recordCrash(i * 60_000); // 0, 1, 2, 3 minutes
    const late = p.recordCrash(4 * 60_000 + 30_000); // crashes at 0 and 1 minute are now outside the window
    assert.equal(late.restart, true);
    assert.equal(late.crashesInWindow, 3);
  });
  it('caps the delay', () => {
    const p = new RestartPolicy(100, 60_000, 500, 3000);
    let last = 0;
    for (let i = 0; i < 10; i++) last = p.recordCrash(i).delayMs;
    assert.equal(last, 3000);
  });
});

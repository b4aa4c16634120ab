/**
 * Issue #17, the short soak (the long one is `node --import tsx bench/reliability/soak.ts`, 10 minutes): two real
 * `concert serve` processes on loopback, side by side for 15 s, each under 8 concurrent clients mixing collaboration
 * steps (dense and sparse OIP infer requests), health checks and cancellations. The normal server must answer every
 * request (0 errors) without its RSS growing more than 100 MB after warm-up (the 10-minute soak holds 50 MB); the control server leaks on purpose
 * (CONCERT_TEST_LEAK_BYTES_PER_REQUEST), and the same RSS check must flag it. Neither may leave a process behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RSS_GROWTH_GOAL_MB, runSoak, type SoakResult } from '../../bench/reliability/soak';
import { requireBuild } from '../helpers/worker';

const SECONDS = 15;
/**
 * The short run's bound on the normal server's growth. 15 s at ~130 requests/s on an idle machine is still the
 * settling time of ONNX Runtime's arena, V8's heap and the server's bounded per-client state (52 MB seen once on an
 * idle 2-core VM); the 10-minute soak holds the real goal (RSS_GROWTH_GOAL_MB, docs/reliability.md: +1 MB). The leak
 * control keeps 2 MB per request, gigabytes in 15 s, so it is caught far above this bound as well.
 */
const SHORT_SOAK_GROWTH_MB = 2 * RSS_GROWTH_GOAL_MB;

describe('soak (#17, short)', { timeout: 180_000 }, () => {
  it('8 clients for 15 s: 0 errors and flat memory; the deliberately leaking control is caught', {
    skip: process.platform !== 'linux' && 'RSS is read from /proc',
  }, async () => {
    requireBuild();
    const common = { seconds: SECONDS, clients: 8, threads: 1, seed: 17, leakBytes: 2 * 1024 * 1024, growthGoalMb: SHORT_SOAK_GROWTH_MB };
    const [normal, leaking] = await Promise.all([runSoak({ ...common, leakControl: false }), runSoak({ ...common, leakControl: true })]);
    const show = (r: SoakResult) => JSON.stringify(r.stats);
    for (const r of [normal, leaking]) {
      assert.equal(r.stats.errors, 0, `errors: ${show(r)}`);
      assert.ok(r.stats.inferRequests > 50, `too few infer requests to judge: ${show(r)}`);
      assert.ok(r.stats.cancelled > 0, `no cancellation was exercised: ${show(r)}`);
      assert.ok(r.stats.healthChecks > 0, `no health check: ${show(r)}`);
      assert.equal(r.stats.leftBehind, 0, 'a process was left after SIGTERM');
      assert.ok(r.stats.rssSamples >= 10, `too few RSS samples: ${show(r)}`);
    }
    assert.ok(normal.stats.rssGrowthMb <= SHORT_SOAK_GROWTH_MB, `the normal server grew ${normal.stats.rssGrowthMb} MB after warm-up: ${show(normal)}`);
    assert.ok(leaking.stats.rssGrowthMb > SHORT_SOAK_GROWTH_MB, `the leak control was not caught (${leaking.stats.rssGrowthMb} MB): ${show(leaking)}`);
    assert.ok(
      normal.rows.every((row) => row.ok),
      JSON.stringify(normal.rows),
    );
    assert.ok(
      leaking.rows.every((row) => row.ok),
      JSON.stringify(leaking.rows),
    );
  });
});

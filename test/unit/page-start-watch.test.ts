/**
 * PageStartWatch: a webview page that never says `ready` (VS Code's service worker missed it, so its script did not
 * load) is rendered again, a bounded number of times, only while it is on screen.
 */
import assert from 'node:assert/strict';
import { beforeEach, afterEach, describe, it, mock } from 'node:test';
import { PageStartWatch, pageStartSettings } from '../../src/extension/pageStartWatch';

function harness(o: { visible?: boolean; maxRetries?: number } = {}) {
  const events: string[] = [];
  let visible = o.visible ?? true;
  const watch = new PageStartWatch({
    timeoutMs: 1000,
    maxRetries: o.maxRetries ?? 2,
    render: () => events.push('render'),
    isVisible: () => visible,
    onRetry: (n) => events.push(`retry ${n}`),
    onGiveUp: () => events.push('give up'),
  });
  return { events, watch, setVisible: (v: boolean) => (visible = v) };
}

describe('PageStartWatch', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('renders once and does nothing more when the page says ready in time', () => {
    const { events, watch } = harness();
    watch.render();
    mock.timers.tick(999);
    watch.ready();
    mock.timers.tick(10_000);
    assert.deepEqual(events, ['render']);
  });

  it('renders a page that did not start again, then gives up after the retries', () => {
    const { events, watch } = harness({ maxRetries: 2 });
    watch.render();
    mock.timers.tick(1000);
    assert.deepEqual(events, ['render', 'retry 1', 'render']);
    mock.timers.tick(1000);
    mock.timers.tick(1000);
    assert.deepEqual(events, ['render', 'retry 1', 'render', 'retry 2', 'render', 'give up']);
    mock.timers.tick(10_000);
    assert.equal(events.length, 6, 'nothing after giving up');
  });

  it('a retried page that then starts stops the retries', () => {
    const { events, watch } = harness();
    watch.render();
    mock.timers.tick(1000);
    watch.ready();
    mock.timers.tick(10_000);
    assert.deepEqual(events, ['render', 'retry 1', 'render']);
  });

  it('does not count time while the page is hidden, and waits again when it is shown', () => {
    const h = harness({ visible: false });
    h.watch.render();
    mock.timers.tick(5000);
    assert.deepEqual(h.events, ['render'], 'a hidden page is not running: no retry');
    h.setVisible(true);
    h.watch.visibilityChanged(true);
    mock.timers.tick(999);
    assert.deepEqual(h.events, ['render']);
    mock.timers.tick(1);
    assert.deepEqual(h.events, ['render', 'retry 1', 'render']);
  });

  it('a page hidden before its time is up is not retried; shown again it must say ready again', () => {
    const h = harness();
    h.watch.render();
    h.watch.ready();
    h.setVisible(false);
    h.watch.visibilityChanged(false);
    mock.timers.tick(5000);
    h.setVisible(true);
    h.watch.visibilityChanged(true);
    h.watch.ready();
    mock.timers.tick(5000);
    assert.deepEqual(h.events, ['render']);
    h.watch.visibilityChanged(true);
    mock.timers.tick(1000);
    assert.deepEqual(h.events, ['render', 'retry 1', 'render'], 'a re-created page that stays silent is rendered again');
  });

  it('a retry count resets once the page starts', () => {
    const { events, watch } = harness({ maxRetries: 1 });
    watch.render();
    mock.timers.tick(1000);
    watch.ready();
    watch.visibilityChanged(true);
    mock.timers.tick(1000);
    assert.deepEqual(events, ['render', 'retry 1', 'render', 'retry 1', 'render']);
  });

  it('dispose stops the clock', () => {
    const { events, watch } = harness();
    watch.render();
    watch.dispose();
    mock.timers.tick(10_000);
    assert.deepEqual(events, ['render']);
  });

  it('the log lines name the page and say what to do (test/e2e/hygiene.ts reads them)', () => {
    const lines: string[] = [];
    const settings = pageStartSettings({ warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) }, 'Rewrite panel', 'close it');
    settings.onRetry(1);
    settings.onGiveUp();
    assert.deepEqual(lines, [
      'warn Rewrite panel: the page did not start in 15 s; rendering it again (1)',
      'error Rewrite panel: the page did not start; close it',
    ]);
    assert.deepEqual([settings.timeoutMs, settings.maxRetries], [15_000, 2]);
  });
});

/// <reference lib="dom" />
/**
 * The "Worker & Models" status view (webview/status, dist/webview/status.js) in headless Chromium, under the
 * extension's own CSP, with a fake host speaking the typed protocol of src/protocol/webview.ts. The host side
 * checks every message with the extension's own guard (isStatusViewToHost), so a message outside the protocol
 * fails the test that caused it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isStatusViewToHost } from '../../src/extension/statusMessages';
import { contentSecurityPolicy } from '../../src/extension/webviewHtml';
import type { HostToStatusView, StatusPackView, StatusViewState, StatusViewToHost } from '../../src/protocol/webview';
import { axControls, focusIsVisible, focusedKey, requireBundle, RESULTS, startSuite, tabOrder, toTop, withPage, type WebviewSuite } from './common';
import { FakeHost, VIEWS } from './harness';

type StatusHost = FakeHost<StatusViewToHost, HostToStatusView>;

const VALID: StatusPackView = {
  id: 'concert-lm-small',
  kind: 'causal-lm',
  source: 'bundled',
  valid: true,
  sizeBytes: 2_700_000,
  displayName: 'Concert small LM',
  dir: '/ext/models/concert-lm-small',
};
/** Untrusted text from a manifest: must reach the screen as text. */
const HOSTILE = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & "quoted" 'single'`;
const INVALID: StatusPackView = {
  id: 'broken-pack',
  kind: 'classifier',
  source: 'user',
  valid: false,
  error: `concert.json: unknown key "extra" ${HOSTILE}`,
  dir: '/home/user/packs/broken-pack',
};
const RUNNING: StatusViewState = {
  workerState: 'running',
  provider: { chosen: 'cpu', device: 'CPU (test machine), 2 threads', requested: 'auto', fallbackReasons: ['cuda: no CUDA runtime <libcudart.so>'] },
  packs: [VALID, INVALID],
  pid: 4242,
  loadedSessions: [],
  rssBytes: 88_000_000,
};
const keyOf = (p: StatusPackView) => `${p.id}@${p.dir ?? ''}`;

let suite: WebviewSuite;

async function open(page: Page, state?: unknown): Promise<StatusHost> {
  const host = await FakeHost.open<StatusViewToHost, HostToStatusView>(page, suite.harness, VIEWS.status, isStatusViewToHost, state);
  await host.waitFor('ready');
  return host;
}

async function show(host: StatusHost, state: StatusViewState): Promise<void> {
  await host.send({ type: 'state', state });
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText();

describe('status view (webview tier)', () => {
  before(async () => {
    requireBundle('status');
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it('handshakes with ready and waits for the host', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      assert.deepEqual(host.received[0], { type: 'ready' }, 'the first message is the ready handshake');
      assert.match(await page.locator('#app').innerText(), /Connecting to Concert/);
      await show(host, RUNNING);
      await page.locator('.pack').first().waitFor();
      assert.equal(host.received.filter((m) => m.type === 'ready').length, 1, 'ready is sent once per document');
    });
  });

  it("runs under the extension's CSP: nonce'd module script only, nothing from elsewhere", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator('.pack').first().waitFor();
      const nonce = suite.harness.nonce(host.sessionId);
      assert.ok(nonce);
      const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      assert.equal(csp, contentSecurityPolicy(suite.harness.origin, nonce), 'the page carries the policy webviewHtml() builds');
      assert.match(csp ?? '', /default-src 'none'/);
      assert.doesNotMatch(csp ?? '', /unsafe-(inline|eval)/);
      const scripts = await page
        .locator('script')
        .evaluateAll((els) =>
          els.map((e) => ({ nonce: (e as HTMLScriptElement).nonce, src: (e as HTMLScriptElement).src, inline: !(e as HTMLScriptElement).src })),
        );
      for (const s of scripts) {
        assert.equal(s.nonce, nonce, `script ${s.src || '(inline)'} has the page nonce`);
        assert.equal(s.inline, false, 'no inline script');
      }
    });
  });

  it('the CSP is really enforced: inline script and eval are blocked and reported (control for the violation check)', async () => {
    await withPage(
      suite,
      async (page) => {
        const host = await open(page);
        await show(host, RUNNING);
        const nonce = suite.harness.nonce(host.sessionId) ?? '';
        const outcome = await page.evaluate(
          async ([probe, n]) => {
            const inline = document.createElement('script');
            inline.textContent = 'window.__inlineRan = true;';
            document.body.append(inline);
            // eval from a script the page itself runs (a nonce'd one, so the script is allowed and only eval is at stake).
            const p = document.createElement('script');
            p.nonce = n;
            p.src = probe;
            await new Promise((resolve) => {
              p.onload = resolve;
              p.onerror = resolve;
              document.body.append(p);
            });
            const img = document.createElement('img');
            img.src = 'https://example.com/pixel.png';
            document.body.append(img);
            const w = window as unknown as { __inlineRan?: boolean; __evalProbe?: { eval: string; fn: string } };
            return { inlineRan: w.__inlineRan === true, evalProbe: w.__evalProbe };
          },
          [`${suite.harness.origin}/harness/eval-probe.js`, nonce] as const,
        );
        assert.deepEqual(outcome, { inlineRan: false, evalProbe: { eval: 'blocked', fn: 'blocked' } });
        await page.waitForTimeout(200);
        const v = suite.problems.cspViolations.join('\n');
        assert.match(v, /script-src/, 'the inline script was reported');
        assert.match(v, /script-src blocked eval/, 'eval was reported');
        assert.match(v, /img-src|example\.com/, 'the foreign image was reported');
        // The guard saw the attempt (CSP refusals still surface as requests that fail at once).
        assert.ok(
          suite.problems.foreignRequests.some((u) => u.includes('example.com')),
          'the guard records requests to other origins',
        );
        // Chromium logs each refusal as a console error too; all of this was provoked on purpose.
        suite.problems.consoleErrors.length = 0;
        suite.problems.foreignRequests.length = 0;
      },
      { expectCspViolations: true },
    );
  });

  it('renders worker state, provider, facts and fallback reasons', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator('.pack').first().waitFor();
      const worker = await text(page, 'section[aria-labelledby="worker-heading"]');
      assert.match(worker, /Running/);
      assert.match(worker, /Provider\s+cpu \(requested: auto\)/);
      assert.match(worker, /Device\s+CPU \(test machine\), 2 threads/);
      assert.match(worker, /Process\s+pid 4242/);
      assert.match(worker, /Loaded models\s+none/);
      assert.match(worker, /Memory\s+83\.9 MB/);
      assert.match(worker, /cuda: no CUDA runtime <libcudart\.so>/, 'fallback reasons shown as text');
      assert.match(await text(page, '#packs-heading'), /1 of 2 valid/);
      await page.screenshot({ path: join(RESULTS, 'status-running.png'), fullPage: true });
    });
  });

  it("shows an invalid pack's error as text, never as HTML", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      const row = page.locator('li.pack.invalid');
      await row.waitFor();
      assert.equal(await row.locator('.pack-error').textContent(), INVALID.error);
      assert.match(await row.locator('.pack-status').innerText(), /invalid/);
      assert.equal(await page.locator('#app img, #app script').count(), 0, 'the error text created no elements');
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.match(await row.locator('.pack-error').innerHTML(), /&lt;img src=x/);
      const validRow = page.locator('li.pack.valid');
      assert.match(await validRow.innerText(), /Concert small LM[\s\S]*valid[\s\S]*causal-lm · bundled · 2\.6 MB/);
      await page.screenshot({ path: join(RESULTS, 'status-invalid-pack.png'), fullPage: true });
    });
  });

  it('follows streamed state updates: stopped → starting → running → restarting → failed, and errors', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const state = page.locator('.worker-state');
      await show(host, { workerState: 'stopped' });
      await page.getByText('Model packs have not been listed yet.').waitFor();
      assert.match(await state.innerText(), /Not started: starts on first use/);
      await show(host, { workerState: 'starting', busy: true });
      assert.match(await state.innerText(), /Starting…/);
      assert.equal(await page.locator('[data-key="restart"]').getAttribute('disabled'), '', 'Restart is disabled while starting');
      assert.equal(await page.locator('[data-key="refresh"]').getAttribute('disabled'), '', 'Refresh is disabled while listing');
      assert.match(await page.getByRole('status').innerText(), /Listing model packs…/);
      await show(host, { ...RUNNING, packs: [] });
      assert.match(await state.innerText(), /Running/);
      assert.match(await page.locator('#app').innerText(), /No model packs were found/);
      await show(host, { workerState: 'restarting', packs: [VALID] });
      assert.match(await state.innerText(), /Restarting after a crash…/);
      const failure = `The worker crashed 5 times in 3 minutes <b>see log</b>`;
      await show(host, { workerState: 'failed', packs: [VALID], error: failure });
      assert.match(await state.innerText(), /Stopped after repeated crashes/);
      const alert = page.getByRole('alert');
      assert.equal((await alert.textContent())?.trim(), failure, 'the error banner shows the text as text');
      await page.screenshot({ path: join(RESULTS, 'status-failed.png'), fullPage: true });
    });
  });

  it('buttons post the typed intents to the host', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator('.pack').first().waitFor();
      const expect = async (key: string, msg: StatusViewToHost) => {
        const from = host.received.length;
        await page.locator(`[data-key="${key}"]`).click();
        assert.deepEqual(await host.waitFor(msg.type, from), msg, `${key} posts ${JSON.stringify(msg)}`);
      };
      await expect('restart', { type: 'restartWorker' });
      await expect('device', { type: 'selectDevice' });
      await expect('log', { type: 'showLog' });
      await expect('settings', { type: 'openSettings' });
      await expect('refresh', { type: 'refresh' });
      await expect('add-folder', { type: 'addModelFolder' });
      // Self-Test lives in the expanded details of a valid pack only.
      assert.equal(await page.locator(`[data-key="selftest:${keyOf(INVALID)}"]`).count(), 0, 'no Self-Test for an invalid pack');
      await page.locator(`[data-key="toggle:${keyOf(VALID)}"]`).click();
      await expect(`selftest:${keyOf(VALID)}`, { type: 'selfTestPack', packId: VALID.id });
      // Disabled buttons say nothing.
      await show(host, { ...RUNNING, workerState: 'starting', busy: true });
      const from = host.received.length;
      await page.locator('[data-key="restart"]').click({ force: true });
      await page.locator('[data-key="refresh"]').click({ force: true });
      await page.waitForTimeout(100);
      assert.deepEqual(host.since(from), [], 'disabled buttons posted nothing');
      assert.deepEqual(host.refused, []);
    });
  });

  it('is operable by keyboard: Tab order follows the layout, Enter and Space activate', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator('.pack').first().waitFor();
      const collapsed = ['restart', 'device', 'log', 'settings', `toggle:${keyOf(VALID)}`, `toggle:${keyOf(INVALID)}`, 'refresh', 'add-folder'];
      assert.deepEqual(await tabOrder(page), collapsed);

      // Space on the disclosure expands the row; its Self-Test button joins the order right after it.
      await tabOrder(page, 5);
      assert.equal(await focusedKey(page), `toggle:${keyOf(VALID)}`);
      await page.keyboard.press('Space');
      await page.locator(`[data-key="toggle:${keyOf(VALID)}"][aria-expanded="true"]`).waitFor();
      assert.equal(await focusedKey(page), `toggle:${keyOf(VALID)}`, 'focus stays on the disclosure after re-render');
      assert.deepEqual(await tabOrder(page), [...collapsed.slice(0, 5), `selftest:${keyOf(VALID)}`, ...collapsed.slice(5)]);

      // Enter and Space on the vscode-button controls.
      await tabOrder(page, 1);
      assert.equal(await focusedKey(page), 'restart');
      let from = host.received.length;
      await page.keyboard.press('Enter');
      assert.deepEqual(await host.waitFor('restartWorker', from), { type: 'restartWorker' });
      await page.keyboard.press('Tab');
      assert.equal(await focusedKey(page), 'device');
      from = host.received.length;
      await page.keyboard.press('Space');
      assert.deepEqual(await host.waitFor('selectDevice', from), { type: 'selectDevice' });
      await tabOrder(page, 6);
      assert.equal(await focusedKey(page), `selftest:${keyOf(VALID)}`);
      from = host.received.length;
      await page.keyboard.press('Enter');
      assert.deepEqual(await host.waitFor('selfTestPack', from), { type: 'selfTestPack', packId: VALID.id });

      // A state update re-renders the view; keyboard focus on a native control stays where it was.
      await tabOrder(page, 5);
      await show(host, { ...RUNNING, pid: 4343 });
      assert.equal(await focusedKey(page), `toggle:${keyOf(VALID)}`);
    });
  });

  it('keeps keyboard focus on a button when a state update re-renders the view', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator('.pack').first().waitFor();
      await tabOrder(page, 1);
      assert.equal(await focusedKey(page), 'restart');
      await show(host, { ...RUNNING, pid: 4343 });
      assert.equal(await focusedKey(page), 'restart', 'focus stayed on Restart Worker');
    });
  });

  it('restores UI state (expanded rows) through getState/setState across a reload', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator(`[data-key="toggle:${keyOf(INVALID)}"]`).click();
      assert.deepEqual(host.persisted.at(-1), { expanded: [keyOf(INVALID)] });
      assert.equal(await page.locator('#pack-details-1').isVisible(), true);

      await host.reload();
      const readies = host.received.filter((m) => m.type === 'ready').length;
      assert.equal(readies, 2, 'the reloaded document handshakes again');
      await show(host, RUNNING);
      await page.locator(`[data-key="toggle:${keyOf(INVALID)}"][aria-expanded="true"]`).waitFor();
      assert.equal(await page.locator('#pack-details-1').isVisible(), true, 'the expanded row came back');
      assert.equal(await page.locator(`[data-key="toggle:${keyOf(VALID)}"]`).getAttribute('aria-expanded'), 'false');
      assert.match(await page.locator('#pack-details-1').innerText(), /\/home\/user\/packs\/broken-pack/);

      // Rows that disappear are forgotten, so the persisted state does not grow forever.
      await show(host, { ...RUNNING, packs: [VALID] });
      assert.deepEqual(host.persisted.at(-1), { expanded: [] });
    });
  });

  it('accessibility smoke: every control has an accessible name, and keyboard focus is visible', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, RUNNING);
      await page.locator(`[data-key="toggle:${keyOf(VALID)}"]`).click();
      await page.locator(`[data-key="selftest:${keyOf(VALID)}"]`).waitFor();
      const controls = await axControls(page);
      const names = controls.map((c) => `${c.role} "${c.name}"`);
      const unnamed = controls.filter((c) => !c.name);
      assert.deepEqual(unnamed, [], `controls without an accessible name:\n${names.join('\n')}`);
      for (const expected of [
        'button "Restart Worker"',
        'button "Device…"',
        'button "Log"',
        'button "Settings"',
        'button "Refresh"',
        'button "Add Folder…"',
        'button "Self-Test"',
        'button "Concert small LM"',
        'button "broken-pack"',
      ]) {
        assert.ok(names.includes(expected), `${expected} is in the accessibility tree:\n${names.join('\n')}`);
      }
      // Landmarks and headings that name the regions.
      assert.equal(await page.getByRole('region', { name: 'Worker' }).count(), 1);
      assert.equal(await page.getByRole('group', { name: 'Worker actions' }).count(), 1);
      assert.equal(await page.getByRole('list', { name: 'Model packs' }).count(), 1);

      const order = await tabOrder(page);
      await toTop(page);
      for (let i = 0; i < order.length; i++) {
        await page.keyboard.press('Tab');
        const key = await focusedKey(page);
        assert.equal(key, order[i]);
        assert.ok(await focusIsVisible(page), `keyboard focus on ${key} is not visible`);
      }
      await page.screenshot({ path: join(RESULTS, 'status-expanded.png'), fullPage: true });
    });
  });
});

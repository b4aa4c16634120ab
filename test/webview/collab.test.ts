/// <reference lib="dom" />
/**
 * The "Concert: Collaborate" panel (webview/collab, dist/webview/collab.js) in headless Chromium, under the
 * extension's own CSP, with a fake host speaking the typed protocol of src/protocol/webview.ts. Every message the
 * page posts is checked with the extension's own guard (isCollabViewToHost).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isCollabViewToHost } from '../../src/extension/collabMessages';
import { contentSecurityPolicy } from '../../src/extension/webviewHtml';
import type { CollabControls, CollabRunView, CollabViewState, CollabViewToHost, HostToCollabView } from '../../src/protocol/webview';
import { axControls, focusIsVisible, focusedKey, requireBundle, RESULTS, startSuite, tabOrder, withPage, type WebviewSuite } from './common';
import { FakeHost, VIEWS } from './harness';

type CollabHost = FakeHost<CollabViewToHost, HostToCollabView>;

const CONTROLS: CollabControls = { instruction: '', lambdaUser: 0.3, alpha: 1, core: 'local', compare: true, userOnly: false };
const STATE = (over: Partial<CollabViewState> = {}): CollabViewState => ({
  controls: CONTROLS,
  remote: { available: false, hasToken: false, reason: 'No remote core is set: set concert.collab.coreUrl (user settings).' },
  knowledge: { enabled: 2, total: 3 },
  canInsert: true,
  ...over,
});
const ASKED: CollabControls = { ...CONTROLS, instruction: 'How often does the ferry leave?' };
const RUNNING = (over: Partial<CollabRunView> = {}): CollabRunView => ({
  id: 1,
  status: 'running',
  controls: ASKED,
  coreLocation: 'local worker',
  knowledgeItems: 2,
  ...over,
});
const TEXT = 'The ferry leaves every forty minutes.';
const DONE = (over: Partial<CollabRunView> = {}): CollabRunView =>
  RUNNING({
    status: 'done',
    text: TEXT,
    coreOnly: 'The ferry leaves every day.',
    userOnly: 'Every forty minutes.',
    changedByUser: [{ start: 23, end: 36 }],
    passages: [
      { itemId: 'k-1', title: 'facts.md', text: 'The harbour ferry of Nordby leaves every forty minutes.', score: 3.25 },
      { itemId: 'k-2', title: 'Ferry note', text: 'The ferry is called the Blue Heron.', score: 1.1 },
    ],
    ledger: {
      coreLocation: 'http://127.0.0.1:8000',
      requests: 2,
      bytesSent: 2048,
      bytesReceived: 8192,
      sent: [
        { step: 0, block: 0, tokenIds: [12, 99, 7], note: 'instruction' },
        { step: 1, block: 0, tokenIds: [4, 5], note: 'block token ids' },
      ],
    },
    record: [
      { name: 'Seed', value: '7' },
      { name: 'λ_user, α', value: '0.3, 1' },
    ],
    ...over,
  });

let suite: WebviewSuite;

async function open(page: Page, state?: unknown): Promise<CollabHost> {
  const host = await FakeHost.open<CollabViewToHost, HostToCollabView>(page, suite.harness, VIEWS.collab, isCollabViewToHost, state);
  await host.waitFor('ready');
  return host;
}

const show = (host: CollabHost, state: CollabViewState) => host.send({ type: 'state', state });

describe('collaborate panel (webview tier)', () => {
  before(async () => {
    requireBundle('collab');
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it("handshakes with ready, shows the form and the knowledge, under the extension's CSP", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      assert.deepEqual(host.received, [{ type: 'ready' }]);
      await show(host, STATE());
      await page.locator('#instruction').waitFor();
      assert.match(await page.locator('.knowledge-line').innerText(), /Knowledge: 2 of 3 items enabled/);
      assert.equal(await page.locator('input[data-key="core:remote"]').isDisabled(), true, 'no remote core without a URL');
      assert.match(await page.locator('.remote-note').innerText(), /No remote core is set/);
      const nonce = suite.harness.nonce(host.sessionId) ?? '';
      assert.equal(
        await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content'),
        contentSecurityPolicy(suite.harness.origin, nonce),
      );
      await page.screenshot({ path: join(RESULTS, 'collab-empty.png'), fullPage: true });
    });
  });

  it('Run posts the typed instruction and the knobs; Ctrl+Enter runs too', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ remote: { url: 'http://127.0.0.1:8000', available: true, hasToken: true } }));
      await page.locator('#instruction').fill('How often does the ferry leave?');
      await page.locator('#lambdaUser').focus();
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.locator('#lambdaUser-value').innerText(), '0.35');
      assert.equal(await page.locator('#lambdaUser').getAttribute('aria-valuetext'), 'λ_user 0.35');
      await page.locator('input[data-key="core:remote"]').check();
      await page.locator('#userOnly').check();
      assert.deepEqual(await host.clickPosts('[data-action="run"]'), {
        type: 'run',
        controls: { instruction: 'How often does the ferry leave?', lambdaUser: 0.35, alpha: 1, core: 'remote', compare: true, userOnly: true },
      });
      // The draft survives a state update that is not a new run (e.g. the knowledge changed).
      await show(host, STATE({ remote: { url: 'http://127.0.0.1:8000', available: true, hasToken: true }, knowledge: { enabled: 3, total: 3 } }));
      assert.equal(await page.locator('#instruction').inputValue(), 'How often does the ferry leave?');
      assert.equal(await page.locator('#userOnly').isChecked(), true);
      const from = host.received.length;
      await page.locator('#instruction').focus();
      await page.keyboard.press('Control+Enter');
      const msg = await host.waitFor('run', from);
      assert.equal(msg.type === 'run' && msg.controls.instruction, 'How often does the ferry leave?');
    });
  });

  it('streams progress with Cancel, then shows outputs side by side with the changed spans, passages and ledger', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ controls: ASKED, run: RUNNING() }));
      assert.match(await page.locator('.status.running').innerText(), /Loading the models and reading the knowledge…/);
      assert.equal(await page.locator('[data-action="run"]').getAttribute('disabled'), '', 'Run waits for the run in progress');
      await page.locator('#instruction').evaluate((el) => ((el as HTMLElement & { __mark?: boolean }).__mark = true));
      await show(host, STATE({ controls: ASKED, run: RUNNING({ progress: { step: 30, total: 150, message: 'collaboration: block 1 of 3, step t 21/50' } }) }));
      await page.locator('.status.running progress').waitFor();
      assert.match(await page.locator('.status.running').innerText(), /Decoding… step 30 of 150/);
      assert.deepEqual(await host.clickPosts('.status.running [data-action="cancel"]'), { type: 'cancel' });
      assert.equal(
        await page.locator('#instruction').evaluate((el) => (el as HTMLElement & { __mark?: boolean }).__mark === true),
        true,
        'the instruction box survived the stream',
      );

      await show(host, STATE({ controls: { ...ASKED, userOnly: true }, run: DONE({ controls: { ...ASKED, userOnly: true } }) }));
      await page.locator('.ledger-summary').waitFor();
      assert.equal((await page.locator('.output.collab .text').innerText()).trim(), TEXT);
      assert.equal(await page.locator('.output.collab mark.changed').innerText(), 'forty minutes');
      assert.match(await page.locator('.output.collab .meta').innerText(), /1 span changed by the user model/);
      assert.equal((await page.locator('.output.core .text').innerText()).trim(), 'The ferry leaves every day.');
      assert.equal((await page.locator('.output.user .text').innerText()).trim(), 'Every forty minutes.');
      const passages = await page.locator('.passages li').allInnerTexts();
      assert.equal(passages.length, 2);
      assert.match(passages[0] ?? '', /facts\.md · score 3\.25[\s\S]*forty minutes/);
      assert.match(
        await page.locator('.ledger-summary').innerText(),
        /2 requests to http:\/\/127\.0\.0\.1:8000: 2\.0 KB sent, 8\.0 KB received\. Knowledge text is never sent/,
      );
      await page.locator('details[data-ui="ledger"] summary').click();
      assert.match(await page.locator('.ledger-table').innerText(), /instruction\s+12 99 7[\s\S]*block token ids\s+4 5/);
      await page.screenshot({ path: join(RESULTS, 'collab-done.png'), fullPage: true });
    });
  });

  it('a local core says nothing left the machine; cancelled and failed runs say what happened, as text', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE({ ledger: { coreLocation: 'local worker', requests: 0, bytesSent: 0, bytesReceived: 0, sent: [] } }) }));
      await page.locator('.ledger-summary').waitFor();
      assert.match(await page.locator('.ledger-summary').innerText(), /local worker: nothing was sent off this machine \(0 requests, 0 B\)/);
      assert.equal(await page.locator('details[data-ui="ledger"]').count(), 0);
      await show(host, STATE({ run: RUNNING({ id: 2, status: 'cancelled', message: 'Cancelled.' }) }));
      assert.match(await page.locator('.status.cancelled').innerText(), /Cancelled\./);
      const hostile = 'Remote core refused: <img src=x onerror="window.__pwned=1"> & more';
      await show(host, STATE({ run: RUNNING({ id: 3, status: 'error', message: hostile }) }));
      assert.equal((await page.getByRole('alert').textContent())?.trim(), hostile);
      assert.equal(await page.locator('#app img').count(), 0);
    });
  });

  it('shows model text and passages as text, never as HTML', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const evil = '<script>window.__pwned=1</script> <b>bold</b>';
      await show(
        host,
        STATE({ run: DONE({ text: evil, changedByUser: [{ start: 0, end: 8 }], passages: [{ itemId: 'k', title: '<i>t</i>', text: evil, score: 1 }] }) }),
      );
      await page.locator('.ledger-summary').waitFor();
      assert.equal((await page.locator('.output.collab .text').innerText()).trim(), evil);
      assert.equal(await page.locator('#app script, #app b, #app i').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    });
  });

  it('Copy, Insert at Cursor, Set Core Token, Settings and Show Knowledge post their typed intents', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE({ controls: { ...ASKED, userOnly: true } }) }));
      await page.locator('.ledger-summary').waitFor();
      for (const variant of ['collab', 'core', 'user'] as const) {
        assert.deepEqual(await host.clickPosts(`.output.${variant} [data-action="copy"]`), { type: 'copy', variant });
        assert.deepEqual(await host.clickPosts(`.output.${variant} [data-action="insert"]`), { type: 'insert', variant });
      }
      assert.deepEqual(await host.clickPosts('[data-action="setToken"]'), { type: 'setToken' });
      assert.deepEqual(await host.clickPosts('[data-action="openSettings"]'), { type: 'openSettings' });
      assert.deepEqual(await host.clickPosts('[data-action="showKnowledge"]'), { type: 'showKnowledge' });
      // Without an editor, Insert is disabled and says nothing.
      await show(host, STATE({ canInsert: false, run: DONE() }));
      const quiet = host.received.length;
      await page.locator('.output.collab [data-action="insert"]').click({ force: true });
      await page.waitForTimeout(100);
      assert.deepEqual(host.since(quiet), []);
      assert.deepEqual(host.refused, []);
    });
  });

  it("announces the host's notices, and restores open sections across a reload", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await host.send({ type: 'notice', notice: { level: 'warning', text: 'No knowledge is <enabled>.' } });
      const live = page.locator('.notice[role="status"][aria-live="polite"]');
      assert.equal(await live.textContent(), 'No knowledge is <enabled>.');
      await page.locator('details[data-ui="ledger"] summary').click();
      await page.waitForTimeout(100);
      assert.equal((host.persisted.at(-1) as { ledgerOpen?: boolean }).ledgerOpen, true);
      await host.reload();
      await show(host, STATE({ run: DONE() }));
      await page.locator('details[data-ui="ledger"][open]').waitFor();
    });
  });

  it('accessibility smoke: every control has an accessible name, Tab reaches them in order with visible focus', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ remote: { url: 'http://127.0.0.1:8000', available: true, hasToken: false }, run: DONE() }));
      await page.locator('.ledger-summary').waitFor();
      const controls = await axControls(page);
      const names = controls.map((c) => `${c.role} "${c.name}"`);
      assert.deepEqual(
        controls.filter((c) => !c.name),
        [],
        `controls without an accessible name:\n${names.join('\n')}`,
      );
      for (const expected of ['textbox "Instruction"', 'slider "λ_user"', 'slider "α"', 'button "Run"', 'button "Copy"', 'button "Insert at Cursor"'])
        assert.ok(names.includes(expected), `${expected} is in the accessibility tree:\n${names.join('\n')}`);
      const order = await tabOrder(page);
      for (const k of ['instruction', 'lambdaUser', 'alpha', 'core:local', 'compare', 'btn:run:', 'btn:copy:collab', 'summary:ledger'])
        assert.ok(order.includes(k), `${k} is reachable by Tab: ${JSON.stringify(order)}`);
      assert.ok(
        order.indexOf('instruction') < order.indexOf('btn:run:') && order.indexOf('btn:run:') < order.indexOf('btn:copy:collab'),
        JSON.stringify(order),
      );
      await page.locator('#instruction').focus();
      assert.equal(await focusedKey(page), 'instruction');
      for (const k of ['lambdaUser', 'compare']) {
        await page.locator(`[data-key="${k}"]`).focus();
        assert.ok(await focusIsVisible(page), `keyboard focus on ${k} is visible`);
      }
      await page.screenshot({ path: join(RESULTS, 'collab-a11y.png'), fullPage: true });
    });
  });
});

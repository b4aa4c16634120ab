/// <reference lib="dom" />
/**
 * The "Concert: Summary" panel (webview/summary, dist/webview/summary.js) in headless Chromium, under the
 * extension's own CSP, with a fake host speaking the typed protocol of src/protocol/webview.ts. Every message
 * the page posts is checked with the extension's own guard (isSummaryViewToHost).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isSummaryViewToHost } from '../../src/extension/summaryMessages';
import { contentSecurityPolicy } from '../../src/extension/webviewHtml';
import type { HostToSummaryView, SummaryOutputView, SummaryRunView, SummaryTokenView, SummaryViewState, SummaryViewToHost } from '../../src/protocol/webview';
import { axControls, focusIsVisible, focusedKey, requireBundle, RESULTS, startSuite, toTop, withPage, type WebviewSuite } from './common';
import { FakeHost, VIEWS } from './harness';

type SummaryHost = FakeHost<SummaryViewToHost, HostToSummaryView>;

const WORDS = ['The', ' river', ' rose', ' overnight', ',', ' closing', ' the', ' lower', ' road', ' and', ' the', ' ferry', '.'];
const RELIANCES = [1.4, -0.6, 0.05, 2.5];
const tokens = (n: number, words = WORDS): SummaryTokenView[] => words.slice(0, n).map((text, i) => ({ text, reliance: RELIANCES[i % RELIANCES.length] ?? 0 }));
const output = (n: number, alpha: number, extra: Partial<SummaryOutputView> = {}): SummaryOutputView => {
  const t = tokens(n);
  return { text: t.map((x) => x.text).join(''), tokens: t, alpha, ...extra };
};
const RUN = (over: Partial<SummaryRunView> = {}): SummaryRunView => ({
  id: 1,
  status: 'running',
  task: 'summarize',
  source: { fileName: 'notes.md', scope: 'whole document', languageId: 'markdown' },
  alpha: 0.5,
  compareRegular: false,
  cad: output(0, 0.5),
  ...over,
});
type RerunMessage = Extract<SummaryViewToHost, { type: 'rerun' }>;
/** The rerun the panel posts for DONE()'s knobs (α 0.5, no side-by-side, β 0, fixed α, extractive), with `over` changed. */
const rerunMessage = (over: Partial<Omit<RerunMessage, 'type'>> = {}): RerunMessage => ({
  type: 'rerun',
  alpha: 0.5,
  compareRegular: false,
  plausibility: 0,
  adaptive: false,
  extractive: true,
  ...over,
});

const DONE = (over: Partial<SummaryRunView> = {}): SummaryRunView =>
  RUN({
    status: 'done',
    cad: output(WORDS.length, 0.5, { stoppedBy: 'stop-token' }),
    record: {
      modelId: 'concert-lm-small',
      manifestSha256: 'a'.repeat(64),
      modelSha256: 'b'.repeat(64),
      seed: 7,
      alpha: 0.5,
      decoding: 'greedy',
      maxTokens: 64,
      provider: 'cpu',
      device: 'CPU',
      promptTokens: { withContext: 120, withoutContext: 12 },
      durationMs: 1234,
    },
    ...over,
  });

let suite: WebviewSuite;

async function open(page: Page, state?: unknown): Promise<SummaryHost> {
  const host = await FakeHost.open<SummaryViewToHost, HostToSummaryView>(page, suite.harness, VIEWS.summary, isSummaryViewToHost, state);
  await host.waitFor('ready');
  return host;
}

const show = (host: SummaryHost, state: SummaryViewState) => host.send({ type: 'state', state });

/** Clicks `selector` and returns the one message it posted (none other may follow within 100 ms). */

describe('summary panel (webview tier)', () => {
  before(async () => {
    requireBundle('summary');
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it("handshakes with ready, explains itself before the first run, and runs under the extension's CSP", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      assert.deepEqual(host.received, [{ type: 'ready' }]);
      assert.match(await page.locator('#app').innerText(), /Run Concert: Summarize Document/);
      const nonce = suite.harness.nonce(host.sessionId) ?? '';
      assert.equal(
        await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content'),
        contentSecurityPolicy(suite.harness.origin, nonce),
      );
    });
  });

  it('streams tokens into the output without rebuilding the controls', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: RUN() });
      assert.match(await page.getByRole('status').first().innerText(), /Loading the model and reading the document…/);
      // Mark the slider element: a streamed update must not replace it (it may be under the user's pointer).
      await page.locator('#alpha').evaluate((el) => ((el as HTMLElement & { __mark?: boolean }).__mark = true));
      for (const n of [1, 4, 9]) {
        await show(host, { run: RUN({ cad: output(n, 0.5) }) });
        await page
          .locator('.output.cad .tok')
          .nth(n - 1)
          .waitFor();
        assert.match(await page.locator('.status.running').innerText(), new RegExp(`Generating… ${n} tokens?`));
        assert.equal(await page.locator('.output.cad .tokens').getAttribute('aria-busy'), 'true');
      }
      assert.equal(
        await page.locator('#alpha').evaluate((el) => (el as HTMLElement & { __mark?: boolean }).__mark === true),
        true,
        'the α slider survived the stream',
      );
      assert.equal(await page.locator('[data-action="copy"]').first().getAttribute('disabled'), '', 'Copy waits for the end of the run');
      await show(host, { run: DONE() });
      await page.locator('.output.cad .meta').waitFor();
      assert.equal((await page.locator('.output.cad .tokens').innerText()).trim(), WORDS.join(''));
      assert.match(await page.locator('.output.cad .meta').innerText(), /13 tokens · \d+% document-supported · finished/);
      assert.equal(await page.locator('.status.running').count(), 0);
      assert.equal(await page.locator('[data-action="copy"]').first().getAttribute('disabled'), null);
      assert.match(await page.locator('details.record').innerText(), /Run record/);
      await page.screenshot({ path: join(RESULTS, 'summary-done.png'), fullPage: true });
    });
  });

  it('Cancel posts cancel while a run streams; cancelled and failed runs say what happened, as text', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: RUN({ cad: output(3, 0.5) }) });
      assert.deepEqual(await host.clickPosts('.status.running [data-action="cancel"]'), { type: 'cancel' });
      await show(host, { run: RUN({ status: 'cancelled', cad: output(3, 0.5) }) });
      assert.match(await page.locator('.status.cancelled').innerText(), /Cancelled after 3 tokens\./);
      const hostile = 'The worker failed: <img src=x onerror="window.__pwned=1"> & more';
      await show(host, { run: RUN({ status: 'error', message: hostile }) });
      assert.equal((await page.getByRole('alert').textContent())?.trim(), hostile);
      assert.equal(await page.locator('#app img').count(), 0);
      await page.screenshot({ path: join(RESULTS, 'summary-error.png'), fullPage: true });
    });
  });

  it('shows model text and questions as text, never as HTML', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const evil = ['<script>window.__pwned=1</script>', ' <b>bold</b>', ' &amp;'];
      const t = evil.map((text) => ({ text, reliance: 0.7 }));
      await show(host, {
        run: DONE({ task: 'ask', question: 'What is <i>this</i>?', cad: { text: evil.join(''), tokens: t, alpha: 1, stoppedBy: 'max-tokens' } }),
      });
      await page.locator('.output.cad .meta').waitFor();
      assert.equal((await page.locator('.output.cad .tokens').innerText()).trim(), evil.join(''));
      assert.match(await page.locator('.question').innerText(), /What is <i>this<\/i>\?/);
      assert.equal(await page.locator('#app script, #app b, #app i').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      assert.match(await page.locator('h1').first().innerText(), /^Answer/);
    });
  });

  it('the α slider works by keyboard: one rerun with the new α after the user pauses', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      await page.locator('#alpha').focus();
      const from = host.received.length;
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.locator('#alpha-value').innerText(), '1');
      assert.equal(await page.locator('#alpha').getAttribute('aria-valuetext'), 'α 1');
      assert.deepEqual(await host.waitFor('rerun', from), rerunMessage({ alpha: 1 }));
      await page.waitForTimeout(500);
      assert.equal(host.since(from).length, 1, 'the two steps became one rerun');
      await page.keyboard.press('End');
      assert.deepEqual(await host.waitFor('rerun', from + 1), rerunMessage({ alpha: 3 }));
    });
  });

  it('the plausibility β slider and the adaptive-α checkbox rerun with the other knobs unchanged (#16)', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      assert.equal(await page.locator('#plausibility-value').innerText(), '0');
      await page.locator('#plausibility').focus();
      const from = host.received.length;
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      assert.equal(await page.locator('#plausibility-value').innerText(), '0.1');
      assert.equal(await page.locator('#plausibility').getAttribute('aria-valuetext'), 'β 0.1');
      assert.deepEqual(await host.waitFor('rerun', from), rerunMessage({ plausibility: 0.1 }));
      await page.waitForTimeout(500);
      assert.equal(host.since(from).length, 1, 'the two steps became one rerun');
      await show(host, { run: DONE({ plausibility: 0.1 }) });
      await page.locator('vscode-checkbox[data-action="adaptive"]').focus();
      await page.keyboard.press('Space');
      assert.deepEqual(await host.waitFor('rerun', from + 1), rerunMessage({ plausibility: 0.1, adaptive: true }));
      await show(host, { run: DONE({ plausibility: 0.1, adaptive: true }) });
      assert.equal(await page.locator('vscode-checkbox[data-action="adaptive"]').getAttribute('checked'), '');
      assert.equal(await page.locator('#plausibility-value').innerText(), '0.1');
    });
  });

  it('answers: the extractive checkbox is on by default, toggles by keyboard into a rerun with extractive', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const ask = { task: 'ask' as const, question: 'What closed?', alpha: 1, extractive: true };
      await show(host, { run: DONE({ id: 2, ...ask }) });
      const box = page.locator('vscode-checkbox[data-action="extractive"]');
      await box.waitFor();
      assert.match(await box.innerText(), /Quote the document \(extractive\)/);
      assert.equal(await box.getAttribute('checked'), '');
      const from = host.received.length;
      await box.focus();
      await page.keyboard.press('Space');
      assert.deepEqual(await host.waitFor('rerun', from), rerunMessage({ alpha: 1, extractive: false }));
      await show(host, { run: DONE({ id: 3, ...ask, extractive: false }) });
      assert.equal(await box.getAttribute('checked'), null);
      assert.equal(await focusedKey(page), 'extractive', 'focus stays on the checkbox across the new state');
      // Other knobs carry the shown extractive state along.
      assert.deepEqual(await host.clickPosts('[data-action="rerun"]'), rerunMessage({ alpha: 1, extractive: false }));
      await box.focus();
      await page.keyboard.press('Space');
      assert.deepEqual(await host.waitFor('rerun', from + 2), rerunMessage({ alpha: 1 }));
    });
  });

  it('summaries: the extractive checkbox quotes whole sentences, on by default, toggles into a rerun; the record says so', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      const box = page.locator('vscode-checkbox[data-action="extractive"]');
      await box.waitFor();
      assert.match(await box.innerText(), /Quote whole sentences \(extractive\)/);
      assert.doesNotMatch(await box.innerText(), /Quote the document/);
      assert.equal(await box.getAttribute('checked'), '', 'absent (older summaries): the worker default, on');
      assert.deepEqual(await host.clickPosts('[data-action="rerun"]'), rerunMessage());
      const from = host.received.length;
      await box.focus();
      await page.keyboard.press('Space');
      assert.deepEqual(await host.waitFor('rerun', from), rerunMessage({ extractive: false }));
      await show(host, { run: DONE({ id: 2, extractive: false }) });
      assert.equal(await box.getAttribute('checked'), null);
      assert.equal(await focusedKey(page), 'extractive', 'focus stays on the checkbox across the new state');
      // Other knobs carry the shown extractive state along.
      assert.deepEqual(await host.clickPosts('[data-action="rerun"]'), rerunMessage({ extractive: false }));
      // The run record of an extractive summary says what was quoted.
      const record = { ...DONE().record!, extractive: true };
      await show(host, { run: DONE({ id: 3, extractive: true, record }) });
      assert.equal(await box.getAttribute('checked'), '');
      await page.locator('details.record summary').click();
      assert.match(await page.locator('details.record').innerText(), /Extractive\s+on: whole sentences of the document/);
    });
  });

  it('the regular-decoding toggle reruns with compareRegular and shows both columns', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      const from = host.received.length;
      await page.locator('vscode-checkbox[data-action="compare"]').focus();
      await page.keyboard.press('Space');
      assert.deepEqual(await host.waitFor('rerun', from), rerunMessage({ compareRegular: true }));
      await show(host, { run: DONE({ compareRegular: true, regular: output(5, 0, { stoppedBy: 'stop-token' }) }) });
      await page.locator('.output.regular .meta').waitFor();
      assert.match(await page.locator('.output.regular h2').innerText(), /Regular decoding \(α 0\)/);
      assert.match(await page.locator('.output.cad h2').innerText(), /Context-aware \(α 0\.5\)/);
      await page.screenshot({ path: join(RESULTS, 'summary-side-by-side.png'), fullPage: true });
    });
  });

  it('Copy, Insert, Run Again, α Sweep and token reveal post their typed intents', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE({ compareRegular: true, regular: output(5, 0, { stoppedBy: 'stop-token' }) }) });
      await page.locator('.output.regular .meta').waitFor();
      for (const variant of ['cad', 'regular'] as const) {
        assert.deepEqual(await host.clickPosts(`.output.${variant} [data-action="copy"]`), { type: 'copy', variant });
        assert.deepEqual(await host.clickPosts(`.output.${variant} [data-action="insert"][data-mode="comment"]`), {
          type: 'insert',
          variant,
          mode: 'comment',
        });
        assert.deepEqual(await host.clickPosts(`.output.${variant} [data-action="insert"][data-mode="cursor"]`), { type: 'insert', variant, mode: 'cursor' });
      }
      assert.deepEqual(await host.clickPosts('[data-action="rerun"]'), rerunMessage({ compareRegular: true }));
      assert.deepEqual(await host.clickPosts('[data-action="sweep"]'), { type: 'sweep' });
      assert.deepEqual(await host.clickPosts('.output.cad .tok >> nth=2'), { type: 'reveal', variant: 'cad', index: 2 });

      // Tokens: one tab stop per output, arrows move, Enter reveals.
      await page.locator('.output.cad .tok').first().focus();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      assert.equal(await focusedKey(page), 'tok:cad:2');
      const from = host.received.length;
      await page.keyboard.press('Enter');
      assert.deepEqual(await host.waitFor('reveal', from), { type: 'reveal', variant: 'cad', index: 2 });

      // Running: Run Again and α Sweep are disabled and say nothing.
      await show(host, { run: RUN({ cad: output(2, 0.5) }) });
      const quiet = host.received.length;
      await page.locator('[data-action="rerun"]').click({ force: true });
      await page.locator('[data-action="sweep"]').click({ force: true });
      await page.waitForTimeout(100);
      assert.deepEqual(host.since(quiet), []);
      assert.deepEqual(host.refused, []);
    });
  });

  it('keeps keyboard focus on a token when a state update rebuilds the outputs', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      await page.locator('.output.cad .tok').nth(3).focus();
      await show(host, { run: DONE({ cad: output(12, 0.5, { stoppedBy: 'stop-token' }) }) });
      assert.equal(await focusedKey(page), 'tok:cad:3', 'focus stayed on the token');
    });
  });

  it('keeps keyboard focus on a button when a state update rebuilds its section', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      await page.locator('[data-action="copy"][data-variant="cad"]').focus();
      await show(host, { run: DONE({ cad: output(11, 0.5, { stoppedBy: 'stop-token' }) }) });
      assert.equal(await focusedKey(page), 'btn:copy:cad:', 'focus stayed on Copy');
    });
  });

  it("announces the host's notices in a live region", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      await host.send({ type: 'notice', notice: { level: 'warning', text: 'No supporting span <found>.' } });
      const live = page.locator('.notice[role="status"][aria-live="polite"]');
      assert.equal(await live.textContent(), 'No supporting span <found>.');
      assert.match((await live.getAttribute('class')) ?? '', /warning/);
    });
  });

  it('restores UI state (open details) through getState/setState across a reload', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, { run: DONE() });
      await page.locator('details.record summary').click();
      await page.waitForTimeout(100);
      assert.deepEqual(host.persisted.at(-1), { recordOpen: true, chunksOpen: false });
      await host.reload();
      assert.equal(host.received.filter((m) => m.type === 'ready').length, 2);
      await show(host, { run: DONE() });
      await page.locator('details.record[open]').waitFor();
      assert.match(await page.locator('details.record').innerText(), /Seed\s+7/);
    });
  });

  it('the model picker lists the causal-LM models, reruns with the picked one, and the header names model and template', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const models = [
        { id: 'concert-lm-small', label: 'Concert LM (small)', source: 'bundled' as const },
        { id: 'qwen2-tiny', label: 'qwen2-tiny (fp32)', source: 'user' as const },
      ];
      await show(host, { run: DONE(), models });
      const picker = page.getByRole('combobox', { name: 'Model' });
      assert.deepEqual(
        (await picker.locator('option').allInnerTexts()).map((t) => t.trim()),
        ['Default model', 'Concert LM (small)', 'qwen2-tiny (fp32) · user'],
      );
      assert.equal(await picker.inputValue(), '');
      assert.match(await page.locator('.model-line').innerText(), /^Model: concert-lm-small$/, 'no template line from a worker that sent none');
      const from = host.received.length;
      await picker.selectOption('qwen2-tiny');
      await host.waitFor('model', from);
      assert.deepEqual(host.since(from), [{ type: 'model', packId: 'qwen2-tiny' }]);
      // The host runs again with it: the picker shows the choice, disabled while the run streams.
      await show(host, { run: RUN({ id: 2 }), models, modelId: 'qwen2-tiny' });
      assert.equal(await picker.inputValue(), 'qwen2-tiny');
      assert.equal(await picker.isDisabled(), true);
      const rec = DONE().record!;
      await show(host, {
        run: DONE({ id: 2, record: { ...rec, modelId: 'qwen2-tiny', modelName: 'qwen2-tiny (fp32)', template: 'chat-template' } }),
        models,
        modelId: 'qwen2-tiny',
      });
      assert.equal(await picker.isDisabled(), false);
      assert.match(await page.locator('.model-line').innerText(), /Model: qwen2-tiny \(fp32\)\s*·\s*template: chat-template/);
      await page.locator('details.record summary').click();
      assert.match(await page.locator('details.record').innerText(), /Prompt template\s+chat-template/);
      // Back to the default model; a picked model the list no longer has stays visible as such.
      const again = host.received.length;
      await picker.selectOption('');
      await host.waitFor('model', again);
      assert.deepEqual(host.since(again), [{ type: 'model', packId: '' }]);
      await show(host, { run: DONE({ id: 3 }), models });
      assert.equal(await picker.inputValue(), '');
      await picker.evaluate((el) => (el as HTMLElement).blur());
      await show(host, { run: DONE({ id: 3 }), models: models.slice(0, 1), modelId: 'qwen2-tiny' });
      assert.match((await picker.locator('option:checked').innerText()).trim(), /qwen2-tiny \(not listed\)/);
      await show(host, { run: DONE({ id: 4 }) });
      assert.match(await page.locator('.model .hint').innerText(), /Listing models…/);
      await page.screenshot({ path: join(RESULTS, 'summary-model-picker.png'), fullPage: true });
    });
  });

  it('accessibility smoke: every control has an accessible name, and keyboard focus is visible', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      // A question: the controls of a summary, the extractive checkbox labelled for answers.
      const regular = output(5, 0, { stoppedBy: 'stop-token' });
      await show(host, { run: DONE({ task: 'ask', question: 'What closed?', extractive: true, compareRegular: true, regular }) });
      await page.locator('.output.regular .meta').waitFor();
      const controls = await axControls(page);
      const names = controls.map((c) => `${c.role} "${c.name}"`);
      assert.deepEqual(
        controls.filter((c) => !c.name),
        [],
        `controls without an accessible name:\n${names.join('\n')}`,
      );
      for (const expected of [
        'slider "Context weight α"',
        'checkbox "Show regular decoding (α 0) side by side"',
        'slider "Plausibility β"',
        'checkbox "Adaptive α (per token, by disagreement)"',
        'checkbox "Quote the document (extractive)"',
        'button "Run Again"',
        'button "α Sweep"',
        'button "Copy"',
        'button "Insert as Comment"',
        'button "Insert at Cursor"',
      ]) {
        assert.ok(names.includes(expected), `${expected} is in the accessibility tree:\n${names.join('\n')}`);
      }
      // Walk the page by keyboard: each stop has visible focus.
      await toTop(page);
      const seen: string[] = [];
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press('Tab');
        const key = await focusedKey(page);
        if (key === '(body)' || seen.includes(key)) break;
        seen.push(key);
        assert.ok(await focusIsVisible(page), `keyboard focus on ${key} is not visible`);
      }
      for (const k of [
        'alpha',
        'plausibility',
        'adaptive',
        'extractive',
        'compare',
        'btn:rerun::',
        'btn:sweep::',
        'tok:cad:0',
        'btn:copy:cad:',
        'tok:regular:0',
        'summary:record',
      ])
        assert.ok(seen.includes(k), `${k} is reachable by Tab: ${JSON.stringify(seen)}`);
      assert.ok(
        seen.indexOf('alpha') < seen.indexOf('tok:cad:0') && seen.indexOf('tok:cad:0') < seen.indexOf('btn:copy:cad:'),
        `Tab order follows the layout: ${JSON.stringify(seen)}`,
      );
      await page.screenshot({ path: join(RESULTS, 'summary-a11y.png'), fullPage: true });
    });
  });
});

/// <reference lib="dom" />
/**
 * The "Concert: Rewrite" panel (webview/rewrite, dist/webview/rewrite.js) in headless Chromium, under the
 * extension's own CSP, with a fake host speaking the typed protocol of src/protocol/webview.ts. Every message the
 * page posts is checked with the extension's own guard (isRewriteViewToHost): one it refuses fails the test.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isRewriteViewToHost } from '../../src/extension/rewriteMessages';
import { contentSecurityPolicy } from '../../src/extension/webviewHtml';
import type { HostToRewriteView, RewriteControls, RewriteRunView, RewriteStepView, RewriteViewState, RewriteViewToHost } from '../../src/protocol/webview';
import { rewriteControls, rewriteRecord, rewriteState, rewriteStep } from '../helpers/rewriteFixtures';
import { axControls, focusIsVisible, focusedKey, requireBundle, RESULTS, startSuite, tabOrder, toTop, withPage, type WebviewSuite } from './common';
import { FakeHost, VIEWS } from './harness';

type RewriteHost = FakeHost<RewriteViewToHost, HostToRewriteView>;

const ORIGINAL = 'The film was dull and far too long.';
const OUTPUT = 'The film was bright and truly lovely.';
/** Two blocks of four denoising steps: words settle from step to step; block 1 has one step the worker did not score. */
const STEPS: RewriteStepView[] = [
  rewriteStep(0, 4, 'The cat was dull and', 0.12),
  rewriteStep(0, 3, 'The film was dull and', 0.25),
  rewriteStep(0, 2, 'The film was bright and', 0.55),
  rewriteStep(0, 1, 'The film was bright and', 0.71),
  rewriteStep(1, 4, ' far too long.', 0.6),
  rewriteStep(1, 3, ' truly lovely.', 0.8),
  rewriteStep(1, 2, ' truly lovely.', null),
  rewriteStep(1, 1, ' truly lovely.', 0.9),
];
const CONTROLS = rewriteControls();

/** A run of `n` streamed steps. */
const RUNNING = (n: number, over: Partial<RewriteRunView> = {}): RewriteRunView => ({
  id: 7,
  status: 'running',
  mode: 'rewrite',
  source: { fileName: 'notes.md', scope: 'lines 3–4', languageId: 'markdown' },
  original: ORIGINAL,
  promptTail: 'Yesterday I went to the cinema.',
  controls: CONTROLS,
  blocks: n ? 2 : 0,
  steps: STEPS.slice(0, n),
  ...over,
});
const DONE = (over: Partial<RewriteRunView> = {}): RewriteRunView =>
  RUNNING(STEPS.length, {
    status: 'done',
    output: { text: OUTPUT, stoppedBy: 'max-tokens' },
    scores: [
      { attribute: 'sentiment', target: 'positive', probabilities: { negative: 0.1, positive: 0.9 } },
      { attribute: 'style', probabilities: { casual: 0.7, technical: 0.3 } },
    ],
    record: rewriteRecord(CONTROLS, { modelName: 'Concert SSD core', maxTokens: 9 }),
    ...over,
  });
const STATE = (run?: RewriteRunView): RewriteViewState => rewriteState(run, 15);

let suite: WebviewSuite;

async function open(page: Page, state?: unknown): Promise<RewriteHost> {
  const host = await FakeHost.open<RewriteViewToHost, HostToRewriteView>(page, suite.harness, VIEWS.rewrite, isRewriteViewToHost, state);
  // Generous: the first page of a fresh browser on a loaded machine can take a while to run its bundle.
  await host.waitFor('ready', 0, 20_000);
  return host;
}

/** A fresh page with the panel; afterwards, nothing the page posted may have been refused by the host's guard. */
async function withView(fn: (host: RewriteHost, page: Page) => Promise<void>): Promise<void> {
  await withPage(suite, async (page) => {
    const host = await open(page);
    await fn(host, page);
    await page.waitForTimeout(50);
    assert.deepEqual(host.refused, [], 'every message the page posted passes isRewriteViewToHost');
    for (const m of host.received) assert.ok(isRewriteViewToHost(m));
  });
}

const show = (host: RewriteHost, run?: RewriteRunView) => host.send({ type: 'state', state: STATE(run) });

/** Does `fn`, then returns the one message it posted (none other may follow within 100 ms). */
async function posts(host: RewriteHost, fn: () => Promise<void>, what: string): Promise<RewriteViewToHost> {
  const from = host.received.length;
  await fn();
  const deadline = Date.now() + 10_000;
  while (host.received.length === from && !host.refused.length && Date.now() < deadline) await host.page.waitForTimeout(20);
  await host.page.waitForTimeout(100);
  const got = host.since(from);
  assert.equal(got.length, 1, `${what} posted ${JSON.stringify(got)}; refused: ${JSON.stringify(host.refused)}`);
  return got[0]!;
}
const clickPosts = (host: RewriteHost, selector: string) => posts(host, () => host.page.locator(selector).click(), selector);

/** Asserts that `fn` posts nothing. */
async function quiet(host: RewriteHost, fn: () => Promise<void>, what: string): Promise<void> {
  const from = host.received.length;
  await fn();
  await host.page.waitForTimeout(150);
  assert.deepEqual(host.since(from), [], `${what} posted nothing`);
}

const text = async (page: Page, selector: string) => (await page.locator(selector).first().innerText()).trim();
const value = (page: Page, selector: string) => page.locator(selector).inputValue();
const marks = (page: Page) => page.locator('.timeline .frame mark.changed').allInnerTexts();
const mark = (page: Page, selector: string) => page.locator(selector).evaluate((el) => ((el as HTMLElement & { __mark?: boolean }).__mark = true));
const marked = (page: Page, selector: string) => page.locator(selector).evaluate((el) => (el as HTMLElement & { __mark?: boolean }).__mark === true);
const disabled = (page: Page, selector: string) => page.locator(selector).evaluate((el) => el.hasAttribute('disabled'));

/** Waits until the timeline shows step `t` (its output reads `t = t / T`). */
const atT = async (page: Page, t: number) => {
  try {
    await page.locator('.timeline output.t', { hasText: `t = ${t} / 4` }).waitFor({ timeout: 5_000 });
  } catch {
    assert.fail(
      `the timeline does not show t ${t}: ${await page
        .locator('.timeline')
        .innerText()
        .catch(() => '(no timeline)')}`,
    );
  }
};

describe('rewrite panel (webview tier)', () => {
  before(async () => {
    requireBundle('rewrite');
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it("handshakes with ready, explains itself before the first run, and runs under the extension's CSP", async () => {
    await withView(async (host, page) => {
      assert.deepEqual(host.received, [{ type: 'ready' }]);
      const empty = await text(page, '#app');
      assert.match(empty, /^Concert: Rewrite/);
      assert.match(empty, /Select text and run Concert: Rewrite Selection…, or put the cursor after some text and run Concert: Continue with Diffusion/);
      // The host's first state without a run keeps the explanation.
      await show(host);
      assert.match(await text(page, '#app'), /Select text and run Concert: Rewrite Selection…/);
      const nonce = suite.harness.nonce(host.sessionId) ?? '';
      assert.ok(nonce);
      const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      assert.equal(csp, contentSecurityPolicy(suite.harness.origin, nonce), 'the page carries the policy webviewHtml() builds');
      assert.doesNotMatch(csp ?? '', /unsafe-(inline|eval)/);
      const scripts = await page
        .locator('script')
        .evaluateAll((els) => els.map((e) => ({ nonce: (e as HTMLScriptElement).nonce, src: (e as HTMLScriptElement).src })));
      for (const s of scripts) {
        assert.equal(s.nonce, nonce, `script ${s.src || '(inline)'} has the page nonce`);
        assert.ok(s.src, 'no inline script');
      }
      assert.equal(await page.title(), 'Concert: Rewrite');
      await show(host, RUNNING(1));
      await page.locator('.timeline .frame').waitFor();
      assert.equal(host.received.filter((m) => m.type === 'ready').length, 1, 'ready is sent once per document');
    });
  });

  it('streams the denoising timeline: tokens settle step by step, scores are charted, controls stay the same elements', async () => {
    await withView(async (host, page) => {
      await show(host, RUNNING(0));
      assert.match(await text(page, '.status.running'), /Loading the model…/);
      assert.match(await text(page, '.timeline'), /Waiting for the first step…/);
      assert.match(await text(page, '.result'), /The film was dull and far too long\.[\s\S]*The rewrite appears here as it is denoised\./);
      assert.equal(await page.locator('.charts').count(), 0, 'no chart before the first step');

      // Streamed updates must not replace the controls (one may be under the pointer, or being typed in).
      const keep = [
        '#dir-0',
        '#lambda-0',
        '#lambda-num-0',
        '#strength',
        '#steps',
        '#projection',
        '[data-key="btn:rerun"]',
        '[data-key="btn:cancel"]',
        '[data-key="btn:accept"]',
      ];
      for (const k of keep) await mark(page, k);
      await page.locator('#lambda-0').hover();

      const expected = [
        {
          status: /Denoising… block 1 of 2, t 4\/4/,
          frame: 'The cat was dull and',
          changed: [],
          hint: /The first step of this block\. Following the newest step/,
          caption: '12% at t 4',
          preview: 'The cat was dull and',
        },
        {
          status: /block 1 of 2, t 3\/4/,
          frame: 'The film was dull and',
          changed: ['film'],
          hint: /1 change since the previous step \(marked\)\./,
          caption: '25% at t 3',
          preview: 'The film was dull and',
        },
        {
          status: /block 1 of 2, t 2\/4/,
          frame: 'The film was bright and',
          changed: ['bright'],
          hint: /1 change since the previous step/,
          caption: '55% at t 2',
          preview: 'The film was bright and',
        },
        {
          status: /block 1 of 2, t 1\/4/,
          frame: 'The film was bright and',
          changed: [],
          hint: /Nothing changed since the previous step\./,
          caption: '71% at t 1',
          preview: 'The film was bright and',
        },
        {
          status: /block 2 of 2, t 4\/4/,
          frame: 'far too long.',
          changed: [],
          hint: /The first step of this block\./,
          caption: '60% at t 4',
          preview: 'The film was bright and far too long.',
        },
        {
          status: /block 2 of 2, t 3\/4/,
          frame: 'truly lovely.',
          changed: ['truly lovely'],
          hint: /1 change since/,
          caption: '80% at t 3',
          preview: 'The film was bright and truly lovely.',
        },
        {
          status: /block 2 of 2, t 2\/4/,
          frame: 'truly lovely.',
          changed: [],
          hint: /Nothing changed/,
          caption: 'not scored at t 2',
          preview: 'The film was bright and truly lovely.',
        },
      ];
      for (let n = 1; n <= expected.length; n++) {
        const e = expected[n - 1]!;
        const s = STEPS[n - 1]!;
        await show(host, RUNNING(n));
        await atT(page, s.t);
        assert.match(await text(page, '.status.running'), e.status);
        assert.equal(await text(page, '.timeline .frame'), e.frame);
        assert.deepEqual(await marks(page), e.changed, `the words that changed at step ${n}`);
        assert.match(await text(page, '#tl-help'), e.hint);
        assert.equal(await page.locator('.timeline .badge.live').count(), 1, 'the timeline follows the newest step');
        const frames = STEPS.slice(0, n).filter((x) => x.block === s.block).length;
        assert.equal(await page.locator('#tl-step').getAttribute('max'), String(frames - 1));
        assert.equal(await value(page, '#tl-step'), String(frames - 1));
        assert.equal(await page.locator('#tl-step').getAttribute('aria-valuetext'), `step ${frames} of ${frames}, t ${s.t} of 4`);
        assert.equal(await disabled(page, '#tl-step'), frames < 2, 'one step leaves nothing to scrub');
        assert.equal(await page.locator('#tl-block').count(), s.block > 0 ? 1 : 0, 'the block slider appears with the second block');
        // The preview: the newest text of each block, while the diff waits for the end of the run.
        assert.equal(await page.locator('.result .text.preview').getAttribute('aria-busy'), 'true');
        assert.equal(await text(page, '.result .text.preview'), e.preview);
        assert.equal(await page.locator('.result .text.diff').count(), 0);
        // One chart per steered attribute: p(target) at the shown step.
        assert.equal(await page.locator('.charts figure.chart').count(), 1);
        assert.equal(await text(page, '.charts figcaption'), `sentiment → positive · ${e.caption}`);
        assert.equal(await page.locator('.charts circle.dot').count(), e.caption.startsWith('not') ? 0 : 1, 'a dot marks the score of the shown step');
      }
      // Block 2's chart: a gap at the unscored step (two pen-downs), and the screen-reader summary says where p went.
      await show(host, RUNNING(8));
      await atT(page, 1);
      assert.equal((await page.locator('.charts path.line').getAttribute('d'))?.match(/M/g)?.length, 2, 'the line breaks at the unscored step');
      assert.equal(
        await page.locator('.charts svg').getAttribute('aria-label'),
        'sentiment → positive: p 60% at t 4, 90% at t 1; 90% at the shown step (t 1/4).',
      );
      assert.match(await text(page, '#h-charts'), /Classifier scores over steps · block 2/);
      await page.screenshot({ path: join(RESULTS, 'rewrite-running.png'), fullPage: true });

      for (const k of keep) assert.ok(await marked(page, k), `${k} is the same element after ${expected.length + 1} streamed updates`);
      assert.ok(await page.locator('#lambda-0').evaluate((el) => el.matches(':hover')), 'the λ slider is still under the pointer');
      assert.equal(await value(page, '#lambda-0'), '20');
      assert.equal(await value(page, '#steps'), '4');
    });
  });

  it('the timeline scrubs by keyboard and mouse: earlier steps, their changed words and their scores come back', async () => {
    await withView(async (host, page) => {
      await show(host, DONE());
      await atT(page, 1);
      assert.equal(await page.locator('.timeline .badge.live').count(), 0, 'a finished run is not live');
      assert.match(await text(page, '#tl-help'), /Move the slider \(arrow keys, Home, End\) to watch the tokens settle\./);
      assert.equal(await value(page, '#tl-block'), '1');
      assert.equal(await text(page, 'output[for="tl-block"]'), '2 / 2');

      // Block slider: back to block 1, which opens at its last step.
      await page.locator('#tl-block').focus();
      await page.keyboard.press('ArrowLeft');
      await page.locator('output[for="tl-block"]', { hasText: '1 / 2' }).waitFor();
      assert.equal(await page.locator('#tl-block').getAttribute('aria-valuetext'), 'block 1 of 2');
      assert.equal(await text(page, '.timeline .frame'), 'The film was bright and');
      assert.match(await text(page, '#h-charts'), /· block 1/);
      assert.deepEqual(host.persisted.at(-1), { recordOpen: false, runId: 7, block: 0 });

      // Step slider: Home, then step by step towards the end.
      await page.locator('#tl-step').focus();
      await page.keyboard.press('Home');
      await atT(page, 4);
      assert.equal(await text(page, '.timeline .frame'), 'The cat was dull and');
      assert.deepEqual(await marks(page), []);
      assert.equal(await page.locator('#tl-step').getAttribute('aria-valuetext'), 'step 1 of 4, t 4 of 4');
      assert.equal(await text(page, '.charts figcaption'), 'sentiment → positive · 12% at t 4');
      const markerX = () => page.locator('.charts line.marker').getAttribute('x1');
      const x0 = Number(await markerX());
      await page.keyboard.press('ArrowRight');
      await atT(page, 3);
      assert.equal(await text(page, '.timeline .frame'), 'The film was dull and');
      assert.deepEqual(await marks(page), ['film']);
      assert.equal(await text(page, '.charts figcaption'), 'sentiment → positive · 25% at t 3');
      assert.ok(Number(await markerX()) > x0, 'the chart marker moves with the shown step');
      assert.deepEqual(host.persisted.at(-1), { recordOpen: false, runId: 7, block: 0, step: 1 });
      await page.keyboard.press('End');
      await atT(page, 1);
      assert.equal(await text(page, '.charts figcaption'), 'sentiment → positive · 71% at t 1');
      assert.equal(await focusedKey(page), 'tl-step', 'keyboard focus stays on the slider while it scrubs');

      // The mouse: a click at the start of the track shows the first step.
      const box = (await page.locator('#tl-step').boundingBox())!;
      await page.mouse.click(box.x + 2, box.y + box.height / 2);
      await atT(page, 4);
      assert.equal(await text(page, '.timeline .frame'), 'The cat was dull and');
      // The diff of the finished run does not move with the timeline.
      assert.equal(await page.locator('.result .text.diff ins').first().textContent(), '[added: bright] ');
      await page.screenshot({ path: join(RESULTS, 'rewrite-scrubbed.png'), fullPage: true });
    });
  });

  it('while a run streams, scrubbing stops following and End follows again; a mouse drag is not cut short', async () => {
    await withView(async (host, page) => {
      await show(host, RUNNING(3));
      await atT(page, 2);
      // Drag the step thumb from the newest step to the first one.
      await mark(page, '#tl-step');
      const box = (await page.locator('#tl-step').boundingBox())!;
      const y = box.y + box.height / 2;
      await page.mouse.move(box.x + box.width - 3, y);
      await page.mouse.down();
      for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width - 3 - ((box.width - 5) * i) / 10, y);
      await page.mouse.up();
      await atT(page, 4);
      assert.equal(await text(page, '.timeline .frame'), 'The cat was dull and', 'the drag reached the first step');
      assert.ok(await marked(page, '#tl-step'), 'the slider under the pointer was not replaced');
      assert.equal(await page.locator('.timeline .badge.live').count(), 0, 'scrubbing stops following');
      assert.match(await text(page, '#tl-help'), /Move the slider/);
      assert.deepEqual(host.persisted.at(-1), { recordOpen: false, runId: 7, block: 0, step: 0 }, 'the step pins its block');

      // New steps arrive, also of the next block: the shown block and step stay, the status line reports progress.
      await show(host, RUNNING(4));
      await page.locator('.status.running', { hasText: 't 1/4' }).waitFor();
      assert.equal(await text(page, '.timeline .frame'), 'The cat was dull and');
      assert.equal(await page.locator('#tl-step').getAttribute('max'), '3');
      await show(host, RUNNING(5));
      await page.locator('.status.running', { hasText: 'block 2 of 2, t 4/4' }).waitFor();
      assert.equal(await text(page, '.timeline .frame'), 'The cat was dull and', 'the view stays on the step the user chose');
      assert.equal(await text(page, 'output[for="tl-block"]'), '1 / 2');
      assert.ok(await marked(page, '#tl-step'), 'the step slider is the same element after the block slider appeared');

      // End on the block slider: follow the newest step again.
      await page.locator('#tl-block').focus();
      await page.keyboard.press('End');
      await page.locator('.timeline .badge.live').waitFor();
      assert.deepEqual(host.persisted.at(-1), { recordOpen: false, runId: 7 });
      await show(host, RUNNING(6));
      await atT(page, 3);
      assert.equal(await text(page, '.timeline .frame'), 'truly lovely.');
      // Within the newest block: a step back stops following, End on the step slider follows again.
      await page.locator('#tl-step').focus();
      await page.keyboard.press('ArrowLeft');
      await atT(page, 4);
      assert.equal(await page.locator('.timeline .badge.live').count(), 0);
      await show(host, RUNNING(7));
      await page.locator('.status.running', { hasText: 't 2/4' }).waitFor();
      assert.equal(await text(page, '.timeline .frame'), 'far too long.');
      await page.keyboard.press('End');
      await page.locator('.timeline .badge.live').waitFor();
      await atT(page, 2);
      await show(host, RUNNING(8));
      await atT(page, 1);
      assert.equal(await page.locator('.timeline .badge.live').count(), 1);
      assert.equal(await focusedKey(page), 'tl-step');
    });
  });

  it('the controls post rerun with the typed values: λ per attribute, edit strength, steps T, top-p, projection, seed', async () => {
    await withView(async (host, page) => {
      await show(host, DONE());
      await page.locator('.result .meta').waitFor();
      // The controls show what the run used.
      assert.equal(await value(page, '#dir-0'), 'positive');
      assert.equal(await value(page, '#dir-1'), '');
      assert.equal(await value(page, '#lambda-num-0'), '20');
      assert.equal(await disabled(page, '#lambda-1'), true, 'λ of an unsteered attribute is disabled');
      assert.equal(await disabled(page, '#lambda-num-1'), true);
      assert.equal(await value(page, '#strength'), '0.5');
      assert.equal(await value(page, '#strength-num'), '0.5');
      assert.equal(await value(page, '#steps'), '4');
      assert.equal(await value(page, '#topP'), '0.95');
      assert.equal(await value(page, '#projection'), 'sampling');
      assert.equal(await value(page, '#seed'), '1234');
      assert.equal(await page.locator('#tokens').count(), 0, 'New tokens is for continuations');
      assert.deepEqual(await clickPosts(host, '[data-action="rerun"]'), { type: 'rerun', controls: CONTROLS });

      // Steer a second attribute: its λ starts at the default.
      await page.locator('#dir-1').selectOption('technical');
      assert.equal(await disabled(page, '#lambda-1'), false);
      assert.equal(await value(page, '#lambda-num-1'), '15');
      // λ slider by keyboard: the number field follows, and so does the screen-reader text.
      await page.locator('#lambda-0').focus();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      assert.equal(await value(page, '#lambda-num-0'), '22');
      assert.equal(await page.locator('#lambda-0').getAttribute('aria-valuetext'), 'λ 22');
      // λ typed: the slider follows.
      await page.locator('#lambda-num-1').fill('35');
      assert.equal(await value(page, '#lambda-1'), '35');
      await page.keyboard.press('Tab');
      // Edit strength by keyboard.
      await page.locator('#strength').focus();
      await page.keyboard.press('ArrowLeft');
      assert.equal(await value(page, '#strength-num'), '0.45');
      assert.equal(await page.locator('#strength').getAttribute('aria-valuetext'), 'edit strength 0.45');
      // Steps T: clamped to its range and rounded to a whole number when the field is left.
      await page.locator('#steps').fill('5000');
      await page.keyboard.press('Tab');
      assert.equal(await value(page, '#steps'), '1000');
      // Again out of range: the field still shows what the next run will use (the markup did not change this time).
      await page.locator('#steps').fill('2000');
      await page.keyboard.press('Tab');
      assert.equal(await value(page, '#steps'), '1000');
      await page.locator('#steps').fill('12.6');
      await page.keyboard.press('Tab');
      assert.equal(await value(page, '#steps'), '13');
      await page.locator('#topP').fill('0.9');
      await page.keyboard.press('Tab');
      await page.locator('#projection').selectOption('greedy');
      // New Seed: a fresh whole number in the field.
      await quiet(host, () => page.locator('[data-action="new-seed"]').click(), 'New Seed');
      const seed = Number(await value(page, '#seed'));
      assert.ok(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31 && seed !== 1234, `a new seed: ${seed}`);

      const edited: RewriteControls = {
        targets: [
          { attribute: 'sentiment', label: 'positive', lambda: 22 },
          { attribute: 'style', label: 'technical', lambda: 35 },
        ],
        strength: 0.45,
        steps: 13,
        topP: 0.9,
        projection: 'greedy',
        tokens: 24,
        seed,
      };
      assert.deepEqual(await clickPosts(host, '[data-action="rerun"]'), { type: 'rerun', controls: edited });
      // The edits are a draft of the next run, kept in the webview state.
      assert.deepEqual((host.persisted.at(-1) as { draft?: unknown }).draft, edited);

      // Enter in a field runs again with what the fields say (the typed value, before the field is left).
      await page.locator('#lambda-num-0').fill('-5');
      assert.deepEqual(await posts(host, () => page.keyboard.press('Enter'), 'Enter in λ'), {
        type: 'rerun',
        controls: { ...edited, targets: [{ ...edited.targets[0]!, lambda: 0 }, edited.targets[1]!] },
      });
      assert.equal(await value(page, '#lambda-num-0'), '0', 'the field shows the λ the run used: clamped to its range');
      assert.equal(await value(page, '#lambda-0'), '0');
      // An empty seed asks for a fresh random one: no seed in the message.
      await page.locator('#seed').fill('');
      const { seed: _s, ...noSeed } = edited;
      assert.deepEqual(await posts(host, () => page.keyboard.press('Enter'), 'Enter in Seed'), {
        type: 'rerun',
        controls: { ...noSeed, targets: [{ ...edited.targets[0]!, lambda: 0 }, edited.targets[1]!] },
      });
      // No steering for sentiment: its λ is disabled and it leaves the targets.
      await page.locator('#dir-0').selectOption('');
      assert.equal(await disabled(page, '#lambda-num-0'), true);
      assert.deepEqual(await clickPosts(host, '[data-action="rerun"]'), { type: 'rerun', controls: { ...noSeed, targets: [edited.targets[1]!] } });
      // Re-run by keyboard.
      await page.locator('[data-key="btn:rerun"]').focus();
      assert.deepEqual(await posts(host, () => page.keyboard.press('Enter'), 'Enter on Re-run'), {
        type: 'rerun',
        controls: { ...noSeed, targets: [edited.targets[1]!] },
      });
    });
  });

  it('a continuation shows the prompt and new text, and asks for the number of new tokens instead of an edit strength', async () => {
    await withView(async (host, page) => {
      const cont = DONE({
        mode: 'continue',
        original: '',
        source: { fileName: 'story.md', scope: 'line 7, column 12', languageId: 'markdown' },
        output: { text: 'and the rain stopped.', stoppedBy: 'eos' },
      });
      await show(host, cont);
      await page.locator('.result .meta').waitFor();
      assert.match(await text(page, 'h1'), /^Continuation · story\.md · line 7, column 12$/);
      assert.equal(await text(page, '#h-result'), 'Continuation');
      assert.equal(await text(page, '.result .text.continuation .prompt'), 'Yesterday I went to the cinema.');
      assert.equal((await page.locator('.result .text.continuation ins').textContent())?.replace(/\[continuation: |\]/g, ''), 'and the rain stopped.');
      assert.equal(await text(page, '.result .meta'), 'the model ended the text here');
      assert.equal(await page.locator('#strength').count(), 0);
      assert.equal(await value(page, '#tokens'), '24');
      assert.equal(await text(page, '[data-key="btn:accept"]'), 'Accept: Insert at Cursor');
      await page.locator('#tokens').fill('600');
      assert.deepEqual(await posts(host, () => page.keyboard.press('Enter'), 'Enter in New tokens'), { type: 'rerun', controls: { ...CONTROLS, tokens: 512 } });
      await page.locator('#minTokens').fill('3');
      assert.deepEqual(await posts(host, () => page.keyboard.press('Enter'), 'Enter in At least'), {
        type: 'rerun',
        controls: { ...CONTROLS, tokens: 512, minTokens: 3 },
      });
      assert.deepEqual(await clickPosts(host, '[data-action="accept"]'), { type: 'accept' });
    });
  });

  it('Accept, Reject and Cancel post their intents, each enabled only when it applies', async () => {
    await withView(async (host, page) => {
      const accept = '[data-key="btn:accept"]';
      // Running: Cancel is there, Accept waits for the end, Reject discards at any time.
      await show(host, RUNNING(2));
      await atT(page, 3);
      assert.equal(await disabled(page, accept), true, 'nothing to accept while the run streams');
      assert.equal(await disabled(page, '[data-key="btn:reject"]'), false);
      await quiet(host, () => page.locator(accept).click({ force: true }), 'a disabled Accept');
      assert.deepEqual(await clickPosts(host, '[data-action="cancel"]'), { type: 'cancel' });
      assert.deepEqual(await clickPosts(host, '[data-action="reject"]'), { type: 'reject' });

      // Cancelled and failed runs: nothing to accept, no Cancel.
      await show(host, RUNNING(2, { status: 'cancelled', message: 'Cancelled at step t 3/4 of block 1 of 2; the document was not changed.' }));
      await page.locator('.status.cancelled').waitFor();
      assert.equal(await text(page, '.status.cancelled'), 'Cancelled at step t 3/4 of block 1 of 2; the document was not changed.');
      assert.equal(await page.locator('[data-action="cancel"]').count(), 0);
      assert.equal(await disabled(page, accept), true);
      await show(host, RUNNING(2, { status: 'error', message: 'The worker failed.' }));
      await page.locator('.status.error').waitFor();
      assert.equal(await disabled(page, accept), true);

      // Done: Accept replaces the selection; then it is applied and cannot be applied twice.
      await show(host, DONE());
      await page.locator('.result .meta').waitFor();
      assert.equal(await page.locator('[data-action="cancel"]').count(), 0, 'no Cancel once the run is over');
      assert.equal(await disabled(page, accept), false);
      assert.equal(await text(page, accept), 'Accept: Replace Selection');
      assert.equal(await page.locator(accept).getAttribute('title'), 'Replace lines 3–4 of notes.md (one undo step)');
      assert.deepEqual(await clickPosts(host, '[data-action="accept"]'), { type: 'accept' });
      await page.locator(accept).focus();
      assert.deepEqual(await posts(host, () => page.keyboard.press('Space'), 'Space on Accept'), { type: 'accept' });
      await show(host, DONE({ applied: true }));
      await page.locator('.status.applied').waitFor();
      assert.equal(await text(page, '.status.applied'), 'Applied to notes.md; one Undo in the editor reverts it.');
      assert.equal(await disabled(page, accept), true);
      assert.equal(await page.locator(accept).getAttribute('title'), 'Already applied');
      await quiet(host, () => page.locator(accept).click({ force: true }), 'Accept after it was applied');
      assert.deepEqual(await clickPosts(host, '[data-action="reject"]'), { type: 'reject' });

      // A finished run with an empty output has nothing to accept.
      await show(host, DONE({ output: { text: '', stoppedBy: 'eos' } }));
      await page.locator('.status.applied').waitFor({ state: 'detached' });
      assert.equal(await disabled(page, accept), true);
    });
  });

  it('shows the original against the rewrite, word by word', async () => {
    await withView(async (host, page) => {
      await show(host, DONE());
      await page.locator('.result .meta').waitFor();
      assert.equal(await text(page, '#h-result'), 'Original → rewrite');
      const diff = page.locator('.result .text.diff');
      const visible = (sel: string) =>
        diff.locator(sel).evaluateAll((els) =>
          els.map((e) =>
            Array.from(e.childNodes)
              .filter((c) => !(c instanceof HTMLElement && c.classList.contains('sr-only')))
              .map((c) => c.textContent)
              .join(''),
          ),
        );
      assert.deepEqual(await visible('del'), ['dull', 'far too long']);
      assert.deepEqual(await visible('ins'), ['bright', 'truly lovely']);
      // What a screen reader reads: the changes named, not only struck through or underlined.
      assert.equal(await diff.textContent(), 'The film was [removed: dull] [added: bright]  and [removed: far too long] [added: truly lovely] .');
      assert.equal(await text(page, '.result .meta'), '4 words removed, 3 words added · kept the length of the original');
      assert.equal(await diff.getAttribute('aria-describedby'), 'diff-meta');
      assert.equal(await text(page, '.result .legend'), 'removed added');
      // Final classifier probabilities: the target row marked.
      assert.match(await text(page, '.scores'), /sentiment\s+negative\s+10%\s+positive \(target\)\s+90%\s+style\s+casual\s+70%\s+technical\s+30%/);
      assert.equal(await page.locator('.scores tr.target').count(), 1);
      assert.equal(await page.locator('.scores meter[aria-label="sentiment positive"]').getAttribute('value'), '0.9000');
      await page.screenshot({ path: join(RESULTS, 'rewrite-done.png'), fullPage: true });

      await show(host, DONE({ output: { text: ORIGINAL, stoppedBy: 'max-tokens' } }));
      await page.locator('.result .meta', { hasText: 'No change' }).waitFor();
      assert.equal(await text(page, '.result .meta'), 'No change: the rewrite is the same as the original. · kept the length of the original');
      assert.equal(await page.locator('.result .text.diff del, .result .text.diff ins').count(), 0);
    });
  });

  it('restores the timeline position, unsaved control edits and the open run record across a reload', async () => {
    await withView(async (host, page) => {
      await show(host, DONE());
      await page.locator('.result .meta').waitFor();
      await page.locator('#tl-block').focus();
      await page.keyboard.press('Home');
      await page.locator('#tl-step').focus();
      await page.keyboard.press('Home');
      await page.keyboard.press('ArrowRight');
      await atT(page, 3);
      await page.locator('#steps').fill('99');
      await page.keyboard.press('Tab');
      await page.locator('details.record summary').click();
      await page.locator('details.record[open]').waitFor();
      await page.waitForTimeout(100);
      const draft = { ...CONTROLS, steps: 99 };
      assert.deepEqual(host.persisted.at(-1), { recordOpen: true, runId: 7, block: 0, step: 1, draft });

      const beforeReload = host.received.length;
      await host.reload();
      await host.waitFor('ready', beforeReload, 20_000);
      assert.equal(host.received.filter((m) => m.type === 'ready').length, 2, 'the reloaded document handshakes again');
      await show(host, DONE());
      await atT(page, 3);
      assert.equal(await text(page, '.timeline .frame'), 'The film was dull and');
      assert.equal(await text(page, 'output[for="tl-block"]'), '1 / 2');
      assert.equal(await value(page, '#steps'), '99');
      await page.locator('details.record[open]').waitFor();
      assert.match(
        await text(page, 'details.record'),
        /Model\s+Concert SSD core \(concert-ssd-core\)[\s\S]*Steering\s+sentiment → positive \(λ 20\)\s+Seed\s+1234/,
      );
      assert.deepEqual(await clickPosts(host, '[data-action="rerun"]'), { type: 'rerun', controls: draft });

      // A new run starts over: the timeline follows it, the controls show what it used; the record stays open.
      await show(host, RUNNING(5, { id: 8 }));
      await atT(page, 4);
      assert.equal(await page.locator('.timeline .badge.live').count(), 1);
      assert.equal(await value(page, '#steps'), '4');
      assert.deepEqual(host.persisted.at(-1), { recordOpen: true, runId: 8 });
    });
  });

  it('shows errors, notices and model text as text, never as HTML', async () => {
    await withView(async (host, page) => {
      const evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & "q"';
      const hostileRun = DONE({
        source: { fileName: `<b>f</b>.md`, scope: '<i>lines</i>', languageId: 'markdown' },
        original: `Old ${evil}`,
        output: { text: `New ${evil}`, stoppedBy: 'eos' },
        steps: [rewriteStep(0, 2, `<u>a</u>`, 0.5), rewriteStep(0, 1, `<u>b</u> ${evil}`, 0.6)],
        blocks: 1,
      });
      await host.send({
        type: 'state',
        state: {
          classifiers: [{ attribute: '<em>tone</em>', labels: ['<s>x</s>'] }],
          defaultLambda: 15,
          run: { ...hostileRun, controls: { ...CONTROLS, targets: [{ attribute: '<em>tone</em>', label: '<s>x</s>', lambda: 3 }] } },
        },
      });
      await page.locator('.result .meta').waitFor();
      assert.equal(await text(page, 'h1 .source'), '· <b>f</b>.md · <i>lines</i>');
      assert.equal(await text(page, '.timeline .frame'), `<u>b</u> ${evil}`);
      assert.match(await text(page, '.result .text.diff'), /<img src=x onerror="window\.__pwned=1"><script>/);
      assert.equal(await text(page, '.attr .attr-name'), '<em>tone</em>');
      assert.equal(await page.locator('#dir-0 option').nth(1).textContent(), '→ <s>x</s>');
      assert.equal(await text(page, '.charts figcaption .attr-name'), '<em>tone</em> → <s>x</s>');
      assert.equal(await page.locator('#app img, #app script, #app b, #app i, #app u, #app em, #app s').count(), 0, 'no markup came through');

      await show(host, RUNNING(2, { status: 'error', message: `The worker failed: ${evil}` }));
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.equal((await alert.textContent())?.trim(), `The worker failed: ${evil}`);
      assert.match(await alert.innerHTML(), /&lt;img src=x/);
      await host.send({ type: 'notice', notice: { level: 'warning', text: `Could not edit <b>notes.md</b>.` } });
      const live = page.locator('.notice[role="status"][aria-live="polite"]');
      assert.equal(await live.textContent(), 'Could not edit <b>notes.md</b>.');
      assert.match((await live.getAttribute('class')) ?? '', /warning/);
      assert.equal(await page.locator('img, b').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      await page.screenshot({ path: join(RESULTS, 'rewrite-error.png'), fullPage: true });
    });
  });

  it('warns when the document changed underneath, and Accept still asks the host', async () => {
    await withView(async (host, page) => {
      await show(host, DONE({ source: { fileName: 'notes.md', scope: 'lines 3–4', languageId: 'markdown', changed: true } }));
      const note = page.getByRole('note');
      await note.waitFor();
      assert.equal(await note.textContent(), ' notes.md has changed since this run started; Accept asks before it edits.');
      assert.equal(await disabled(page, '[data-key="btn:accept"]'), false);
      assert.deepEqual(await clickPosts(host, '[data-action="accept"]'), { type: 'accept' });
      await show(host, DONE());
      await note.waitFor({ state: 'detached' });
    });
  });

  it('keeps keyboard focus and a half-typed value in place while steps stream in', async () => {
    await withView(async (host, page) => {
      await show(host, RUNNING(1));
      await atT(page, 4);
      await page.locator('#steps').fill('77');
      for (const n of [2, 3]) {
        await show(host, RUNNING(n));
        await atT(page, STEPS[n - 1]!.t);
      }
      assert.equal(await focusedKey(page), 'steps');
      assert.equal(await value(page, '#steps'), '77', 'the typed value survived the stream');
      await page.locator('[data-key="btn:cancel"]').focus();
      await show(host, RUNNING(4));
      await atT(page, 1);
      assert.equal(await focusedKey(page), 'btn:cancel', 'focus stayed on Cancel');
      // The run ends and the result section changes shape (legend, diff, meta): focus stays on Reject.
      await page.locator('[data-key="btn:reject"]').focus();
      await show(host, DONE());
      await page.locator('.result .meta').waitFor();
      await page.waitForTimeout(100);
      assert.equal(await focusedKey(page), 'btn:reject', 'focus stayed on Reject');
      assert.equal(await value(page, '#steps'), '77', 'the typed value outlived the end of the run');
    });
  });

  it('accessibility smoke: every control has an accessible name, the focus order follows the layout, and focus is visible', async () => {
    await withView(async (host, page) => {
      await show(host, DONE());
      await page.locator('.result .meta').waitFor();
      const controls = await axControls(page);
      const names = controls.map((c) => `${c.role} "${c.name}"`);
      assert.deepEqual(
        controls.filter((c) => !c.name),
        [],
        `controls without an accessible name:\n${names.join('\n')}`,
      );
      for (const expected of [
        'combobox "sentiment Direction"',
        'slider "sentiment λ"',
        'spinbutton "Guidance strength λ for sentiment (number)"',
        'combobox "style Direction"',
        'slider "Edit strength"',
        'spinbutton "Edit strength (number)"',
        'spinbutton "Steps T"',
        'spinbutton "Top-p"',
        'combobox "Projection"',
        'spinbutton "Seed"',
        'button "New Seed"',
        'button "Re-run"',
        'button "Accept: Replace Selection"',
        'button "Reject"',
        'slider "Block"',
        'slider "Step"',
      ]) {
        assert.ok(names.includes(expected), `${expected} is in the accessibility tree:\n${names.join('\n')}`);
      }
      // No id is used twice, and every label and description points at something.
      const refs = await page.evaluate(() => {
        const ids = Array.from(document.querySelectorAll('[id]')).map((e) => e.id);
        const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
        const missing: string[] = [];
        for (const el of Array.from(document.querySelectorAll('[aria-labelledby], [aria-describedby], label[for], output[for]'))) {
          const wanted = [el.getAttribute('aria-labelledby'), el.getAttribute('aria-describedby'), el.getAttribute('for')]
            .join(' ')
            .split(/\s+/)
            .filter(Boolean);
          for (const id of wanted) if (!document.getElementById(id)) missing.push(`${el.tagName.toLowerCase()} → #${id}`);
        }
        return { dup, missing };
      });
      assert.deepEqual(refs, { dup: [], missing: [] });
      assert.equal(await page.getByRole('region', { name: 'Diffusion controls' }).count(), 1);
      assert.equal(await page.getByRole('group', { name: 'Accept or reject' }).count(), 1);
      assert.equal(await page.getByRole('group', { name: 'sentiment' }).count(), 1);

      const order = await tabOrder(page);
      assert.deepEqual(order, [
        'dir:sentiment',
        'lambda-range:sentiment',
        'lambda:sentiment',
        'dir:style',
        'strength-range',
        'strength',
        'steps',
        'topP',
        'projection',
        'seed',
        'btn:new-seed',
        'btn:rerun',
        'btn:accept',
        'btn:reject',
        'tl-block',
        'tl-step',
        'summary:record',
      ]);
      await toTop(page);
      for (const key of order) {
        await page.keyboard.press('Tab');
        assert.equal(await focusedKey(page), key);
        assert.ok(await focusIsVisible(page), `keyboard focus on ${key} is not visible`);
      }
      // While running: Cancel comes first, the disabled Accept is skipped.
      await show(host, RUNNING(6));
      await atT(page, 3);
      const running = await tabOrder(page);
      assert.equal(running[0], 'btn:cancel');
      assert.ok(!running.includes('btn:accept'), `a disabled Accept takes no tab stop: ${JSON.stringify(running)}`);
      await page.screenshot({ path: join(RESULTS, 'rewrite-a11y.png'), fullPage: true });
    });
  });
});

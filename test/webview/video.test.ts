/// <reference lib="dom" />
/**
 * The "Concert: Video" panel (webview/video, dist/webview/video.js) in headless Chromium, under the extension's own CSP
 * (blob: images for the codec panels only), with a fake host speaking the typed protocol of src/protocol/webview.ts.
 * Every message the page posts is checked with the extension's own guard (isVideoViewToHost). Frames are real PNGs
 * (the codec fixtures), shown through blob: URLs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { isVideoViewToHost } from '../../src/extension/videoMessages';
import { contentSecurityPolicy } from '../../src/extension/webviewHtml';
import type { HostToVideoView, VideoControls, VideoRunView, VideoSampleView, VideoViewState, VideoViewToHost } from '../../src/protocol/webview';
import { axControls, RESULTS, requireBundle, startSuite, withPage, type WebviewSuite } from './common';
import { FakeHost, ROOT, VIEWS } from './harness';

type VideoHost = FakeHost<VideoViewToHost, HostToVideoView>;

const png = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'jpeg', `${name}.png`)).toString('base64');
const [P0, P1, G0, G1, G2, G3] = ['flat-32', 'grad-h-32', 'disc-32', 'checker-32', 'stripes-32', 'grad-v-32'].map(png) as [
  string,
  string,
  string,
  string,
  string,
  string,
];

const CONTROLS: VideoControls = { promptFrames: 2, frames: 4, samples: 2, temperature: 1, topP: 1, topK: 50 };
const STATE = (over: Partial<VideoViewState> = {}): VideoViewState => ({
  sourceName: 'walk.h264',
  controls: CONTROLS,
  model: { id: 'concert-avc-32', label: 'AVC-LM 32 (concert-avc-32)', width: 32, height: 32, fps: 8 },
  ...over,
});
const sample = (index: number, over: Partial<VideoSampleView> = {}): VideoSampleView => ({ index, frames: [], tokens: 0, done: false, ...over });
const RUNNING = (over: Partial<VideoRunView> = {}): VideoRunView => ({
  id: 1,
  status: 'running',
  sourceName: 'walk.h264',
  controls: CONTROLS,
  samples: [sample(0), sample(1)],
  ...over,
});
const DONE = (over: Partial<VideoRunView> = {}): VideoRunView =>
  RUNNING({
    status: 'done',
    promptFrames: [P0, P1],
    video: { width: 32, height: 32, fps: 8, clipFrames: 12 },
    samples: [
      sample(0, { frames: [G0, G1, G2, G3], tokens: 300, done: true, decodable: true, decodedFrames: 6 }),
      sample(1, { frames: [G1, G0], tokens: 310, done: true, decodable: false, decodedFrames: 4, problem: 'slice 2: bad mb_type' }),
    ],
    decodable: 1,
    mp4: true,
    record: [
      { name: 'Seed', value: '11' },
      { name: 'Decodable', value: '1 of 2' },
    ],
    ...over,
  });

let suite: WebviewSuite;

async function open(page: Page, state?: unknown): Promise<VideoHost> {
  const host = await FakeHost.open<VideoViewToHost, HostToVideoView>(page, suite.harness, VIEWS.video, isVideoViewToHost, state);
  await host.waitFor('ready');
  return host;
}
const show = (host: VideoHost, state: VideoViewState) => host.send({ type: 'state', state });
const counter = (page: Page, i: number) => page.locator(`[data-counter="${i}"]`).innerText();

async function decodedWidths(page: Page, selector: string): Promise<number[]> {
  await page.waitForFunction((sel) => Array.from(document.querySelectorAll<HTMLImageElement>(sel)).every((i) => i.complete), selector, { timeout: 5_000 });
  return page.locator(selector).evaluateAll((els) => (els as HTMLImageElement[]).map((i) => (i.src.startsWith('blob:') ? i.naturalWidth : -1)));
}

describe('video panel (webview tier)', () => {
  before(async () => {
    requireBundle('video');
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it("handshakes with ready, shows the clip, the model and the form under the extension's CSP", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      assert.deepEqual(host.received, [{ type: 'ready' }]);
      await show(host, STATE());
      await page.locator('#promptFrames').waitFor();
      assert.match(await page.locator('h1').innerText(), /Continue · walk\.h264/);
      assert.match(await page.locator('.model-line').innerText(), /Model: AVC-LM 32 \(concert-avc-32\), 32×32 at 8 fps/);
      assert.equal(await page.locator('[data-action="run"]').innerText(), 'Run');
      const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      assert.equal(csp, contentSecurityPolicy(suite.harness.origin, suite.harness.nonce(host.sessionId) ?? '', { blobImages: true }));
      assert.deepEqual(await host.clickPosts('[data-action="pickClip"]'), { type: 'pickClip' });
      assert.deepEqual(await host.clickPosts('.model-line [data-action="openSettings"]'), { type: 'openSettings' });
      const { model: _m, ...noModel } = STATE();
      await show(host, { ...noModel, noModel: 'No video model (an H.264 codec-lm pack) is installed: add one with Add Model Folder….' });
      assert.match(await page.locator('.no-model').innerText(), /No video model/);
      await page.screenshot({ path: join(RESULTS, 'video-empty.png'), fullPage: true });
    });
  });

  it('renders the prompt strip; generated frames appear in order as progress arrives; Cancel posts', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: RUNNING() }));
      assert.match(await page.locator('.status.running').innerText(), /Loading the video model/);
      assert.equal(await page.locator('.prompt-strip img').count(), 0);
      await page.locator('#samples').evaluate((el) => ((el as HTMLElement & { __mark?: boolean }).__mark = true));
      await show(
        host,
        STATE({ run: RUNNING({ promptFrames: [P0, P1], progress: { step: 40, maxSteps: 900 }, samples: [sample(0, { frames: [G0] }), sample(1)] }) }),
      );
      await page.locator('.prompt-strip img').nth(1).waitFor();
      assert.deepEqual(await decodedWidths(page, '.prompt-strip img'), [32, 32], 'the prompt frames decode, through blob: URLs');
      assert.equal(await page.locator('.sample-row[data-key="sample:0"] .generated img').count(), 1);
      assert.match(await page.locator('.status.running').innerText(), /step 40: 1 of 8 frames decoded in 2 samples/);
      const first = await page.locator('.sample-row[data-key="sample:0"] .generated img').first().getAttribute('src');
      await show(
        host,
        STATE({
          run: RUNNING({
            promptFrames: [P0, P1],
            progress: { step: 90, maxSteps: 900 },
            samples: [sample(0, { frames: [G0, G1, G2] }), sample(1, { frames: [G3], done: true })],
          }),
        }),
      );
      await page.waitForFunction(() => document.querySelectorAll('.sample-row[data-key="sample:0"] .generated img').length === 3);
      const alts = await page.locator('.sample-row[data-key="sample:0"] .generated img').evaluateAll((els) => els.map((e) => e.getAttribute('alt')));
      assert.deepEqual(alts, ['Sample 1, generated frame 1', 'Sample 1, generated frame 2', 'Sample 1, generated frame 3']);
      assert.equal(
        await page.locator('.sample-row[data-key="sample:0"] .generated img').first().getAttribute('src'),
        first,
        'a frame already shown keeps its image',
      );
      assert.deepEqual(await decodedWidths(page, '.generated img'), [32, 32, 32, 32]);
      assert.equal(
        await page.locator('#samples').evaluate((el) => (el as HTMLElement & { __mark?: boolean }).__mark === true),
        true,
        'the form survived the stream',
      );
      await page.screenshot({ path: join(RESULTS, 'video-streaming.png'), fullPage: true });
      assert.deepEqual(await host.clickPosts('.status.running [data-action="cancel"]'), { type: 'cancel' });
    });
  });

  it('the player: Play advances, Space pauses, ←/→ step the frame counter; verdicts per sample', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await page.locator('[data-player="0"]').waitFor();
      assert.equal(await counter(page, 0), 'frame 1 of 6 · prompt');
      assert.match(await page.locator('.sample-row.decodable').innerText(), /decodes to 6 of 6 frames/);
      assert.match(await page.locator('.sample-row.broken').innerText(), /does not decode: slice 2: bad mb_type \(4 of 6 frames\)/);
      assert.match(await page.locator('#h-samples').innerText(), /1 of 2 decodable/);
      // Keyboard on the focused player.
      await page.locator('[data-player="0"]').focus();
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      assert.equal(await counter(page, 0), 'frame 3 of 6 · generated');
      await page.keyboard.press('ArrowLeft');
      assert.equal(await counter(page, 0), 'frame 2 of 6 · prompt');
      await page.keyboard.press('ArrowLeft');
      await page.keyboard.press('ArrowLeft');
      assert.equal(await counter(page, 0), 'frame 6 of 6 · generated', '← from the first frame wraps to the last');
      const shown = await page.locator('[data-player="0"] .frame img').getAttribute('src');
      // Space plays: the counter advances at the clip's rate; Space again pauses.
      await page.locator('[data-player="0"]').focus();
      await page.keyboard.press('Space');
      await page.waitForFunction(() => document.querySelector('[data-counter="0"]')?.textContent === 'frame 3 of 6 · generated', undefined, { timeout: 3_000 });
      assert.notEqual(await page.locator('[data-player="0"] .frame img').getAttribute('src'), shown, 'the player shows another frame');
      assert.equal(await page.locator('[data-key="btn:play:0"]').innerText(), 'Pause');
      await page.keyboard.press('Space');
      const paused = await counter(page, 0);
      await page.waitForTimeout(400);
      assert.equal(await counter(page, 0), paused, 'paused');
      // The buttons too; the other sample's player is its own.
      await page.locator('[data-key="btn:fwd:1"]').click();
      assert.equal(await counter(page, 1), 'frame 2 of 4 · prompt');
      await page.locator('[data-key="btn:play:0"]').click();
      await page.waitForFunction((p) => document.querySelector('[data-counter="0"]')?.textContent !== p, paused, { timeout: 3_000 });
      await page.locator('[data-key="btn:play:0"]').click();
      await page.screenshot({ path: join(RESULTS, 'video-done.png'), fullPage: true });
      assert.deepEqual(host.refused, []);
    });
  });

  it('Run posts every knob (clamped), Save posts where and which, the fix button opens its setting', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await page.locator('#promptFrames').waitFor();
      assert.equal(await page.locator('[data-action="run"]').innerText(), 'Rerun');
      await page.locator('#promptFrames').fill('40');
      await page.locator('#frames').fill('6');
      await page.locator('#samples').fill('3');
      await page.locator('#topK').fill('0');
      await page.locator('#seed').fill('42');
      assert.deepEqual(await host.clickPosts('[data-action="run"]'), {
        type: 'run',
        controls: { promptFrames: 12, frames: 6, samples: 3, temperature: 1, topP: 1, topK: 0, seed: 42 },
      });
      assert.deepEqual(await host.clickPosts('.sample-row[data-key="sample:1"] [data-action="save"]'), { type: 'save', where: 'source', index: 1 });
      assert.deepEqual(await host.clickPosts('[data-key="btn:save:all:source"]'), { type: 'save', where: 'source' });
      assert.deepEqual(await host.clickPosts('[data-key="btn:save:all:folder"]'), { type: 'save', where: 'folder' });
      assert.match(await page.locator('.mp4-note').innerText(), /\.h264 and \.mp4/);
      await show(host, STATE({ run: DONE({ samples: DONE().samples.map((x) => ({ ...x, savedAs: [`walk-continue-${x.index + 1}.h264`] })) }) }));
      await page.locator('.sample-row .saved').first().waitFor();
      assert.match(await page.locator('.sample-row').first().innerText(), /saved as walk-continue-1\.h264/);
      // ffmpeg missing: the worker's message and a button for concert.ffmpegPath.
      const msg = 'walk.mp4 needs ffmpeg (with libx264) … or set concert.ffmpegPath / --ffmpeg to its absolute path.';
      await show(host, STATE({ run: RUNNING({ id: 2, status: 'error', message: msg, fix: 'ffmpeg' }) }));
      assert.equal((await page.getByRole('alert').innerText()).includes('needs ffmpeg'), true);
      assert.deepEqual(await host.clickPosts('[data-key="btn:fix"]'), { type: 'openSettings', setting: 'concert.ffmpegPath' });
      await page.screenshot({ path: join(RESULTS, 'video-ffmpeg-error.png'), fullPage: true });
      await show(host, STATE({ run: RUNNING({ id: 3, status: 'error', message: 'no model. concert.video.modelPack …', fix: 'model' }) }));
      assert.deepEqual(await host.clickPosts('[data-key="btn:fix"]'), { type: 'openSettings', setting: 'concert.video.modelPack' });
      assert.equal(await page.locator('[data-action="save"]').count(), 0, 'nothing to save without a finished run');
      assert.deepEqual(host.refused, []);
    });
  });

  it('shows names and errors as text; restores the record and a draft across a reload; every control is named', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const evil = '<img src=x onerror="window.__pwned=1"><b>x</b>';
      await show(host, STATE({ sourceName: evil, run: DONE({ sourceName: evil }) }));
      await page.locator('.sample-row').first().waitFor();
      assert.match(await page.locator('h1').innerText(), /<img src=x/);
      assert.equal(await page.locator('#app b').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      await show(host, STATE({ run: DONE() }));
      await page.locator('details[data-ui="record"] summary').click();
      await page.locator('#frames').fill('5');
      await page.waitForTimeout(100);
      await host.reload();
      await show(host, STATE({ run: DONE() }));
      await page.locator('details[data-ui="record"][open]').waitFor();
      assert.equal(await page.locator('#frames').inputValue(), '5');
      assert.match(await page.locator('.facts').innerText(), /Seed\s+11/);
      const controls = await axControls(page);
      assert.deepEqual(
        controls.filter((c) => !c.name),
        [],
        controls.map((c) => `${c.role} "${c.name}"`).join('\n'),
      );
      const alts = await page.locator('#app img').evaluateAll((els) => els.map((e) => e.getAttribute('alt') ?? ''));
      assert.ok(
        alts.every((a) => a.length > 5),
        JSON.stringify(alts),
      );
      await page.screenshot({ path: join(RESULTS, 'video-a11y.png'), fullPage: true });
    });
  });
});

/// <reference lib="dom" />
/**
 * The "Concert: Images" panel (webview/images, dist/webview/images.js) in headless Chromium, under the extension's
 * own CSP (which allows blob: images for this panel only), with a fake host speaking the typed protocol of
 * src/protocol/webview.ts. Every message the page posts is checked with the extension's own guard
 * (isImagesViewToHost). The images are real canonical JPEG streams of the codec fixtures, cut and closed with grey
 * MCUs the way the worker's progressive previews are.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { cutAfterMcus } from '../../src/codec/jpeg';
import { isImagesViewToHost } from '../../src/extension/imagesMessages';
import { contentSecurityPolicy } from '../../src/extension/webviewHtml';
import type { HostToImagesView, ImageControls, ImageSampleView, ImagesRunView, ImagesViewState, ImagesViewToHost } from '../../src/protocol/webview';
import { closedJpeg, jpegFile } from '../../src/runtime/imageSamples';
import { axControls, focusIsVisible, requireBundle, RESULTS, startSuite, tabOrder, withPage, type WebviewSuite } from './common';
import { FakeHost, ROOT, VIEWS } from './harness';

type ImagesHost = FakeHost<ImagesViewToHost, HostToImagesView>;

/** rings-64: 64×64, 16 MCUs in 4 patches (one MCU row each). */
const G = { width: 64, height: 64 };
const STREAM = new Uint8Array(readFileSync(join(ROOT, 'test', 'fixtures', 'jpeg', 'rings-64.bin')));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
/** The preview of a sample after `mcus` MCUs: those MCUs of the fixture, the rest grey. */
const preview = (mcus: number) => b64(closedJpeg(cutAfterMcus(STREAM, mcus, G), G));
const FULL = b64(jpegFile(STREAM));

const CONTROLS: ImageControls = { ratio: 0.5, samples: 3, temperature: 1, topP: 1, topK: 50 };
const STATE = (over: Partial<ImagesViewState> = {}): ImagesViewState => ({
  mode: 'complete',
  sourceName: 'rings.png',
  controls: CONTROLS,
  model: { id: 'codec-lm-tiny', label: 'Tiny codec LM (codec-lm-tiny)', width: 64, height: 64 },
  ...over,
});
const sample = (index: number, over: Partial<ImageSampleView> = {}): ImageSampleView => ({ index, mcusDone: 0, tokens: 0, done: false, ...over });
const RUNNING = (over: Partial<ImagesRunView> = {}): ImagesRunView => ({
  id: 1,
  status: 'running',
  mode: 'complete',
  sourceName: 'rings.png',
  controls: CONTROLS,
  samples: [sample(0), sample(1), sample(2)],
  ...over,
});
const GEOMETRY = { width: 64, height: 64, mcuCount: 16, patches: 4, keptPatches: 2, keptMcus: 8 };
const DONE = (over: Partial<ImagesRunView> = {}): ImagesRunView =>
  RUNNING({
    status: 'done',
    original: FULL,
    kept: preview(8),
    mcuCount: 16,
    geometry: GEOMETRY,
    samples: [
      sample(0, { jpeg: FULL, mcusDone: 16, tokens: 120, done: true, decodable: true }),
      sample(1, { jpeg: preview(12), mcusDone: 16, tokens: 90, done: true, decodable: true }),
      sample(2, { jpeg: preview(10), mcusDone: 16, tokens: 80, done: true, decodable: false, problem: 'byte 90: restart marker out of order' }),
    ],
    decodable: 2,
    record: [
      { name: 'Seed', value: '7' },
      { name: 'Decodable', value: '2 of 3' },
    ],
    ...over,
  });

let suite: WebviewSuite;

async function open(page: Page, state?: unknown): Promise<ImagesHost> {
  const host = await FakeHost.open<ImagesViewToHost, HostToImagesView>(page, suite.harness, VIEWS.images, isImagesViewToHost, state);
  await host.waitFor('ready');
  return host;
}

const show = (host: ImagesHost, state: ImagesViewState) => host.send({ type: 'state', state });

/** Per <img> matching `selector`: its src and whether it decoded (naturalWidth > 0), once every one has loaded. */
async function images(page: Page, selector: string): Promise<{ src: string; width: number; height: number }[]> {
  await page.waitForFunction((sel) => Array.from(document.querySelectorAll<HTMLImageElement>(sel)).every((i) => i.complete), selector, { timeout: 5_000 });
  return page.locator(selector).evaluateAll((els) => (els as HTMLImageElement[]).map((i) => ({ src: i.src, width: i.naturalWidth, height: i.naturalHeight })));
}

/**
 * Variance of the red channel in each MCU row (16 px) of the `index`-th sample image, drawn into a canvas: a grey
 * row (not sampled yet) is flat, up to a little chroma bleeding over from the row above.
 */
async function rowVariance(page: Page, index: number): Promise<number[]> {
  return page
    .locator('.sample img')
    .nth(index)
    .evaluate((el) => {
      const img = el as HTMLImageElement;
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const rows: number[] = [];
      for (let y = 0; y < c.height; y += 16) {
        const d = ctx.getImageData(0, y, c.width, 16).data;
        let varSum = 0;
        let mean = 0;
        for (let i = 0; i < d.length; i += 4) mean += d[i]!;
        mean /= d.length / 4;
        for (let i = 0; i < d.length; i += 4) varSum += (d[i]! - mean) ** 2;
        rows.push(varSum / (d.length / 4));
      }
      return rows;
    });
}

describe('images panel (webview tier)', () => {
  before(async () => {
    requireBundle('images');
    suite = await startSuite();
  });
  after(async () => {
    await suite?.close();
  });

  it("handshakes with ready, shows the form, the image and the model, under the extension's CSP with blob: images", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      assert.deepEqual(host.received, [{ type: 'ready' }]);
      await show(host, STATE());
      await page.locator('#ratio').waitFor();
      assert.match(await page.locator('h1').innerText(), /Complete · rings\.png/);
      assert.match(await page.locator('.model-line').innerText(), /Model: Tiny codec LM \(codec-lm-tiny\), 64×64 pixels/);
      assert.match(await page.locator('.image-line').innerText(), /Image:\s+rings\.png/);
      assert.equal(await page.locator('#ratio-value').innerText(), '50%');
      assert.equal(await page.locator('[data-action="run"]').innerText(), 'Run');
      const nonce = suite.harness.nonce(host.sessionId) ?? '';
      const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
      assert.equal(csp, contentSecurityPolicy(suite.harness.origin, nonce, { blobImages: true }));
      assert.match(csp ?? '', /img-src \S+ blob:;/);
      assert.doesNotMatch(csp ?? '', /data:/);
      assert.deepEqual(await host.clickPosts('[data-action="pickImage"]'), { type: 'pickImage' });
      assert.deepEqual(await host.clickPosts('[data-action="openSettings"]'), { type: 'openSettings' });
      // No model: the reason, as text.
      const { model: _m, ...noModel } = STATE();
      await show(host, { ...noModel, noModel: 'No image model (a codec-lm pack) is installed: add one with Add Model Folder….' });
      assert.match(await page.locator('.no-model').innerText(), /No image model/);
      await page.screenshot({ path: join(RESULTS, 'images-empty.png'), fullPage: true });
    });
  });

  it('the gallery fills in row by row as previews stream; unchanged samples keep their image; the slider survives', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: RUNNING() }));
      assert.match(await page.locator('.status.running').innerText(), /Loading the image model/);
      assert.equal(await page.locator('.sample').count(), 3);
      assert.equal(await page.locator('.sample img').count(), 0, 'no preview before the first bytes');
      assert.equal(await page.locator('[data-action="run"]').getAttribute('disabled'), '', 'Run waits for the run in progress');
      await page.locator('#ratio').evaluate((el) => ((el as HTMLElement & { __mark?: boolean }).__mark = true));

      // Step 1: every sample shows the kept rows (8 MCUs = the top two MCU rows), the rest grey.
      const at = (mcus: number[], step: number): ImagesRunView =>
        RUNNING({
          mcuCount: 16,
          progress: { step, maxSteps: 400 },
          samples: mcus.map((m, i) => sample(i, { jpeg: preview(m), mcusDone: m, tokens: step })),
        });
      await show(host, STATE({ run: at([8, 8, 8], 1) }));
      await page.locator('.sample img').nth(2).waitFor();
      assert.match(await page.locator('.status.running').innerText(), /Sampling… step 1: 24 of 48 MCUs decoded in 3 samples/);
      assert.equal(await page.locator('.status.running progress').getAttribute('value'), '24');
      let imgs = await images(page, '.sample img');
      assert.equal(imgs.length, 3);
      for (const i of imgs) {
        assert.ok(i.src.startsWith('blob:'), `shown through a blob: URL: ${i.src}`);
        assert.equal(i.width, 64, 'the preview decodes');
      }
      assert.equal(imgs[0]!.src, imgs[1]!.src, 'identical previews share one URL');
      const before = await rowVariance(page, 0);
      assert.ok(before[2]! < 50 && before[3]! < 50, `rows 3 and 4 are flat grey before their bytes arrive: ${before}`);
      assert.equal(await page.locator('.sample progress').first().getAttribute('value'), '8');

      // Later: sample 0 has its third MCU row, sample 1 nothing new (its preview stays), sample 2 half a row more.
      await show(host, STATE({ run: at([12, 8, 10], 60) }));
      await page.waitForFunction(() => document.querySelectorAll<HTMLProgressElement>('.sample progress')[0]?.value === 12);
      const after = await images(page, '.sample img');
      assert.notEqual(after[0]!.src, imgs[0]!.src, 'sample 1 shows its newer bytes');
      assert.equal(after[1]!.src, imgs[1]!.src, 'sample 2 keeps its image (no reload)');
      const rows = await rowVariance(page, 0);
      assert.ok(rows[2]! > 100, `the third MCU row of sample 1 is drawn now: ${rows}`);
      assert.ok(rows[3]! < 50, `the fourth is still grey: ${rows}`);
      assert.match((await page.locator('.sample').nth(2).getAttribute('aria-label')) ?? '', /Sample 3: 10 of 16 MCUs/);
      assert.equal(
        await page.locator('#ratio').evaluate((el) => (el as HTMLElement & { __mark?: boolean }).__mark === true),
        true,
        'the slider survived the stream',
      );
      imgs = after;
      await page.screenshot({ path: join(RESULTS, 'images-streaming.png'), fullPage: true });

      // Cancel posts its intent.
      assert.deepEqual(await host.clickPosts('.status.running [data-action="cancel"]'), { type: 'cancel' });
    });
  });

  it('a finished run shows the original and the kept region, marks each sample decodable or not, and previews the ratio', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await page.locator('.orig img').waitFor();
      const [orig] = await images(page, '.orig img');
      const [kept] = await images(page, '.kept img');
      assert.equal(orig?.width, 64, 'the original decodes');
      assert.equal(kept?.width, 64, 'the kept region decodes');
      assert.match(await page.locator('.kept figcaption').innerText(), /Kept region · 2 of 4 patches/);
      assert.match(await page.locator('#h-gallery').innerText(), /2 of 3 decodable/);
      assert.equal(await page.locator('.sample.decodable').count(), 2);
      assert.equal(await page.locator('.sample.broken').count(), 1);
      assert.match(await page.locator('.sample.broken').innerText(), /not decodable/);
      assert.match((await page.locator('.sample.broken').getAttribute('aria-label')) ?? '', /not decodable: byte 90: restart marker out of order/);
      for (const i of await images(page, '.sample img')) assert.ok(i.width > 0);
      assert.equal(await page.locator('[data-action="run"]').innerText(), 'Rerun');
      // At 50% the bottom two MCU rows are dimmed; moving the slider to 25% dims three, before any rerun.
      assert.equal(await page.locator('svg.drop rect').count(), 1);
      assert.equal(await page.locator('svg.drop rect').getAttribute('height'), '2');
      await page.locator('#ratio').focus();
      await page.keyboard.press('Home');
      assert.equal(await page.locator('#ratio-value').innerText(), '0% (0 of 4 patches)');
      for (let i = 0; i < 8; i++) await page.keyboard.press('ArrowRight');
      assert.equal(await page.locator('#ratio-value').innerText(), '25% (1 of 4 patches)');
      assert.equal(await page.locator('#ratio').getAttribute('aria-valuetext'), 'keep 25% (1 of 4 patches)');
      await page.waitForFunction(() => document.querySelector('svg.drop rect')?.getAttribute('height') === '3');
      await page.screenshot({ path: join(RESULTS, 'images-done.png'), fullPage: true });
    });
  });

  it('Run posts the mode and every knob; Ctrl+Enter and New Seed too; a draft survives a state update', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await page.locator('#ratio').waitFor();
      await page.locator('#ratio').focus();
      await page.keyboard.press('ArrowRight');
      await page.locator('#samples').fill('2');
      await page.locator('#temperature').fill('0.7');
      await page.locator('#topP').fill('0.9');
      await page.locator('#topK').fill('0');
      await page.locator('#seed').fill('42');
      assert.deepEqual(await host.clickPosts('[data-action="run"]'), {
        type: 'run',
        mode: 'complete',
        controls: { ratio: 0.53125, samples: 2, temperature: 0.7, topP: 0.9, topK: 0, seed: 42 },
      });
      // Out-of-range values are clamped, never sent as they are.
      await page.locator('#samples').fill('99');
      await page.locator('#seed').fill('');
      const run = await host.clickPosts('[data-action="run"]');
      assert.deepEqual(run.type === 'run' && run.controls, { ratio: 0.53125, samples: 16, temperature: 0.7, topP: 0.9, topK: 0 });
      // The draft survives a state update that is not a new run (the model list changed).
      await show(host, STATE({ run: DONE(), model: { id: 'other', label: 'other', width: 64, height: 64 } }));
      assert.equal(await page.locator('#temperature').inputValue(), '0.7');
      // Generate: the ratio is off, and Run posts the mode.
      await page.locator('input[data-key="mode:generate"]').check();
      assert.equal(await page.locator('#ratio').isDisabled(), true);
      assert.equal(await page.locator('.image-line').count(), 0);
      const from = host.received.length;
      await page.locator('#topP').focus();
      await page.keyboard.press('Control+Enter');
      const msg = await host.waitFor('run', from);
      assert.equal(msg.mode, 'generate');
      await page.locator('[data-action="newSeed"]').click();
      const seeded = Number(await page.locator('#seed').inputValue());
      assert.ok(Number.isInteger(seeded) && seeded >= 0, 'New Seed fills in a seed');
      const again = await host.clickPosts('[data-action="run"]');
      assert.equal(again.type === 'run' && again.controls.seed, seeded);
    });
  });

  it('Save posts where and which: one sample or all, next to the image or into a folder; generations ask for a folder', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await page.locator('.sample').first().waitFor();
      assert.deepEqual(await host.clickPosts('.sample[data-key="sample:1"] [data-action="save"]'), { type: 'save', where: 'source', index: 1 });
      assert.deepEqual(await host.clickPosts('[data-key="btn:save:all:source"]'), { type: 'save', where: 'source' });
      assert.deepEqual(await host.clickPosts('[data-key="btn:save:all:folder"]'), { type: 'save', where: 'folder' });
      // Saved samples say where they went.
      await show(host, STATE({ run: DONE({ samples: DONE().samples.map((x) => ({ ...x, savedAs: `rings-complete-${x.index + 1}.jpg` })) }) }));
      await page.locator('.sample .saved').first().waitFor();
      assert.match(await page.locator('.sample').first().innerText(), /saved as rings-complete-1\.jpg/);
      // A generation has no image to save next to.
      const gen = DONE({ mode: 'generate', kept: preview(0), geometry: { ...GEOMETRY, keptPatches: 0, keptMcus: 0 } });
      delete gen.sourceName;
      delete gen.original;
      await show(host, STATE({ mode: 'generate', run: gen }));
      await page.locator('[data-key="btn:save:all:source"]').waitFor({ state: 'detached' });
      assert.equal(await page.locator('.input').count(), 0, 'no original or kept region for a generation');
      assert.match(await page.locator('#h-gallery').innerText(), /Generated images/);
      assert.deepEqual(await host.clickPosts('.sample[data-key="sample:0"] [data-action="save"]'), { type: 'save', where: 'folder', index: 0 });
      // While running there is nothing to save.
      await show(host, STATE({ run: RUNNING({ id: 2 }) }));
      assert.equal(await page.locator('[data-action="save"]').count(), 0);
      assert.deepEqual(host.refused, []);
    });
  });

  it('shows file names, errors and verdicts as text, never as HTML', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      const evil = '<img src=x onerror="window.__pwned=1"><b>x</b>';
      await show(
        host,
        STATE({
          sourceName: evil,
          run: DONE({ sourceName: evil, samples: [sample(0, { jpeg: FULL, done: true, decodable: false, problem: evil })], decodable: 0 }),
        }),
      );
      await page.locator('.sample').first().waitFor();
      assert.match(await page.locator('h1').innerText(), /<img src=x/);
      await show(host, STATE({ run: RUNNING({ id: 2, status: 'error', message: evil }) }));
      assert.equal((await page.getByRole('alert').textContent())?.trim(), evil);
      assert.equal(await page.locator('#app b').count(), 0);
      assert.equal(await page.locator('#app img[src="x"]').count(), 0);
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
      await show(host, STATE({ run: RUNNING({ id: 3, status: 'cancelled', message: 'Cancelled.' }) }));
      assert.match(await page.locator('.status.cancelled').innerText(), /Cancelled\./);
    });
  });

  it("announces the host's notices, and restores the open record and a draft across a reload", async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await host.send({ type: 'notice', notice: { level: 'info', text: 'Saved 3 images (rings-complete-1.jpg … rings-complete-3.jpg) in ws.' } });
      const live = page.locator('.notice[role="status"][aria-live="polite"]');
      assert.match((await live.textContent()) ?? '', /Saved 3 images/);
      await page.locator('details[data-ui="record"] summary').click();
      await page.locator('#samples').fill('5');
      await page.waitForTimeout(100);
      const kept = host.persisted.at(-1) as { recordOpen?: boolean; draft?: ImageControls };
      assert.equal(kept.recordOpen, true);
      assert.equal(kept.draft?.samples, 5);
      await host.reload();
      await show(host, STATE({ run: DONE() }));
      await page.locator('details[data-ui="record"][open]').waitFor();
      assert.equal(await page.locator('#samples').inputValue(), '5');
      assert.match(await page.locator('.facts').innerText(), /Seed\s+7/);
    });
  });

  it('accessibility smoke: every control and image is named, Tab reaches the controls in order with visible focus', async () => {
    await withPage(suite, async (page) => {
      const host = await open(page);
      await show(host, STATE({ run: DONE() }));
      await page.locator('.sample img').first().waitFor();
      const controls = await axControls(page);
      const names = controls.map((c) => `${c.role} "${c.name}"`);
      assert.deepEqual(
        controls.filter((c) => !c.name),
        [],
        `controls without an accessible name:\n${names.join('\n')}`,
      );
      for (const expected of ['slider "Keep"', 'spinbutton "Samples"', 'spinbutton "Temperature"', 'spinbutton "Seed"', 'button "Rerun"', 'button "Save"'])
        assert.ok(names.includes(expected), `${expected} is in the accessibility tree:\n${names.join('\n')}`);
      const alts = await page.locator('#app img').evaluateAll((els) => els.map((e) => e.getAttribute('alt') ?? ''));
      assert.ok(
        alts.every((a) => a.length > 5),
        `every image has alt text: ${JSON.stringify(alts)}`,
      );
      const order = await tabOrder(page, 60);
      for (const k of ['mode:complete', 'btn:pickImage', 'ratio', 'samples', 'seed', 'btn:run', 'btn:save:0', 'btn:save:all:source', 'summary:record'])
        assert.ok(order.includes(k), `${k} is reachable by Tab: ${JSON.stringify(order)}`);
      assert.ok(order.indexOf('ratio') < order.indexOf('btn:run') && order.indexOf('btn:run') < order.indexOf('btn:save:0'), JSON.stringify(order));
      for (const k of ['ratio', 'samples']) {
        await page.locator(`[data-key="${k}"]`).focus();
        assert.ok(await focusIsVisible(page), `keyboard focus on ${k} is visible`);
      }
      await page.screenshot({ path: join(RESULTS, 'images-a11y.png'), fullPage: true });
    });
  });
});

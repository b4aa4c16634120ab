/// <reference lib="dom" />
/**
 * Scenario steps shared by the VS Code tier's suites: the Summary, Rewrite, Collaborate and Images panels' frames, waiting for their runs,
 * selecting text by keyboard, answering the attribute quick pick.
 */
import assert from 'node:assert/strict';
import type { Frame } from 'playwright-core';
import type { Workbench } from './workbench';

export const SUMMARY_TITLE = 'Concert: Summary';
export const REWRITE_TITLE = 'Concert: Rewrite';
export const COLLAB_TITLE = 'Concert: Collaborate';
export const IMAGES_TITLE = 'Concert: Images';

export function summaryFrame(wb: Workbench): Promise<Frame> {
  return wb.webview(SUMMARY_TITLE, 60_000);
}

export function rewriteFrame(wb: Workbench): Promise<Frame> {
  return wb.webview(REWRITE_TITLE, 60_000);
}

export function collabFrame(wb: Workbench): Promise<Frame> {
  return wb.webview(COLLAB_TITLE, 60_000);
}

export function imagesFrame(wb: Workbench): Promise<Frame> {
  return wb.webview(IMAGES_TITLE, 60_000);
}

/** Waits for a panel's run to end (done, cancelled or failed); fails if it failed. `result` marks a finished run. */
async function runDone(wb: Workbench, panel: (wb: Workbench) => Promise<Frame>, result: string, what: string, timeout: number): Promise<Frame> {
  const frame = await panel(wb);
  await wb.until(
    what,
    async () => (await frame.locator('.status.running').count()) === 0 && (await frame.locator(`${result}, .status.error, .status.cancelled`).count()) > 0,
    timeout,
  );
  assert.equal(
    await frame.locator('.status.error').count(),
    0,
    `the run failed: ${await frame
      .locator('.status.error')
      .innerText()
      .catch(() => '')}`,
  );
  return frame;
}

export function summaryDone(wb: Workbench, timeout = 120_000): Promise<Frame> {
  return runDone(wb, summaryFrame, '.output.cad .meta', 'the summary run to finish', timeout);
}

export function rewriteDone(wb: Workbench, timeout = 120_000): Promise<Frame> {
  return runDone(wb, rewriteFrame, '.result .meta', 'the diffusion run to finish', timeout);
}

export function collabDone(wb: Workbench, timeout = 200_000): Promise<Frame> {
  return runDone(wb, collabFrame, '.ledger-summary', 'the collaboration to finish', timeout);
}

/** The Images panel's run to finish: its Save buttons appear only then. */
export function imagesDone(wb: Workbench, timeout = 120_000): Promise<Frame> {
  return runDone(wb, imagesFrame, '.gallery [data-key="btn:save:all:folder"]', 'the image run to finish', timeout);
}

export const VIDEO_TITLE = 'Concert: Video';

/** The Video panel's run to finish: its Save All buttons appear only then. */
export function videoDone(wb: Workbench, timeout = 180_000): Promise<Frame> {
  return runDone(wb, (w) => w.webview(VIDEO_TITLE, 60_000), '.continuations [data-key="btn:save:all:folder"]', 'the video run to finish', timeout);
}

/** Per <img> matching `selector` in `frame`, once each has loaded: its natural width (0 when it did not decode). */
export async function imageWidths(frame: Frame, selector: string): Promise<number[]> {
  await frame.waitForFunction((sel) => Array.from(document.querySelectorAll<HTMLImageElement>(sel)).every((i) => i.complete), selector, { timeout: 10_000 });
  return frame.locator(selector).evaluateAll((els) => (els as HTMLImageElement[]).map((i) => i.naturalWidth));
}

/** Selects line `line` (1-based, without its line break) in the focused editor, with the keyboard. */
export async function selectLine(wb: Workbench, line: number): Promise<void> {
  await wb.page.keyboard.press('Control+Home');
  for (let i = 1; i < line; i++) await wb.page.keyboard.press('ArrowDown');
  await wb.page.keyboard.press('Home');
  await wb.page.keyboard.press('Shift+End');
}

/** Answers the attribute quick pick titled `pickTitle`: checks each of `picks` ("attribute → label") and accepts. */
export async function pickAttributes(wb: Workbench, pickTitle: string, picks: string[]): Promise<void> {
  await wb.until(`the quick pick "${pickTitle}"`, async () => (await wb.quickTitle()).startsWith(pickTitle), 30_000);
  for (const label of picks) {
    await wb.quickInput.fill(label);
    const row = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: label }).first();
    await row.waitFor({ state: 'visible', timeout: 10_000 });
    const box = row.locator('.quick-input-list-checkbox, input[type="checkbox"]').first();
    await box.click();
    await wb.until(
      `"${label}" to be checked`,
      async () => (await row.getAttribute('aria-checked')) === 'true' || (await box.isChecked().catch(() => false)),
      5_000,
    );
  }
  await wb.quickInput.fill('');
  await wb.page.keyboard.press('Enter');
}

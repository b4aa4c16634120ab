/// <reference lib="dom" />
/**
 * Driving the VS Code workbench (code-server) the way a person does: the command palette (F1, `>` + title,
 * Enter), quick picks, notifications, the status bar, context menus, the Output view, and webviews (frames
 * `iframe.webview.ready` → `iframe#active-frame`, told apart by the page title the extension gives them).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';

export class Workbench {
  constructor(
    readonly page: Page,
    private readonly screenshots: string,
  ) {}

  get quickInput(): Locator {
    return this.page.locator('.quick-input-widget input.input');
  }

  /** Labels of the quick-input rows now shown (aria-labels: title plus description). */
  async quickRows(): Promise<string[]> {
    return this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
  }

  /** The title of the quick input now open ('' if none). */
  async quickTitle(): Promise<string> {
    const t = this.page.locator('.quick-input-widget .quick-input-title');
    return (await t.isVisible()) ? (await t.innerText()).trim() : '';
  }

  async openPalette(text: string): Promise<void> {
    // Close a quick input left open; never press Escape in an editor (it would drop the selection).
    if (await this.quickInput.isVisible()) await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    await this.quickInput.waitFor({ state: 'visible' });
    await this.quickInput.fill(`>${text}`);
  }

  /** The palette rows for `text` once filtering has settled. */
  async paletteRows(text: string): Promise<string[]> {
    await this.openPalette(text);
    await this.page.waitForTimeout(400);
    const rows = await this.quickRows();
    await this.page.keyboard.press('Escape');
    return rows;
  }

  /**
   * Runs `Category: Title` from the command palette. Fails if the first row is not that command (a renamed,
   * hidden or unregistered command fails here).
   */
  async runCommand(fullTitle: string): Promise<void> {
    await this.openPalette(fullTitle);
    const first = this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').first();
    const matches = (label: string) => label === fullTitle || label.startsWith(`${fullTitle},`);
    const deadline = Date.now() + 10_000;
    let label = '';
    while (Date.now() < deadline) {
      label = (await first.getAttribute('aria-label', { timeout: 2_000 }).catch(() => null)) ?? '';
      if (matches(label)) break;
      await this.page.waitForTimeout(100);
    }
    assert.ok(matches(label), `"${fullTitle}" is not the first palette entry (found ${JSON.stringify(await this.quickRows())})`);
    await this.page.keyboard.press('Enter');
  }

  /** A notification toast whose text matches. */
  notification(text: RegExp): Locator {
    return this.page.locator('.notifications-toasts .notification-toast').filter({ hasText: text });
  }

  /**
   * Waits for a notification whose text matches and returns its message. Toasts are how VS Code shows them, but it
   * may keep one in the notification center only (e.g. right after "Clear All"), so the center is checked too.
   */
  async waitNotification(text: RegExp, timeout = 60_000): Promise<string> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const toast = this.notification(text).first();
      const seen = await toast.waitFor({ state: 'visible', timeout: Math.min(10_000, Math.max(1, deadline - Date.now())) }).then(
        () => true,
        () => false,
      );
      if (seen) return (await toast.locator('.notification-list-item-message').innerText()).trim();
      const inCenter = await this.notificationCenterMessages();
      const found = inCenter.find((m) => text.test(m));
      if (found) return found;
      if (Date.now() >= deadline) assert.fail(`no notification matching ${text} within ${timeout} ms (notification center: ${JSON.stringify(inCenter)})`);
    }
  }

  /** The messages listed in the notification center (opened and closed again). */
  async notificationCenterMessages(): Promise<string[]> {
    await this.runCommand('Notifications: Show Notifications');
    const center = this.page.locator('.notifications-center');
    await center.waitFor({ state: 'visible', timeout: 5_000 }).catch(() => undefined);
    const messages = (await center.locator('.notification-list-item-message').allInnerTexts()).map((m) => m.trim());
    await this.runCommand('Notifications: Hide Notifications').catch(() => this.page.keyboard.press('Escape'));
    return messages;
  }

  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.until(
      'the notification toasts to close',
      async () => (await this.page.locator('.notifications-toasts .notification-toast').count()) === 0,
      10_000,
    );
  }

  statusBarItem(id: string): Locator {
    return this.page.locator(`[id="${id}"]`);
  }

  /**
   * Picks `label` in the context menu now open (keyboard: the menu ignores a click that comes too soon). For a
   * submenu, waits for it to open.
   */
  async pickMenuItem(label: string, o: { submenu?: boolean } = {}): Promise<void> {
    const menus = this.page.locator('.monaco-menu-container .monaco-menu');
    const menu = menus.last();
    await menu.waitFor({ state: 'visible' });
    const count = await menus.count();
    const labels = (await menu.locator('.action-item .action-label').allInnerTexts()).map((s) => s.trim());
    assert.ok(labels.includes(label), `"${label}" is not in the menu: ${JSON.stringify(labels)}`);
    await menu
      .locator('.action-item')
      .filter({ has: this.page.locator('.action-label', { hasText: label }) })
      .first()
      .hover();
    if (o.submenu) {
      await this.page.keyboard.press('ArrowRight');
      await this.until(`the submenu ${label}`, async () => (await menus.count()) > count, 5_000);
      return;
    }
    await this.page.keyboard.press('Enter');
    await this.until('the menu to close', async () => (await menus.count()) === 0 || !(await menus.last().isVisible()), 5_000);
  }

  /** The modal dialog (e.g. a confirmation), when one is shown. */
  dialog(): Locator {
    return this.page.locator('.monaco-dialog-box');
  }

  /** The lines of the Output view that are on screen (it follows the end of the log unless scrolled). */
  async outputText(): Promise<string> {
    const lines = this.page.locator('.part.panel .output-view .view-lines');
    await lines.first().waitFor({ state: 'visible', timeout: 10_000 });
    // Monaco renders lines out of order in the DOM; sort them by position.
    const rows = await lines
      .first()
      .locator('.view-line')
      .evaluateAll((els) => els.map((e) => ({ top: parseFloat((e as HTMLElement).style.top) || 0, text: e.textContent ?? '' })));
    return rows
      .sort((a, b) => a.top - b.top)
      .map((r) => r.text.replace(/\u00a0/g, ' '))
      .join('\n');
  }

  /** Types into the Output view's Filter box (only matching lines stay); '' clears it. */
  async filterOutput(text: string): Promise<void> {
    const filter = this.page.locator('.part.panel .viewpane-filter input, .part.panel input[placeholder="Filter"]').first();
    await filter.waitFor({ state: 'visible', timeout: 10_000 });
    await filter.fill(text);
    await this.page.waitForTimeout(300);
  }

  /** Waits until the Output view shows `text`; with `filter`, only lines containing that string are shown. */
  async waitOutput(text: RegExp, timeout = 15_000, o: { filter?: string } = {}): Promise<string> {
    const deadline = Date.now() + timeout;
    let last = '';
    try {
      while (Date.now() < deadline) {
        if (o.filter !== undefined) await this.filterOutput(o.filter).catch(() => undefined);
        last = await this.outputText().catch(() => '');
        if (text.test(last)) return last;
        await this.page.waitForTimeout(250);
      }
    } finally {
      if (o.filter !== undefined) await this.filterOutput('').catch(() => undefined);
    }
    assert.fail(`the Output view did not show ${text} within ${timeout} ms; it shows:\n${last}`);
  }

  async hidePanel(): Promise<void> {
    if (await this.page.locator('.part.panel').isVisible()) await this.runCommand('View: Hide Panel');
  }

  /** More context for a failure message (the suite sets it, e.g. to the tail of the extension's log). */
  diagnose: (() => string) | undefined;

  /** The frame of the webview whose document title is `title` (a view or a panel), once it is rendered. */
  async webview(title: string, timeout = 30_000): Promise<Frame> {
    const deadline = Date.now() + timeout;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = [];
      for (const outer of await this.page.locator('iframe.webview.ready').elementHandles()) {
        // Each probe is bounded: a frame that is going away (a panel just closed) must not use up the wait.
        const inner = await withinMs(2_000, async () => {
          const outerFrame = await outer.contentFrame();
          const innerEl = await outerFrame?.$('iframe#active-frame').catch(() => null);
          return (await innerEl?.contentFrame()) ?? undefined;
        });
        const t = inner ? ((await withinMs(2_000, () => inner.title().catch(() => ''))) ?? '(no answer)') : '';
        if (inner && t === title) return inner;
        seen.push(t);
      }
      await this.page.waitForTimeout(200);
    }
    // What the workbench showed instead: a failure seen only in CI must explain itself from the log.
    const tabs = await this.page
      .locator('.tabs-container .tab')
      .allInnerTexts()
      .catch(() => []);
    const toasts = await this.page
      .locator('.notifications-toasts .notification-list-item-message')
      .allInnerTexts()
      .catch(() => []);
    const center = await this.notificationCenterMessages().catch(() => []);
    const quick = await this.quickTitle().catch(() => '');
    assert.fail(
      `no webview titled "${title}" appeared within ${timeout} ms; webviews: ${JSON.stringify(seen)}, tabs: ${JSON.stringify(tabs)}, ` +
        `toasts: ${JSON.stringify(toasts)}, notification center: ${JSON.stringify(center)}, quick input: ${JSON.stringify(quick)}` +
        (this.diagnose ? `\n${this.diagnose()}` : ''),
    );
  }

  /** Waits until `fn` (polled) returns a truthy value; returns it. */
  async until<T>(what: string, fn: () => Promise<T>, timeout = 30_000): Promise<NonNullable<T>> {
    const deadline = Date.now() + timeout;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await fn();
        if (v) return v as NonNullable<T>;
        last = v;
      } catch (e) {
        last = e;
      }
      await this.page.waitForTimeout(200);
    }
    assert.fail(`timed out after ${timeout} ms waiting for ${what} (last: ${String(last)})`);
  }

  async screenshot(name: string): Promise<void> {
    await this.page.screenshot({ path: join(this.screenshots, `${name}.png`) });
  }
}

/** `fn()`, or undefined when it has not settled within `ms` (or failed). */
async function withinMs<T>(ms: number, fn: () => Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([fn().catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

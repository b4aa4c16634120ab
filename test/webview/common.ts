/// <reference lib="dom" />
/**
 * Shared pieces of the webview tests: one browser and one harness per test file, a fresh page per test, and the
 * checks every page must pass (no console errors, no CSP violations, no request outside the harness origin, no
 * asset the harness could not serve).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { guardContext, launchChromium, problemLines, resetProblems, type PageProblems } from './browser';
import { ROOT, startHarness, type Harness } from './harness';

export const RESULTS = join(ROOT, 'test-results', 'webview');

export interface WebviewSuite {
  harness: Harness;
  context: BrowserContext;
  problems: PageProblems;
  close(): Promise<void>;
}

/** Fails with the fix when a bundle is missing: the tier tests what `npm run build` produced. */
export function requireBundle(name: string): void {
  const file = join(ROOT, 'dist', 'webview', `${name}.js`);
  assert.ok(existsSync(file), `${file} is missing: run \`npm run build\` first (npm test does)`);
}

export async function startSuite(): Promise<WebviewSuite> {
  const tmp = mkdtempSync(join(tmpdir(), 'concert-webview-'));
  mkdirSync(RESULTS, { recursive: true });
  const harness = await startHarness();
  let context: BrowserContext | undefined;
  try {
    context = await launchChromium({ profileDir: tmp, viewport: { width: 420, height: 900 } });
    const problems = await guardContext(context, { allowedOrigins: [harness.origin] });
    const ctx = context;
    return {
      harness,
      context: ctx,
      problems,
      async close() {
        await ctx.close().catch(() => undefined);
        await harness.close();
        rmSync(tmp, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await context?.close().catch(() => undefined);
    await harness.close();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Runs `fn` with a fresh page and asserts afterwards that the page behaved. `expectCspViolations` is for the one
 * test that provokes violations on purpose.
 */
export async function withPage(suite: WebviewSuite, fn: (page: Page) => Promise<void>, o: { expectCspViolations?: boolean } = {}): Promise<void> {
  resetProblems(suite.problems);
  suite.harness.notFound.length = 0;
  const page = await suite.context.newPage();
  try {
    await fn(page);
    // Let late events (console, violations, requests) arrive before judging.
    await page.waitForTimeout(50);
    const lines = problemLines(suite.problems, { csp: o.expectCspViolations ?? false });
    lines.push(...suite.harness.notFound.map((p) => `the page asked for ${p}, which the harness does not serve`));
    assert.deepEqual(lines, [], `the page misbehaved:\n${lines.join('\n')}`);
  } finally {
    await page.close().catch(() => undefined);
  }
}

/** The element that has keyboard focus, through shadow roots, described by its `data-key` or its text. */
export async function focusedKey(page: Page): Promise<string> {
  return page.evaluate(() => {
    let a: Element | null = document.activeElement;
    while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
    if (!a || a === document.body) return '(body)';
    // The nearest data-key, also across shadow roots (a control inside a custom element counts as the element).
    for (let el: Element | null = a; el; el = ((el.getRootNode() as ShadowRoot).host as Element | undefined) ?? null) {
      const keyed = el.closest<HTMLElement>('[data-key]');
      if (keyed) return keyed.dataset.key ?? '';
    }
    return `${a.tagName.toLowerCase()}:${(a.getAttribute('aria-label') ?? a.textContent ?? '').trim()}`;
  });
}

/**
 * Moves the sequential-focus starting point to the top of the document (blur alone keeps it at the blurred
 * element): a click on the page's top-left corner, which holds no control.
 */
export async function toTop(page: Page): Promise<void> {
  await page.evaluate(() => {
    (document.activeElement as HTMLElement | null)?.blur();
    window.scrollTo(0, 0);
  });
  await page.mouse.click(1, 1);
}

/** Presses Tab from the top of the page until focus cycles; returns the focus order (by `focusedKey`). */
export async function tabOrder(page: Page, max = 40): Promise<string[]> {
  await toTop(page);
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const k = await focusedKey(page);
    if (k === '(body)' || seen.includes(k)) break;
    seen.push(k);
  }
  return seen;
}

export interface AxControl {
  role: string;
  name: string;
  focusable: boolean;
}

const CONTROL_ROLES = new Set([
  'button',
  'checkbox',
  'combobox',
  'link',
  'listbox',
  'menuitem',
  'option',
  'radio',
  'searchbox',
  'slider',
  'spinbutton',
  'switch',
  'tab',
  'textbox',
  'toggleButton',
  'PopUpButton',
]);

/** Chromium's own accessibility tree (through CDP): every control with the name assistive technology reads. */
export async function axControls(page: Page): Promise<AxControl[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('Accessibility.enable');
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const out: AxControl[] = [];
    for (const n of nodes) {
      if (n.ignored) continue;
      const role = String(n.role?.value ?? '');
      const focusable = (n.properties ?? []).some((p) => p.name === 'focusable' && p.value.value === true);
      if (!CONTROL_ROLES.has(role) && !focusable) continue;
      if (role === 'RootWebArea' || role === 'WebArea' || (role === 'generic' && !focusable)) continue;
      out.push({ role, name: String(n.name?.value ?? '').trim(), focusable });
    }
    return out;
  } finally {
    await cdp.detach().catch(() => undefined);
  }
}

/**
 * Whether keyboard focus on the element that has it now changes what is drawn: a screenshot of its box (plus a
 * margin for outlines) with focus, against one after blur.
 */
export async function focusIsVisible(page: Page): Promise<boolean> {
  const box = await page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    if (!a || a === document.body) return undefined;
    const r = a.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  });
  if (!box) return false;
  const m = 4;
  const clip = { x: Math.max(0, box.x - m), y: Math.max(0, box.y - m), width: box.width + 2 * m, height: box.height + 2 * m };
  const focused = await page.screenshot({ clip, animations: 'disabled' });
  const restore = await page.evaluate(() => {
    const a = document.activeElement as HTMLElement | null;
    a?.blur();
    return a?.dataset.key ?? null;
  });
  const blurred = await page.screenshot({ clip, animations: 'disabled' });
  if (restore) await page.locator(`[data-key="${restore}"]`).first().focus();
  return !focused.equals(blurred);
}

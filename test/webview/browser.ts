/// <reference lib="dom" />
/**
 * Headless Debian Chromium through playwright-core, shared by the webview tier (test/webview) and the VS Code tier
 * (test/e2e): the flags of the offline recipe, a fresh profile per launch, host resolution limited to 127.0.0.1,
 * and a guard that records what a page must not do (console errors, uncaught errors, CSP violations, requests
 * that leave the local origin) so each test can assert that nothing of it happened.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CONCERT_CHROMIUM ?? '/usr/bin/chromium';

/** Flags of the offline recipe, plus a resolver rule so no name but 127.0.0.1 resolves (nothing can leave). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

/** Fails (never skips) with the install line: CI installs Chromium, so its absence is a broken setup. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}. Install it with: sudo apt-get install -y --no-install-recommends chromium (.ci/run does this), or set CONCERT_CHROMIUM to a Chromium binary.`,
    );
  }
  return CHROMIUM;
}

export interface LaunchOptions {
  /** A folder for this browser's fresh profile (created; the caller removes it). */
  profileDir: string;
  viewport?: { width: number; height: number };
}

export async function launchChromium(o: LaunchOptions): Promise<BrowserContext> {
  const executablePath = requireChromium();
  mkdirSync(o.profileDir, { recursive: true });
  return chromium.launchPersistentContext(join(o.profileDir, 'chromium-profile'), {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: o.viewport ?? { width: 1280, height: 800 },
    // Playwright's own timeouts stay below the tests' watchdogs, so a hang reports where it hung.
    timeout: 60_000,
  });
}

export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  cspViolations: string[];
  /** Requests to anything but the allowed origins (and not answered by a service worker). */
  foreignRequests: string[];
  /**
   * Webview resource requests (`serviceWorkerHosts`) that VS Code's webview service worker did not answer, with the
   * console's "Failed to load resource" for them: VS Code's race (microsoft/vscode#326544), not the page's doing. The
   * e2e suites accept them only where Concert rendered the page again (see test/e2e/hygiene.ts).
   */
  serviceWorkerMisses: string[];
  /** Every request URL seen, for diagnostics. */
  requests: string[];
}

export interface GuardOptions {
  /** Origins (scheme://host:port) the page may reach. `blob:` and `data:` URLs are always local. */
  allowedOrigins: string[];
  /** Console errors matching one of these are known and harmless (e.g. code-server's missing vsda files). */
  ignoreConsole?: RegExp[];
  /** Hosts whose requests are fine when a service worker answers them (VS Code's webview resource scheme). */
  serviceWorkerHosts?: RegExp;
}

/**
 * Records problems of every page (and frame) of the context. CSP violations are collected from the
 * `securitypolicyviolation` event in every document, before any page script runs.
 */
export async function guardContext(context: BrowserContext, o: GuardOptions): Promise<PageProblems> {
  const p: PageProblems = { consoleErrors: [], pageErrors: [], cspViolations: [], foreignRequests: [], serviceWorkerMisses: [], requests: [] };
  await context.exposeBinding('__concertCspViolation', (_source, v: string) => {
    p.cspViolations.push(v);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      // Looked up at event time: the binding is installed in each new document alongside this script.
      (window as unknown as { __concertCspViolation?: (v: string) => void }).__concertCspViolation?.(
        `${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} at ${e.sourceFile}:${e.lineNumber} in ${location.href}`,
      );
    });
  });
  const local = (url: string) =>
    url.startsWith('blob:') ||
    url.startsWith('data:') ||
    url === 'about:blank' ||
    o.allowedOrigins.some((origin) => url === origin || url.startsWith(`${origin}/`));
  const hostOf = (url: string) => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  };
  const watchPage = (page: Page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const text = `${m.text()} (${m.location().url})`;
      if (o.ignoreConsole?.some((r) => r.test(text))) return;
      // The name of the virtual host does not resolve: the request never reached anything.
      if (m.text().includes('net::ERR_NAME_NOT_RESOLVED') && o.serviceWorkerHosts?.test(hostOf(m.location().url)))
        p.serviceWorkerMisses.push(`console: ${text}`);
      else p.consoleErrors.push(text);
    });
    page.on('pageerror', (e) => p.pageErrors.push(String(e.stack ?? e)));
  };
  context.on('page', watchPage);
  for (const page of context.pages()) watchPage(page);
  context.on('request', (r) => {
    const url = r.url();
    p.requests.push(url);
    if (local(url)) return;
    if (o.serviceWorkerHosts?.test(hostOf(url))) {
      // Allowed only if a service worker answered it (VS Code maps webview resources that way); checked when the
      // request ends, so a real network fetch of such a URL still counts.
      void r.response().then(
        (resp) => {
          if (!resp?.fromServiceWorker()) p.serviceWorkerMisses.push(`request: ${url} (not answered by the webview service worker)`);
        },
        () => p.serviceWorkerMisses.push(`request: ${url} (failed)`),
      );
      return;
    }
    p.foreignRequests.push(url);
  });
  return p;
}

/** One readable line per problem; empty when the page behaved. */
export function problemLines(p: PageProblems, skip: { csp?: boolean } = {}): string[] {
  return [
    ...p.consoleErrors.map((e) => `console error: ${e}`),
    ...p.pageErrors.map((e) => `uncaught: ${e}`),
    ...(skip.csp ? [] : p.cspViolations.map((v) => `CSP violation: ${v}`)),
    ...p.foreignRequests.map((u) => `request outside the allowed origins: ${u}`),
  ];
}

/** Empties the lists (e.g. after a test that provoked violations on purpose). */
export function resetProblems(p: PageProblems): void {
  p.consoleErrors.length = 0;
  p.pageErrors.length = 0;
  p.cspViolations.length = 0;
  p.foreignRequests.length = 0;
  p.serviceWorkerMisses.length = 0;
}

/// <reference lib="dom" />
/**
 * A stand-in for VS Code's webview host, on 127.0.0.1 (node:http):
 * - serves the built bundles (dist/webview) and their styles (media/) from the repository;
 * - serves each view's page built by the extension's own `webviewHtml()` (so its CSP is the one users get), with
 *   `cspSource` = this origin, plus one nonce'd classic script before the bundle that installs `window.concertHost`
 *   (the seam of webview/<view>/host.ts) and a theme stylesheet with VS Code's `--vscode-*` variables;
 * - keeps each session's persisted webview state (setState) outside the page, like VS Code does, so a reload
 *   really restores it.
 * `FakeHost` is the Node side of the seam: it receives the page's messages (checked with the host's own guard),
 * and sends typed messages into the page.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { isCollabViewToHost } from '../../src/extension/collabMessages';
import { isImagesViewToHost } from '../../src/extension/imagesMessages';
import { isRewriteViewToHost } from '../../src/extension/rewriteMessages';
import { isStatusViewToHost } from '../../src/extension/statusMessages';
import { isSummaryViewToHost } from '../../src/extension/summaryMessages';
import { isVideoViewToHost } from '../../src/extension/videoMessages';
import { webviewHtml } from '../../src/extension/webviewHtml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const THEME_CSS = fileURLToPath(new URL('./theme.css', import.meta.url));

/**
 * A webview bundle as its host serves it. bundles.test.ts checks these against the host code in src/extension
 * (script, styles, title) and fails for a bundle in dist/webview that is not listed here.
 */
export interface ViewShell {
  /** dist/webview/<name>.js */
  name: string;
  title: string;
  /** Repository-relative stylesheets the host links (after the codicons). */
  styles: string[];
  /** The host's own check of the view's messages (src/extension/<view>Messages.ts). */
  accept: (m: unknown) => boolean;
  /** The host allows blob: images in this view's CSP (PanelSpec.blobImages). */
  blobImages?: boolean;
}

export const VIEWS = {
  status: { name: 'status', title: 'Concert: Worker & Models', styles: ['media/status.css'], accept: isStatusViewToHost },
  summary: { name: 'summary', title: 'Concert: Summary', styles: ['media/base.css', 'media/summary.css'], accept: isSummaryViewToHost },
  rewrite: { name: 'rewrite', title: 'Concert: Rewrite', styles: ['media/base.css', 'media/rewrite.css'], accept: isRewriteViewToHost },
  collab: { name: 'collab', title: 'Concert: Collaborate', styles: ['media/base.css', 'media/collab.css'], accept: isCollabViewToHost },
  images: {
    name: 'images',
    title: 'Concert: Images',
    styles: ['media/base.css', 'media/panel.css', 'media/images.css'],
    accept: isImagesViewToHost,
    blobImages: true,
  },
  video: {
    name: 'video',
    title: 'Concert: Video',
    styles: ['media/base.css', 'media/panel.css', 'media/video.css'],
    accept: isVideoViewToHost,
    blobImages: true,
  },
} satisfies Record<string, ViewShell>;

/** Only these folders are served; everything else is a 404 that the tests report. */
const SERVED = ['dist/webview/', 'media/'];
const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.ttf': 'font/ttf',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

interface Session {
  state: unknown;
  nonce?: string;
}

export interface Harness {
  origin: string;
  /** The page of `view` for a new session (fresh persisted state unless `state` is given). */
  newSession(view: ViewShell, state?: unknown): { url: string; id: string };
  /** The state the page last persisted with setState (what VS Code would hand back after a reload). */
  persistedState(id: string): unknown;
  setPersistedState(id: string, state: unknown): void;
  /** The nonce of the page last served for this session. */
  nonce(id: string): string | undefined;
  /** Paths that were asked for and not served. */
  notFound: string[];
  close(): Promise<void>;
}

/**
 * Runs in the page, before the bundle (serialized with Function.prototype.toString, so it must be self-contained).
 * Messages go to Node through the `__concertHarness` binding; Node delivers through `__concertHarnessDeliver`.
 */
function installFakeHost(persisted: unknown): void {
  type Listener = (msg: unknown) => void;
  const w = window as unknown as {
    concertHost: unknown;
    __concertHarness?: (e: { kind: 'post' | 'setState'; value: unknown }) => void;
    __concertHarnessDeliver: (msg: unknown) => void;
    __concertHarnessQueue: { kind: 'post' | 'setState'; value: unknown }[];
  };
  const listeners: Listener[] = [];
  // Structured copies at the boundary, like postMessage and VS Code's state serialization.
  const copy = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  let state = copy(persisted);
  w.__concertHarnessQueue = [];
  const send = (e: { kind: 'post' | 'setState'; value: unknown }) => {
    if (w.__concertHarness) w.__concertHarness(e);
    else w.__concertHarnessQueue.push(e);
  };
  w.concertHost = {
    post: (msg: unknown) => send({ kind: 'post', value: copy(msg) }),
    onMessage: (listener: Listener) => listeners.push(listener),
    getState: () => copy(state),
    setState: (s: unknown) => {
      state = copy(s);
      send({ kind: 'setState', value: copy(s) });
    },
  };
  w.__concertHarnessDeliver = (msg: unknown) => {
    for (const l of listeners) l(copy(msg));
  };
}

/** Page-originated eval and Function(), each caught; the CSP must refuse both. */
const EVAL_PROBE = `window.__evalProbe = { eval: 'blocked', fn: 'blocked' };
try { if (eval('1 + 1') === 2) window.__evalProbe.eval = 'ran'; } catch (e) {}
try { if (new Function('return 2')() === 2) window.__evalProbe.fn = 'ran'; } catch (e) {}
`;

export function viewPage(origin: string, view: ViewShell, nonce: string, sessionId: string): string {
  const html = webviewHtml({
    title: view.title,
    cspSource: origin,
    nonce,
    scriptUri: `${origin}/dist/webview/${view.name}.js`,
    styleUris: [`${origin}/harness/theme.css`, ...view.styles.map((s) => `${origin}/${s}`)],
    codiconsUri: `${origin}/dist/webview/codicons/codicon.css`,
    ...(view.blobImages && { blobImages: true }),
  });
  const marker = '<script type="module"';
  const at = html.indexOf(marker);
  if (at < 0) throw new Error('webviewHtml() no longer emits a module script: update the harness');
  const hostScript = `<script nonce="${nonce}" src="${origin}/harness/fake-host.js?session=${encodeURIComponent(sessionId)}"></script>\n`;
  return html.slice(0, at) + hostScript + html.slice(at);
}

export async function startHarness(): Promise<Harness> {
  const sessions = new Map<string, Session>();
  const notFound: string[] = [];
  let origin = '';
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const send = (status: number, type: string, body: string | Buffer) => {
      res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
      res.end(body);
    };
    const session = url.searchParams.get('session') ?? '';
    if (url.pathname.startsWith('/view/')) {
      const view = Object.values(VIEWS).find((v) => `/view/${v.name}` === url.pathname);
      const s = sessions.get(session);
      if (!view || !s) return send(404, 'text/plain', 'no such view or session');
      s.nonce = randomBytes(18).toString('base64url');
      return send(200, 'text/html; charset=utf-8', viewPage(origin, view, s.nonce, session));
    }
    if (url.pathname === '/harness/fake-host.js') {
      const s = sessions.get(session);
      if (!s) return send(404, 'text/plain', 'no such session');
      const persisted = s.state === undefined ? 'undefined' : JSON.stringify(s.state);
      // `__name`: a no-op for the helper a TypeScript loader may wrap named functions in (keepNames).
      return send(200, 'text/javascript', `(() => {\nconst __name = (f) => f;\n(${installFakeHost.toString()})(${persisted});\n})();\n`);
    }
    // Chromium asks for a favicon for every top-level page; a webview (an iframe) never does.
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (url.pathname === '/harness/eval-probe.js') return send(200, 'text/javascript', EVAL_PROBE);
    if (url.pathname === '/harness/theme.css') return send(200, 'text/css', readFileSync(THEME_CSS));
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '');
    const file = join(ROOT, rel);
    if (SERVED.some((d) => rel.startsWith(d)) && file.startsWith(ROOT) && !rel.split(sep).includes('..') && existsSync(file) && statSync(file).isFile()) {
      return send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
    }
    notFound.push(url.pathname);
    send(404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let counter = 0;
  return {
    origin,
    notFound,
    newSession(view, state) {
      const id = `s${++counter}-${randomBytes(4).toString('hex')}`;
      sessions.set(id, { state });
      return { id, url: `${origin}/view/${view.name}?session=${id}` };
    },
    persistedState: (id) => sessions.get(id)?.state,
    setPersistedState(id, state) {
      const s = sessions.get(id);
      if (s) s.state = state;
    },
    nonce: (id) => sessions.get(id)?.nonce,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The typed Node side of the seam, for one page (one session). */
export class FakeHost<ToHost extends { type: string }, FromHost> {
  /** Messages the page posted that the host's guard accepted, in order. */
  readonly received: ToHost[] = [];
  /** Messages the host's guard refused (a test failure: the page spoke outside the protocol). */
  readonly refused: unknown[] = [];
  /** Every state the page persisted, in order. */
  readonly persisted: unknown[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    readonly page: Page,
    private readonly harness: Harness,
    readonly sessionId: string,
    private readonly accept: (m: unknown) => m is ToHost,
  ) {}

  /** Opens `view` in `page` with this fake host. `accept` is the extension's own message guard. */
  static async open<ToHost extends { type: string }, FromHost>(
    page: Page,
    harness: Harness,
    view: ViewShell,
    accept: (m: unknown) => m is ToHost,
    state?: unknown,
  ): Promise<FakeHost<ToHost, FromHost>> {
    const { id, url } = harness.newSession(view, state);
    const host = new FakeHost<ToHost, FromHost>(page, harness, id, accept);
    await page.exposeBinding('__concertHarness', (_source, e: { kind: 'post' | 'setState'; value: unknown }) => host.onEvent(e));
    await host.goto(url);
    return host;
  }

  private onEvent(e: { kind: 'post' | 'setState'; value: unknown }): void {
    if (e.kind === 'setState') {
      this.persisted.push(e.value);
      this.harness.setPersistedState(this.sessionId, e.value);
    } else if (this.accept(e.value)) {
      this.received.push(e.value);
    } else {
      this.refused.push(e.value);
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async goto(url: string): Promise<void> {
    await this.page.goto(url);
    // Anything posted before the binding was reachable (it normally is at once).
    const queued = await this.page.evaluate(() => {
      const w = window as unknown as { __concertHarnessQueue?: unknown[] };
      const q = w.__concertHarnessQueue ?? [];
      w.__concertHarnessQueue = [];
      return q;
    });
    for (const e of queued as { kind: 'post' | 'setState'; value: unknown }[]) this.onEvent(e);
  }

  /** Reloads the page; VS Code hands the persisted state back to the new document. */
  async reload(): Promise<void> {
    await this.goto(this.page.url());
  }

  /** Sends a host → view message (typed by the protocol). */
  async send(msg: FromHost): Promise<void> {
    await this.page.evaluate((m) => (window as unknown as { __concertHarnessDeliver: (m: unknown) => void }).__concertHarnessDeliver(m), msg as unknown);
  }

  /** Waits for the first received message of `type` at index ≥ `from`; returns it. */
  async waitFor<T extends ToHost['type']>(type: T, from = 0, timeoutMs = 5_000): Promise<Extract<ToHost, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find((m) => m.type === type);
      if (found) return found as Extract<ToHost, { type: T }>;
      if (this.refused.length) throw new Error(`the page posted a message outside the protocol: ${JSON.stringify(this.refused)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no '${type}' message within ${timeoutMs} ms; received: ${JSON.stringify(this.received.slice(from))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Messages received since index `from`. */
  since(from: number): ToHost[] {
    return this.received.slice(from);
  }

  /** Clicks `selector` in the page and returns the one message that posted (fails on none, several or refused ones). */
  async clickPosts(selector: string): Promise<ToHost> {
    const from = this.received.length;
    await this.page.locator(selector).click();
    const deadline = Date.now() + 5_000;
    while (this.received.length === from && Date.now() < deadline) await this.page.waitForTimeout(20);
    await this.page.waitForTimeout(100);
    const got = this.since(from);
    const [posted] = got;
    if (!posted || got.length !== 1) throw new Error(`${selector} posted ${JSON.stringify(got)}; refused: ${JSON.stringify(this.refused)}`);
    return posted;
  }
}

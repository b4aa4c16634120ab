/**
 * Renders a webview page again when it does not start. VS Code's webview service worker sometimes misses a freshly
 * created page (microsoft/vscode#326544, seen here in code-server 4.99 under load): the page's own script and styles
 * then go to the network instead of the extension's folder, fail, and the page stays blank for good. Every Concert
 * page says `ready` as soon as its script runs, so a visible page that has not said it within `timeoutMs` is rendered
 * again (fresh HTML, which makes VS Code create a new frame, by then under the worker). Pure: no `vscode`, so it is
 * unit-tested with fake timers.
 */

export interface PageStartWatchOptions {
  /** How long a visible page may take to say `ready`. */
  timeoutMs: number;
  /** How many times a page is rendered again before Concert gives up (and says so in the log). */
  maxRetries: number;
  /** Sets fresh HTML on the webview. */
  render(): void;
  /** Whether the page is on screen (a hidden page without retained context is not running, so it cannot answer). */
  isVisible(): boolean;
  /** For the log: the page did not start and is rendered again (`attempt` counts from 1). */
  onRetry(attempt: number): void;
  /** For the log: the page did not start after every retry. */
  onGiveUp(): void;
}

export class PageStartWatch {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private retries = 0;

  constructor(private readonly o: PageStartWatchOptions) {}

  /** Renders the page and waits for it to start. */
  render(): void {
    this.o.render();
    this.arm();
  }

  /** The page said `ready`. */
  ready(): void {
    this.retries = 0;
    this.disarm();
  }

  /** The page was shown or hidden. A page shown again is created again (and must say `ready` again). */
  visibilityChanged(visible: boolean): void {
    if (visible) this.arm();
    else this.disarm();
  }

  dispose(): void {
    this.disarm();
  }

  private arm(): void {
    this.disarm();
    if (!this.o.isVisible()) return;
    this.timer = setTimeout(() => this.expired(), this.o.timeoutMs);
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expired(): void {
    this.timer = undefined;
    if (!this.o.isVisible()) return;
    if (this.retries >= this.o.maxRetries) {
      this.o.onGiveUp();
      return;
    }
    this.retries++;
    this.o.onRetry(this.retries);
    this.render();
  }
}

/** What the panels and the status view use: a page starts within a second or two; 15 s covers a loaded machine. */
const PAGE_START = { timeoutMs: 15_000, maxRetries: 2 } as const;

/**
 * The panels' and the status view's settings: PAGE_START, and the log lines of `page` ("Rewrite panel") with `advice`
 * for the user once Concert gives up. test/e2e/hygiene.ts looks for these lines.
 */
export function pageStartSettings(
  log: { warn(m: string): void; error(m: string): void },
  page: string,
  advice: string,
): Pick<PageStartWatchOptions, 'timeoutMs' | 'maxRetries' | 'onRetry' | 'onGiveUp'> {
  return {
    ...PAGE_START,
    onRetry: (n) => log.warn(`${page}: the page did not start in ${PAGE_START.timeoutMs / 1000} s; rendering it again (${n})`),
    onGiveUp: () => log.error(`${page}: the page did not start; ${advice}`),
  };
}

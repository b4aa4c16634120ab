/**
 * How every view's entry point (status, summary, rewrite) starts: the element it renders into, the panels' live
 * region for the host's notices, `data-action` clicks, `<details>` toggles, and the handshake — the first draw, then `ready`, which the
 * host answers with the data (after a reload too: the page keeps only UI state).
 */

export type NoticeLevel = 'info' | 'warning' | 'error';

export interface ViewBoot {
  /** The element the view renders into. */
  root: HTMLElement;
  /**
   * Shows `text` in the live region (given `notices`). Information fades after a while; warnings and errors stay
   * until the next notice or run (`notify(undefined, '')` clears it).
   */
  notify(level: NoticeLevel | undefined, text: string): void;
  /** Calls `act` with the `[data-action]` element inside the root that a click landed on. */
  onAction(act: (el: HTMLElement) => void): void;
  /** Calls `toggled` with each `<details>` inside the root that opens or closes. */
  onDetailsToggle(toggled: (d: HTMLDetailsElement) => void): void;
  /** The first draw, then `ready`. Call it last, once the view's listeners are in place. */
  start(draw: () => void): void;
}

/** How long an information notice stays. */
const INFO_NOTICE_MS = 8000;

export function bootView(host: { post(msg: { type: 'ready' }): void }, options: { notices?: boolean } = {}): ViewBoot {
  const root = document.getElementById('app') ?? document.body;
  let live: HTMLElement | undefined;
  if (options.notices) {
    live = document.createElement('div');
    live.className = 'notice';
    live.setAttribute('role', 'status');
    live.setAttribute('aria-live', 'polite');
    document.body.append(live);
  }
  let noticeTimer: ReturnType<typeof setTimeout> | undefined;
  const notify = (level: NoticeLevel | undefined, text: string): void => {
    if (!live) return;
    live.textContent = text;
    live.className = `notice${level ? ` ${level}` : ''}`;
    clearTimeout(noticeTimer);
    if (level === 'info') noticeTimer = setTimeout(() => notify(undefined, ''), INFO_NOTICE_MS);
  };
  return {
    root,
    notify,
    onAction(act) {
      root.addEventListener('click', (e) => {
        const el = (e.target as HTMLElement).closest<HTMLElement>('[data-action]');
        if (el && root.contains(el)) act(el);
      });
    },
    onDetailsToggle(toggled) {
      // <details> toggles do not bubble: listen in the capture phase.
      root.addEventListener('toggle', (e) => toggled(e.target as HTMLDetailsElement), true);
    },
    start(draw) {
      draw();
      host.post({ type: 'ready' });
    },
  };
}

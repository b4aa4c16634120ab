/**
 * Renders the status view from the host's state. Plain DOM and textContent only (pack errors are untrusted text);
 * the whole view is rebuilt on each state, and keyboard focus is restored by `data-key`.
 */
import type { StatusPackView, StatusViewState, StatusViewToHost } from '../../src/protocol/webview';

export interface ViewActions {
  post(msg: StatusViewToHost): void;
  toggle(packKey: string): void;
}

type Child = Node | string | false | undefined;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== false && c !== undefined) el.append(c);
  return el;
}

const icon = (name: string) => h('span', { class: `codicon codicon-${name}`, 'aria-hidden': 'true' });

function button(label: string, iconName: string, key: string, onClick: () => void, opts: { secondary?: boolean; disabled?: boolean } = {}): HTMLElement {
  const b = h('vscode-button', { icon: iconName, 'data-key': key, secondary: opts.secondary, disabled: opts.disabled }, label);
  b.addEventListener('click', () => {
    if (!b.hasAttribute('disabled')) onClick();
  });
  return b;
}

const WORKER_TEXT: Record<StatusViewState['workerState'], { label: string; icon: string }> = {
  stopped: { label: 'Not started: starts on first use', icon: 'circle-outline' },
  starting: { label: 'Starting…', icon: 'loading' },
  running: { label: 'Running', icon: 'pass-filled' },
  restarting: { label: 'Restarting after a crash…', icon: 'sync' },
  failed: { label: 'Stopped after repeated crashes', icon: 'error' },
};

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** A stable key per pack row: ids can repeat (the same pack in two folders), directories cannot. */
export const packKey = (p: StatusPackView) => `${p.id}@${p.dir ?? ''}`;

function workerSection(s: StatusViewState, a: ViewActions): HTMLElement {
  const w = WORKER_TEXT[s.workerState];
  const facts = h('dl', { class: 'facts' });
  const fact = (term: string, value: string) => facts.append(h('dt', {}, term), h('dd', {}, value));
  if (s.provider) {
    fact('Provider', `${s.provider.chosen} (requested: ${s.provider.requested})`);
    fact('Device', s.provider.device);
  }
  if (s.pid !== undefined) fact('Process', `pid ${s.pid}`);
  if (s.loadedSessions) fact('Loaded models', s.loadedSessions.length ? s.loadedSessions.join(', ') : 'none');
  if (s.rssBytes !== undefined) fact('Memory', formatBytes(s.rssBytes));
  const reasons = s.provider?.fallbackReasons ?? [];
  return h(
    'section',
    { 'aria-labelledby': 'worker-heading' },
    h('h2', { id: 'worker-heading' }, 'Worker'),
    h(
      'p',
      { class: `worker-state state-${s.workerState}` },
      icon(w.icon + (s.workerState === 'starting' || s.workerState === 'restarting' ? ' codicon-modifier-spin' : '')),
      ' ',
      w.label,
    ),
    facts.childElementCount > 0 && facts,
    reasons.length > 0 && h('div', { class: 'fallbacks' }, h('h3', {}, 'Fallback reasons'), h('ul', {}, ...reasons.map((r) => h('li', {}, r)))),
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': 'Worker actions' },
      button('Restart Worker', 'debug-restart', 'restart', () => a.post({ type: 'restartWorker' }), { disabled: s.workerState === 'starting' }),
      button('Device…', 'chip', 'device', () => a.post({ type: 'selectDevice' }), { secondary: true }),
      button('Log', 'output', 'log', () => a.post({ type: 'showLog' }), { secondary: true }),
      button('Settings', 'settings-gear', 'settings', () => a.post({ type: 'openSettings' }), { secondary: true }),
    ),
  );
}

function packItem(p: StatusPackView, i: number, expanded: boolean, a: ViewActions): HTMLElement {
  const key = packKey(p);
  const detailsId = `pack-details-${i}`;
  const toggle = h(
    'button',
    { class: 'disclosure', type: 'button', 'aria-expanded': String(expanded), 'aria-controls': detailsId, 'data-key': `toggle:${key}` },
    icon(expanded ? 'chevron-down' : 'chevron-right'),
    h('span', { class: 'pack-name' }, p.displayName ?? p.id),
  );
  toggle.addEventListener('click', () => a.toggle(key));
  const status = p.valid
    ? h('span', { class: 'pack-status valid' }, icon('pass'), ' valid')
    : h('span', { class: 'pack-status invalid' }, icon('error'), ' invalid');
  const meta = [p.kind, p.source, p.sizeBytes !== undefined ? formatBytes(p.sizeBytes) : undefined].filter(Boolean).join(' · ');
  return h(
    'li',
    { class: `pack ${p.valid ? 'valid' : 'invalid'}` },
    h('div', { class: 'pack-row' }, toggle, status),
    h('div', { class: 'pack-meta' }, meta),
    !p.valid && h('p', { class: 'pack-error' }, p.error ?? 'invalid'),
    h(
      'div',
      { class: 'pack-details', id: detailsId, hidden: !expanded },
      p.displayName !== undefined && h('div', {}, `id: ${p.id}`),
      p.dir !== undefined && h('div', { class: 'pack-dir' }, p.dir),
      p.valid && button('Self-Test', 'beaker', `selftest:${key}`, () => a.post({ type: 'selfTestPack', packId: p.id }), { secondary: true }),
    ),
  );
}

function packsSection(s: StatusViewState, expanded: ReadonlySet<string>, a: ViewActions): HTMLElement {
  const packs = s.packs;
  const body: Child[] = [];
  if (s.busy) body.push(h('p', { class: 'busy', role: 'status' }, icon('loading codicon-modifier-spin'), ' Listing model packs…'));
  if (!packs && !s.busy) body.push(h('p', { class: 'hint' }, 'Model packs have not been listed yet.'));
  if (packs && packs.length === 0) {
    body.push(
      h('p', { class: 'hint' }, 'No model packs were found. Add a folder that holds Concert model packs (each a folder with a concert.json manifest).'),
    );
  }
  if (packs && packs.length > 0)
    body.push(h('ul', { class: 'packs', 'aria-label': 'Model packs' }, ...packs.map((p, i) => packItem(p, i, expanded.has(packKey(p)), a))));
  const valid = packs?.filter((p) => p.valid).length ?? 0;
  return h(
    'section',
    { 'aria-labelledby': 'packs-heading' },
    h('h2', { id: 'packs-heading' }, 'Model packs', packs ? h('span', { class: 'count' }, ` ${valid} of ${packs.length} valid`) : undefined),
    ...body,
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': 'Model pack actions' },
      button('Refresh', 'refresh', 'refresh', () => a.post({ type: 'refresh' }), { disabled: !!s.busy }),
      button('Add Folder…', 'new-folder', 'add-folder', () => a.post({ type: 'addModelFolder' }), { secondary: true }),
    ),
  );
}

export function render(root: HTMLElement, s: StatusViewState | undefined, expanded: ReadonlySet<string>, a: ViewActions): void {
  const focusKey = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('[data-key]')?.dataset.key;
  const content: Child[] = s
    ? [
        s.error !== undefined && h('div', { class: 'error-banner', role: 'alert' }, icon('error'), ' ', s.error),
        workerSection(s, a),
        packsSection(s, expanded, a),
      ]
    : [h('p', { class: 'hint', role: 'status' }, 'Connecting to Concert…')];
  root.replaceChildren(...content.filter((c): c is Node | string => c !== false && c !== undefined));
  // Lit-based buttons set their tabindex after the first render: focus once they have rendered.
  if (focusKey) restoreFocus(root, focusKey);
}

/** Focuses the element with `data-key`, after a custom element (e.g. vscode-button) has finished rendering. */
function restoreFocus(root: ParentNode, key: string): void {
  const el = root.querySelector<HTMLElement & { updateComplete?: Promise<unknown> }>(`[data-key="${CSS.escape(key)}"]`);
  if (!el) return;
  el.focus();
  if (el.updateComplete) void el.updateComplete.then(() => el.focus());
  else requestAnimationFrame(() => el.focus());
}

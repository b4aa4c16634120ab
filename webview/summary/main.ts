/**
 * Entry point of the "Concert: Summary" panel: handshake with the host, render each state it sends (patching only
 * the sections that changed), turn `data-action` clicks and keys into messages, and keep only UI state (which
 * details are open) in the webview's persisted state.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { SummaryVariant, SummaryViewState, SummaryViewUiState } from '../../src/protocol/webview';
import { bootView } from '../common/boot';
import { patchSections } from '../common/morph';
import { resolveSummaryHost } from './host';
import { formatAlpha, renderSummary } from './view';

const host = resolveSummaryHost();
const { root, notify, onAction, onDetailsToggle, start } = bootView(host, { notices: true });

let ui: SummaryViewUiState = host.getState() ?? { recordOpen: false, chunksOpen: false };
let state: SummaryViewState | undefined;
let lastRunId: number | undefined;
const rendered = new Map<string, { html: string; el: Element }>();

function draw(): void {
  patchSections(root, renderSummary(state, ui), rendered);
}

host.onMessage((msg) => {
  if (msg.type === 'notice') {
    notify(msg.notice.level, msg.notice.text);
    return;
  }
  state = msg.state;
  if (state.run?.id !== lastRunId) {
    lastRunId = state.run?.id;
    notify(undefined, '');
  }
  draw();
});

// ── intents ──────────────────────────────────────────────────────────────────────────────────────────────────

const variantOf = (el: HTMLElement): SummaryVariant => (el.dataset.variant === 'regular' ? 'regular' : 'cad');
const currentAlpha = () => state?.run?.alpha ?? 0;
const compareRegular = () => state?.run?.compareRegular ?? false;
const currentPlausibility = () => state?.run?.plausibility ?? 0;
const currentAdaptive = () => state?.run?.adaptive ?? false;
/** Absent in runs saved by older versions: the worker's default, on for both tasks. */
const currentExtractive = () => state?.run?.extractive ?? true;
/** A rerun message with the shown knobs, `change` applied. */
const rerun = (change: { alpha?: number; compareRegular?: boolean; plausibility?: number; adaptive?: boolean; extractive?: boolean } = {}) =>
  host.post({
    type: 'rerun',
    alpha: change.alpha ?? currentAlpha(),
    compareRegular: change.compareRegular ?? compareRegular(),
    plausibility: change.plausibility ?? currentPlausibility(),
    adaptive: change.adaptive ?? currentAdaptive(),
    extractive: change.extractive ?? currentExtractive(),
  });
let alphaTimer: ReturnType<typeof setTimeout> | undefined;
let plausibilityTimer: ReturnType<typeof setTimeout> | undefined;

function act(el: HTMLElement): void {
  if (el.hasAttribute('disabled')) return;
  switch (el.dataset.action) {
    case 'cancel':
      return host.post({ type: 'cancel' });
    case 'rerun':
      return rerun();
    case 'sweep':
      return host.post({ type: 'sweep' });
    case 'copy':
      return host.post({ type: 'copy', variant: variantOf(el) });
    case 'insert':
      return host.post({ type: 'insert', variant: variantOf(el), mode: el.dataset.mode === 'cursor' ? 'cursor' : 'comment' });
    case 'reveal': {
      const index = Number(el.dataset.index);
      if (Number.isInteger(index)) host.post({ type: 'reveal', variant: variantOf(el), index });
      return;
    }
  }
}

onAction(act);

root.addEventListener('input', (e) => {
  const el = e.target as HTMLInputElement;
  const which = el.dataset.action;
  if (which !== 'alpha' && which !== 'plausibility') return;
  const a = formatAlpha(Number(el.value));
  el.setAttribute('aria-valuetext', `${which === 'alpha' ? 'α' : 'β'} ${a}`);
  const out = root.querySelector(`#${which}-value`);
  if (out) out.textContent = a;
});

root.addEventListener('change', (e) => {
  const el = e.target as HTMLElement;
  if (el.dataset.action === 'alpha') {
    // Arrow keys fire a change per step: wait until the user pauses, then run once.
    clearTimeout(alphaTimer);
    alphaTimer = setTimeout(() => {
      const alpha = Number((el as HTMLInputElement).value);
      if (Number.isFinite(alpha) && alpha !== currentAlpha()) rerun({ alpha });
    }, 350);
  } else if (el.dataset.action === 'plausibility') {
    clearTimeout(plausibilityTimer);
    plausibilityTimer = setTimeout(() => {
      const plausibility = Number((el as HTMLInputElement).value);
      if (Number.isFinite(plausibility) && plausibility !== currentPlausibility()) rerun({ plausibility });
    }, 350);
  } else if (el.dataset.action === 'adaptive') {
    const checked = (el as HTMLElement & { checked?: boolean }).checked === true;
    if (checked !== currentAdaptive()) rerun({ adaptive: checked });
  } else if (el.dataset.action === 'extractive') {
    const checked = (el as HTMLElement & { checked?: boolean }).checked === true;
    if (checked !== currentExtractive()) rerun({ extractive: checked });
  } else if (el.dataset.action === 'model') {
    const packId = (el as HTMLSelectElement).value;
    if (packId !== (state?.modelId ?? '')) host.post({ type: 'model', packId });
  } else if (el.dataset.action === 'compare') {
    const checked = (el as HTMLElement & { checked?: boolean }).checked === true;
    if (checked !== compareRegular()) rerun({ compareRegular: checked });
  }
});

// Tokens: one tab stop per output, arrow keys move between tokens (roving tabindex), Enter or Space reveals.
root.addEventListener('focusin', (e) => {
  const tok = (e.target as HTMLElement).closest<HTMLElement>('.tok');
  if (!tok) return;
  for (const t of tok.parentElement?.querySelectorAll<HTMLElement>('.tok') ?? []) t.tabIndex = t === tok ? 0 : -1;
});

root.addEventListener('keydown', (e) => {
  const tok = (e.target as HTMLElement).closest<HTMLElement>('.tok');
  if (!tok) return;
  const all = [...(tok.parentElement?.querySelectorAll<HTMLElement>('.tok') ?? [])];
  const i = all.indexOf(tok);
  const go = (j: number) => {
    e.preventDefault();
    all[Math.max(0, Math.min(all.length - 1, j))]?.focus();
  };
  switch (e.key) {
    case 'ArrowRight':
    case 'ArrowDown':
      return go(i + 1);
    case 'ArrowLeft':
    case 'ArrowUp':
      return go(i - 1);
    case 'Home':
      return go(0);
    case 'End':
      return go(all.length - 1);
    case 'Enter':
    case ' ':
      e.preventDefault();
      return act(tok);
  }
});

onDetailsToggle((d) => {
  const which = d.dataset?.ui;
  if (which !== 'record' && which !== 'chunks') return;
  ui = { ...ui, [which === 'record' ? 'recordOpen' : 'chunksOpen']: d.open };
  host.setState(ui);
  // Keep the rendered markup in step, so the next patch does not see a change that is not there.
  draw();
});

start(draw);

/**
 * Entry point of the "Concert: Rewrite" panel: handshake with the host, render each state it sends (patching in
 * place), turn `data-action` clicks into messages and `data-control` edits into UI state, and keep only UI state
 * (timeline position, unsaved control edits, whether the run record is open) in the webview's persisted state.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { RewriteControls, RewriteViewState, RewriteViewUiState } from '../../src/protocol/webview';
import { controlsFromForm, randomSeed, type FormFields } from './form';
import { resolveRewriteHost } from './host';
import { bootView } from '../common/boot';
import { patchSections } from '../common/morph';
import { renderRewrite, shownControls } from './view';

const host = resolveRewriteHost();
const { root, notify, onAction, onDetailsToggle, start } = bootView(host, { notices: true });

let ui: RewriteViewUiState = host.getState() ?? { recordOpen: false };
let state: RewriteViewState | undefined;
const rendered = new Map<string, { html: string; el: Element }>();

function draw(): void {
  patchSections(root, renderRewrite(state, ui), rendered);
}

function saveUi(next: RewriteViewUiState): void {
  ui = next;
  host.setState(ui);
}

host.onMessage((msg) => {
  if (msg.type === 'notice') {
    notify(msg.notice.level, msg.notice.text);
    return;
  }
  state = msg.state;
  const id = state.run?.id;
  if (id !== ui.runId) {
    // A new run: the timeline follows it from the start, and the controls show what it used.
    saveUi({ recordOpen: ui.recordOpen, ...(id !== undefined && { runId: id }) });
    notify(undefined, '');
  }
  draw();
});

// ── the controls ─────────────────────────────────────────────────────────────────────────────────────────────

function readForm(): RewriteControls | undefined {
  const run = state?.run;
  if (!run || !state) return undefined;
  const f: FormFields = { direction: {}, lambda: {} };
  for (const el of root.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-control]')) {
    const c = el.dataset.control;
    const attr = el.dataset.attribute;
    if (c === 'direction' && attr !== undefined) f.direction[attr] = el.value;
    else if (c === 'lambda' && attr !== undefined) f.lambda[attr] = el.value;
    else if (c === 'strength' || c === 'steps' || c === 'topP' || c === 'projection' || c === 'tokens' || c === 'minTokens' || c === 'seed') f[c] = el.value;
  }
  return controlsFromForm(f, shownControls(run, ui), state.defaultLambda);
}

function editDraft(): void {
  const draft = readForm();
  if (!draft) return;
  saveUi({ ...ui, draft });
  draw();
}

function rerun(): void {
  const controls = readForm();
  if (!controls) return;
  host.post({ type: 'rerun', controls });
}

/** A slider and its number field show the same value: copy the one the user moved into the other. */
function mirror(el: HTMLInputElement): void {
  const pair = el.dataset.pair ? document.getElementById(el.dataset.pair) : null;
  if (pair instanceof HTMLInputElement && pair.value !== el.value && el.value !== '') pair.value = el.value;
}

function onTimeline(el: HTMLInputElement): void {
  const v = Number(el.value);
  if (!Number.isInteger(v) || !state?.run) return;
  const run = state.run;
  const last = run.steps[run.steps.length - 1];
  if (el.dataset.control === 'tl-block') {
    // The newest block while running means "follow it".
    const follow = run.status === 'running' && last !== undefined && v >= last.block;
    const { block: _b, step: _s, ...rest } = ui;
    saveUi(follow ? rest : { ...rest, block: v });
  } else {
    // The newest step of the newest block while running means "follow it"; any other step pins its block too, so
    // the next block's first step does not take its place.
    const max = Number(el.max);
    const shown = ui.block ?? last?.block ?? 0;
    const { block: _b, step: _s, ...rest } = ui;
    const follow = run.status === 'running' && v >= max && last !== undefined && shown >= last.block;
    saveUi(follow ? rest : { ...rest, block: shown, step: v });
  }
  draw();
}

function act(el: HTMLElement): void {
  if (el.hasAttribute('disabled')) return;
  switch (el.dataset.action) {
    case 'cancel':
      return host.post({ type: 'cancel' });
    case 'rerun':
      return rerun();
    case 'accept':
      return host.post({ type: 'accept' });
    case 'reject':
      return host.post({ type: 'reject' });
    case 'new-seed': {
      const seed = root.querySelector<HTMLInputElement>('#seed');
      if (seed) seed.value = String(randomSeed());
      return editDraft();
    }
  }
}

onAction(act);

root.addEventListener('input', (e) => {
  const el = e.target as HTMLInputElement;
  const c = el.dataset?.control;
  if (!c) return;
  if (c === 'tl-block' || c === 'tl-step') return onTimeline(el);
  if (el.type === 'range') {
    mirror(el);
    const out = el.id === 'strength' ? `edit strength ${el.value}` : `λ ${el.value}`;
    el.setAttribute('aria-valuetext', out);
  } else if (el.type === 'number') mirror(el);
  // Number fields: keep the typed text until the field is left (change), so "0." is not rewritten under the caret.
  if (el.type !== 'number') editDraft();
});

/**
 * A committed field shows the value the next run will use (clamped, rounded). The render leaves a focused field's
 * typed text alone, and skips a section whose markup did not change (typing 2000 in Steps twice gives 1000 twice).
 */
function settle(el: HTMLInputElement): void {
  const model = el.getAttribute('value');
  if (model !== null && el.value !== model) {
    el.value = model;
    mirror(el);
  }
}

root.addEventListener('change', (e) => {
  const el = e.target as HTMLInputElement;
  const c = el.dataset?.control;
  if (!c || c === 'tl-block' || c === 'tl-step') return;
  editDraft();
  if (el instanceof HTMLInputElement) settle(el);
});

// Enter in a field runs again with what the fields say.
root.addEventListener('keydown', (e) => {
  const el = e.target as HTMLElement;
  if (e.key !== 'Enter' || !(el instanceof HTMLInputElement) || !el.dataset.control || el.dataset.control.startsWith('tl-')) return;
  e.preventDefault();
  editDraft();
  settle(el);
  rerun();
});

onDetailsToggle((d) => {
  if (d.dataset?.ui !== 'record') return;
  saveUi({ ...ui, recordOpen: d.open });
  draw();
});

start(draw);

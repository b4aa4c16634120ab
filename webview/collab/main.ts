/**
 * Entry point of the "Concert: Collaborate" panel: handshake with the host, render each state it sends (patching
 * only the sections that changed), turn `data-action` clicks into messages and `data-control` edits into a draft of
 * the controls, and keep only UI state (open sections, the draft) in the webview's persisted state.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { COLLAB_LIMITS, type CollabControls, type CollabVariant, type CollabViewState, type CollabViewUiState } from '../../src/protocol/webview';
import { bootView } from '../common/boot';
import { patchSections } from '../common/morph';
import { resolveCollabHost } from './host';
import { formatNumber, renderCollab, shownControls } from './view';

const host = resolveCollabHost();
const { root, notify, onAction, onDetailsToggle, start } = bootView(host, { notices: true });

let ui: CollabViewUiState = host.getState() ?? { ledgerOpen: false, recordOpen: false };
let state: CollabViewState | undefined;
const rendered = new Map<string, { html: string; el: Element }>();

function draw(): void {
  patchSections(root, renderCollab(state, ui), rendered);
  syncFields();
}

/**
 * Attributes set a field's default only: once the user has edited a text area or clicked a box, its live value no
 * longer follows them. Bring the live values in line with the controls shown (a text area being typed in stays).
 */
function syncFields(): void {
  if (!state) return;
  const c = shownControls(state, ui);
  const ta = root.querySelector<HTMLTextAreaElement>('#instruction');
  if (ta && ta !== document.activeElement && ta.value !== c.instruction) ta.value = c.instruction;
  for (const el of root.querySelectorAll<HTMLInputElement>('input[type="checkbox"][data-control], input[type="radio"][data-control]')) {
    const want = el.type === 'radio' ? c.core === el.value : el.dataset.control === 'compare' ? c.compare : c.userOnly;
    if (el.checked !== want) el.checked = want;
  }
}

function saveUi(next: CollabViewUiState): void {
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
    // A new run: the form shows what it used.
    const { draft: _d, runId: _r, ...rest } = ui;
    saveUi({ ...rest, ...(id !== undefined && { runId: id }) });
    notify(undefined, '');
  }
  draw();
});

// ── the form ─────────────────────────────────────────────────────────────────────────────────────────────────

const clamp = (v: number, r: { min: number; max: number }, fallback: number) => (Number.isFinite(v) ? Math.min(r.max, Math.max(r.min, v)) : fallback);

function readForm(): CollabControls | undefined {
  if (!state) return undefined;
  const was = shownControls(state, ui);
  const field = <T extends HTMLElement>(id: string) => root.querySelector<T>(`[data-control="${id}"]`);
  const instruction = field<HTMLTextAreaElement>('instruction')?.value ?? was.instruction;
  const lambdaUser = clamp(Number(field<HTMLInputElement>('lambdaUser')?.value), COLLAB_LIMITS.lambdaUser, was.lambdaUser);
  const alpha = clamp(Number(field<HTMLInputElement>('alpha')?.value), COLLAB_LIMITS.alpha, was.alpha);
  const core = root.querySelector<HTMLInputElement>('[data-control="core"]:checked')?.value === 'remote' ? 'remote' : 'local';
  const compare = field<HTMLInputElement>('compare')?.checked ?? was.compare;
  const userOnly = field<HTMLInputElement>('userOnly')?.checked ?? was.userOnly;
  return { instruction: instruction.slice(0, COLLAB_LIMITS.instructionChars.max), lambdaUser, alpha, core, compare, userOnly };
}

function editDraft(): void {
  const draft = readForm();
  if (!draft) return;
  saveUi({ ...ui, draft, ...(state?.run && { runId: state.run.id }) });
  draw();
}

function run(): void {
  const controls = readForm();
  if (!controls || state?.run?.status === 'running') return;
  host.post({ type: 'run', controls });
}

const variantOf = (el: HTMLElement): CollabVariant => (el.dataset.variant === 'core' ? 'core' : el.dataset.variant === 'user' ? 'user' : 'collab');

function act(el: HTMLElement): void {
  if (el.hasAttribute('disabled')) return;
  switch (el.dataset.action) {
    case 'run':
      return run();
    case 'cancel':
      return host.post({ type: 'cancel' });
    case 'copy':
      return host.post({ type: 'copy', variant: variantOf(el) });
    case 'insert':
      return host.post({ type: 'insert', variant: variantOf(el) });
    case 'setToken':
      return host.post({ type: 'setToken' });
    case 'openSettings':
      return host.post({ type: 'openSettings' });
    case 'showKnowledge':
      return host.post({ type: 'showKnowledge' });
  }
}

onAction(act);

root.addEventListener('input', (e) => {
  const el = e.target as HTMLInputElement;
  const c = el.dataset?.control;
  if (!c) return;
  if (el.type === 'range') {
    const v = formatNumber(Number(el.value));
    el.setAttribute('aria-valuetext', `${c === 'alpha' ? 'α' : 'λ_user'} ${v}`);
    const out = root.querySelector(`#${c}-value`);
    if (out) out.textContent = v;
  }
  editDraft();
});

root.addEventListener('change', (e) => {
  if ((e.target as HTMLElement).dataset?.control) editDraft();
});

// Ctrl+Enter (Cmd+Enter) in the instruction runs.
root.addEventListener('keydown', (e) => {
  const el = e.target as HTMLElement;
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && el.dataset?.control === 'instruction') {
    e.preventDefault();
    editDraft();
    run();
  }
});

onDetailsToggle((d) => {
  const which = d.dataset?.ui;
  if (which !== 'ledger' && which !== 'record') return;
  saveUi({ ...ui, [which === 'ledger' ? 'ledgerOpen' : 'recordOpen']: d.open });
  draw();
});

start(draw);

/**
 * Entry point of the "Concert: Images" panel: handshake with the host, render each state it sends (patching only the
 * sections that changed, with the JPEG bytes shown through blob: URLs), turn `data-action` clicks into messages and
 * `data-control` edits into a draft of the controls, and keep only UI state (the record open, the draft) in the
 * webview's persisted state.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { ImagesMode, ImagesViewState, ImagesViewUiState } from '../../src/protocol/webview';
import { bootView } from '../common/boot';
import { patchSections } from '../common/morph';
import { BlobUrls } from './blobs';
import { controlsFromFields, randomSeed, type ImageFields } from './form';
import { resolveImagesHost } from './host';
import { ratioText, renderImages, shownControls, shownMode } from './view';

const host = resolveImagesHost();
const { root, notify, onAction, onDetailsToggle, start } = bootView(host, { notices: true });

let ui: ImagesViewUiState = host.getState() ?? { recordOpen: false };
let state: ImagesViewState | undefined;
const rendered = new Map<string, { html: string; el: Element }>();
const blobs = new BlobUrls();

function draw(): void {
  patchSections(
    root,
    renderImages(state, ui, (b) => blobs.url(b)),
    rendered,
  );
  blobs.sweep();
  syncFields();
}

/** Attributes set a field's default only: bring the live values of the radio buttons in line with the mode shown. */
function syncFields(): void {
  if (!state) return;
  const mode = shownMode(state, ui);
  for (const el of root.querySelectorAll<HTMLInputElement>('input[type="radio"][data-control="mode"]')) {
    const want = el.value === mode;
    if (el.checked !== want) el.checked = want;
  }
}

function saveUi(next: ImagesViewUiState): void {
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
    const { draft: _d, mode: _m, runId: _r, ...rest } = ui;
    saveUi({ ...rest, ...(id !== undefined && { runId: id }) });
    notify(undefined, '');
  }
  draw();
});

// ── the form ─────────────────────────────────────────────────────────────────────────────────────────────────

function readForm(): { mode: ImagesMode; controls: ReturnType<typeof controlsFromFields> } | undefined {
  if (!state) return undefined;
  const f: ImageFields = {};
  for (const el of root.querySelectorAll<HTMLInputElement>('input[data-control]')) {
    const c = el.dataset.control;
    if (c === 'ratio' || c === 'samples' || c === 'temperature' || c === 'topP' || c === 'topK' || c === 'seed') f[c] = el.value;
  }
  const picked = root.querySelector<HTMLInputElement>('input[data-control="mode"]:checked')?.value;
  const mode: ImagesMode = picked === 'generate' ? 'generate' : picked === 'complete' ? 'complete' : shownMode(state, ui);
  return { mode, controls: controlsFromFields(f, shownControls(state, ui)) };
}

function editDraft(): void {
  const form = readForm();
  if (!form) return;
  saveUi({ ...ui, draft: form.controls, mode: form.mode, ...(state?.run && { runId: state.run.id }) });
  draw();
}

function run(): void {
  const form = readForm();
  if (!form || state?.run?.status === 'running') return;
  host.post({ type: 'run', mode: form.mode, controls: form.controls });
}

function act(el: HTMLElement): void {
  if (el.hasAttribute('disabled')) return;
  switch (el.dataset.action) {
    case 'run':
      return run();
    case 'cancel':
      return host.post({ type: 'cancel' });
    case 'pickImage':
      return host.post({ type: 'pickImage' });
    case 'openSettings':
      return host.post({ type: 'openSettings' });
    case 'newSeed': {
      const seed = root.querySelector<HTMLInputElement>('#seed');
      if (seed) seed.value = String(randomSeed());
      return editDraft();
    }
    case 'save': {
      const where = el.dataset.where === 'folder' ? 'folder' : 'source';
      const index = el.dataset.index === undefined ? undefined : Number(el.dataset.index);
      return host.post({ type: 'save', where, ...(index !== undefined && Number.isInteger(index) && { index }) });
    }
  }
}

onAction(act);

root.addEventListener('input', (e) => {
  const el = e.target as HTMLInputElement;
  const c = el.dataset?.control;
  if (!c) return;
  if (c === 'ratio' && state) {
    const text = ratioText(Number(el.value), state.run?.geometry);
    el.setAttribute('aria-valuetext', `keep ${text}`);
    const out = root.querySelector('#ratio-value');
    if (out) out.textContent = text;
  }
  editDraft();
});

root.addEventListener('change', (e) => {
  if ((e.target as HTMLElement).dataset?.control) editDraft();
});

// Ctrl+Enter (Cmd+Enter) in a field runs.
root.addEventListener('keydown', (e) => {
  const el = e.target as HTMLElement;
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && el.dataset?.control) {
    e.preventDefault();
    editDraft();
    run();
  }
});

onDetailsToggle((d) => {
  if (d.dataset?.ui !== 'record') return;
  saveUi({ ...ui, recordOpen: d.open });
  draw();
});

start(draw);

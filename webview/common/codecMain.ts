/**
 * How a codec panel's page (Images, Video) runs: the handshake (through boot.ts), each state from the host drawn by
 * patching only the sections that changed (image bytes through blob: URLs), a new run resetting the draft, `data-control`
 * edits kept as a draft of the controls in the webview's persisted UI state, Ctrl+Enter running, and the intents they
 * share (run, cancel, open settings, new seed, save); a panel adds its own actions and field handlers.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { BlobUrls } from './blobs';
import { bootView, type NoticeLevel } from './boot';
import type { ViewHost } from './host';
import { patchSections } from './morph';
import { randomSeed } from './sampling';
import type { Section } from './vdom';

/** The UI state every codec panel keeps: the record open or not, and the run its draft was edited after. */
export interface CodecUi {
  recordOpen: boolean;
  runId?: number;
}

/** The intents every codec panel sends. */
export type CodecIntent =
  | { type: 'ready' }
  | { type: 'cancel' }
  | { type: 'openSettings'; setting?: string }
  | { type: 'save'; where: 'source' | 'folder'; index?: number };

export interface CodecPage<State extends { run?: { id: number; status: string } }, Ui extends CodecUi, ToHost> {
  host: ViewHost<ToHost, { type: 'state'; state: State } | { type: 'notice'; notice: { level: NoticeLevel; text: string } }, Ui>;
  /** The MIME type of the images the host sends. */
  imageType: string;
  render(state: State | undefined, ui: Ui, url: (base64: string) => string): Section[];
  /** After each draw: bring live values the attributes do not set in line. */
  afterDraw?(root: HTMLElement, state: State | undefined, ui: Ui): void;
  /** `ui` without what belongs to the previous run (the draft), for run `runId`. */
  forRun(ui: Ui, runId: number | undefined): Ui;
  /** The form's fields as a draft (merged into the UI state). */
  readDraft(root: HTMLElement, state: State, ui: Ui): Partial<Ui>;
  /** The run intent of the form, or undefined when it cannot run. */
  runIntent(root: HTMLElement, state: State, ui: Ui): ToHost | undefined;
  /** The panel's own `data-action`s. */
  actions?: Record<string, (el: HTMLElement) => void>;
  /** A `data-control` field was edited (before the draft is kept). */
  onInput?(el: HTMLInputElement, state: State | undefined, root: HTMLElement): void;
}

export interface CodecPageHandle<State, Ui> {
  root: HTMLElement;
  state(): State | undefined;
  ui(): Ui;
  saveUi(next: Ui): void;
  draw(): void;
}

export function startCodecPage<State extends { run?: { id: number; status: string } }, Ui extends CodecUi, ToHost>(
  p: CodecPage<State, Ui, ToHost>,
  initialUi: Ui,
): CodecPageHandle<State, Ui> {
  const host = p.host;
  const post = (m: CodecIntent) => host.post(m as ToHost);
  const { root, notify, onAction, onDetailsToggle, start } = bootView({ post }, { notices: true });
  let ui: Ui = host.getState() ?? initialUi;
  let state: State | undefined;
  const rendered = new Map<string, { html: string; el: Element }>();
  const blobs = new BlobUrls(p.imageType);

  function draw(): void {
    patchSections(
      root,
      p.render(state, ui, (b) => blobs.url(b)),
      rendered,
    );
    blobs.sweep();
    p.afterDraw?.(root, state, ui);
  }

  function saveUi(next: Ui): void {
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
      saveUi(p.forRun(ui, id));
      notify(undefined, '');
    }
    draw();
  });

  function editDraft(): void {
    if (!state) return;
    saveUi({ ...ui, ...p.readDraft(root, state, ui), ...(state.run && { runId: state.run.id }) });
    draw();
  }

  function run(): void {
    if (!state || state.run?.status === 'running') return;
    const intent = p.runIntent(root, state, ui);
    if (intent) host.post(intent);
  }

  onAction((el) => {
    if (el.hasAttribute('disabled')) return;
    const a = el.dataset.action ?? '';
    switch (a) {
      case 'run':
        return run();
      case 'cancel':
        return post({ type: 'cancel' });
      case 'openSettings':
        return post({ type: 'openSettings', ...(el.dataset.setting && { setting: el.dataset.setting }) });
      case 'newSeed': {
        const seed = root.querySelector<HTMLInputElement>('#seed');
        if (seed) seed.value = String(randomSeed());
        return editDraft();
      }
      case 'save': {
        const where = el.dataset.where === 'folder' ? 'folder' : 'source';
        const index = el.dataset.index === undefined ? undefined : Number(el.dataset.index);
        return post({ type: 'save', where, ...(index !== undefined && Number.isInteger(index) && { index }) });
      }
    }
    p.actions?.[a]?.(el);
  });

  root.addEventListener('input', (e) => {
    const el = e.target as HTMLInputElement;
    if (!el.dataset?.control) return;
    p.onInput?.(el, state, root);
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
  return { root, state: () => state, ui: () => ui, saveUi, draw };
}

/** The values of the form's `input[data-control]` fields among `names`. */
export function fieldValues<K extends string>(root: HTMLElement, names: readonly K[]): Partial<Record<K, string>> {
  const f: Partial<Record<K, string>> = {};
  for (const el of root.querySelectorAll<HTMLInputElement>('input[data-control]')) {
    const c = el.dataset.control as K;
    if (names.includes(c)) f[c] = el.value;
  }
  return f;
}

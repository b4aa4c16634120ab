/**
 * Entry point of the "Concert: Images" panel, on the codec panels' page (common/codecMain.ts: handshake, patched
 * sections with the JPEG bytes shown through blob: URLs, `data-action` clicks, a draft of the controls kept in the
 * webview's persisted UI state). Its own: the mode radio buttons and the ratio slider's live text.
 */
import type { ImagesMode, ImagesViewState, ImagesViewUiState } from '../../src/protocol/webview';
import { fieldValues, startCodecPage } from '../common/codecMain';
import { controlsFromFields } from './form';
import { resolveImagesHost } from './host';
import { ratioText, renderImages, shownControls, shownMode } from './view';

const FIELDS = ['ratio', 'samples', 'temperature', 'topP', 'topK', 'seed'] as const;
const host = resolveImagesHost();

function readForm(root: HTMLElement, state: ImagesViewState, ui: ImagesViewUiState) {
  const picked = root.querySelector<HTMLInputElement>('input[data-control="mode"]:checked')?.value;
  const mode: ImagesMode = picked === 'generate' ? 'generate' : picked === 'complete' ? 'complete' : shownMode(state, ui);
  return { mode, controls: controlsFromFields(fieldValues(root, FIELDS), shownControls(state, ui)) };
}

startCodecPage(
  {
    host,
    imageType: 'image/jpeg',
    render: renderImages,
    // Attributes set a field's default only: bring the live values of the radio buttons in line with the mode shown.
    afterDraw: (root, state, ui) => {
      if (!state) return;
      const mode = shownMode(state, ui);
      for (const el of root.querySelectorAll<HTMLInputElement>('input[type="radio"][data-control="mode"]')) {
        const want = el.value === mode;
        if (el.checked !== want) el.checked = want;
      }
    },
    forRun: (ui, id) => {
      const { draft: _d, mode: _m, runId: _r, ...rest } = ui;
      return { ...rest, ...(id !== undefined && { runId: id }) };
    },
    readDraft: (root, state, ui) => {
      const f = readForm(root, state, ui);
      return { draft: f.controls, mode: f.mode };
    },
    runIntent: (root, state, ui) => ({ type: 'run' as const, ...readForm(root, state, ui) }),
    onInput: (el, state, root) => {
      if (el.dataset.control !== 'ratio' || !state) return;
      const text = ratioText(Number(el.value), state.run?.geometry);
      el.setAttribute('aria-valuetext', `keep ${text}`);
      const out = root.querySelector('#ratio-value');
      if (out) out.textContent = text;
    },
    actions: { pickImage: () => host.post({ type: 'pickImage' }) },
  },
  { recordOpen: false },
);

/**
 * The images panel as a pure function of the host's state, the page's UI state and a way to turn JPEG bytes into an
 * image URL: keyed sections of virtual DOM (the page patches only those that changed, so streamed previews never
 * replace the slider under the pointer). No DOM here: tests render it to HTML strings. User intents are
 * `data-action` attributes; the form's fields carry `data-control`.
 */
import {
  IMAGE_LIMITS,
  type ImageControls,
  type ImageGeometryView,
  type ImageSampleView,
  type ImagesMode,
  type ImagesRunView,
  type ImagesViewState,
  type ImagesViewUiState,
} from '../../src/protocol/webview';
import {
  button,
  formatNumber,
  icon,
  numberField,
  panelHeader,
  plural,
  recordSection as record,
  runningStatus,
  samplingFields,
  saveAllButtons,
  savedLine,
  stoppedStatus,
} from '../common/codecView';
import { h, s, type Section, type VChild, type VNode } from '../common/vdom';

export type { Section } from '../common/vdom';

/** base64 JPEG → a URL an <img> can show (blob: in the page; anything in tests). */
export type ImageUrl = (base64: string) => string;

/** The side of a baseline 4:2:0 MCU in pixels (the canonical stream's). */
const MCU = 16;

export { formatNumber };
export const percent = (r: number) => `${Math.round(r * 100)}%`;

/** The controls the form shows: an unsent draft made after the shown run, else the host's. */
export function shownControls(state: ImagesViewState, ui: ImagesViewUiState): ImageControls {
  return ui.draft && ui.runId === state.run?.id ? ui.draft : state.controls;
}

/** The mode the form shows: one picked after the shown run, else the host's. */
export function shownMode(state: ImagesViewState, ui: ImagesViewUiState): ImagesMode {
  return ui.mode && ui.runId === state.run?.id ? ui.mode : state.mode;
}

/** Patches a ratio keeps, as the worker cuts the prompt: ⌊P·ratio⌋. */
export function keptPatches(g: Pick<ImageGeometryView, 'patches'>, ratio: number): number {
  return Math.min(g.patches, Math.max(0, Math.floor(g.patches * ratio + 1e-9)));
}

/**
 * The part of the image a ratio drops, in MCUs (columns × rows of the MCU grid): the rest of the partly kept MCU row
 * and every row below it. Undefined when the geometry is not a plain grid of 16×16 MCUs.
 */
export function droppedRects(
  g: ImageGeometryView,
  ratio: number,
): { cols: number; rows: number; rects: { x: number; y: number; w: number; h: number }[] } | undefined {
  const cols = Math.ceil(g.width / MCU);
  const rows = Math.ceil(g.height / MCU);
  if (cols * rows !== g.mcuCount || g.patches < 1 || g.mcuCount % g.patches !== 0) return undefined;
  const kept = keptPatches(g, ratio) * (g.mcuCount / g.patches);
  const full = Math.floor(kept / cols);
  const extra = kept % cols;
  const rects: { x: number; y: number; w: number; h: number }[] = [];
  if (full < rows && extra > 0) rects.push({ x: extra, y: full, w: cols - extra, h: 1 });
  const below = full + (extra > 0 ? 1 : 0);
  if (below < rows) rects.push({ x: 0, y: below, w: cols, h: rows - below });
  return { cols, rows, rects };
}

// ── sections ──────────────────────────────────────────────────────────────────────────────────────────────────

function statusLine(run: ImagesRunView | undefined): VChild | undefined {
  if (!run) return undefined;
  if (run.status !== 'running') return stoppedStatus(run);
  const p = run.progress;
  // Samples end when their image is complete, usually well before the token budget: progress counts MCUs.
  const total = run.mcuCount !== undefined ? run.mcuCount * run.samples.length : 0;
  const done = run.samples.reduce((n, x) => n + Math.min(x.mcusDone, run.mcuCount ?? 0), 0);
  const what = p
    ? `Sampling… step ${p.step}: ${done} of ${total} MCUs decoded${run.samples.length > 1 ? ` in ${plural(run.samples.length, 'sample')}` : ''}`
    : 'Loading the image model and reading the image…';
  return runningStatus(what, 'Stop sampling (the previews so far stay)', p && { max: total, value: done, label: 'Progress of the run (MCUs decoded)' });
}

function headerSection(state: ImagesViewState): Section {
  const mode = state.run?.mode ?? state.mode;
  return panelHeader({
    heading: mode === 'generate' ? 'Generate' : 'Complete',
    source: mode === 'generate' ? 'new images' : (state.run?.sourceName ?? state.sourceName ?? 'no image chosen'),
    model: state.model
      ? `Model: ${state.model.label}, ${state.model.width}×${state.model.height} pixels. `
      : state.noModel
        ? h('span', { class: 'no-model' }, `${state.noModel} `)
        : 'Model: the first image model the worker finds. ',
    settingsTitle: 'Open the Concert image settings',
    status: statusLine(state.run),
  });
}

/** What the ratio slider says: the share, and the patches it keeps once the image's geometry is known. */
export function ratioText(ratio: number, g: ImageGeometryView | undefined): string {
  return g ? `${percent(ratio)} (${keptPatches(g, ratio)} of ${plural(g.patches, 'patch', 'patches')})` : percent(ratio);
}

function formSection(state: ImagesViewState, ui: ImagesViewUiState): Section {
  const c = shownControls(state, ui);
  const mode = shownMode(state, ui);
  const running = state.run?.status === 'running';
  const g = state.run?.geometry;
  const R = IMAGE_LIMITS.ratio;
  const L = IMAGE_LIMITS;
  const radio = (value: ImagesMode, label: string) =>
    h(
      'label',
      { class: 'radio' },
      h('input', { type: 'radio', name: 'mode', value, 'data-control': 'mode', 'data-key': `mode:${value}`, checked: mode === value }),
      ` ${label}`,
    );
  const rt = ratioText(c.ratio, g);
  const rerun = state.run !== undefined && state.run.mode === mode;
  return {
    key: 'form',
    node: h(
      'section',
      { class: 'form', 'aria-label': 'Image and controls' },
      h('fieldset', { class: 'mode' }, h('legend', {}, 'Mode'), radio('complete', 'Complete an image'), radio('generate', 'Generate new images')),
      mode === 'complete' &&
        h(
          'p',
          { class: 'image-line' },
          state.sourceName ? ['Image: ', h('strong', {}, state.sourceName), ' '] : 'No image chosen yet. ',
          button(state.sourceName ? 'Choose Another Image…' : 'Choose Image…', 'pickImage', { icon: 'folder-opened', secondary: true }),
        ),
      h(
        'div',
        { class: `slider${mode === 'generate' ? ' off' : ''}` },
        h('label', { for: 'ratio' }, 'Keep'),
        h('input', {
          type: 'range',
          id: 'ratio',
          min: R.min,
          max: R.max,
          step: R.step,
          value: formatNumber(c.ratio),
          disabled: mode === 'generate',
          'data-control': 'ratio',
          'data-key': 'ratio',
          'aria-valuetext': `keep ${rt}`,
          'aria-describedby': 'ratio-help',
        }),
        h('output', { id: 'ratio-value', for: 'ratio' }, rt),
        h(
          'span',
          { id: 'ratio-help', class: 'hint' },
          mode === 'generate'
            ? 'Generation keeps nothing: the model writes whole images.'
            : 'How much of the image, row by row from the top, the model keeps; it writes the rest.',
        ),
      ),
      h(
        'div',
        { class: 'fields' },
        numberField('samples', 'Samples', c.samples, L.samples, 'Images per run, sampled as one batch.'),
        ...samplingFields(c, 'the same images'),
      ),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Run' },
        button(rerun ? 'Rerun' : 'Run', 'run', {
          icon: rerun ? 'debug-rerun' : 'play',
          disabled: running,
          title: mode === 'complete' ? 'Complete the image with these settings (Ctrl+Enter)' : 'Generate images with these settings (Ctrl+Enter)',
        }),
      ),
    ),
  };
}

/** The canonicalised original with the part the shown ratio drops dimmed (an SVG over the image, no inline styles). */
function originalFigure(run: ImagesRunView, ratio: number, url: ImageUrl): VNode {
  const g = run.geometry;
  const d = g && droppedRects(g, ratio);
  return h(
    'figure',
    { class: 'orig' },
    h(
      'div',
      { class: 'frame' },
      run.original
        ? h('img', { src: url(run.original), alt: `The image as the model sees it${g ? `, ${g.width}×${g.height} pixels` : ''}`, 'data-key': 'img:original' })
        : h('div', { class: 'placeholder' }, run.status === 'running' ? 'after the run' : 'not kept'),
      run.original &&
        d &&
        s(
          'svg',
          { class: 'drop', viewBox: `0 0 ${d.cols} ${d.rows}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' },
          ...d.rects.map((r) => s('rect', { x: r.x, y: r.y, width: r.w, height: r.h })),
        ),
    ),
    h('figcaption', {}, 'Original', h('span', { class: 'hint' }, g ? ` · dimmed: what ${percent(ratio)} would drop` : ' · as the model sees it')),
  );
}

function keptFigure(run: ImagesRunView, url: ImageUrl): VNode {
  const g = run.geometry;
  return h(
    'figure',
    { class: 'kept' },
    h(
      'div',
      { class: 'frame' },
      run.kept
        ? h('img', {
            src: url(run.kept),
            alt: `The kept region${g ? `: ${g.keptPatches} of ${g.patches} patches` : ''}, the rest grey`,
            'data-key': 'img:kept',
          })
        : h('div', { class: 'placeholder' }, run.status === 'running' ? 'after the run' : 'not kept'),
    ),
    h('figcaption', {}, 'Kept region', h('span', { class: 'hint' }, g ? ` · ${g.keptPatches} of ${plural(g.patches, 'patch', 'patches')}` : '')),
  );
}

function inputSection(run: ImagesRunView, ratio: number, url: ImageUrl): Section | undefined {
  if (run.mode !== 'complete') return undefined;
  return {
    key: 'input',
    node: h(
      'section',
      { class: 'input', 'aria-labelledby': 'h-input' },
      h('h2', { id: 'h-input' }, 'Input', run.sourceName ? h('span', { class: 'hint' }, ` · ${run.sourceName}`) : undefined),
      h('div', { class: 'pair' }, originalFigure(run, ratio, url), keptFigure(run, url)),
    ),
  };
}

/** A sample's state in words (also its image's alt text). */
export function sampleVerdict(sample: ImageSampleView, run: ImagesRunView): string {
  if (sample.decodable === true) return 'decodable';
  if (sample.decodable === false) return `not decodable${sample.problem ? `: ${sample.problem}` : ''}`;
  if (run.status === 'running') return sample.done ? 'finished' : run.mcuCount ? `${sample.mcusDone} of ${run.mcuCount} MCUs` : 'waiting for the first bytes';
  return run.status === 'cancelled' ? 'cancelled' : 'stopped';
}

function sampleCard(sample: ImageSampleView, run: ImagesRunView, url: ImageUrl): VNode {
  const n = sample.index + 1;
  const verdict = sampleVerdict(sample, run);
  const cls = sample.decodable === true ? ' decodable' : sample.decodable === false ? ' broken' : run.status === 'running' ? ' streaming' : '';
  const done = run.status === 'done';
  return h(
    'li',
    { class: `sample${cls}`, 'data-key': `sample:${sample.index}`, 'aria-label': `Sample ${n}: ${verdict}` },
    h(
      'div',
      { class: 'frame' },
      sample.jpeg ? h('img', { src: url(sample.jpeg), alt: `Sample ${n}, ${verdict}` }) : h('div', { class: 'placeholder' }, 'waiting…'),
    ),
    run.status === 'running' &&
      run.mcuCount !== undefined &&
      h('progress', { max: run.mcuCount, value: Math.min(sample.mcusDone, run.mcuCount), 'aria-label': `Sample ${n}: MCUs decoded` }),
    h(
      'div',
      { class: 'caption' },
      h('span', { class: 'name' }, `Sample ${n}`),
      ' ',
      sample.decodable === true
        ? h('span', { class: 'badge ok' }, icon('pass'), ' decodable')
        : sample.decodable === false
          ? h('span', { class: 'badge bad', title: sample.problem }, icon('warning'), ' not decodable')
          : h('span', { class: 'hint' }, verdict),
    ),
    savedLine(sample.savedAs),
    done &&
      button('Save', 'save', {
        icon: 'save',
        secondary: true,
        key: `btn:save:${sample.index}`,
        data: { where: run.mode === 'complete' ? 'source' : 'folder', index: String(sample.index) },
        title: run.mode === 'complete' ? `Save sample ${n} next to ${run.sourceName ?? 'the image'}` : `Save sample ${n} in a folder you choose`,
      }),
  );
}

function gallerySection(run: ImagesRunView, url: ImageUrl): Section {
  const done = run.status === 'done';
  const count = done && run.decodable !== undefined ? ` · ${run.decodable} of ${run.samples.length} decodable` : '';
  return {
    key: 'gallery',
    node: h(
      'section',
      { class: 'gallery', 'aria-labelledby': 'h-gallery' },
      h('h2', { id: 'h-gallery' }, run.mode === 'complete' ? 'Completions' : 'Generated images', h('span', { class: 'hint' }, count)),
      h('ol', { class: 'samples', 'aria-busy': run.status === 'running' ? 'true' : undefined }, ...run.samples.map((x) => sampleCard(x, run, url))),
      done &&
        saveAllButtons({
          ...(run.mode === 'complete' && {
            nextTo: {
              label: 'Save All Next to Image',
              title: `Write every sample as .jpg next to ${run.sourceName ?? 'the image'} (never over an existing file)`,
            },
          }),
          folderTitle: 'Write every sample as .jpg into a folder you choose',
          ariaLabel: 'Save the images',
        }),
    ),
  };
}

function recordSection(rows: { name: string; value: string }[], ui: ImagesViewUiState): Section {
  return record(rows, ui.recordOpen);
}

/** The whole panel, top to bottom. */
export function renderImages(state: ImagesViewState | undefined, ui: ImagesViewUiState, url: ImageUrl): Section[] {
  if (!state) return [{ key: 'loading', node: h('p', { class: 'hint' }, 'Loading…') }];
  const run = state.run;
  const ratio = shownControls(state, ui).ratio;
  const sections: (Section | undefined)[] = [
    headerSection(state),
    formSection(state, ui),
    run && inputSection(run, ratio, url),
    run && gallerySection(run, url),
    run?.record && recordSection(run.record, ui),
  ];
  return sections.filter((x): x is Section => x !== undefined);
}

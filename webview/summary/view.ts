/**
 * The summary panel as a pure function of the host's state: a list of keyed sections of virtual DOM. The page
 * (main.ts) replaces only the sections whose markup changed, so streaming tokens never rebuild the α slider under
 * the user's pointer. No DOM here: tests render it to HTML strings. User intents are `data-action` attributes that
 * main.ts turns into messages for the host.
 */
import {
  SUMMARY_ALPHA,
  SUMMARY_PLAUSIBILITY,
  type SummaryModelChoice,
  type SummaryOutputView,
  type SummaryRecordView,
  type SummaryRunView,
  type SummarySweepView,
  type SummaryTask,
  type SummaryVariant,
  type SummaryViewState,
} from '../../src/protocol/webview';
import { RELIANCE_LEGEND, formatReliance, relianceClass, relianceTitle } from './reliance';
import { dataTable, h, s, type Section, type VChild, type VNode } from '../common/vdom';

export interface ViewUi {
  recordOpen: boolean;
  chunksOpen: boolean;
}

export type { Section } from '../common/vdom';

const icon = (name: string, spin = false) => h('span', { class: `codicon codicon-${name}${spin ? ' codicon-modifier-spin' : ''}`, 'aria-hidden': 'true' });

function button(
  label: string,
  action: string,
  opts: { icon?: string; secondary?: boolean; disabled?: boolean; variant?: SummaryVariant; mode?: string; title?: string } = {},
): VNode {
  return h(
    'vscode-button',
    {
      'data-action': action,
      'data-key': `btn:${action}:${opts.variant ?? ''}:${opts.mode ?? ''}`,
      'data-variant': opts.variant,
      'data-mode': opts.mode,
      icon: opts.icon,
      secondary: opts.secondary,
      disabled: opts.disabled,
      title: opts.title,
    },
    label,
  );
}

export const formatAlpha = (a: number) => String(Math.round(a * 100) / 100);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const percent = (x: number) => `${Math.round(x * 100)}%`;

/** The share of document-supported tokens (positive reliance), as the meta line and the sweep count them. */
export function supportedShare(o: SummaryOutputView): number | undefined {
  return o.tokens.length ? o.tokens.filter((t) => t.reliance > 0).length / o.tokens.length : undefined;
}

// ── sections ──────────────────────────────────────────────────────────────────────────────────────────────────

function emptySection(): Section {
  return {
    key: 'empty',
    node: h(
      'section',
      { class: 'empty' },
      h('h1', {}, 'Concert: Summary'),
      h(
        'p',
        { class: 'hint' },
        'Run ',
        h('strong', {}, 'Concert: Summarize Document'),
        ', ',
        h('strong', {}, 'Summarize Selection'),
        ' or ',
        h('strong', {}, 'Ask About This Document…'),
        ' from the command palette or the editor’s context menu (Concert submenu).',
      ),
    ),
  };
}

function statusLine(run: SummaryRunView): VChild | undefined {
  const n = run.cad.tokens.length + (run.regular?.tokens.length ?? 0);
  switch (run.status) {
    case 'running': {
      const part = run.cad.part ?? run.regular?.part;
      const what =
        n === 0 ? 'Loading the model and reading the document…' : `Generating… ${plural(n, 'token')}${part ? ` (part ${part + 1} of a long document)` : ''}`;
      return h(
        'div',
        { class: 'status running', role: 'status' },
        icon('loading', true),
        ' ',
        what,
        ' ',
        button('Cancel', 'cancel', { icon: 'close', secondary: true }),
      );
    }
    case 'cancelled':
      return h('div', { class: 'status cancelled', role: 'status' }, icon('circle-slash'), ' ', run.message ?? `Cancelled after ${plural(n, 'token')}.`);
    case 'error':
      return h('div', { class: 'status error', role: 'alert' }, icon('error'), ' ', run.message ?? 'The run failed.');
    case 'done':
      return undefined;
  }
}

/** Which model and prompt template produced the text shown (from the run record). */
export function modelLine(rec: SummaryRecordView): VNode {
  return h(
    'p',
    { class: 'model-line' },
    h('span', { class: 'label' }, 'Model: '),
    h('strong', {}, rec.modelName ?? rec.modelId),
    rec.modelName && !rec.modelName.includes(rec.modelId) ? h('span', { class: 'hint' }, ` (${rec.modelId})`) : undefined,
    rec.template !== undefined && [h('span', { class: 'label' }, ' · template: '), h('code', { class: 'template' }, rec.template)],
  );
}

function headerSection(run: SummaryRunView): Section {
  return {
    key: 'header',
    node: h(
      'header',
      { class: 'head' },
      h('h1', {}, run.task === 'ask' ? 'Answer' : 'Summary', h('span', { class: 'source' }, ` · ${run.source.fileName} · ${run.source.scope}`)),
      run.question !== undefined && h('p', { class: 'question' }, h('span', { class: 'label' }, 'Question: '), run.question),
      run.record && modelLine(run.record),
      statusLine(run),
      run.source.changed &&
        h('p', { class: 'status changed', role: 'note' }, icon('warning'), ` ${run.source.fileName} has changed since this run; Insert asks before it edits.`),
    ),
  };
}

/**
 * The model picker: the valid causal-LM packs (Concert packs and published folders). Choosing one runs the input
 * again with it; "Default model" is the `concert.cad.modelPack` setting, else the worker's default.
 */
export function modelPicker(models: readonly SummaryModelChoice[] | undefined, picked: string | undefined, running: boolean): VNode {
  const choices = [...(models ?? [])];
  if (picked && !choices.some((m) => m.id === picked)) choices.push({ id: picked, label: `${picked} (not listed)`, source: 'user' });
  return h(
    'div',
    { class: 'model' },
    h('label', { for: 'model' }, 'Model'),
    h(
      'select',
      { id: 'model', 'data-action': 'model', 'data-key': 'model', disabled: running, title: 'Run again with this model (kept for this panel)' },
      h('option', { value: '', selected: !picked }, 'Default model'),
      ...choices.map((m) => h('option', { value: m.id, selected: m.id === picked }, m.source === 'user' ? `${m.label} · user` : m.label)),
    ),
    models === undefined && h('span', { class: 'hint' }, 'Listing models…'),
  );
}

function controlsSection(run: SummaryRunView, state: SummaryViewState): Section {
  const running = run.status === 'running';
  const a = formatAlpha(run.alpha);
  const b = formatAlpha(run.plausibility ?? 0);
  return {
    key: 'controls',
    node: h(
      'section',
      { class: 'controls', 'aria-label': 'Decoding controls' },
      modelPicker(state.models, state.modelId, running),
      h(
        'div',
        { class: 'alpha' },
        h('label', { for: 'alpha' }, 'Context weight α'),
        h('input', {
          type: 'range',
          id: 'alpha',
          min: SUMMARY_ALPHA.min,
          max: SUMMARY_ALPHA.max,
          step: SUMMARY_ALPHA.step,
          value: a,
          'data-action': 'alpha',
          'data-key': 'alpha',
          'aria-valuetext': `α ${a}`,
          'aria-describedby': 'alpha-help',
        }),
        h('output', { id: 'alpha-value', for: 'alpha' }, a),
        h(
          'span',
          { id: 'alpha-help', class: 'hint' },
          '0 is regular decoding; higher values follow the document more closely. Changing α runs again with the same seed.',
        ),
      ),
      h(
        'div',
        // The α row's layout (media/summary.css) serves this control too.
        { class: 'alpha plausibility' },
        h('label', { for: 'plausibility' }, 'Plausibility β'),
        h('input', {
          type: 'range',
          id: 'plausibility',
          min: SUMMARY_PLAUSIBILITY.min,
          max: SUMMARY_PLAUSIBILITY.max,
          step: SUMMARY_PLAUSIBILITY.step,
          value: b,
          'data-action': 'plausibility',
          'data-key': 'plausibility',
          'aria-valuetext': `β ${b}`,
          'aria-describedby': 'plausibility-help',
        }),
        h('output', { id: 'plausibility-value', for: 'plausibility' }, b),
        h(
          'span',
          { id: 'plausibility-help', class: 'hint' },
          'Only tokens at least β times as likely (with the document) as the most likely one may be chosen; 0 is off, 1 is greedy. Changing β runs again with the same seed.',
        ),
      ),
      h(
        'vscode-checkbox',
        {
          'data-action': 'adaptive',
          'data-key': 'adaptive',
          checked: run.adaptive ?? false,
          title: 'Scale α per token by how much the document changes the prediction (Jensen–Shannon divergence): CAD acts on conflicts, not on agreement',
        },
        'Adaptive α (per token, by disagreement)',
      ),
      h(
        'vscode-checkbox',
        {
          'data-action': 'extractive',
          'data-key': 'extractive',
          // Absent (runs saved by older versions): the worker's default, on for both tasks.
          checked: run.extractive ?? true,
          title:
            run.task === 'ask'
              ? 'The answer is one span of the document (whole words, within one line): the model chooses what to quote and cannot make words up'
              : 'The summary is whole sentences of the document (within one paragraph): the model chooses which to quote and cannot make words up',
        },
        run.task === 'ask' ? 'Quote the document (extractive)' : 'Quote whole sentences (extractive)',
      ),
      h('vscode-checkbox', { 'data-action': 'compare', 'data-key': 'compare', checked: run.compareRegular }, 'Show regular decoding (α 0) side by side'),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Run actions' },
        button('Run Again', 'rerun', { icon: 'refresh', secondary: true, disabled: running, title: 'Run again with this α (and the same seed)' }),
        button('α Sweep', 'sweep', {
          icon: 'graph',
          secondary: true,
          disabled: running,
          title: 'Greedy runs at α 0, 0.5, 1 and 2: how much of each output the document supports',
        }),
      ),
    ),
  };
}

/** The tokens of one output as focusable, shaded spans (white-space-only tokens stay plain text). */
export function tokenNodes(o: SummaryOutputView, variant: SummaryVariant): VChild[] {
  const out: VChild[] = [];
  let leading = true;
  let first = true;
  o.tokens.forEach((t, i) => {
    let text = t.text;
    if (leading) {
      text = text.replace(/^\s+/, '');
      if (text) leading = false;
    }
    if (!text) return;
    if (!/[\p{L}\p{N}\p{S}\p{P}]/u.test(text)) {
      out.push(text);
      return;
    }
    // The space before a word stays outside the shade, so shaded words do not run together.
    const space = /^\s+/.exec(text)?.[0] ?? '';
    if (space) {
      out.push(space);
      text = text.slice(space.length);
    }
    out.push(
      h(
        'span',
        {
          class: `tok ${relianceClass(t.reliance)}`,
          role: 'button',
          tabindex: first ? 0 : -1,
          'data-action': 'reveal',
          'data-variant': variant,
          'data-index': i,
          'data-key': `tok:${variant}:${i}`,
          title: `${relianceTitle(t.reliance)}. Click (or Enter) to find it in the source.`,
        },
        text,
      ),
    );
    first = false;
  });
  return out;
}

function outputColumn(run: SummaryRunView, o: SummaryOutputView, variant: SummaryVariant): VNode {
  const running = run.status === 'running';
  const label = variant === 'cad' ? `Context-aware (α ${formatAlpha(o.alpha)})` : 'Regular decoding (α 0)';
  const share = supportedShare(o);
  const meta = [
    o.tokens.length ? plural(o.tokens.length, 'token') : undefined,
    share !== undefined ? `${percent(share)} document-supported` : undefined,
    o.stoppedBy === 'max-tokens' ? 'stopped at the token limit' : o.stoppedBy === 'stop-token' ? 'finished' : undefined,
  ].filter(Boolean);
  let body: VChild[];
  if (o.tokens.length) body = tokenNodes(o, variant);
  else if (o.text) body = [o.text];
  else body = [h('span', { class: 'hint' }, running ? 'Waiting for the first token…' : 'No output.')];
  const hasText = !running && o.text.trim().length > 0;
  return h(
    'article',
    { class: `output ${variant}`, 'aria-labelledby': `h-${variant}` },
    h('h2', { id: `h-${variant}` }, label, running && o.part ? h('span', { class: 'hint' }, ` · part ${o.part + 1}`) : undefined),
    h(
      'p',
      {
        class: 'tokens',
        role: 'group',
        'aria-label': `${label}. Arrow keys move between tokens; Enter finds a token in the source.`,
        'aria-busy': running ? 'true' : undefined,
      },
      ...body,
    ),
    meta.length > 0 && h('p', { class: 'meta' }, meta.join(' · ')),
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': `${variant === 'cad' ? 'Context-aware' : 'Regular'} output actions` },
      button('Copy', 'copy', { icon: 'copy', secondary: true, disabled: !hasText, variant }),
      button('Insert as Comment', 'insert', {
        icon: 'comment',
        secondary: true,
        disabled: !hasText,
        variant,
        mode: 'comment',
        title: 'Insert above the cursor line of the source document, as a comment in its language (one undo step)',
      }),
      button('Insert at Cursor', 'insert', {
        icon: 'insert',
        secondary: true,
        disabled: !hasText,
        variant,
        mode: 'cursor',
        title: 'Insert the text at the cursor of the source document (one undo step)',
      }),
    ),
  );
}

function legend(): VNode {
  return h(
    'div',
    { class: 'legend', 'aria-label': 'Shading: reliance on the document, in nats' },
    h('span', { class: 'hint' }, 'Reliance on the document: '),
    ...RELIANCE_LEGEND.map((l) => h('span', { class: `swatch ${l.cls}` }, l.label)),
    h('span', { class: 'hint' }, ' (hover a token for its value)'),
  );
}

function outputsSection(run: SummaryRunView): Section {
  const two = run.regular !== undefined;
  return {
    key: 'outputs',
    node: h(
      'section',
      { class: `outputs${two ? ' two' : ''}`, 'aria-label': 'Output' },
      legend(),
      h('div', { class: 'columns' }, outputColumn(run, run.cad, 'cad'), two && outputColumn(run, run.regular!, 'regular')),
    ),
  };
}

function chunksSection(run: SummaryRunView, ui: ViewUi): Section | undefined {
  const count = run.record?.chunks ?? run.chunks?.length;
  if (!count) return undefined;
  return {
    key: 'chunks',
    node: h(
      'section',
      { class: 'chunks' },
      h(
        'p',
        { class: 'status info', role: 'note' },
        icon('info'),
        ` Chunked: the ${run.source.scope === 'whole document' ? 'document' : 'selection'} is longer than the model reads at once, so it was summarised in ${plural(count, 'chunk')} and the chunk summaries were merged.`,
      ),
      run.chunks?.length
        ? h(
            'details',
            { 'data-ui': 'chunks', open: ui.chunksOpen },
            h('summary', { 'data-key': 'summary:chunks' }, 'Chunk summaries'),
            h('ol', {}, ...run.chunks.map((c) => h('li', {}, h('span', { class: 'hint' }, `characters ${c.start}–${c.end}: `), c.summary || '(empty)'))),
            run.chunks.length < count && h('p', { class: 'hint' }, `(first ${run.chunks.length} of ${count})`),
          )
        : undefined,
    ),
  };
}

/** Which lines a question was answered from, when not the whole text (a long document: the best-matching passage). */
function passagesSection(run: SummaryRunView): Section | undefined {
  if (!run.passages?.length) return undefined;
  // Lines of the document (the host counts a selection's from its first line).
  const where = run.passages.map((p) => (p.firstLine === p.lastLine ? `line ${p.firstLine}` : `lines ${p.firstLine}–${p.lastLine}`)).join(', ');
  const of = run.source.scope === 'whole document' ? run.source.fileName : `the selection of ${run.source.fileName}`;
  const one = run.passages.length === 1;
  return {
    key: 'passages',
    node: h(
      'section',
      { class: 'passages' },
      h(
        'p',
        { class: 'status info', role: 'note' },
        icon('info'),
        ` Answered from ${where} of ${of}: the passage${one ? ' that best matches' : 's that best match'} the question. The bundled model answers a few paragraphs far better than a long text; the setting \`concert.cad.wholeDocumentAnswers\` makes it read all of a text that fits.`,
      ),
    ),
  };
}

function recordSection(rec: SummaryRecordView, task: SummaryTask, ui: ViewUi): Section {
  const row = (term: string, ...value: VChild[]) => [h('dt', {}, term), h('dd', {}, ...value)];
  return {
    key: 'record',
    node: h(
      'details',
      { class: 'record', 'data-ui': 'record', open: ui.recordOpen },
      h('summary', { 'data-key': 'summary:record' }, 'Run record'),
      h(
        'dl',
        { class: 'facts' },
        row('Model', rec.modelName ? `${rec.modelName} (${rec.modelId})` : rec.modelId),
        rec.template !== undefined && row('Prompt template', h('code', {}, rec.template)),
        row('Manifest sha256', h('code', {}, rec.manifestSha256)),
        row('Model sha256', h('code', {}, rec.modelSha256)),
        row('Seed', String(rec.seed)),
        row('α', formatAlpha(rec.alpha)),
        rec.adaptive === true &&
          row(
            'Adaptive α',
            rec.adaptiveAlpha
              ? `α_t mean ${formatAlpha(rec.adaptiveAlpha.mean)} (min ${formatAlpha(rec.adaptiveAlpha.min)}, max ${formatAlpha(rec.adaptiveAlpha.max)})`
              : 'on',
          ),
        rec.extractive === true && row('Extractive', task === 'ask' ? 'on: the output is one span of the document' : 'on: whole sentences of the document'),
        rec.plausibility !== undefined && row('Plausibility β', rec.plausibility > 0 ? formatAlpha(rec.plausibility) : '0 (off)'),
        row('Decoding', rec.decoding),
        row('Max tokens', String(rec.maxTokens)),
        row('Provider', `${rec.provider} (${rec.device})`),
        row('Prompt tokens', `${rec.promptTokens.withContext} with the document, ${rec.promptTokens.withoutContext} without`),
        rec.chunks !== undefined && row('Chunks', String(rec.chunks)),
        row('Time', rec.durationMs >= 1000 ? `${(rec.durationMs / 1000).toFixed(1)} s` : `${rec.durationMs} ms`),
      ),
    ),
  };
}

/** Bars: share of document-supported tokens per α (an SVG the CSP allows: no script, no inline style). */
export function sweepPlot(sw: SummarySweepView): VNode {
  const W = 300;
  const H = 130;
  const left = 34;
  const bottom = 22;
  const top = 14;
  const plotH = H - bottom - top;
  const slot = (W - left - 6) / Math.max(1, sw.alphas.length);
  const barW = Math.min(40, slot * 0.6);
  const y = (share: number) => top + plotH * (1 - share);
  const described = sw.alphas.map((a) => {
    const p = sw.points.find((q) => q.alpha === a);
    return p ? `α ${formatAlpha(a)}: ${percent(p.positiveShare)}` : `α ${formatAlpha(a)}: pending`;
  });
  return s(
    'svg',
    {
      class: 'plot',
      viewBox: `0 0 ${W} ${H}`,
      width: W,
      height: H,
      role: 'img',
      'aria-label': `Share of tokens the document supports, by α. ${described.join('; ')}.`,
    },
    s('title', {}, 'Share of tokens the document supports, by α'),
    ...[0, 0.5, 1].map((t) => [
      s('line', { class: 'grid', x1: left, x2: W - 4, y1: y(t), y2: y(t) }),
      s('text', { class: 'axis', x: left - 4, y: y(t) + 3, 'text-anchor': 'end' }, percent(t)),
    ]),
    ...sw.alphas.map((a, i) => {
      const cx = left + slot * (i + 0.5);
      const p = sw.points.find((q) => q.alpha === a);
      return [
        p
          ? s('rect', {
              class: 'bar',
              x: (cx - barW / 2).toFixed(1),
              y: y(p.positiveShare).toFixed(1),
              width: barW.toFixed(1),
              height: (plotH * p.positiveShare).toFixed(1),
            })
          : s('rect', { class: 'bar pending', x: (cx - barW / 2).toFixed(1), y: y(1).toFixed(1), width: barW.toFixed(1), height: plotH.toFixed(1) }),
        p && s('text', { class: 'value', x: cx.toFixed(1), y: (y(p.positiveShare) - 3).toFixed(1), 'text-anchor': 'middle' }, percent(p.positiveShare)),
        s('text', { class: 'axis', x: cx.toFixed(1), y: H - 6, 'text-anchor': 'middle' }, `α ${formatAlpha(a)}`),
      ];
    }),
  );
}

function sweepSection(sw: SummarySweepView): Section {
  const done = sw.points.length;
  const status =
    sw.status === 'running'
      ? h(
          'div',
          { class: 'status running', role: 'status' },
          icon('loading', true),
          ` Running α ${formatAlpha(sw.alphas[done] ?? 0)} (${done + 1} of ${sw.alphas.length})… `,
          button('Cancel', 'cancel', { icon: 'close', secondary: true }),
        )
      : sw.status === 'cancelled'
        ? h('div', { class: 'status cancelled', role: 'status' }, icon('circle-slash'), ' ', sw.message ?? 'Sweep cancelled.')
        : sw.status === 'error'
          ? h('div', { class: 'status error', role: 'alert' }, icon('error'), ' ', sw.message ?? 'The sweep failed.')
          : undefined;
  return {
    key: 'sweep',
    node: h(
      'section',
      { class: 'sweep', 'aria-labelledby': 'h-sweep' },
      h('h2', { id: 'h-sweep' }, 'α sweep', h('span', { class: 'hint' }, ' · greedy decoding, same input')),
      status,
      sweepPlot(sw),
      done > 0 &&
        dataTable(
          'sweep-table',
          ['α', 'Tokens', 'Supported', 'Mean reliance', 'Output'],
          sw.points.map((p) => [
            h('td', {}, formatAlpha(p.alpha)),
            h('td', {}, String(p.tokens)),
            h('td', {}, percent(p.positiveShare)),
            h('td', {}, formatReliance(p.meanReliance)),
            h('td', { class: 'sweep-text', title: p.text }, p.text.length > 80 ? `${p.text.slice(0, 79)}…` : p.text),
          ]),
        ),
    ),
  };
}

/** The whole panel, top to bottom. */
export function renderSummary(state: SummaryViewState | undefined, ui: ViewUi): Section[] {
  const run = state?.run;
  if (!run) return [emptySection()];
  const sections: (Section | undefined)[] = [
    headerSection(run),
    controlsSection(run, state),
    outputsSection(run),
    chunksSection(run, ui),
    passagesSection(run),
    state.sweep && sweepSection(state.sweep),
    run.record && recordSection(run.record, run.task, ui),
  ];
  return sections.filter((x): x is Section => x !== undefined);
}

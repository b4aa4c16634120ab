/**
 * The rewrite panel as a pure function of the host's state and the page's UI state: a list of keyed sections of
 * virtual DOM (the summary panel's vdom). main.ts patches them into the page in place, so streaming steps never
 * replace the slider under the user's pointer. No DOM here: tests render it to HTML strings. User intents are
 * `data-action` (buttons) and `data-control` (fields) attributes that main.ts turns into messages or UI state.
 */
import {
  REWRITE_LIMITS,
  REWRITE_PROJECTIONS,
  type RewriteAttributeChoice,
  type RewriteControls,
  type RewriteRecordView,
  type RewriteRunView,
  type RewriteScoreView,
  type RewriteViewState,
} from '../../src/protocol/webview';
import { h, s, type Section, type VChild, type VNode } from '../common/vdom';
import { CHART, chartModel, percent, previewText, settledRuns, timelinePosition, type TimelinePosition } from './timeline';
import { diffStats, wordDiff } from './wordDiff';

export interface ViewUi {
  recordOpen: boolean;
  block?: number | undefined;
  step?: number | undefined;
  draft?: RewriteControls | undefined;
}

export type { Section } from '../common/vdom';

const PROJECTION_LABELS: Record<(typeof REWRITE_PROJECTIONS)[number], string> = {
  sampling: 'Sampling (top-p)',
  greedy: 'Greedy',
  multihot: 'Multi-hot (top-p)',
};

const icon = (name: string, spin = false) => h('span', { class: `codicon codicon-${name}${spin ? ' codicon-modifier-spin' : ''}`, 'aria-hidden': 'true' });
const srOnly = (text: string) => h('span', { class: 'sr-only' }, text);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
/** Numbers as the fields show them: no float noise (0.30000000000000004 → 0.3). */
export const formatNumber = (v: number) => String(Math.round(v * 1000) / 1000);

function button(label: string, action: string, opts: { icon?: string; secondary?: boolean; disabled?: boolean; title?: string } = {}): VNode {
  return h(
    'vscode-button',
    { 'data-action': action, 'data-key': `btn:${action}`, icon: opts.icon, secondary: opts.secondary, disabled: opts.disabled, title: opts.title },
    label,
  );
}

/** The knobs the controls show: the user's unsaved edits, else what the run used. */
export function shownControls(run: RewriteRunView, ui: ViewUi): RewriteControls {
  return ui.draft ?? run.controls;
}

// ── sections ──────────────────────────────────────────────────────────────────────────────────────────────────

function emptySection(): Section {
  return {
    key: 'empty',
    node: h(
      'section',
      { class: 'empty' },
      h('h1', {}, 'Concert: Rewrite'),
      h(
        'p',
        { class: 'hint' },
        'Select text and run ',
        h('strong', {}, 'Concert: Rewrite Selection…'),
        ', or put the cursor after some text and run ',
        h('strong', {}, 'Concert: Continue with Diffusion'),
        ' (command palette, or the editor’s context menu → Concert).',
      ),
    ),
  };
}

function statusLine(run: RewriteRunView): VChild | undefined {
  const last = run.steps[run.steps.length - 1];
  switch (run.status) {
    case 'running': {
      const what = !last ? 'Loading the model…' : `Denoising… ${run.blocks > 1 ? `block ${last.block + 1} of ${run.blocks}, ` : ''}t ${last.t}/${last.T}`;
      return h(
        'div',
        { class: 'status running', role: 'status' },
        icon('loading', true),
        ' ',
        what,
        ' ',
        button('Cancel', 'cancel', { icon: 'close', secondary: true, title: 'Stop after the current diffusion step; the document is not changed' }),
      );
    }
    case 'cancelled':
      return h('div', { class: 'status cancelled', role: 'status' }, icon('circle-slash'), ' ', run.message ?? 'Cancelled; the document was not changed.');
    case 'error':
      return h('div', { class: 'status error', role: 'alert' }, icon('error'), ' ', run.message ?? 'The run failed.');
    case 'done':
      return run.applied
        ? h('div', { class: 'status applied', role: 'status' }, icon('check'), ` Applied to ${run.source.fileName}; one Undo in the editor reverts it.`)
        : undefined;
  }
}

function headerSection(run: RewriteRunView): Section {
  return {
    key: 'header',
    node: h(
      'header',
      { class: 'head' },
      h('h1', {}, run.mode === 'rewrite' ? 'Rewrite' : 'Continuation', h('span', { class: 'source' }, ` · ${run.source.fileName} · ${run.source.scope}`)),
      statusLine(run),
      run.source.changed &&
        h(
          'p',
          { class: 'status changed', role: 'note' },
          icon('warning'),
          ` ${run.source.fileName} has changed since this run started; Accept asks before it edits.`,
        ),
    ),
  };
}

function attributeRow(choice: RewriteAttributeChoice, i: number, controls: RewriteControls, defaultLambda: number): VNode {
  const target = controls.targets.find((t) => t.attribute === choice.attribute);
  const dir = target?.label ?? '';
  const lambda = formatNumber(target?.lambda ?? defaultLambda);
  const L = REWRITE_LIMITS.lambda;
  const a = choice.attribute;
  return h(
    'div',
    { class: 'attr', role: 'group', 'aria-labelledby': `attr-${i}` },
    h('span', { id: `attr-${i}`, class: 'attr-name' }, a),
    h('label', { id: `lab-dir-${i}`, for: `dir-${i}` }, 'Direction'),
    h(
      'select',
      { id: `dir-${i}`, 'data-control': 'direction', 'data-attribute': a, 'data-key': `dir:${a}`, 'aria-labelledby': `attr-${i} lab-dir-${i}` },
      h('option', { value: '', selected: dir === '' }, 'No steering'),
      ...choice.labels.map((l) => h('option', { value: l, selected: dir === l }, `→ ${l}`)),
    ),
    h('label', { id: `lab-lambda-${i}`, for: `lambda-${i}` }, 'λ'),
    h('input', {
      type: 'range',
      id: `lambda-${i}`,
      min: L.min,
      max: L.max,
      step: L.step,
      value: lambda,
      disabled: !dir,
      'data-control': 'lambda-range',
      'data-pair': `lambda-num-${i}`,
      'data-key': `lambda-range:${a}`,
      'aria-labelledby': `attr-${i} lab-lambda-${i}`,
      'aria-valuetext': `λ ${lambda}`,
    }),
    h('input', {
      type: 'number',
      id: `lambda-num-${i}`,
      class: 'num',
      min: L.min,
      max: L.max,
      step: L.step,
      value: lambda,
      disabled: !dir,
      'data-control': 'lambda',
      'data-attribute': a,
      'data-pair': `lambda-${i}`,
      'data-key': `lambda:${a}`,
      'aria-label': `Guidance strength λ for ${a} (number)`,
    }),
  );
}

function field(id: string, label: string, input: VNode, hint?: string): VNode {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint && h('span', { class: 'hint', id: `${id}-help` }, hint));
}

function numberInput(
  id: string,
  control: string,
  value: number | string,
  range: { min: number; max: number; step?: number },
  extra: Record<string, string | undefined> = {},
): VNode {
  return h('input', {
    type: 'number',
    id,
    class: 'num',
    min: range.min,
    max: range.max,
    step: range.step ?? 1,
    value: typeof value === 'number' ? formatNumber(value) : value,
    'data-control': control,
    'data-key': control,
    ...extra,
  });
}

function controlsSection(state: RewriteViewState, run: RewriteRunView, ui: ViewUi): Section {
  const c = shownControls(run, ui);
  const S = REWRITE_LIMITS.strength;
  const strength = formatNumber(c.strength);
  return {
    key: 'controls',
    node: h(
      'section',
      { class: 'controls', 'aria-label': 'Diffusion controls' },
      h(
        'fieldset',
        { class: 'attributes' },
        h('legend', {}, 'Steer with classifiers'),
        state.classifiers.length
          ? [
              ...state.classifiers.map((ch, i) => attributeRow(ch, i, c, state.defaultLambda)),
              h('p', { class: 'hint' }, 'λ 0 only measures the attribute; larger values steer harder (very large ones can hurt fluency).'),
            ]
          : h('p', { class: 'hint' }, 'No classifier packs are installed, so runs are not steered.'),
      ),
      h(
        'div',
        { class: 'knobs' },
        run.mode === 'rewrite' &&
          h(
            'div',
            { class: 'field strength' },
            h('label', { for: 'strength' }, 'Edit strength'),
            h('input', {
              type: 'range',
              id: 'strength',
              min: S.min,
              max: S.max,
              step: S.step,
              value: strength,
              'data-control': 'strength-range',
              'data-pair': 'strength-num',
              'data-key': 'strength-range',
              'aria-valuetext': `edit strength ${strength}`,
              'aria-describedby': 'strength-help',
            }),
            numberInput('strength-num', 'strength', c.strength, S, { 'aria-label': 'Edit strength (number)', 'data-pair': 'strength' }),
            h('span', { class: 'hint', id: 'strength-help' }, 'Low keeps the text close to the original; 1 writes it afresh.'),
          ),
        field('steps', 'Steps T', numberInput('steps', 'steps', c.steps, REWRITE_LIMITS.steps, { 'aria-describedby': 'steps-help' }), 'per block'),
        field('topP', 'Top-p', numberInput('topP', 'topP', c.topP, REWRITE_LIMITS.topP)),
        field(
          'projection',
          'Projection',
          h(
            'select',
            { id: 'projection', 'data-control': 'projection', 'data-key': 'projection' },
            ...REWRITE_PROJECTIONS.map((p) => h('option', { value: p, selected: c.projection === p }, PROJECTION_LABELS[p])),
          ),
        ),
        run.mode === 'continue' && field('tokens', 'New tokens', numberInput('tokens', 'tokens', c.tokens, REWRITE_LIMITS.tokens)),
        run.mode === 'continue' &&
          field(
            'minTokens',
            'At least',
            numberInput('minTokens', 'minTokens', c.minTokens ?? '', REWRITE_LIMITS.minTokens, { placeholder: 'default' }),
            'new tokens before the model may end the text',
          ),
        h(
          'div',
          { class: 'field seed' },
          h('label', { for: 'seed' }, 'Seed'),
          numberInput('seed', 'seed', c.seed ?? '', REWRITE_LIMITS.seed, { placeholder: 'random', 'aria-describedby': 'seed-help' }),
          button('New Seed', 'new-seed', { icon: 'sync', secondary: true, title: 'Pick a new random seed' }),
          h('span', { class: 'hint', id: 'seed-help' }, 'Same seed and settings give the same text; empty picks a new one.'),
        ),
      ),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Run' },
        button('Re-run', 'rerun', {
          icon: 'refresh',
          title:
            run.status === 'running' ? 'Cancel this run and start again with these settings' : 'Run again with these settings (Enter in a field does the same)',
        }),
      ),
    ),
  };
}

function timelineSection(run: RewriteRunView, pos: TimelinePosition | undefined): Section {
  const heading = h('h2', { id: 'h-timeline' }, 'Denoising timeline', h('span', { class: 'hint' }, ' · the block’s most likely tokens at each step'));
  if (!pos) {
    return {
      key: 'timeline',
      node: h(
        'section',
        { class: 'timeline', 'aria-labelledby': 'h-timeline' },
        heading,
        h('p', { class: 'hint' }, run.status === 'running' ? 'Waiting for the first step…' : 'No steps were recorded.'),
      ),
    };
  }
  const f = pos.frames[pos.index]!;
  const prev = pos.index > 0 ? pos.frames[pos.index - 1] : undefined;
  const runs = settledRuns(prev?.text, f.text);
  const changedWords = runs.filter((r) => r.changed).length;
  const latestBlock = run.steps[run.steps.length - 1]!.block;
  return {
    key: 'timeline',
    node: h(
      'section',
      { class: 'timeline', 'aria-labelledby': 'h-timeline' },
      heading,
      h(
        'div',
        { class: 'scrub' },
        latestBlock > 0 &&
          h(
            'div',
            { class: 'field', 'data-key': 'field:tl-block' },
            h('label', { for: 'tl-block' }, 'Block'),
            h('input', {
              type: 'range',
              id: 'tl-block',
              min: 0,
              max: latestBlock,
              step: 1,
              value: pos.block,
              'data-control': 'tl-block',
              'data-key': 'tl-block',
              'aria-valuetext': `block ${pos.block + 1} of ${pos.blocks}`,
            }),
            h('output', { for: 'tl-block' }, `${pos.block + 1} / ${pos.blocks}`),
          ),
        h(
          'div',
          { class: 'field', 'data-key': 'field:tl-step' },
          h('label', { for: 'tl-step' }, 'Step'),
          h('input', {
            type: 'range',
            id: 'tl-step',
            min: 0,
            max: Math.max(0, pos.frames.length - 1),
            step: 1,
            value: pos.index,
            disabled: pos.frames.length < 2,
            'data-control': 'tl-step',
            'data-key': 'tl-step',
            'aria-valuetext': `step ${pos.index + 1} of ${pos.frames.length}, t ${f.t} of ${f.T}`,
            'aria-describedby': 'tl-help',
          }),
          h('output', { for: 'tl-step', class: 't' }, `t = ${f.t} / ${f.T}`),
          pos.live && h('span', { class: 'badge live' }, icon('circle-filled'), ' live'),
        ),
      ),
      h(
        'p',
        { class: 'frame', 'aria-label': `Text at t ${f.t} of ${f.T}` },
        ...(runs.length ? runs.map((r) => (r.changed ? h('mark', { class: 'changed' }, r.text) : r.text)) : [h('span', { class: 'hint' }, '(empty)')]),
      ),
      h(
        'p',
        { class: 'hint', id: 'tl-help' },
        !prev
          ? 'The first step of this block. '
          : changedWords
            ? `${plural(changedWords, 'change')} since the previous step (marked). `
            : 'Nothing changed since the previous step. ',
        pos.live ? 'Following the newest step; move the slider to look back.' : 'Move the slider (arrow keys, Home, End) to watch the tokens settle.',
      ),
      run.droppedSteps ? h('p', { class: 'hint' }, `Earlier blocks keep only their final step (${plural(run.droppedSteps, 'step')} not kept).`) : undefined,
    ),
  };
}

/** p(target) over the shown block's steps, one small chart per steered attribute. */
export function scoreChart(pos: TimelinePosition, target: { attribute: string; label: string }): VNode {
  const m = chartModel(pos.frames, target, pos.index);
  const { width: W, height: H, left, right, top, bottom } = CHART;
  const y = (p: number) => top + (H - top - bottom) * (1 - p);
  const at = pos.frames[pos.index];
  return h(
    'figure',
    { class: 'chart' },
    s(
      'svg',
      { class: 'plot', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': m.summary },
      s('title', {}, `p(${target.label}) of ${target.attribute} at each step`),
      ...[0, 0.5, 1].map((t) => [
        s('line', { class: 'grid', x1: left, x2: W - right, y1: y(t), y2: y(t) }),
        s('text', { class: 'axis', x: left - 4, y: y(t) + 3, 'text-anchor': 'end' }, percent(t)),
      ]),
      s('line', { class: 'marker', x1: m.markerX.toFixed(1), x2: m.markerX.toFixed(1), y1: top, y2: H - bottom }),
      m.path && s('path', { class: 'line', d: m.path }),
      m.current !== null && s('circle', { class: 'dot', cx: m.markerX.toFixed(1), cy: y(m.current).toFixed(1), r: 3 }),
      pos.frames.length > 0 && [
        s('text', { class: 'axis', x: left, y: H - 3, 'text-anchor': 'start' }, `t ${pos.frames[0]!.t}`),
        s('text', { class: 'axis', x: W - right, y: H - 3, 'text-anchor': 'end' }, `t ${pos.frames[pos.frames.length - 1]!.t}`),
      ],
    ),
    h(
      'figcaption',
      {},
      h('span', { class: 'attr-name' }, `${target.attribute} → ${target.label}`),
      at && ` · ${m.current === null ? 'not scored' : percent(m.current)} at t ${at.t}`,
    ),
  );
}

function chartSection(run: RewriteRunView, pos: TimelinePosition): Section | undefined {
  const targets = run.controls.targets;
  if (!targets.length) return undefined;
  return {
    key: 'charts',
    node: h(
      'section',
      { class: 'charts', 'aria-labelledby': 'h-charts' },
      h('h2', { id: 'h-charts' }, 'Classifier scores over steps', h('span', { class: 'hint' }, pos.blocks > 1 ? ` · block ${pos.block + 1}` : '')),
      h('div', { class: 'chart-row' }, ...targets.map((t) => scoreChart(pos, t))),
    ),
  };
}

/** Original vs rewrite, word by word: removed words struck through, added ones underlined, both named for screen readers. */
export function diffNodes(original: string, rewrite: string): { nodes: VChild[]; deleted: number; inserted: number } {
  const ops = wordDiff(original.trim(), rewrite.trim());
  const nodes = ops.map((o) =>
    o.op === 'eq' ? o.text : o.op === 'del' ? h('del', {}, srOnly('[removed: '), o.text, srOnly('] ')) : h('ins', {}, srOnly('[added: '), o.text, srOnly('] ')),
  );
  return { nodes, ...diffStats(ops) };
}

function resultSection(run: RewriteRunView): Section {
  const out = run.output?.text ?? '';
  const running = run.status === 'running';
  const preview = running ? previewText(run) : '';
  let body: VChild[];
  let meta: string | undefined;
  if (run.mode === 'rewrite') {
    if (out) {
      const d = diffNodes(run.original, out);
      body = [h('p', { class: 'text diff', 'aria-describedby': 'diff-meta' }, ...d.nodes)];
      meta =
        d.deleted || d.inserted
          ? `${plural(d.deleted, 'word')} removed, ${plural(d.inserted, 'word')} added`
          : 'No change: the rewrite is the same as the original.';
    } else if (preview)
      body = [
        h('p', { class: 'text preview', 'aria-busy': 'true' }, preview),
        h('p', { class: 'hint' }, 'In progress: the newest step of each block. The diff appears when the run finishes.'),
      ];
    else
      body = [
        h('p', { class: 'text original' }, run.original.trim()),
        h('p', { class: 'hint' }, running ? 'The rewrite appears here as it is denoised.' : 'No rewrite.'),
      ];
  } else {
    const text = out || preview;
    body = [
      h(
        'p',
        { class: `text continuation${!out && preview ? ' preview' : ''}` },
        h('span', { class: 'prompt' }, run.promptTail.trimStart()),
        text ? [' ', h('ins', {}, srOnly('[continuation: '), text, srOnly(']'))] : h('span', { class: 'hint' }, running ? ' …' : ' (no continuation)'),
      ),
      !out && preview ? h('p', { class: 'hint' }, 'In progress: the newest step of each block.') : undefined,
    ].filter((x): x is VNode => x !== undefined);
  }
  if (run.output) {
    const stop =
      run.output.stoppedBy === 'eos'
        ? run.mode === 'continue' && !out.trim()
          ? 'the model ended the text here; raise “At least” and Re-run for more'
          : 'the model ended the text here'
        : run.mode === 'rewrite'
          ? 'kept the length of the original'
          : 'used the whole token budget';
    meta = [meta, stop].filter(Boolean).join(' · ');
  }
  const canAccept = run.status === 'done' && out.trim().length > 0 && !run.applied;
  return {
    key: 'result',
    node: h(
      'section',
      { class: 'result', 'aria-labelledby': 'h-result' },
      h('h2', { id: 'h-result' }, run.mode === 'rewrite' ? 'Original → rewrite' : 'Continuation'),
      run.mode === 'rewrite' && out && h('p', { class: 'legend hint' }, h('del', {}, 'removed'), ' ', h('ins', {}, 'added')),
      ...body,
      meta && h('p', { class: 'meta', id: 'diff-meta' }, meta),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Accept or reject' },
        button(run.mode === 'rewrite' ? 'Accept: Replace Selection' : 'Accept: Insert at Cursor', 'accept', {
          icon: 'check',
          disabled: !canAccept,
          title: run.applied
            ? 'Already applied'
            : `${run.mode === 'rewrite' ? `Replace ${run.source.scope}` : `Insert at ${run.source.scope}`} of ${run.source.fileName} (one undo step)`,
        }),
        button('Reject', 'reject', { icon: 'close', secondary: true, title: 'Discard this output and close the panel; the document is not changed' }),
      ),
    ),
  };
}

function scoresSection(scores: RewriteScoreView[]): Section {
  const rows = scores.flatMap((a) => {
    const labels = Object.entries(a.probabilities);
    return labels.map(([label, p], i) =>
      h(
        'tr',
        { class: label === a.target ? 'target' : undefined },
        i === 0 && h('th', { scope: 'row', rowspan: labels.length }, a.attribute),
        h('td', {}, label, label === a.target && h('span', { class: 'hint' }, ' (target)')),
        h('td', { class: 'p' }, h('meter', { min: 0, max: 1, value: p.toFixed(4), 'aria-label': `${a.attribute} ${label}` }), ` ${percent(p)}`),
      ),
    );
  });
  return {
    key: 'scores',
    node: h(
      'section',
      { class: 'scores', 'aria-labelledby': 'h-scores' },
      h('h2', { id: 'h-scores' }, 'Final classifier probabilities'),
      h(
        'table',
        { class: 'score-table' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Attribute'), h('th', { scope: 'col' }, 'Label'), h('th', { scope: 'col' }, 'Probability'))),
        h('tbody', {}, ...rows),
      ),
    ),
  };
}

function recordSection(rec: RewriteRecordView, ui: ViewUi): Section {
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
        row('Manifest sha256', h('code', {}, rec.manifestSha256)),
        row('Model sha256', h('code', {}, rec.modelSha256)),
        row(
          'Classifiers',
          ...(rec.classifiers.length
            ? rec.classifiers.flatMap((c, i): VChild[] => [
                ...(i > 0 ? [', '] : []),
                `${c.id} `,
                h('code', { title: c.manifestSha256 }, c.manifestSha256.slice(0, 12)),
              ])
            : ['none']),
        ),
        row('Steering', rec.targets.length ? rec.targets.map((t) => `${t.attribute} → ${t.label} (λ ${formatNumber(t.lambda)})`).join(', ') : 'none'),
        row('Seed', String(rec.seed)),
        row('Steps T', String(rec.steps)),
        row('Projection', `${rec.projection}, top-p ${formatNumber(rec.topP)}`),
        rec.strength !== undefined && row('Edit strength', formatNumber(rec.strength)),
        row('Early stop', rec.earlyStop ? `at ${formatNumber(rec.earlyStop)}·T` : 'off'),
        row('Tokens', String(rec.maxTokens)),
        row('Stopped by', rec.stoppedBy === 'eos' ? 'the model ended the text' : 'token budget'),
        row('Provider', `${rec.provider} (${rec.device})`),
        row('Time', rec.durationMs >= 1000 ? `${(rec.durationMs / 1000).toFixed(1)} s` : `${rec.durationMs} ms`),
      ),
    ),
  };
}

/** The whole panel, top to bottom. */
export function renderRewrite(state: RewriteViewState | undefined, ui: ViewUi): Section[] {
  const run = state?.run;
  if (!state || !run) return [emptySection()];
  const pos = timelinePosition(run, ui);
  const sections: (Section | undefined)[] = [
    headerSection(run),
    controlsSection(state, run, ui),
    resultSection(run),
    timelineSection(run, pos),
    pos && chartSection(run, pos),
    run.scores?.length ? scoresSection(run.scores) : undefined,
    run.record && recordSection(run.record, ui),
  ];
  return sections.filter((x): x is Section => x !== undefined);
}

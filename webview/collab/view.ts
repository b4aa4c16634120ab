/**
 * The collaborate panel as a pure function of the host's state and the page's UI state: keyed sections of virtual
 * DOM (the page patches only those that changed, so streamed progress never replaces the instruction box or a
 * slider under the pointer). No DOM here: tests render it to HTML strings. User intents are `data-action`
 * attributes; the form's fields carry `data-control`.
 */
import {
  COLLAB_LIMITS,
  type CollabControls,
  type CollabLedgerView,
  type CollabPassageView,
  type CollabRunView,
  type CollabVariant,
  type CollabViewState,
  type CollabViewUiState,
} from '../../src/protocol/webview';
import { dataTable, h, type Section, type VChild, type VNode } from '../common/vdom';

export type { Section } from '../common/vdom';

const icon = (name: string, spin = false) => h('span', { class: `codicon codicon-${name}${spin ? ' codicon-modifier-spin' : ''}`, 'aria-hidden': 'true' });
const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;
export const formatNumber = (a: number) => String(Math.round(a * 100) / 100);
export const formatBytes = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1024 * 1024)).toFixed(1)} MB`);

function button(
  label: string,
  action: string,
  opts: { icon?: string; secondary?: boolean; disabled?: boolean; variant?: CollabVariant; title?: string; key?: string } = {},
): VNode {
  return h(
    'vscode-button',
    {
      'data-action': action,
      'data-key': opts.key ?? `btn:${action}:${opts.variant ?? ''}`,
      'data-variant': opts.variant,
      icon: opts.icon,
      secondary: opts.secondary,
      disabled: opts.disabled,
      title: opts.title,
    },
    label,
  );
}

/** The controls the form shows: an unsent draft made after the shown run, else the host's. */
export function shownControls(state: CollabViewState, ui: CollabViewUiState): CollabControls {
  return ui.draft && ui.runId === state.run?.id ? ui.draft : state.controls;
}

// ── sections ──────────────────────────────────────────────────────────────────────────────────────────────────

function statusLine(run: CollabRunView | undefined): VChild | undefined {
  if (!run) return undefined;
  switch (run.status) {
    case 'running': {
      const p = run.progress;
      const what = p ? `Decoding… step ${p.step} of ${p.total}${p.message ? ` (${p.message})` : ''}` : 'Loading the models and reading the knowledge…';
      return h(
        'div',
        { class: 'status running', role: 'status' },
        icon('loading', true),
        ' ',
        what,
        ' ',
        button('Cancel', 'cancel', { icon: 'close', secondary: true }),
        p && h('progress', { max: p.total, value: p.step, 'aria-label': 'Progress of the run' }),
      );
    }
    case 'cancelled':
      return h('div', { class: 'status cancelled', role: 'status' }, icon('circle-slash'), ' ', run.message ?? 'Cancelled.');
    case 'error':
      return h('div', { class: 'status error', role: 'alert' }, icon('error'), ' ', run.message ?? 'The run failed.');
    case 'done':
      return undefined;
  }
}

function headerSection(state: CollabViewState): Section {
  const k = state.knowledge;
  return {
    key: 'header',
    node: h(
      'header',
      { class: 'head' },
      h('h1', {}, 'Collaborate', h('span', { class: 'source' }, ' · core model + your knowledge')),
      h(
        'p',
        { class: 'knowledge-line' },
        icon('library'),
        ' ',
        k.total
          ? `Knowledge: ${k.enabled} of ${plural(k.total, 'item')} enabled. The user model reads it here; the core model never sees it. `
          : 'No knowledge yet: add files, selections, folders or notes in the Knowledge view. ',
        button('Show Knowledge', 'showKnowledge', { icon: 'list-tree', secondary: true }),
      ),
      statusLine(state.run),
    ),
  };
}

function slider(id: 'lambdaUser' | 'alpha', label: string, value: number, help: string): VNode {
  const r = COLLAB_LIMITS[id];
  const v = formatNumber(value);
  return h(
    'div',
    { class: 'slider' },
    h('label', { for: id }, label),
    h('input', {
      type: 'range',
      id,
      min: r.min,
      max: r.max,
      step: r.step,
      value: v,
      'data-control': id,
      'data-key': id,
      'aria-valuetext': `${label} ${v}`,
      'aria-describedby': `${id}-help`,
    }),
    h('output', { id: `${id}-value`, for: id }, v),
    h('span', { id: `${id}-help`, class: 'hint' }, help),
  );
}

function formSection(state: CollabViewState, ui: CollabViewUiState): Section {
  const c = shownControls(state, ui);
  const running = state.run?.status === 'running';
  const remote = state.remote;
  const radio = (value: 'local' | 'remote', label: string, disabled: boolean) =>
    h(
      'label',
      { class: `radio${disabled ? ' disabled' : ''}` },
      h('input', {
        type: 'radio',
        name: 'core',
        value,
        'data-control': 'core',
        'data-key': `core:${value}`,
        checked: c.core === value,
        disabled,
      }),
      ` ${label}`,
    );
  const check = (id: 'compare' | 'userOnly', label: string, checked: boolean) =>
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id, 'data-control': id, 'data-key': id, checked }), ` ${label}`);
  return {
    key: 'form',
    node: h(
      'section',
      { class: 'form', 'aria-label': 'Instruction and controls' },
      h('label', { for: 'instruction', class: 'field-label' }, 'Instruction'),
      h(
        'textarea',
        {
          id: 'instruction',
          rows: 3,
          maxlength: COLLAB_LIMITS.instructionChars.max,
          placeholder: 'Ask a question or give an instruction…',
          'data-control': 'instruction',
          'data-key': 'instruction',
          'aria-describedby': 'instruction-help',
        },
        c.instruction,
      ),
      h('span', { id: 'instruction-help', class: 'hint' }, 'Ctrl+Enter runs. Only this text (as token ids) reaches the core model.'),
      h(
        'div',
        { class: 'sliders' },
        slider('lambdaUser', 'λ_user', c.lambdaUser, 'Weight of the user model: 0 is the core alone; higher lets the knowledge speak louder.'),
        slider('alpha', 'α', c.alpha, 'How much the user model with the knowledge is preferred over the same model without it.'),
      ),
      h(
        'fieldset',
        { class: 'core' },
        h('legend', {}, 'Core model'),
        radio('local', 'Local (the bundled core in the worker)', false),
        radio('remote', remote.url ? `Remote: ${remote.url}` : 'Remote', !remote.available),
        h(
          'p',
          { class: 'hint remote-note' },
          remote.available ? `Token: ${remote.hasToken ? 'set (secret storage)' : 'none'}. ` : `${remote.reason ?? 'The remote core cannot be used.'} `,
          button(remote.hasToken ? 'Change Core Token…' : 'Set Core Token…', 'setToken', { icon: 'key', secondary: true }),
          ' ',
          button('Settings', 'openSettings', { icon: 'settings-gear', secondary: true, title: 'Open the Concert: Collaborate settings' }),
        ),
      ),
      h(
        'div',
        { class: 'checks' },
        check('compare', 'Show the core model alone, side by side', c.compare),
        check('userOnly', 'Show the user model alone', c.userOnly),
      ),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Run' },
        button('Run', 'run', { icon: 'play', disabled: running, title: 'Run the collaboration (Ctrl+Enter)' }),
      ),
    ),
  };
}

/** The collaboration's text with the spans the user model changed marked. */
export function markedText(text: string, spans: readonly { start: number; end: number }[]): VChild[] {
  const out: VChild[] = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at || s.end > text.length || s.end <= s.start) continue;
    if (s.start > at) out.push(text.slice(at, s.start));
    out.push(h('mark', { class: 'changed', title: 'Changed by the user model (the core alone chose differently here)' }, text.slice(s.start, s.end)));
    at = s.end;
  }
  if (at < text.length) out.push(text.slice(at));
  return out;
}

function outputColumn(run: CollabRunView, variant: CollabVariant, text: string | undefined, canInsert: boolean): VNode {
  const label = variant === 'collab' ? 'Collaboration' : variant === 'core' ? 'Core model alone' : 'User model alone';
  const done = run.status === 'done';
  const has = done && text !== undefined && text.trim().length > 0;
  const changed = variant === 'collab' ? (run.changedByUser ?? []) : [];
  const body: VChild[] =
    text === undefined || !text
      ? [h('span', { class: 'hint' }, run.status === 'running' ? 'Waiting for the run…' : 'No output.')]
      : variant === 'collab'
        ? markedText(text, changed)
        : [text];
  return h(
    'article',
    { class: `output ${variant}`, 'aria-labelledby': `h-${variant}` },
    h('h2', { id: `h-${variant}` }, label),
    h('p', { class: 'text', 'aria-busy': run.status === 'running' ? 'true' : undefined }, ...body),
    variant === 'collab' &&
      done &&
      run.coreOnly !== undefined &&
      h(
        'p',
        { class: 'meta' },
        changed.length ? `${plural(changed.length, 'span')} changed by the user model (highlighted)` : 'The user model changed nothing the core alone wrote',
      ),
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': `${label}: actions` },
      button('Copy', 'copy', { icon: 'copy', secondary: true, disabled: !has, variant }),
      button('Insert at Cursor', 'insert', {
        icon: 'insert',
        secondary: true,
        disabled: !has || !canInsert,
        variant,
        title: canInsert ? 'Insert at the cursor of the last active editor (one undo step)' : 'Open a text editor first',
      }),
    ),
  );
}

function outputsSection(state: CollabViewState, run: CollabRunView): Section {
  const showCore = run.controls.compare && (run.status === 'running' || run.coreOnly !== undefined);
  const showUser = run.controls.userOnly && (run.status === 'running' || run.userOnly !== undefined);
  const cols = [showCore && outputColumn(run, 'core', run.coreOnly, state.canInsert), outputColumn(run, 'collab', run.text, state.canInsert)];
  if (showUser) cols.push(outputColumn(run, 'user', run.userOnly, state.canInsert));
  const n = cols.filter(Boolean).length;
  return {
    key: 'outputs',
    node: h('section', { class: `outputs cols-${n}`, 'aria-label': 'Outputs' }, h('div', { class: 'columns' }, ...cols)),
  };
}

function passage(p: CollabPassageView, i: number): VNode {
  const text = p.text.length > 600 ? `${p.text.slice(0, 599)}…` : p.text;
  return h(
    'li',
    { class: 'passage', 'data-key': `passage:${i}` },
    h('div', { class: 'passage-head' }, h('strong', {}, p.title), h('span', { class: 'hint' }, ` · score ${p.score.toFixed(2)}`)),
    h('blockquote', {}, text),
  );
}

function passagesSection(run: CollabRunView): Section | undefined {
  if (run.status !== 'done' || !run.passages) return undefined;
  return {
    key: 'passages',
    node: h(
      'section',
      { class: 'passages', 'aria-labelledby': 'h-passages' },
      h('h2', { id: 'h-passages' }, `Passages the user model read (${run.passages.length})`),
      run.passages.length
        ? h('ol', {}, ...run.passages.map(passage))
        : h('p', { class: 'hint' }, `None: ${run.knowledgeItems ? 'no passage of the knowledge matched the instruction' : 'no knowledge is enabled'}.`),
    ),
  };
}

function ledgerSection(ledger: CollabLedgerView, ui: CollabViewUiState): Section {
  const local = ledger.requests === 0;
  return {
    key: 'ledger',
    node: h(
      'section',
      { class: 'ledger', 'aria-labelledby': 'h-ledger' },
      h('h2', { id: 'h-ledger' }, icon('shield'), ' Privacy ledger'),
      h(
        'p',
        { class: 'ledger-summary' },
        local
          ? `The core ran in the ${ledger.coreLocation}: nothing was sent off this machine (0 requests, 0 B).`
          : `${plural(ledger.requests, 'request')} to ${ledger.coreLocation}: ${formatBytes(ledger.bytesSent)} sent, ${formatBytes(ledger.bytesReceived)} received.`,
        ' Knowledge text is never sent to the core.',
      ),
      ledger.sent.length > 0 &&
        h(
          'details',
          { 'data-ui': 'ledger', open: ui.ledgerOpen },
          h(
            'summary',
            { 'data-key': 'summary:ledger' },
            `What was sent, per step (${plural(ledger.sent.length + (ledger.droppedEntries ?? 0), 'entry', 'entries')})`,
          ),
          dataTable(
            'ledger-table',
            ['Step', 'Block', 'Sent', 'Token ids'],
            ledger.sent.map((e) => [
              h('td', {}, String(e.step)),
              h('td', {}, String(e.block)),
              h('td', {}, e.note),
              h('td', {}, e.tokenIds?.length ? h('code', {}, e.tokenIds.join(' ')) : h('span', { class: 'hint' }, '—')),
            ]),
          ),
          ledger.droppedEntries ? h('p', { class: 'hint' }, `(and ${plural(ledger.droppedEntries, 'more entry', 'more entries')} not shown)`) : undefined,
        ),
    ),
  };
}

function recordSection(rows: { name: string; value: string }[], ui: CollabViewUiState): Section {
  return {
    key: 'record',
    node: h(
      'details',
      { class: 'record', 'data-ui': 'record', open: ui.recordOpen },
      h('summary', { 'data-key': 'summary:record' }, 'Run record'),
      h('dl', { class: 'facts' }, ...rows.flatMap((r) => [h('dt', {}, r.name), h('dd', {}, r.value)])),
    ),
  };
}

/** The whole panel, top to bottom. */
export function renderCollab(state: CollabViewState | undefined, ui: CollabViewUiState): Section[] {
  if (!state) return [{ key: 'loading', node: h('p', { class: 'hint' }, 'Loading…') }];
  const run = state.run;
  const sections: (Section | undefined)[] = [
    headerSection(state),
    formSection(state, ui),
    run && outputsSection(state, run),
    run && passagesSection(run),
    run?.ledger && ledgerSection(run.ledger, ui),
    run?.record && recordSection(run.record, ui),
  ];
  return sections.filter((x): x is Section => x !== undefined);
}

/**
 * Pieces of virtual DOM the codec panels (Images, Video) share: codicons, buttons that carry a `data-action`, number
 * fields with their hints, the sampling knobs with the seed and New Seed, the status line of a stopped run, and the
 * run record. Pure: tests render them to HTML strings.
 */
import { SAMPLING_LIMITS, type SamplingControls } from '../../src/protocol/webview';
import { h, type Section, type VChild, type VNode } from './vdom';

export const icon = (name: string, spin = false) =>
  h('span', { class: `codicon codicon-${name}${spin ? ' codicon-modifier-spin' : ''}`, 'aria-hidden': 'true' });
export const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;
export const formatNumber = (a: number) => String(Math.round(a * 1000) / 1000);

export function button(
  label: string,
  action: string,
  opts: { icon?: string; secondary?: boolean; disabled?: boolean; title?: string; key?: string; data?: Record<string, string | undefined> } = {},
): VNode {
  const data = Object.fromEntries(Object.entries(opts.data ?? {}).map(([k, v]) => [`data-${k}`, v]));
  return h(
    'vscode-button',
    {
      'data-action': action,
      'data-key': opts.key ?? `btn:${action}`,
      ...data,
      icon: opts.icon,
      secondary: opts.secondary,
      disabled: opts.disabled,
      title: opts.title,
    },
    label,
  );
}

export function numberField(
  id: string,
  label: string,
  value: number | string,
  range: { min: number; max: number; step?: number },
  help: string,
  extra: Record<string, string> = {},
): VNode {
  return h(
    'div',
    { class: `field field-${id}` },
    h('label', { for: id }, label),
    h('input', {
      type: 'number',
      id,
      class: 'num',
      min: range.min,
      max: range.max,
      step: range.step ?? 1,
      value: typeof value === 'number' ? formatNumber(value) : value,
      'data-control': id,
      'data-key': id,
      'aria-describedby': `${id}-help`,
      ...extra,
    }),
    h('span', { id: `${id}-help`, class: 'hint' }, help),
  );
}

/** Temperature, top-p, top-k, and the seed with New Seed; `what` ends the seed's hint ("the same images"). */
export function samplingFields(c: SamplingControls, what: string): VNode[] {
  const L = SAMPLING_LIMITS;
  return [
    numberField('temperature', 'Temperature', c.temperature, L.temperature, 'Higher is more varied.'),
    numberField('topP', 'Top-p', c.topP, L.topP, '1 keeps every byte.'),
    numberField('topK', 'Top-k', c.topK, L.topK, '0 turns top-k off.'),
    h(
      'div',
      { class: 'field field-seed' },
      h('label', { for: 'seed' }, 'Seed'),
      h('input', {
        type: 'number',
        id: 'seed',
        class: 'num',
        min: L.seed.min,
        max: L.seed.max,
        step: 1,
        value: c.seed === undefined ? '' : String(c.seed),
        placeholder: 'random',
        'data-control': 'seed',
        'data-key': 'seed',
        'aria-describedby': 'seed-help',
      }),
      button('New Seed', 'newSeed', { icon: 'sync', secondary: true, title: 'Pick a new random seed' }),
      h('span', { id: 'seed-help', class: 'hint' }, `Same seed and settings give ${what}; empty picks a new one each run.`),
    ),
  ];
}

/** The status line of a cancelled or failed run (`extra` after the message: a button that fixes it). */
export function stoppedStatus(run: { status: string; message?: string }, extra?: VChild): VChild | undefined {
  if (run.status === 'cancelled') return h('div', { class: 'status cancelled', role: 'status' }, icon('circle-slash'), ' ', run.message ?? 'Cancelled.');
  if (run.status === 'error')
    return h('div', { class: 'status error', role: 'alert' }, icon('error'), ' ', run.message ?? 'The run failed.', extra && [' ', extra]);
  return undefined;
}

export function recordSection(rows: { name: string; value: string }[], open: boolean): Section {
  return {
    key: 'record',
    node: h(
      'details',
      { class: 'record', 'data-ui': 'record', open },
      h('summary', { 'data-key': 'summary:record' }, 'Run record'),
      h('dl', { class: 'facts' }, ...rows.flatMap((r) => [h('dt', {}, r.name), h('dd', {}, r.value)])),
    ),
  };
}

/** The status line of a running run: what it does, Cancel, and a progress bar once there is something to count. */
export function runningStatus(what: string, cancelTitle: string, bar?: { max: number; value: number; label: string }): VNode {
  return h(
    'div',
    { class: 'status running', role: 'status' },
    icon('loading', true),
    ' ',
    what,
    ' ',
    button('Cancel', 'cancel', { icon: 'close', secondary: true, title: cancelTitle }),
    bar && bar.max > 0 && h('progress', { max: bar.max, value: bar.value, 'aria-label': bar.label }),
  );
}

/** The panel's header: what it does to which file, the model line with a Settings button, the run's status. */
export function panelHeader(o: { heading: string; source: string; model: VChild; settingsTitle: string; status: VChild | undefined }): Section {
  return {
    key: 'header',
    node: h(
      'header',
      { class: 'head' },
      h('h1', {}, o.heading, h('span', { class: 'source' }, ` · ${o.source}`)),
      h(
        'p',
        { class: 'model-line' },
        icon('file-media'),
        ' ',
        o.model,
        button('Settings', 'openSettings', { icon: 'settings-gear', secondary: true, title: o.settingsTitle }),
      ),
      o.status,
    ),
  };
}

/** Save All next to the source (when there is one) and Save All into a folder. */
export function saveAllButtons(o: { nextTo?: { label: string; title: string }; folderTitle: string; ariaLabel: string }): VNode {
  return h(
    'div',
    { class: 'actions', role: 'group', 'aria-label': o.ariaLabel },
    o.nextTo && button(o.nextTo.label, 'save', { icon: 'save-all', key: 'btn:save:all:source', data: { where: 'source' }, title: o.nextTo.title }),
    button('Save All to Folder…', 'save', {
      icon: 'folder',
      secondary: o.nextTo !== undefined,
      key: 'btn:save:all:folder',
      data: { where: 'folder' },
      title: o.folderTitle,
    }),
  );
}

/** A sample's "saved as" line. */
export function savedLine(names: readonly string[] | string | undefined): VChild | undefined {
  const list = typeof names === 'string' ? [names] : names;
  return list?.length ? h('div', { class: 'saved hint' }, icon('check'), ` saved as ${list.join(', ')}`) : undefined;
}

/**
 * The video panel as a pure function of the host's state, the page's UI state, the players' positions and a way to
 * turn PNG bytes into an image URL: keyed sections of virtual DOM (the page patches only those that changed, so
 * frames streaming in never replace a field being edited). No DOM here: tests render it to HTML strings. User intents
 * are `data-action` attributes; the form's fields carry `data-control`; each player is a focusable group
 * (`data-player`) that takes Space and ←/→.
 */
import {
  VIDEO_LIMITS,
  type VideoControls,
  type VideoRunView,
  type VideoSampleView,
  type VideoViewState,
  type VideoViewUiState,
} from '../../src/protocol/webview';
import * as cv from '../common/codecView';
import { h, type Section, type VChild, type VNode } from '../common/vdom';
import { promptRange } from './form';
import { counterText, decodeText, playerFrames, type PlayerState } from './player';

export type { Section } from '../common/vdom';

/** base64 PNG → a URL an <img> can show (blob: in the page; anything in tests). */
export type FrameUrl = (base64: string) => string;

/** The controls the form shows: an unsent draft made after the shown run, else the host's. */
export function shownVideoControls(state: VideoViewState, ui: VideoViewUiState): VideoControls {
  return ui.draft && ui.runId === state.run?.id ? ui.draft : state.controls;
}

function statusLine(run: VideoRunView | undefined): VChild | undefined {
  if (!run) return undefined;
  if (run.status !== 'running') {
    const setting = run.fix === 'ffmpeg' ? 'concert.ffmpegPath' : run.fix === 'model' ? 'concert.video.modelPack' : undefined;
    return cv.stoppedStatus(
      run,
      setting && cv.button('Open Settings', 'openSettings', { icon: 'settings-gear', key: 'btn:fix', data: { setting }, title: `Open the setting ${setting}` }),
    );
  }
  const p = run.progress;
  const total = run.controls.frames * run.samples.length;
  const done = run.samples.reduce((n, s) => n + Math.min(s.frames.length, run.controls.frames), 0);
  const what = p
    ? `Sampling… step ${p.step}: ${done} of ${total} frames decoded${run.samples.length > 1 ? ` in ${cv.plural(run.samples.length, 'sample')}` : ''}`
    : 'Loading the video model and reading the clip…';
  return cv.runningStatus(what, 'Stop sampling (the frames so far stay)', p && { max: total, value: done, label: 'Progress of the run (frames decoded)' });
}

function headerSection(state: VideoViewState): Section {
  const m = state.model;
  const fps = m?.fps ?? state.run?.video?.fps;
  return cv.panelHeader({
    heading: 'Continue',
    source: state.run?.sourceName ?? state.sourceName ?? 'no clip chosen',
    model: m
      ? `Model: ${m.label}, ${m.width}×${m.height}${fps !== undefined ? ` at ${fps} fps` : ''}. `
      : state.noModel
        ? h('span', { class: 'no-model' }, `${state.noModel} `)
        : 'Model: the first video model the worker finds. ',
    settingsTitle: 'Open the Concert video settings',
    status: statusLine(state.run),
  });
}

function formSection(state: VideoViewState, ui: VideoViewUiState): Section {
  const c = shownVideoControls(state, ui);
  const L = VIDEO_LIMITS;
  const clipFrames = state.run?.video?.clipFrames;
  const rerun = state.run !== undefined;
  return {
    key: 'form',
    node: h(
      'section',
      { class: 'form', 'aria-label': 'Clip and controls' },
      h(
        'p',
        { class: 'clip-line' },
        state.sourceName ? ['Clip: ', h('strong', {}, state.sourceName), ' '] : 'No clip chosen yet. ',
        cv.button(state.sourceName ? 'Choose Another Clip…' : 'Choose Clip…', 'pickClip', { icon: 'folder-opened', secondary: true }),
      ),
      h(
        'div',
        { class: 'fields' },
        cv.numberField(
          'promptFrames',
          'Prompt frames',
          c.promptFrames,
          promptRange(clipFrames),
          clipFrames !== undefined ? `Frames of the clip the model reads (1–${promptRange(clipFrames).max}).` : 'Frames of the clip the model reads.',
        ),
        cv.numberField('frames', 'Frames to generate', c.frames, L.frames, `Per sample, 1–${L.frames.max}.`),
        cv.numberField('samples', 'Samples', c.samples, L.samples, 'Continuations per run, sampled as one batch.'),
        ...cv.samplingFields(c, 'the same frames'),
      ),
      h(
        'div',
        { class: 'actions', role: 'group', 'aria-label': 'Run' },
        cv.button(rerun ? 'Rerun' : 'Run', 'run', {
          icon: rerun ? 'debug-rerun' : 'play',
          disabled: state.run?.status === 'running',
          title: 'Continue the clip with these settings (Ctrl+Enter)',
        }),
      ),
    ),
  };
}

function promptSection(run: VideoRunView, url: FrameUrl): Section {
  const frames = run.promptFrames ?? [];
  return {
    key: 'prompt',
    node: h(
      'section',
      { class: 'prompt', 'aria-labelledby': 'h-prompt' },
      h(
        'h2',
        { id: 'h-prompt' },
        'Prompt',
        h('span', { class: 'hint' }, frames.length ? ` · ${cv.plural(frames.length, 'frame')} of ${run.sourceName}` : ` · ${run.sourceName}`),
      ),
      frames.length
        ? h(
            'ol',
            { class: 'strip prompt-strip' },
            ...frames.map((f, i) => h('li', {}, h('img', { src: url(f), alt: `Prompt frame ${i + 1}`, 'data-key': `prompt:${i}` }))),
          )
        : h('p', { class: 'hint' }, run.status === 'running' ? 'The prompt frames show once the clip is read.' : 'Not kept.'),
    ),
  };
}

function player(run: VideoRunView, sample: VideoSampleView, p: PlayerState, url: FrameUrl): VNode {
  const n = sample.index + 1;
  const { frames, prompt } = playerFrames(run, sample);
  const pos = Math.min(p.pos, Math.max(0, frames.length - 1));
  const counter = counterText(pos, frames.length, prompt);
  const current = frames[pos];
  const generated = pos >= prompt;
  return h(
    'div',
    {
      class: `player${generated ? ' on-generated' : ''}`,
      role: 'group',
      tabindex: '0',
      'data-player': String(sample.index),
      'data-key': `player:${sample.index}`,
      'aria-label': `Player of sample ${n}: Space plays or pauses, arrow keys step`,
    },
    h(
      'div',
      { class: 'frame' },
      current
        ? h('img', { src: url(current), alt: `Sample ${n}, ${counter}`, 'data-key': `player-img:${sample.index}` })
        : h('div', { class: 'placeholder' }, 'waiting…'),
    ),
    h(
      'div',
      { class: 'player-controls' },
      cv.button('Back', 'stepBack', {
        icon: 'chevron-left',
        secondary: true,
        key: `btn:back:${sample.index}`,
        data: { sample: String(sample.index) },
        title: 'Step back (←)',
      }),
      cv.button(p.playing ? 'Pause' : 'Play', 'playPause', {
        icon: p.playing ? 'debug-pause' : 'play',
        secondary: true,
        key: `btn:play:${sample.index}`,
        data: { sample: String(sample.index) },
        title: p.playing ? 'Pause (Space)' : 'Play the prompt and the continuation (Space)',
        disabled: frames.length < 2,
      }),
      cv.button('Next', 'stepForward', {
        icon: 'chevron-right',
        secondary: true,
        key: `btn:fwd:${sample.index}`,
        data: { sample: String(sample.index) },
        title: 'Step forward (→)',
      }),
      h('span', { class: 'counter', 'data-counter': String(sample.index) }, counter),
    ),
  );
}

function sampleRow(sample: VideoSampleView, run: VideoRunView, p: PlayerState, url: FrameUrl): VNode {
  const n = sample.index + 1;
  const verdict = decodeText(sample, run);
  const want = run.controls.frames;
  const cls = sample.decodable === true ? ' decodable' : sample.decodable === false ? ' broken' : run.status === 'running' ? ' streaming' : '';
  const waiting = run.status === 'running' ? Math.max(0, want - sample.frames.length) : 0;
  return h(
    'li',
    { class: `sample-row${cls}`, 'data-key': `sample:${sample.index}`, 'aria-label': `Sample ${n}: ${verdict ?? `${sample.frames.length} of ${want} frames`}` },
    h(
      'div',
      { class: 'caption' },
      h('span', { class: 'name' }, `Sample ${n}`),
      ' ',
      sample.decodable === true
        ? h('span', { class: 'badge ok' }, cv.icon('pass'), ` ${verdict}`)
        : sample.decodable === false
          ? h('span', { class: 'badge bad', title: sample.problem }, cv.icon('warning'), ` ${verdict}`)
          : h(
              'span',
              { class: 'hint' },
              `${sample.frames.length} of ${cv.plural(want, 'frame')}${run.status === 'running' ? (sample.done ? ', finished' : '') : ''}`,
            ),
    ),
    h(
      'div',
      { class: 'row-body' },
      player(run, sample, p, url),
      h(
        'ol',
        { class: 'strip generated', 'aria-label': `Generated frames of sample ${n}` },
        ...sample.frames.map((f, i) =>
          h('li', {}, h('img', { src: url(f), alt: `Sample ${n}, generated frame ${i + 1}`, 'data-key': `gen:${sample.index}:${i}` })),
        ),
        ...Array.from({ length: waiting }, (_, i) =>
          h('li', { class: 'pending', 'aria-hidden': 'true', 'data-key': `pending:${i}` }, h('div', { class: 'placeholder' }, '…')),
        ),
      ),
    ),
    cv.savedLine(sample.savedAs),
    run.status === 'done' &&
      cv.button('Save', 'save', {
        icon: 'save',
        secondary: true,
        key: `btn:save:${sample.index}`,
        data: { where: 'source', index: String(sample.index) },
        title: `Save sample ${n} next to ${run.sourceName}`,
      }),
  );
}

function samplesSection(run: VideoRunView, players: ReadonlyMap<number, PlayerState>, url: FrameUrl): Section {
  const done = run.status === 'done';
  const count = done && run.decodable !== undefined ? ` · ${run.decodable} of ${run.samples.length} decodable` : '';
  return {
    key: 'samples',
    node: h(
      'section',
      { class: 'continuations', 'aria-labelledby': 'h-samples' },
      h('h2', { id: 'h-samples' }, 'Continuations', h('span', { class: 'hint' }, count)),
      h(
        'ol',
        { class: 'sample-rows', 'aria-busy': run.status === 'running' ? 'true' : undefined },
        ...run.samples.map((s) => sampleRow(s, run, players.get(s.index) ?? { pos: 0, playing: false }, url)),
      ),
      done &&
        h(
          'p',
          { class: 'hint mp4-note' },
          run.mp4 ? 'Save writes each sample as .h264 and .mp4.' : `Save writes .h264 files only${run.mp4Skipped ? `: ${run.mp4Skipped}` : '.'}`,
        ),
      done &&
        cv.saveAllButtons({
          nextTo: { label: 'Save All Next to Clip', title: `Write every sample next to ${run.sourceName} (never over an existing file)` },
          folderTitle: 'Write every sample into a folder you choose',
          ariaLabel: 'Save the clips',
        }),
    ),
  };
}

/** The whole panel, top to bottom. */
export function renderVideo(
  state: VideoViewState | undefined,
  ui: VideoViewUiState,
  url: FrameUrl,
  players: ReadonlyMap<number, PlayerState> = new Map(),
): Section[] {
  if (!state) return [{ key: 'loading', node: h('p', { class: 'hint' }, 'Loading…') }];
  const run = state.run;
  const sections: (Section | undefined)[] = [
    headerSection(state),
    formSection(state, ui),
    run && promptSection(run, url),
    run && samplesSection(run, players, url),
    run?.record && cv.recordSection(run.record, ui.recordOpen),
  ];
  return sections.filter((x): x is Section => x !== undefined);
}

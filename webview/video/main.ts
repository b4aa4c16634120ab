/**
 * Entry point of the "Concert: Video" panel, on the codec panels' page (common/codecMain.ts: handshake, patched
 * sections with the PNG frames shown through blob: URLs, `data-action` clicks, a draft of the controls kept in the
 * webview's persisted UI state). Its own: one player per sample (prompt + generated frames at the clip's rate;
 * Play/Pause, steps, and Space/←/→ on the focused player), whose positions live in the page only.
 */
import type { VideoViewState, VideoViewUiState } from '../../src/protocol/webview';
import { fieldValues, startCodecPage } from '../common/codecMain';
import { VIDEO_FIELDS, videoControlsFromFields } from './form';
import { resolveVideoHost } from './host';
import { DEFAULT_FPS, playerFrames, stepped, type PlayerState } from './player';
import { renderVideo, shownVideoControls } from './view';

const host = resolveVideoHost();
const players = new Map<number, PlayerState>();
let timer: ReturnType<typeof setInterval> | undefined;
let timerFps = 0;

const readForm = (root: HTMLElement, state: VideoViewState, ui: VideoViewUiState) =>
  videoControlsFromFields(fieldValues(root, VIDEO_FIELDS), shownVideoControls(state, ui), state.run?.video?.clipFrames);

const page = startCodecPage(
  {
    host,
    imageType: 'image/png',
    render: (state, ui, url) => renderVideo(state, ui, url, players),
    afterDraw: (_root, state) => syncTimer(state),
    forRun: (ui, id) => {
      players.clear();
      const { draft: _d, runId: _r, ...rest } = ui;
      return { ...rest, ...(id !== undefined && { runId: id }) };
    },
    readDraft: (root, state, ui) => ({ draft: readForm(root, state, ui) }),
    runIntent: (root, state, ui) => ({ type: 'run' as const, controls: readForm(root, state, ui) }),
    actions: {
      pickClip: () => host.post({ type: 'pickClip' }),
      playPause: (el) => toggle(Number(el.dataset.sample)),
      stepBack: (el) => step(Number(el.dataset.sample), -1),
      stepForward: (el) => step(Number(el.dataset.sample), 1),
    },
  },
  { recordOpen: false },
);

/** How many frames sample `index`'s player has now. */
function total(index: number): number {
  const run = page.state()?.run;
  const sample = run?.samples.find((s) => s.index === index);
  return run && sample ? playerFrames(run, sample).frames.length : 0;
}

function player(index: number): PlayerState {
  return players.get(index) ?? { pos: 0, playing: false };
}

function toggle(index: number): void {
  if (!Number.isInteger(index) || total(index) < 2) return;
  const p = player(index);
  players.set(index, { ...p, playing: !p.playing });
  page.draw();
}

function step(index: number, delta: number): void {
  if (!Number.isInteger(index)) return;
  const p = player(index);
  // A step pauses: the frame asked for stays.
  players.set(index, { pos: stepped(Math.min(p.pos, Math.max(0, total(index) - 1)), delta, total(index)), playing: false });
  page.draw();
}

/** One tick of every playing player: the next frame, from the end back to the start. */
function tick(): void {
  for (const [index, p] of players) if (p.playing) players.set(index, { ...p, pos: stepped(p.pos, 1, total(index)) });
  page.draw();
}

/** A timer at the clip's rate while a player plays, none otherwise. */
function syncTimer(state: VideoViewState | undefined): void {
  const playing = [...players.values()].some((p) => p.playing);
  const fps = state?.run?.video?.fps ?? state?.model?.fps ?? DEFAULT_FPS;
  if (playing && timer !== undefined && fps === timerFps) return;
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  if (!playing) return;
  timerFps = fps;
  timer = setInterval(tick, Math.round(1000 / Math.max(1, fps)));
}

// The focused player takes Space (play/pause) and ←/→ (one frame back/forward).
page.root.addEventListener('keydown', (e) => {
  const el = (e.target as HTMLElement).closest<HTMLElement>('[data-player]');
  if (!el || e.ctrlKey || e.metaKey || e.altKey) return;
  const index = Number(el.dataset.player);
  if (e.key === ' ' && (e.target as HTMLElement) === el) {
    e.preventDefault();
    toggle(index);
  } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
    e.preventDefault();
    step(index, e.key === 'ArrowLeft' ? -1 : 1);
  }
});

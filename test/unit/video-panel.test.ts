/**
 * The vscode-free parts of the Video panel (issue 15): the host's check of the page's messages, the clips Continue
 * Video… takes and the file names Save writes (never over an existing file), the worker request a run makes (knobs,
 * settings, ffmpeg), streamed frames folded in order and the result as the panel shows it, the fixes a failure offers,
 * what workspaceState keeps (capped), the video settings (ffmpegPath and modelPack ignored at workspace level while
 * untrusted), and the page's pure pieces (form parsing, UI-state checks, the player, rendering without the bytes).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { freeNames } from '../../src/extension/codecPanel';
import { COMMANDS, VIDEO_FILE_WHEN } from '../../src/extension/commandTable';
import { RESTRICTED_SETTINGS, settingDef, settingValue, toVideoSettings, type SettingKey } from '../../src/extension/settingsTable';
import { VIDEO_MENU_EXTENSIONS, isVideoFile, isVideoViewToHost, sampleFileName, sanitizeVideoControls } from '../../src/extension/videoMessages';
import {
  MAX_PERSISTED_VIDEO_CHARS,
  VIDEO_VIEW_TYPE,
  failure,
  finishedRun,
  markSaved,
  persistable,
  restorePersisted,
  resultClips,
  startedRun,
  stoppedRun,
  videoModel,
  videoRunParams,
  withProgress,
} from '../../src/extension/videoState';
import { VIDEO_LIMITS, type VideoControls, type VideoViewState } from '../../src/protocol/webview';
import { VIDEO_DEFAULTS, VIDEO_MAX_FRAMES, VIDEO_MAX_SAMPLES, WorkerErrorCode, type PackSummary, type VideoRunResult } from '../../src/protocol/worker';
import { toHtml } from '../../webview/common/vdom';
import { promptRange, videoControlsFromFields } from '../../webview/video/form';
import { isHostToVideoView, sanitizeVideoUiState } from '../../webview/video/messages';
import { counterText, decodeText, playerFrames, stepped } from '../../webview/video/player';
import { renderVideo } from '../../webview/video/view';

const C: VideoControls = { promptFrames: 4, frames: 4, samples: 2, temperature: 1, topP: 1, topK: 50 };

const RESULT: VideoRunResult = {
  model: { id: 'concert-avc-32', displayName: 'AVC-LM 32' },
  width: 32,
  height: 32,
  fps: 8,
  promptFrames: ['UDA=', 'UDE=', 'UDI=', 'UDM='],
  prompt: 'UFJPTVBU',
  samples: [
    {
      index: 0,
      h264: 'SDI2NEE=',
      streamBytes: 900,
      tokens: 500,
      closingBytes: 0,
      stoppedBy: 'complete',
      decodedFrames: 8,
      decodable: true,
      frames: ['QTA=', 'QTE=', 'QTI=', 'QTM='],
      mp4: 'TVA0QQ==',
    },
    {
      index: 1,
      h264: 'SDI2NEI=',
      streamBytes: 910,
      tokens: 520,
      closingBytes: 6,
      stoppedBy: 'max-tokens',
      decodedFrames: 6,
      decodable: false,
      problem: 'slice 3: bad mb_type',
      frames: ['QjA=', 'QjE='],
      mp4: 'TVA0Qg==',
    },
  ],
  decodable: 1,
  run: {
    packId: 'concert-avc-32',
    manifestSha256: 'a'.repeat(64),
    modelSha256: 'b'.repeat(64),
    seed: 11,
    knobs: { promptFrames: 4, frames: 4, samples: 2, decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 }, maxTokens: 2000, constrained: true },
    video: { width: 32, height: 32, fps: 8, clipFrames: 16 },
    source: { file: '/w/walk.h264', streamSha256: 'c'.repeat(64), streamBytes: 4000 },
    promptBytes: 1000,
    promptTokens: 1001,
    perSample: [],
    provider: 'cpu',
    device: 'CPU, 2 threads',
    timings: { totalMs: 2500, prepareMs: 20, prefillMs: 80, decodeMs: 2400, steps: 520, msPerStep: 4.6 },
  },
};

describe('video panel: messages from the page', () => {
  it('accepts only known intents of the right shape', () => {
    assert.ok(isVideoViewToHost({ type: 'ready' }));
    assert.ok(isVideoViewToHost({ type: 'run', controls: C }));
    assert.ok(isVideoViewToHost({ type: 'run', controls: { ...C, seed: 0, frames: VIDEO_MAX_FRAMES, samples: VIDEO_MAX_SAMPLES } }));
    assert.ok(isVideoViewToHost({ type: 'save', where: 'source' }) && isVideoViewToHost({ type: 'save', where: 'folder', index: 7 }));
    assert.ok(isVideoViewToHost({ type: 'cancel' }) && isVideoViewToHost({ type: 'pickClip' }));
    assert.ok(isVideoViewToHost({ type: 'openSettings' }) && isVideoViewToHost({ type: 'openSettings', setting: 'concert.ffmpegPath' }));
    for (const bad of [
      { type: 'run' },
      { type: 'run', controls: { ...C, frames: VIDEO_MAX_FRAMES + 1 } },
      { type: 'run', controls: { ...C, samples: VIDEO_MAX_SAMPLES + 1 } },
      { type: 'run', controls: { ...C, promptFrames: 0 } },
      { type: 'run', controls: { ...C, frames: 1.5 } },
      { type: 'run', controls: { ...C, temperature: 0 } },
      { type: 'run', controls: { ...C, seed: -1 } },
      { type: 'save', where: '/etc' },
      { type: 'save', where: 'source', index: 8 },
      { type: 'openSettings', setting: 'concert.modelFolders' },
      { type: 'writeFile' },
      null,
    ])
      assert.ok(!isVideoViewToHost(bad), JSON.stringify(bad));
  });

  it('the panel offers what the worker takes; the defaults are inside the ranges', () => {
    assert.equal(VIDEO_LIMITS.frames.max, VIDEO_MAX_FRAMES);
    assert.equal(VIDEO_LIMITS.samples.max, VIDEO_MAX_SAMPLES);
    const d = VIDEO_DEFAULTS.decoding;
    assert.ok(d.mode === 'sample');
    assert.ok(
      sanitizeVideoControls({
        promptFrames: VIDEO_DEFAULTS.promptFrames,
        frames: VIDEO_DEFAULTS.frames,
        samples: VIDEO_DEFAULTS.samples,
        temperature: d.temperature,
        topP: d.topP,
        topK: d.topK ?? 0,
      }),
    );
    assert.equal(settingDef('concert.video.samples').maximum, VIDEO_MAX_SAMPLES);
    assert.equal(settingDef('concert.video.frames').maximum, VIDEO_MAX_FRAMES);
    assert.deepEqual(sanitizeVideoControls({ ...C, extra: 1 }), C);
  });
});

describe('video panel: clips and file names', () => {
  it('the explorer menu offers Continue Video… on exactly the menu clips; the dialog also takes .avi', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const entry = pkg.contributes.menus['explorer/context'].find((e: { command: string }) => e.command === COMMANDS.continueVideo.id);
    assert.equal(entry?.when, VIDEO_FILE_WHEN);
    const m = /resourceExtname =~ \/(.+)\/(\w*)$/.exec(VIDEO_FILE_WHEN);
    assert.ok(m);
    const re = new RegExp(m[1]!, m[2]);
    for (const f of ['a.h264', 'b.264', 'c.MP4', 'd.mkv', 'e.webm', 'f.mov', 'g.avi', 'h.png', 'i.h264.txt', 'mp4'])
      assert.equal(
        re.test(f.includes('.') ? f.slice(f.lastIndexOf('.')) : ''),
        (VIDEO_MENU_EXTENSIONS as readonly string[]).includes(f.slice(f.lastIndexOf('.') + 1).toLowerCase()) && f.includes('.'),
        f,
      );
    assert.ok(isVideoFile('/w/g.AVI') && isVideoFile('/w/a.h264') && !isVideoFile('/w/a.png'));
    assert.ok((pkg.activationEvents as string[]).includes(`onWebviewPanel:${VIDEO_VIEW_TYPE}`));
  });

  it('names clips <stem>-continue-<i>.h264/.mp4, never over an existing file', () => {
    assert.equal(sampleFileName(0, '/w/walk.h264', 'h264'), 'walk-continue-1.h264');
    assert.equal(sampleFileName(2, '/w/My Clip.final.mp4', 'mp4'), 'My Clip.final-continue-3.mp4');
    assert.deepEqual(freeNames(['walk-continue-1.h264', 'walk-continue-1.mp4'], ['WALK-continue-1.H264']), ['walk-continue-1 (2).h264', 'walk-continue-1.mp4']);
  });
});

describe('video panel: runs', () => {
  it('the worker request: the clip, every knob, the pack and ffmpeg of the settings, .mp4 asked for; top-k 0 is off', () => {
    assert.deepEqual(videoRunParams({ ...C, seed: 5 }, { file: '/w/walk.h264', packId: 'p', ffmpegPath: '/opt/ffmpeg', progressToken: 't' }), {
      file: '/w/walk.h264',
      promptFrames: 4,
      frames: 4,
      samples: 2,
      decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 },
      seed: 5,
      packId: 'p',
      ffmpegPath: '/opt/ffmpeg',
      mp4: true,
      progressToken: 't',
    });
    assert.deepEqual(videoRunParams({ ...C, topK: 0 }, { file: '/w/a.mp4', progressToken: 't' }).decoding, { mode: 'sample', temperature: 1, topP: 1 });
  });

  it('folds streamed frames in order with the done flags; the result replaces the rows; cancel keeps the frames', () => {
    let run = startedRun(3, C, 'walk.h264');
    assert.deepEqual(
      run.samples.map((s) => s.frames),
      [[], []],
    );
    run = withProgress(run, {
      progressToken: 't',
      promptFrames: ['P0', 'P1'],
      step: 10,
      maxSteps: 2000,
      frames: 4,
      samples: [
        { index: 0, tokens: 10, framesDone: 1, done: false, newFrames: ['A0'] },
        { index: 1, tokens: 10, framesDone: 0, done: false },
      ],
    });
    run = withProgress(run, {
      progressToken: 't',
      step: 90,
      maxSteps: 2000,
      frames: 4,
      samples: [
        { index: 0, tokens: 90, framesDone: 3, done: false, newFrames: ['A1', 'A2'] },
        { index: 1, tokens: 90, framesDone: 1, done: true, newFrames: ['B0'] },
      ],
    });
    assert.deepEqual(run.promptFrames, ['P0', 'P1'], 'the prompt frames stay after the first notification');
    assert.deepEqual(
      run.samples.map((s) => [s.frames, s.tokens, s.done]),
      [
        [['A0', 'A1', 'A2'], 90, false],
        [['B0'], 90, true],
      ],
    );
    assert.deepEqual(run.progress, { step: 90, maxSteps: 2000 });
    const cancelled = stoppedRun(run, 'cancelled', 'Cancelled.');
    assert.deepEqual(cancelled.samples[0]?.frames, ['A0', 'A1', 'A2']);
    assert.equal(cancelled.progress, undefined);

    const done = finishedRun(run, RESULT);
    assert.equal(done.status, 'done');
    assert.deepEqual(done.promptFrames, RESULT.promptFrames);
    assert.deepEqual(done.video, { width: 32, height: 32, fps: 8, clipFrames: 16 });
    assert.deepEqual(
      done.samples.map((s) => [s.frames.length, s.decodable, s.decodedFrames, s.problem]),
      [
        [4, true, 8, undefined],
        [2, false, 6, 'slice 3: bad mb_type'],
      ],
    );
    assert.equal(done.mp4, true);
    const rows = Object.fromEntries((done.record ?? []).map((r) => [r.name, r.value]));
    assert.match(rows.Model ?? '', /AVC-LM 32 \(concert-avc-32\); manifest aaaaaaaaaaaa…/);
    assert.equal(rows.Seed, '11');
    assert.match(rows.Video ?? '', /32×32 at 8 fps, 16 frames/);
    assert.match(rows.Decoding ?? '', /temperature 1, top-p 1, top-k 50/);
    assert.equal(rows.Decodable, '1 of 2');
    assert.match(rows.Time ?? '', /2\.5 s/);
    assert.deepEqual(resultClips(RESULT), [
      { index: 0, h264: 'SDI2NEE=', mp4: 'TVA0QQ==' },
      { index: 1, h264: 'SDI2NEI=', mp4: 'TVA0Qg==' },
    ]);
    const noMp4 = finishedRun(run, { ...RESULT, samples: RESULT.samples.map(({ mp4: _m, ...s }) => s), mp4Skipped: 'no ffmpeg found' });
    assert.equal(noMp4.mp4, false);
    assert.equal(noMp4.mp4Skipped, 'no ffmpeg found');
    const saved = markSaved(done, new Map([[1, ['walk-continue-2.h264', 'walk-continue-2.mp4']]]));
    assert.deepEqual(
      saved.samples.map((s) => s.savedAs),
      [undefined, ['walk-continue-2.h264', 'walk-continue-2.mp4']],
    );
  });

  it('a failure offers its fix: ffmpeg → concert.ffmpegPath; no model → a message naming concert.video.modelPack; BadInput as it is', () => {
    const ff = 'walk.mp4 needs ffmpeg (with libx264) to convert it … or set concert.ffmpegPath / --ffmpeg to its absolute path.';
    assert.deepEqual(failure({ code: WorkerErrorCode.BadInput }, ff), { message: ff, fix: 'ffmpeg' });
    const none = failure({ code: WorkerErrorCode.PackNotFound }, 'no valid H.264 codec-lm pack is installed (run "concert doctor" to see why)');
    assert.equal(none.fix, 'model');
    assert.match(none.message, /concert\.video\.modelPack/);
    assert.match(failure({ code: WorkerErrorCode.PackNotFound }, 'x', 'mine').message, /concert\.video\.modelPack names "mine"/);
    assert.deepEqual(failure({ code: WorkerErrorCode.BadInput }, 'not an H.264 stream: no SPS'), { message: 'not an H.264 stream: no SPS' });
    const err = stoppedRun(startedRun(1, C, 'a.mp4'), 'error', ff, 'ffmpeg');
    assert.equal(err.fix, 'ffmpeg');
  });

  it('names the video model the runs use (its fps once known), or says why there is none', () => {
    const pack = (over: Partial<PackSummary>): PackSummary => ({ id: 'x', kind: 'codec-lm', dir: '/m/x', source: 'bundled', valid: true, ...over });
    const jpeg = pack({ id: 'jpeg', codec: { format: 'jpeg', width: 32, height: 32, tokens: 'bytes' } });
    const avc = pack({ id: 'avc', displayName: 'AVC', codec: { format: 'h264', width: 32, height: 32, tokens: 'bytes' } });
    assert.deepEqual(videoModel(undefined), {});
    assert.deepEqual(videoModel([jpeg, avc]), { model: { id: 'avc', label: 'AVC (avc)', width: 32, height: 32 } });
    assert.deepEqual(videoModel([avc], undefined, 8).model?.fps, 8);
    assert.match(videoModel([jpeg]).noModel ?? '', /No video model \(an H\.264 codec-lm pack\)/);
    assert.match(videoModel([avc], 'other').noModel ?? '', /"other" \(concert\.video\.modelPack\)/);
  });
});

describe('video panel: what workspaceState keeps', () => {
  it('restores a running run as cancelled with its clips; refuses a wrong shape', () => {
    const run = startedRun(2, C, 'walk.h264');
    const back = restorePersisted({ version: 1, controls: C, source: '/w/walk.h264', run, runSource: '/w/walk.h264', clips: [{ index: 0, h264: 'AA==' }] });
    assert.equal(back?.run?.status, 'cancelled');
    assert.deepEqual(back?.clips, [{ index: 0, h264: 'AA==' }]);
    assert.equal(restorePersisted({ version: 2, controls: C }), undefined);
    assert.equal(restorePersisted({ version: 1, controls: { ...C, frames: 0 } }), undefined);
    assert.deepEqual(restorePersisted({ version: 1, controls: C, run: { id: 1, sourceName: 'a', controls: C, samples: [{ frames: 'x' }] } }), { controls: C });
    assert.equal(restorePersisted({ version: 1, controls: C, run, clips: [{ index: 0 }] })?.clips, undefined);
  });

  it('keeps a run with its frames and clips under the cap; a large one without them (record and verdicts stay)', () => {
    const done = finishedRun(startedRun(1, C, 'walk.h264'), RESULT);
    const small = persistable(done, resultClips(RESULT));
    assert.equal(small.run, done);
    assert.equal(small.clips.length, 2);
    const big = persistable({ ...done, promptFrames: ['A'.repeat(MAX_PERSISTED_VIDEO_CHARS)] }, resultClips(RESULT));
    assert.equal(big.run.promptFrames, undefined);
    assert.ok(big.run.samples.every((s) => s.frames.length === 0 && s.decodable !== undefined));
    assert.deepEqual(big.clips, []);
    assert.deepEqual(big.run.record, done.record);
  });
});

describe('video panel: settings', () => {
  it('reads the video settings; an invalid value falls back with a warning', () => {
    const values: Partial<Record<SettingKey, unknown>> = {
      'concert.video.frames': 999,
      'concert.video.samples': 3,
      'concert.video.modelPack': 'concert-avc-32',
      'concert.ffmpegPath': ' /opt/ffmpeg ',
    };
    const { settings, warnings } = toVideoSettings((k) => values[k] ?? settingDef(k).default);
    assert.deepEqual(settings, {
      promptFrames: VIDEO_DEFAULTS.promptFrames,
      frames: VIDEO_DEFAULTS.frames,
      samples: 3,
      packId: 'concert-avc-32',
      ffmpegPath: '/opt/ffmpeg',
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /concert\.video\.frames/);
    assert.deepEqual(toVideoSettings((k) => settingDef(k).default).settings, { promptFrames: 4, frames: 4, samples: 2 });
  });

  it('concert.ffmpegPath (machine scope) and concert.video.modelPack are restricted: a workspace value is ignored while untrusted', () => {
    assert.ok(RESTRICTED_SETTINGS.includes('concert.ffmpegPath') && RESTRICTED_SETTINGS.includes('concert.video.modelPack'));
    // Machine scope: VS Code reads it from user or remote settings only (a workspace cannot name the program).
    assert.equal(settingDef('concert.ffmpegPath').scope, 'machine');
    const config = {
      get: (k: string) => (k === 'concert.ffmpegPath' ? '/ws/evil-ffmpeg' : 'ws-pack'),
      inspect: (k: string) => ({ defaultValue: '', ...(k === 'concert.ffmpegPath' ? { globalValue: '/usr/bin/ffmpeg' } : {}) }),
    };
    assert.equal(settingValue(config, 'concert.ffmpegPath', false), '/usr/bin/ffmpeg');
    assert.equal(settingValue(config, 'concert.video.modelPack', false), '');
    assert.equal(settingValue(config, 'concert.ffmpegPath', true), '/ws/evil-ffmpeg');
  });
});

describe('video panel: the page, without a browser', () => {
  it('parses the fields: clamps (prompt frames to the clip), rounds, keeps what it cannot read', () => {
    assert.deepEqual(videoControlsFromFields({ promptFrames: '40', frames: '99', samples: '2.4', temperature: 'x', seed: '7' }, C, 16), {
      ...C,
      promptFrames: 16,
      frames: VIDEO_MAX_FRAMES,
      samples: 2,
      seed: 7,
    });
    assert.equal(promptRange(undefined).max, VIDEO_LIMITS.promptFrames.max);
    assert.deepEqual(videoControlsFromFields({}, C), C);
  });

  it('checks messages from the host and the UI state VS Code kept', () => {
    assert.ok(isHostToVideoView({ type: 'state', state: { controls: C } }));
    assert.ok(!isHostToVideoView({ type: 'state', state: { controls: C, run: { samples: [{ frames: 'x' }] } } }));
    assert.ok(isHostToVideoView({ type: 'notice', notice: { level: 'error', text: 'x' } }));
    assert.deepEqual(sanitizeVideoUiState({ recordOpen: true, draft: { ...C, samples: 99 }, runId: 2 }), { recordOpen: true, runId: 2 });
  });

  it('the player cycles prompt + generated frames and says which it shows', () => {
    const run = finishedRun(startedRun(1, C, 'walk.h264'), RESULT);
    const { frames, prompt } = playerFrames(run, run.samples[0]!);
    assert.equal(frames.length, 8);
    assert.equal(prompt, 4);
    assert.equal(counterText(4, 8, 4), 'frame 5 of 8 · generated');
    assert.equal(counterText(0, 8, 4), 'frame 1 of 8 · prompt');
    assert.equal(stepped(7, 1, 8), 0);
    assert.equal(stepped(0, -1, 8), 7);
    assert.equal(decodeText(run.samples[0]!, run), 'decodes to 8 of 8 frames');
    assert.match(decodeText(run.samples[1]!, run) ?? '', /does not decode: slice 3: bad mb_type \(6 of 8 frames\)/);
  });

  it('renders frames only through the URL function; the model line, fix button and verdicts', () => {
    const done = finishedRun(startedRun(1, C, 'walk.h264'), RESULT);
    const state: VideoViewState = { sourceName: 'walk.h264', controls: C, run: done, model: { id: 'avc', label: 'AVC (avc)', width: 32, height: 32, fps: 8 } };
    const seen: string[] = [];
    const html = renderVideo(state, { recordOpen: false }, (b) => {
      seen.push(b);
      return `blob:test/${seen.length}`;
    })
      .map((s) => toHtml(s.node))
      .join('');
    assert.ok(seen.includes('UDA=') && seen.includes('QjE='));
    assert.doesNotMatch(html, /UDA=|QjE=/);
    assert.match(html, /Model: AVC \(avc\), 32×32 at 8 fps/);
    assert.match(html, /decodes to 8 of 8 frames/);
    assert.match(html, /frame 1 of 8 · prompt/);
    assert.match(html, /Save writes each sample as .h264 and .mp4/);
    const failed = renderVideo(
      { ...state, run: stoppedRun(startedRun(2, C, 'a.mp4'), 'error', 'needs ffmpeg', 'ffmpeg') },
      { recordOpen: false },
      () => 'blob:x',
    )
      .map((s) => toHtml(s.node))
      .join('');
    assert.match(failed, /data-action="openSettings"[^>]*data-setting="concert.ffmpegPath"|data-setting="concert.ffmpegPath"[^>]*data-action/);
  });
});

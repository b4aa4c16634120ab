/**
 * The vscode-free parts of the Images panel (issue 14): the host's check of the page's messages, the file names Save
 * writes (the CLI's, never over an existing file), the worker request a run makes, streamed previews and the result
 * as the panel shows them, what workspaceState keeps, the image settings, the CSP's blob: images, and the page's pure
 * pieces (form parsing, UI-state checks, the kept-region overlay, rendering without the bytes in the markup).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sampleFileName as cliFileName } from '../../src/cli/image';
import { COMMANDS, IMAGE_FILE_WHEN } from '../../src/extension/commandTable';
import { freeName, isImageFile, isImagesViewToHost, sampleFileName, sanitizeImageControls, saveNames } from '../../src/extension/imagesMessages';
import {
  MAX_PERSISTED_IMAGE_CHARS,
  codecModel,
  finishedRun,
  imageRunParams,
  markSaved,
  persistableRun,
  restorePersisted,
  startedRun,
  stoppedRun,
  withProgress,
} from '../../src/extension/imagesState';
import { settingDef, toImageSettings, type SettingKey } from '../../src/extension/settingsTable';
import { contentSecurityPolicy, webviewHtml } from '../../src/extension/webviewHtml';
import { IMAGE_LIMITS, type ImageControls, type ImagesViewState } from '../../src/protocol/webview';
import { IMAGE_DEFAULTS, IMAGE_MAX_SAMPLES, type ImageRunResult, type PackSummary } from '../../src/protocol/worker';
import { controlsFromFields } from '../../webview/images/form';
import { isHostToImagesView, sanitizeImagesUiState } from '../../webview/images/messages';
import { droppedRects, keptPatches, ratioText, renderImages } from '../../webview/images/view';
import { toHtml } from '../../webview/common/vdom';

const C: ImageControls = { ratio: 0.5, samples: 4, temperature: 1, topP: 1, topK: 50 };

const RESULT: ImageRunResult = {
  mode: 'complete',
  model: { id: 'codec-lm-tiny', displayName: 'Tiny' },
  width: 32,
  height: 32,
  source: 'U09VUkNF',
  prompt: 'UFJPTVBU',
  samples: [
    { index: 0, jpeg: 'QUFB', streamBytes: 300, tokens: 200, closingBytes: 0, stoppedBy: 'complete', decodable: true },
    { index: 1, jpeg: 'QkJC', streamBytes: 310, tokens: 210, closingBytes: 4, stoppedBy: 'max-tokens', decodable: false, problem: 'byte 9: bad' },
  ],
  decodable: 1,
  run: {
    packId: 'codec-lm-tiny',
    manifestSha256: 'a'.repeat(64),
    modelSha256: 'b'.repeat(64),
    seed: 7,
    knobs: { mode: 'complete', ratio: 0.5, samples: 2, decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 }, maxTokens: 500, constrained: true },
    image: { width: 32, height: 32, mcuCount: 4, patches: 2, keptPatches: 1, keptMcus: 2 },
    source: { file: '/w/cat.png', streamSha256: 'c'.repeat(64), streamBytes: 320 },
    promptBytes: 150,
    promptTokens: 151,
    perSample: [],
    provider: 'cpu',
    device: 'CPU, 2 threads',
    timings: { totalMs: 1500, prepareMs: 10, prefillMs: 20, decodeMs: 1400, steps: 210, msPerStep: 6.667 },
  },
};

describe('images panel: messages from the page', () => {
  it('accepts only known intents of the right shape', () => {
    assert.ok(isImagesViewToHost({ type: 'ready' }));
    assert.ok(isImagesViewToHost({ type: 'run', mode: 'complete', controls: C }));
    assert.ok(isImagesViewToHost({ type: 'run', mode: 'generate', controls: { ...C, seed: 0 } }));
    assert.ok(isImagesViewToHost({ type: 'save', where: 'source' }));
    assert.ok(isImagesViewToHost({ type: 'save', where: 'folder', index: 15 }));
    assert.ok(isImagesViewToHost({ type: 'cancel' }) && isImagesViewToHost({ type: 'pickImage' }) && isImagesViewToHost({ type: 'openSettings' }));
    for (const bad of [
      { type: 'run', mode: 'paint', controls: C },
      { type: 'run', mode: 'complete' },
      { type: 'run', mode: 'complete', controls: { ...C, samples: 17 } },
      { type: 'run', mode: 'complete', controls: { ...C, samples: 2.5 } },
      { type: 'run', mode: 'complete', controls: { ...C, ratio: 1.5 } },
      { type: 'run', mode: 'complete', controls: { ...C, temperature: 0 } },
      { type: 'run', mode: 'complete', controls: { ...C, topK: -1 } },
      { type: 'run', mode: 'complete', controls: { ...C, seed: -1 } },
      { type: 'run', mode: 'complete', controls: { ...C, seed: Number.NaN } },
      { type: 'save', where: '/etc' },
      { type: 'save', where: 'source', index: 16 },
      { type: 'save', where: 'source', index: '1' },
      { type: 'writeFile', path: '/etc/passwd' },
      { type: 'toString' },
      null,
      'ready',
    ])
      assert.ok(!isImagesViewToHost(bad), JSON.stringify(bad));
  });

  it('sanitizeImageControls copies only the known keys', () => {
    assert.deepEqual(sanitizeImageControls({ ...C, seed: 3, extra: 'x' }), { ...C, seed: 3 });
    assert.equal(sanitizeImageControls({ ...C, topP: 0 }), undefined);
  });

  it('the panel offers what the worker takes: samples up to IMAGE_MAX_SAMPLES, the defaults inside the ranges', () => {
    assert.equal(IMAGE_LIMITS.samples.max, IMAGE_MAX_SAMPLES);
    const d = IMAGE_DEFAULTS.decoding;
    assert.ok(d.mode === 'sample');
    assert.ok(
      sanitizeImageControls({ ratio: IMAGE_DEFAULTS.ratio, samples: IMAGE_DEFAULTS.samples, temperature: d.temperature, topP: d.topP, topK: d.topK ?? 0 }),
    );
    assert.equal(settingDef('concert.image.samples').maximum, IMAGE_MAX_SAMPLES);
  });
});

describe('images panel: file names', () => {
  it('names samples as the CLI does', () => {
    for (const [mode, i, src] of [
      ['complete', 0, '/w/cat.png'],
      ['complete', 3, '/w/My Photo.final.JPEG'],
      ['complete', 0, '/w/.hidden'],
      ['generate', 1, undefined],
    ] as const) {
      assert.equal(sampleFileName(mode, i, src), cliFileName(mode, i, src), `${mode} ${i} ${src}`);
    }
    assert.equal(sampleFileName('complete', 0, '/w/cat.png'), 'cat-complete-1.jpg');
    assert.equal(sampleFileName('generate', 2), 'generate-3.jpg');
  });

  it('never picks a name that exists (case-insensitively), nor the same name twice', () => {
    assert.equal(freeName('a.jpg', new Set(['b.jpg'])), 'a.jpg');
    assert.equal(freeName('a.jpg', new Set(['A.JPG', 'a (2).jpg'])), 'a (3).jpg');
    assert.deepEqual(saveNames('complete', [0, 1, 2], '/w/cat.png', ['cat.png', 'cat-complete-2.jpg']), [
      'cat-complete-1.jpg',
      'cat-complete-2 (2).jpg',
      'cat-complete-3.jpg',
    ]);
    assert.deepEqual(saveNames('generate', [1], undefined, []), ['generate-2.jpg']);
  });

  it('the explorer menu offers Complete Image… on exactly the files the host takes', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const entry = pkg.contributes.menus['explorer/context'].find((e: { command: string }) => e.command === COMMANDS.completeImage.id);
    assert.equal(entry?.when, IMAGE_FILE_WHEN);
    const m = /resourceExtname =~ \/(.+)\/(\w*)$/.exec(IMAGE_FILE_WHEN);
    assert.ok(m, IMAGE_FILE_WHEN);
    const re = new RegExp(m[1]!, m[2]);
    for (const f of ['a.png', 'b.PNG', 'c.jpg', 'd.JPEG', 'e.jpeg', 'f.gif', 'g.png.txt', 'h.webp', 'jpg'])
      assert.equal(re.test(f.includes('.') ? f.slice(f.lastIndexOf('.')) : ''), isImageFile(`/w/${f}`), f);
  });
});

describe('images panel: runs', () => {
  it('the worker request: a completion reads the file at the ratio; a generation takes neither; top-k 0 is off', () => {
    assert.deepEqual(imageRunParams('complete', { ...C, seed: 9 }, { file: '/w/cat.png', packId: 'p', progressToken: 't' }), {
      mode: 'complete',
      file: '/w/cat.png',
      ratio: 0.5,
      samples: 4,
      decoding: { mode: 'sample', temperature: 1, topP: 1, topK: 50 },
      seed: 9,
      packId: 'p',
      progressToken: 't',
    });
    assert.deepEqual(imageRunParams('generate', { ...C, topK: 0 }, { file: '/w/cat.png', progressToken: 't' }), {
      mode: 'generate',
      samples: 4,
      decoding: { mode: 'sample', temperature: 1, topP: 1 },
      progressToken: 't',
    });
  });

  it('streamed previews replace a sample only when they carry bytes; the result replaces the gallery', () => {
    let run = startedRun(3, 'complete', { ...C, samples: 2 }, 'cat.png');
    assert.deepEqual(
      run.samples.map((s) => s.jpeg),
      [undefined, undefined],
    );
    run = withProgress(run, {
      progressToken: 't',
      source: 'SRC',
      prompt: 'KEPT',
      step: 1,
      maxSteps: 500,
      mcuCount: 4,
      samples: [
        { index: 0, tokens: 1, mcusDone: 2, done: false, jpeg: 'AAA' },
        { index: 1, tokens: 1, mcusDone: 2, done: false, jpeg: 'BBB' },
      ],
    });
    run = withProgress(run, {
      progressToken: 't',
      step: 40,
      maxSteps: 500,
      mcuCount: 4,
      samples: [
        { index: 0, tokens: 40, mcusDone: 3, done: false, jpeg: 'CCC' },
        { index: 1, tokens: 40, mcusDone: 2, done: false },
      ],
    });
    assert.deepEqual(
      run.samples.map((s) => [s.jpeg, s.mcusDone, s.tokens]),
      [
        ['CCC', 3, 40],
        ['BBB', 2, 40],
      ],
    );
    assert.deepEqual(run.progress, { step: 40, maxSteps: 500 });
    assert.deepEqual([run.original, run.kept], ['SRC', 'KEPT'], 'the input and the kept region show while samples stream');
    const done = finishedRun(run, RESULT);
    assert.equal(done.status, 'done');
    assert.equal(done.progress, undefined);
    assert.equal(done.original, 'U09VUkNF');
    assert.equal(done.kept, 'UFJPTVBU');
    assert.deepEqual(done.geometry, { width: 32, height: 32, mcuCount: 4, patches: 2, keptPatches: 1, keptMcus: 2 });
    assert.deepEqual(
      done.samples.map((s) => [s.jpeg, s.decodable, s.problem]),
      [
        ['QUFB', true, undefined],
        ['QkJC', false, 'byte 9: bad'],
      ],
    );
    const rows = Object.fromEntries((done.record ?? []).map((r) => [r.name, r.value]));
    assert.equal(rows.Seed, '7');
    assert.match(rows.Kept ?? '', /1 of 2 patches \(2 MCUs, ratio 0\.5\)/);
    assert.match(rows.Decoding ?? '', /temperature 1, top-p 1, top-k 50/);
    assert.equal(rows.Decodable, '1 of 2');
    assert.match(rows.Time ?? '', /1\.5 s/);
    const saved = markSaved(done, new Map([[1, 'cat-complete-2.jpg']]));
    assert.deepEqual(
      saved.samples.map((s) => s.savedAs),
      [undefined, 'cat-complete-2.jpg'],
    );
    const cancelled = stoppedRun(run, 'cancelled', 'Cancelled.');
    assert.equal(cancelled.samples[0]?.jpeg, 'CCC', 'the previews so far stay');
    assert.equal(cancelled.progress, undefined);
  });

  it('names the codec model the runs use, or says why there is none', () => {
    const pack = (over: Partial<PackSummary>): PackSummary => ({ id: 'x', kind: 'codec-lm', dir: '/m/x', source: 'bundled', valid: true, ...over });
    assert.deepEqual(codecModel(undefined), {});
    assert.deepEqual(
      codecModel([pack({ id: 'lm', kind: 'causal-lm' }), pack({ id: 'jpeg', codec: { format: 'jpeg', width: 32, height: 32, tokens: 'bytes' } })]),
      {
        model: { id: 'jpeg', label: 'jpeg', width: 32, height: 32 },
      },
    );
    assert.match(codecModel([pack({ id: 'lm', kind: 'causal-lm' })]).noModel ?? '', /No image model/);
    assert.match(codecModel([pack({ id: 'bad', valid: false, error: 'bad: hash mismatch' })]).noModel ?? '', /hash mismatch/);
    assert.match(codecModel([pack({ id: 'a', codec: { format: 'jpeg', width: 8, height: 8, tokens: 'bytes' } })], 'b').noModel ?? '', /"b"/);
  });
});

describe('images panel: what workspaceState keeps', () => {
  it('restores a run that was running as cancelled, and refuses a wrong shape', () => {
    const run = startedRun(2, 'complete', C, 'cat.png');
    const back = restorePersisted({ version: 1, mode: 'complete', controls: C, source: '/w/cat.png', run, runSource: '/w/cat.png' });
    assert.equal(back?.run?.status, 'cancelled');
    assert.equal(back?.runSource, '/w/cat.png');
    assert.equal(back?.source, '/w/cat.png');
    assert.equal(restorePersisted({ version: 2, mode: 'complete', controls: C }), undefined);
    assert.equal(restorePersisted({ version: 1, mode: 'complete', controls: { ...C, samples: 0 } }), undefined);
    assert.deepEqual(restorePersisted({ version: 1, mode: 'generate', controls: C, run: { id: 'x' } }), { mode: 'generate', controls: C });
  });

  it('keeps large runs without their images', () => {
    const done = finishedRun(startedRun(1, 'complete', C, 'cat.png'), RESULT);
    assert.equal(persistableRun(done), done);
    const big = { ...done, original: 'A'.repeat(MAX_PERSISTED_IMAGE_CHARS) };
    const kept = persistableRun(big);
    assert.equal(kept.original, undefined);
    assert.equal(kept.kept, undefined);
    assert.ok(kept.samples.every((s) => s.jpeg === undefined && s.decodable !== undefined));
    assert.deepEqual(kept.record, done.record);
  });
});

describe('images panel: settings and CSP', () => {
  it('reads the image settings; an invalid value falls back with a warning; the pack setting is restricted', () => {
    const values: Partial<Record<SettingKey, unknown>> = {
      'concert.image.samples': 99,
      'concert.image.ratio': 0.25,
      'concert.image.modelPack': 'concert-jpeg-32',
    };
    const { settings, warnings } = toImageSettings((k) => values[k] ?? settingDef(k).default);
    assert.deepEqual(settings, { ratio: 0.25, samples: IMAGE_DEFAULTS.samples, packId: 'concert-jpeg-32' });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /concert\.image\.samples/);
    assert.equal(settingDef('concert.image.modelPack').restricted, true);
    assert.deepEqual(toImageSettings((k) => settingDef(k).default).settings, { ratio: IMAGE_DEFAULTS.ratio, samples: IMAGE_DEFAULTS.samples });
  });

  it('only the Images panel allows blob: images; data: and remote images stay refused', () => {
    assert.doesNotMatch(contentSecurityPolicy('https://x', 'n'), /blob:/);
    const csp = contentSecurityPolicy('https://x', 'n', { blobImages: true });
    assert.match(csp, /img-src https:\/\/x blob:;/);
    assert.doesNotMatch(csp, /data:|\*|unsafe/);
    const html = webviewHtml({ title: 'T', cspSource: 'https://x', nonce: 'n', scriptUri: 'https://x/a.js', styleUris: [], blobImages: true });
    assert.match(html, /img-src https:\/\/x blob:/);
  });
});

describe('images panel: the page, without a browser', () => {
  it('parses the fields: clamps, rounds, keeps what it cannot read, empties the seed', () => {
    const base = { ...C, seed: 5 };
    assert.deepEqual(controlsFromFields({ ratio: '0.25', samples: '2.6', temperature: 'hot', topP: '2', topK: '-3', seed: '' }, base), {
      ratio: 0.25,
      samples: 3,
      temperature: 1,
      topP: 1,
      topK: 0,
    });
    assert.deepEqual(controlsFromFields({}, base), base);
    assert.equal(controlsFromFields({ seed: '12' }, C).seed, 12);
  });

  it('checks messages from the host and the UI state VS Code kept', () => {
    assert.ok(isHostToImagesView({ type: 'state', state: { mode: 'complete', controls: C } }));
    assert.ok(isHostToImagesView({ type: 'notice', notice: { level: 'info', text: 'x' } }));
    assert.ok(!isHostToImagesView({ type: 'state', state: { mode: 'x', controls: C } }));
    assert.ok(!isHostToImagesView({ type: 'state', state: { mode: 'complete', controls: C, run: { samples: 'no' } } }));
    assert.deepEqual(sanitizeImagesUiState({ recordOpen: true, draft: { ...C, samples: 99 }, mode: 'generate', runId: 3 }), {
      recordOpen: true,
      mode: 'generate',
      runId: 3,
    });
    assert.equal(sanitizeImagesUiState('x'), undefined);
  });

  it('the kept-region overlay dims what a ratio drops, in MCUs, as the worker cuts the prompt', () => {
    // 256×256: 16×16 MCUs, 32 patches of 8 MCUs (half rows).
    const g = { width: 256, height: 256, mcuCount: 256, patches: 32, keptPatches: 16, keptMcus: 128 };
    assert.equal(keptPatches(g, 0.3), 9);
    assert.deepEqual(droppedRects(g, 0.5)?.rects, [{ x: 0, y: 8, w: 16, h: 8 }]);
    assert.deepEqual(droppedRects(g, 3 / 32)?.rects, [
      { x: 8, y: 1, w: 8, h: 1 },
      { x: 0, y: 2, w: 16, h: 14 },
    ]);
    assert.deepEqual(droppedRects(g, 1)?.rects, []);
    assert.deepEqual(droppedRects(g, 0)?.rects, [{ x: 0, y: 0, w: 16, h: 16 }]);
    assert.equal(droppedRects({ ...g, mcuCount: 255 }, 0.5), undefined);
    assert.equal(ratioText(0.5, g), '50% (16 of 32 patches)');
    assert.equal(ratioText(0.5, undefined), '50%');
  });

  it('renders image bytes only through the URL function (never as markup)', () => {
    const done = finishedRun(startedRun(1, 'complete', C, 'cat.png'), RESULT);
    const state: ImagesViewState = { mode: 'complete', sourceName: 'cat.png', controls: C, run: done };
    const seen: string[] = [];
    const html = renderImages(state, { recordOpen: false }, (b) => {
      seen.push(b);
      return `blob:test/${seen.length}`;
    })
      .map((s) => toHtml(s.node))
      .join('');
    assert.deepEqual(seen.sort(), ['QUFB', 'QkJC', 'U09VUkNF', 'UFJPTVBU']);
    assert.doesNotMatch(html, /QUFB|U09VUkNF/);
    assert.match(html, /src="blob:test\/1"/);
    assert.match(html, /not decodable/);
  });
});

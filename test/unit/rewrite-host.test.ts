/**
 * The vscode-free host side of the rewrite panel: message checks, the attribute quick pick, request building,
 * streamed steps → timeline, results → view, the text Accept writes and when it must ask, persistence, settings.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { REWRITE_LIMITS, REWRITE_PROJECTIONS, type RewriteControls, type RewriteRunView } from '../../src/protocol/webview';
import {
  DEFAULT_GUIDANCE_LAMBDA,
  DIFFUSION_DEFAULT_MIN_TOKENS,
  DIFFUSION_DEFAULT_TOP_P,
  PROJECTIONS,
  type DiffusionRunResult,
  type PackSummary,
} from '../../src/protocol/worker';
import { MAX_TARGETS, isRewriteViewToHost, sanitizeControls } from '../../src/extension/rewriteMessages';
import {
  MAX_REWRITE_CHARS,
  MAX_STEPS_KEPT,
  applyStep,
  attributePickItems,
  changedWarning,
  classifierChoices,
  documentChanged,
  editText,
  finishedRun,
  initialControls,
  placeLabel,
  planAccept,
  progressMessage,
  promptBefore,
  rangeAfterEdit,
  refuseContinue,
  refuseRewrite,
  resolvePickConflicts,
  restorePersisted,
  runParams,
  startedRun,
  stepFraction,
  targetsFromPicks,
  wholeWordExtension,
  withTargetChoices,
  type RewriteRequest,
} from '../../src/extension/rewriteState';
import {
  SETTINGS,
  coerceSetting,
  settingDef,
  toDiffusionSettings,
  RESTRICTED_SETTINGS,
  WORKER_SETTING_KEYS,
  type SettingKey,
} from '../../src/extension/settingsTable';
import { withOverrides, type Override } from '../helpers/override';

const sha = (t: string) => createHash('sha256').update(t).digest('hex');

const controls: RewriteControls = {
  targets: [{ attribute: 'sentiment', label: 'positive', lambda: 20 }],
  strength: 0.5,
  steps: 50,
  topP: 0.95,
  projection: 'sampling',
  tokens: 24,
};

const request = (over: Partial<RewriteRequest> = {}): RewriteRequest => ({
  mode: 'rewrite',
  prompt: 'Yesterday I went to the cinema.',
  original: ' The film was dull and far too long. ',
  controls,
  source: {
    uri: 'file:///w/notes.md',
    fileName: 'notes.md',
    languageId: 'markdown',
    range: { start: { line: 2, character: 0 }, end: { line: 3, character: 5 } },
    rangeText: ' The film was dull and far too long. ',
    version: 7,
    documentSha256: sha('doc'),
    session: 's1',
  },
  ...over,
});

const result = (over: Partial<DiffusionRunResult> = {}): DiffusionRunResult => ({
  mode: 'rewrite',
  text: 'The film was bright and lovely.',
  tokens: [1, 2, 3],
  stoppedBy: 'max-tokens',
  attributes: [
    { attribute: 'sentiment', target: 'positive', probabilities: { negative: 0.1, positive: 0.9 } },
    { attribute: 'style', probabilities: { casual: 0.6, technical: 0.4 } },
  ],
  model: { id: 'concert-ssd-core', displayName: 'Concert SSD core' },
  run: {
    packId: 'concert-ssd-core',
    manifestSha256: 'a'.repeat(64),
    modelSha256: 'b'.repeat(64),
    classifiers: [{ id: 'concert-clf-sentiment', manifestSha256: 'c'.repeat(64) }],
    seed: 1234,
    knobs: {
      steps: 50,
      topP: 0.95,
      projection: 'sampling',
      earlyStop: 0,
      strength: 0.5,
      maxTokens: 9,
      attributes: [{ attribute: 'sentiment', label: 'positive', lambda: 20 }],
    },
    provider: 'cpu',
    device: 'CPU, 2 threads',
    durationMs: 1800,
  },
  ...over,
});

const step = (block: number, t: number, p: number | null = 0.5, T = 50) => ({
  block,
  blocks: 2,
  t,
  T,
  text: `b${block} t${t}`,
  scores: { sentiment: p as number },
});

describe('rewrite panel messages', () => {
  it('accepts the protocol messages and a complete, in-range rerun', () => {
    for (const type of ['ready', 'cancel', 'accept', 'reject']) assert.ok(isRewriteViewToHost({ type }), type);
    assert.ok(isRewriteViewToHost({ type: 'rerun', controls }));
    assert.ok(isRewriteViewToHost({ type: 'rerun', controls: { ...controls, seed: 0, targets: [] } }));
  });

  it('refuses unknown types, missing or out-of-range knobs, and bad targets', () => {
    const bad: unknown[] = [
      null,
      'ready',
      [],
      { type: 'apply' },
      { type: 'toString' },
      { type: 'rerun' },
      { type: 'rerun', controls: { ...controls, steps: 0 } },
      { type: 'rerun', controls: { ...controls, steps: 2.5 } },
      { type: 'rerun', controls: { ...controls, steps: REWRITE_LIMITS.steps.max + 1 } },
      { type: 'rerun', controls: { ...controls, strength: 0 } },
      { type: 'rerun', controls: { ...controls, strength: 1.5 } },
      { type: 'rerun', controls: { ...controls, topP: -0.1 } },
      { type: 'rerun', controls: { ...controls, topP: Number.NaN } },
      { type: 'rerun', controls: { ...controls, projection: 'beam' } },
      { type: 'rerun', controls: { ...controls, tokens: 513 } },
      { type: 'rerun', controls: { ...controls, seed: -1 } },
      { type: 'rerun', controls: { ...controls, seed: 2 ** 32 } },
      { type: 'rerun', controls: { ...controls, seed: '7' } },
      { type: 'rerun', controls: { ...controls, targets: [{ attribute: 'sentiment', label: 'positive', lambda: -1 }] } },
      { type: 'rerun', controls: { ...controls, targets: [{ attribute: 'sentiment', label: 'positive', lambda: REWRITE_LIMITS.lambda.max + 1 }] } },
      { type: 'rerun', controls: { ...controls, targets: [{ attribute: '', label: 'positive', lambda: 1 }] } },
      { type: 'rerun', controls: { ...controls, targets: [{ attribute: 'x'.repeat(101), label: 'positive', lambda: 1 }] } },
      { type: 'rerun', controls: { ...controls, targets: [controls.targets[0], { attribute: 'sentiment', label: 'negative', lambda: 1 }] } },
      { type: 'rerun', controls: { ...controls, targets: Array.from({ length: MAX_TARGETS + 1 }, (_, i) => ({ attribute: `a${i}`, label: 'l', lambda: 1 })) } },
    ];
    for (const m of bad) assert.equal(isRewriteViewToHost(m), false, JSON.stringify(m));
  });

  it('sanitizeControls copies only the known fields', () => {
    const c = sanitizeControls({ ...controls, extra: 'x', targets: [{ ...controls.targets[0], more: 1 }] });
    assert.deepEqual(c, controls);
  });

  it('the panel offers exactly the worker protocol projections', () => {
    assert.deepEqual([...REWRITE_PROJECTIONS], [...PROJECTIONS]);
  });
});

describe('attribute quick pick', () => {
  const packs: PackSummary[] = [
    { id: 'lm', kind: 'causal-lm', dir: '/m/lm', source: 'bundled', valid: true },
    {
      id: 'clf-sent',
      kind: 'classifier',
      dir: '/m/a',
      source: 'bundled',
      valid: true,
      classifier: { attribute: 'sentiment', labels: ['negative', 'positive'] },
    },
    { id: 'clf-sent-2', kind: 'classifier', dir: '/m/b', source: 'user', valid: true, classifier: { attribute: 'sentiment', labels: ['neg', 'pos'] } },
    { id: 'clf-style', kind: 'classifier', dir: '/m/c', source: 'bundled', valid: true, classifier: { attribute: 'style', labels: ['casual', 'technical'] } },
    { id: 'broken', kind: 'classifier', dir: '/m/d', source: 'user', valid: false, error: 'bad' },
    { id: 'old', kind: 'classifier', dir: '/m/e', source: 'user', valid: true },
  ];

  it('lists one classifier per attribute (the first, as the worker steers with it), valid ones only', () => {
    assert.deepEqual(classifierChoices(packs), [
      { attribute: 'sentiment', labels: ['negative', 'positive'] },
      { attribute: 'style', labels: ['casual', 'technical'] },
    ]);
  });

  it('offers "attribute → label" items, pre-picking the last targets', () => {
    const items = attributePickItems(classifierChoices(packs), [{ attribute: 'style', label: 'technical', lambda: 35 }]);
    assert.deepEqual(
      items.map((i) => i.label),
      ['sentiment → negative', 'sentiment → positive', 'style → casual', 'style → technical'],
    );
    assert.deepEqual(
      items.filter((i) => i.picked).map((i) => i.label),
      ['style → technical'],
    );
    assert.match(items[3]!.description!, /λ 35/);
  });

  it('keeps one direction per attribute: the newly picked one wins', () => {
    const a = { attribute: 'sentiment', target: 'positive' };
    const b = { attribute: 'sentiment', target: 'negative' };
    const c = { attribute: 'style', target: 'technical' };
    assert.deepEqual(resolvePickConflicts([a, c], [a, c, b]), [c, b]);
    assert.deepEqual(resolvePickConflicts([b], [a, b]), [a]);
    assert.deepEqual(resolvePickConflicts([], [a, c]), [a, c]);
    assert.deepEqual(resolvePickConflicts([], [a, b]).length, 1, 'select-all keeps one per attribute');
  });

  it('targets take λ from the last run for the same attribute, else the default', () => {
    const t = targetsFromPicks(
      [
        { attribute: 'sentiment', target: 'negative' },
        { attribute: 'style', target: 'casual' },
      ],
      DEFAULT_GUIDANCE_LAMBDA,
      [{ attribute: 'style', label: 'technical', lambda: 5 }],
    );
    assert.deepEqual(t, [
      { attribute: 'sentiment', label: 'negative', lambda: DEFAULT_GUIDANCE_LAMBDA },
      { attribute: 'style', label: 'casual', lambda: 5 },
    ]);
    assert.deepEqual(targetsFromPicks([], 20), []);
  });

  it('the panel still lists an attribute a run names after its pack went away', () => {
    const ch = withTargetChoices(
      [{ attribute: 'style', labels: ['casual'] }],
      [
        { attribute: 'sentiment', label: 'positive', lambda: 1 },
        { attribute: 'style', label: 'formal', lambda: 1 },
      ],
    );
    assert.deepEqual(ch, [
      { attribute: 'style', labels: ['casual', 'formal'] },
      { attribute: 'sentiment', labels: ['positive'] },
    ]);
  });
});

describe('rewrite and continue requests', () => {
  it('the prompt is the end of the text before, cut at a word boundary', () => {
    assert.equal(promptBefore('short text', 100), 'short text');
    const long = 'alpha beta gamma delta epsilon';
    assert.equal(promptBefore(long, 12), 'epsilon', 'the cut word "elta" is dropped');
    assert.equal(promptBefore(long, 14), 'delta epsilon');
    assert.equal(promptBefore('x'.repeat(50), 10), 'x'.repeat(10), 'no white space: a plain cut');
  });

  it('refuses empty, binary and overlong selections, and continuing from nothing', () => {
    assert.match(refuseRewrite('  \n ', 'a.md')!, /select some text/);
    assert.match(refuseRewrite('a\u0000b', 'a.bin')!, /binary/);
    assert.match(refuseRewrite('x'.repeat(MAX_REWRITE_CHARS + 1), 'a.md')!, /at most/);
    assert.equal(refuseRewrite('Fine text.', 'a.md'), undefined);
    assert.match(refuseContinue(' \n', 'a.md')!, /no text before the cursor/);
    assert.equal(refuseContinue('Once upon a time', 'a.md'), undefined);
  });

  it('builds the worker request: rewrite sends the text and strength, continue the token budget', () => {
    const r = runParams(request(), 'tok-1');
    assert.deepEqual(r, {
      mode: 'rewrite',
      prompt: 'Yesterday I went to the cinema.',
      text: ' The film was dull and far too long. ',
      strength: 0.5,
      attributes: [{ attribute: 'sentiment', label: 'positive', lambda: 20 }],
      steps: 50,
      topP: 0.95,
      projection: 'sampling',
      progressToken: 'tok-1',
    });
    const g = runParams(request({ mode: 'continue', original: '', controls: { ...controls, seed: 9, targets: [] } }), 'tok-2', 'my-pack');
    assert.equal(g.mode, 'generate');
    assert.equal(g.maxTokens, 24);
    assert.equal(g.text, undefined);
    assert.equal(g.strength, undefined);
    assert.equal(g.seed, 9);
    assert.equal(g.packId, 'my-pack');
    assert.deepEqual(g.attributes, []);
    assert.equal(g.minTokens, undefined, 'a run saved before the knob existed leaves it to the worker');
    const m = runParams(request({ mode: 'continue', original: '', controls: { ...controls, minTokens: 6 } }), 'tok-3');
    assert.equal(m.minTokens, 6);
    assert.equal(runParams(request({ controls: { ...controls, minTokens: 6 } }), 'tok-4').minTokens, undefined, 'a rewrite keeps its length: no minimum');
  });

  it('widens a selection that starts or ends inside a word to whole words', () => {
    assert.deepEqual(wholeWordExtension('The fo', 'od at the harb', 'our cafe.'), { back: 2, forward: 3 });
    assert.deepEqual(wholeWordExtension('The ', 'food at the harbour', ' cafe.'), { back: 0, forward: 0 });
    assert.deepEqual(wholeWordExtension('', 'The food was cold.', ''), { back: 0, forward: 0 }, 'the whole document');
    assert.deepEqual(wholeWordExtension('x', ' food ', 'y'), { back: 0, forward: 0 }, 'white space at an end is a boundary');
    assert.deepEqual(wholeWordExtension('don', "'t stop", 'ping now'), { back: 3, forward: 4 }, 'apostrophes stay inside words');
  });

  it('initial controls come from the settings', () => {
    const s = toDiffusionSettings(() => undefined).settings;
    const c = initialControls(s, [{ attribute: 'a', label: 'b', lambda: 3 }]);
    assert.deepEqual(c, {
      targets: [{ attribute: 'a', label: 'b', lambda: 3 }],
      strength: 0.5,
      steps: 50,
      topP: DIFFUSION_DEFAULT_TOP_P,
      projection: 'sampling',
      tokens: 24,
      minTokens: DIFFUSION_DEFAULT_MIN_TOKENS,
    });
    assert.ok(sanitizeControls(c), 'the defaults are valid panel controls');
  });

  it('names the place: the selected lines, or the cursor', () => {
    assert.equal(placeLabel('rewrite', { start: { line: 2, character: 0 }, end: { line: 3, character: 5 } }), 'lines 3–4');
    assert.equal(placeLabel('continue', { start: { line: 6, character: 11 }, end: { line: 6, character: 11 } }), 'line 7, column 12');
  });
});

describe('streamed steps and results', () => {
  it('records every step in order with its scores; a missing score is null', () => {
    const run = startedRun(1, request());
    applyStep(run, step(0, 50, 0.2));
    applyStep(run, { ...step(0, 49), scores: { sentiment: Number.NaN } });
    applyStep(run, { ...step(0, 48), scores: { sentiment: null as unknown as number } });
    assert.equal(run.blocks, 2);
    assert.deepEqual(
      run.steps.map((s) => [s.t, s.scores.sentiment]),
      [
        [50, 0.2],
        [49, null],
        [48, null],
      ],
    );
  });

  it(`keeps at most ${MAX_STEPS_KEPT} steps: older blocks shrink to their final step, the current block stays whole`, () => {
    const run = startedRun(1, request());
    const per = 900;
    for (let b = 0; b < 3; b++) for (let t = per; t >= 1; t--) applyStep(run, { ...step(b, t), blocks: 3, T: per });
    assert.ok(run.steps.length <= MAX_STEPS_KEPT);
    assert.deepEqual(
      run.steps.filter((s) => s.block === 0).map((s) => s.t),
      [1],
      'block 0 keeps its final step',
    );
    assert.equal(run.steps.filter((s) => s.block === 2).length, per, 'the current block is whole');
    assert.equal(run.droppedSteps, 3 * per - run.steps.length);
    assert.ok(
      run.steps.every((s, i) => i === 0 || s.block > run.steps[i - 1]!.block || s.t < run.steps[i - 1]!.t),
      'still in order',
    );
  });

  it('progress: fraction over blocks and steps, and a one-line message with the scores', () => {
    assert.equal(stepFraction({ block: 0, blocks: 2, t: 50 }, 50), 0.01);
    assert.equal(stepFraction({ block: 0, blocks: 2, t: 1 }, 50), 0.5);
    assert.equal(stepFraction({ block: 1, blocks: 2, t: 1 }, 50), 1);
    assert.equal(stepFraction({ block: 0, blocks: 1, t: 13 }, 25), 13 / 25, 'a rewrite starts at t0 = s·T');
    assert.equal(progressMessage(step(1, 37, 0.82), controls.targets), 'block 2 of 2 · t 37/50 · sentiment → positive 82%');
    assert.equal(progressMessage({ ...step(0, 3), blocks: 1, scores: {} }, []), 't 3/50');
  });

  it('a finished run has the output, the seed in its controls, per-attribute probabilities and the record', () => {
    const run = startedRun(3, request());
    const done = finishedRun(run, result());
    assert.equal(done.status, 'done');
    assert.deepEqual(done.output, { text: 'The film was bright and lovely.', stoppedBy: 'max-tokens' });
    assert.equal(done.controls.seed, 1234);
    assert.equal(run.controls.seed, undefined, 'the started run is not mutated');
    assert.deepEqual(done.scores![0], { attribute: 'sentiment', target: 'positive', probabilities: { negative: 0.1, positive: 0.9 } });
    assert.equal(done.scores![1]!.target, undefined);
    const twice = finishedRun(
      run,
      result({ attributes: [...result().attributes, { attribute: 'sentiment', probabilities: { negative: 0.5, positive: 0.5 } }] }),
    );
    assert.deepEqual(
      twice.scores!.map((x) => x.attribute),
      ['sentiment', 'style'],
      'one row per attribute (the steering classifier’s)',
    );
    assert.equal(done.record!.modelName, 'Concert SSD core');
    assert.equal(done.record!.strength, 0.5);
    assert.deepEqual(done.record!.targets, [{ attribute: 'sentiment', label: 'positive', lambda: 20 }]);
    assert.equal(done.record!.stoppedBy, 'max-tokens');
    assert.equal(done.source.scope, 'lines 3–4');
    assert.equal(done.promptTail, 'Yesterday I went to the cinema.');
  });
});

describe('accepting', () => {
  const done = (over: Override<RewriteRunView> = {}): RewriteRunView => withOverrides(finishedRun(startedRun(1, request()), result()), over);

  it('Accept is refused while running, without output, or twice', () => {
    assert.equal(planAccept(undefined).kind, 'refuse');
    const running = planAccept({ ...startedRun(1, request()) });
    assert.ok(running.kind === 'refuse' && /not changed while text is generated/.test(running.reason));
    assert.equal(planAccept(done({ status: 'cancelled', output: undefined })).kind, 'refuse');
    assert.equal(planAccept(done({ output: { text: '   ', stoppedBy: 'eos' } })).kind, 'refuse');
    assert.ok(/already in the document/.test((planAccept(done({ applied: true })) as { reason: string }).reason));
    assert.deepEqual(planAccept(done()), { kind: 'apply', output: 'The film was bright and lovely.' });
  });

  it('a rewrite keeps the selection’s edge white space', () => {
    assert.equal(editText('rewrite', ' New words. ', { original: '  Old words.\n', before: 'x', after: 'y' }), '  New words.\n');
    assert.equal(editText('rewrite', 'New', { original: 'Old', before: '', after: '' }), 'New');
  });

  it('a continuation is spaced from the word before the cursor and the word after it', () => {
    assert.equal(editText('continue', 'was great', { original: '', before: 'e', after: '' }), ' was great');
    assert.equal(editText('continue', 'was great', { original: '', before: ' ', after: '' }), 'was great');
    assert.equal(editText('continue', ', and more', { original: '', before: 'e', after: '' }), ', and more');
    assert.equal(editText('continue', 'was great', { original: '', before: '', after: 'Then' }), 'was great ');
    assert.equal(editText('continue', 'was great.', { original: '', before: 'e', after: '\n' }), ' was great.');
    assert.equal(editText('continue', '  ', { original: '', before: 'e', after: '' }), '');
  });

  it('the document counts as changed when its version moved and its text differs (hash across reloads)', () => {
    const src = request().source;
    const now = (version: number, session: string, text: string) => ({ version, session, text: () => text });
    assert.equal(documentChanged(src, now(7, 's1', 'anything'), sha), false, 'same version in the same session: unchanged, text not read');
    assert.equal(documentChanged(src, now(9, 's1', 'doc'), sha), false, 'edited and undone: same text');
    assert.equal(documentChanged(src, now(9, 's1', 'doc!'), sha), true);
    assert.equal(documentChanged(src, now(7, 's2', 'doc!'), sha), true, 'after a reload versions mean nothing');
    assert.equal(documentChanged(src, now(1, 's2', 'doc'), sha), false);
  });

  it('the warning says whether the text at the target itself changed', () => {
    const req = request();
    assert.match(changedWarning(req, req.original).detail, /text at lines 3–4 is unchanged, but other parts/);
    assert.match(changedWarning(req, 'something else').detail, /no longer what was rewritten\. Applying replaces whatever is there now/);
    assert.match(changedWarning(req, '').message, /notes\.md has changed since this rewrite was made/);
    const accepted = request({ source: { ...req.source, rangeText: 'The film was bright.' } });
    assert.match(changedWarning(accepted, 'The film was bright.').detail, /unchanged/);
    assert.match(changedWarning(accepted, 'edited').detail, /no longer what Accept wrote/);
    const cont = request({
      mode: 'continue',
      original: '',
      source: { ...req.source, range: { start: { line: 1, character: 2 }, end: { line: 1, character: 2 } }, rangeText: '' },
    });
    assert.match(changedWarning(cont, '').message, /continuation/);
    assert.match(changedWarning(cont, '').detail, /inserts the text at line 2, column 3, which may no longer be where the cursor was/);
  });

  it('the range Accept wrote, so a second Accept replaces it', () => {
    assert.deepEqual(rangeAfterEdit({ line: 3, character: 4 }, 'abc'), { start: { line: 3, character: 4 }, end: { line: 3, character: 7 } });
    assert.deepEqual(rangeAfterEdit({ line: 3, character: 4 }, 'ab\ncd\r\nefg'), { start: { line: 3, character: 4 }, end: { line: 5, character: 3 } });
    assert.deepEqual(rangeAfterEdit({ line: 0, character: 0 }, ''), { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } });
  });
});

describe('rewrite panel persistence', () => {
  it('round-trips through JSON; a running run comes back as interrupted', () => {
    const run = startedRun(4, request());
    applyStep(run, step(0, 50));
    const back = restorePersisted(
      JSON.parse(JSON.stringify({ version: 1, request: request(), run, classifiers: [{ attribute: 'sentiment', labels: ['negative', 'positive'] }] })),
    );
    assert.ok(back);
    assert.deepEqual(back.request, request());
    assert.equal(back.run!.status, 'cancelled');
    assert.match(back.run!.message!, /Interrupted/);
    assert.equal(back.run!.steps.length, 1);
    assert.deepEqual(back.classifiers, [{ attribute: 'sentiment', labels: ['negative', 'positive'] }]);
  });

  it('drops what an older or broken version stored', () => {
    assert.equal(restorePersisted(undefined), undefined);
    assert.equal(restorePersisted({ version: 2, request: request() }), undefined);
    assert.equal(restorePersisted({ version: 1, request: { ...request(), mode: 'summarize' } }), undefined);
    assert.equal(restorePersisted({ version: 1, request: { ...request(), controls: { ...controls, steps: -1 } } }), undefined);
    assert.equal(restorePersisted({ version: 1, request: { ...request(), original: '  ' } }), undefined, 'a rewrite needs its original');
    const { rangeText: _omit, ...olderSource } = request().source;
    assert.equal(
      restorePersisted({ version: 1, request: { ...request(), source: olderSource } })!.request.source.rangeText,
      request().original,
      'older state: the range held the original',
    );
    const bad = restorePersisted({ version: 1, request: request(), run: { id: 1, status: 'done', steps: 'x' }, classifiers: 'x' });
    assert.ok(bad);
    assert.equal(bad.run, undefined);
    assert.deepEqual(bad.classifiers, []);
    const done = finishedRun(startedRun(2, request()), result());
    assert.equal(
      restorePersisted({ version: 1, request: request(), run: { ...done, scores: [{ attribute: 'a', probabilities: { x: 'high' } }] }, classifiers: [] })!.run,
      undefined,
    );
    assert.deepEqual(restorePersisted(JSON.parse(JSON.stringify({ version: 1, request: request(), run: done, classifiers: [] })))!.run, done);
  });
});

describe('diffusion settings', () => {
  const diffusionKeys = SETTINGS.map((s) => s.key).filter((k) => k.startsWith('concert.diffusion.'));

  it('declares the knobs with their defaults; the default λ is the protocol’s', () => {
    const d = Object.fromEntries(diffusionKeys.map((k) => [k, settingDef(k).default]));
    assert.deepEqual(d, {
      'concert.diffusion.steps': 50,
      'concert.diffusion.topP': DIFFUSION_DEFAULT_TOP_P,
      'concert.diffusion.projection': 'sampling',
      'concert.diffusion.defaultStrength': 0.5,
      'concert.diffusion.defaultLambda': DEFAULT_GUIDANCE_LAMBDA,
      'concert.diffusion.continueTokens': 24,
      'concert.diffusion.minTokens': DIFFUSION_DEFAULT_MIN_TOKENS,
      'concert.diffusion.promptChars': 1000,
      'concert.diffusion.modelPack': '',
    });
    assert.deepEqual([...(settingDef('concert.diffusion.projection').enum ?? [])], [...PROJECTIONS]);
  });

  it('the model pack is restricted (it names what runs); none of them reconfigures the worker', () => {
    assert.ok(RESTRICTED_SETTINGS.includes('concert.diffusion.modelPack'));
    for (const k of diffusionKeys) assert.ok(!WORKER_SETTING_KEYS.includes(k), k);
  });

  it('the setting ranges match the panel’s', () => {
    const r = (k: SettingKey) => [settingDef(k).minimum, settingDef(k).maximum];
    assert.deepEqual(r('concert.diffusion.steps'), [REWRITE_LIMITS.steps.min, REWRITE_LIMITS.steps.max]);
    assert.deepEqual(r('concert.diffusion.defaultLambda'), [REWRITE_LIMITS.lambda.min, REWRITE_LIMITS.lambda.max]);
    assert.deepEqual(r('concert.diffusion.defaultStrength'), [REWRITE_LIMITS.strength.min, REWRITE_LIMITS.strength.max]);
    assert.deepEqual(r('concert.diffusion.continueTokens'), [REWRITE_LIMITS.tokens.min, REWRITE_LIMITS.tokens.max]);
    assert.deepEqual(r('concert.diffusion.minTokens'), [REWRITE_LIMITS.minTokens.min, REWRITE_LIMITS.minTokens.max]);
  });

  it('invalid values fall back with a warning; an empty pack id means the worker’s default', () => {
    const values: Partial<Record<SettingKey, unknown>> = {
      'concert.diffusion.steps': 0,
      'concert.diffusion.projection': 'beam',
      'concert.diffusion.topP': 0.5,
      'concert.diffusion.modelPack': 'My Pack',
    };
    const { settings, warnings } = toDiffusionSettings((k) => values[k]);
    assert.equal(settings.steps, 50);
    assert.equal(settings.projection, 'sampling');
    assert.equal(settings.topP, 0.5);
    assert.equal(settings.packId, undefined);
    assert.equal(warnings.length, 3);
    assert.equal(toDiffusionSettings((k) => (k === 'concert.diffusion.modelPack' ? 'concert-ssd-core' : undefined)).settings.packId, 'concert-ssd-core');
    assert.equal(coerceSetting(settingDef('concert.diffusion.defaultStrength'), 0), 0.5, 'strength 0 would not change anything');
  });
});

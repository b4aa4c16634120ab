/**
 * The vscode-free host side of the summary panel: the support-span finder, the comment table, the message check,
 * the run/request state (refusals, streaming, results, persistence) and the summary settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CadRunResult, PackSummary } from '../../src/protocol/worker';
import { COMMENT_SYNTAX, commentLine, commentSyntaxFor, describeSyntax, formatComment, wrapText } from '../../src/extension/commentStyle';
import { coerceSetting, settingDef, toCadSettings, WORKER_SETTING_KEYS, SETTINGS, type SettingKey } from '../../src/extension/settingsTable';
import { isSummaryViewToHost } from '../../src/extension/summaryMessages';
import {
  applyTokenProgress,
  decodingLabel,
  finishedRun,
  looksBinary,
  modelChoices,
  recordView,
  refuseText,
  requestKnobs,
  restorePersisted,
  runKnobs,
  scopeLabel,
  startedRun,
  sweepPoint,
  tokenCount,
  withKnobs,
  type SummaryRequest,
} from '../../src/extension/summaryState';
import { findSupportSpan, splitWords } from '../../src/extension/supportSpan';

/** Splits text into pseudo-tokens the way a BPE model often does: leading spaces, words cut into pieces. */
const toks = (...pieces: string[]) => pieces.map((text) => ({ text }));
const spanText = (src: string, r: ReturnType<typeof findSupportSpan>) => (r.found ? src.slice(r.span.start, r.span.end) : undefined);

describe('support span finder', () => {
  const source = 'The tower was completed in 1889. Gustave Eiffel designed the tower for the World Fair. The tower is in Paris.';

  it('finds the longest run of output words around the token, earliest first', () => {
    const out = toks('Eiff', 'el', ' designed', ' the', ' tower', '.');
    const r = findSupportSpan(source, { tokens: out, index: 2 });
    assert.ok(r.found);
    assert.equal(spanText(source, r), 'Eiffel designed the tower');
    assert.equal(r.span.words, 4);
  });

  it('joins word pieces: clicking half a word finds the whole word', () => {
    const out = toks(' It', ' opened', ' in', ' 18', '89', ' in', ' France');
    const r = findSupportSpan(source, { tokens: out, index: 4 });
    assert.ok(r.found);
    assert.match(spanText(source, r)!, /1889/);
  });

  it('is case-insensitive and ignores punctuation between words', () => {
    const r = findSupportSpan(source, { tokens: toks(' WORLD', ' fair', '!'), index: 0 });
    assert.equal(spanText(source, r), 'World Fair');
  });

  it('prefers more context over an earlier shorter match', () => {
    // "the tower" occurs first at 0, but "tower is in Paris" only once.
    const r = findSupportSpan(source, { tokens: toks(' tower', ' is', ' in', ' Paris'), index: 0 });
    assert.equal(spanText(source, r), 'tower is in Paris');
  });

  it('refuses punctuation, white space and lone stop words', () => {
    assert.equal(findSupportSpan(source, { tokens: toks('Hello', ',', ' world'), index: 1 }).found, false);
    assert.equal(findSupportSpan(source, { tokens: toks('Hello', '   '), index: 1 }).found, false);
    const stop = findSupportSpan(source, { tokens: toks('zzz', ' the', ' qqq'), index: 1 });
    assert.equal(stop.found, false);
    assert.match(!stop.found ? stop.reason : '', /too common/);
  });

  it('falls back to a word stem, and says when nothing matches', () => {
    const r = findSupportSpan('The committee summarised the findings.', { tokens: toks(' summarises'), index: 0 });
    assert.ok(r.found);
    assert.equal(r.span.stem, true);
    assert.equal(spanText('The committee summarised the findings.', r), 'summarised');
    const none = findSupportSpan(source, { tokens: toks(' Zeppelin'), index: 0 });
    assert.equal(none.found, false);
    assert.match(!none.found ? none.reason : '', /"Zeppelin" does not occur/);
  });

  it('rejects an index outside the output and an empty source', () => {
    assert.equal(findSupportSpan(source, { tokens: toks('a'), index: 3 }).found, false);
    assert.equal(findSupportSpan(source, { tokens: toks('a'), index: -1 }).found, false);
    assert.equal(findSupportSpan('', { tokens: toks('Paris'), index: 0 }).found, false);
  });

  it('numbers count as meaningful on their own, and words keep inner apostrophes', () => {
    assert.ok(findSupportSpan('in 1889, they built it', { tokens: toks('x', ' 1889'), index: 1 }).found);
    assert.deepEqual(
      splitWords('don’t stop').map((w) => w.norm),
      ["don't", 'stop'],
    );
  });

  it('stays fast on a large source with common words', () => {
    const big = 'the cat sat on the mat and the dog ran. '.repeat(20_000) + 'Unique ending sentence here.';
    const t0 = performance.now();
    const r = findSupportSpan(big, { tokens: toks(' the', ' unique', ' ending'), index: 2 });
    assert.ok(r.found);
    assert.equal(spanText(big, r), 'Unique ending');
    assert.ok(performance.now() - t0 < 2000);
  });
});

describe('comment wrapping', () => {
  it('knows the comment syntax of common languages', () => {
    assert.equal(commentSyntaxFor('typescript').line, '//');
    assert.equal(commentSyntaxFor('python').line, '#');
    assert.equal(commentSyntaxFor('sql').line, '--');
    assert.equal(commentSyntaxFor('latex').line, '%');
    assert.deepEqual(commentSyntaxFor('html').block, ['<!--', '-->']);
    assert.deepEqual(commentSyntaxFor('css').block, ['/*', '*/']);
    assert.deepEqual(commentSyntaxFor('plaintext'), {});
    for (const [id, s] of Object.entries(COMMENT_SYNTAX)) assert.ok(id === 'plaintext' || s.line || s.block, id);
  });

  it('guesses # or // for languages it does not know, from the document', () => {
    assert.deepEqual(commentSyntaxFor('mystery', '# a\n# b\nx = 1\n// odd'), { line: '#', guessed: true });
    assert.deepEqual(commentSyntaxFor('mystery', 'int x;\n// note'), { line: '//', guessed: true });
    assert.deepEqual(commentSyntaxFor('mystery'), { line: '//', guessed: true });
  });

  it('wraps, prefixes and indents line comments, ending with the document EOL', () => {
    const text = 'The module parses the manifest and validates every file against its declared hash before loading.';
    const out = formatComment(text, { line: '//' }, { indent: '    ', eol: '\r\n', width: 50 });
    assert.ok(out.endsWith('\r\n'));
    const lines = out.split('\r\n').slice(0, -1);
    assert.ok(lines.length > 1);
    for (const l of lines) {
      assert.ok(l.startsWith('    // '), l);
      assert.ok(l.length <= 50, l);
    }
    assert.equal(lines.map((l) => l.slice(7)).join(' '), text);
  });

  it('uses block delimiters and cannot be closed early by the text', () => {
    const out = formatComment('a */ b', { block: ['/*', '*/'] }, { indent: '', eol: '\n' });
    assert.equal(out, '/*\n * a * / b\n */\n');
    const html = formatComment('x --> y', { block: ['<!--', '-->'] }, { indent: '  ', eol: '\n' });
    assert.equal(html, '  <!--\n    x - - > y\n  -->\n');
    assert.equal((html.match(/-->/g) ?? []).length, 1);
  });

  it('plain text goes in as a paragraph; helpers describe and place the comment', () => {
    assert.equal(formatComment('hello world', {}, { indent: '', eol: '\n' }), 'hello world\n\n');
    assert.equal(describeSyntax({ line: '#' }), 'a # comment');
    assert.equal(describeSyntax({}), 'a paragraph');
    assert.equal(commentLine(0, '#!/usr/bin/env python'), 1);
    assert.equal(commentLine(0, 'import x'), 0);
    assert.equal(commentLine(5, '#!/bin/sh'), 5);
    assert.deepEqual(wrapText('one two three', 7), ['one two', 'three']);
    assert.deepEqual(wrapText('a\n\nb', 10), ['a', '', 'b']);
    assert.deepEqual(wrapText('averyveryverylongword x', 5), ['averyveryverylongword', 'x']);
  });
});

describe('summary panel messages', () => {
  it('accepts the known intents with well-formed fields', () => {
    for (const m of [
      { type: 'ready' },
      { type: 'cancel' },
      { type: 'sweep' },
      { type: 'rerun', alpha: 1.25, compareRegular: true },
      { type: 'rerun', alpha: 0, compareRegular: false },
      { type: 'rerun', alpha: 1, compareRegular: false, plausibility: 0.1, adaptive: true },
      { type: 'rerun', alpha: 1, compareRegular: false, plausibility: 0, adaptive: false },
      { type: 'rerun', alpha: 1, compareRegular: false, plausibility: 1 },
      { type: 'rerun', alpha: 1, compareRegular: false, plausibility: 0.1, adaptive: false, extractive: true },
      { type: 'rerun', alpha: 1, compareRegular: false, extractive: false },
      { type: 'reveal', variant: 'cad', index: 0 },
      { type: 'copy', variant: 'regular' },
      { type: 'insert', variant: 'cad', mode: 'comment' },
      { type: 'insert', variant: 'regular', mode: 'cursor' },
      { type: 'model', packId: 'qwen2-tiny' },
      { type: 'model', packId: 'onnx-community--smollm2-135m-instruct' },
      { type: 'model', packId: '' },
    ])
      assert.ok(isSummaryViewToHost(m), JSON.stringify(m));
  });

  it('refuses unknown types, wrong shapes and out-of-range values', () => {
    for (const m of [
      null,
      'ready',
      [],
      { type: 'toString' },
      { type: 'hasOwnProperty' },
      { type: 'runShell', cmd: 'rm -rf /' },
      { type: 'rerun', alpha: 4, compareRegular: true },
      { type: 'rerun', alpha: -0.5, compareRegular: true },
      { type: 'rerun', alpha: Number.NaN, compareRegular: true },
      { type: 'rerun', alpha: '1', compareRegular: true },
      { type: 'rerun', alpha: 1 },
      { type: 'rerun', alpha: 1, compareRegular: true, plausibility: 1.5 },
      { type: 'rerun', alpha: 1, compareRegular: true, plausibility: -0.1 },
      { type: 'rerun', alpha: 1, compareRegular: true, plausibility: '0.1' },
      { type: 'rerun', alpha: 1, compareRegular: true, adaptive: 'yes' },
      { type: 'rerun', alpha: 1, compareRegular: true, extractive: 'true' },
      { type: 'rerun', alpha: 1, compareRegular: true, extractive: 1 },
      { type: 'rerun', alpha: 1, compareRegular: true, extractive: null },
      { type: 'reveal', variant: 'cad', index: 1.5 },
      { type: 'reveal', variant: 'cad', index: -1 },
      { type: 'reveal', variant: 'other', index: 0 },
      { type: 'copy' },
      { type: 'insert', variant: 'cad', mode: 'replace' },
      { type: 'model' },
      { type: 'model', packId: 7 },
      { type: 'model', packId: '/abs/path/to/model' },
      { type: 'model', packId: '../models' },
      { type: 'model', packId: 'Upper' },
      { type: 'model', packId: 'x'.repeat(65) },
    ])
      assert.ok(!isSummaryViewToHost(m), JSON.stringify(m));
  });
});

const request: SummaryRequest = {
  task: 'summarize',
  alpha: 0.5,
  compareRegular: true,
  source: {
    uri: 'file:///w/a.md',
    fileName: 'a.md',
    languageId: 'markdown',
    range: { start: { line: 2, character: 0 }, end: { line: 9, character: 0 } },
    documentSha256: 'ab',
  },
};

const result: CadRunResult = {
  task: 'summarize',
  text: 'Paris is big.',
  tokens: [
    { id: 1, text: ' Paris', reliance: 1.2 },
    { id: 2, text: ' is', reliance: -0.2 },
    { id: 3, text: ' big.', reliance: 0.3 },
  ],
  alpha: 0.5,
  stoppedBy: 'stop-token',
  model: { id: 'concert-lm-small', displayName: 'Concert LM (small)' },
  run: {
    packId: 'concert-lm-small',
    manifestSha256: 'm'.repeat(64),
    modelSha256: 'g'.repeat(64),
    seed: 42,
    knobs: { alpha: 0.5, plausibility: 0, adaptive: false, extractive: false, decoding: { mode: 'sample', temperature: 1, topP: 0.9 }, maxTokens: 64 },
    provider: 'cpu',
    device: 'CPU, 2 threads',
    promptTokens: { withContext: 40, withoutContext: 8 },
    chunks: 3,
    durationMs: 1234,
  },
  regular: { text: 'Berlin.', tokens: [{ id: 9, text: ' Berlin.', reliance: -2.5 }], alpha: 0, stoppedBy: 'max-tokens' },
  chunks: [
    { start: 0, end: 100, summary: 'one' },
    { start: 100, end: 200, summary: 'two' },
    { start: 200, end: 250, summary: 'three' },
  ],
};

describe('summary state', () => {
  it('refuses empty and binary-looking text with one line', () => {
    assert.equal(refuseText('  \n\t', { fileName: 'a.txt', selection: false }), 'a.txt is empty.');
    assert.match(refuseText(' ', { fileName: 'a.txt', selection: true })!, /selection is empty/);
    assert.match(refuseText('PK\u0003\u0004\u0000\u0000', { fileName: 'a.zip', selection: false })!, /a\.zip looks binary/);
    assert.equal(refuseText('Plain text.\n', { fileName: 'a.txt', selection: false }), undefined);
    assert.ok(looksBinary('\ufffd\ufffd\ufffdab'));
    assert.ok(!looksBinary('tabs\tand\r\nnewlines and ünïcödé — fine'));
    assert.ok(!looksBinary(''));
  });

  it('labels the scope of a run', () => {
    assert.equal(scopeLabel(undefined), 'whole document');
    assert.equal(scopeLabel({ start: { line: 4, character: 2 }, end: { line: 4, character: 9 } }), 'line 5');
    assert.equal(scopeLabel({ start: { line: 2, character: 0 }, end: { line: 9, character: 0 } }), 'lines 3–9');
    assert.equal(scopeLabel({ start: { line: 2, character: 0 }, end: { line: 9, character: 3 } }), 'lines 3–10');
  });

  it('streams tokens into the run, restarting an output at each new part of a chunked summary', () => {
    const run = startedRun(7, request);
    assert.equal(run.status, 'running');
    assert.equal(run.source.scope, 'lines 3–9');
    assert.ok(run.regular, 'side by side asked for: the regular column exists from the start');
    applyTokenProgress(run, { variant: 'cad', part: 0, index: 0, token: { id: 1, text: ' Par', reliance: 0.1 } });
    applyTokenProgress(run, { variant: 'cad', part: 0, index: 1, token: { id: 2, text: 'is', reliance: 0.2 } });
    assert.equal(run.cad.text, 'Paris');
    applyTokenProgress(run, { variant: 'cad', part: 0, index: 5, token: { id: 3, text: 'gap', reliance: 0 } });
    assert.equal(run.cad.tokens.length, 2, 'a gap is ignored');
    applyTokenProgress(run, { variant: 'cad', part: 1, index: 0, token: { id: 4, text: ' Next', reliance: 0 } });
    assert.deepEqual(
      run.cad.tokens.map((t) => t.text),
      [' Next'],
    );
    assert.equal(run.cad.part, 1);
    applyTokenProgress(run, { variant: 'regular', part: 0, index: 0, token: { id: 5, text: ' R', reliance: -1 } });
    assert.equal(tokenCount(run), 2);
  });

  it('turns a result into the view: outputs, record and chunks', () => {
    const done = finishedRun(startedRun(7, request), result);
    assert.equal(done.status, 'done');
    assert.deepEqual(done.cad.tokens, [
      { text: ' Paris', reliance: 1.2 },
      { text: ' is', reliance: -0.2 },
      { text: ' big.', reliance: 0.3 },
    ]);
    assert.equal(done.regular?.text, 'Berlin.');
    assert.equal(done.record?.decoding, 'top-p 0.9, temperature 1');
    assert.equal(done.record?.modelName, 'Concert LM (small)');
    assert.equal(done.record?.seed, 42);
    assert.equal(done.record?.chunks, 3);
    assert.equal(done.chunks?.length, 3);
    assert.equal(decodingLabel({ mode: 'greedy' }), 'greedy');
  });

  it('a question answered from passages: the lines of the document (a selection counted from its first line), kept over a reload', () => {
    const ask: SummaryRequest = { ...request, task: 'ask', question: 'Who?' };
    const withPassages: CadRunResult = {
      ...result,
      task: 'ask',
      passages: [
        { start: 10, end: 90, firstLine: 3, lastLine: 4, score: 2.5 },
        { start: 300, end: 340, firstLine: 12, lastLine: 12, score: 7 },
      ],
    };
    assert.deepEqual(finishedRun(startedRun(1, ask), withPassages).passages, [
      { firstLine: 3, lastLine: 4 },
      { firstLine: 12, lastLine: 12 },
    ]);
    assert.deepEqual(finishedRun(startedRun(1, ask), withPassages, 40).passages?.[1], { firstLine: 52, lastLine: 52 });
    assert.equal(finishedRun(startedRun(1, ask), result).passages, undefined);
    const run = finishedRun(startedRun(1, ask), withPassages);
    assert.deepEqual(restorePersisted(JSON.parse(JSON.stringify({ version: 1, request: ask, state: { run } })))?.state.run?.passages, run.passages);
    const junk = restorePersisted({ version: 1, request: ask, state: { run: { ...run, passages: [{ firstLine: 'x' }] } } });
    assert.equal(junk?.state.run, undefined, 'malformed passages drop the run');
  });

  it('concert.cad.wholeDocumentAnswers: off by default; on, questions (only) ask cad/run to read the whole document, kept over a reload', () => {
    const cad = toCadSettings(() => undefined).settings;
    assert.equal(cad.wholeDocumentAnswers, false);
    const ask: SummaryRequest = { ...request, task: 'ask', question: 'Where?', ...requestKnobs('ask', cad) };
    assert.equal(runKnobs(ask).wholeDocument, undefined);
    const whole: SummaryRequest = { ...request, task: 'ask', question: 'Where?', ...requestKnobs('ask', { ...cad, wholeDocumentAnswers: true }) };
    assert.equal(runKnobs(whole).wholeDocument, true);
    assert.equal(requestKnobs('summarize', { ...cad, wholeDocumentAnswers: true }).wholeDocument, undefined);
    assert.equal(restorePersisted(JSON.parse(JSON.stringify({ version: 1, request: whole, state: {} })))?.request.wholeDocument, true);
  });

  it('sweep points: share of positive reliance and the mean', () => {
    const p = sweepPoint(1, result);
    assert.equal(p.tokens, 3);
    assert.ok(Math.abs(p.positiveShare - 2 / 3) < 1e-9);
    assert.ok(Math.abs(p.meanReliance - 1.3 / 3) < 1e-9);
    assert.deepEqual(sweepPoint(0, { text: '', tokens: [], alpha: 0, stoppedBy: 'stop-token' }), {
      alpha: 0,
      tokens: 0,
      positiveShare: 0,
      meanReliance: 0,
      text: '',
    });
  });

  it('persists and restores; a run cut off by a reload is marked, junk is dropped', () => {
    const running = startedRun(3, request);
    const saved = JSON.parse(
      JSON.stringify({
        version: 1,
        request: { ...request, seed: 9 },
        state: { run: running, sweep: { status: 'running', alphas: [0, 0.5, 1, 2], points: [] } },
      }),
    );
    const back = restorePersisted(saved);
    assert.ok(back);
    assert.deepEqual(back.request, { ...request, seed: 9 });
    assert.equal(back.state.run?.status, 'cancelled');
    assert.match(back.state.run?.message ?? '', /Interrupted/);
    assert.equal(back.state.sweep?.status, 'cancelled');
    const done = restorePersisted(JSON.parse(JSON.stringify({ version: 1, request, state: { run: finishedRun(running, result) } })));
    assert.equal(done?.state.run?.status, 'done');
    assert.equal(restorePersisted(undefined), undefined);
    assert.equal(restorePersisted({ version: 2, request, state: {} }), undefined);
    assert.equal(restorePersisted({ version: 1, request: { ...request, task: 'rm' }, state: {} }), undefined);
    assert.equal(restorePersisted({ version: 1, request: { ...request, task: 'ask' }, state: {} }), undefined, 'ask without a question');
    const badRun = restorePersisted({ version: 1, request, state: { run: { ...running, cad: { text: 1 } } } });
    assert.ok(badRun && badRun.state.run === undefined, 'a malformed run is dropped, the request kept');
  });

  it('extractive output: the setting of each task reaches cad/run, a rerun toggles it, the record and a reload keep it', () => {
    const cad = toCadSettings(() => undefined).settings;
    const ask: SummaryRequest = { ...request, task: 'ask', question: 'Where?', ...requestKnobs('ask', cad) };
    assert.equal(ask.extractive, true, 'on by default for questions');
    assert.equal(ask.alpha, 1);
    assert.deepEqual(runKnobs(ask), { alpha: 1, plausibility: cad.plausibility, adaptive: false, extractive: true });
    const free = { ...ask, ...requestKnobs('ask', { ...cad, extractiveAnswers: false }) };
    assert.equal(runKnobs(free).extractive, false, 'the setting turned off: cad/run says so (the worker default is on)');
    assert.equal(requestKnobs('ask', { ...cad, extractiveSummaries: false }).extractive, true, 'questions follow extractiveAnswers only');

    // Summaries: their own setting, on by default.
    const summary: SummaryRequest = { ...request, ...requestKnobs('summarize', cad) };
    assert.equal(summary.extractive, true, 'on by default for summaries');
    assert.equal(summary.alpha, 0.5);
    assert.deepEqual(runKnobs(summary), { alpha: 0.5, plausibility: cad.plausibility, adaptive: false, extractive: true });
    const freeSummary: SummaryRequest = { ...request, ...requestKnobs('summarize', { ...cad, extractiveSummaries: false, extractiveAnswers: true }) };
    assert.equal(freeSummary.extractive, false, 'summaries follow extractiveSummaries only');
    assert.equal(runKnobs(freeSummary).extractive, false, 'turned off: cad/run says so (the worker default is on)');
    assert.equal(requestKnobs('summarize', { ...cad, extractiveAnswers: false }).extractive, true);

    // The panel's checkbox: a rerun with extractive changes it (and keeps the other knobs), for both tasks.
    const toggled = withKnobs(ask, { alpha: 0.5, compareRegular: false, extractive: false });
    assert.deepEqual([toggled.alpha, toggled.extractive, toggled.plausibility, toggled.question], [0.5, false, cad.plausibility, 'Where?']);
    assert.equal(withKnobs(toggled, { alpha: 0.5, compareRegular: false }).extractive, false, 'absent in the rerun: unchanged');
    assert.equal(withKnobs(toggled, { alpha: 0.5, compareRegular: false, extractive: true }).extractive, true);
    const summaryOff = withKnobs(summary, { alpha: 1, compareRegular: true, extractive: false });
    assert.deepEqual(
      [summaryOff.task, summaryOff.alpha, summaryOff.compareRegular, summaryOff.extractive, summaryOff.plausibility],
      ['summarize', 1, true, false, cad.plausibility],
    );
    assert.equal(runKnobs(summaryOff).extractive, false, 'the rerun reaches cad/run');
    assert.equal(withKnobs(summaryOff, { alpha: 1, compareRegular: true }).extractive, false, 'absent in the rerun: unchanged');
    assert.equal(withKnobs(summaryOff, { alpha: 1, compareRegular: true, extractive: true }).extractive, true);

    // The run view shows the checkbox state for both tasks (absent in older requests: the worker default, on).
    assert.equal(startedRun(1, toggled).extractive, false);
    assert.equal(startedRun(1, { ...request, task: 'ask', question: 'Where?' }).extractive, true);
    assert.equal(startedRun(1, summary).extractive, true);
    assert.equal(startedRun(1, summaryOff).extractive, false);
    assert.equal(startedRun(1, request).extractive, true, 'a summary request saved before the setting: on');
    const askResult: CadRunResult = { ...result, task: 'ask', run: { ...result.run, knobs: { ...result.run.knobs, extractive: true } } };
    assert.equal(recordView(askResult).extractive, true);
    assert.equal(recordView(result).extractive, false);
    assert.equal(recordView({ ...result, run: { ...result.run, knobs: { ...result.run.knobs, extractive: true } } }).extractive, true);

    // A reload keeps extractive (and β, adaptive α) of the request, for both tasks; junk is dropped.
    const saved = (req: unknown, run?: unknown) => JSON.parse(JSON.stringify({ version: 1, request: req, state: run ? { run } : {} }));
    const back = restorePersisted(saved({ ...toggled, adaptive: true }, startedRun(2, toggled)));
    assert.deepEqual(
      [back?.request.extractive, back?.request.plausibility, back?.request.adaptive, back?.state.run?.extractive],
      [false, cad.plausibility, true, false],
    );
    const backSummary = restorePersisted(saved(summaryOff, startedRun(3, summaryOff)));
    assert.deepEqual([backSummary?.request.extractive, backSummary?.state.run?.extractive], [false, false]);
    assert.equal(restorePersisted(saved({ ...request, extractive: true }))?.request.extractive, true);
    assert.equal('extractive' in (restorePersisted(saved(request))?.request ?? {}), false, 'absent stays absent: the worker default');
    assert.equal('extractive' in (restorePersisted(saved({ ...ask, extractive: 'no' }))?.request ?? {}), false);
    assert.equal('extractive' in (restorePersisted(saved({ ...request, extractive: 1 }))?.request ?? {}), false);
    assert.equal(restorePersisted(saved(ask, { ...startedRun(2, ask), extractive: 'yes' }))?.state.run, undefined, 'a malformed run is dropped');
  });
});

describe('summary settings', () => {
  it('reads the defaults: α 0.5 / 1, 64 / 24 tokens, no side-by-side, plausibility β and adaptive α as measured, the bundled pack', () => {
    const { settings, warnings } = toCadSettings(() => undefined);
    assert.deepEqual(settings, {
      summaryAlpha: 0.5,
      questionAlpha: 1,
      maxSummaryTokens: 64,
      maxAnswerTokens: 24,
      showRegularByDefault: false,
      plausibility: settingDef('concert.cad.plausibility').default,
      adaptiveAlpha: false,
      extractiveAnswers: true,
      extractiveSummaries: true,
      wholeDocumentAnswers: false,
    });
    assert.deepEqual(warnings, []);
  });

  it('keeps valid values, drops invalid ones with a warning', () => {
    const values: Partial<Record<SettingKey, unknown>> = {
      'concert.cad.summaryAlpha': 2,
      'concert.cad.questionAlpha': 7,
      'concert.cad.maxSummaryTokens': 12.5,
      'concert.cad.modelPack': 'my-lm.v2',
    };
    values['concert.cad.plausibility'] = 1.5;
    values['concert.cad.adaptiveAlpha'] = true;
    values['concert.cad.extractiveAnswers'] = false;
    values['concert.cad.extractiveSummaries'] = false;
    const { settings, warnings } = toCadSettings((k) => values[k]);
    assert.equal(settings.plausibility, settingDef('concert.cad.plausibility').default);
    assert.equal(settings.adaptiveAlpha, true);
    assert.equal(settings.extractiveAnswers, false);
    assert.equal(settings.extractiveSummaries, false);
    assert.equal(toCadSettings((k) => (k === 'concert.cad.extractiveAnswers' ? false : undefined)).settings.extractiveSummaries, true, 'two settings');
    assert.equal(
      toCadSettings((k) => (k === 'concert.cad.extractiveAnswers' ? 'no' : undefined)).settings.extractiveAnswers,
      true,
      'not a boolean: the default',
    );
    assert.equal(
      toCadSettings((k) => (k === 'concert.cad.extractiveSummaries' ? 'no' : undefined)).settings.extractiveSummaries,
      true,
      'not a boolean: the default',
    );
    assert.equal(settings.summaryAlpha, 2);
    assert.equal(settings.questionAlpha, 1);
    assert.equal(settings.maxSummaryTokens, 64);
    assert.equal(settings.packId, 'my-lm.v2');
    assert.equal(warnings.length, 3);
    assert.equal(coerceSetting(settingDef('concert.cad.modelPack'), '../../etc'), '');
    assert.equal(coerceSetting(settingDef('concert.cad.modelPack'), 'Upper'), '');
  });

  it('the model pack setting is restricted; summary settings do not reconfigure the worker', () => {
    assert.equal(settingDef('concert.cad.modelPack').restricted, true);
    // Feature settings (summaries, diffusion, collaboration, knowledge) are read per run; only the others reach the worker.
    for (const s of SETTINGS)
      assert.equal(WORKER_SETTING_KEYS.includes(s.key), !/^concert\.(cad|diffusion|collab|knowledge|image|video)\.|^concert\.ffmpegPath$/.test(s.key), s.key);
  });
});

describe('summary panel: model picker and template', () => {
  it('offers the valid causal-LM packs, published folders labelled with their variant', () => {
    const packs: PackSummary[] = [
      { id: 'concert-lm-small', kind: 'causal-lm', dir: '/b/lm', source: 'bundled', valid: true, displayName: 'Concert LM (small)' },
      { id: 'qwen2-tiny', kind: 'causal-lm', dir: '/u/qwen2-tiny', source: 'user', valid: true, displayName: 'qwen2-tiny (fp32)' },
      { id: 'plain', kind: 'causal-lm', dir: '/u/plain', source: 'user', valid: true },
      { id: 'broken', kind: 'causal-lm', dir: '/u/broken', source: 'user', valid: false, error: 'bad' },
      { id: 'concert-ssd-core', kind: 'simplex-diffusion-lm', dir: '/b/ssd', source: 'bundled', valid: true },
    ];
    assert.deepEqual(modelChoices(packs), [
      { id: 'concert-lm-small', label: 'Concert LM (small)', source: 'bundled' },
      { id: 'qwen2-tiny', label: 'qwen2-tiny (fp32)', source: 'user' },
      { id: 'plain', label: 'plain', source: 'user' },
    ]);
  });

  it('the record names the template that made the prompts; a run without one (older worker) has none', () => {
    const withPrompt: CadRunResult = {
      ...result,
      model: { id: 'qwen2-tiny', displayName: 'qwen2-tiny (fp32)' },
      run: { ...result.run, packId: 'qwen2-tiny', prompt: { template: 'chat-template', rows: [], generated: [] } },
    };
    const rec = finishedRun(startedRun(1, request), withPrompt).record;
    assert.equal(rec?.modelId, 'qwen2-tiny');
    assert.equal(rec?.template, 'chat-template');
    assert.equal(finishedRun(startedRun(1, request), result).record?.template, undefined);
  });

  it('the picked model is part of the persisted request; a malformed one is dropped', () => {
    const back = restorePersisted(JSON.parse(JSON.stringify({ version: 1, request: { ...request, packId: 'qwen2-tiny' }, state: {} })));
    assert.equal(back?.request.packId, 'qwen2-tiny');
    const bad = restorePersisted({ version: 1, request: { ...request, packId: '../etc' }, state: {} });
    assert.ok(bad && bad.request.packId === undefined);
  });
});

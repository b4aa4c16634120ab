/**
 * The summary panel's page, without a browser: reliance → shade mapping, the pure render (virtual DOM → HTML
 * string), and the checks on what reaches the page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SummaryRunView, SummaryViewState } from '../../src/protocol/webview';
import { isHostToSummaryView, sanitizeSummaryUiState } from '../../webview/summary/messages';
import { formatReliance, relianceClass, relianceLevel, relianceTitle } from '../../webview/summary/reliance';
import { findAll, h, s, textOf, toHtml, type VNode } from '../../webview/common/vdom';
import { renderSummary, supportedShare, sweepPlot, tokenNodes, type Section } from '../../webview/summary/view';

const ui = { recordOpen: false, chunksOpen: false };

const run: SummaryRunView = {
  id: 4,
  status: 'done',
  task: 'summarize',
  source: { fileName: 'notes.md', scope: 'whole document', languageId: 'markdown' },
  alpha: 0.5,
  compareRegular: false,
  cad: {
    text: 'Paris is big.',
    tokens: [
      { text: ' Paris', reliance: 1.4 },
      { text: ' is', reliance: -0.05 },
      { text: ' ', reliance: 0 },
      { text: 'big', reliance: -0.7 },
      { text: '.', reliance: 2.5 },
    ],
    alpha: 0.5,
    stoppedBy: 'stop-token',
  },
};

const section = (sections: Section[], key: string) => sections.find((x) => x.key === key)?.node;
const byAction = (n: VNode, action: string) => findAll(n, (v) => v.attrs['data-action'] === action);

/** The run record of a greedy answer, without the optional knobs the tests add. */
const ANSWER_RECORD = {
  modelId: 'concert-lm-small',
  manifestSha256: 'a'.repeat(64),
  modelSha256: 'b'.repeat(64),
  seed: 42,
  alpha: 1,
  decoding: 'greedy',
  maxTokens: 24,
  provider: 'cpu',
  device: 'CPU',
  promptTokens: { withContext: 30, withoutContext: 5 },
  durationMs: 250,
};

describe('reliance shading', () => {
  it('maps reliance to signed levels on fixed steps', () => {
    assert.equal(relianceLevel(0), 0);
    assert.equal(relianceLevel(0.09), 0);
    assert.equal(relianceLevel(0.1), 1);
    assert.equal(relianceLevel(0.7), 2);
    assert.equal(relianceLevel(1.5), 3);
    assert.equal(relianceLevel(2), 4);
    assert.equal(relianceLevel(50), 4);
    assert.equal(relianceLevel(-0.3), -1);
    assert.equal(relianceLevel(-3), -4);
    assert.equal(relianceLevel(Number.NaN), 0);
    assert.equal(relianceLevel(Number.POSITIVE_INFINITY), 4);
    assert.equal(relianceLevel(Number.NEGATIVE_INFINITY), -4);
  });

  it('names shade classes: p = document-supported, n = lowered by the document', () => {
    assert.equal(relianceClass(0.02), 'rel-0');
    assert.equal(relianceClass(0.6), 'rel-p2');
    assert.equal(relianceClass(-1.2), 'rel-n3');
  });

  it('formats values in nats for the hover text', () => {
    assert.equal(formatReliance(1.234), '+1.23 nats');
    assert.equal(formatReliance(-0.5), '−0.50 nats');
    assert.equal(formatReliance(0.001), '±0.00 nats');
    assert.equal(formatReliance(Number.NEGATIVE_INFINITY), '−∞ nats');
    assert.match(relianceTitle(0.8), /\+0\.80 nats.*more likely/);
    assert.match(relianceTitle(-0.8), /less likely/);
  });
});

describe('virtual DOM', () => {
  it('escapes text and attributes: model output is never markup', () => {
    const html = toHtml(h('p', { title: '"><script>' }, '<img src=x onerror=alert(1)>', ' & more'));
    assert.equal(html, '<p title="&quot;&gt;&lt;script&gt;">&lt;img src=x onerror=alert(1)&gt; &amp; more</p>');
  });

  it('drops false/undefined attributes and children, writes true as an empty attribute, marks SVG', () => {
    const n = h('input', { disabled: true, hidden: false, value: undefined, max: 3 }, false, undefined);
    assert.equal(toHtml(n), '<input disabled max="3">');
    assert.equal(s('svg', {}, s('rect')).svg, true);
  });
});

describe('summary view', () => {
  it('without a run, says how to start one', () => {
    const sections = renderSummary(undefined, ui);
    assert.deepEqual(
      sections.map((x) => x.key),
      ['empty'],
    );
    assert.match(textOf(sections[0]!.node), /Summarize Document/);
  });

  it('shows task, source, the α slider and the CAD output shaded by reliance', () => {
    const sections = renderSummary({ run }, ui);
    assert.deepEqual(
      sections.map((x) => x.key),
      ['header', 'controls', 'outputs'],
    );
    assert.match(textOf(section(sections, 'header')!), /Summary · notes\.md · whole document/);
    const slider = findAll(section(sections, 'controls')!, (n) => n.tag === 'input')[0]!;
    assert.deepEqual([slider.attrs.type, slider.attrs.min, slider.attrs.max, slider.attrs.step, slider.attrs.value], ['range', '0', '3', '0.25', '0.5']);
    assert.equal(slider.attrs['aria-valuetext'], 'α 0.5');
    const toks = byAction(section(sections, 'outputs')!, 'reveal');
    assert.deepEqual(
      toks.map((t) => textOf(t)),
      ['Paris', 'is', 'big', '.'],
      'spaces stay outside the shaded spans; a white-space token is plain text',
    );
    assert.match(toHtml(section(sections, 'outputs')!), /Paris<\/span> <span[^>]*>is<\/span> <span[^>]*>big/);
    assert.deepEqual(
      toks.map((t) => t.attrs['data-index']),
      ['0', '1', '3', '4'],
    );
    assert.deepEqual(
      toks.map((t) => t.attrs.class),
      ['tok rel-p3', 'tok rel-0', 'tok rel-n2', 'tok rel-p4'],
    );
    assert.deepEqual(
      toks.map((t) => t.attrs.tabindex),
      ['0', '-1', '-1', '-1'],
      'one tab stop per output (roving tabindex)',
    );
    assert.ok(toks.every((t) => t.attrs.role === 'button' && /nats/.test(t.attrs.title ?? '')));
    assert.match(textOf(section(sections, 'outputs')!), /5 tokens · 40% document-supported · finished/);
  });

  it('Copy and Insert act on the finished output; while running they are disabled and Cancel is offered', () => {
    const done = renderSummary({ run }, ui);
    const buttons = [...byAction(section(done, 'outputs')!, 'copy'), ...byAction(section(done, 'outputs')!, 'insert')];
    assert.equal(buttons.length, 3);
    assert.ok(buttons.every((b) => b.attrs.disabled === undefined && b.attrs['data-variant'] === 'cad'));
    assert.deepEqual(
      byAction(section(done, 'outputs')!, 'insert').map((b) => b.attrs['data-mode']),
      ['comment', 'cursor'],
    );
    const running = renderSummary({ run: { ...run, status: 'running', cad: { text: '', tokens: [], alpha: 0.5 } } }, ui);
    assert.ok([...byAction(section(running, 'outputs')!, 'copy'), ...byAction(section(running, 'outputs')!, 'insert')].every((b) => b.attrs.disabled === ''));
    assert.equal(byAction(section(running, 'header')!, 'cancel').length, 1);
    assert.match(textOf(section(running, 'header')!), /Loading the model/);
    assert.match(textOf(section(running, 'outputs')!), /Waiting for the first token/);
    assert.equal(byAction(section(running, 'controls')!, 'sweep')[0]!.attrs.disabled, '');
  });

  it('side by side: a regular column with its own actions; the toggle reflects it', () => {
    const both: SummaryRunView = {
      ...run,
      compareRegular: true,
      regular: { text: 'Berlin', tokens: [{ text: ' Berlin', reliance: -3 }], alpha: 0, stoppedBy: 'max-tokens' },
    };
    const sections = renderSummary({ run: both }, ui);
    const out = section(sections, 'outputs')!;
    assert.match(out.attrs.class!, /two/);
    assert.equal(findAll(out, (n) => n.tag === 'article').length, 2);
    assert.match(textOf(out), /Regular decoding \(α 0\)/);
    assert.match(textOf(out), /stopped at the token limit/);
    assert.equal(byAction(out, 'copy').filter((b) => b.attrs['data-variant'] === 'regular').length, 1);
    assert.equal(byAction(section(sections, 'controls')!, 'compare')[0]!.attrs.checked, '');
  });

  it('says which lines a question was answered from, and the setting that reads the whole text', () => {
    const asked: SummaryRunView = { ...run, task: 'ask', question: 'Who?', passages: [{ firstLine: 7, lastLine: 9 }] };
    const note = textOf(section(renderSummary({ run: asked }, ui), 'passages')!);
    assert.match(note, /Answered from lines 7–9 of notes\.md: the passage that best matches the question\./);
    assert.match(note, /concert\.cad\.wholeDocumentAnswers/);
    const two = {
      ...asked,
      passages: [
        { firstLine: 2, lastLine: 2 },
        { firstLine: 5, lastLine: 6 },
      ],
      source: { ...asked.source, scope: 'lines 1–20' },
    };
    assert.match(
      textOf(section(renderSummary({ run: two }, ui), 'passages')!),
      /from line 2, lines 5–6 of the selection of notes\.md: the passages that best match/,
    );
    assert.equal(section(renderSummary({ run }, ui), 'passages'), undefined, 'read whole: no note');
  });

  it('shows the chunked notice, the run record (collapsible) and errors', () => {
    const full: SummaryRunView = {
      ...run,
      chunks: [{ start: 0, end: 10, summary: 'first' }],
      record: {
        modelId: 'concert-lm-small',
        manifestSha256: 'a'.repeat(64),
        modelSha256: 'b'.repeat(64),
        seed: 42,
        alpha: 0.5,
        decoding: 'top-p 0.9, temperature 1',
        maxTokens: 64,
        provider: 'cpu',
        device: 'CPU',
        promptTokens: { withContext: 30, withoutContext: 5 },
        chunks: 2,
        durationMs: 2500,
      },
    };
    const sections = renderSummary({ run: full }, { recordOpen: true, chunksOpen: false });
    assert.match(textOf(section(sections, 'chunks')!), /summarised in 2 chunks/);
    assert.match(textOf(section(sections, 'chunks')!), /first 1 of 2/);
    const rec = section(sections, 'record')!;
    assert.equal(rec.tag, 'details');
    assert.equal(rec.attrs.open, '');
    for (const fact of ['Seed', '42', 'concert-lm-small', 'a'.repeat(64), 'top-p 0.9', 'cpu (CPU)', '2.5 s']) assert.ok(textOf(rec).includes(fact), fact);
    const closed = renderSummary({ run: full }, ui);
    assert.equal(section(closed, 'record')!.attrs.open, undefined);
    const failed = renderSummary({ run: { ...run, status: 'error', message: 'no valid causal-lm pack' } }, ui);
    const alert = findAll(section(failed, 'header')!, (n) => n.attrs.role === 'alert')[0]!;
    assert.match(textOf(alert), /no valid causal-lm pack/);
    const changed = renderSummary({ run: { ...run, source: { ...run.source, changed: true } } }, ui);
    assert.match(textOf(section(changed, 'header')!), /changed since this run/);
  });

  it('the plausibility β slider and the adaptive-α checkbox reflect the run; the record shows β and α_t (#16)', () => {
    const controls = (r: SummaryRunView) => section(renderSummary({ run: r }, ui), 'controls')!;
    const beta = (r: SummaryRunView) => byAction(controls(r), 'plausibility')[0]!;
    assert.deepEqual([beta(run).attrs.min, beta(run).attrs.max, beta(run).attrs.step, beta(run).attrs.value], ['0', '1', '0.05', '0']);
    assert.equal(byAction(controls(run), 'adaptive')[0]!.attrs.checked, undefined);
    const on: SummaryRunView = { ...run, plausibility: 0.1, adaptive: true };
    assert.equal(beta(on).attrs.value, '0.1');
    assert.equal(beta(on).attrs['aria-valuetext'], 'β 0.1');
    assert.equal(byAction(controls(on), 'adaptive')[0]!.attrs.checked, '');
    const record = { ...ANSWER_RECORD, plausibility: 0.1, adaptive: true, adaptiveAlpha: { mean: 0.123, min: 0, max: 0.5 } };
    const rec = textOf(section(renderSummary({ run: { ...on, record } }, { recordOpen: true, chunksOpen: false }), 'record')!);
    assert.match(rec, /Plausibility β\s*0\.1/);
    assert.match(rec, /Adaptive α\s*α_t mean 0\.12 \(min 0, max 0\.5\)/);
    const { adaptiveAlpha: _unused, ...plain } = record;
    const off = textOf(section(renderSummary({ run: { ...run, record: { ...plain, plausibility: 0, adaptive: false } } }, ui), 'record')!);
    assert.match(off, /Plausibility β\s*0 \(off\)/);
    assert.doesNotMatch(off, /Adaptive/);
  });

  it('both tasks have the extractive checkbox (on unless the run says off), labelled per task; the record says when it was on', () => {
    const controls = (r: SummaryRunView) => section(renderSummary({ run: r }, ui), 'controls')!;
    const ask: SummaryRunView = { ...run, task: 'ask', question: 'Where is it?', alpha: 1 };
    const box = (r: SummaryRunView) => byAction(controls(r), 'extractive')[0]!;
    assert.equal(box(ask).tag, 'vscode-checkbox');
    assert.equal(box(ask).attrs['data-key'], 'extractive', 'a focus key, so the checkbox keeps keyboard focus across renders');
    assert.match(textOf(box(ask)), /^Quote the document \(extractive\)$/);
    assert.match(String(box(ask).attrs.title), /one span of the document/);
    assert.equal(box(ask).attrs.checked, '', 'absent (older answers): the worker default, on');
    assert.equal(box({ ...ask, extractive: true }).attrs.checked, '');
    assert.equal(box({ ...ask, extractive: false }).attrs.checked, undefined);
    const all = findAll(controls(ask), (n) => n.tag === 'vscode-checkbox').map((n) => n.attrs['data-action']);
    assert.deepEqual(all, ['adaptive', 'extractive', 'compare'], 'next to the adaptive-α checkbox');

    // Summaries quote whole sentences.
    assert.equal(byAction(controls(run), 'extractive').length, 1, 'a summary has the checkbox too');
    assert.equal(box(run).tag, 'vscode-checkbox');
    assert.equal(box(run).attrs['data-key'], 'extractive');
    assert.match(textOf(box(run)), /^Quote whole sentences \(extractive\)$/);
    assert.match(String(box(run).attrs.title), /whole sentences of the document/);
    assert.equal(box(run).attrs.checked, '', 'absent (older summaries): the worker default, on');
    assert.equal(box({ ...run, extractive: true }).attrs.checked, '');
    assert.equal(box({ ...run, extractive: false }).attrs.checked, undefined);
    assert.deepEqual(
      findAll(controls(run), (n) => n.tag === 'vscode-checkbox').map((n) => n.attrs['data-action']),
      ['adaptive', 'extractive', 'compare'],
    );

    const record = { ...ANSWER_RECORD, extractive: true };
    const rec = (r: typeof record, of: SummaryRunView = ask) =>
      textOf(section(renderSummary({ run: { ...of, record: r } }, { recordOpen: true, chunksOpen: false }), 'record')!);
    assert.match(rec(record), /Extractive\s*on: the output is one span of the document/);
    assert.doesNotMatch(rec({ ...record, extractive: false }), /Extractive/);
    assert.match(rec(record, run), /Extractive\s*on: whole sentences of the document/);
    assert.doesNotMatch(rec(record, run), /one span/);
    assert.doesNotMatch(rec({ ...record, extractive: false }, run), /Extractive/);
  });

  it('answers show the question', () => {
    const sections = renderSummary({ run: { ...run, task: 'ask', question: 'Where is it?' } }, ui);
    assert.match(textOf(section(sections, 'header')!), /^Answer.*Question: Where is it\?/);
  });

  it('plots the α sweep as bars with an accessible description and a table', () => {
    const state: SummaryViewState = {
      run,
      sweep: {
        status: 'running',
        alphas: [0, 0.5, 1, 2],
        points: [
          { alpha: 0, tokens: 10, positiveShare: 0.3, meanReliance: 0.1, text: 'x' },
          { alpha: 0.5, tokens: 10, positiveShare: 0.6, meanReliance: 0.4, text: 'y' },
        ],
      },
    };
    const sw = section(renderSummary(state, ui), 'sweep')!;
    const svg = findAll(sw, (n) => n.tag === 'svg')[0]!;
    assert.equal(svg.svg, true);
    assert.equal(svg.attrs.role, 'img');
    assert.match(svg.attrs['aria-label']!, /α 0: 30%; α 0\.5: 60%; α 1: pending; α 2: pending/);
    assert.equal(findAll(svg, (n) => n.tag === 'rect' && n.attrs.class === 'bar').length, 2);
    assert.equal(findAll(svg, (n) => n.tag === 'rect' && n.attrs.class === 'bar pending').length, 2);
    assert.match(textOf(sw), /Running α 1 \(3 of 4\)/);
    assert.equal(findAll(sw, (n) => n.tag === 'tr').length, 3);
    // Taller bar for the larger share.
    const bars = findAll(sweepPlot(state.sweep!), (n) => n.attrs.class === 'bar');
    assert.ok(Number(bars[1]!.attrs.height) > Number(bars[0]!.attrs.height));
  });

  it('renders untrusted output text as text', () => {
    const evil: SummaryRunView = { ...run, cad: { text: '<script>x</script>', tokens: [{ text: '<script>x</script>', reliance: 1 }], alpha: 0.5 } };
    const html = toHtml(section(renderSummary({ run: evil }, ui), 'outputs')!);
    assert.ok(!html.includes('<script>'));
    assert.ok(html.includes('&lt;script&gt;'));
  });

  it('renders a tokenless merged summary as plain text, and the share of supported tokens', () => {
    const merged = renderSummary({ run: { ...run, cad: { text: 'Merged text.', tokens: [], alpha: 0.5, stoppedBy: 'max-tokens' } } }, ui);
    assert.match(textOf(section(merged, 'outputs')!), /Merged text\./);
    assert.equal(supportedShare(run.cad), 2 / 5);
    assert.equal(tokenNodes({ text: '', tokens: [{ text: '\n', reliance: 1 }], alpha: 0 }, 'cad').length, 0);
  });

  it('the same state renders to the same markup (so unchanged sections are not rebuilt)', () => {
    const a = renderSummary({ run }, ui).map((x) => toHtml(x.node));
    const b = renderSummary(JSON.parse(JSON.stringify({ run })), ui).map((x) => toHtml(x.node));
    assert.deepEqual(a, b);
    const streaming = renderSummary({ run: { ...run, status: 'running' } }, ui);
    const more = renderSummary({ run: { ...run, status: 'running', cad: { ...run.cad, tokens: [...run.cad.tokens, { text: ' More', reliance: 0 }] } } }, ui);
    assert.equal(toHtml(section(streaming, 'controls')!), toHtml(section(more, 'controls')!), 'a streamed token does not touch the slider');
  });
});

describe('summary page inputs', () => {
  it('accepts host messages of the right shape only', () => {
    assert.ok(isHostToSummaryView({ type: 'state', state: {} }));
    assert.ok(isHostToSummaryView({ type: 'notice', notice: { level: 'info', text: 'Copied.' } }));
    assert.ok(!isHostToSummaryView({ type: 'state', state: null }));
    assert.ok(!isHostToSummaryView({ type: 'notice', notice: { level: 'loud', text: 'x' } }));
    assert.ok(!isHostToSummaryView({ type: 'eval' }));
    assert.ok(!isHostToSummaryView(undefined));
  });

  it('sanitizes persisted UI state', () => {
    assert.deepEqual(sanitizeSummaryUiState({ recordOpen: true, chunksOpen: 'yes', extra: 1 }), { recordOpen: true, chunksOpen: false });
    assert.equal(sanitizeSummaryUiState(null), undefined);
  });
});

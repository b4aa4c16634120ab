/**
 * The rewrite panel's page, without a browser: the word diff, the timeline and chart view models, the controls
 * form, the checks on what reaches the page, and the pure render (virtual DOM → HTML string).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RewriteControls, RewriteRunView, RewriteViewState } from '../../src/protocol/webview';
import { controlsFromForm, randomSeed } from '../../webview/rewrite/form';
import { isHostToRewriteView, sanitizeRewriteUiState } from '../../webview/rewrite/messages';
import { CHART, chartModel, framesOf, previewText, settledRuns, timelinePosition } from '../../webview/rewrite/timeline';
import { diffNodes, formatNumber, renderRewrite, type Section } from '../../webview/rewrite/view';
import { MAX_DIFF_CELLS, diffStats, splitWords, wordDiff, type DiffOp } from '../../webview/rewrite/wordDiff';
import { findAll, textOf, toHtml, type VNode } from '../../webview/common/vdom';
import { withOverrides, type Override } from '../helpers/override';
import { rewriteControls, rewriteRecord, rewriteState, rewriteStep } from '../helpers/rewriteFixtures';

const controls = rewriteControls({ steps: 50 });

const run = (over: Override<RewriteRunView> = {}): RewriteRunView =>
  withOverrides(
    {
      id: 3,
      status: 'done',
      mode: 'rewrite',
      source: { fileName: 'notes.md', scope: 'lines 3–4', languageId: 'markdown' },
      original: 'The film was dull.',
      promptTail: 'Yesterday I went to the cinema.',
      controls,
      blocks: 2,
      steps: [
        rewriteStep(0, 4, ' a b', 0.1),
        rewriteStep(0, 3, ' The b', 0.3),
        rewriteStep(0, 2, ' The film', 0.6),
        rewriteStep(0, 1, ' The film', 0.8),
        rewriteStep(1, 4, ' x', 0.5),
        rewriteStep(1, 3, ' was lovely.', 0.9),
      ],
      output: { text: 'The film was lovely.', stoppedBy: 'max-tokens' },
      scores: [{ attribute: 'sentiment', target: 'positive', probabilities: { negative: 0.1, positive: 0.9 } }],
      record: rewriteRecord(controls),
    },
    over,
  );
const state = (r?: RewriteRunView): RewriteViewState => rewriteState(r, 20);
const ui = { recordOpen: false };
const section = (sections: Section[], key: string) => sections.find((x) => x.key === key)?.node;
const by = (n: VNode, pred: (v: VNode) => boolean) => findAll(n, pred);
const byAction = (n: VNode, action: string) => by(n, (v) => v.attrs['data-action'] === action);
const byControl = (n: VNode, c: string) => by(n, (v) => v.attrs['data-control'] === c);
const apply = (ops: DiffOp[]) => ({
  a: ops
    .filter((o) => o.op !== 'ins')
    .map((o) => o.text)
    .join(''),
  b: ops
    .filter((o) => o.op !== 'del')
    .map((o) => o.text)
    .join(''),
});

describe('word diff', () => {
  it('splits into words (with inner apostrophes), white space and punctuation; joined they give the text back', () => {
    assert.deepEqual(splitWords("Don't stop, it's 3.5 km!"), ["Don't", ' ', 'stop', ',', ' ', "it's", ' ', '3', '.', '5', ' ', 'km', '!']);
    const t = '  Ünïcödé — text\twith\nlines  ';
    assert.equal(splitWords(t).join(''), t);
  });

  it('reconstructs both texts from its runs', () => {
    const cases = [
      ['The film was dull and far too long.', 'The film was bright and lovely.'],
      ['', 'new text'],
      ['old text', ''],
      ['same', 'same'],
      ['a b c d', 'a x c y'],
      ['Hello, world.', 'Hello world!'],
    ];
    for (const [a, b] of cases) {
      const ops = wordDiff(a!, b!);
      assert.deepEqual(apply(ops), { a: a!, b: b! }, `${a} → ${b}`);
      assert.ok(
        ops.every((o, i) => i === 0 || o.op !== ops[i - 1]!.op),
        'adjacent runs differ',
      );
    }
  });

  it('marks only the changed words, and joins changes separated by white space into one hunk', () => {
    assert.deepEqual(wordDiff('The film was dull and far too long.', 'The film was bright and lovely.'), [
      { op: 'eq', text: 'The film was ' },
      { op: 'del', text: 'dull' },
      { op: 'ins', text: 'bright' },
      { op: 'eq', text: ' and ' },
      { op: 'del', text: 'far too long' },
      { op: 'ins', text: 'lovely' },
      { op: 'eq', text: '.' },
    ]);
    assert.deepEqual(wordDiff('same', 'same'), [{ op: 'eq', text: 'same' }]);
  });

  it('counts words removed and added', () => {
    assert.deepEqual(diffStats(wordDiff('The film was dull and far too long.', 'The film was bright and lovely.')), { deleted: 4, inserted: 2 });
    assert.deepEqual(diffStats(wordDiff('a, b', 'a, b')), { deleted: 0, inserted: 0 });
  });

  it('falls back to one replacement for very long middles (bounded work)', () => {
    const n = Math.ceil(Math.sqrt(MAX_DIFF_CELLS)) + 10;
    const a = Array.from({ length: n }, (_, i) => `a${i}`).join(' ');
    const b = Array.from({ length: n }, (_, i) => `b${i}`).join(' ');
    const ops = wordDiff(`start ${a} end`, `start ${b} end`);
    assert.deepEqual(
      ops.map((o) => o.op),
      ['eq', 'del', 'ins', 'eq'],
    );
    assert.deepEqual(apply(ops), { a: `start ${a} end`, b: `start ${b} end` });
  });

  it('renders deletions and insertions as del / ins with words for screen readers', () => {
    const d = diffNodes('The film was dull.', 'The film was lovely.');
    const html = d.nodes.map(toHtml).join('');
    assert.equal(
      html,
      'The film was <del><span class="sr-only">[removed: </span>dull<span class="sr-only">] </span></del><ins><span class="sr-only">[added: </span>lovely<span class="sr-only">] </span></ins>.',
    );
    assert.deepEqual([d.deleted, d.inserted], [1, 1]);
  });
});

describe('timeline view model', () => {
  it('follows the newest step of a running run; shows the last step of a finished one', () => {
    const r = run({ status: 'running' });
    const p = timelinePosition(r, {})!;
    assert.deepEqual([p.block, p.index, p.frames.length, p.live, p.blocks], [1, 1, 2, true, 2]);
    const d = timelinePosition(run(), {})!;
    assert.equal(d.live, false);
    assert.equal(timelinePosition(run({ steps: [] }), {}), undefined);
  });

  it('scrubs to a block and step, clamped to what exists', () => {
    const p = timelinePosition(run(), { block: 0, step: 1 })!;
    assert.deepEqual([p.block, p.index, p.frames[p.index]!.t], [0, 1, 3]);
    const q = timelinePosition(run(), { block: 9, step: -4 })!;
    assert.deepEqual([q.block, q.index], [1, 0]);
    assert.equal(timelinePosition(run({ status: 'running' }), { step: 0 })!.live, false, 'scrubbing stops following');
    assert.deepEqual(
      framesOf(run().steps, 0).map((f) => f.t),
      [4, 3, 2, 1],
    );
  });

  it('marks the words that changed since the previous step', () => {
    assert.deepEqual(settledRuns(undefined, ' a b'), [{ text: ' a b', changed: false }]);
    assert.deepEqual(settledRuns(' a b', ' The b'), [
      { text: ' ', changed: false },
      { text: 'The', changed: true },
      { text: ' b', changed: false },
    ]);
    assert.deepEqual(settledRuns(' The film', ' The film'), [{ text: ' The film', changed: false }]);
  });

  it('previews the output so far: the newest text of each block', () => {
    assert.equal(previewText(run()), 'The film was lovely.');
    assert.equal(previewText(run({ steps: [] })), '');
  });
});

describe('score chart', () => {
  const frames = framesOf(run().steps, 0);

  it('draws p(target) over the steps within the plot, with a marker at the shown step', () => {
    const m = chartModel(frames, { attribute: 'sentiment', label: 'positive' }, 1);
    assert.equal(m.points.length, 4);
    assert.ok(m.points.every((p) => p.x >= CHART.left && p.x <= CHART.width - CHART.right && p.y >= CHART.top && p.y <= CHART.height - CHART.bottom));
    assert.ok(m.points[0]!.y > m.points[3]!.y, 'a rising score goes up');
    assert.match(m.path, /^M[\d.]+ [\d.]+(L[\d.]+ [\d.]+){3}$/);
    assert.equal(m.markerX, m.points[1]!.x);
    assert.equal(m.current, 0.3);
    assert.equal(m.summary, 'sentiment → positive: p 10% at t 4, 80% at t 1; 30% at the shown step (t 3/4).');
  });

  it('leaves a gap where a step was not scored, and says so when nothing was', () => {
    const gappy = [rewriteStep(0, 3, '', 0.2), rewriteStep(0, 2, '', null), rewriteStep(0, 1, '', 0.9)];
    const m = chartModel(gappy, { attribute: 'sentiment', label: 'positive' }, 1);
    assert.equal((m.path.match(/M/g) ?? []).length, 2);
    assert.equal(m.current, null);
    const none = chartModel([rewriteStep(0, 1, '', null)], { attribute: 'sentiment', label: 'positive' }, 0);
    assert.equal(none.path, '');
    assert.match(none.summary, /not scored yet/);
    const one = chartModel([rewriteStep(0, 1, '', 0.5)], { attribute: 'sentiment', label: 'positive' }, 0);
    assert.equal(one.points[0]!.x, CHART.left + (CHART.width - CHART.left - CHART.right) / 2);
  });
});

describe('controls form', () => {
  const fields = {
    direction: { sentiment: 'negative', style: '' },
    lambda: { sentiment: '35', style: '20' },
    strength: '0.7',
    steps: '30',
    topP: '0.9',
    projection: 'greedy',
    tokens: '40',
    seed: '77',
  };

  it('reads every knob; attributes without a direction are not steered', () => {
    assert.deepEqual(controlsFromForm(fields, controls, 20), {
      targets: [{ attribute: 'sentiment', label: 'negative', lambda: 35 }],
      strength: 0.7,
      steps: 30,
      topP: 0.9,
      projection: 'greedy',
      tokens: 40,
      seed: 77,
    });
  });

  it('clamps and rounds numbers; unreadable ones keep the previous value; an empty seed means random', () => {
    const c = controlsFromForm(
      { ...fields, lambda: { sentiment: '5000' }, strength: '0', steps: '12.6', topP: 'abc', projection: 'beam', tokens: '', seed: '' },
      controls,
      20,
    );
    assert.deepEqual(c, {
      targets: [{ attribute: 'sentiment', label: 'negative', lambda: 1000 }],
      strength: 0.05,
      steps: 13,
      topP: 0.95,
      projection: 'sampling',
      tokens: 24,
    });
    assert.equal('seed' in c, false);
    const fresh = controlsFromForm({ direction: { style: 'technical' }, lambda: {} }, controls, 15);
    assert.deepEqual(fresh.targets, [{ attribute: 'style', label: 'technical', lambda: 15 }], 'a newly steered attribute starts at the default λ');
    assert.equal(fresh.seed, 1234, 'no seed field: keep the seed');
  });

  it('reads the minimum of new tokens: rounded and clamped; empty keeps what the run had', () => {
    assert.equal(controlsFromForm({ ...fields, minTokens: '6.4' }, controls, 20).minTokens, 6);
    assert.equal(controlsFromForm({ ...fields, minTokens: '9000' }, controls, 20).minTokens, 512);
    assert.equal(controlsFromForm({ ...fields, minTokens: '' }, { ...controls, minTokens: 4 }, 20).minTokens, 4);
    assert.equal('minTokens' in controlsFromForm({ ...fields, minTokens: '' }, controls, 20), false, 'no value: the worker default');
  });

  it('random seeds are non-negative 31-bit integers', () => {
    assert.equal(
      randomSeed(() => 0),
      0,
    );
    assert.equal(
      randomSeed(() => 1 - 2 ** -40),
      2 ** 31 - 1,
    );
  });
});

describe('what reaches the page', () => {
  it('accepts state and notices only', () => {
    assert.ok(isHostToRewriteView({ type: 'state', state: state() }));
    assert.ok(isHostToRewriteView({ type: 'notice', notice: { level: 'info', text: 'ok' } }));
    for (const m of [
      null,
      {},
      { type: 'state' },
      { type: 'state', state: { classifiers: [] } },
      { type: 'notice', notice: { level: 'loud', text: 'x' } },
      { type: 'eval' },
    ])
      assert.equal(isHostToRewriteView(m), false, JSON.stringify(m));
  });

  it('keeps only well-formed UI state', () => {
    assert.equal(sanitizeRewriteUiState('x'), undefined);
    assert.deepEqual(sanitizeRewriteUiState({ recordOpen: 'yes', runId: -1, block: 1.5, step: 2 }), { recordOpen: false, step: 2 });
    assert.deepEqual(sanitizeRewriteUiState({ recordOpen: true, runId: 3, draft: controls }), { recordOpen: true, runId: 3, draft: controls });
    assert.deepEqual(sanitizeRewriteUiState({ recordOpen: true, draft: { ...controls, steps: 0 } }), { recordOpen: true });
  });
});

describe('rewrite view', () => {
  it('without a run, says how to start one', () => {
    const sections = renderRewrite(state(), ui);
    assert.deepEqual(
      sections.map((x) => x.key),
      ['empty'],
    );
    assert.match(textOf(sections[0]!.node), /Rewrite Selection…/);
    assert.match(textOf(sections[0]!.node), /Continue with Diffusion/);
  });

  it('a finished rewrite: header, controls, diff with Accept/Reject, timeline, chart, scores, record', () => {
    const sections = renderRewrite(state(run()), ui);
    assert.deepEqual(
      sections.map((x) => x.key),
      ['header', 'controls', 'result', 'timeline', 'charts', 'scores', 'record'],
    );
    assert.match(textOf(section(sections, 'header')!), /Rewrite · notes\.md · lines 3–4/);
    const result = section(sections, 'result')!;
    assert.equal(by(result, (n) => n.tag === 'del').length >= 1 && by(result, (n) => n.tag === 'ins').length >= 1, true);
    assert.match(textOf(result), /1 word removed, 1 word added · kept the length of the original/);
    const accept = byAction(result, 'accept')[0]!;
    assert.equal(accept.attrs.disabled, undefined);
    assert.match(textOf(accept), /Replace Selection/);
    assert.match(accept.attrs.title!, /one undo step/);
    assert.equal(byAction(result, 'reject').length, 1);
    const scores = section(sections, 'scores')!;
    assert.match(textOf(scores), /sentiment.*negative.*10%.*positive \(target\).*90%/);
    assert.equal(by(scores, (n) => n.tag === 'meter').length, 2);
    assert.equal(section(sections, 'record')!.attrs.open, undefined);
    assert.equal(renderRewrite(state(run()), { recordOpen: true }).find((x) => x.key === 'record')!.node.attrs.open, '');
    assert.match(textOf(section(sections, 'record')!), /Seed1234/);
  });

  it('every control has a label; λ sliders and numbers are disabled for unsteered attributes', () => {
    const c = section(renderRewrite(state(run()), ui), 'controls')!;
    const fields = by(c, (n) => n.tag === 'input' || n.tag === 'select');
    const labelFor = new Set(by(c, (n) => n.tag === 'label').map((l) => l.attrs.for));
    for (const f of fields) assert.ok(labelFor.has(f.attrs.id) || f.attrs['aria-label'] || f.attrs['aria-labelledby'], `unlabelled ${toHtml(f).slice(0, 80)}`);
    const dirs = byControl(c, 'direction');
    assert.deepEqual(
      dirs.map((d) => d.attrs['data-attribute']),
      ['sentiment', 'style'],
    );
    const selected = (d: VNode) => by(d, (o) => o.tag === 'option' && o.attrs.selected !== undefined)[0]!.attrs.value;
    assert.deepEqual(dirs.map(selected), ['positive', '']);
    const lambdas = byControl(c, 'lambda');
    assert.deepEqual(
      lambdas.map((l) => [l.attrs.value, l.attrs.disabled]),
      [
        ['20', undefined],
        ['20', ''],
      ],
    );
    const ranges = byControl(c, 'lambda-range');
    assert.deepEqual([ranges[0]!.attrs.min, ranges[0]!.attrs.max, ranges[0]!.attrs['aria-valuetext']], ['0', '1000', 'λ 20']);
    assert.equal(byControl(c, 'strength').length, 1, 'rewrite has an edit strength');
    assert.equal(byControl(c, 'tokens').length, 0);
    assert.equal(byControl(c, 'seed')[0]!.attrs.value, '1234');
    assert.equal(byControl(c, 'projection').length, 1);
    assert.equal(byAction(c, 'rerun').length, 1);
  });

  it('the controls show an unsaved draft over the run’s knobs', () => {
    const draft = { ...controls, targets: [{ attribute: 'style', label: 'technical', lambda: 55 }], steps: 10 };
    delete (draft as Partial<RewriteControls>).seed;
    const c = section(renderRewrite(state(run()), { recordOpen: false, draft }), 'controls')!;
    assert.deepEqual(
      byControl(c, 'lambda').map((l) => l.attrs.value),
      ['20', '55'],
    );
    assert.equal(byControl(c, 'steps')[0]!.attrs.value, '10');
    assert.equal(byControl(c, 'seed')[0]!.attrs.value, '');
    assert.equal(byControl(c, 'seed')[0]!.attrs.placeholder, 'random');
  });

  it('the timeline shows t/T, a scrub slider with a spoken value, and marks settled words', () => {
    const t = section(renderRewrite(state(run()), { recordOpen: false, block: 0, step: 1 }), 'timeline')!;
    const stepInput = byControl(t, 'tl-step')[0]!;
    assert.deepEqual([stepInput.attrs.min, stepInput.attrs.max, stepInput.attrs.value], ['0', '3', '1']);
    assert.equal(stepInput.attrs['aria-valuetext'], 'step 2 of 4, t 3 of 4');
    assert.match(textOf(t), /t = 3 \/ 4/);
    assert.deepEqual(by(t, (n) => n.tag === 'mark').map(textOf), ['The']);
    assert.match(textOf(t), /1 change since the previous step \(marked\)/);
    assert.equal(byControl(t, 'tl-block')[0]!.attrs.value, '0');
    assert.match(textOf(section(renderRewrite(state(run()), { recordOpen: false, block: 0, step: 1 }), 'charts')!), /block 1/);
  });

  it('the chart is an SVG image with a description, one per steered attribute', () => {
    const charts = section(renderRewrite(state(run()), ui), 'charts')!;
    const svgs = by(charts, (n) => n.tag === 'svg');
    assert.equal(svgs.length, 1);
    assert.equal(svgs[0]!.attrs.role, 'img');
    assert.match(svgs[0]!.attrs['aria-label']!, /sentiment → positive: p 50% at t 4, 90% at t 3/);
    assert.equal(by(charts, (n) => n.tag === 'path').length, 1);
    assert.equal(
      renderRewrite(state(run({ controls: { ...controls, targets: [] } })), ui).some((x) => x.key === 'charts'),
      false,
      'no steering: no chart',
    );
  });

  it('while running: Cancel, a live timeline and preview; Accept disabled (the document is not changed meanwhile)', () => {
    const r = run({ status: 'running', output: undefined, scores: undefined, record: undefined });
    const sections = renderRewrite(state(r), ui);
    assert.deepEqual(
      sections.map((x) => x.key),
      ['header', 'controls', 'result', 'timeline', 'charts'],
    );
    assert.equal(byAction(section(sections, 'header')!, 'cancel').length, 1);
    assert.match(textOf(section(sections, 'header')!), /block 2 of 2, t 3\/4/);
    assert.match(textOf(section(sections, 'timeline')!), /live/);
    assert.equal(byAction(section(sections, 'result')!, 'accept')[0]!.attrs.disabled, '');
    assert.match(textOf(section(sections, 'result')!), /The film was lovely\.[\s\S]*In progress/);
    const loading = renderRewrite(state(run({ status: 'running', steps: [], output: undefined })), ui);
    assert.match(textOf(section(loading, 'header')!), /Loading the model/);
    assert.match(textOf(section(loading, 'timeline')!), /Waiting for the first step/);
  });

  it('a continuation shows the prompt and the new text; an applied run cannot be accepted again', () => {
    const r = run({
      mode: 'continue',
      original: '',
      source: { fileName: 'story.txt', scope: 'line 7, column 12', languageId: 'plaintext' },
      output: { text: 'and it was lovely.', stoppedBy: 'eos' },
    });
    const sections = renderRewrite(state(r), ui);
    const result = section(sections, 'result')!;
    assert.match(textOf(result), /Yesterday I went to the cinema\. \[continuation: and it was lovely\.\]/);
    assert.match(textOf(result), /the model ended the text here/);
    assert.match(textOf(byAction(result, 'accept')[0]!), /Insert at Cursor/);
    assert.equal(byControl(section(sections, 'controls')!, 'tokens').length, 1);
    assert.equal(byControl(section(sections, 'controls')!, 'strength').length, 0);
    assert.equal(byControl(section(sections, 'controls')!, 'minTokens').length, 1, 'a continuation has the minimum of new tokens');
    const applied = renderRewrite(state({ ...r, applied: true }), ui);
    assert.equal(byAction(section(applied, 'result')!, 'accept')[0]!.attrs.disabled, '');
    assert.match(textOf(section(applied, 'header')!), /Applied to story\.txt; one Undo/);
  });

  it('warns when the document changed, and shows errors as alerts', () => {
    const changed = renderRewrite(state(run({ source: { fileName: 'notes.md', scope: 'lines 3–4', languageId: 'markdown', changed: true } })), ui);
    assert.match(textOf(section(changed, 'header')!), /has changed since this run started; Accept asks before it edits/);
    const err = renderRewrite(state(run({ status: 'error', message: 'steps must be an integer from 1 to 200', output: undefined })), ui);
    assert.equal(by(section(err, 'header')!, (n) => n.attrs.role === 'alert').length, 1);
  });

  it('model text is data, never markup', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const html = renderRewrite(state(run({ original: evil, output: { text: `${evil}!`, stoppedBy: 'eos' }, steps: [rewriteStep(0, 1, evil, 0.5)] })), ui)
      .map((x) => toHtml(x.node))
      .join('');
    assert.ok(!html.includes('<img'), 'escaped');
  });

  it('numbers show without float noise', () => {
    assert.equal(formatNumber(0.1 + 0.2), '0.3');
    assert.equal(formatNumber(20), '20');
  });
});

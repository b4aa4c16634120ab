/**
 * The vscode-free host side of the collaborate panel: the check of the page's messages, the run state (the worker's
 * result as the panel shows it: ledger, record, changed spans, progress), what workspaceState keeps, and the
 * collaboration settings.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCollabViewToHost, refuseInstruction, sanitizeCollabControls } from '../../src/extension/collabMessages';
import {
  MAX_LEDGER_ENTRIES,
  finishedRun,
  formatBytes,
  ledgerView,
  normalizeSpans,
  restorePersisted,
  startedRun,
  stepProgress,
} from '../../src/extension/collabState';
import { settingDef, toCollabSettings, type SettingKey } from '../../src/extension/settingsTable';
import type { CollabControls } from '../../src/protocol/webview';
import { COLLAB_DEFAULT_ALPHA, COLLAB_DEFAULT_LAMBDA_USER, type CollabRunResult } from '../../src/protocol/worker';

const CONTROLS: CollabControls = { instruction: 'How often does the ferry leave?', lambdaUser: 0.3, alpha: 1, core: 'local', compare: true, userOnly: false };

const RESULT: CollabRunResult = {
  text: 'Every forty minutes.',
  tokens: [5, 6, 7],
  stoppedBy: 'eos',
  coreOnly: { text: 'Every day.' },
  userOnly: { text: 'Forty minutes.' },
  passages: [{ itemId: 'k-3#kb/market.md', title: 'kb/market.md', text: 'The ferry leaves every forty minutes.', score: 2.5 }],
  changedByUser: [
    { start: 6, end: 11 },
    { start: 0, end: 5 },
    { start: 10, end: 19 },
    { start: 40, end: 50 },
  ],
  ledger: {
    coreLocation: 'http://127.0.0.1:8000',
    requests: 2,
    bytesSent: 2048,
    bytesReceived: 4096,
    sent: [
      { step: 1, block: 0, tokenIds: [1, 2, 3], note: 'instruction' },
      { step: 2, block: 0, tokenIds: [4], note: 'block tokens' },
    ],
  },
  record: {
    method: 'diffusion',
    core: { packId: 'concert-ssd-core', location: 'http://127.0.0.1:8000' },
    user: { packId: 'concert-ssd-user', manifestSha256: 'a'.repeat(64), modelSha256: 'b'.repeat(64) },
    seed: 7,
    knobs: { lambdaUser: 0.3, alpha: 1, steps: 50, topP: 0.5, maxTokens: 24, minTokens: 8 },
    promptTokens: { core: 12, userWithKnowledge: 80, userWithoutKnowledge: 12 },
    knowledgeTokens: 68,
    provider: 'cpu',
    device: 'CPU',
    durationMs: 1500,
  },
};

describe('collaborate panel messages', () => {
  it('accepts each message type with well-formed fields', () => {
    for (const m of [
      { type: 'ready' },
      { type: 'cancel' },
      { type: 'setToken' },
      { type: 'openSettings' },
      { type: 'showKnowledge' },
      { type: 'run', controls: CONTROLS },
      { type: 'run', controls: { ...CONTROLS, instruction: '', core: 'remote', userOnly: true } },
      { type: 'copy', variant: 'collab' },
      { type: 'copy', variant: 'core' },
      { type: 'insert', variant: 'user' },
    ])
      assert.equal(isCollabViewToHost(m), true, JSON.stringify(m));
  });

  it('refuses anything else: unknown types, out-of-range knobs, wrong variants, oversized instructions', () => {
    for (const m of [
      null,
      [],
      'run',
      { type: 'rerun' },
      { type: 'constructor' },
      { type: 'run' },
      { type: 'run', controls: { ...CONTROLS, lambdaUser: 1.5 } },
      { type: 'run', controls: { ...CONTROLS, lambdaUser: Number.NaN } },
      { type: 'run', controls: { ...CONTROLS, alpha: -1 } },
      { type: 'run', controls: { ...CONTROLS, core: 'cloud' } },
      { type: 'run', controls: { ...CONTROLS, compare: 'yes' } },
      { type: 'run', controls: { ...CONTROLS, instruction: 'x'.repeat(2001) } },
      { type: 'run', controls: { ...CONTROLS, instruction: 42 } },
      { type: 'copy', variant: 'cad' },
      { type: 'insert' },
    ])
      assert.equal(isCollabViewToHost(m), false, JSON.stringify(m));
  });

  it('sanitizing controls keeps exactly the known fields', () => {
    assert.deepEqual(sanitizeCollabControls({ ...CONTROLS, extra: '<script>' }), CONTROLS);
  });

  it('an empty or too long instruction is refused with a reason', () => {
    assert.equal(refuseInstruction('Why?'), undefined);
    assert.match(refuseInstruction('  \n') ?? '', /Type an instruction/);
    assert.match(refuseInstruction('x'.repeat(2001)) ?? '', /under 2000/);
  });
});

describe('collaborate run state', () => {
  it('a finished run carries the outputs, the passages, the ledger and the record', () => {
    const run = finishedRun({ ...startedRun(3, CONTROLS, 'local worker', 2), progress: { step: 1, total: 2 } }, RESULT);
    assert.equal(run.status, 'done');
    assert.equal(run.progress, undefined);
    assert.equal(run.text, 'Every forty minutes.');
    assert.equal(run.coreOnly, 'Every day.');
    assert.equal(run.userOnly, 'Forty minutes.');
    assert.equal(run.coreLocation, 'http://127.0.0.1:8000');
    assert.deepEqual(run.passages?.[0], RESULT.passages[0]);
    assert.deepEqual(run.ledger, { coreLocation: 'http://127.0.0.1:8000', requests: 2, bytesSent: 2048, bytesReceived: 4096, sent: RESULT.ledger.sent });
    const rows = Object.fromEntries((run.record ?? []).map((r) => [r.name, r.value]));
    assert.equal(rows.Seed, '7');
    assert.equal(rows['λ_user, α'], '0.3, 1');
    assert.match(rows['Core model'] ?? '', /concert-ssd-core \(http:\/\/127\.0\.0\.1:8000; manifest n\/a\)/);
    assert.equal(rows.Time, '1.5 s');
  });

  it('changed spans are clamped to the text, sorted and merged', () => {
    assert.deepEqual(normalizeSpans(RESULT.changedByUser, 20), [
      { start: 0, end: 5 },
      { start: 6, end: 19 },
    ]);
    assert.deepEqual(
      normalizeSpans(
        [
          { start: 3, end: 3 },
          { start: 1.5, end: 4 },
        ],
        20,
      ),
      [],
    );
  });

  it('the ledger of a local core says so, and a long ledger is capped with a count', () => {
    assert.equal(ledgerView({ coreLocation: 'local', requests: 0, bytesSent: 0, bytesReceived: 0, sent: [] }).coreLocation, 'local worker');
    const sent = Array.from({ length: MAX_LEDGER_ENTRIES + 7 }, (_, i) => ({
      step: i,
      block: 0,
      tokenIds: Array.from({ length: 300 }, (_, j) => j),
      note: 'block',
    }));
    const v = ledgerView({ coreLocation: 'https://core.example', requests: sent.length, bytesSent: 1, bytesReceived: 1, sent });
    assert.equal(v.sent.length, MAX_LEDGER_ENTRIES);
    assert.equal(v.droppedEntries, 7);
    assert.equal(v.sent[0]?.tokenIds?.length, 256);
    assert.equal(formatBytes(2048), '2.0 KB');
  });

  it('progress counts steps over all blocks and names the decode', () => {
    assert.deepEqual(stepProgress({ progressToken: 't', variant: 'core-only', block: 1, blocks: 3, t: 40, T: 50, text: '', scores: {} }), {
      step: 61,
      total: 150,
      message: 'core alone: block 2 of 3, step t 40/50',
    });
  });

  it('restores what workspaceState kept; a run cut off by the window closing shows as cancelled', () => {
    assert.equal(restorePersisted(undefined), undefined);
    assert.equal(restorePersisted({ version: 2, controls: CONTROLS }), undefined);
    assert.equal(restorePersisted({ version: 1, controls: { ...CONTROLS, alpha: 99 } }), undefined);
    assert.deepEqual(restorePersisted({ version: 1, controls: CONTROLS }), { controls: CONTROLS });
    const running = { ...startedRun(4, CONTROLS, 'local worker', 1), progress: { step: 3, total: 9 } };
    const got = restorePersisted({ version: 1, controls: CONTROLS, run: running });
    assert.equal(got?.run?.status, 'cancelled');
    assert.equal(got?.run?.progress, undefined);
    const done = finishedRun(running, RESULT);
    assert.deepEqual(restorePersisted({ version: 1, controls: CONTROLS, run: done })?.run, done);
  });
});

describe('collaboration settings', () => {
  const read = (over: Partial<Record<SettingKey, unknown>>) => (key: SettingKey) => over[key];

  it('defaults to the protocol defaults and no remote core', () => {
    const { settings, warnings } = toCollabSettings(read({}));
    assert.deepEqual(settings, { lambdaUser: COLLAB_DEFAULT_LAMBDA_USER, alpha: COLLAB_DEFAULT_ALPHA, maxTokens: 24, compare: true });
    assert.deepEqual(warnings, []);
  });

  it('takes a remote core URL, and refuses what is not an http(s) URL', () => {
    assert.equal(toCollabSettings(read({ 'concert.collab.coreUrl': 'http://127.0.0.1:8000' })).settings.coreUrl, 'http://127.0.0.1:8000');
    const bad = toCollabSettings(read({ 'concert.collab.coreUrl': 'file:///etc/passwd', 'concert.collab.lambdaUser': 3 }));
    assert.equal(bad.settings.coreUrl, undefined);
    assert.equal(bad.settings.lambdaUser, COLLAB_DEFAULT_LAMBDA_USER);
    assert.equal(bad.warnings.length, 2);
  });

  it('the core URL is a restricted, machine-scoped setting (never from a workspace)', () => {
    const def = settingDef('concert.collab.coreUrl');
    assert.equal(def.scope, 'machine');
    assert.equal(def.restricted, true);
  });
});

/**
 * `concert collab` (issue #13) as a user runs it: a real process, the real worker and the bundled core and user
 * diffusion packs, offline. The core never reads the knowledge; λ_user = 0 is the core alone and λ_user = 1, α = 0 the
 * user alone, for the same seed; `collab/run` streams its steps through the diffusion progress notifications.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COLLAB_DEFAULT_LAMBDA_USER, Requests, type CollabRunResult, type DiffusionStepProgress } from '../../src/protocol/worker';
import { requireBuild, startClient } from '../helpers/worker';

const MODELS = path.resolve('models');
let dir: string;
let notes: string;

before(() => {
  requireBuild();
  for (const id of ['concert-ssd-core', 'concert-ssd-user']) assert.ok(existsSync(path.join(MODELS, id, 'concert.json')), `the bundled pack ${id} is missing`);
  dir = mkdtempSync(path.join(tmpdir(), 'concert-collab-'));
  notes = path.join(dir, 'notes.md');
  writeFileSync(
    notes,
    [
      '# Notes',
      '',
      'The capital of Belkania is Varnotte, a port on the river Ossel.',
      '',
      'Our team meets on Thursdays in the library.',
      '',
      'Belkania pays in rundels; one rundel is a hundred pips.',
    ].join('\n'),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

type CollabJson = CollabRunResult & { core_only?: { text: string }; user_only?: { text: string } };

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    // Offline: no proxy, no Hub endpoint that could be reached.
    env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '', HF_ENDPOINT: 'http://127.0.0.1:9', https_proxy: '', http_proxy: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const FAST = ['--steps', '10', '--tokens', '8', '--device', 'cpu', '--threads', '1'];

function collab(...args: string[]): CollabJson {
  const r = concert('collab', ...args, ...FAST, '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as CollabJson;
}

describe('concert collab with the bundled core and user packs', () => {
  it('answers offline with --knowledge: JSON with text, core_only, passages, ledger and the run record', () => {
    const r = collab('--instruction', 'What is the capital of Belkania?', '--knowledge', notes, '--compare', '--seed', '3');
    assert.equal(typeof r.text, 'string');
    assert.equal(typeof r.core_only?.text, 'string');
    assert.deepEqual(r.core_only, r.coreOnly);
    assert.equal(typeof r.user_only?.text, 'string');
    assert.ok(r.passages.length >= 1);
    assert.match(r.passages[0]!.text, /capital of Belkania is Varnotte/);
    assert.equal(r.passages[0]!.itemId, notes);
    assert.equal(r.passages[0]!.title, 'notes.md');
    assert.ok(r.passages[0]!.score > 0);
    // Only passages that match are read (the meeting note shares no word with the question).
    assert.ok(!r.passages.some((p) => /Thursdays/.test(p.text)));
    assert.equal(r.record.method, 'diffusion');
    assert.equal(r.record.core.packId, 'concert-ssd-core');
    assert.equal(r.record.core.location, 'local');
    assert.equal(r.record.user.packId, 'concert-ssd-user');
    assert.equal(r.record.seed, 3);
    assert.deepEqual(
      { lambdaUser: r.record.knobs.lambdaUser, alpha: r.record.knobs.alpha, steps: r.record.knobs.steps },
      { lambdaUser: COLLAB_DEFAULT_LAMBDA_USER, alpha: 1, steps: 10 },
    );
    // The core reads the instruction only: its context is the user's without-knowledge context.
    assert.equal(r.record.promptTokens.core, r.record.promptTokens.userWithoutKnowledge);
    assert.ok(r.record.promptTokens.userWithKnowledge > r.record.promptTokens.core + r.record.knowledgeTokens - 2);
    assert.deepEqual({ ...r.ledger, summary: undefined }, { coreLocation: 'local', requests: 0, bytesSent: 0, bytesReceived: 0, sent: [], summary: undefined });
    assert.match(r.ledger.summary ?? '', /nothing left the machine/);
    for (const s of r.changedByUser) assert.ok(s.start >= 0 && s.start < s.end && s.end <= r.text.length);
    // Same seed, same answer.
    const again = collab('--instruction', 'What is the capital of Belkania?', '--knowledge', notes, '--compare', '--seed', '3');
    assert.equal(again.text, r.text);
  });

  it('λ_user = 0 is the core alone; λ_user = 1 with α = 0 is the user alone (same seed)', () => {
    const core = collab('--instruction', 'Which currency does Belkania use?', '--knowledge', notes, '--compare', '--seed', '5', '--lambda-user', '0');
    assert.equal(core.text, core.core_only!.text);
    assert.deepEqual(core.changedByUser, []);
    const user = collab(
      '--instruction',
      'Which currency does Belkania use?',
      '--knowledge',
      notes,
      '--compare',
      '--seed',
      '5',
      '--lambda-user',
      '1',
      '--alpha',
      '0',
    );
    assert.equal(user.text, user.user_only!.text);
    assert.equal(user.core_only!.text, core.core_only!.text, 'the core alone does not depend on λ_user');
  });

  it('runs the autoregressive baseline with the bundled causal LM (λ_user = 0 is its core prompt alone)', () => {
    const r = collab(
      '--instruction',
      'What is the capital of Belkania?',
      '--knowledge',
      notes,
      '--method',
      'autoregressive',
      '--compare',
      '--seed',
      '1',
      '--lambda-user',
      '0',
    );
    assert.equal(r.record.method, 'autoregressive');
    assert.equal(r.record.core.packId, 'concert-lm-small');
    assert.equal(r.text, r.core_only!.text);
    assert.match(r.passages[0]!.text, /Varnotte/);
  });

  it('prints the answer, the passages and the ledger for people', () => {
    const r = concert('collab', '--instruction', 'What is the capital of Belkania?', '--knowledge', notes, '--seed', '2', ...FAST);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes(`λ_user ${COLLAB_DEFAULT_LAMBDA_USER}, α 1, seed 2`), r.out);
    assert.match(r.out, /\[notes\.md, BM25 [\d.]+\] The capital of Belkania is Varnotte/);
    assert.match(r.out, /nothing left the machine/);
  });

  it('says what is wrong with bad input (exit 2)', () => {
    for (const [args, message] of [
      [['collab', '--knowledge', notes], /collab needs a non-empty --instruction/],
      [['collab', '--instruction', 'x', '--knowledge', path.join(dir, 'missing.md')], /cannot read .*missing\.md.*no such file/],
      [['collab', '--instruction', 'x', '--lambda-user', '2'], /--lambda-user must be a number from 0 to 1/],
      [['collab', '--instruction', 'x', '--method', 'beam'], /--method must be diffusion or autoregressive/],
      [['collab', '--instruction', 'x', '--core', 'not a url'], /--core must be the remote core's http\(s\) URL/],
      [['collab', '--instruction', 'x'.repeat(600), ...FAST], /the instruction is too long for the user model/],
    ] as const) {
      const r = concert(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
    }
  });

  it('a remote core that cannot be reached: one line that says so (exit 2), nothing else runs', () => {
    const r = concert('collab', '--instruction', 'What is the capital of Belkania?', '--knowledge', notes, '--core', 'http://127.0.0.1:9/v2', ...FAST);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^concert: remote core: .*127\.0\.0\.1:9/);
    assert.equal(r.out, '');
  });
});

describe('collab/run over the worker protocol', () => {
  it('streams every step of the collaboration and of the comparisons through progress/diffusion', async () => {
    const { client } = startClient({ bundledModelsDir: MODELS });
    try {
      const steps: DiffusionStepProgress[] = [];
      client.onDiffusionStep.on((s) => steps.push(s));
      const r = await client.request(Requests.collabRun, {
        instruction: 'What is the capital of Belkania?',
        knowledge: [{ id: 'n', title: 'n', text: 'The capital of Belkania is Varnotte.' }],
        steps: 4,
        maxTokens: 4,
        seed: 1,
        compare: true,
        progressToken: 'p1',
      });
      assert.equal(r.passages.length, 1);
      const variants = new Set(steps.map((s) => s.variant));
      assert.deepEqual([...variants].sort(), ['collab', 'core-only', 'user-only']);
      assert.ok(steps.every((s) => s.progressToken === 'p1' && s.T === 4 && s.blocks === 2));
    } finally {
      await client.stop();
    }
  });
});

/** `concert summarize` / `concert ask` and the cad/run request as users meet them, on the bundled model. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FINISH_WORD_TOKENS } from '../../src/engine/cad';
import { Requests, WorkerErrorCode, type TokenProgress } from '../../src/protocol/worker';
import type { WorkerError } from '../../src/worker/client';
import { tempDir } from '../helpers/packs';
import { requireBuild, startClient } from '../helpers/worker';

// CONCERT_TEST_LM_PACK points the tests at another causal-lm pack folder (default: the bundled one).
const override = process.env.CONCERT_TEST_LM_PACK ? path.resolve(process.env.CONCERT_TEST_LM_PACK) : undefined;
const modelArgs = override ? ['--models', path.dirname(override), '--model', path.basename(override)] : [];
const packId = override ? path.basename(override) : undefined;

let tmp: ReturnType<typeof tempDir>;
let doc: string;
before(() => {
  requireBuild();
  tmp = tempDir();
  doc = path.join(tmp.dir, 'doc.txt');
  writeFileSync(doc, 'The capital of Freedonia is Lakeside. Lakeside sits on a wide river and has an old harbour.\n');
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args, ...modelArgs], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('concert summarize / ask', () => {
  it('summarize --json returns text, alpha, tokens with reliance, the model and the run record', () => {
    const r = concert('summarize', doc, '--json', '--seed', '7', '--max-tokens', '16');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(typeof j.text, 'string');
    assert.equal(j.alpha, 0.5);
    // The budget, or a few tokens more where a quote had to finish its last word.
    assert.ok(j.tokens.length >= 1 && j.tokens.length <= 16 + FINISH_WORD_TOKENS, `${j.tokens.length} tokens`);
    for (const t of j.tokens) assert.ok(Number.isFinite(t.reliance) && typeof t.text === 'string' && Number.isInteger(t.id));
    assert.equal(
      j.text,
      j.tokens
        .map((t: { text: string }) => t.text)
        .join('')
        .trim(),
    );
    assert.equal(j.run.seed, 7);
    assert.deepEqual(j.run.knobs.decoding, { mode: 'sample', temperature: 1, topP: 0.9 });
    assert.equal(j.run.provider, 'cpu');
    assert.match(j.run.manifestSha256, /^[0-9a-f]{64}$/);
    assert.match(j.run.modelSha256, /^[0-9a-f]{64}$/);
    assert.equal(typeof j.model.id, 'string');
    // Same seed, same output.
    assert.equal(JSON.parse(concert('summarize', doc, '--json', '--seed', '7', '--max-tokens', '16').out).text, j.text);
  });

  it('ask --json has answer == text, greedy α = 1 by default, and --regular adds regular decoding', () => {
    const r = concert('ask', '--context', doc, '--question', 'What is the capital of Freedonia?', '--json', '--regular', '--max-tokens', '8');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.answer, j.text);
    assert.equal(j.alpha, 1);
    assert.deepEqual(j.run.knobs.decoding, { mode: 'greedy' });
    assert.equal(j.regular.alpha, 0);
    assert.equal(typeof j.regular.text, 'string');
  });

  it('--plausibility and --adaptive reach the run record with the α_t of every token (#16)', () => {
    const r = concert(
      'ask',
      '--context',
      doc,
      '--question',
      'What is the capital of Freedonia?',
      '--json',
      '--max-tokens',
      '6',
      '--plausibility',
      '0.1',
      '--adaptive',
    );
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.run.knobs.plausibility, 0.1);
    assert.equal(j.run.knobs.adaptive, true);
    assert.ok(j.tokens.every((t: { alpha?: number }) => typeof t.alpha === 'number' && t.alpha >= 0 && t.alpha <= 1));
    const s = j.run.adaptiveAlpha;
    assert.equal(s.tokens, j.tokens.length);
    assert.ok(s.min <= s.mean && s.mean <= s.max && s.max <= 1);
    const plain = JSON.parse(concert('ask', '--context', doc, '--question', 'What is the capital of Freedonia?', '--json', '--max-tokens', '6').out);
    assert.deepEqual([plain.run.knobs.plausibility, plain.run.knobs.adaptive, plain.run.adaptiveAlpha], [0.1, false, undefined]);
    assert.ok(plain.tokens.every((t: { alpha?: number }) => t.alpha === undefined));
  });

  it('ask quotes the document by default (extractive): every answer is whole words of one line of it (#16)', () => {
    const text = [
      'Harbour notes, spring term',
      'The Granite Theatre opened in 1931 in Bramworth, a town on the river Wend.',
      'Its first director was Ada Pellow; the hall seats 420 people.',
    ].join('\n');
    const notes = path.join(tmp.dir, 'notes.txt');
    writeFileSync(notes, `${text}\n`);
    const lines = text.split('\n');
    const words = (s: string) => s.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    for (const question of ['Which town is the Granite Theatre in?', 'who was the first director?', 'When did it open?', 'How many seats?']) {
      const j = JSON.parse(concert('ask', '--context', notes, '--question', question, '--json', '--regular').out);
      assert.equal(j.run.knobs.extractive, true);
      for (const answer of [j.text as string, j.regular.text as string]) {
        assert.ok(answer.length > 0, `no answer to "${question}"`);
        // One span of whole words of one line: its words appear consecutively in that line.
        const w = words(answer).join(' ');
        assert.ok(
          lines.some((l) => ` ${words(l).join(' ')} `.includes(` ${w} `)),
          `"${answer}" (to "${question}") is not a span of the document`,
        );
      }
    }
    const free = JSON.parse(concert('ask', '--context', notes, '--question', 'Which town is the Granite Theatre in?', '--json', '--no-extractive').out);
    assert.equal(free.run.knobs.extractive, false);
    const summary = JSON.parse(concert('summarize', notes, '--json', '--seed', '3', '--max-tokens', '8', '--no-extractive').out);
    assert.equal(summary.run.knobs.extractive, false);
  });

  it('a question about a document of several paragraphs is answered from the paragraph that matches it (#16)', () => {
    // bench/collab-tasks/atlas.md: ~370 tokens, eight countries of two or three sentences each.
    const atlas = path.resolve('bench/collab-tasks/atlas.md');
    const lines = readFileSync(atlas, 'utf8').split('\n');
    const r = concert('ask', '--context', atlas, '--question', 'Where are the ministries of Kalunga?', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.passages.length, 1);
    const read = lines.slice(j.passages[0].firstLine - 1, j.passages[0].lastLine).join('\n');
    assert.match(read, /ministries and embassies are found in Mbereti/i);
    assert.ok(read.includes(j.answer), `"${j.answer}" is not from the passage read: ${read}`);
    assert.match(j.run.prompt.rows[0].text, /Mbereti/);
    assert.doesNotMatch(j.run.prompt.rows[0].text, /Tessaline|Ostravel/); // the other countries were not read
    // --whole-document: a text that fits is read whole, and nothing says passages.
    const notes = path.resolve('bench/collab-tasks/team-notes.md');
    const whole = JSON.parse(concert('ask', '--context', notes, '--question', 'Who leads Project Larkspur?', '--json', '--whole-document').out);
    assert.equal(whole.passages, undefined);
    assert.match(whole.run.prompt.rows[0].text, /Larkspur[\s\S]*Pickle/);
    const focused = concert('ask', '--context', notes, '--question', 'Who leads Project Larkspur?');
    assert.match(
      focused.out,
      /\(answered from the document's lines? \d+(–\d+)?: the passage that best matches the question; --whole-document reads it all when it fits\)/,
    );
    // A short document is read whole, as before.
    assert.equal(JSON.parse(concert('ask', '--context', doc, '--question', 'What is the capital of Freedonia?', '--json').out).passages, undefined);
  });

  it('summarize quotes whole sentences of one paragraph by default (extractive), across wrapped lines (#16)', () => {
    const prose = path.join(tmp.dir, 'prose.txt');
    const paragraph = [
      'The old lighthouse on the northern cape was switched off in 1998, when satellite navigation made it',
      'unnecessary. For twenty years it stood empty, and storms broke most of its windows. Last spring a group of',
      'volunteers repaired the tower. Visitors can now climb the spiral stairs on weekends.',
    ];
    writeFileSync(prose, `# Notes\n\n${paragraph.join('\n')}\n`);
    const sentences = paragraph
      .join(' ')
      .match(/[^.]+\./g)!
      .map((x) => x.trim());
    for (const seed of ['1', '2', '3']) {
      const j = JSON.parse(concert('summarize', prose, ...(seed === '3' ? ['--extractive'] : []), '--json', '--seed', seed, '--max-tokens', '64').out);
      assert.equal(j.run.knobs.extractive, true);
      // One or more consecutive whole sentences: it starts where one starts and ends with a full stop (64 tokens hold
      // the longest), and it is part of the paragraph with its line breaks read as spaces — never the heading.
      assert.ok(
        sentences.some((x) => (j.text as string).startsWith(x.split(' ').slice(0, 3).join(' '))),
        `"${j.text}" does not start a sentence`,
      );
      assert.match(j.text, /\.$/);
      assert.ok(paragraph.join(' ').includes(j.text), `"${j.text}" is not a span of the paragraph`);
    }
  });

  it('a long document whose chunks are partly rules of dashes still gets a quoted summary (#16)', () => {
    const ruled = path.join(tmp.dir, 'ruled.txt');
    const rule = `${'-'.repeat(60)}\n`.repeat(40);
    writeFileSync(ruled, `The harbour master opened the new pier on Monday morning.\n\n${rule}\nThe ferry now leaves every hour in summer.\n`);
    const r = concert('summarize', ruled, '--json', '--seed', '2');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.ok(j.chunks.length > 2, 'the document is chunked');
    assert.ok(
      j.chunks.some((c: { summary: string }) => c.summary === ''),
      'a chunk of dashes has nothing to quote',
    );
    assert.match(j.text, /^The (harbour master opened the new pier on Monday morning|ferry now leaves every hour in summer)\.$/);
  });

  for (const [name, args, pattern] of [
    ['missing file', ['summarize', '/nonexistent/file.txt'], /cannot read "\/nonexistent\/file\.txt": no such file/],
    ['a folder', ['summarize', '/tmp'], /is a folder/],
    ['empty question', ['ask', '--context', '__DOC__', '--question', '  '], /non-empty --question/],
    // Typed as summarize takes its file: the error is the command they meant.
    [
      'ask with the file and question as arguments',
      ['ask', 'notes.txt', 'Who runs the café?'],
      /concert ask --context notes\.txt --question "Who runs the café\?"\n$/,
    ],
    [
      'ask with an unquoted question',
      ['ask', '--context', 'notes.txt', 'Who', 'runs', 'it?'],
      /concert ask --context notes\.txt --question "Who runs it\?"\n$/,
    ],
    [
      'ask with the file as an argument',
      ['ask', 'my notes.txt', '--question', 'Who said "$5"?'],
      /--context "my notes\.txt" --question "Who said \\"\\\$5\\"\?"\n$/,
    ],
    ['ask with a stray argument', ['ask', '--context', '__DOC__', '--question', 'Who?', 'extra'], /unexpected argument "extra"/],
    ['alpha out of range', ['summarize', '__DOC__', '--alpha', '42'], /--alpha must be a number from 0 to 10/],
    ['greedy and top-p', ['summarize', '__DOC__', '--greedy', '--top-p', '0.9'], /either --greedy or --top-p/],
    ['top-p out of range', ['summarize', '__DOC__', '--top-p', '1.5'], /--top-p must be a number/],
    ['plausibility out of range', ['summarize', '__DOC__', '--plausibility', '2'], /--plausibility must be a number from 0 to 1/],
  ] as const) {
    it(`bad input (${name}) exits 2 with one line`, () => {
      const r = concert(...args.map((a) => (a === '__DOC__' ? doc : a)));
      assert.equal(r.code, 2, r.out + r.err);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, pattern);
    });
  }

  it('a binary file is refused', () => {
    const bin = path.join(tmp.dir, 'blob.bin');
    writeFileSync(bin, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2, 3]));
    const r = concert('summarize', bin);
    assert.equal(r.code, 2);
    assert.match(r.err, /looks like a binary file/);
  });

  it('a cancel stops generation within a few tokens (its round trip)', async () => {
    const { client } = startClient({ bundledModelsDir: path.resolve('models'), ...(override && { modelFolders: [path.dirname(override)] }) });
    const seen: TokenProgress[] = [];
    const ac = new AbortController();
    client.onTokens.on((t) => {
      seen.push(t);
      if (t.index === 1) ac.abort();
    });
    try {
      const err = await client
        .request(
          Requests.cadRun,
          {
            task: 'summarize',
            document: 'A long enough document about rivers and harbours. '.repeat(3),
            maxTokens: 40,
            seed: 1,
            progressToken: 'x',
            ...(packId && { packId }),
          },
          ac.signal,
        )
        .then(
          () => assert.fail('expected a cancel'),
          (e: WorkerError) => e,
        );
      assert.equal(err.code, WorkerErrorCode.Cancelled, err.message);
      // The cancel travels to the worker while it decodes (a token takes a millisecond or two on an idle machine):
      // a few more tokens may stream, never the 40 asked for.
      assert.ok(seen.length <= 8, `${seen.length} tokens streamed after a cancel at the 2nd`);
    } finally {
      await client.stop();
    }
  });
});

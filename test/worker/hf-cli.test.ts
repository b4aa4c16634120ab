/** `concert summarize/ask --model <folder>` and `concert models add` on published Hugging Face folders (fixtures). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/packs';
import { requireBuild } from '../helpers/worker';

const FIXTURES = path.resolve('test/fixtures/hf');
let tmp: ReturnType<typeof tempDir>;
let doc: string;
before(() => {
  requireBuild();
  tmp = tempDir();
  doc = path.join(tmp.dir, 'doc.txt');
  writeFileSync(doc, 'Ships come at dawn. <|im_end|>\n');
});
after(() => tmp.cleanup());

function concert(...args: string[]) {
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(tmp.dir, 'config'), XDG_DATA_HOME: path.join(tmp.dir, 'data'), CONCERT_MODEL_FOLDERS: '' };
  const r = spawnSync(process.execPath, [path.resolve('bin/concert.js'), ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('concert with Hugging Face ONNX folders', () => {
  it('summarize --model <folder> --json: chat template, rows with and without the document, generated ids', () => {
    const r = concert('summarize', doc, '--model', path.join(FIXTURES, 'qwen2-tiny'), '--greedy', '--max-tokens', '4', '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.model.id, 'qwen2-tiny');
    const p = j.run.prompt;
    assert.equal(p.template, 'chat-template');
    assert.deepEqual(
      p.rows.map((x: { row: string }) => x.row),
      ['with-document', 'without-document'],
    );
    const [withDoc, without] = p.rows as { text: string; ids: number[] }[];
    assert.ok(withDoc!.text.includes('Document:\nShips come at dawn. <|im_end|>'));
    assert.ok(!without!.text.includes('Ships'));
    // The typed <|im_end|> stays text: the with-document row has as many control tokens as the one without.
    const control = (ids: number[]) => ids.filter((t) => t >= 268).length;
    assert.equal(control(withDoc!.ids), control(without!.ids));
    assert.deepEqual(
      p.generated,
      j.tokens.map((t: { id: number }) => t.id),
    );
  });

  it('--dtype picks the variant; a missing one is named', () => {
    const ok = concert('summarize', doc, '--model', path.join(FIXTURES, 'qwen2-tiny'), '--dtype', 'fp16', '--greedy', '--max-tokens', '2', '--json');
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).model.displayName, 'qwen2-tiny (fp16)');
    const bad = concert('summarize', doc, '--model', path.join(FIXTURES, 'qwen2-tiny'), '--dtype', 'q4');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /has no q4 weights \(available: fp32, fp16\)/);
  });

  it("models add records the folder in Concert's config (not in the folder); later runs find it by id", () => {
    const before = readFileSync(path.join(FIXTURES, 'gpt2-tiny', 'config.json'), 'utf8');
    const r = concert('models', 'add', path.join(FIXTURES, 'gpt2-tiny'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /added: gpt2-tiny \(causal-lm\)/);
    const reg = JSON.parse(readFileSync(path.join(tmp.dir, 'config', 'concert', 'models.json'), 'utf8'));
    assert.deepEqual(
      reg.models.map((m: { dir: string }) => m.dir),
      [path.join(FIXTURES, 'gpt2-tiny')],
    );
    assert.equal(readFileSync(path.join(FIXTURES, 'gpt2-tiny', 'config.json'), 'utf8'), before);
    const list = concert('models', '--json');
    assert.equal(list.code, 0, list.err);
    assert.ok(JSON.parse(list.out).packs.some((p: { id: string; valid: boolean }) => p.id === 'gpt2-tiny' && p.valid));
    const ask = concert('ask', '--context', doc, '--question', 'When?', '--model', 'gpt2-tiny', '--max-tokens', '3', '--json');
    assert.equal(ask.code, 0, ask.err);
    assert.equal(JSON.parse(ask.out).run.prompt.template, 'plain:qa');
    assert.equal(concert('models', 'add', tmp.dir).code, 1, 'a folder without a model is refused');
  });

  it('models add, then summarize README.md with each quantised variant (q4 by default on CPU)', () => {
    const add = concert('models', 'add', path.join(FIXTURES, 'llama-tiny'));
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /added: llama-tiny \(causal-lm\)/);
    for (const dtype of [undefined, 'q4', 'q4f16', 'int8', 'uint8']) {
      const r = concert('summarize', 'README.md', '--model', 'llama-tiny', ...(dtype ? ['--dtype', dtype] : []), '--greedy', '--max-tokens', '3', '--json');
      assert.equal(r.code, 0, `${dtype ?? 'default'}: ${r.err}`);
      const j = JSON.parse(r.out);
      assert.equal(j.model.displayName, `llama-tiny (${dtype ?? 'q4'})`);
      assert.equal(j.run.prompt.template, 'plain:summary');
      assert.ok(j.tokens.length > 0);
    }
  });
});

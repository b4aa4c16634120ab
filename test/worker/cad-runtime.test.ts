/**
 * The bundled causal LM through the runtime adapter: batching with left padding must not change a row's logits,
 * KV-cached steps must equal a fresh prefill, and CAD with α = 0 must equal plain decoding on the real model.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeRecipe } from '../../src/engine/autoregressive';
import { decodeCad } from '../../src/engine/cad';
import type { OnnxCausalLM } from '../../src/runtime/causalLm';
import { loadLanguageModel } from '../../src/runtime/languageModel';
import { SessionCache } from '../../src/runtime/ort';
import { readPackFile, validatePack, type ValidatedPack } from '../../src/runtime/packs';
import { parsePrompts, renderPieces } from '../../src/runtime/prompts';
import type { PackTokenizer } from '../../src/runtime/tokenizer';

const PACK_DIR = process.env.CONCERT_TEST_LM_PACK ?? path.resolve('models/concert-lm-small');
let pack: ValidatedPack;
let sessions: SessionCache;
let lm: OnnxCausalLM;
let tok: PackTokenizer;

before(async () => {
  pack = await validatePack(PACK_DIR, 'bundled');
  sessions = new SessionCache('cpu', 1, 0);
  ({ lm, tok } = await loadLanguageModel(pack, sessions));
});
after(() => sessions.clear());

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe(`causal LM runtime (${path.basename(PACK_DIR)})`, () => {
  it('a left-padded batch of two gives each row the logits it gets alone (≤ 1e-4), across cached steps', async () => {
    const a = Int32Array.from(tok.encodePlain(' The capital of France is Paris and it is a large city.'));
    const b = Int32Array.from(tok.encodePlain(' Hello world.'));
    let batch = await lm.prefill([a, b]);
    let soloA = await lm.prefill([a]);
    let soloB = await lm.prefill([b]);
    assert.ok(maxAbsDiff(batch.logits[0]!, soloA.logits[0]!) <= 1e-4, `row a: ${maxAbsDiff(batch.logits[0]!, soloA.logits[0]!)}`);
    assert.ok(maxAbsDiff(batch.logits[1]!, soloB.logits[0]!) <= 1e-4, `row b: ${maxAbsDiff(batch.logits[1]!, soloB.logits[0]!)}`);
    for (const t of [5, 17, 300]) {
      batch = await lm.extend(batch.state, Int32Array.from([t, t]));
      soloA = await lm.extend(soloA.state, Int32Array.from([t]));
      soloB = await lm.extend(soloB.state, Int32Array.from([t]));
      assert.ok(maxAbsDiff(batch.logits[0]!, soloA.logits[0]!) <= 1e-4);
      assert.ok(maxAbsDiff(batch.logits[1]!, soloB.logits[0]!) <= 1e-4);
    }
  });

  it('cached steps equal a fresh prefill of the whole sequence (≤ 1e-4)', async () => {
    const prompt = Int32Array.from(tok.encodePlain(' A short sentence about cats'));
    let s = await lm.prefill([prompt]);
    const extra = [11, 42, 7];
    for (const t of extra) s = await lm.extend(s.state, Int32Array.from([t]));
    const fresh = await lm.prefill([Int32Array.from([...prompt, ...extra])]);
    assert.ok(maxAbsDiff(s.logits[0]!, fresh.logits[0]!) <= 1e-4, String(maxAbsDiff(s.logits[0]!, fresh.logits[0]!)));
  });

  it('CAD with α = 0 decodes exactly what plain decoding does on the real model', async () => {
    const prompts = parsePrompts((await readPackFile(pack, pack.manifest.prompts!)).toString('utf8'));
    const qa = prompts.prompts.qa!;
    const fields = { document: 'The capital of Freedonia is Lakeside.', question: 'What is the capital of Freedonia?' };
    const withContext = renderPieces(qa.prompt, fields, tok);
    const withoutContext = renderPieces(qa.no_context!, { ...fields, document: '' }, tok);
    const stopTokens = Object.values(tok.specialIds);
    const plain = await decodeRecipe(lm, {
      terms: [{ prompt: withContext, weight: 1, label: 'plain' }],
      decoding: { mode: 'greedy' },
      maxTokens: 8,
      seed: 0,
      stopTokens,
    });
    const cad0 = await decodeCad(lm, { withContext, withoutContext, alpha: 0, decoding: { mode: 'greedy' }, maxTokens: 8, seed: 0, stopTokens });
    assert.deepEqual(
      cad0.tokens.map((t) => t.id),
      plain.tokens.map((t) => t.id),
    );
  });

  it('refuses a prompt longer than the model context', async () => {
    await assert.rejects(lm.prefill([new Int32Array(lm.maxContext + 1).fill(5)]), /exceeds the model's context/);
  });
});

describe('token texts', () => {
  it('characters split over byte-fallback tokens are attributed whole to the token that completes them', async () => {
    const { describeTokens } = await import('../../src/worker/cadJob');
    const ids = tok.encodePlain(' Nouméa 日本 ok');
    const texts = describeTokens(
      { tok },
      ids.map((id) => ({ id, reliance: 0, logProbWithContext: 0, logProbWithoutContext: 0 })),
    ).map((t) => t.text);
    assert.equal(texts.join(''), tok.decode(ids));
    assert.ok(
      texts.every((t) => !t.includes('\uFFFD')),
      JSON.stringify(texts),
    );
  });
});

// OnnxCausalLM prefills a batch whose rows differ much in length (CAD's document prompt and its short no-document
// prompt) row by row and left-pads the caches into one batch, instead of running the model over the padding. The
// batch must then decode exactly as each row does alone: float32 and float16 caches, real ONNX Runtime sessions on
// the Hugging Face fixtures (test/fixtures/hf), and the bundled pack.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadLanguageModel } from '../../../src/runtime/languageModel';
import { SessionCache } from '../../../src/runtime/ort';
import { validatePack } from '../../../src/runtime/packs';

const sessions = new SessionCache('cpu', 1, 0);
after(() => sessions.clear());

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

async function check(dir: string, dtype: 'fp32' | 'fp16' | undefined, tol: number): Promise<void> {
  const pack = await validatePack(dir, dir.includes('fixtures') ? 'user' : 'bundled', undefined, dtype ? { dtype } : {});
  const { lm } = await loadLanguageModel(pack, sessions);
  assert.ok(lm.feeds.positionIds, 'the split needs a graph with position_ids');
  const long = Int32Array.from({ length: 40 }, (_, i) => 70 + ((i * 7) % 90));
  const short = Int32Array.of(72, 101, 108);
  const batch = await lm.prefill([long, short]);
  const alone = [await lm.prefill([long]), await lm.prefill([short])];
  for (const r of [0, 1]) assert.ok(maxDiff(batch.logits[r]!, alone[r]!.logits[0]!) <= tol, `prefill row ${r}`);
  // Three more tokens: the padded caches must read as the rows' own.
  let b = batch;
  const a = alone.slice();
  for (const tok of [80, 81, 82]) {
    b = await lm.extend(b.state, Int32Array.of(tok, tok));
    for (const r of [0, 1]) {
      a[r] = await lm.extend(a[r]!.state, Int32Array.of(tok));
      const d = maxDiff(b.logits[r]!, a[r]!.logits[0]!);
      assert.ok(d <= tol, `extend row ${r} after ${tok}: max |Δ| ${d}`);
    }
  }
}

describe('prefill of rows of very different lengths', () => {
  it('float32 caches (Qwen2 fixture, external data)', () => check(path.resolve('test/fixtures/hf/qwen2-tiny'), 'fp32', 1e-4));
  it('float16 caches and logits (Qwen2 fixture, fp16 variant)', () => check(path.resolve('test/fixtures/hf/qwen2-tiny'), 'fp16', 2e-2));
  it('the bundled causal LM', () => check(path.resolve('models/concert-lm-small'), undefined, 1e-4));
});

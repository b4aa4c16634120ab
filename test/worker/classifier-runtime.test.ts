/** The bundled guidance classifiers through the runtime adapter: real text is classified, and the in-graph gradient
 * agrees with a finite-difference estimate of ∂ log p(label)/∂ logits. */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OnnxClassifier } from '../../src/runtime/classifier';
import { loadTokenizer } from '../../src/runtime/languageModel';
import { SessionCache } from '../../src/runtime/ort';
import { validatePack } from '../../src/runtime/packs';
import type { PackTokenizer } from '../../src/runtime/tokenizer';

let sessions: SessionCache;
let sentiment: OnnxClassifier;
let tok: PackTokenizer;
before(async () => {
  sessions = new SessionCache('cpu', 1, 0);
  const pack = await validatePack(path.resolve('models/concert-clf-sentiment'), 'bundled');
  sentiment = new OnnxClassifier(await sessions.get(pack, 'classifier'));
  tok = await loadTokenizer(pack);
});
after(() => sessions.clear());

describe('guidance classifier runtime', () => {
  it('declares its attribute and labels', () => {
    assert.equal(sentiment.attribute, 'sentiment');
    assert.deepEqual(sentiment.labels, ['negative', 'positive']);
  });

  it('classifies ordinary text given as an almost-one-hot simplex', async () => {
    const pos = await sentiment.classifyTokens(tok.encodePlain(' What a wonderful, happy and delightful day, I love it.'));
    const neg = await sentiment.classifyTokens(tok.encodePlain(' This is a terrible, awful and hateful mess, I hate it.'));
    assert.ok(Math.abs(pos[0]! + pos[1]! - 1) < 1e-4);
    assert.ok(pos[1]! > 0.5, `positive text scored ${pos[1]}`);
    assert.ok(neg[0]! > 0.5, `negative text scored ${neg[0]}`);
  });

  it('its gradient matches finite differences of log p(label)', async () => {
    const V = sentiment.vocabSize;
    const B = 3;
    let s = 1;
    const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const x = Float32Array.from({ length: B * V }, () => rand() * 3);
    const { logProb, grad } = await sentiment.score(x, [1, B, V], 1);
    // Probe the coordinates with the largest gradient (where a finite difference is informative in fp32).
    const top = Array.from(grad.keys())
      .sort((a, b) => Math.abs(grad[b]!) - Math.abs(grad[a]!))
      .slice(0, 5);
    for (const i of top) {
      const h = 1e-2;
      const plus = Float32Array.from(x);
      plus[i]! += h;
      const minus = Float32Array.from(x);
      minus[i]! -= h;
      const fd = ((await sentiment.score(plus, [1, B, V], 1)).logProb[0]! - (await sentiment.score(minus, [1, B, V], 1)).logProb[0]!) / (2 * h);
      assert.ok(Math.abs(fd - grad[i]!) <= 1e-2 * Math.max(1e-3, Math.abs(grad[i]!)) + 1e-4, `coordinate ${i}: fd ${fd} vs grad ${grad[i]}`);
    }
    // The softmax Jacobian makes the gradient sum to zero over the vocabulary at each position.
    for (let b = 0; b < B; b++) {
      let sum = 0;
      for (let v = 0; v < V; v++) sum += grad[b * V + v]!;
      assert.ok(Math.abs(sum) < 1e-4, `position ${b}: gradient sums to ${sum}`);
    }
    assert.ok(logProb[0]! <= 0);
  });
});

/**
 * A classifier pack (guidance, thesis ch. 3) adapted to the engine's Classifier: input simplex logits
 * `[batch, block, vocab]` and a label per row; outputs class log-probabilities and ∂ log p(label)/∂ logits, computed
 * inside the graph (onnxruntime-node has no autograd).
 */
import { almostOneHot } from '../engine/diffusion/projection';
import type { Classifier } from '../engine/models';
import { ort, type LoadedGraph } from './ort';
import { PackError } from './packs';

export class OnnxClassifier implements Classifier {
  readonly attribute: string;
  readonly labels: readonly string[];
  readonly k: number;
  readonly vocabSize: number;

  constructor(private readonly graph: LoadedGraph) {
    const m = graph.pack.manifest;
    const knobs = m.knobs ?? {};
    const labels = knobs['labels'];
    if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string'))
      throw new PackError(m.id, 'knobs.labels must list the class names');
    this.labels = labels;
    this.attribute = typeof knobs['attribute'] === 'string' ? knobs['attribute'] : m.id;
    this.k = typeof knobs['K'] === 'number' ? knobs['K'] : 5;
    const io = m.io[graph.role]!;
    const names = (xs: { name: string }[]) =>
      xs
        .map((x) => x.name)
        .sort()
        .join(',');
    if (names(io.inputs) !== 'label,logits' || names(io.outputs) !== 'grad,log_probs')
      throw new PackError(m.id, 'a classifier graph takes (logits, label) and returns (log_probs, grad)');
    const v = io.inputs.find((i) => i.name === 'logits')!.shape[2];
    if (typeof v !== 'number') throw new PackError(m.id, 'the classifier logits input needs a fixed vocabulary dimension');
    this.vocabSize = v;
  }

  async score(simplexLogits: Float32Array, dims: readonly [number, number, number], label: number): Promise<{ logProb: Float32Array; grad: Float32Array }> {
    const [batch, block, vocab] = dims;
    if (vocab !== this.vocabSize) throw new Error(`classifier ${this.attribute} expects a vocabulary of ${this.vocabSize}, got ${vocab}`);
    if (simplexLogits.length !== batch * block * vocab) throw new Error('classifier input does not match its dims');
    this.graph.lastUsed = Date.now();
    const out = await this.graph.session.run({
      logits: new ort.Tensor('float32', simplexLogits, [batch, block, vocab]),
      label: new ort.Tensor('int64', new BigInt64Array(batch).fill(BigInt(label)), [batch]),
    });
    const logProbs = out['log_probs']!.data as Float32Array;
    const L = this.labels.length;
    return { logProb: Float32Array.from({ length: batch }, (_, b) => logProbs[b * L + label]!), grad: out['grad']!.data as Float32Array };
  }

  /** Class probabilities of token sequences (each as an almost-one-hot simplex), e.g. to judge generated text. */
  async classifyTokens(ids: ArrayLike<number>): Promise<number[]> {
    if (!ids.length) throw new Error('nothing to classify');
    const x = almostOneHot(ids, this.vocabSize, this.k);
    this.graph.lastUsed = Date.now();
    const out = await this.graph.session.run({
      logits: new ort.Tensor('float32', x, [1, ids.length, this.vocabSize]),
      label: new ort.Tensor('int64', new BigInt64Array(1), [1]),
    });
    return Array.from(out['log_probs']!.data as Float32Array, Math.exp);
  }
}

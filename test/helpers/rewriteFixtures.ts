/**
 * Fixtures of the rewrite panel's page shared by its unit tests (test/unit/rewrite-view.test.ts) and its browser
 * tests (test/webview/rewrite.test.ts): steering, denoising steps, the run record, the panel state.
 */
import type { RewriteControls, RewriteRecordView, RewriteRunView, RewriteStepView, RewriteViewState } from '../../src/protocol/webview';

/** Steering towards positive sentiment (λ 20), strength 0.5, seed 1234; `over` changes the rest. */
export const rewriteControls = (over: Partial<RewriteControls> = {}): RewriteControls => ({
  targets: [{ attribute: 'sentiment', label: 'positive', lambda: 20 }],
  strength: 0.5,
  steps: 4,
  topP: 0.95,
  projection: 'sampling',
  tokens: 24,
  seed: 1234,
  ...over,
});

/** One denoising step of `block`, with p(positive sentiment) `p` (null: not scored). */
export const rewriteStep = (block: number, t: number, text: string, p: number | null = null, T = 4): RewriteStepView => ({
  block,
  t,
  T,
  text,
  scores: { sentiment: p },
});

/** The record of a finished run of the bundled diffusion model (four steps, steered by `controls`) on the CPU. */
export const rewriteRecord = (controls: RewriteControls, over: Partial<RewriteRecordView> = {}): RewriteRecordView => ({
  modelId: 'concert-ssd-core',
  manifestSha256: 'a'.repeat(64),
  modelSha256: 'b'.repeat(64),
  classifiers: [{ id: 'concert-clf-sentiment', manifestSha256: 'c'.repeat(64) }],
  seed: 1234,
  steps: 4,
  topP: 0.95,
  projection: 'sampling',
  earlyStop: 0,
  strength: 0.5,
  maxTokens: 8,
  targets: controls.targets,
  provider: 'cpu',
  device: 'CPU',
  durationMs: 1500,
  stoppedBy: 'max-tokens',
  ...over,
});

/** The panel's state with the sentiment and style classifiers installed (and `run`, if given). */
export const rewriteState = (run: RewriteRunView | undefined, defaultLambda: number): RewriteViewState => ({
  classifiers: [
    { attribute: 'sentiment', labels: ['negative', 'positive'] },
    { attribute: 'style', labels: ['casual', 'technical'] },
  ],
  defaultLambda,
  ...(run && { run }),
});

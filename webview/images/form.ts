/**
 * The panel's fields as typed → the controls of the next run: every number parsed, rounded where it must be whole,
 * and clamped to its range; anything unreadable keeps the value it had. Pure: tests cover it.
 */
import { IMAGE_LIMITS, type ImageControls } from '../../src/protocol/webview';
import { num, samplingFromFields, type SamplingFields } from '../common/sampling';

export { randomSeed } from '../common/sampling';

export interface ImageFields extends SamplingFields {
  ratio?: string;
  samples?: string;
}

export function controlsFromFields(f: ImageFields, base: ImageControls): ImageControls {
  const L = IMAGE_LIMITS;
  return {
    ratio: num(f.ratio, base.ratio, L.ratio),
    samples: num(f.samples, base.samples, L.samples, true),
    ...samplingFromFields(f, base),
  };
}

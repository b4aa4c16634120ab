/**
 * A block's noisy diffusion input rebuilt from its recipe (models.ts `NoisyRecipe`): the same seeded noise and the
 * same arithmetic as decode.ts, so the result is bit for bit the tensor the decoder made. The bandwidth-light remote
 * core sends the recipe (a seed, an address, ᾱ and B token ids) instead of the `[B, V]` tensor.
 */
import type { NoisyRecipe } from '../models';
import { SeededNoise } from '../random';
import { almostOneHot } from './projection';

/** `[B, V]` noisy logits of one row. */
export function rebuildNoisy(recipe: NoisyRecipe, B: number, V: number, K: number): Float32Array {
  const x = new Float32Array(B * V);
  new SeededNoise(recipe.seed).gaussian(x, K, recipe.at);
  if (!recipe.tokens) return x;
  if (recipe.tokens.length !== B) throw new RangeError(`a recipe needs ${B} tokens (got ${recipe.tokens.length})`);
  for (const t of recipe.tokens) if (!Number.isInteger(t) || t < 0 || t >= V) throw new RangeError(`recipe token ${t} is not in the vocabulary`);
  const a = recipe.alphaBar;
  const w = almostOneHot(recipe.tokens, V, K);
  for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(a) * w[i]! + Math.sqrt(1 - a) * x[i]!;
  return x;
}

/** Whether every `[B, V]` row of `noisy` equals `row` bit for bit (NaN never matches). */
export function rowsEqual(noisy: Float32Array, row: Float32Array): boolean {
  if (noisy.length % row.length) return false;
  for (let off = 0; off < noisy.length; off += row.length) for (let i = 0; i < row.length; i++) if (noisy[off + i] !== row[i]) return false;
  return true;
}

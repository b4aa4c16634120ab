/**
 * Seeded randomness for reproducible runs. Every draw is addressed by (seed, stream, index) through a counter-based
 * hash, so the same noise can be regenerated anywhere (a remote core, a resumed job) without replaying a sequence.
 */

/** SplitMix32-style finaliser: a well-mixed 32-bit hash of a 32-bit input. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Uniform in [0, 1) from (seed, stream, index). 32 bits of resolution are plenty for sampling. */
export function uniformAt(seed: number, stream: number, index: number): number {
  const h = mix32(mix32(mix32(seed >>> 0) ^ (stream >>> 0)) ^ (index >>> 0));
  return h / 4294967296;
}

/** A sequential stream (for sampling tokens): deterministic given (seed, stream). */
export class Rng {
  private index = 0;
  constructor(
    readonly seed: number,
    readonly stream = 0,
  ) {}
  next(): number {
    return uniformAt(this.seed, this.stream, this.index++);
  }
}

/** Gaussian noise addressed by (block, step): Box–Muller over counter-based uniforms. */
export class SeededNoise {
  constructor(readonly seed: number) {}
  gaussian(out: Float32Array, std: number, at: { block: number; step: number }): void {
    const stream = (Math.imul(at.block + 1, 0x9e3779b1) ^ (at.step + 1)) >>> 0;
    // uniformAt(seed, stream, i) = mix32(base ^ i): the hash of (seed, stream) is the same for every index.
    const base = mix32(mix32(this.seed >>> 0) ^ stream);
    const n = out.length;
    for (let i = 0; i < n; i += 2) {
      // 1 - u keeps the logarithm finite.
      const u1 = 1 - mix32(base ^ i) / 4294967296;
      const u2 = mix32(base ^ (i + 1)) / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = std * r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < n) out[i + 1] = std * r * Math.sin(2 * Math.PI * u2);
    }
  }
}

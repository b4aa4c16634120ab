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

/**
 * cos(2π·h/2³²) and sin(2π·h/2³²) of a 32-bit h, the angle split into its top TRIG_BITS bits (a table of exact
 * Math.cos/Math.sin values) and the rest (δ < 2π/1024, short Taylor series), joined by the angle-addition formulas.
 * Within a few float64 ulps of Math.cos/Math.sin(2π·h/2³²), so the float32 noise below is the same (checked over
 * millions of draws in test/unit/engine/vocab-exact.test.ts) at about half the cost: the noise of every diffusion step is
 * |V| values per block position (#18 P4/P6).
 */
const TRIG_BITS = 10;
const TRIG_COS = new Float64Array(1 << TRIG_BITS);
const TRIG_SIN = new Float64Array(1 << TRIG_BITS);
for (let j = 0; j < 1 << TRIG_BITS; j++) {
  TRIG_COS[j] = Math.cos((2 * Math.PI * j) / (1 << TRIG_BITS));
  TRIG_SIN[j] = Math.sin((2 * Math.PI * j) / (1 << TRIG_BITS));
}
const FINE_MASK = 2 ** (32 - TRIG_BITS) - 1;
const FINE_ANGLE = (2 * Math.PI) / 4294967296;

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
      const h = mix32(base ^ (i + 1)); // u2 = h / 2³²
      const r = std * Math.sqrt(-2 * Math.log(u1));
      const coarse = h >>> (32 - TRIG_BITS);
      const d = (h & FINE_MASK) * FINE_ANGLE;
      const d2 = d * d;
      const cosD = 1 - d2 * (0.5 - d2 * (1 / 24 - d2 / 720));
      const sinD = d * (1 - d2 * (1 / 6 - d2 / 120));
      const c = TRIG_COS[coarse]!;
      const s = TRIG_SIN[coarse]!;
      out[i] = r * (c * cosD - s * sinD);
      if (i + 1 < n) out[i + 1] = r * (s * cosD + c * sinD);
    }
  }
}

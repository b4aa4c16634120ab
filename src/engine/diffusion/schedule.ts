/**
 * The cosine noise schedule of SSD-LM (A_seed_reference §1.4): f(t) = cos(((t/T + s)/(1 + s))·π/2)², s = 1e-4,
 * ᾱ_t = f(t)/f(0). It depends only on t/T, so any T_decode ≤ T_train re-parameterises the same curve.
 */
const S = 1e-4;
const f = (u: number) => Math.cos(((u + S) / (1 + S)) * (Math.PI / 2)) ** 2;
const F0 = f(0);

/** ᾱ at t of T steps (t = 0 … T); exactly 1 at t = 0. */
export function alphaBar(t: number, T: number): number {
  if (t <= 0) return 1;
  return f(t / T) / F0;
}

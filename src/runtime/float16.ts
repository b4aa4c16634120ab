/** IEEE 754 half-precision conversions for float16 tensors (ONNX Runtime for Node hands them over as Uint16Array). */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float value of half-precision bits. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Half-precision bits of a float, rounded to nearest even (overflow to ±Infinity, NaN kept). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is still correct
  return sign | half;
}

/** Float32 copy of `[start, end)` of a float16 (Uint16Array bits) or float32 buffer. */
export function toFloat32(data: ArrayLike<number>, start = 0, end = data.length): Float32Array {
  if (data instanceof Float32Array) return data.slice(start, end);
  const out = new Float32Array(end - start);
  if (data instanceof Uint16Array) for (let i = start; i < end; i++) out[i - start] = halfToFloat(data[i]!);
  else for (let i = start; i < end; i++) out[i - start] = Number(data[i]);
  return out;
}

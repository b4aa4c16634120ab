/**
 * Synthetic inputs that satisfy a graph's declared I/O, for the self-test and benchmarks. Symbolic dimensions are
 * resolved with small values: `past*` dimensions are 0 (an empty KV cache), all others 1, and sums such as
 * `past_sequence_length + 1` are evaluated.
 */
import type { Dim, ValueSpec } from './onnxModel';

export function resolveDim(d: Dim, overrides: Record<string, number> = {}): number {
  if (typeof d === 'number') return d;
  if (d in overrides) return overrides[d]!;
  if (d.includes('+')) return d.split('+').reduce((n, part) => n + resolveDim(part.trim(), overrides), 0);
  if (/^\d+$/.test(d)) return Number(d);
  return /past/i.test(d) ? 0 : 1;
}

export interface SyntheticTensor {
  dtype: string;
  dims: number[];
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array;
}

/** Deterministic pseudo-random inputs (so a self-test is repeatable). */
export function syntheticFeeds(inputs: readonly ValueSpec[], seed = 1): Record<string, SyntheticTensor> {
  let s = seed >>> 0 || 1;
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const out: Record<string, SyntheticTensor> = {};
  for (const v of inputs) {
    const dims = v.shape.map((d) => resolveDim(d));
    const n = dims.reduce((a, b) => a * b, 1);
    const isMask = /mask/i.test(v.name);
    switch (v.dtype) {
      case 'float32':
        out[v.name] = { dtype: 'float32', dims, data: Float32Array.from({ length: n }, () => (isMask ? 1 : rand() * 2 - 1)) };
        break;
      case 'int64':
        out[v.name] = { dtype: 'int64', dims, data: BigInt64Array.from({ length: n }, () => (isMask ? 1n : 0n)) };
        break;
      case 'int32':
        out[v.name] = { dtype: 'int32', dims, data: Int32Array.from({ length: n }, () => (isMask ? 1 : 0)) };
        break;
      case 'bool':
      case 'uint8':
        out[v.name] = { dtype: v.dtype, dims, data: Uint8Array.from({ length: n }, () => (isMask ? 1 : 0)) };
        break;
      default:
        throw new Error(`input ${v.name}: dtype ${v.dtype} is not supported by the self-test`);
    }
  }
  return out;
}

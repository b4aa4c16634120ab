/**
 * Byte tokens with byte-pair merges: the "bytes + BPE" token mapping of codec LMs (the thesis trains JPEG-LM and
 * AVC-LM with a BPE vocabulary over byte characters). A pack lists its merges as `[left, right]` token-id pairs in rank
 * order; ids offset…offset + 255 are the 256 bytes and merge r makes id offset + 256 + r, which stands for the bytes
 * of `left` followed by those of `right`. Ids below the offset are special tokens (bos, eos, pad).
 *
 * Encoding is BPE's: start from one token per byte and, while some adjacent pair has a merge, merge every occurrence
 * (left to right, non-overlapping) of the pair with the lowest rank. Any sequence of tokens spells its bytes back, so
 * the decoder may sample merged tokens freely; the stream validators see the bytes (`TokenBytes`).
 */
import { TokenMappingError, type TokenBytes } from './jpeg/tokens';

/** Most merges a pack may list (the thesis' vocabularies are ~1k; 64k keeps the pair table small). */
export const MAX_BYTE_MERGES = 65_536;

/** Merges as flat pairs: `pairs[2r]`, `pairs[2r + 1]` are the ids that merge r joins. */
export interface ByteMerges {
  offset: number;
  pairs: Int32Array;
}

/**
 * Checks a parsed merges file: an array of `[left, right]` integer pairs, each id a byte token or an earlier merge
 * (so every merged token spells a definite byte string), and the last id inside `vocabSize`.
 */
export function parseByteMerges(json: unknown, offset: number, vocabSize: number): ByteMerges {
  if (!Array.isArray(json)) throw new TokenMappingError('the merges file must be a JSON array of [left, right] token-id pairs');
  if (json.length > MAX_BYTE_MERGES) throw new TokenMappingError(`the merges file lists ${json.length} merges; at most ${MAX_BYTE_MERGES} are allowed`);
  if (offset + 256 + json.length > vocabSize)
    throw new TokenMappingError(
      `${json.length} merges after the byte tokens (${offset}…${offset + 255}) need a vocabulary of ${offset + 256 + json.length}; the model has ${vocabSize}`,
    );
  const pairs = new Int32Array(json.length * 2);
  json.forEach((pair: unknown, r) => {
    if (!Array.isArray(pair) || pair.length !== 2) throw new TokenMappingError(`merge ${r} must be a [left, right] pair of token ids`);
    const newId = offset + 256 + r;
    pair.forEach((id: unknown, side) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < offset || id >= newId)
        throw new TokenMappingError(`merge ${r} (id ${newId}): ${side ? 'right' : 'left'} id ${String(id)} is neither a byte token nor an earlier merge`);
      pairs[r * 2 + side] = id;
    });
  });
  return { offset, pairs };
}

/** The bytes of every id of a `size`-token vocabulary (undefined below the offset and past the last merge). */
export function byteBpeVocabulary(size: number, merges: ByteMerges): TokenBytes {
  const { offset, pairs } = merges;
  const out: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(size).fill(undefined);
  for (let b = 0; b < 256 && offset + b < size; b++) out[offset + b] = Uint8Array.of(b);
  for (let r = 0; r * 2 < pairs.length; r++) {
    const id = offset + 256 + r;
    if (id >= size) break;
    const left = out[pairs[r * 2]!]!;
    const right = out[pairs[r * 2 + 1]!]!;
    const joined = new Uint8Array(left.length + right.length);
    joined.set(left);
    joined.set(right, left.length);
    out[id] = joined;
  }
  return out;
}

/** The token ids of `bytes` under the merges (BPE: lowest-rank pair first, every occurrence of it, left to right). */
export function encodeByteBpe(bytes: Uint8Array, merges: ByteMerges): Int32Array {
  const { offset, pairs } = merges;
  const rankOf = new Map<number, number>();
  // Key of a pair: left * 2^21 + right (ids stay below offset + 256 + 64k < 2^21 for any sane offset).
  const key = (a: number, b: number) => a * 0x200000 + b;
  for (let r = pairs.length / 2 - 1; r >= 0; r--) rankOf.set(key(pairs[r * 2]!, pairs[r * 2 + 1]!), r);
  let ids = Array.from(bytes, (b) => b + offset);
  if (!rankOf.size) return Int32Array.from(ids);
  for (;;) {
    let best = Infinity;
    for (let i = 0; i + 1 < ids.length; i++) {
      const r = rankOf.get(key(ids[i]!, ids[i + 1]!));
      if (r !== undefined && r < best) best = r;
    }
    if (best === Infinity) return Int32Array.from(ids);
    const left = pairs[best * 2]!;
    const right = pairs[best * 2 + 1]!;
    const merged = offset + 256 + best;
    const next: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (i + 1 < ids.length && ids[i] === left && ids[i + 1] === right) {
        next.push(merged);
        i++;
      } else next.push(ids[i]!);
    }
    ids = next;
  }
}

/**
 * Byte masks and the token masks built from them, shared by the byte-stream validators (JPEG, H.264): a validator
 * says which bytes may come next; a vocabulary of multi-byte tokens then needs each token's first byte in the mask
 * and the rest accepted in turn.
 */

/** 256 bits, bit b of word b >> 5 set when byte b is allowed. */
export type ByteMask = Uint32Array;

export function maskHas(mask: ByteMask, byte: number): boolean {
  return ((mask[byte >>> 5]! >>> (byte & 31)) & 1) === 1;
}

export function maskBytes(mask: ByteMask): number[] {
  const out: number[] = [];
  for (let b = 0; b < 256; b++) if (maskHas(mask, b)) out.push(b);
  return out;
}

/** What `allowedTokensOf` needs of a validator. */
export interface ByteStreamValidator {
  allowedNextBytes(): ByteMask;
  /** Whether these bytes, fed in order from the current state, are all accepted (the state is unchanged). */
  accepts(bytes: ArrayLike<number>): boolean;
}

/**
 * Which token ids may come next, for a vocabulary described by the bytes of each token: `out[id]` = 1 when all of
 * its bytes are accepted. Non-byte tokens (undefined) get 0: the caller allows EOS exactly when the stream may end.
 */
export function allowedTokensOf(
  v: ByteStreamValidator,
  vocabulary: readonly (Uint8Array | readonly number[] | undefined)[],
  out: Uint8Array = new Uint8Array(vocabulary.length),
): Uint8Array {
  const mask = v.allowedNextBytes();
  for (let id = 0; id < vocabulary.length; id++) {
    const bytes = vocabulary[id];
    if (!bytes?.length || !maskHas(mask, bytes[0]!)) out[id] = 0;
    else out[id] = bytes.length === 1 || v.accepts(bytes) ? 1 : 0;
  }
  return out;
}

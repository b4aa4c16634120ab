/**
 * Byte ↔ token mappings for JPEG-LM style models. A pack's manifest says which one its tokenizer uses:
 *  - plain bytes: token id = byte + offset (offset = the number of special tokens placed before the bytes);
 *  - the official checkpoint's text form (seed reference §4.2): byte b ↔ the Braille character U+2800 + b, the text
 *    then tokenised by the model's own (SentencePiece BPE) tokenizer, so a token may stand for several bytes.
 * For the decoder, a vocabulary is described by the bytes each token id stands for (`TokenBytes`), which is what
 * the stream validator needs to allow or forbid a token.
 */

/** U+2800, the first Braille pattern: byte b is the character U+2800 + b (`UNICODE_OFFSET = 10240` in `run.py`). */
export const BRAILLE_OFFSET = 0x2800;

export class TokenMappingError extends Error {}

export function bytesToBraille(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    const chunk = bytes.subarray(i, i + 4096);
    out += String.fromCharCode(...Array.from(chunk, (b) => BRAILLE_OFFSET + b));
  }
  return out;
}

/** The inverse of `bytesToBraille`; any character outside U+2800…U+28FF is an error (named with its index). */
export function brailleToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const b = text.charCodeAt(i) - BRAILLE_OFFSET;
    if (b < 0 || b > 255)
      throw new TokenMappingError(`character ${i} (U+${text.charCodeAt(i).toString(16).toUpperCase().padStart(4, '0')}) is not a byte character`);
    out[i] = b;
  }
  return out;
}

/** Plain byte tokens: id = byte + offset. */
export function bytesToTokenIds(bytes: Uint8Array, offset = 0): number[] {
  return Array.from(bytes, (b) => b + offset);
}

/** Plain byte tokens back to bytes; an id outside offset…offset + 255 is an error. */
export function tokenIdsToBytes(ids: readonly number[], offset = 0): Uint8Array {
  const out = new Uint8Array(ids.length);
  ids.forEach((id, i) => {
    const b = id - offset;
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new TokenMappingError(`token ${id} at ${i} is not a byte token (ids ${offset}…${offset + 255})`);
    out[i] = b;
  });
  return out;
}

/** The bytes each token id stands for; undefined for special tokens (BOS, EOS, padding) and ids that are no bytes. */
export type TokenBytes = readonly (Uint8Array | undefined)[];

/** The vocabulary of plain byte tokens: `size` ids, bytes at offset…offset + 255. */
export function plainByteVocabulary(size: number, offset = 0): TokenBytes {
  if (offset < 0 || offset + 256 > size) throw new TokenMappingError(`a vocabulary of ${size} cannot hold 256 byte tokens from ${offset}`);
  return Array.from({ length: size }, (_, id) => (id >= offset && id < offset + 256 ? Uint8Array.of(id - offset) : undefined));
}

/**
 * The vocabulary of a Braille-text tokenizer: `pieces[id]` is the token's text (SentencePiece's "▁" word-boundary
 * mark and other non-Braille characters make it a non-byte token, as do empty pieces).
 */
export function brailleVocabulary(pieces: readonly (string | undefined)[]): TokenBytes {
  return pieces.map((p) => {
    if (!p) return undefined;
    try {
      return brailleToBytes(p);
    } catch {
      return undefined;
    }
  });
}

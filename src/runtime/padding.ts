/**
 * Batches of token rows for the decoder-layout graphs (causal LM decoder, diffusion context): rows are left-padded,
 * so every row's last real token sits at the last position, and masked; position ids count only real tokens, so a
 * padded row computes what it would alone.
 */

export interface LeftPadded {
  /** [rows, length] token ids, `padId` in front of shorter rows */
  ids: BigInt64Array;
  /** [rows, length] attention mask, 1 = token, 0 = left padding */
  mask: BigInt64Array;
  /** [rows, length] position ids: 0, 1, … over each row's real tokens, 0 under the padding */
  pos: BigInt64Array;
  /** the longest row's length: the batch's sequence length */
  length: number;
}

/** Left-pads `rows` to the longest one (see the module comment). */
export function leftPad(rows: readonly ArrayLike<number>[], padId: number): LeftPadded {
  const R = rows.length;
  const L = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(R * L).fill(BigInt(padId));
  const mask = new BigInt64Array(R * L);
  const pos = new BigInt64Array(R * L);
  rows.forEach((row, r) => {
    const offset = L - row.length;
    for (let j = 0; j < row.length; j++) {
      ids[r * L + offset + j] = BigInt(row[j]!);
      mask[r * L + offset + j] = 1n;
      pos[r * L + offset + j] = BigInt(j);
    }
  });
  return { ids, mask, pos, length: L };
}

/**
 * The attention mask [rows, length + added] of `rows` rows after `added` more real tokens each: every row of `mask`
 * ([rows, length]) followed by `added` ones.
 */
export function extendMask(mask: BigInt64Array, rows: number, length: number, added: number): BigInt64Array {
  const L = length + added;
  const out = new BigInt64Array(rows * L);
  for (let r = 0; r < rows; r++) {
    out.set(mask.subarray(r * length, (r + 1) * length), r * L);
    out.fill(1n, r * L + length, (r + 1) * L);
  }
  return out;
}

/**
 * Huffman codes from DHT-style specifications (T.81 Annex C: code lengths from BITS, codes assigned in increasing
 * order, one more bit at each length), as a bit-by-bit decoding tree for the stream validator and as a code table
 * for writing bits (closing a stream, re-encoding).
 *
 * All trees live in one forest of flat arrays so a validator state is a handful of integers: `child[2n + bit]` is
 * 0 (no code continues this way), a positive internal node, or −(symbol + 1) for a leaf. For AC tables each node
 * also records what its subtree can still produce, so a prefix that could only end in a symbol the block has no
 * room for is rejected at once rather than at the leaf: `hasEob[n]` and `minRun[n]` (the smallest zero-run among
 * its other symbols, ZRL counting as 16; 99 when there is none).
 */
import type { HuffmanSpec } from './tables';

export interface HuffmanCodes {
  /** Code bits of each symbol (right-aligned), valid where `length[symbol] > 0`. */
  readonly code: Uint16Array;
  /** Code length of each symbol in bits; 0 for symbols the table does not hold. */
  readonly length: Uint8Array;
}

/** Codes of a table per T.81 Annex C (Figures C.1–C.3). Throws on a BITS/values mismatch or an over-full length. */
export function huffmanCodes(spec: HuffmanSpec): HuffmanCodes {
  if (spec.bits.length !== 16) throw new Error('a Huffman table has 16 code-length counts');
  const total = spec.bits.reduce((a, b) => a + b, 0);
  if (total !== spec.values.length || total > 256) throw new Error(`Huffman table: ${total} codes for ${spec.values.length} symbols`);
  const code = new Uint16Array(256);
  const length = new Uint8Array(256);
  let next = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < spec.bits[len - 1]!; i++) {
      const symbol = spec.values[k++]!;
      if (length[symbol]) throw new Error(`Huffman table: symbol ${symbol} appears twice`);
      // T.81 reserves the all-ones code of each length: a code may not consist of ones only.
      if (next >= (1 << len) - 1) throw new Error(`Huffman table: too many codes of length ${len}`);
      code[symbol] = next++;
      length[symbol] = len;
    }
    next <<= 1;
  }
  return { code, length };
}

/** The decoding forest: every table added gets a root node. */
export class HuffmanForest {
  child = new Int32Array(64);
  hasEob = new Uint8Array(32);
  minRun = new Uint8Array(32);
  private nodes = 1; // node 0 is "none"

  private newNode(): number {
    const n = this.nodes++;
    if (2 * n + 2 > this.child.length) {
      const child = new Int32Array(this.child.length * 2);
      child.set(this.child);
      this.child = child;
      const hasEob = new Uint8Array(this.hasEob.length * 2);
      hasEob.set(this.hasEob);
      this.hasEob = hasEob;
      const minRun = new Uint8Array(this.minRun.length * 2);
      minRun.set(this.minRun);
      this.minRun = minRun;
    }
    this.minRun[n] = 99;
    return n;
  }

  /** Adds a table; returns its root. `ac` records EOB / minimal-run facts on every node for the validator. */
  add(spec: HuffmanSpec, ac: boolean): number {
    const { code, length } = huffmanCodes(spec);
    const root = this.newNode();
    for (const symbol of spec.values) {
      const len = length[symbol]!;
      const bits = code[symbol]!;
      const run = symbol === 0xf0 ? 16 : symbol >> 4;
      let node = root;
      for (let i = len - 1; i >= 0; i--) {
        if (ac) {
          if (symbol === 0x00) this.hasEob[node] = 1;
          else this.minRun[node] = Math.min(this.minRun[node]!, run);
        }
        const slot = 2 * node + ((bits >> i) & 1);
        if (i === 0) {
          this.child[slot] = -(symbol + 1);
        } else {
          let next = this.child[slot]!;
          if (next === 0) {
            next = this.newNode();
            this.child[slot] = next;
          }
          node = next;
        }
      }
    }
    return root;
  }
}

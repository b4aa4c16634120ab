/**
 * CAVLC and macroblock tables of ITU-T H.264 (08/2021), typed from the standard: Table 9-5 (coeff_token), Tables
 * 9-7/9-8 (total_zeros, 4×4 blocks), 9-9a (total_zeros, 4:2:0 chroma DC), 9-10 (run_before), Table 9-4
 * (coded_block_pattern of me(v), ChromaArrayType 1), Tables 7-11/7-13/7-17 (macroblock and sub-macroblock types).
 * Codes are written as bit strings, the way the standard prints them. test/unit/codec-h264-tables.test.ts checks
 * that each table is a prefix-free code and, where the standard says so, complete.
 */

/** One code word: its bits and the value it stands for. */
export interface VlcEntry {
  readonly code: number;
  readonly length: number;
  readonly value: number;
}

/** A binary decoding trie over a prefix-free code (child −1: no code continues that way; leaf: `leaf` ≥ 0). */
export class Vlc {
  readonly name: string;
  readonly entries: readonly VlcEntry[];
  /** child[2·node + bit]: next node, or −1. */
  readonly child: Int32Array;
  /** Value at a node that completes a code word, else −1. */
  readonly leaf: Int32Array;
  /** The entries whose code starts with the bits leading to a node. */
  readonly under: VlcEntry[][];

  constructor(name: string, entries: readonly VlcEntry[]) {
    this.name = name;
    this.entries = entries;
    const child: number[] = [-1, -1];
    const leaf: number[] = [-1];
    const under: VlcEntry[][] = [[]];
    for (const e of entries) {
      let node = 0;
      under[0]!.push(e);
      for (let i = e.length - 1; i >= 0; i--) {
        if (leaf[node]! >= 0) throw new Error(`${name}: code of ${e.value} extends another code`);
        const bit = Math.floor(e.code / 2 ** i) % 2;
        let next = child[2 * node + bit]!;
        if (next < 0) {
          next = leaf.length;
          leaf.push(-1);
          under.push([]);
          child.push(-1, -1);
          child[2 * node + bit] = next;
        }
        node = next;
        under[node]!.push(e);
      }
      if (leaf[node]! >= 0 || child[2 * node]! >= 0 || child[2 * node + 1]! >= 0) throw new Error(`${name}: code of ${e.value} is a prefix of another`);
      leaf[node] = e.value;
    }
    this.child = Int32Array.from(child);
    this.leaf = Int32Array.from(leaf);
    this.under = under;
  }

  /** The code word of `value`. */
  codeOf(value: number): VlcEntry | undefined {
    return this.entries.find((e) => e.value === value);
  }
}

function bits(s: string): { code: number; length: number } {
  return { code: parseInt(s, 2), length: s.length };
}

function vlcFrom(name: string, codes: Record<number, string>): Vlc {
  return new Vlc(
    name,
    Object.entries(codes).map(([v, s]) => ({ ...bits(s), value: Number(v) })),
  );
}

/** coeff_token values are TotalCoeff·4 + TrailingOnes. */
export const coeffTokenValue = (totalCoeff: number, trailingOnes: number): number => totalCoeff * 4 + trailingOnes;

/**
 * Table 9-5, one column: rows TotalCoeff 0…16, each the codes for TrailingOnes 0…3 ('' where the combination does
 * not exist).
 */
function coeffTokenTable(name: string, rows: readonly (readonly string[])[]): Vlc {
  const codes: Record<number, string> = {};
  rows.forEach((row, tc) => row.forEach((s, t1) => s && (codes[coeffTokenValue(tc, t1)] = s)));
  return vlcFrom(name, codes);
}

/** 0 ≤ nC < 2. */
const COEFF_TOKEN_0 = coeffTokenTable('coeff_token (0 ≤ nC < 2)', [
  ['1'],
  ['000101', '01'],
  ['00000111', '000100', '001'],
  ['000000111', '00000110', '0000101', '00011'],
  ['0000000111', '000000110', '00000101', '000011'],
  ['00000000111', '0000000110', '000000101', '0000100'],
  ['0000000001111', '00000000110', '0000000101', '00000100'],
  ['0000000001011', '0000000001110', '00000000101', '000000100'],
  ['0000000001000', '0000000001010', '0000000001101', '0000000100'],
  ['00000000001111', '00000000001110', '0000000001001', '00000000100'],
  ['00000000001011', '00000000001010', '00000000001101', '0000000001100'],
  ['000000000001111', '000000000001110', '00000000001001', '00000000001100'],
  ['000000000001011', '000000000001010', '000000000001101', '00000000001000'],
  ['0000000000001111', '000000000000001', '000000000001001', '000000000001100'],
  ['0000000000001011', '0000000000001110', '0000000000001101', '000000000001000'],
  ['0000000000000111', '0000000000001010', '0000000000001001', '0000000000001100'],
  ['0000000000000100', '0000000000000110', '0000000000000101', '0000000000001000'],
]);

/** 2 ≤ nC < 4. */
const COEFF_TOKEN_1 = coeffTokenTable('coeff_token (2 ≤ nC < 4)', [
  ['11'],
  ['001011', '10'],
  ['000111', '00111', '011'],
  ['0000111', '001010', '001001', '0101'],
  ['00000111', '000110', '000101', '0100'],
  ['00000100', '0000110', '0000101', '00110'],
  ['000000111', '00000110', '00000101', '001000'],
  ['00000001111', '000000110', '000000101', '000100'],
  ['00000001011', '00000001110', '00000001101', '0000100'],
  ['000000001111', '00000001010', '00000001001', '000000100'],
  ['000000001011', '000000001110', '000000001101', '00000001100'],
  ['000000001000', '000000001010', '000000001001', '00000001000'],
  ['0000000001111', '0000000001110', '0000000001101', '000000001100'],
  ['0000000001011', '0000000001010', '0000000001001', '0000000001100'],
  ['0000000000111', '00000000001011', '0000000000110', '0000000001000'],
  ['00000000001001', '00000000001000', '00000000001010', '0000000000001'],
  ['00000000000111', '00000000000110', '00000000000101', '00000000000100'],
]);

/** 4 ≤ nC < 8. */
const COEFF_TOKEN_2 = coeffTokenTable('coeff_token (4 ≤ nC < 8)', [
  ['1111'],
  ['001111', '1110'],
  ['001011', '01111', '1101'],
  ['001000', '01100', '01110', '1100'],
  ['0001111', '01010', '01011', '1011'],
  ['0001011', '01000', '01001', '1010'],
  ['0001001', '001110', '001101', '1001'],
  ['0001000', '001010', '001001', '1000'],
  ['00001111', '0001110', '0001101', '01101'],
  ['00001011', '00001110', '0001010', '001100'],
  ['000001111', '00001010', '00001101', '0001100'],
  ['000001011', '000001110', '00001001', '00001100'],
  ['000001000', '000001010', '000001101', '00001000'],
  ['0000001101', '000000111', '000001001', '000001100'],
  ['0000001001', '0000001100', '0000001011', '0000001010'],
  ['0000000101', '0000001000', '0000000111', '0000000110'],
  ['0000000001', '0000000100', '0000000011', '0000000010'],
]);

/** 8 ≤ nC: 6-bit fixed-length codes, xxxxyy = TotalCoeff − 1, TrailingOnes; 000011 = no coefficients. */
const COEFF_TOKEN_3 = (() => {
  const rows: string[][] = [['000011']];
  for (let tc = 1; tc <= 16; tc++) {
    const row: string[] = [];
    for (let t1 = 0; t1 <= Math.min(tc, 3); t1++) row.push((((tc - 1) << 2) | t1).toString(2).padStart(6, '0'));
    rows.push(row);
  }
  return coeffTokenTable('coeff_token (8 ≤ nC)', rows);
})();

/** nC = −1: chroma DC of 4:2:0. */
const COEFF_TOKEN_CHROMA_DC = coeffTokenTable('coeff_token (chroma DC, nC = −1)', [
  ['01'],
  ['000111', '1'],
  ['000100', '000110', '001'],
  ['000011', '0000011', '0000010', '000101'],
  ['000010', '00000011', '00000010', '0000000'],
]);

/** The coeff_token table for nC (§9.2.1): −1 is 4:2:0 chroma DC. */
export function coeffTokenVlc(nC: number): Vlc {
  if (nC < 0) return COEFF_TOKEN_CHROMA_DC;
  if (nC < 2) return COEFF_TOKEN_0;
  if (nC < 4) return COEFF_TOKEN_1;
  if (nC < 8) return COEFF_TOKEN_2;
  return COEFF_TOKEN_3;
}

export const COEFF_TOKEN_TABLES = [COEFF_TOKEN_0, COEFF_TOKEN_1, COEFF_TOKEN_2, COEFF_TOKEN_3, COEFF_TOKEN_CHROMA_DC] as const;

function listTable(name: string, codes: readonly string[]): Vlc {
  const rec: Record<number, string> = {};
  codes.forEach((s, v) => (rec[v] = s));
  return vlcFrom(name, rec);
}

/** Tables 9-7 and 9-8: total_zeros for 4×4 blocks, by TotalCoeff 1…15 (index 0 unused). */
export const TOTAL_ZEROS_4x4: readonly Vlc[] = [
  [],
  [
    '1',
    '011',
    '010',
    '0011',
    '0010',
    '00011',
    '00010',
    '000011',
    '000010',
    '0000011',
    '0000010',
    '00000011',
    '00000010',
    '000000011',
    '000000010',
    '000000001',
  ],
  ['111', '110', '101', '100', '011', '0101', '0100', '0011', '0010', '00011', '00010', '000011', '000010', '000001', '000000'],
  ['0101', '111', '110', '101', '0100', '0011', '100', '011', '0010', '00011', '00010', '000001', '00001', '000000'],
  ['00011', '111', '0101', '0100', '110', '101', '100', '0011', '011', '0010', '00010', '00001', '00000'],
  ['0101', '0100', '0011', '111', '110', '101', '100', '011', '0010', '00001', '0001', '00000'],
  ['000001', '00001', '111', '110', '101', '100', '011', '010', '0001', '001', '000000'],
  ['000001', '00001', '101', '100', '011', '11', '010', '0001', '001', '000000'],
  ['000001', '0001', '00001', '011', '11', '10', '010', '001', '000000'],
  ['000001', '000000', '0001', '11', '10', '001', '01', '00001'],
  ['00001', '00000', '001', '11', '10', '01', '0001'],
  ['0000', '0001', '001', '010', '1', '011'],
  ['0000', '0001', '01', '1', '001'],
  ['000', '001', '1', '01'],
  ['00', '01', '1'],
  ['0', '1'],
].map((codes, tc) => listTable(`total_zeros (TotalCoeff ${tc})`, codes));

/** Table 9-9a: total_zeros for 4:2:0 chroma DC, by TotalCoeff 1…3 (index 0 unused). */
export const TOTAL_ZEROS_CHROMA_DC: readonly Vlc[] = [[], ['1', '01', '001', '000'], ['1', '01', '00'], ['1', '0']].map((codes, tc) =>
  listTable(`total_zeros (chroma DC, TotalCoeff ${tc})`, codes),
);

/** Table 9-10: run_before by zerosLeft 1…6 and > 6 (index 7; index 0 unused). */
export const RUN_BEFORE: readonly Vlc[] = [
  [],
  ['1', '0'],
  ['1', '01', '00'],
  ['11', '10', '01', '00'],
  ['11', '10', '01', '001', '000'],
  ['11', '10', '011', '010', '001', '000'],
  ['11', '000', '001', '011', '010', '101', '100'],
  ['111', '110', '101', '100', '011', '010', '001', '0001', '00001', '000001', '0000001', '00000001', '000000001', '0000000001', '00000000001'],
].map((codes, zl) => listTable(`run_before (zerosLeft ${zl === 7 ? '> 6' : zl})`, codes));

/** level_prefix 0…15 (a 1 after that many 0s; Baseline allows at most 15, §9.2.2.1). */
export const LEVEL_PREFIX = listTable(
  'level_prefix',
  Array.from({ length: 16 }, (_, n) => `${'0'.repeat(n)}1`),
);

/** Table 9-4, ChromaArrayType 1 or 2: coded_block_pattern by codeNum, Intra_4x4 (and Intra_8x8) macroblocks. */
export const CBP_INTRA: readonly number[] = [
  47, 31, 15, 0, 23, 27, 29, 30, 7, 11, 13, 14, 39, 43, 45, 46, 16, 3, 5, 10, 12, 19, 21, 26, 28, 35, 37, 42, 44, 1, 2, 4, 8, 17, 18, 20, 24, 6, 9, 22, 25, 32,
  33, 34, 36, 40, 38, 41,
];

/** Table 9-4, ChromaArrayType 1 or 2: coded_block_pattern by codeNum, Inter macroblocks. */
export const CBP_INTER: readonly number[] = [
  0, 16, 1, 2, 4, 8, 32, 3, 5, 10, 12, 15, 47, 7, 11, 13, 14, 6, 9, 31, 35, 37, 42, 44, 33, 34, 36, 40, 39, 43, 45, 46, 17, 18, 20, 24, 19, 21, 26, 28, 23, 27,
  29, 30, 22, 25, 38, 41,
];

/** codeNum of each coded_block_pattern (inverse of Table 9-4). */
export const CBP_INTRA_CODE: readonly number[] = invert(CBP_INTRA);
export const CBP_INTER_CODE: readonly number[] = invert(CBP_INTER);

function invert(table: readonly number[]): number[] {
  const out: number[] = [];
  table.forEach((cbp, code) => (out[cbp] = code));
  return out;
}

/** Table 7-13: P macroblock types 0…4 (5…30 are the I types of Table 7-11, minus 5). */
export const P_L0_16x16 = 0;
export const P_L0_L0_16x8 = 1;
export const P_L0_L0_8x16 = 2;
export const P_8x8 = 3;
export const P_8x8ref0 = 4;
/** Table 7-11: I_NxN = 0, I_16x16_<pred>_<cbpChroma>_<cbpLuma> = 1…24, I_PCM = 25. */
export const I_NxN = 0;
export const I_PCM = 25;
/** Number of partitions of a P type (0…2): 16×16, 16×8, 8×16. */
export const P_PARTS = [1, 2, 2] as const;
/** Table 7-17: sub-macroblock partitions of P_8x8 sub types 0…3 (8×8, 8×4, 4×8, 4×4). */
export const SUB_PARTS = [1, 2, 2, 4] as const;

/** Intra16x16PredMode, CodedBlockPatternChroma and CodedBlockPatternLuma of I_16x16 types 1…24. */
export function intra16x16(mbType: number): { predMode: number; cbpChroma: number; cbpLuma: number } {
  const t = mbType - 1;
  return { predMode: t % 4, cbpChroma: Math.floor(t / 4) % 3, cbpLuma: mbType >= 13 ? 15 : 0 };
}

/** The I_16x16 mb_type of a prediction mode and coded block patterns. */
export function intra16x16Type(predMode: number, cbpChroma: number, cbpLuma: 0 | 15): number {
  return 1 + predMode + 4 * cbpChroma + (cbpLuma ? 12 : 0);
}

export const PROFILE_BASELINE = 66;

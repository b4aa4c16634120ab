/**
 * The constant tables of the thesis' canonical JPEG stream, derived from facts of the JPEG standard:
 * ITU-T T.81 Annex K.1 (example quantisation tables, Tables K.1/K.2), Annex K.3 (the typical Huffman tables,
 * Tables K.3–K.6), Figure A.6 (zig-zag order), B.2.4.1/B.2.4.2 (DQT and DHT segment syntax); and the IJG quality
 * scaling that libjpeg's `jpeg_set_quality` applies (quality < 50 → scale 5000 / q %, else 200 − 2q %; values
 * rounded, clamped to 1…255 when baseline is forced). At quality 25 the scale is 200 %, i.e. every entry doubled.
 * `TABLES_BLOB` is the 570 bytes that `stripTables` removes and `restoreTables` re-inserts (seed reference §4.4).
 */

/** A Huffman table as DHT carries it: counts of codes of each length 1…16, then the symbols in code order. */
export interface HuffmanSpec {
  readonly bits: readonly number[];
  readonly values: readonly number[];
}

/** T.81 Table K.3: luminance DC differences (categories 0…11). */
export const STD_DC_LUMINANCE: HuffmanSpec = {
  bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

/** T.81 Table K.4: chrominance DC differences. */
export const STD_DC_CHROMINANCE: HuffmanSpec = {
  bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
  values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};

/** T.81 Table K.5: luminance AC coefficients (162 symbols). */
export const STD_AC_LUMINANCE: HuffmanSpec = {
  bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  values: [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42,
    0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35,
    0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67,
    0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
    0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
    0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4,
    0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};

/** T.81 Table K.6: chrominance AC coefficients (162 symbols). */
export const STD_AC_CHROMINANCE: HuffmanSpec = {
  bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  values: [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1,
    0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a,
    0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66,
    0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96,
    0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4,
    0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
  ],
};

/** Every symbol a baseline AC table can hold: EOB, ZRL and RS for runs 0…15 × sizes 1…10 (162 in all); each of the
 *  two standard AC tables holds exactly these. */
export const ALL_AC_SYMBOLS: readonly number[] = [0x00, 0xf0, ...Array.from({ length: 160 }, (_, i) => ((i / 10) << 4) | ((i % 10) + 1))];

/** T.81 Annex K.1, Table K.1: luminance quantisation table, natural (row-major) order. */
export const K1_LUMINANCE_QUANT: readonly number[] = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103,
  77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** T.81 Annex K.1, Table K.2: chrominance quantisation table, natural order. */
export const K2_CHROMINANCE_QUANT: readonly number[] = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/** Zig-zag position → natural index (T.81 Figure A.6), computed by walking the anti-diagonals. */
export const ZIGZAG: readonly number[] = (() => {
  const order: number[] = [];
  for (let d = 0; d < 15; d++) {
    const cells: number[] = [];
    for (let row = Math.max(0, d - 7); row <= Math.min(7, d); row++) cells.push(row * 8 + (d - row));
    // Even diagonals run bottom-left → top-right (row decreasing), odd ones top-right → bottom-left.
    if (d % 2 === 0) cells.reverse();
    order.push(...cells);
  }
  return order;
})();

/** IJG quality scaling of a base table (natural order in, natural order out), baseline forced (≤ 255). */
export function scaleQuantTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - q * 2;
  return base.map((v) => Math.min(255, Math.max(1, Math.floor((v * scale + 50) / 100))));
}

function segment(marker: number, payload: readonly number[]): number[] {
  const length = payload.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...payload];
}

/** A DQT segment with one 8-bit table (Pq = 0), entries written in zig-zag order (T.81 B.2.4.1). */
export function dqtSegment(tableId: number, natural: readonly number[]): number[] {
  return segment(0xdb, [tableId, ...ZIGZAG.map((i) => natural[i]!)]);
}

/** A DHT segment with one table (T.81 B.2.4.2): Tc (0 DC, 1 AC), Th, the 16 counts, the symbols. */
export function dhtSegment(tableClass: 0 | 1, tableId: number, spec: HuffmanSpec): number[] {
  return segment(0xc4, [(tableClass << 4) | tableId, ...spec.bits, ...spec.values]);
}

/** The thesis' quality (seed reference §4.3: Pillow `quality=25`). */
export const CANONICAL_QUALITY = 25;

/**
 * The 570-byte tables blob: DQT 0, DQT 1, DHT DC 0, DHT AC 0, DHT DC 1, DHT AC 1 — the order libjpeg writes them in
 * a tables-only file and in a full file (seed reference §4.3/§4.4).
 */
export const TABLES_BLOB: Uint8Array = Uint8Array.from([
  ...dqtSegment(0, scaleQuantTable(K1_LUMINANCE_QUANT, CANONICAL_QUALITY)),
  ...dqtSegment(1, scaleQuantTable(K2_CHROMINANCE_QUANT, CANONICAL_QUALITY)),
  ...dhtSegment(0, 0, STD_DC_LUMINANCE),
  ...dhtSegment(1, 0, STD_AC_LUMINANCE),
  ...dhtSegment(0, 1, STD_DC_CHROMINANCE),
  ...dhtSegment(1, 1, STD_AC_CHROMINANCE),
]);

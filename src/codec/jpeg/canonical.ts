/**
 * The thesis' canonical JPEG stream (JPEG-LM, thesis ch. 6; seed reference §4.3–§4.4): baseline, quality 25,
 * 4:2:0 (Y 2×2, Cb/Cr 1×1, so one MCU is 16×16 pixels: Y0 Y1 Y2 Y3 Cb Cr), a restart marker after every MCU, the
 * standard Huffman tables, and "image only": the DQT and DHT segments removed. What remains is
 *
 *   SOI · JFIF APP0 (v1.01, density 1:1, no unit) · SOF0 · DRI (1 MCU) · SOS · entropy data with RSTn · EOI
 *
 * whose 59-byte header depends only on the image size. `restoreTables` re-inserts the constant 570-byte tables
 * blob right after SOI, as the thesis' code does; libjpeg and Pillow decode that order.
 */
import { APP0, DHT, DQT, DRI, EOI, JpegFormatError, RST0, SOF0, SOI, SOS, parseHeaderSegments, scanEntropyMarkers } from './markers';
import { TABLES_BLOB } from './tables';

export interface JpegGeometry {
  readonly width: number;
  readonly height: number;
}

/** Pixels per MCU side at 4:2:0. */
export const MCU_SIZE = 16;
/** Length of the canonical image-only header (SOI through the SOS header), for every image size. */
export const CANONICAL_HEADER_LENGTH = 59;
/** Largest side the codec accepts (SOF0 holds 16 bits; callers enforce their own, smaller limits). */
export const MAX_SIDE = 65535;
/**
 * The largest side a canonical stream read from outside may declare. Closing or previewing a stream costs work and
 * memory per MCU (a 65535×65535 header would mean 16.8 M MCUs), and Concert's models are at most 1024 per side.
 */
export const MAX_STREAM_SIDE = 4096;

export interface McuLayout {
  readonly mcusPerRow: number;
  readonly mcuRows: number;
  readonly mcuCount: number;
}

export function checkGeometry(g: JpegGeometry): void {
  for (const side of [g.width, g.height]) {
    if (!Number.isInteger(side) || side < 1 || side > MAX_SIDE) throw new RangeError(`image side ${side} is outside 1…${MAX_SIDE}`);
  }
}

export function mcuLayout(g: JpegGeometry): McuLayout {
  checkGeometry(g);
  const mcusPerRow = Math.ceil(g.width / MCU_SIZE);
  const mcuRows = Math.ceil(g.height / MCU_SIZE);
  return { mcusPerRow, mcuRows, mcuCount: mcusPerRow * mcuRows };
}

/** JFIF APP0: length 16, "JFIF\0", version 1.01, density unit 0, density 1×1, no thumbnail. */
const JFIF_APP0 = [0xff, APP0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00];
/** SOF0 after the size: 3 components, Y (id 1, 2×2, quantisation table 0), Cb (2, 1×1, 1), Cr (3, 1×1, 1). */
const SOF0_COMPONENTS = [0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01];
/** DRI: restart interval 1 MCU. */
const DRI_ONE_MCU = [0xff, DRI, 0x00, 0x04, 0x00, 0x01];
/** SOS: 3 components, Y DC 0 / AC 0, Cb and Cr DC 1 / AC 1, spectral selection 0…63, no approximation. */
const SOS_HEADER = [0xff, SOS, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00];

/** The 59-byte image-only header of the canonical stream of a `width`×`height` image (seed reference §4.4). */
export function canonicalHeader(g: JpegGeometry): Uint8Array {
  checkGeometry(g);
  const { width: w, height: h } = g;
  const sof0 = [0xff, SOF0, 0x00, 0x11, 0x08, h >> 8, h & 0xff, w >> 8, w & 0xff, ...SOF0_COMPONENTS];
  return Uint8Array.from([0xff, SOI, ...JFIF_APP0, ...sof0, ...DRI_ONE_MCU, ...SOS_HEADER]);
}

/** The image size in a stream's SOF0 segment. Throws when there is none. */
export function streamGeometry(stream: Uint8Array): JpegGeometry {
  const { segments } = parseHeaderSegments(stream);
  const sof = segments.find((s) => s.marker === SOF0);
  if (!sof) {
    const other = segments.find((s) => s.marker >= 0xc1 && s.marker <= 0xcf && s.marker !== DHT && s.marker !== 0xc8 && s.marker !== 0xcc);
    throw new JpegFormatError(other ? 'not a baseline JPEG (only SOF0 is supported)' : 'no SOF0 segment', other?.offset ?? 0);
  }
  if (sof.end - sof.offset < 11) throw new JpegFormatError('SOF0 segment too short', sof.offset);
  const height = (stream[sof.offset + 5]! << 8) | stream[sof.offset + 6]!;
  const width = (stream[sof.offset + 7]! << 8) | stream[sof.offset + 8]!;
  if (!width || !height) throw new JpegFormatError(`unsupported image size ${width}×${height}`, sof.offset);
  if (width > MAX_STREAM_SIDE || height > MAX_STREAM_SIDE)
    throw new JpegFormatError(`image size ${width}×${height} is over the ${MAX_STREAM_SIDE}×${MAX_STREAM_SIDE} this stream handling takes`, sof.offset);
  return { width, height };
}

/** Removes every DQT and DHT segment before the scan (a full JPEG → its image-only stream). */
export function stripTables(full: Uint8Array): Uint8Array {
  const { segments } = parseHeaderSegments(full);
  const drop = segments.filter((s) => s.marker === DQT || s.marker === DHT);
  const out = new Uint8Array(full.length - drop.reduce((n, s) => n + (s.end - s.offset), 0));
  let from = 0;
  let at = 0;
  for (const s of drop) {
    out.set(full.subarray(from, s.offset), at);
    at += s.offset - from;
    from = s.end;
  }
  out.set(full.subarray(from), at);
  return out;
}

/** Re-inserts the constant tables blob right after SOI (an image-only stream → a file any decoder reads). */
export function restoreTables(imageOnly: Uint8Array): Uint8Array {
  if (imageOnly.length < 2 || imageOnly[0] !== 0xff || imageOnly[1] !== SOI) throw new JpegFormatError('not a JPEG stream: no SOI marker', 0);
  const out = new Uint8Array(imageOnly.length + TABLES_BLOB.length);
  out.set(imageOnly.subarray(0, 2), 0);
  out.set(TABLES_BLOB, 2);
  out.set(imageOnly.subarray(2), 2 + TABLES_BLOB.length);
  return out;
}

/** What `describeCanonicalStream` found. */
export interface CanonicalStreamInfo {
  readonly geometry: JpegGeometry;
  readonly layout: McuLayout;
  /** Offset of the first entropy-coded byte (59 for a canonical stream). */
  readonly entropyStart: number;
  /** Offsets of the RST markers, in order. */
  readonly restartOffsets: readonly number[];
  /** How many of each of RST0…RST7. */
  readonly restartCounts: readonly number[];
  /** Offset of EOI, or undefined when the stream does not end with it. */
  readonly eoiOffset: number | undefined;
}

/**
 * Checks the structure of an image-only canonical stream (not its entropy-coded bits: see `validateImageStream`):
 * the exact canonical header for its size, one RSTn after every MCU but the last, numbered 0…7 cyclically, and EOI
 * as the last two bytes. Throws `JpegFormatError` naming the first difference.
 */
export function describeCanonicalStream(stream: Uint8Array): CanonicalStreamInfo {
  const geometry = streamGeometry(stream);
  const layout = mcuLayout(geometry);
  const header = canonicalHeader(geometry);
  for (let i = 0; i < header.length; i++) {
    if (stream[i] !== header[i]) throw new JpegFormatError('header differs from the canonical image-only header', i);
  }
  const { restarts, final } = scanEntropyMarkers(stream, header.length);
  const restartCounts = new Array<number>(8).fill(0);
  restarts.forEach((r, i) => {
    if (r.marker !== RST0 + (i % 8)) throw new JpegFormatError(`restart marker ${i} is RST${r.marker - RST0}, expected RST${i % 8}`, r.offset);
    restartCounts[r.marker - RST0]!++;
  });
  if (restarts.length !== layout.mcuCount - 1) {
    throw new JpegFormatError(`${restarts.length} restart markers for ${layout.mcuCount} MCUs (expected ${layout.mcuCount - 1})`, header.length);
  }
  if (!final || final.marker !== EOI) throw new JpegFormatError('entropy data does not end with EOI', final?.offset ?? stream.length);
  if (final.offset !== stream.length - 2) throw new JpegFormatError('bytes after EOI', final.offset + 2);
  return {
    geometry,
    layout,
    entropyStart: header.length,
    restartOffsets: restarts.map((r) => r.offset),
    restartCounts,
    eoiOffset: final.offset,
  };
}

/**
 * JPEG marker segments (ITU-T T.81 Annex B): markers are 0xFF followed by a code; SOI, EOI and RST0…RST7 stand
 * alone, every other marker before the scan carries a 16-bit big-endian length that counts itself but not the
 * marker. Inside entropy-coded data a 0xFF data byte is followed by a stuffed 0x00 (B.1.1.5), so a 0xFF followed by
 * anything else there is a marker.
 */

export const SOI = 0xd8;
export const EOI = 0xd9;
export const SOS = 0xda;
export const DQT = 0xdb;
export const DHT = 0xc4;
export const SOF0 = 0xc0;
export const DRI = 0xdd;
export const APP0 = 0xe0;
export const COM = 0xfe;
export const RST0 = 0xd0;
export const RST7 = 0xd7;

/** A byte stream is not the JPEG it should be; `offset` is where the problem was seen. */
export class JpegFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

export interface JpegSegment {
  /** The marker code (the byte after 0xFF). */
  readonly marker: number;
  /** Offset of the segment's 0xFF. */
  readonly offset: number;
  /** Offset of the first byte after the segment (after its length-counted payload; offset + 2 for SOI). */
  readonly end: number;
}

/** Segments from SOI through the SOS header, and where the entropy-coded data begins. */
export interface JpegHeaderLayout {
  readonly segments: readonly JpegSegment[];
  readonly entropyStart: number;
}

/** Parses the marker segments before the (first) scan. Throws `JpegFormatError` on anything malformed. */
export function parseHeaderSegments(bytes: Uint8Array): JpegHeaderLayout {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) throw new JpegFormatError('not a JPEG stream: no SOI marker', 0);
  const segments: JpegSegment[] = [{ marker: SOI, offset: 0, end: 2 }];
  let i = 2;
  for (;;) {
    if (i + 4 > bytes.length) throw new JpegFormatError('stream ends inside the header', i);
    if (bytes[i] !== 0xff) throw new JpegFormatError('expected a marker', i);
    const marker = bytes[i + 1]!;
    if (marker === SOI || marker === EOI || (marker >= RST0 && marker <= RST7) || marker === 0x00 || marker === 0xff) {
      throw new JpegFormatError(`unexpected marker FF ${hex(marker)} before the scan`, i);
    }
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    if (length < 2 || i + 2 + length > bytes.length) throw new JpegFormatError(`segment FF ${hex(marker)} has a bad length ${length}`, i);
    const end = i + 2 + length;
    segments.push({ marker, offset: i, end });
    if (marker === SOS) return { segments, entropyStart: end };
    i = end;
  }
}

export interface EntropyMarker {
  readonly marker: number;
  readonly offset: number;
}

/**
 * The markers inside entropy-coded data from `start`: every RSTn, then the first other marker (normally EOI), if
 * any. Stuffed bytes (FF 00) are skipped. `end` is the offset of that final marker, or the stream's length.
 */
export function scanEntropyMarkers(bytes: Uint8Array, start: number): { restarts: EntropyMarker[]; final: EntropyMarker | undefined } {
  const restarts: EntropyMarker[] = [];
  for (let i = start; i + 1 < bytes.length; i++) {
    if (bytes[i] !== 0xff) continue;
    const code = bytes[i + 1]!;
    if (code === 0x00) {
      i++;
      continue;
    }
    if (code >= RST0 && code <= RST7) {
      restarts.push({ marker: code, offset: i });
      i++;
      continue;
    }
    return { restarts, final: { marker: code, offset: i } };
  }
  return { restarts, final: undefined };
}

export function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

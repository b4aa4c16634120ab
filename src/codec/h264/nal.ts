/** Annex B byte streams: start codes and NAL unit headers (H.264 §7.3.1, §7.4.1, Annex B). */
import { H264FormatError } from './errors';

/** NAL unit types (Table 7-1) that these streams use or that `describeStream` tolerates. */
export const NAL_SLICE = 1;
export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;
export const NAL_AUD = 9;

const NAL_NAMES: Record<number, string> = {
  0: 'unspecified',
  1: 'non-IDR slice',
  2: 'slice data partition A',
  3: 'slice data partition B',
  4: 'slice data partition C',
  5: 'IDR slice',
  6: 'SEI',
  7: 'sequence parameter set',
  8: 'picture parameter set',
  9: 'access unit delimiter',
  10: 'end of sequence',
  11: 'end of stream',
  12: 'filler data',
  13: 'SPS extension',
  14: 'prefix NAL unit',
  15: 'subset SPS',
  19: 'auxiliary slice',
  20: 'slice extension',
};

export function nalTypeName(type: number): string {
  return NAL_NAMES[type] ?? (type < 24 ? 'reserved' : 'unspecified');
}

export interface NalHeader {
  readonly forbiddenZeroBit: number;
  readonly nalRefIdc: number;
  readonly nalUnitType: number;
}

export function parseNalHeader(byte: number): NalHeader {
  return { forbiddenZeroBit: byte >> 7, nalRefIdc: (byte >> 5) & 3, nalUnitType: byte & 31 };
}

export function nalHeaderByte(nalRefIdc: number, nalUnitType: number): number {
  return (nalRefIdc << 5) | nalUnitType;
}

/** One NAL unit of a byte stream. */
export interface NalUnit extends NalHeader {
  /** Offset of its start code (00 00 01, or 00 00 00 01). */
  readonly offset: number;
  /** 3 or 4. */
  readonly startCodeLength: number;
  /** Offset of the NAL header byte. */
  readonly headerOffset: number;
  /** End of the NAL unit (exclusive): trailing zero bytes before the next start code are not part of it. */
  readonly end: number;
}

/**
 * Splits an Annex B byte stream into NAL units. The stream must begin with a start code (leading zero bytes
 * allowed); every NAL unit has at least its header byte. Zero bytes between a NAL unit and the next start code
 * (trailing_zero_8bits) belong to neither.
 */
export function splitAnnexB(stream: Uint8Array): NalUnit[] {
  const n = stream.length;
  if (n === 0) throw new H264FormatError('the stream is empty', 0);
  // The first start code.
  let i = 0;
  while (i < n && stream[i] === 0) i++;
  if (i < 2 || i >= n || stream[i] !== 1) throw new H264FormatError('the stream does not begin with a start code (00 00 01 or 00 00 00 01)', 0);
  const units: NalUnit[] = [];
  let scStart = i >= 3 ? i - 3 : i - 2;
  let header = i + 1;
  for (;;) {
    // Find the next 00 00 01 at or after header.
    let j = header;
    let next = -1;
    while (j + 2 < n) {
      if (stream[j + 2]! > 1) j += 3;
      else if (stream[j] === 0 && stream[j + 1] === 0 && stream[j + 2] === 1) {
        next = j;
        break;
      } else j++;
    }
    let end = next < 0 ? n : next;
    let nextScStart = end;
    if (next >= 0 && next > header && stream[next - 1] === 0) nextScStart = next - 1;
    end = nextScStart;
    while (end > header && stream[end - 1] === 0) end--;
    if (end <= header) throw new H264FormatError('a start code with no NAL unit after it', scStart);
    const h = parseNalHeader(stream[header]!);
    units.push({ ...h, offset: scStart, startCodeLength: header - scStart, headerOffset: header, end });
    if (next < 0) break;
    scStart = nextScStart;
    header = next + 3;
    if (header >= n) throw new H264FormatError('the stream ends with a start code', scStart);
  }
  return units;
}

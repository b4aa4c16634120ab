/**
 * The image a completion starts from, as the canonical image-only stream of the model's size: a file that already
 * is one (an image-only stream, or the same with its tables restored: a canonical JPEG file) is taken as it is; any
 * other PNG/JPEG goes through `canonicalImageStream` (images.ts: decode, centre-crop, resize, canonical encode). Errors
 * are `ImageSourceError`s with one line a user can act on (images.ts says what is wrong with an image file).
 */
import { promises as fs } from 'node:fs';
import {
  DHT,
  DQT,
  JpegFormatError,
  describeCanonicalStream,
  parseHeaderSegments,
  streamGeometry,
  stripTables,
  validateImageStream,
  type JpegGeometry,
} from '../codec/jpeg';
import { MAX_IMAGE_FILE_BYTES } from '../protocol/worker';
import { ImageInputError, canonicalImageStream } from './images';

export class ImageSourceError extends Error {}

/** `bytes` as a canonical image-only stream of `geometry`, or undefined when it is not one (tables stripped first). */
export function asCanonicalStream(bytes: Uint8Array, geometry: JpegGeometry): Uint8Array | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  try {
    const hasTables = parseHeaderSegments(bytes).segments.some((s) => s.marker === DQT || s.marker === DHT);
    const stream = hasTables ? stripTables(bytes) : bytes;
    const info = describeCanonicalStream(stream);
    if (info.geometry.width !== geometry.width || info.geometry.height !== geometry.height) return undefined;
    if (!validateImageStream(stream, geometry).ok) return undefined;
    return stream;
  } catch (e) {
    if (e instanceof JpegFormatError) return undefined;
    throw e;
  }
}

/** Reads the image at `file` (PNG or JPEG of any size, or a canonical stream) as the canonical stream of `geometry`. */
export async function imageStreamFromFile(file: string, geometry: JpegGeometry): Promise<Uint8Array> {
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw new ImageSourceError(`cannot read "${file}": no such file`);
  }
  if (st.isDirectory()) throw new ImageSourceError(`"${file}" is a folder; give an image file (PNG or JPEG)`);
  if (!st.isFile()) throw new ImageSourceError(`"${file}" is not a regular file`);
  if (st.size === 0) throw new ImageSourceError(`"${file}" is empty (0 bytes)`);
  if (st.size > MAX_IMAGE_FILE_BYTES)
    throw new ImageSourceError(`"${file}" is ${(st.size / 1024 / 1024).toFixed(1)} MB; the limit is ${MAX_IMAGE_FILE_BYTES / 1024 / 1024} MB`);
  const bytes = new Uint8Array(await fs.readFile(file));
  const stream = await imageStreamFromBytes(bytes, geometry, file);
  if (stream) return stream;
  const other = imageOnlyGeometry(bytes);
  if (other)
    throw new ImageSourceError(
      `"${file}" is an image-only JPEG stream of ${other.width}×${other.height} (no tables, so no image decoder reads it); the model completes ${geometry.width}×${geometry.height} images: give the image file itself`,
    );
  return canonicalFromImage(file, geometry);
}

/** The size of an image-only stream (a JPEG without DQT/DHT segments), or undefined. */
function imageOnlyGeometry(bytes: Uint8Array): JpegGeometry | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  try {
    if (parseHeaderSegments(bytes).segments.some((s) => s.marker === DQT || s.marker === DHT)) return undefined;
    return streamGeometry(bytes);
  } catch (e) {
    if (e instanceof JpegFormatError) return undefined;
    throw e;
  }
}

/**
 * A canonical stream given as bytes (a panel's or a client's): taken when it already is one of `geometry`;
 * otherwise undefined (with `file`) or an error.
 */
export async function imageStreamFromBytes(bytes: Uint8Array, geometry: JpegGeometry, file?: string): Promise<Uint8Array | undefined> {
  if (!bytes.length) throw new ImageSourceError(file ? `"${file}" is empty (0 bytes)` : 'the image stream is empty');
  const stream = asCanonicalStream(bytes, geometry);
  if (stream || file) return stream;
  throw new ImageSourceError(
    `the stream is not a canonical image-only JPEG stream of ${geometry.width}×${geometry.height} (baseline, quality 25, 4:2:0, a restart marker after every MCU); give the image file instead`,
  );
}

async function canonicalFromImage(file: string, geometry: JpegGeometry): Promise<Uint8Array> {
  try {
    return await canonicalImageStream(file, geometry);
  } catch (e) {
    if (!(e instanceof ImageInputError || e instanceof JpegFormatError)) throw e;
    throw new ImageSourceError(e.message.includes(file) ? e.message : `cannot use "${file}" as an image: ${e.message}`);
  }
}

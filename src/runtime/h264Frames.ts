/**
 * Decoded frames of an Annex-B stream as PNG files: the Video panel's previews and the decoded frame counts of
 * `video/run` (h264Decoder.ts decodes, png.ts writes). Frames are tiny (the model's size), so PNG costs little.
 */
import { decodeH264, yuvToRgba } from './h264Decoder';
import { encodePng } from './png';

/** Every frame the decoder produces from `stream`, as PNG bytes (at most `maxFrames`). */
export async function decodeH264Frames(stream: Uint8Array, maxFrames?: number): Promise<Uint8Array[]> {
  if (!stream.length) return [];
  const r = await decodeH264(stream, maxFrames === undefined ? {} : { maxFrames });
  return r.frames.map((f) => encodePng(f.width, f.height, yuvToRgba(f), 4));
}

/**
 * The preview PNG writer (src/runtime/png.ts): what it writes, the runtime's own PNG decoder (images.ts) reads back
 * pixel for pixel, RGB and RGBA (alpha dropped by the decoder), and bad sizes are refused.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeImage } from '../../src/runtime/images';
import { encodePng } from '../../src/runtime/png';

const pattern = (w: number, h: number, ch: number) => Uint8Array.from({ length: w * h * ch }, (_, i) => (i * 37 + (i >> 5)) & 0xff);

describe('encodePng', () => {
  for (const [w, h] of [
    [1, 1],
    [32, 32],
    [17, 5],
    [256, 144],
  ] as const) {
    it(`RGB ${w}×${h} decodes to the same pixels`, async () => {
      const px = pattern(w, h, 3);
      const img = await decodeImage(encodePng(w, h, px));
      assert.deepEqual([img.width, img.height], [w, h]);
      assert.deepEqual(img.data, px);
    });
  }
  it('RGBA keeps the colour channels', async () => {
    const px = pattern(8, 4, 4);
    const img = await decodeImage(encodePng(8, 4, px, 4));
    const rgb = Uint8Array.from({ length: 8 * 4 * 3 }, (_, i) => px[Math.floor(i / 3) * 4 + (i % 3)]!);
    assert.deepEqual(img.data, rgb);
  });
  it('starts with the PNG signature and refuses sizes that do not match the pixels', () => {
    assert.deepEqual([...encodePng(2, 2, pattern(2, 2, 3)).subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.throws(() => encodePng(2, 2, pattern(2, 3, 3)), /12 bytes for 2×2×3|18 bytes for 2×2×3/);
    assert.throws(() => encodePng(0, 2, new Uint8Array(0)), /bad PNG size/);
  });
});

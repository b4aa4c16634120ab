/**
 * The runtime's H.264 decoder adapter (src/runtime/h264Decoder.ts, tinyh264's WebAssembly h264bsd in Node) on the
 * committed corpus test/fixtures/h264: frame counts from fixtures.json (ffprobe's), pixels identical to ffmpeg's
 * decode where ffmpeg is installed (otherwise skipped, saying so), its bounds and refusals.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { H264FormatError, cutAfterFrames } from '../../src/codec/h264';
import { decodeH264, yuvToRgba } from '../../src/runtime/h264Decoder';

const DIR = join(__dirname, '..', 'fixtures', 'h264');
const manifest = JSON.parse(readFileSync(join(DIR, 'fixtures.json'), 'utf8')) as { clips: { file: string; width: number; height: number; frames: number }[] };
const load = (file: string) => new Uint8Array(readFileSync(join(DIR, file)));
const noFfmpeg = spawnSync('ffmpeg', ['-version']).error ? 'ffmpeg not installed (apt-get install ffmpeg)' : false;

describe('decodeH264 (tinyh264)', () => {
  it('decodes every fixture to its frame count and size', async () => {
    for (const c of manifest.clips) {
      const r = await decodeH264(load(c.file));
      assert.equal(r.count, c.frames, c.file);
      assert.equal(r.frames.length, c.frames);
      assert.ok(!r.truncated);
      for (const f of r.frames) {
        assert.equal(f.width, c.width);
        assert.equal(f.height, c.height);
        assert.equal(f.yuv.length, (c.width * c.height * 3) / 2);
      }
    }
  });

  it('gives the same pixels as ffmpeg', { skip: noFfmpeg }, async () => {
    for (const c of manifest.clips) {
      const data = load(c.file);
      const ff = spawnSync(
        'ffmpeg',
        ['-v', 'error', '-f', 'h264', '-i', 'pipe:0', '-fps_mode', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'],
        {
          input: data,
          maxBuffer: 1 << 26,
        },
      );
      const r = await decodeH264(data);
      const all = Buffer.concat(r.frames.map((f) => Buffer.from(f.yuv)));
      assert.equal(all.length, ff.stdout.length, c.file);
      assert.ok(all.equals(ff.stdout), `${c.file}: pixels differ from ffmpeg's`);
    }
  });

  it('stops at maxFrames and says so', async () => {
    const data = load('box-navy.h264');
    const r = await decodeH264(data, { maxFrames: 5 });
    assert.equal(r.count, 5);
    assert.ok(r.truncated);
    const full = await decodeH264(data);
    for (let i = 0; i < 5; i++) assert.deepEqual(r.frames[i]!.yuv, full.frames[i]!.yuv);
    assert.equal((await decodeH264(cutAfterFrames(data, 3))).count, 3);
  });

  it('refuses sizes above maxSide, non-Baseline streams and streams without start codes', async () => {
    const data = load('testsrc2-64x48.h264');
    await assert.rejects(decodeH264(data, { maxSide: 48 }), (e: unknown) => e instanceof H264FormatError && /64×48: sides above 48/.test(e.message));
    await assert.rejects(decodeH264(load('refuse/high-bframes.h264')), /profile_idc 100/);
    await assert.rejects(decodeH264(new Uint8Array(16)), /start code/);
  });

  it('converts to RGBA: the navy background and the yellow box of box-navy', async () => {
    const r = await decodeH264(load('box-navy.h264'));
    const f = r.frames[0]!;
    const rgba = yuvToRgba(f);
    const px = (x: number, y: number) => Array.from(rgba.subarray((y * f.width + x) * 4, (y * f.width + x) * 4 + 4));
    const [r0, g0, b0, a0] = px(4, 28);
    assert.ok(r0! < 40 && g0! < 40 && b0! > 90 && a0 === 255, `background ${px(4, 28)}`);
    // The 10×10 box of frame 0 lies at x 20…29, y 8…17.
    const [r1, g1, b1] = px(24, 12);
    assert.ok(r1! > 180 && g1! > 180 && b1! < 90, `box ${px(24, 12)}`);
  });
});

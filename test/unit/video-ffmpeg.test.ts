/**
 * The ffmpeg side of the video feature (src/runtime/ffmpeg.ts) without running ffmpeg: the canonical arguments equal
 * the training pipeline's (tools/video/x264_flags.json) for the bundled pack's codec block, and finding ffmpeg takes
 * the user's path strictly and PATH otherwise.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { FfmpegMissingError, canonicalOutputArgs, canonicalVideoFilter, ffmpegNeeded, findFfmpeg } from '../../src/runtime/ffmpeg';
import type { H264CodecSpec } from '../../src/runtime/manifest';

const flags = JSON.parse(readFileSync(path.resolve('tools/video/x264_flags.json'), 'utf8')) as {
  width: number;
  height: number;
  fps: number;
  frames: number;
  qp: number;
  videoFilter: string;
  outputArgs: string[];
};

describe('canonical H.264 arguments', () => {
  const spec = { width: flags.width, height: flags.height, fps: flags.fps, frames: flags.frames, qp: flags.qp } as H264CodecSpec;
  it("equal the training pipeline's, flag for flag", () => {
    assert.equal(canonicalVideoFilter(spec), flags.videoFilter);
    assert.deepEqual(canonicalOutputArgs(spec), flags.outputArgs);
  });
  it('follow the codec block: size, rate, frames, QP; the pad is centred ((ow-iw)/2, the thesis typo fixed)', () => {
    const c = { width: 256, height: 144, fps: 3, frames: 15, qp: 30 } as H264CodecSpec;
    assert.equal(canonicalVideoFilter(c), 'fps=3,scale=256:144:force_original_aspect_ratio=decrease,pad=256:144:(ow-iw)/2:(oh-ih)/2');
    const args = canonicalOutputArgs(c, 8);
    const after = (flag: string) => args[args.indexOf(flag) + 1];
    assert.deepEqual(
      [after('-t'), after('-frames:v'), after('-qp'), after('-bf'), after('-x264opts'), after('-f')],
      ['3', '8', '30', '0', 'slice-max-mbs=1', 'h264'],
    );
  });
});

describe('finding ffmpeg', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'concert-ffmpeg-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  const fake = path.join(bin, process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  writeFileSync(fake, '#!/bin/sh\nexit 0\n');
  chmodSync(fake, 0o755);
  const plain = path.join(dir, 'not-executable');
  writeFileSync(plain, 'x');
  chmodSync(plain, 0o644);

  it('the first ffmpeg on PATH; none → undefined', async () => {
    assert.equal(await findFfmpeg(undefined, [path.join(dir, 'missing'), 'relative/dir', bin].join(path.delimiter)), fake);
    assert.equal(await findFfmpeg(undefined, path.join(dir, 'missing')), undefined);
    assert.equal(await findFfmpeg(undefined, ''), undefined);
  });
  it('a path the user set is used as it is, or refused with the reason (never a silent fallback to PATH)', async () => {
    assert.equal(await findFfmpeg(fake, ''), fake);
    await assert.rejects(findFfmpeg('ffmpeg', bin), (e: Error) => e instanceof FfmpegMissingError && /must be absolute/.test(e.message));
    if (process.platform !== 'win32')
      await assert.rejects(findFfmpeg(plain, bin), (e: Error) => e instanceof FfmpegMissingError && /is not an executable file/.test(e.message));
    await assert.rejects(findFfmpeg(dir, bin), /is not an executable file/);
  });
  it('the message for a missing ffmpeg says how to get one and what works without', () => {
    const m = ffmpegNeeded('"clip.mp4"');
    assert.match(m, /^"clip\.mp4" needs ffmpeg/);
    assert.match(m, /concert\.ffmpegPath/);
    assert.match(m, /Canonical \.h264 clips, like the bundled samples, need no ffmpeg/);
  });
});

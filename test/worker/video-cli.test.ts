/**
 * `concert video continue` and the video/run request (issue #15) on the tiny random-weight H.264 codec-lm pack
 * (test/fixtures/codec-lm-tiny-h264, tools/video/make_test_pack.py) and the canonical clips of test/fixtures/h264:
 * real processes, the real worker, ONNX Runtime, the tinyh264 decoder. The model's logits are close to uniform, so
 * only the grammar constraint makes continuations decode: every constrained sample must decode to prompt + generated
 * frames (the decoder counts them), begin with exactly the prompt bytes, and bad input must fail with one clear line
 * and write nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cutAfterFrames, describeStream } from '../../src/codec/h264';
import { Requests, WorkerErrorCode, type VideoProgress, type VideoRunParams, type VideoRunRecord } from '../../src/protocol/worker';
import { decodeH264 } from '../../src/runtime/h264Decoder';
import type { WorkerError } from '../../src/worker/client';
import { tempDir } from '../helpers/packs';
import { requireBuild, startClient } from '../helpers/worker';

const PACK = path.resolve('test/fixtures/codec-lm-tiny-h264');
const JPEG_PACK = path.resolve('test/fixtures/codec-lm-tiny');
const clip = (name: string) => path.resolve('test/fixtures/h264', name);
const hasFfmpeg = spawnSync('ffmpeg', ['-version']).status === 0;

let tmp: ReturnType<typeof tempDir>;
before(() => {
  requireBuild();
  assert.ok(existsSync(path.join(PACK, 'concert.json')), `the test pack is missing at ${PACK} (tools/video/make_test_pack.py)`);
  tmp = tempDir();
});
after(() => tmp.cleanup());

function concert(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(
    process.execPath,
    [path.resolve('bin/concert.js'), ...args, '--models', PACK, '--models', JPEG_PACK, '--device', 'cpu', '--threads', '1'],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, CONCERT_MODEL_FOLDERS: '', CONCERT_DEVICE: '', ...env },
    },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

interface VideoJson {
  decodable: number;
  samples: number;
  promptFrames: number;
  frames: number;
  mp4Skipped?: string;
  files: {
    path: string;
    mp4?: string;
    decodable: boolean;
    decodedFrames: number;
    previewFrames?: number;
    tokens: number;
    streamBytes: number;
    stoppedBy: string;
    problem?: string;
  }[];
  run: VideoRunRecord;
}

function video(...args: string[]): VideoJson {
  const r = concert(['video', 'continue', ...args, '--model', 'codec-lm-tiny-h264', '--json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as VideoJson;
}

const outDir = (name: string) => path.join(tmp.dir, name);
/** An environment whose PATH has no ffmpeg (the CLI starts its worker by absolute path). */
const NO_FFMPEG = { PATH: path.resolve('test/fixtures/h264/refuse') };
const startsWith = (a: Uint8Array, prefix: Uint8Array) => a.length >= prefix.length && prefix.every((b, i) => a[i] === b);

describe('concert video continue', () => {
  it('writes N clips that decode to prompt + generated frames and begin with exactly the prompt bytes', async () => {
    const out = outDir('continue');
    const j = video(clip('box-navy.h264'), '--prompt-frames', '4', '--frames', '3', '--samples', '3', '--seed', '7', '--out', out);
    assert.deepEqual([j.samples, j.decodable, j.promptFrames, j.frames], [3, 3, 4, 3]);
    const prompt = cutAfterFrames(new Uint8Array(readFileSync(clip('box-navy.h264'))), 4);
    assert.equal(j.run.promptBytes, prompt.length);
    assert.equal(j.run.promptTokens, prompt.length + 1, '[bos] + bytes');
    assert.deepEqual(j.run.video, { width: 32, height: 32, fps: 3, clipFrames: 12 });
    assert.deepEqual(
      readdirSync(out)
        .filter((f) => f.endsWith('.h264'))
        .sort(),
      [1, 2, 3].map((i) => `box-navy-continue-${i}.h264`),
    );
    for (const f of j.files) {
      assert.equal(f.decodable, true, f.problem);
      const s = new Uint8Array(readFileSync(f.path));
      assert.ok(startsWith(s, prompt), `${f.path} does not begin with the prompt`);
      assert.equal(s.length, f.streamBytes);
      // 7 frames by the codec layer and by ffmpeg (below); the preview decoder (h264bsd) shows them or says how many it shows.
      assert.equal(describeStream(s).frames, 7);
      assert.equal(f.decodedFrames, 7);
      assert.equal((await decodeH264(s)).count, f.previewFrames ?? 7);
      if (hasFfmpeg) {
        const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', f.path], {
          encoding: 'utf8',
        });
        assert.equal(probe.stdout.trim(), '7', 'ffmpeg decodes the .h264 to 7 frames');
      }
      if (hasFfmpeg) {
        assert.ok(f.mp4 && existsSync(f.mp4), 'an .mp4 beside the .h264 when ffmpeg is on PATH');
        const probe = spawnSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', f.mp4], {
          encoding: 'utf8',
        });
        assert.equal(probe.stdout.trim(), '7');
      }
    }
    assert.equal(j.run.knobs.constrained, true);
    assert.match(j.run.manifestSha256, /^[0-9a-f]{64}$/);
    // Same seed, same clips.
    const again = video(clip('box-navy.h264'), '--prompt-frames', '4', '--frames', '3', '--samples', '3', '--seed', '7', '--out', outDir('continue-2'));
    for (const [i, f] of again.files.entries()) assert.deepEqual(readFileSync(f.path), readFileSync(j.files[i]!.path));
  });

  it('closes a sample at a small budget with skipped macroblocks: still the requested frames', async () => {
    const j = video(
      clip('boxes-two.h264'),
      '--prompt-frames',
      '2',
      '--frames',
      '4',
      '--samples',
      '2',
      '--seed',
      '3',
      '--max-tokens',
      '10',
      '--out',
      outDir('budget'),
    );
    assert.equal(j.decodable, 2);
    for (const f of j.files) {
      assert.equal(f.stoppedBy, 'max-tokens');
      assert.equal(describeStream(new Uint8Array(readFileSync(f.path))).frames, 6);
      assert.equal((await decodeH264(new Uint8Array(readFileSync(f.path)))).count, f.previewFrames ?? 6);
    }
  });

  it('--unconstrained samples the raw model and says which clips decode', () => {
    const j = video(clip('box-navy.h264'), '--prompt-frames', '2', '--frames', '2', '--samples', '3', '--seed', '1', '--unconstrained', '--out', outDir('raw'));
    assert.equal(j.run.knobs.constrained, false);
    assert.ok(j.decodable < 3, 'a random model rarely writes valid H.264');
    for (const f of j.files) if (!f.decodable) assert.ok(f.problem, 'an undecodable clip says why');
  });

  it('prints a table without --json', () => {
    const r = concert([
      'video',
      'continue',
      clip('box-navy.h264'),
      '--frames',
      '1',
      '--samples',
      '1',
      '--out',
      outDir('table'),
      '--model',
      'codec-lm-tiny-h264',
      '--seed',
      '1',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /1 of 1 decodable · codec-lm-tiny-h264 \(32×32, 3 fps\) · 4 prompt \+ 1 new frames/);
  });

  it('converts a clip that is not canonical with ffmpeg (when installed)', { skip: !hasFfmpeg && 'ffmpeg is not installed' }, () => {
    const mp4 = path.join(tmp.dir, 'moving.mp4');
    const r = spawnSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      "color=c=teal:s=96x64:r=6:d=2,drawbox=x='mod(t*30,96)':y=20:w=20:h=20:c=orange:t=fill",
      '-pix_fmt',
      'yuv420p',
      mp4,
    ]);
    assert.equal(r.status, 0, r.stderr?.toString());
    const j = video(mp4, '--prompt-frames', '3', '--frames', '2', '--samples', '1', '--seed', '2', '--out', outDir('mp4'));
    assert.equal(j.run.video.canonicalisedWith, 'ffmpeg');
    assert.equal(j.decodable, 1);
    assert.equal(j.files[0]!.decodedFrames, 5);
  });

  describe('bad input: a clear error, exit code ≠ 0, nothing written', () => {
    const refused = (args: string[], message: RegExp, env: NodeJS.ProcessEnv = {}, model = 'codec-lm-tiny-h264') => {
      const out = outDir(`refused-${Math.random().toString(36).slice(2)}`);
      const r = concert(['video', 'continue', ...args, '--out', out, '--model', model], env);
      assert.notEqual(r.code, 0);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.equal(existsSync(out), false, 'nothing written');
    };
    it('a zero-byte file, a missing file and a folder', () => {
      const empty = path.join(tmp.dir, 'empty.h264');
      writeFileSync(empty, '');
      refused([empty], /is empty \(0 bytes\)/);
      refused([path.join(tmp.dir, 'nope.h264')], /no such file/);
      refused([tmp.dir], /is a folder/);
    });
    it('bytes that are no clip, without ffmpeg: what is wrong and how to get ffmpeg', () => {
      const junk = path.join(tmp.dir, 'junk.h264');
      writeFileSync(junk, Buffer.from('this is not a video at all'));
      refused([junk], /"junk\.h264" is not a canonical clip \(.*\)\. .*needs ffmpeg.*concert\.ffmpegPath/, NO_FFMPEG);
    });
    it('a stream whose frame size changes mid-stream, and a High-profile stream with B-frames (no ffmpeg)', () => {
      refused([clip('refuse/size-change.h264')], /not a canonical clip \(.*(size|parameter set)/, NO_FFMPEG);
      refused([clip('refuse/high-bframes.h264')], /not a canonical clip \(.*(profile|Baseline)/i, NO_FFMPEG);
    });
    it('a relative or missing --ffmpeg is refused, not replaced by PATH', () => {
      refused([clip('refuse/high-bframes.h264'), '--ffmpeg', path.join(tmp.dir, 'no-ffmpeg')], /is not an executable file/);
    });
    it('more prompt frames than the clip has', () =>
      refused([clip('box-navy.h264'), '--prompt-frames', '20'], /the clip has 12 frames; prompt frames must be from 1 to 12/));
    it('usage errors', () => {
      const r = concert(['video', 'continue', clip('box-navy.h264')]);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /needs --out <folder>/);
      const r2 = concert(['video', 'continue', clip('box-navy.h264'), '--out', outDir('x'), '--frames', '0']);
      assert.match(r2.err, /--frames must be an integer from 1 to 64/);
      const r3 = concert(['video', 'play', clip('box-navy.h264'), '--out', outDir('x')]);
      assert.match(r3.err, /video needs "continue <clip>"/);
    });
    it('an image model is not a video model', () =>
      refused([clip('box-navy.h264')], /is a JPEG \(image\) codec-lm, not a H\.264 \(video\) one/, {}, 'codec-lm-tiny'));
  });
});

describe('video/run through the worker client', () => {
  it('streams the prompt frames first, then each sample’s frames as they complete', async () => {
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK] });
    const seen: VideoProgress[] = [];
    client.onVideoProgress.on((p) => seen.push(p));
    try {
      const r = await client.request(Requests.videoRun, { file: clip('box-navy.h264'), promptFrames: 3, frames: 3, samples: 2, seed: 4, progressToken: 'v' });
      assert.equal(r.decodable, 2);
      assert.equal(r.promptFrames.length, 3);
      assert.deepEqual(seen[0]!.promptFrames, r.promptFrames, 'the first notification carries the prompt frames');
      assert.ok(seen.slice(1).every((p) => p.promptFrames === undefined));
      for (let i = 0; i < 2; i++) {
        const streamed = seen.flatMap((p) => p.samples[i]!.newFrames ?? []);
        assert.deepEqual(streamed, r.samples[i]!.frames, `sample ${i}: the streamed frames are the result's`);
        const done = seen.map((p) => p.samples[i]!.framesDone);
        assert.deepEqual(
          done,
          [...done].sort((a, b) => a - b),
          'frames only advance',
        );
      }
      assert.ok(seen[seen.length - 1]!.samples.every((s) => s.done && s.framesDone === 3));
      // Frames are PNG files of the model's size.
      for (const png of [...r.promptFrames, ...r.samples[0]!.frames]) {
        const b = Buffer.from(png, 'base64');
        assert.equal(b.subarray(1, 4).toString('latin1'), 'PNG');
        assert.deepEqual([b.readUInt32BE(16), b.readUInt32BE(20)], [32, 32]);
      }
    } finally {
      await client.stop();
    }
  });

  it('a cancel between steps answers Cancelled with how far it got', async () => {
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK] });
    const ac = new AbortController();
    client.onVideoProgress.on((p) => {
      if (p.step >= 5) ac.abort();
    });
    try {
      const err = await client
        .request(
          Requests.videoRun,
          { file: clip('boxes-two.h264'), promptFrames: 2, frames: 30, samples: 4, seed: 1, progressToken: 'c', constrained: false },
          ac.signal,
        )
        .then(
          () => assert.fail('expected a cancel'),
          (e: WorkerError) => e,
        );
      assert.equal(err.code, WorkerErrorCode.Cancelled, err.message);
      assert.match(err.message, /video continuation cancelled after \d+ steps/);
      const data = err.data as { steps: number; tokens: number[] };
      assert.ok(data.steps >= 5 && data.steps < 300, `cancelled after ${data.steps} steps`);
    } finally {
      await client.stop();
    }
  });

  it('refuses bad knobs and a stream of another size with BadInput', async () => {
    const { client } = startClient({ bundledModelsDir: path.join(tmp.dir, 'no-bundled'), modelFolders: [PACK] });
    const bad = async (params: VideoRunParams, message: RegExp) => {
      const e = await client.request(Requests.videoRun, params).then(
        () => assert.fail('expected BadInput'),
        (x: WorkerError) => x,
      );
      assert.equal(e.code, WorkerErrorCode.BadInput, e.message);
      assert.match(e.message, message);
    };
    try {
      await bad({ file: clip('box-navy.h264'), frames: 65 }, /frames must be an integer from 1 to 64/);
      await bad({ file: clip('box-navy.h264'), samples: 0 }, /samples must be an integer from 1 to 8/);
      await bad({ file: clip('box-navy.h264'), stream: 'AAAA' }, /a file, or a canonical stream \(one of them\)/);
      await bad({ stream: readFileSync(clip('testsrc2-64x48.h264')).toString('base64') }, /not a canonical H\.264 stream of 32×32: its frames are 64×48/);
      // A canonical stream as bytes works like the file.
      const r = await client.request(Requests.videoRun, { stream: readFileSync(clip('box-navy.h264')).toString('base64'), frames: 1, samples: 1, seed: 1 });
      assert.equal(r.decodable, 1);
    } finally {
      await client.stop();
    }
  });
});

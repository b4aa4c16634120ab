/**
 * The canonical H.264 streams of AVC-LM (src/codec/h264): bits and tables, Annex B splitting, parameter sets, frame
 * counting against ffprobe's counts in test/fixtures/h264/fixtures.json (written by tools/video/make_fixtures.py with
 * ffmpeg 5.1 + libx264), prompt cutting, the incremental validator (every fixture byte by byte, masks, mutations,
 * closing, random walks under the mask, frame limits) and refusals. The real decoders are tinyh264 (the runtime's
 * adapter, always there) and ffmpeg where installed (otherwise those checks are skipped, saying so).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BitReader,
  BitWriter,
  CBP_INTER,
  CBP_INTRA,
  COEFF_TOKEN_TABLES,
  H264FormatError,
  H264StreamValidator,
  RUN_BEFORE,
  TOTAL_ZEROS_4x4,
  TOTAL_ZEROS_CHROMA_DC,
  type Vlc,
  cutAfterFrames,
  describeStream,
  escapeRbsp,
  maskBytes,
  maskHas,
  splitAnnexB,
  unescapeRbsp,
  validateStream,
} from '../../src/codec/h264';
import { decodeH264 } from '../../src/runtime/h264Decoder';

const DIR = join(__dirname, '..', 'fixtures', 'h264');
interface Clip {
  file: string;
  width: number;
  height: number;
  frames: number;
  bytes: number;
  sha256: string;
}
const manifest = JSON.parse(readFileSync(join(DIR, 'fixtures.json'), 'utf8')) as { clips: Clip[]; refusals: { file: string }[] };
const clips = manifest.clips.map((c) => ({ ...c, data: new Uint8Array(readFileSync(join(DIR, c.file))) }));
const byName = (name: string) => clips.find((c) => c.file === `${name}.h264`)!;

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function concat(...parts: (Uint8Array | readonly number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const ffmpegProbe = spawnSync('ffmpeg', ['-version'], { encoding: 'utf8' });
const noFfmpeg = ffmpegProbe.error ? 'ffmpeg not installed (apt-get install ffmpeg)' : false;

/** ffmpeg's decode of a stream: frames (no frame-rate duplication) and its error output. */
function ffmpegDecode(stream: Uint8Array): { frames: number; errors: string } {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'h264', '-i', 'pipe:0', '-fps_mode', 'passthrough', '-f', 'framemd5', 'pipe:1'], {
    input: stream,
    maxBuffer: 1 << 24,
  });
  const frames = r.stdout
    .toString()
    .split('\n')
    .filter((l) => l && !l.startsWith('#')).length;
  return { frames, errors: r.stderr.toString().trim() };
}

describe('bits', () => {
  it('exp-Golomb codes round-trip and match Table 9-2', () => {
    const w = new BitWriter();
    const values = [0, 1, 2, 3, 4, 7, 8, 254, 255, 65535, 2 ** 31];
    for (const v of values) w.ue(v);
    for (const v of [0, 1, -1, 2, -2, 100, -100, 32767, -32768]) w.se(v);
    const r = new BitReader(w.bytes());
    for (const v of values) assert.equal(r.ue(), v);
    for (const v of [0, 1, -1, 2, -2, 100, -100, 32767, -32768]) assert.equal(r.se(), v);
    const one = new BitWriter();
    one.ue(3);
    assert.deepEqual([...one.bytes()], [0b00100000]);
  });

  it('emulation prevention: escape ∘ unescape is the identity, and 00 00 0x (x ≤ 3) never survives escaping', () => {
    const random = rng(1);
    for (let n = 0; n < 200; n++) {
      const rbsp = Uint8Array.from({ length: 1 + Math.floor(random() * 40) }, () => (random() < 0.5 ? 0 : Math.floor(random() * 4)));
      const esc = escapeRbsp(rbsp);
      for (let i = 2; i < esc.length; i++) if (esc[i - 2] === 0 && esc[i - 1] === 0) assert.ok(esc[i]! >= 3, `00 00 ${esc[i]} at ${i}`);
      assert.deepEqual([...unescapeRbsp(esc).bytes], [...rbsp]);
    }
    assert.deepEqual([...escapeRbsp([0, 0, 1])], [0, 0, 3, 1]);
    // A continuation after zeros already written: 00 | 00 01 needs the 03 too.
    assert.deepEqual([...escapeRbsp([0, 1], 1)], [0, 3, 1]);
    assert.deepEqual([...escapeRbsp([1, 0], 2)], [3, 1, 0]);
    assert.throws(
      () => unescapeRbsp(Uint8Array.from([5, 0, 0, 1, 7]), 100),
      (e: unknown) => e instanceof H264FormatError && e.offset === 103,
    );
  });
});

describe('tables (typed from ITU-T H.264 Tables 9-4, 9-5, 9-7…9-10)', () => {
  const kraft = (v: Vlc): number => v.entries.reduce((s, e) => s + 2 ** -e.length, 0);
  it('every VLC is prefix-free with the sizes of the standard', () => {
    // Table 9-5: 62 (TrailingOnes, TotalCoeff) pairs for 4×4 blocks, 14 for 4:2:0 chroma DC.
    assert.deepEqual(
      COEFF_TOKEN_TABLES.map((t) => t.entries.length),
      [62, 62, 62, 62, 14],
    );
    for (const t of COEFF_TOKEN_TABLES) assert.ok(kraft(t) <= 1, t.name);
    // run_before (zerosLeft ≤ 6) and chroma DC total_zeros are complete codes (for > 6, 00000000000 is unused);
    // 4×4 total_zeros tables have 17 − TotalCoeff values (0…16 − TotalCoeff).
    for (const t of RUN_BEFORE.slice(1, 7)) assert.equal(kraft(t), 1, t.name);
    assert.equal(kraft(RUN_BEFORE[7]!), 1 - 2 ** -11);
    for (const t of TOTAL_ZEROS_CHROMA_DC.slice(1)) assert.equal(kraft(t), 1, t.name);
    TOTAL_ZEROS_4x4.slice(1).forEach((t, i) => {
      assert.equal(t.entries.length, 17 - (i + 1), t.name);
      assert.ok(kraft(t) <= 1, t.name);
    });
  });

  it('coded_block_pattern mappings are permutations of 0…47', () => {
    for (const t of [CBP_INTRA, CBP_INTER])
      assert.deepEqual(
        [...t].sort((a, b) => a - b),
        Array.from({ length: 48 }, (_, i) => i),
      );
    assert.equal(CBP_INTRA[3], 0);
    assert.equal(CBP_INTER[0], 0);
    assert.equal(CBP_INTRA[0], 47);
  });
});

describe('fixtures and describeStream', () => {
  it('the committed corpus is what fixtures.json lists', () => {
    assert.ok(clips.length >= 8);
    for (const c of clips) {
      assert.equal(c.data.length, c.bytes, c.file);
      assert.equal(createHash('sha256').update(c.data).digest('hex'), c.sha256, c.file);
    }
  });

  it('Annex B splitting: start codes, offsets and NAL headers of box-navy', () => {
    const { data } = byName('box-navy');
    const units = splitAnnexB(data);
    assert.equal(units.length, 2 + 12 * 4);
    assert.deepEqual(
      units.slice(0, 7).map((u) => u.nalUnitType),
      [7, 8, 5, 5, 5, 5, 1],
    );
    assert.equal(units[0]!.offset, 0);
    assert.equal(units[0]!.startCodeLength, 4);
    assert.equal(units[3]!.startCodeLength, 3);
    for (const u of units) {
      assert.equal(u.forbiddenZeroBit, 0);
      assert.equal(data[u.headerOffset - 1], 1);
      assert.ok(data[u.end - 1] !== 0);
      assert.equal(u.nalRefIdc, u.nalUnitType === 1 ? 2 : 3);
    }
  });

  it('dimensions and frame counts agree with ffprobe (fixtures.json); one slice per macroblock', () => {
    for (const c of clips) {
      const d = describeStream(c.data);
      assert.equal(d.width, c.width, c.file);
      assert.equal(d.height, c.height, c.file);
      assert.equal(d.frames, c.frames, c.file);
      assert.equal(d.pictures.length, c.frames, c.file);
      assert.equal(d.sps.profileIdc, 66);
      const mbs = d.widthInMbs * d.heightInMbs;
      assert.equal(d.nals.filter((n) => n.nalUnitType === 1 || n.nalUnitType === 5).length, c.frames * mbs, c.file);
      assert.ok(d.pictures[0]!.idr);
      for (const n of d.nals) if (n.mbCount !== undefined) assert.equal(n.mbCount, 1);
    }
  });

  it('refuses non-baseline streams, size changes, zero bytes, garbage and truncated streams with clear messages', () => {
    const refuse = (data: Uint8Array, pattern: RegExp) =>
      assert.throws(
        () => describeStream(data),
        (e: unknown) => e instanceof H264FormatError && pattern.test(e.message),
      );
    refuse(new Uint8Array(readFileSync(join(DIR, 'refuse', 'high-bframes.h264'))), /profile_idc 100 .*Baseline/);
    refuse(new Uint8Array(readFileSync(join(DIR, 'refuse', 'size-change.h264'))), /size changes from 32×32 to 48×32 mid-stream/);
    refuse(new Uint8Array(0), /empty/);
    refuse(new Uint8Array(64), /does not begin with a start code/);
    const random = rng(7);
    refuse(
      Uint8Array.from({ length: 200 }, () => 1 + Math.floor(random() * 255)),
      /does not begin with a start code/,
    );
    const { data } = byName('box-navy');
    refuse(data.subarray(0, data.length - 20), /ends inside frame 11|NAL unit ends inside|ends without/);
    // An SEI between pictures is tolerated (and listed), a filler NAL unit is not.
    const at = splitAnnexB(data)[2]!.offset;
    const sei = concat(data.subarray(0, at), [0, 0, 0, 1, 0x06, 0x05, 0x01, 0x41, 0x80], data.subarray(at));
    assert.equal(describeStream(sei).frames, 12);
    assert.equal(describeStream(sei).nals[2]!.nalUnitType, 6);
    refuse(concat(data.subarray(0, at), [0, 0, 0, 1, 0x0c, 0xff, 0x80], data.subarray(at)), /type 12 \(filler data\)/);
  });
});

describe('cutAfterFrames', () => {
  it('keeps exactly n frames, ends at a frame boundary, and the decoder agrees pixel for pixel', async () => {
    for (const name of ['box-navy', 'testsrc2-64x48', 'life']) {
      const c = byName(name);
      const full = await decodeH264(c.data);
      assert.equal(full.count, c.frames);
      for (let n = 0; n <= c.frames; n++) {
        const cut = cutAfterFrames(c.data, n);
        assert.deepEqual([...cut], [...c.data.subarray(0, cut.length)], 'a prefix of the stream');
        if (n === 0) {
          assert.deepEqual(
            splitAnnexB(cut).map((u) => u.nalUnitType),
            [7, 8],
          );
          continue;
        }
        assert.equal(describeStream(cut).frames, n);
        const rest = c.data.subarray(cut.length);
        assert.ok(n === c.frames ? rest.length === 0 : rest[0] === 0 && rest[1] === 0, 'the next start code follows');
        const dec = await decodeH264(cut);
        assert.equal(dec.count, n);
        for (let i = 0; i < n; i++) assert.deepEqual(dec.frames[i]!.yuv, full.frames[i]!.yuv);
      }
      assert.throws(() => cutAfterFrames(c.data, c.frames + 1), /has \d+ frames, fewer than/);
    }
  });
});

describe('H264StreamValidator', () => {
  it('accepts every fixture byte by byte and counts its frames', () => {
    for (const c of clips) {
      const v = validateStream(c.data);
      assert.ok(v.ok, `${c.file}: ${JSON.stringify(v.rejection)}`);
      assert.equal(v.frames, c.frames, c.file);
    }
  });

  it('the mask always holds the actual next byte, and is exactly what feed accepts', () => {
    for (const name of ['box-navy', 'gradients', 'rgbtestsrc']) {
      const { data } = byName(name);
      const v = new H264StreamValidator();
      for (let i = 0; i < data.length; i++) {
        const mask = v.allowedNextBytes();
        assert.ok(maskHas(mask, data[i]!), `${name}: byte ${i} (${data[i]}) not in the mask`);
        if (i % 17 === 0) for (let b = 0; b < 256; b++) assert.equal(v.accepts([b]), maskHas(mask, b), `${name} @${i}: byte ${b}`);
        assert.ok(v.feed(data[i]!));
      }
      assert.ok(v.canEnd());
    }
    // The other fixtures: sampled positions.
    for (const c of clips) {
      const v = new H264StreamValidator();
      for (let i = 0; i < c.data.length; i++) {
        if (i % 23 === 0) assert.ok(maskHas(v.allowedNextBytes(), c.data[i]!), `${c.file}: byte ${i}`);
        v.feed(c.data[i]!);
      }
    }
  });

  it('checkpointed masks equal the re-parsing reference on every prefix of every fixture (frames, ends, refusals too)', () => {
    // The default validator resumes parses at slice-data checkpoints and memoises masks; `checkpoints: false`
    // re-parses the NAL unit from its start for every byte tried (the straightforward reference).
    const hex = (m: Uint32Array) => Buffer.from(m.buffer).toString('hex');
    for (const c of clips) {
      const fast = new H264StreamValidator();
      const ref = new H264StreamValidator({ checkpoints: false });
      for (let i = 0; i <= c.data.length; i++) {
        assert.equal(hex(fast.allowedNextBytes()), hex(ref.allowedNextBytes()), `${c.file} @${i}: mask`);
        assert.equal(fast.frames, ref.frames, `${c.file} @${i}: frames`);
        assert.equal(fast.canEnd(), ref.canEnd(), `${c.file} @${i}: canEnd`);
        if (i % 61 === 0) {
          for (let b = 0; b < 256; b++) {
            const f = fast.clone();
            const r = ref.clone();
            assert.equal(f.feed(b), r.feed(b), `${c.file} @${i}: feed ${b}`);
            assert.deepEqual(f.lastRejection, r.lastRejection, `${c.file} @${i}: rejection of ${b}`);
          }
          assert.deepEqual(fast.closingBytes('frame'), ref.closingBytes('frame'), `${c.file} @${i}: closing`);
        }
        if (i < c.data.length) assert.ok(fast.feed(c.data[i]!) && ref.feed(c.data[i]!), `${c.file} @${i}`);
      }
    }
  });

  it('checkpointed masks equal the reference on random walks under the mask, refusals and frame limits included', () => {
    const random = rng(23);
    const hex = (m: Uint32Array) => Buffer.from(m.buffer).toString('hex');
    for (const name of ['box-navy', 'testsrc2-64x48', 'cellauto']) {
      const c = byName(name);
      const prompt = cutAfterFrames(c.data, 2);
      for (let walk = 0; walk < 3; walk++) {
        const start = new H264StreamValidator();
        start.feedAll(prompt);
        let fast = start.withMaxFrames(4);
        const ref = new H264StreamValidator({ maxFrames: 4, checkpoints: false });
        ref.feedAll(prompt);
        for (let step = 0; step < 120 && !fast.isComplete(); step++) {
          const mask = fast.allowedNextBytes();
          assert.equal(hex(mask), hex(ref.allowedNextBytes()), `${name} walk ${walk} step ${step}`);
          assert.equal(fast.isComplete(), ref.isComplete());
          // A refused byte: the same refusal, and nothing changes.
          const bad = (Math.floor(random() * 256) + step) & 255;
          if (!maskHas(mask, bad)) {
            assert.ok(!fast.feed(bad) && !ref.feed(bad));
            assert.deepEqual(fast.lastRejection, ref.lastRejection);
          }
          const allowed = maskBytes(mask);
          assert.ok(allowed.length > 0);
          // Mostly small bytes (long runs of zero bits: the escapes, skips and trailing bits), sometimes any.
          const b = random() < 0.3 ? allowed[0]! : allowed[Math.floor(random() * allowed.length)]!;
          assert.ok(fast.feed(b) && ref.feed(b), `${name} walk ${walk} step ${step}: ${b}`);
          assert.equal(fast.frames, ref.frames);
          assert.equal(fast.canEnd(), ref.canEnd());
          if (step % 40 === 39) {
            fast = fast.clone();
            assert.deepEqual(fast.closingBytes('fill'), ref.closingBytes('fill'));
          }
        }
        assert.equal(fast.isComplete(), ref.isComplete());
      }
    }
  });

  it('counts frames as they complete and stops at maxFrames', () => {
    const { data } = byName('box-navy');
    const d = describeStream(data);
    const v = new H264StreamValidator({ maxFrames: 5 });
    const end5 = d.pictures[4]!.end;
    assert.equal(v.feedAll(data.subarray(0, end5 - 1)), end5 - 1);
    assert.equal(v.frames, 4);
    assert.ok(!v.isComplete());
    assert.ok(v.feed(data[end5 - 1]!));
    assert.equal(v.frames, 5);
    assert.ok(v.isComplete());
    assert.deepEqual(maskBytes(v.allowedNextBytes()), []);
    assert.ok(!v.feed(0));
    assert.match(v.lastRejection!.reason, /5 frames/);
    // withMaxFrames: a prompt of 3 frames, then 2 more.
    const p = new H264StreamValidator();
    p.feedAll(cutAfterFrames(data, 3));
    const g = p.withMaxFrames(p.frames + 2);
    assert.equal(g.feedAll(data.subarray(cutAfterFrames(data, 3).length)), end5 - cutAfterFrames(data, 3).length);
    assert.ok(g.isComplete());
  });

  it('refuses damaged headers and framing at the damaged byte', () => {
    const { data } = byName('box-navy');
    const units = splitAnnexB(data);
    const at = (mutate: (d: Uint8Array) => void, offset: number, reason: RegExp) => {
      const d = data.slice();
      mutate(d);
      const v = new H264StreamValidator();
      const n = v.feedAll(d);
      assert.equal(n, offset, `refused at ${n}, expected ${offset} (${v.lastRejection?.reason})`);
      assert.match(v.lastRejection!.reason, reason);
    };
    const sps = units[0]!.headerOffset;
    at((d) => (d[sps + 1] = 100), sps + 1, /profile_idc 100/);
    at((d) => (d[sps] = 0xe7), sps, /forbidden_zero_bit/);
    at((d) => (d[0] = 5), 0, /start code/);
    const slice6 = units[6]!.headerOffset; // first slice of frame 1 (P)
    at((d) => (d[slice6] = 0x0c), slice6, /type 12/);
    at((d) => (d[slice6] = 0x01), slice6, /nal_ref_idc 0|non-reference/);
    const slice7 = units[7]!.headerOffset;
    at((d) => (d[slice7] = 0x61), slice7, /nal_ref_idc 3 differs from the picture's 2/);
    at((d) => (d[slice7] = 0x45), slice7, /IDR slice inside a non-IDR picture/);
    // first_mb_in_slice of the second slice of frame 1 changed from 1 (010) to 0 (1): the picture is not complete.
    at((d) => (d[slice7 + 1] = (d[slice7 + 1]! & 0x1f) | 0x80), slice7 + 1, /first_mb_in_slice|continues|without gaps/);
    // Removing a start code joins two NAL units: the slice is then followed by data it cannot hold.
    const joined = concat(data.subarray(0, units[8]!.offset), data.subarray(units[8]!.headerOffset));
    const v = new H264StreamValidator();
    const n = v.feedAll(joined);
    assert.ok(n < joined.length && n >= units[8]!.offset, `refused at ${n}`);
  });

  it('refuses or decodes: random bit flips in slice data never give a stream that fails to decode', async () => {
    const random = rng(42);
    let refused = 0;
    let decoded = 0;
    for (const c of clips.slice(0, 6)) {
      const units = splitAnnexB(c.data).filter((u) => u.nalUnitType === 1 || u.nalUnitType === 5);
      for (let k = 0; k < 12; k++) {
        const u = units[Math.floor(random() * units.length)]!;
        const pos = u.headerOffset + 2 + Math.floor(random() * Math.max(1, u.end - u.headerOffset - 2));
        if (pos >= u.end) continue;
        const d = c.data.slice();
        d[pos] = d[pos]! ^ (1 << Math.floor(random() * 8));
        const v = validateStream(d);
        if (!v.ok) {
          refused++;
          assert.ok(v.accepted >= pos, `refused at ${v.accepted} before the damage at ${pos}`);
          continue;
        }
        decoded++;
        assert.equal(describeStream(d).frames, c.frames);
        assert.equal((await decodeH264(d)).count, c.frames, `${c.file} flip at ${pos}`);
      }
    }
    assert.ok(refused > 10, `only ${refused} refused`);
    assert.ok(refused + decoded > 50);
  });

  it('truncations: a stream cut inside a NAL unit or frame cannot end there', () => {
    const { data } = byName('mandelbrot');
    for (let cut = 1; cut < data.length; cut += 5) {
      const v = new H264StreamValidator();
      v.feedAll(data.subarray(0, cut));
      const d = (() => {
        try {
          return describeStream(data.subarray(0, cut));
        } catch {
          return undefined;
        }
      })();
      // describeStream takes zero bytes after the last NAL unit as trailing_zero_8bits; the validator does not end there.
      if (data[cut - 1] === 0) assert.ok(!v.canEnd());
      else assert.equal(v.canEnd(), d !== undefined && d.frames > 0, `cut ${cut}`);
    }
  });

  it('repeated parameter sets: identical copies between pictures only', () => {
    const { data } = byName('box-navy');
    const units = splitAnnexB(data);
    const pps = data.subarray(units[1]!.offset, units[1]!.end);
    const after2 = cutAfterFrames(data, 2);
    const ok = concat(after2, pps, data.subarray(after2.length));
    assert.ok(validateStream(ok).ok);
    const changed = pps.slice();
    changed[changed.length - 1] = changed[changed.length - 1]! ^ 0x40;
    const bad = new H264StreamValidator();
    assert.ok(bad.feedAll(concat(after2, changed)) < after2.length + changed.length);
    assert.match(bad.lastRejection!.reason, /identical/);
    // More PPS before the first slice (ids 1 and 2); a later copy must be one of them, not a mixture.
    const ppsNal = (id: number, qpDelta: number): Uint8Array => {
      const b = new BitWriter();
      b.ue(id);
      b.ue(0); // seq_parameter_set_id
      b.u(2, 0); // CAVLC, no bottom field POC
      b.ue(0); // one slice group
      b.ue(0); // one reference by default
      b.ue(0);
      b.u(3, 0); // no weighted prediction
      b.se(qpDelta); // pic_init_qp_minus26
      b.se(0);
      b.se(0);
      b.u(3, 0b100); // deblocking control present, no constrained intra, no redundant pictures
      b.trailing();
      return concat([0, 0, 0, 1, 0x68], escapeRbsp(b.bytes()));
    };
    const [p1, p2] = [ppsNal(1, 4), ppsNal(2, -6)];
    const first = units[2]!.offset;
    const three = concat(data.subarray(0, first), p1, p2, data.subarray(first));
    assert.ok(validateStream(three).ok);
    assert.equal(describeStream(three).pps.length, 3);
    const cut1 = cutAfterFrames(three, 1);
    const rest = three.subarray(cut1.length);
    for (const copy of [p1, p2]) assert.ok(validateStream(concat(cut1, copy, rest)).ok);
    const d = p1.findIndex((x, i) => x !== p2[i]);
    const mixed = concat(p2.subarray(0, d + 1), p1.subarray(d + 1));
    assert.ok(!validateStream(concat(cut1, mixed, rest)).ok, 'a mixture of two parameter sets');
    // Inside a picture (after the first slice of frame 2): refused at the header byte.
    const mid = describeStream(data).nals[10]!.end;
    const v = new H264StreamValidator();
    assert.equal(v.feedAll(concat(data.subarray(0, mid), pps)), mid + 4);
    assert.match(v.lastRejection!.reason, /inside a picture/);
  });
});

describe('closing bytes', () => {
  it("'frame': from random cut points, a stream that parses and decodes to the frames done (+1 for one started)", async () => {
    const random = rng(3);
    for (const c of clips) {
      for (let k = 0; k < 14; k++) {
        const cut = 1 + Math.floor(random() * c.data.length);
        const v = new H264StreamValidator();
        v.feedAll(c.data.subarray(0, cut));
        const done = v.frames;
        const closing = v.closingBytes('frame');
        const s = concat(c.data.subarray(0, cut), closing);
        const check = new H264StreamValidator();
        assert.equal(check.feedAll(s), s.length);
        assert.ok(check.canEnd());
        const frames = describeStream(s).frames;
        assert.ok(frames === done || frames === done + 1 || (done === 0 && frames === 1), `${c.file} cut ${cut}: ${frames} after ${done}`);
        assert.equal((await decodeH264(s)).count, frames, `${c.file} cut ${cut}`);
        if (v.canEnd()) assert.equal(closing.length, 0);
      }
    }
  });

  it("'fill': frozen frames up to maxFrames; the closing of a finished P slice is a few bytes", async () => {
    const c = byName('boxes-two');
    const random = rng(9);
    for (let k = 0; k < 10; k++) {
      const cut = 1 + Math.floor(random() * c.data.length);
      const v = new H264StreamValidator({ maxFrames: 20 });
      v.feedAll(c.data.subarray(0, cut));
      const s = concat(c.data.subarray(0, cut), v.closingBytes('fill'));
      assert.equal(describeStream(s).frames, 20);
      assert.equal((await decodeH264(s)).count, 20);
    }
    const v = new H264StreamValidator();
    v.feedAll(cutAfterFrames(c.data, 4));
    // A frozen frame of 4 macroblocks: start code, NAL header, slice header and mb_skip_run in one slice.
    const frozen = v.withMaxFrames(5).closingBytes('fill');
    assert.ok(frozen.length <= 10, `${frozen.length} bytes`);
    assert.equal(splitAnnexB(concat(cutAfterFrames(c.data, 4), frozen)).length, 2 + 4 * 4 + 1);
  });

  it('random walks under the mask after a prompt, closed at a budget, decode to the frame count', async () => {
    const random = rng(11);
    for (const name of ['box-navy', 'testsrc2-64x48', 'smptebars']) {
      const c = byName(name);
      const prompt = cutAfterFrames(c.data, 2);
      for (let walk = 0; walk < 6; walk++) {
        const v = new H264StreamValidator();
        v.feedAll(prompt);
        const bytes: number[] = [];
        for (let step = 0; step < 40 && !(v.canEnd() && v.frames > 2); step++) {
          const allowed = maskBytes(v.allowedNextBytes());
          assert.ok(allowed.length > 0, 'a state with no continuation');
          const b = allowed[Math.floor(random() * allowed.length)]!;
          assert.ok(v.feed(b));
          bytes.push(b);
        }
        const s = concat(prompt, bytes, v.closingBytes('frame'));
        const frames = describeStream(s).frames;
        assert.ok(frames >= 3 && frames <= 4, `${frames}`);
        assert.equal((await decodeH264(s)).count, frames, `${name} walk ${walk}`);
        if (!noFfmpeg) {
          const ff = ffmpegDecode(s);
          assert.equal(ff.frames, frames);
          assert.equal(ff.errors, '', `${name} walk ${walk}: ffmpeg says ${ff.errors}`);
        }
      }
    }
  });

  it('closed streams decode in ffmpeg without errors', { skip: noFfmpeg }, () => {
    const random = rng(5);
    for (const c of clips.slice(0, 8)) {
      for (let k = 0; k < 3; k++) {
        const cut = 1 + Math.floor(random() * c.data.length);
        const v = new H264StreamValidator();
        v.feedAll(c.data.subarray(0, cut));
        const s = concat(c.data.subarray(0, cut), v.closingBytes('frame'));
        const ff = ffmpegDecode(s);
        assert.equal(ff.errors, '', `${c.file} cut ${cut}`);
        assert.equal(ff.frames, describeStream(s).frames, `${c.file} cut ${cut}`);
      }
    }
  });
});

describe('slices of at most N macroblocks (the canonical form: x264 slice-max-mbs = 1)', () => {
  // A bundled-model continuation whose P pictures have slices that skip several macroblocks: valid H.264 (ffmpeg
  // decodes its 8 frames), but not the canonical form the pack declares (codec.sliceMaxMbs = 1).
  const multi = new Uint8Array(readFileSync(join(__dirname, '..', 'fixtures', 'h264-slices', 'multi-mb-slices.h264')));

  it('every canonical fixture has one macroblock per slice; a stream with longer slices is refused where one grows', () => {
    for (const c of clips.filter((x) => x.width === 32)) assert.ok(validateStream(c.data, { maxMbsPerSlice: 1 }).ok, c.file);
    assert.ok(validateStream(multi).ok, 'valid without the limit');
    assert.equal(describeStream(multi).frames, 8);
    const v = validateStream(multi, { maxMbsPerSlice: 1 });
    assert.equal(v.ok, false);
    // Refused where the first slice goes on after its macroblock (its data must end there).
    assert.match(v.rejection!.reason, /a slice covers at most 1 macroblocks here|rbsp_alignment_zero_bit|mb_skip_run/);
    assert.ok(v.accepted < multi.length);
  });

  it('masks never let a slice grow past the limit, and closing bytes write one macroblock per slice', async () => {
    const prompt = cutAfterFrames(byName('boxes-two').data, 2);
    const next = rng(17);
    for (let walk = 0; walk < 4; walk++) {
      const v = new H264StreamValidator({ maxFrames: 5, maxMbsPerSlice: 1 });
      assert.equal(v.feedAll(prompt), prompt.length);
      const taken: number[] = [];
      for (let step = 0; step < 60 && !v.isComplete(); step++) {
        const allowed = maskBytes(v.allowedNextBytes());
        assert.ok(allowed.length > 0);
        const b = allowed[Math.floor(next() * allowed.length)]!;
        assert.ok(v.feed(b));
        taken.push(b);
      }
      const whole = concat(prompt, taken, v.closingBytes('fill'));
      assert.ok(validateStream(whole, { maxMbsPerSlice: 1 }).ok, `walk ${walk}`);
      const d = describeStream(whole);
      assert.equal(d.frames, 5);
      assert.ok(
        d.nals.filter((n) => n.mbCount !== undefined).every((n) => n.mbCount === 1),
        `walk ${walk}: a slice covers several macroblocks`,
      );
      assert.equal((await decodeH264(whole)).count, 5, `walk ${walk}: the preview decoder shows every frame`);
    }
  });
});

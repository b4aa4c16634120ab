#!/usr/bin/env python3
"""The ONE canonicaliser of the AVC-LM pack (models/concert-avc-32): video → the thesis' canonical H.264 Annex-B stream
(§6.6.4 flags; `tools/video/x264_flags.json` holds the exact ffmpeg arguments, read here and by the TypeScript runtime),
plus the stream parsing the pipeline needs (NAL units, access units, prompt cuts) and decoding through ffmpeg.

    /usr/bin/python3 tools/video/canonical_h264.py -f lavfi -i "testsrc2=s=64x64:r=3"      # -> clip.h264 + summary
    /usr/bin/python3 tools/video/canonical_h264.py --describe clip.h264

Canonical command (32×32, 3 fps, 12 frames; see x264_flags.json):
    ffmpeg <input args> -vf "[<pre-filter>,]fps=3,scale=32:32:force_original_aspect_ratio=decrease,pad=32:32:(ow-iw)/2:(oh-ih)/2"
           -t 4 -frames:v 12 -c:v libx264 -pix_fmt yuv420p -profile:v baseline -qp 37 -bf 0 -an -sn
           -x264opts slice-max-mbs=1 -trellis 0 -me_method dia -threads 1 -subq 0 -psy 0 -mixed-refs 0
           -fast-pskip 0 -partitions none -refs 3 -bsf:v h264_mp4toannexb,filter_units=remove_types=6 -f h264 out.h264
The stream: SPS (NAL type 7) + PPS (8) + one slice NAL per macroblock (`slice-max-mbs=1`; 32×32 = 4 macroblocks per
frame), an IDR frame (type 5) then P frames (type 1); no SEI. A frame (access unit) starts at a slice NAL whose
first_mb_in_slice (the first ue(v) of the slice header, right after the one-byte NAL header) is 0.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FLAGS_FILE = os.path.join(HERE, "x264_flags.json")
with open(FLAGS_FILE, encoding="utf-8") as _f:
    FLAGS = json.load(_f)
WIDTH, HEIGHT, FPS, FRAMES = FLAGS["width"], FLAGS["height"], FLAGS["fps"], FLAGS["frames"]
MBS_PER_FRAME = (WIDTH // 16) * (HEIGHT // 16)
APT_HINT = "sudo apt-get install -y --no-install-recommends ffmpeg   (Debian bookworm: ffmpeg 5.1 with libx264)"


def ffmpeg_path() -> str:
    p = shutil.which("ffmpeg")
    if not p:
        raise RuntimeError(f"ffmpeg not found; install it with:\n  {APT_HINT}")
    return p


def command(input_args: list, pre_filter: str | None = None, out: str = "-") -> list:
    """The full ffmpeg argument list of the canonical encoding of an input (ffmpeg input arguments, e.g.
    ["-f", "lavfi", "-i", "testsrc2=s=64x64"]); pre_filter runs before the canonical fps/scale/pad chain."""
    vf = FLAGS["videoFilter"] if not pre_filter else f"{pre_filter},{FLAGS['videoFilter']}"
    return [ffmpeg_path(), "-nostdin", "-loglevel", "error"] + list(input_args) + ["-vf", vf] + list(FLAGS["outputArgs"]) + [out]


def encode(input_args: list, pre_filter: str | None = None, timeout: float = 60) -> bytes:
    """Canonical Annex-B bytes of an input (raises on an ffmpeg error or an empty stream)."""
    r = subprocess.run(command(input_args, pre_filter), capture_output=True, timeout=timeout)
    if r.returncode != 0 or not r.stdout:
        raise RuntimeError(f"ffmpeg failed ({r.returncode}): {r.stderr.decode(errors='replace')[-800:]}")
    return r.stdout


# ------------------------------------------------------------------------------------------------ parsing
def nal_units(stream: bytes) -> list:
    """[(start, payload_start, end)]: start = offset of the start code (00 00 01 or 00 00 00 01), payload_start = the
    NAL header byte; end = the next start code (trailing zero bytes belong to the next unit's 4-byte start code)."""
    out = []
    i, n = 0, len(stream)
    starts = []
    while True:
        j = stream.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        s = j - 1 if j > 0 and stream[j - 1] == 0 else j
        starts.append((s, j + 3))
        i = j + 3
    for k, (s, p) in enumerate(starts):
        e = starts[k + 1][0] if k + 1 < len(starts) else n
        out.append((s, p, e))
    return out


def _rbsp(data: bytes, limit: int = 8) -> bytes:
    """The first `limit` RBSP bytes of a NAL payload (emulation-prevention 03 after 00 00 removed)."""
    out, zeros = bytearray(), 0
    for b in data:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
        if len(out) >= limit:
            break
    return bytes(out)


def read_ue(data: bytes, bit: int = 0) -> tuple:
    """(value, next bit) of an Exp-Golomb ue(v) starting at `bit`; (None, bit) when the data runs out."""
    def get(k):
        return (data[k >> 3] >> (7 - (k & 7))) & 1
    nbits = len(data) * 8
    z = 0
    while bit < nbits and get(bit) == 0:
        z += 1
        bit += 1
    if bit >= nbits or z > 31:
        return None, bit
    bit += 1
    if bit + z > nbits:
        return None, bit
    v = 0
    for _ in range(z):
        v = (v << 1) | get(bit)
        bit += 1
    return (1 << z) - 1 + v, bit


def nal_info(stream: bytes) -> list:
    """[{start, end, type, first_mb}] of every NAL unit (first_mb only for slices, types 1 and 5)."""
    out = []
    for s, p, e in nal_units(stream):
        if p >= e:
            out.append({"start": s, "end": e, "type": None, "first_mb": None})
            continue
        t = stream[p] & 0x1F
        fm = None
        if t in (1, 5):
            fm, _ = read_ue(_rbsp(stream[p + 1:e]))
        out.append({"start": s, "end": e, "type": t, "first_mb": fm})
    return out


def frame_starts(stream: bytes) -> list:
    """Byte offsets where frames (access units) start: slices with first_mb_in_slice == 0 (the start code included)."""
    return [u["start"] for u in nal_info(stream) if u["type"] in (1, 5) and u["first_mb"] == 0]


def count_frames_syntax(stream: bytes) -> int:
    return len(frame_starts(stream))


def prompt_frames(stream: bytes, n: int) -> bytes:
    """SPS/PPS + the first n frames (cut at the start code of frame n + 1; the whole stream if it has <= n frames)."""
    fs = frame_starts(stream)
    if n <= 0:
        return stream[:fs[0]] if fs else stream
    return stream[:fs[n]] if n < len(fs) else stream


def describe(stream: bytes) -> dict:
    info = nal_info(stream)
    types = [u["type"] for u in info]
    fs = frame_starts(stream)
    return {"bytes": len(stream), "nal_units": len(info), "sps": types.count(7), "pps": types.count(8), "sei": types.count(6),
            "idr_slices": types.count(5), "p_slices": types.count(1), "frames": len(fs),
            "header_bytes": fs[0] if fs else len(stream),
            "frame_bytes": [b - a for a, b in zip(fs, fs[1:] + [len(stream)])]}


# ------------------------------------------------------------------------------------------------ decoding
def decode(stream: bytes, timeout: float = 30) -> tuple:
    """(frames uint8 [n, H, W, 3] RGB, ok): ffmpeg's decode of the stream; ok = exit status 0 and no error output
    (`-xerror`-free decode, `-loglevel error`). Undecodable input gives (empty array, False)."""
    cmd = [ffmpeg_path(), "-nostdin", "-loglevel", "error", "-f", "h264", "-i", "pipe:0", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-vsync", "passthrough", "pipe:1"]
    try:
        r = subprocess.run(cmd, input=stream, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return np.zeros((0, HEIGHT, WIDTH, 3), np.uint8), False
    fsize = WIDTH * HEIGHT * 3
    n = len(r.stdout) // fsize
    frames = np.frombuffer(r.stdout[:n * fsize], np.uint8).reshape(n, HEIGHT, WIDTH, 3)
    return frames, r.returncode == 0 and not r.stderr.strip()


def probe_frames(stream: bytes, timeout: float = 30) -> int:
    """Frames ffprobe counts when it decodes the stream (-count_frames); 0 when it cannot."""
    p = shutil.which("ffprobe")
    if not p:
        raise RuntimeError(f"ffprobe not found; install it with:\n  {APT_HINT}")
    r = subprocess.run([p, "-v", "error", "-f", "h264", "-count_frames", "-select_streams", "v:0", "-show_entries",
                        "stream=nb_read_frames", "-of", "csv=p=0", "pipe:0"], input=stream, capture_output=True, timeout=timeout)
    try:
        return int(r.stdout.decode().strip().split(",")[0])
    except ValueError:
        return 0


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--describe", default=None, help="describe an existing .h264 file")
    ap.add_argument("--out", default="clip.h264")
    ap.add_argument("--pre-filter", default=None)
    ap.add_argument("--print-command", action="store_true")
    a, rest = ap.parse_known_args(argv)
    if a.describe:
        with open(a.describe, "rb") as f:
            print(json.dumps(describe(f.read())))
        return
    if a.print_command:
        print(" ".join(command(rest, a.pre_filter, a.out)))
        return
    s = encode(rest, a.pre_filter)
    with open(a.out, "wb") as f:
        f.write(s)
    print(json.dumps(describe(s)))


if __name__ == "__main__":
    main(sys.argv[1:])

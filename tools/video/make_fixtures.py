#!/usr/bin/env python3
"""Writes the committed corpus of H.264 test streams, test/fixtures/h264/ (lavfi sources, ffmpeg + libx264):

  <name>.h264        canonical streams: the thesis' x264 settings (§6.6.4, pad x-offset (ow-iw)/2; the same output
                     arguments as tools/video/x264_flags.json, written out here so that the corpus does not move when
                     the pack's settings do), Constrained Baseline, one slice per macroblock, x264's SEI removed
  refuse/<name>.h264 streams the TypeScript codec must refuse: High profile with B-frames (CABAC), a mid-stream size
                     change (two canonical streams concatenated)
  fixtures.json      per stream: file, width, height, frames (counted by ffprobe -count_frames), bytes, sha256, the
                     lavfi source; the ffmpeg version line

  /usr/bin/python3 tools/video/make_fixtures.py [--out test/fixtures/h264] [--check]

Deterministic (x264 with -threads 1, lavfi sources): running it again gives the same bytes; --check regenerates into a
temporary folder and compares with the committed corpus. The corpus is kept small (about 20 KB).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_OUT = os.path.join(ROOT, "test", "fixtures", "h264")

# The thesis' settings (seed reference §4.8) with the pad fix; fps 3.
CANONICAL_ARGS = [
    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-qp", "37", "-bf", "0", "-an", "-sn",
    "-x264opts", "slice-max-mbs=1", "-trellis", "0", "-me_method", "dia", "-threads", "1", "-subq", "0", "-psy", "0",
    "-mixed-refs", "0", "-fast-pskip", "0", "-partitions", "none", "-refs", "3",
    "-bsf:v", "h264_mp4toannexb,filter_units=remove_types=6", "-f", "h264",
]

# name, lavfi source, width, height, frames, pre-filter (before fps/scale/pad)
CLIPS = [
    ("box-navy", "color=c=navy:s=32x32:r=3,drawbox=x='mod(t*12,32)':y=8:w=10:h=10:c=yellow:t=fill", 32, 32, 12, None),
    ("boxes-two", "color=c=0x204020:s=64x64:r=6,drawbox=x='mod(t*20,64)':y='20+10*sin(t*3)':w=16:h=16:c=red:t=fill,"
                  "drawbox=x='48-mod(t*14,48)':y=40:w=12:h=12:c=white:t=fill", 32, 32, 16, None),
    ("testsrc2", "testsrc2=s=160x120:r=3", 32, 32, 10, None),
    ("mandelbrot", "mandelbrot=s=96x96:r=3", 32, 32, 12, None),
    ("gradients", "gradients=s=64x64:r=3:speed=0.05:seed=7:n=3:c0=0x2040c0:c1=0xe0a020:c2=0x20a060", 32, 32, 12, None),
    ("cellauto", "cellauto=s=32x32:r=3:rule=110:seed=3", 32, 32, 8, None),
    ("life", "life=s=16x16:r=3:seed=11:mold=8", 32, 32, 12, "scale=32:32:flags=neighbor"),
    ("rgbtestsrc", "rgbtestsrc=s=32x32:r=3,drawbox=x='mod(t*8,32)':y='mod(t*5,32)':w=8:h=8:c=black:t=fill", 32, 32, 10, None),
    ("sierpinski", "sierpinski=s=64x64:r=3:seed=5", 32, 32, 8, None),
    ("smptebars", "smptebars=s=64x48:r=3,hue=H=t*2", 32, 32, 9, None),
    # 16:9 into 64×48: letterboxed by the pad (the (ow-iw)/2:(oh-ih)/2 centring).
    ("testsrc2-64x48", "testsrc2=s=320x180:r=3", 64, 48, 8, None),
]


def run(args: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, **kw)


def ffmpeg_version() -> str:
    return run(["ffmpeg", "-version"]).stdout.decode().splitlines()[0]


def canonical(source: str, w: int, h: int, frames: int, pre: str | None) -> bytes:
    vf = f"fps=3,scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2"
    if pre:
        vf = f"{pre},{vf}"
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", source, "-vf", vf, "-frames:v", str(frames)]
    return run(args + CANONICAL_ARGS + ["-"]).stdout


def high_profile_b_frames() -> bytes:
    """Not canonical: High profile (CABAC, 8×8 transforms) with B-frames."""
    args = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=32x32:r=3", "-frames:v", "8",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "high", "-qp", "30", "-bf", "2", "-threads", "1",
            "-bsf:v", "filter_units=remove_types=6", "-f", "h264", "-"]
    return run(args).stdout


def probe_frames(path: str) -> int:
    out = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
               "stream=nb_read_frames", "-of", "csv=p=0", path]).stdout.decode().strip()
    return int(out)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(out: str) -> dict:
    os.makedirs(os.path.join(out, "refuse"), exist_ok=True)
    clips = []
    for name, source, w, h, frames, pre in CLIPS:
        data = canonical(source, w, h, frames, pre)
        path = os.path.join(out, f"{name}.h264")
        with open(path, "wb") as f:
            f.write(data)
        counted = probe_frames(path)
        if counted != frames:
            raise RuntimeError(f"{name}: ffprobe counts {counted} frames, {frames} were asked for")
        clips.append({"file": f"{name}.h264", "width": w, "height": h, "frames": counted, "bytes": len(data),
                      "sha256": sha256(data), "source": source if not pre else f"{source} | {pre}"})
    refusals = []
    high = high_profile_b_frames()
    resized = canonical(CLIPS[0][1], 32, 32, 4, None) + canonical("testsrc2=s=160x120:r=3", 48, 32, 4, None)
    for name, data, why in [("high-bframes", high, "High profile (profile_idc 100), CABAC, B-frames"),
                            ("size-change", resized, "a second SPS changes the size from 32×32 to 48×32")]:
        path = os.path.join(out, "refuse", f"{name}.h264")
        with open(path, "wb") as f:
            f.write(data)
        refusals.append({"file": f"refuse/{name}.h264", "bytes": len(data), "sha256": sha256(data), "why": why})
    manifest = {
        "generator": "tools/video/make_fixtures.py",
        "ffmpeg": ffmpeg_version(),
        "canonicalArgs": CANONICAL_ARGS,
        "clips": clips,
        "refusals": refusals,
    }
    with open(os.path.join(out, "fixtures.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="regenerate into a temporary folder and compare")
    a = ap.parse_args(argv)
    if not shutil.which("ffmpeg"):
        print("ffmpeg not found: sudo apt-get install -y --no-install-recommends ffmpeg", file=sys.stderr)
        return 2
    if a.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = write(tmp)
            with open(os.path.join(a.out, "fixtures.json"), encoding="utf-8") as f:
                committed = json.load(f)
            same = [c["sha256"] for c in fresh["clips"] + fresh["refusals"]] == [c["sha256"] for c in committed["clips"] + committed["refusals"]]
            print("identical" if same else "DIFFERENT")
            return 0 if same else 1
    m = write(a.out)
    total = sum(c["bytes"] for c in m["clips"] + m["refusals"])
    print(f"{len(m['clips'])} clips + {len(m['refusals'])} refusal streams, {total} bytes in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

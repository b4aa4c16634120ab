"""Writes the committed corpus of canonical JPEG test streams, test/fixtures/jpeg/ (images drawn here, procedurally):

  <name>.png            the pixels (the canonicaliser's input; the runtime's encoder must match on them)
  <name>.bin            the image-only canonical stream (tools/codec/canonical_jpeg.py)
  mutations/<name>.bin  streams changed so that they are no longer canonical (for rejection tests)
  manifest.json         per stream: size, MCUs, restart markers, length, sha256; per mutation: what changed where,
                        the first byte that differs (`offset`) and the byte a strict validator must refuse (`reject_at`)

  /usr/bin/python3 tools/codec/make_fixtures.py [--out test/fixtures/jpeg]
Deterministic: the Python tests regenerate the corpus and compare it byte for byte.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys

from PIL import Image, ImageDraw

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import canonical_jpeg as cj  # noqa: E402


def _grad_h(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n))
    im.putdata([(x * 255 // (n - 1), 64, 255 - x * 255 // (n - 1)) for y in range(n) for x in range(n)])
    return im


def _grad_v(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n))
    im.putdata([(y * 255 // (n - 1),) * 3 for y in range(n) for x in range(n)])
    return im


def _grad_d(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n))
    im.putdata([((x + y) * 255 // (2 * n - 2), 255 - y * 255 // (n - 1), x * 255 // (n - 1)) for y in range(n) for x in range(n)])
    return im


def _checker(n: int, cell: int = 4) -> Image.Image:
    im = Image.new("RGB", (n, n))
    im.putdata([(255, 255, 255) if ((x // cell) + (y // cell)) % 2 else (0, 0, 0) for y in range(n) for x in range(n)])
    return im


def _disc(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n), (20, 40, 160))
    ImageDraw.Draw(im).ellipse((n // 6, n // 6, n - n // 6, n - n // 6), fill=(220, 30, 30))
    return im


def _noise(n: int, seed: int = 14) -> Image.Image:
    rng = random.Random(seed)
    im = Image.new("RGB", (n, n))
    im.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(n * n)])
    return im


def _stripes(n: int) -> Image.Image:
    colours = [(240, 200, 30), (30, 160, 90), (90, 30, 150)]
    im = Image.new("RGB", (n, n))
    im.putdata([colours[(x // 5) % 3] for y in range(n) for x in range(n)])
    return im


def _flat(n: int) -> Image.Image:
    return Image.new("RGB", (n, n), (128, 128, 128))


def _rings(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n), (250, 250, 240))
    d = ImageDraw.Draw(im)
    for i, r in enumerate(range(n // 2 - 2, 2, -5)):
        d.ellipse((n // 2 - r, n // 2 - r, n // 2 + r, n // 2 + r), outline=(200 - 20 * i, 40 + 25 * i, 90), width=2)
    return im


def _scene(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n))
    horizon = n * 5 // 8
    im.putdata([(90 + y * 100 // horizon, 150 + y * 80 // horizon, 250) if y < horizon else (60, 120 + (y - horizon) // 2, 40) for y in range(n) for x in range(n)])
    d = ImageDraw.Draw(im)
    d.ellipse((n * 5 // 8, n // 10, n * 5 // 8 + n // 5, n // 10 + n // 5), fill=(255, 220, 60))
    d.polygon([(0, horizon), (n // 3, n // 3), (n * 2 // 3, horizon)], fill=(110, 100, 120))
    d.polygon([(n // 3, horizon), (n * 3 // 4, n * 2 // 5), (n, horizon)], fill=(140, 130, 150))
    d.rectangle((n // 8, horizon + n // 10, n // 8 + n // 6, horizon + n // 4), fill=(170, 60, 40))
    d.line((0, n - 1, n - 1, horizon + n // 8), fill=(230, 230, 230), width=3)
    return im


def _plasma(n: int) -> Image.Image:
    im = Image.new("RGB", (n, n))
    px = []
    for y in range(n):
        for x in range(n):
            v = math.sin(x / 9.0) + math.sin(y / 13.0) + math.sin((x + y) / 17.0) + math.sin(math.hypot(x - n / 2, y - n / 3) / 7.0)
            t = (v + 4) / 8
            px.append((int(255 * t), int(255 * (1 - t) * 0.8), int(128 + 127 * math.sin(6.283 * t))))
    im.putdata(px)
    return im


def _crop_source() -> Image.Image:
    """80x48: not square, not the target size: the centre 48x48 square is resized to 32x32."""
    im = Image.new("RGB", (80, 48), (240, 240, 240))
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, 15, 47), fill=(255, 0, 0))  # cropped away
    d.rectangle((64, 0, 79, 47), fill=(0, 0, 255))  # cropped away
    d.ellipse((22, 6, 58, 42), fill=(30, 150, 60))
    d.line((16, 47, 63, 0), fill=(0, 0, 0), width=2)
    return im


# name, size of the canonical image, drawing, what it exercises
IMAGES = [
    ("grad-h-32", 32, lambda: _grad_h(32), "horizontal colour gradient"),
    ("grad-v-32", 32, lambda: _grad_v(32), "vertical grey gradient"),
    ("grad-d-32", 32, lambda: _grad_d(32), "diagonal colour gradient"),
    ("checker-32", 32, lambda: _checker(32), "4-pixel checkerboard (high frequencies)"),
    ("disc-32", 32, lambda: _disc(32), "red disc on blue"),
    ("noise-32", 32, lambda: _noise(32), "uniform RGB noise (largest 32x32 stream)"),
    ("stripes-32", 32, lambda: _stripes(32), "5-pixel colour stripes"),
    ("flat-32", 32, lambda: _flat(32), "flat mid-grey (smallest stream)"),
    ("crop-80x48-to-32", 32, _crop_source, "80x48 source: centre 48x48 square, bilinear resize to 32x32"),
    ("rings-64", 64, lambda: _rings(64), "concentric rings, 64x64 (16 MCUs, 4 per row)"),
    ("scene-256", 256, lambda: _scene(256), "sky, sun, mountains, a house, 256x256 (the thesis' size)"),
    ("plasma-256", 256, lambda: _plasma(256), "smooth sine plasma, 256x256"),
]


def _entropy_markers(stream: bytes, start: int) -> list[tuple[int, int]]:
    """(offset, code) of each marker after `start` (stuffed FF 00 skipped)."""
    out, i = [], start
    while i + 1 < len(stream):
        if stream[i] == 0xFF:
            if stream[i + 1] != 0x00:
                out.append((i, stream[i + 1]))
            i += 2
        else:
            i += 1
    return out


def _stuffed(stream: bytes, start: int) -> list[int]:
    """Offsets of stuffed 00 bytes."""
    out, i = [], start
    while i + 1 < len(stream):
        if stream[i] == 0xFF:
            if stream[i + 1] == 0x00:
                out.append(i + 1)
            i += 2
        else:
            i += 1
    return out


def mutations(name: str, s: bytes) -> list[dict]:
    """Streams that a strict validator must refuse, each with the first differing byte and the refused byte."""
    h = cj.HEADER_LENGTH
    markers = _entropy_markers(s, h)
    rst = [m for m in markers if 0xD0 <= m[1] <= 0xD7]
    k = len(rst) // 2
    at, code = rst[k]
    out = []

    def add(kind: str, data: bytes, offset: int, reject_at: int, note: str, early_eoi_ok: bool = False) -> None:
        out.append({"name": f"{name}.{kind}", "source": name, "kind": kind, "data": data, "offset": offset, "reject_at": reject_at,
                    "accepted_with_early_eoi": early_eoi_ok, "note": note})

    # The restart marker after MCU k removed: the byte where FF is due is the next MCU's data (if that is itself
    # a stuffed FF, the FF passes as the marker's and its 00 is refused).
    add("drop-rst", s[:at] + s[at + 2:], at, at + 1 if s[at + 2] == 0xFF else at, f"RST{code - 0xD0} after MCU {k} removed")
    add("wrong-rst", s[:at + 1] + bytes([0xD0 + (code - 0xD0 + 1) % 8]) + s[at + 2:], at + 1, at + 1, f"RST{code - 0xD0} after MCU {k} numbered RST{(code - 0xD0 + 1) % 8}")
    add("early-eoi", s[:at] + b"\xff\xd9", at + 1, at + 1, f"EOI instead of the restart marker after MCU {k}", True)
    add("no-eoi", s[:-2], len(s) - 2, len(s) - 2, "EOI removed (the stream just ends)")
    add("after-eoi", s + b"\x00", len(s), len(s), "a byte after EOI")
    add("header-dri", s[:44] + b"\x02" + s[45:], 44, 44, "DRI restart interval 2 instead of 1")
    # Nine 1-bits where the luminance DC code starts (FF, stuffed 00, FF): the all-ones code is reserved.
    mcu_start = rst[k][0] + 2
    add("bad-dc-code", s[:mcu_start] + b"\xff\x00\xff" + s[mcu_start:], mcu_start, mcu_start + 2, f"MCU {k + 1} begins with nine 1-bits (no DC code)")
    stuffs = [i for i in _stuffed(s, h) if i + 1 < len(s) and s[i + 1] != 0x00]
    if stuffs:
        i = stuffs[len(stuffs) // 2]
        add("drop-stuffing", s[:i] + s[i + 1:], i, i, "the stuffed 00 after a data FF removed")
    return out


def jpegtran_version() -> str:
    r = subprocess.run([cj.jpegtran(), "-v", "-outfile", os.devnull], input=b"", capture_output=True, check=False)
    return r.stderr.decode(errors="replace").splitlines()[0].strip() if r.stderr else "unknown"


def build(out: str) -> dict:
    import PIL

    os.makedirs(os.path.join(out, "mutations"), exist_ok=True)
    streams, muts = [], []
    for name, size, draw, what in IMAGES:
        image = draw()
        image.save(os.path.join(out, name + ".png"), optimize=False, compress_level=9)
        stream = cj.canonical_stream(image, size)
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(stream)
        info = cj.describe(stream)
        info.update({"name": name, "source_size": list(image.size), "description": what})
        streams.append(info)
        if name in ("disc-32", "scene-256"):
            for m in mutations(name, stream):
                with open(os.path.join(out, "mutations", m["name"] + ".bin"), "wb") as f:
                    f.write(m.pop("data"))
                muts.append(m)
    manifest = {
        "generator": "tools/codec/make_fixtures.py",
        "format": "image-only canonical JPEG streams (baseline, q25, 4:2:0, RST after every MCU, DQT/DHT stripped)",
        "pillow": PIL.__version__,
        "jpegtran": jpegtran_version(),
        "header_length": cj.HEADER_LENGTH,
        "tables_file_sha256": cj.TABLES_FILE_SHA256,
        "streams": streams,
        "mutations": muts,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "jpeg"))
    args = ap.parse_args(argv)
    m = build(args.out)
    for s in m["streams"]:
        print(f"{s['name']}: {s['width']}x{s['height']}, {s['mcus']} MCUs, {s['restarts']} RST, {s['bytes']} bytes")
    print(f"{len(m['mutations'])} mutations")
    return 0


if __name__ == "__main__":
    sys.exit(main())

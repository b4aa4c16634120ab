"""The canonical JPEG stream of JPEG-LM (thesis ch. 6; ../shared/reference/A_seed_reference.md §4), one canonicaliser
for the training pipeline (and the reference the extension's runtime must match).

  canonical stream = baseline JPEG, quality 25, 4:2:0 (Y 2x2, Cb/Cr 1x1: 16x16-pixel MCUs), standard Huffman
  tables (no optimisation), a restart marker after every MCU, then "image only": the DQT and DHT segments removed.
  What remains: SOI, JFIF APP0, SOF0, DRI (1 MCU), SOS (a 59-byte header for any size), entropy data with RSTn, EOI.

How it is made here (measured on Debian bookworm): Pillow encodes (quality=25, subsampling 4:2:0, no optimize, no
progressive, a fresh image so no comment/EXIF/ICC is carried along); Pillow 9.4 silently ignores
`restart_marker_blocks` (the option of Pillow >= 10.2 the thesis' code uses), so `jpegtran -restart 1B`
(libjpeg-turbo-progs) inserts the restart markers losslessly: it re-encodes the same coefficients with the same
standard tables; then the tables are stripped. `restore_tables` re-inserts the constant 570-byte tables blob right
after SOI, as the thesis' code does.

Preprocessing as the thesis' run.py (RandomResizedCrop with scale=(1,1), ratio=(1,1), antialias): RGB, the centred
square of side min(W, H), bilinear (antialiased) resize to size x size.

  /usr/bin/python3 tools/codec/canonical_jpeg.py IMAGE... --size 32 --out DIR [--full]
writes DIR/<name>.bin (image-only stream) or, with --full, DIR/<name>.jpg (tables restored, any viewer opens it).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys

from PIL import Image

QUALITY = 25
MCU = 16
HEADER_LENGTH = 59
# sha256 of SOI + the tables blob + EOI (the 574-byte tables-only file at quality 25: IJG Annex K quantisation
# tables scaled 200 %, the standard Annex K Huffman tables), seed reference §4.4.
TABLES_FILE_SHA256 = "ca3f61d4a3d59d839345802bc6318aaede2dfa8fa9e89112b0fc172da148a24b"
TABLES_BLOB_LENGTH = 570

SOI, EOI, SOS, DQT, DHT, SOF0 = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xC0


class CanonicalJpegError(ValueError):
    pass


def jpegtran() -> str:
    path = shutil.which("jpegtran")
    if not path:
        raise CanonicalJpegError("jpegtran not found: apt-get install libjpeg-turbo-progs (listed in tools/requirements-apt.txt)")
    return path


def prepare(image: Image.Image, size: int) -> Image.Image:
    """RGB, centre square crop of side min(W, H), bilinear antialiased resize to size x size (run.py preprocessing)."""
    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if (w, h) != (side, side):
        image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.BILINEAR)
    return image


def encode_baseline(image: Image.Image) -> bytes:
    """Pillow's baseline JPEG at quality 25, 4:2:0, standard tables; the pixels only (no metadata carried along)."""
    if image.mode != "RGB":
        raise CanonicalJpegError(f"expected an RGB image, got {image.mode}")
    fresh = Image.frombytes("RGB", image.size, image.tobytes())
    buf = io.BytesIO()
    fresh.save(buf, format="JPEG", quality=QUALITY, subsampling="4:2:0", optimize=False, progressive=False)
    return buf.getvalue()


def add_restart_markers(jpeg: bytes) -> bytes:
    """A restart marker after every MCU, losslessly (`jpegtran -restart 1B`, standard tables kept: no -optimize)."""
    r = subprocess.run([jpegtran(), "-copy", "none", "-restart", "1B"], input=jpeg, capture_output=True, check=False)
    if r.returncode != 0 or not r.stdout:
        raise CanonicalJpegError(f"jpegtran failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
    return r.stdout


def header_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, start, end) of each segment from SOI through the SOS header."""
    if data[:2] != b"\xff\xd8":
        raise CanonicalJpegError("not a JPEG stream: no SOI")
    out = [(SOI, 0, 2)]
    i = 2
    while True:
        if i + 4 > len(data) or data[i] != 0xFF:
            raise CanonicalJpegError(f"expected a marker segment at byte {i}")
        marker = data[i + 1]
        end = i + 2 + ((data[i + 2] << 8) | data[i + 3])
        if end > len(data):
            raise CanonicalJpegError(f"segment FF {marker:02X} at byte {i} runs past the end")
        out.append((marker, i, end))
        if marker == SOS:
            return out
        i = end


def split_tables(full: bytes) -> tuple[bytes, bytes]:
    """(image-only stream, removed tables blob): every DQT and DHT segment before the scan removed, in order."""
    keep, tables, at = [], [], 0
    for marker, start, end in header_segments(full):
        if marker in (DQT, DHT):
            keep.append(full[at:start])
            tables.append(full[start:end])
            at = end
    keep.append(full[at:])
    return b"".join(keep), b"".join(tables)


def strip_tables(full: bytes) -> bytes:
    return split_tables(full)[0]


def tables_blob() -> bytes:
    """The constant blob, taken from a tiny canonical encode and checked against the reference hash."""
    _, blob = split_tables(add_restart_markers(encode_baseline(Image.new("RGB", (16, 16), (128, 128, 128)))))
    check_tables(blob)
    return blob


def check_tables(blob: bytes) -> None:
    digest = hashlib.sha256(b"\xff\xd8" + blob + b"\xff\xd9").hexdigest()
    if len(blob) != TABLES_BLOB_LENGTH or digest != TABLES_FILE_SHA256:
        raise CanonicalJpegError(
            f"the encoder's tables ({len(blob)} bytes, sha256 {digest[:12]}…) are not the canonical quality-25 Annex K tables "
            "(a libjpeg other than libjpeg-turbo/IJG, e.g. mozjpeg, uses other tables)"
        )


def restore_tables(image_only: bytes, blob: bytes | None = None) -> bytes:
    """The constant tables blob re-inserted right after SOI (as the thesis' code does): a file any decoder reads."""
    if image_only[:2] != b"\xff\xd8":
        raise CanonicalJpegError("not a JPEG stream: no SOI")
    return image_only[:2] + (blob if blob is not None else tables_blob()) + image_only[2:]


def canonical_full(image: Image.Image, size: int) -> bytes:
    """The full canonical JPEG (tables included, restart marker after every MCU) of an image at size x size."""
    return add_restart_markers(encode_baseline(prepare(image, size)))


def canonical_stream(image: Image.Image, size: int) -> bytes:
    """The image-only canonical stream; checks that the removed tables are the constant blob."""
    stream, blob = split_tables(canonical_full(image, size))
    check_tables(blob)
    return stream


def describe(stream: bytes) -> dict:
    """Structural facts of an image-only stream: size, MCUs, restart markers (total and per RSTn), length."""
    segs = header_segments(stream)
    sof = next((s for s in segs if s[0] == SOF0), None)
    if sof is None:
        raise CanonicalJpegError("no SOF0 segment")
    height = (stream[sof[1] + 5] << 8) | stream[sof[1] + 6]
    width = (stream[sof[1] + 7] << 8) | stream[sof[1] + 8]
    start = segs[-1][2]
    counts = [0] * 8
    i = start
    while i + 1 < len(stream):
        if stream[i] == 0xFF and stream[i + 1] != 0x00:
            if 0xD0 <= stream[i + 1] <= 0xD7:
                counts[stream[i + 1] - 0xD0] += 1
            else:
                break
            i += 1
        elif stream[i] == 0xFF:
            i += 1
        i += 1
    mcus = -(-width // MCU) * -(-height // MCU)
    return {
        "width": width,
        "height": height,
        "mcus": mcus,
        "bytes": len(stream),
        "header_bytes": start,
        "restarts": sum(counts),
        "restart_counts": counts,
        "ends_with_eoi": stream[-2:] == b"\xff\xd9",
        "sha256": hashlib.sha256(stream).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--size", type=int, default=32, help="side of the square canonical image (a multiple of 16 keeps MCUs whole)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--full", action="store_true", help="write full JPEG files (tables restored) instead of image-only streams")
    args = ap.parse_args(argv)
    if not 16 <= args.size <= 4096:
        ap.error("--size must be within 16…4096")
    os.makedirs(args.out, exist_ok=True)
    blob = tables_blob()
    for path in args.images:
        with Image.open(path) as im:
            stream = canonical_stream(im, args.size)
        name = os.path.splitext(os.path.basename(path))[0]
        target = os.path.join(args.out, name + (".jpg" if args.full else ".bin"))
        with open(target, "wb") as f:
            f.write(restore_tables(stream, blob) if args.full else stream)
        print(f"{target}: {len(stream)} bytes image-only" + (f", {len(stream) + len(blob)} with tables" if args.full else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

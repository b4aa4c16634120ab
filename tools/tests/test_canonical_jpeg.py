"""The canonical JPEG stream of JPEG-LM (tools/codec/canonical_jpeg.py) against the seed reference §4: the constant
59-byte header and 570-byte tables blob, 255 restart markers (31 x FF D7) at 256x256, strip/restore, the run.py
preprocessing, and the committed corpus of test/fixtures/jpeg (regenerated here and compared byte for byte).
Needs Pillow and jpegtran (python3-pil, libjpeg-turbo-progs in tools/requirements-apt.txt); skipped without them."""
import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "jpeg")
sys.path.insert(0, os.path.join(HERE, "..", "codec"))

try:
    from PIL import Image

    HAVE_PIL = True
except ImportError:  # pragma: no cover - reported as a skip
    HAVE_PIL = False
HAVE_JPEGTRAN = shutil.which("jpegtran") is not None
REASON = "needs Pillow (python3-pil) and jpegtran (libjpeg-turbo-progs)"

HEADER_256 = bytes.fromhex(
    "ffd8"
    "ffe0 0010 4a46494600 0101 00 0001 0001 0000"
    "ffc0 0011 08 0100 0100 03 01 22 00 02 11 01 03 11 01"
    "ffdd 0004 0001"
    "ffda 000c 03 01 00 02 11 03 11 00 3f 00"
)


@unittest.skipUnless(HAVE_PIL and HAVE_JPEGTRAN, REASON)
class CanonicalJpegTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import importlib.util

        import canonical_jpeg as cj

        # By path: other tools tests put folders with their own make_fixtures.py first on sys.path.
        spec = importlib.util.spec_from_file_location("codec_make_fixtures", os.path.join(HERE, "..", "codec", "make_fixtures.py"))
        mf = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mf)

        cls.cj, cls.mf = cj, mf
        cls.scene = mf._scene(256)

    def decode(self, full: bytes) -> "Image.Image":
        im = Image.open(io.BytesIO(full))
        im.load()
        return im

    def test_256_header_markers_and_eoi(self):
        for image in (self.scene, self.mf._noise(256, seed=3)):
            s = self.cj.canonical_stream(image, 256)
            self.assertEqual(s[:59], HEADER_256)
            self.assertEqual(s[-2:], b"\xff\xd9")
            info = self.cj.describe(s)
            self.assertEqual(info["restarts"], 255)
            self.assertEqual(info["restart_counts"], [32] * 7 + [31])
            self.assertEqual(s.count(b"\xff\xd7"), 31)
            self.assertEqual(info["header_bytes"], 59)

    def test_tables_blob_is_the_reference(self):
        blob = self.cj.tables_blob()
        self.assertEqual(len(blob), 570)
        self.assertEqual(hashlib.sha256(b"\xff\xd8" + blob + b"\xff\xd9").hexdigest(), self.cj.TABLES_FILE_SHA256)
        # DQT 0, DQT 1, DHT DC0, AC0, DC1, AC1 (seed reference §4.4); quality 25 doubles Annex K: 16 -> 0x20.
        self.assertEqual(blob[:6].hex(), "ffdb00430020")

    def test_strip_restore(self):
        full = self.cj.canonical_full(self.scene, 256)
        stream = self.cj.strip_tables(full)
        restored = self.cj.restore_tables(stream)
        self.assertEqual(self.cj.strip_tables(restored), stream)
        self.assertEqual(restored[2:572], self.cj.tables_blob())
        self.assertEqual(self.decode(restored).tobytes(), self.decode(full).tobytes())

    def test_a_prompt_plus_eoi_decodes(self):
        s = self.cj.canonical_stream(self.scene, 256)
        at = -1
        for _ in range(12):
            at = s.index(b"\xff\xd7", at + 1)
        im = self.decode(self.cj.restore_tables(s[: at + 2] + b"\xff\xd9"))
        self.assertEqual(im.size, (256, 256))
        full = self.decode(self.cj.restore_tables(s))
        # 12 RST7 = 96 MCUs = the top 6 MCU rows (96 px) are the original's, but for the last 2 pixel rows: libjpeg's
        # smooth chroma upsampling blends in the (grey) chroma row below.
        self.assertEqual(im.crop((0, 0, 256, 94)).tobytes(), full.crop((0, 0, 256, 94)).tobytes())
        self.assertNotEqual(im.crop((0, 96, 256, 256)).tobytes(), full.crop((0, 96, 256, 256)).tobytes())

    def test_preprocessing_centre_crop_and_resize(self):
        src = self.mf._crop_source()
        out = self.cj.prepare(src, 32)
        self.assertEqual(out.size, (32, 32))
        # The red and blue side bars lie outside the centred 48x48 square.
        for x in (0, 31):
            r, g, b = out.getpixel((x, 16))
            self.assertFalse(r > 200 and g < 60 and b < 60)
            self.assertFalse(b > 200 and r < 60 and g < 60)
        self.assertEqual(self.cj.prepare(self.scene, 256).tobytes(), self.scene.tobytes())

    def test_metadata_is_not_carried_along(self):
        im = self.mf._disc(32)
        im.info["comment"] = b"hello"
        im.info["dpi"] = (300, 300)
        self.assertEqual(self.cj.canonical_stream(im, 32), self.cj.canonical_stream(self.mf._disc(32), 32))

    def test_pillow_restart_option_agrees_where_supported(self):
        """Pillow >= 10.2 writes restart markers itself (the thesis' encoder); its image-only stream must be ours."""
        im = self.mf._disc(32)
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=25, subsampling="4:2:0", restart_marker_blocks=1)
        if b"\xff\xdd" not in buf.getvalue():
            self.skipTest(f"Pillow {Image.__version__} ignores restart_marker_blocks (measured on Debian bookworm's 9.4)")
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=25, subsampling="4:2:0", restart_marker_blocks=1, streamtype=2)
        self.assertEqual(buf.getvalue(), self.cj.canonical_stream(im, 32))

    def test_committed_corpus_regenerates_byte_for_byte(self):
        with open(os.path.join(FIXTURES, "manifest.json")) as f:
            committed = json.load(f)
        with tempfile.TemporaryDirectory() as tmp:
            fresh = self.mf.build(tmp)
            self.assertEqual(fresh["streams"], committed["streams"], "re-run tools/codec/make_fixtures.py and review the diff")
            self.assertEqual(fresh["mutations"], committed["mutations"])
            for entry in committed["streams"]:
                with open(os.path.join(tmp, entry["name"] + ".bin"), "rb") as a, open(os.path.join(FIXTURES, entry["name"] + ".bin"), "rb") as b:
                    self.assertEqual(a.read(), b.read(), entry["name"])
                with Image.open(os.path.join(tmp, entry["name"] + ".png")) as a, Image.open(os.path.join(FIXTURES, entry["name"] + ".png")) as b:
                    self.assertEqual(a.tobytes(), b.tobytes(), entry["name"])
            for m in committed["mutations"]:
                with open(os.path.join(tmp, "mutations", m["name"] + ".bin"), "rb") as a, open(os.path.join(FIXTURES, "mutations", m["name"] + ".bin"), "rb") as b:
                    self.assertEqual(a.read(), b.read(), m["name"])

    def test_committed_streams_decode_and_come_from_their_pngs(self):
        with open(os.path.join(FIXTURES, "manifest.json")) as f:
            manifest = json.load(f)
        blob = self.cj.tables_blob()
        for entry in manifest["streams"]:
            with open(os.path.join(FIXTURES, entry["name"] + ".bin"), "rb") as f:
                stream = f.read()
            full = self.cj.restore_tables(stream, blob)
            self.assertEqual(self.decode(full).size, (entry["width"], entry["height"]))
            r = subprocess.run(["djpeg", "-pnm"], input=full, capture_output=True, check=False) if shutil.which("djpeg") else None
            if r is not None:
                self.assertEqual(r.returncode, 0, r.stderr)
            with Image.open(os.path.join(FIXTURES, entry["name"] + ".png")) as png:
                self.assertEqual(self.cj.canonical_stream(png, entry["width"]), stream, entry["name"])

    def test_cli_writes_streams_and_full_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "in.png")
            self.mf._crop_source().save(src)
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(self.cj.main([src, "--size", "32", "--out", tmp]), 0)
                self.assertEqual(self.cj.main([src, "--size", "32", "--out", tmp, "--full"]), 0)
            with open(os.path.join(tmp, "in.bin"), "rb") as f:
                stream = f.read()
            with open(os.path.join(FIXTURES, "crop-80x48-to-32.bin"), "rb") as f:
                self.assertEqual(stream, f.read())
            with Image.open(os.path.join(tmp, "in.jpg")) as im:
                self.assertEqual(im.size, (32, 32))

    def test_errors(self):
        with self.assertRaises(self.cj.CanonicalJpegError):
            self.cj.restore_tables(b"\x00\x01")
        with self.assertRaises(self.cj.CanonicalJpegError):
            self.cj.check_tables(b"\xff\xdb\x00\x02")


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Training data of the bundled JPEG-LM pack (models/concert-jpeg-32; issue #14, thesis ch. 6): 32x32 RGB images
rendered from Debian-packaged images with clean licences, turned into the thesis' canonical image-only stream by the
shared canonicaliser (tools/codec/canonical_jpeg.py: Pillow q25 4:2:0 + `jpegtran -restart 1B` + tables stripped).

    /usr/bin/python3 tools/jpeg/data.py                         # data/build/jpeg/{train,val}.npz + MANIFEST.json
    /usr/bin/python3 tools/jpeg/data.py --train 2000 --val 200 --out /tmp/jpeg-data   # smaller
    /usr/bin/python3 tools/jpeg/data.py --procedural-only ...   # no Debian packages needed (tests)

Sources (tools/jpeg/SOURCES.md): scikit-image's sample photos (Debian python3-skimage; only the CC0 / public-domain
ones), Open Clip Art (Debian openclipart-png, public domain) composited on photo crops or procedural backgrounds, and
procedural images drawn here (gradients, sinusoid "plasma", smooth noise, shapes, stripes). Packages are fetched with
`apt-get download` and unpacked with `dpkg -x` into <out>/debs (nothing is installed) unless the files are already
installed system-wide.

Each image is a random multi-scale square crop (side 1/16 … 1 of the shorter edge, at least 24 px), a random
horizontal flip and a small brightness/contrast jitter, resized to 32x32 by the canonicaliser's own preprocessing.
Validation uses whole held-out sources, never crops of training images: the photos `chelsea` and `gravel`, every
clip-art file whose path hashes to 0 mod 10, and procedural images from a separate seed stream.
Per-image RNG = numpy default_rng([seed, split, index]): the output does not depend on the number of workers.

Output: <out>/{train,val}.npz with `data` (uint8, the streams concatenated), `offsets` (int64, n+1) and `kinds`
(uint8: 0 photo, 1 clip art, 2 procedural); <out>/MANIFEST.json (counts, byte statistics, sources, seed, command).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import math
import multiprocessing as mp
import os
import shlex
import subprocess
import sys
import time

import warnings

import numpy as np
from PIL import Image, ImageDraw

warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # a few clip-art posters; skipped by size anyway

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "codec"))
import canonical_jpeg as cj  # noqa: E402

SIZE = 32
KINDS = ("photo", "clipart", "procedural")
# scikit-image sample data shipped in Debian's python3-skimage 0.19.3 with an explicit CC0 or public-domain statement
# in skimage/data/_fetchers.py (licence notes recorded in SOURCES.md). Grey images are used as grey RGB.
PHOTOS_TRAIN = {
    "astronaut.png": "public domain (NASA)",
    "coffee.png": "CC0 (Rachel Michetti)",
    "rocket.jpg": "public domain (SpaceX)",
    "hubble_deep_field.jpg": "public domain (NASA)",
    "retina.jpg": "CC0 1.0 (Mikael Häggström)",
    "camera.png": "CC0 (Lav Varshney)",
    "brick.png": "CC0 (CC0Textures)",
    "grass.png": "CC0 (DeviantArt linolafett)",
    "clock_motion.png": "public domain (Stefan van der Walt)",
    "cell.png": "CC0 (David Root)",
    "microaneurysms.png": "CC0 (Andreas Maier)",
    "text.png": "public domain (Wikipedia Corner.png)",
}
PHOTOS_VAL = {
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "gravel.png": "CC0 (CC0Textures)",
}
SKIMAGE_DATA = "usr/lib/python3/dist-packages/skimage/data"
CLIPART_DIR = "usr/share/openclipart/png"
PACKAGES = ("python3-skimage", "openclipart-png")
CLIPART_PER_CATEGORY = 160  # cap per top-level category, so icons ("computer", "shapes") do not dominate
CLIPART_THUMB = 64
CLIPART_MAX_PIXELS = 16_000_000


# ------------------------------------------------------------------------------------------------ sources
def ensure_packages(debs_dir: str, log=print) -> dict:
    """Root folders holding the packages' files: / when installed, else <debs>/root after apt-get download + dpkg -x."""
    roots = {}
    for pkg, probe in (("python3-skimage", SKIMAGE_DATA), ("openclipart-png", CLIPART_DIR)):
        if os.path.isdir(os.path.join("/", probe)):
            roots[pkg] = "/"
            continue
        root = os.path.join(debs_dir, "root")
        if not os.path.isdir(os.path.join(root, probe)):
            os.makedirs(debs_dir, exist_ok=True)
            if not glob.glob(os.path.join(debs_dir, f"{pkg}_*.deb")):
                log(f"apt-get download {pkg}")
                subprocess.run(["apt-get", "download", pkg], cwd=debs_dir, check=True, capture_output=True)
            deb = sorted(glob.glob(os.path.join(debs_dir, f"{pkg}_*.deb")))[-1]
            log(f"dpkg -x {os.path.basename(deb)}")
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        roots[pkg] = root
    return roots


def package_version(debs_dir: str, pkg: str) -> str:
    debs = sorted(glob.glob(os.path.join(debs_dir, f"{pkg}_*.deb")))
    if debs:
        from urllib.parse import unquote

        return unquote(os.path.basename(debs[-1]).split("_")[1])  # apt-get download writes an epoch's ":" as %3a
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def load_photos(root: str, names) -> dict:
    out = {}
    for n in names:
        with Image.open(os.path.join(root, SKIMAGE_DATA, n)) as im:
            out[n] = np.asarray(im.convert("RGB"))
    return out


def clipart_split(rel: str) -> str:
    return "val" if int(hashlib.sha256(rel.encode()).hexdigest(), 16) % 10 == 0 else "train"


def load_clipart(root: str, seed: int, log=print) -> dict:
    """{'train': [...], 'val': [...]} of RGBA thumbnails (longer side CLIPART_THUMB), at most CLIPART_PER_CATEGORY
    files per top-level category (chosen by a seeded shuffle)."""
    base = os.path.join(root, CLIPART_DIR)
    files = sorted(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, "**", "*.png"), recursive=True))
    by_cat: dict = {}
    for rel in files:
        by_cat.setdefault(rel.split(os.sep)[0], []).append(rel)
    rng = np.random.default_rng([seed, 7])
    out = {"train": [], "val": []}
    t0 = time.time()
    for cat in sorted(by_cat):
        rels = by_cat[cat]
        for i in rng.permutation(len(rels))[:CLIPART_PER_CATEGORY]:
            rel = rels[i]
            try:
                with Image.open(os.path.join(base, rel)) as im:
                    if im.size[0] * im.size[1] > CLIPART_MAX_PIXELS:
                        continue  # a few posters are > 100 Mpixel: slow to decode, skipped
                    im = im.convert("RGBA")
                    im.thumbnail((CLIPART_THUMB, CLIPART_THUMB), Image.LANCZOS)
            except Exception:
                continue
            a = np.asarray(im)
            if a.shape[0] < 4 or a.shape[1] < 4 or a[..., 3].mean() < 8:
                continue
            out[clipart_split(rel)].append(a)
    log(f"clip art: {len(files)} files, {len(out['train'])} train + {len(out['val'])} validation thumbnails "
        f"({time.time() - t0:.0f}s)")
    return out


# --------------------------------------------------------------------------------------------- rendering
def photo_crop(rng, photo: np.ndarray, out: int = SIZE) -> Image.Image:
    h, w = photo.shape[:2]
    short = min(h, w)
    lo = max(24, short / 16)
    side = int(round(math.exp(rng.uniform(math.log(lo), math.log(short)))))
    side = max(8, min(side, short))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    a = photo[y:y + side, x:x + side]
    if rng.random() < 0.5:
        a = a[:, ::-1]
    a = a.astype(np.float32)
    gain, bias = rng.uniform(0.85, 1.15), rng.uniform(-12, 12)
    a = np.clip((a - 128) * gain + 128 + bias, 0, 255).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(a)).resize((out, out), Image.BILINEAR)


def _color(rng):
    return tuple(int(c) for c in rng.integers(0, 256, 3))


def procedural(rng, n: int = SIZE) -> Image.Image:
    kind = int(rng.integers(0, 6))
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) / n
    if kind == 0:  # linear gradient
        t = math.cos(rng.uniform(0, 2 * math.pi)) * xx + math.sin(rng.uniform(0, 2 * math.pi)) * yy
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        c0, c1 = np.array(_color(rng), np.float32), np.array(_color(rng), np.float32)
        a = c0 + t[..., None] * (c1 - c0)
    elif kind == 1:  # radial gradient
        cx, cy = rng.uniform(0, 1, 2)
        t = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) * rng.uniform(0.8, 2.5)
        t = np.clip(t, 0, 1)
        c0, c1 = np.array(_color(rng), np.float32), np.array(_color(rng), np.float32)
        a = c0 + t[..., None] * (c1 - c0)
    elif kind == 2:  # sinusoid plasma through a 3-colour palette
        t = np.zeros((n, n), np.float32)
        for _ in range(3):
            f = rng.uniform(1, 6)
            th = rng.uniform(0, 2 * math.pi)
            t += np.sin(2 * math.pi * f * (math.cos(th) * xx + math.sin(th) * yy) + rng.uniform(0, 2 * math.pi))
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
        pal = np.array([_color(rng) for _ in range(3)], np.float32)
        a = np.where(t[..., None] < 0.5, pal[0] + 2 * t[..., None] * (pal[1] - pal[0]),
                     pal[1] + (2 * t[..., None] - 1) * (pal[2] - pal[1]))
    elif kind == 3:  # smooth colour noise
        g = int(rng.integers(2, 9))
        small = Image.fromarray(rng.integers(0, 256, (g, g, 3)).astype(np.uint8))
        return small.resize((n, n), Image.BICUBIC)
    elif kind == 4:  # stripes or checker at an angle
        f = rng.uniform(1.5, 8)
        th = rng.uniform(0, math.pi)
        u = math.cos(th) * xx + math.sin(th) * yy
        v = -math.sin(th) * xx + math.cos(th) * yy
        m = (np.floor(u * f) % 2) if rng.random() < 0.6 else ((np.floor(u * f) + np.floor(v * f)) % 2)
        c0, c1 = np.array(_color(rng), np.float32), np.array(_color(rng), np.float32)
        a = c0 + m[..., None] * (c1 - c0)
        big = Image.fromarray(a.astype(np.uint8)).resize((4 * n, 4 * n), Image.NEAREST)
        return big.resize((n, n), Image.BILINEAR)
    else:  # flat or gradient background with a few shapes, drawn at 4x and reduced (antialiased)
        s = 4 * n
        im = Image.new("RGB", (s, s), _color(rng))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 5))):
            x0, y0 = rng.integers(-s // 4, s, 2)
            w, h = rng.integers(s // 8, s, 2)
            box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
            shape = int(rng.integers(0, 3))
            if shape == 0:
                d.ellipse(box, fill=_color(rng))
            elif shape == 1:
                d.rectangle(box, fill=_color(rng))
            else:
                d.polygon([tuple(int(v) for v in rng.integers(-s // 4, s + s // 4, 2)) for _ in range(3)], fill=_color(rng))
        return im.resize((n, n), Image.BILINEAR)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def clipart_image(rng, art: list, photos: list, n: int = SIZE) -> Image.Image:
    r = rng.random()
    if photos and r < 0.6:
        bg = photo_crop(rng, photos[int(rng.integers(0, len(photos)))], n)
    elif r < 0.8:
        bg = Image.new("RGB", (n, n), _color(rng) if rng.random() < 0.5 else (255, 255, 255))
    else:
        bg = procedural(rng, n)
    a = art[int(rng.integers(0, len(art)))]
    im = Image.fromarray(a)
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    scale = rng.uniform(0.55, 1.25) * n / max(im.size)
    im = im.resize((max(1, int(round(im.size[0] * scale))), max(1, int(round(im.size[1] * scale)))), Image.BILINEAR)
    x = int(rng.integers(min(0, n - im.size[0]), max(0, n - im.size[0]) + 1))
    y = int(rng.integers(min(0, n - im.size[1]), max(0, n - im.size[1]) + 1))
    bg = bg.convert("RGBA")
    bg.alpha_composite(im, (max(0, x), max(0, y)), (max(0, -x), max(0, -y)))
    return bg.convert("RGB")


# ---------------------------------------------------------------------------------------------- workers
_STATE: dict = {}


def render(split: str, index: int, seed: int, mix) -> tuple:
    s = _STATE[split]
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, index])
    kinds = [k for k, share in zip(range(3), mix) if share > 0 and (k != 0 or s["photos"]) and (k != 1 or s["art"])]
    p = np.array([mix[k] for k in kinds], np.float64)
    kind = int(rng.choice(kinds, p=p / p.sum()))
    if kind == 0:
        img = photo_crop(rng, s["photos"][int(rng.integers(0, len(s["photos"])))])
    elif kind == 1:
        img = clipart_image(rng, s["art"], s["photos"])
    else:
        img = procedural(rng)
    return kind, cj.canonical_stream(img, SIZE)


def _work(job):
    split, start, stop, seed, mix = job
    return [render(split, i, seed, mix) for i in range(start, stop)]


def build(split: str, n: int, seed: int, mix, workers: int, log=print) -> dict:
    jobs = [(split, i, min(n, i + 500), seed, mix) for i in range(0, n, 500)]
    t0 = time.time()
    results = []
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for r in pool.imap(_work, jobs):
                results += r
                if len(results) % 5000 == 0:
                    log(f"{split}: {len(results)}/{n} ({time.time() - t0:.0f}s)")
    else:
        for j in jobs:
            results += _work(j)
    kinds = np.array([k for k, _ in results], np.uint8)
    lens = np.array([len(b) for _, b in results], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    data = np.frombuffer(b"".join(b for _, b in results), np.uint8)
    log(f"{split}: {n} streams, {lens.sum():,} bytes, mean {lens.mean():.0f}, max {lens.max()} ({time.time() - t0:.0f}s)")
    return {"data": data, "offsets": offsets, "kinds": kinds}


def load_split(path: str):
    """(list of stream bytes, kinds array) of a {train,val}.npz written here."""
    z = np.load(path)
    data, off = z["data"], z["offsets"]
    return [data[off[i]:off[i + 1]].tobytes() for i in range(len(off) - 1)], z["kinds"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "build", "jpeg"))
    ap.add_argument("--debs", default=None, help="where to download/unpack the Debian packages (default <out>/debs)")
    ap.add_argument("--train", type=int, default=40000)
    ap.add_argument("--val", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--mix", default="0.4,0.4,0.2", help="shares of photo crops, clip art, procedural")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--procedural-only", action="store_true", help="no Debian packages: procedural images only")
    a = ap.parse_args(argv)
    mix = [float(x) for x in a.mix.split(",")]
    if a.procedural_only:
        mix = [0.0, 0.0, 1.0]
    os.makedirs(a.out, exist_ok=True)
    debs = a.debs or os.path.join(a.out, "debs")
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    sources = []
    if a.procedural_only:
        _STATE["train"] = {"photos": [], "art": []}
        _STATE["val"] = {"photos": [], "art": []}
    else:
        roots = ensure_packages(debs, log)
        pt = load_photos(roots["python3-skimage"], PHOTOS_TRAIN)
        pv = load_photos(roots["python3-skimage"], PHOTOS_VAL)
        art = load_clipart(roots["openclipart-png"], a.seed, log)
        _STATE["train"] = {"photos": list(pt.values()), "art": art["train"]}
        _STATE["val"] = {"photos": list(pv.values()), "art": art["val"]}
        sk = package_version(debs, "python3-skimage")
        sources += [{"name": f"skimage/data/{n}", "package": f"python3-skimage {sk}", "licence": lic,
                     "split": "train" if n in PHOTOS_TRAIN else "val"} for n, lic in {**PHOTOS_TRAIN, **PHOTOS_VAL}.items()]
        sources.append({"name": f"openclipart-png ({len(art['train'])} train + {len(art['val'])} validation thumbnails)",
                        "package": f"openclipart-png {package_version(debs, 'openclipart-png')}",
                        "licence": "public domain (Creative Commons PD dedication, debian/copyright)", "split": "both (by file)"})
    sources.append({"name": "procedural (tools/jpeg/data.py)", "package": "-", "licence": "generated", "split": "both (by seed)"})
    man = {"size": SIZE, "seed": a.seed, "mix": dict(zip(KINDS, mix)), "sources": sources,
           "canonical": {"quality": cj.QUALITY, "subsampling": "4:2:0", "restart": "jpegtran -restart 1B",
                         "stream": "image-only", "tables_sha256": cj.TABLES_FILE_SHA256},
           "command": "/usr/bin/python3 " + " ".join(shlex.quote(x) for x in ["tools/jpeg/data.py"] + (argv if argv is not None else sys.argv[1:])),
           "splits": {}}
    for split, n in (("val", a.val), ("train", a.train)):
        d = build(split, n, a.seed, mix, a.workers, log)
        np.savez(os.path.join(a.out, f"{split}.npz"), **d)
        lens = np.diff(d["offsets"])
        man["splits"][split] = {"streams": int(n), "bytes": int(lens.sum()), "mean_bytes": round(float(lens.mean()), 1),
                                "max_bytes": int(lens.max()), "min_bytes": int(lens.min()),
                                "by_kind": {KINDS[k]: int((d["kinds"] == k).sum()) for k in range(3)}}
    with open(os.path.join(a.out, "MANIFEST.json"), "w", encoding="utf-8") as f:
        json.dump(man, f, indent=1)
    log(f"wrote {a.out}/{{train,val}}.npz and MANIFEST.json")


if __name__ == "__main__":
    main()

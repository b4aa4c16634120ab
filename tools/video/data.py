#!/usr/bin/env python3
"""Training data of the bundled AVC-LM pack (models/concert-avc-32; issue #15, thesis ch. 6): tiny synthetic clips
from ffmpeg's lavfi sources (and Ken Burns pans over CC0 / public-domain stills), each encoded by the ONE canonicaliser
(tools/video/canonical_h264.py + x264_flags.json: the thesis' x264 flags, 32×32, 3 fps, 12 frames, one slice per
macroblock, x264's SEI removed).

    /usr/bin/python3 tools/video/data.py                              # data/build/video/{train,val}.npz + MANIFEST.json
    /usr/bin/python3 tools/video/data.py --train 400 --val 60 --out /tmp/v   # smaller
    /usr/bin/python3 tools/video/data.py --no-stills ...              # no Debian package needed (tests)

Families (tools/video/SOURCES.md): `box-h`, `box-v`, `box-orbit`, `box-bounce`, `box-diag` (1–3 plain/bordered
rectangles moving horizontally, vertically, on circles/ellipses, back and forth, diagonally, over a flat colour or a
slowly rotating gradient), `testsrc2`, `mandelbrot` (zooms), `gradients`, `life` (16×16 upscaled ×2, nearest),
`sierpinski`, `cellauto`, `kenburns` (zoompan over scikit-image's CC0 / public-domain photos).
Validation = held-out *families*: the motion family `box-diag` and the source type `cellauto` never occur in training;
the other families appear in validation with a separate seed stream (and `kenburns` on the held-out photos `chelsea`
and `gravel` only). Per-clip RNG = numpy default_rng([seed, split, index]): the output does not depend on the number
of workers.

Streams longer than --max-bytes (1022: the context of 1024 positions less bos and eos) are drawn again with new
parameters of the same family; MANIFEST.json counts these redraws per family (the length distribution is thus cut at
1022 bytes; the uncut distribution is in tools/video/README.md).

Output: <out>/{train,val}.npz with `data` (uint8, the streams concatenated), `offsets` (int64, n+1), `families`
(uint8, index into FAMILIES) and `motion` (float32 [n, 2]: the box's displacement in pixels per frame for box-h,
box-v and box-diag clips with a single box on a flat background, else NaN); <out>/MANIFEST.json (counts, byte-length distribution, families, seed, command).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import shlex
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import canonical_h264 as ch  # noqa: E402

FAMILIES = ("box-h", "box-v", "box-orbit", "box-bounce", "box-diag", "testsrc2", "mandelbrot", "gradients", "life",
            "sierpinski", "cellauto", "kenburns")
HELD_OUT = ("box-diag", "cellauto")  # never in training
# training shares (the held-out families have share 0 there); validation: an equal number of clips per family
TRAIN_MIX = {"box-h": 0.15, "box-v": 0.15, "box-orbit": 0.12, "box-bounce": 0.12, "testsrc2": 0.08, "mandelbrot": 0.08,
             "gradients": 0.07, "life": 0.06, "sierpinski": 0.05, "kenburns": 0.12}
SKIMAGE_DATA = "usr/lib/python3/dist-packages/skimage/data"
STILLS_TRAIN = {"astronaut.png": "public domain (NASA)", "coffee.png": "CC0 (Rachel Michetti)",
                "rocket.jpg": "public domain (SpaceX)", "hubble_deep_field.jpg": "public domain (NASA)",
                "camera.png": "CC0 (Lav Varshney)", "brick.png": "CC0 (CC0Textures)", "grass.png": "CC0 (DeviantArt linolafett)",
                "retina.jpg": "CC0 1.0 (Mikael Häggström)", "cell.png": "CC0 (David Root)"}
STILLS_VAL = {"chelsea.png": "CC0 (Stefan van der Walt)", "gravel.png": "CC0 (CC0Textures)"}
S = ch.WIDTH  # 32
DUR = ch.FRAMES / ch.FPS  # 4 s
R = ch.FPS


def _col(rng) -> str:
    return "0x%02X%02X%02X" % tuple(int(c) for c in rng.integers(0, 256, 3))


def _bg(rng) -> str:
    """A background source at 32x32, 3 fps: a flat colour (70%) or a slowly rotating 2-colour gradient."""
    if rng.random() < 0.7:
        return f"color=c={_col(rng)}:s={S}x{S}:d={DUR:g}:r={R}"
    return f"gradients=s={S}x{S}:r={R}:d={DUR:g}:c0={_col(rng)}:c1={_col(rng)}:speed={rng.uniform(0.005, 0.05):.4f}:seed={int(rng.integers(0, 2**31))}"


def box_clip(rng, family: str) -> tuple:
    """A lavfi graph with 1-3 moving boxes (plain or bordered rectangles, each a `color` source overlaid with time
    expressions; in RGB so that odd pixel positions are kept — ffmpeg 5.1's drawbox evaluates its x/y only once, and
    a yuv420p overlay snaps them to even pixels). Returns (graph, (dx, dy) px/frame of the box when the clip has a
    single box on a flat background and moves linearly (box-h, box-v, box-diag), else NaN)."""
    nb = int(rng.choice([1, 1, 1, 2, 2, 3]))
    bg = _bg(rng)
    parts = [bg + ",format=rgb24[bg]"]
    motion = (math.nan, math.nan)
    prev = "bg"
    for b in range(nb):
        w, h = (int(v) for v in rng.integers(5, 15, 2))
        sprite = f"color=c={_col(rng)}:s={w}x{h}:r={R}"
        if rng.random() < 0.3:
            sprite += f",drawbox=x=0:y=0:w={w}:h={h}:c={_col(rng)}:t={int(rng.integers(1, 3))}"
        parts.append(sprite + f",format=rgb24[s{b}]")
        x0, y0 = (float(v) for v in rng.uniform(0, S - 6, 2))
        sp = float(rng.uniform(1.0, 5.0)) * R  # pixels per second (1-5 px per frame)
        sgn = 1 if rng.random() < 0.5 else -1
        span_x, span_y = S + w, S + h
        if family == "box-h":
            x = f"mod({x0:.1f}+{sgn * sp:.2f}*t+{span_x * 10},{span_x})-{w}"
            y = f"{y0:.1f}"
            mv = (sgn * sp / R, 0.0)
        elif family == "box-v":
            x = f"{x0:.1f}"
            y = f"mod({y0:.1f}+{sgn * sp:.2f}*t+{span_y * 10},{span_y})-{h}"
            mv = (0.0, sgn * sp / R)
        elif family == "box-diag":
            th = rng.choice([1, 3, 5, 7]) * math.pi / 4 + rng.uniform(-0.3, 0.3)
            vx, vy = sp * math.cos(th), sp * math.sin(th)
            x = f"mod({x0:.1f}+{vx:.2f}*t+{span_x * 10},{span_x})-{w}"
            y = f"mod({y0:.1f}+{vy:.2f}*t+{span_y * 10},{span_y})-{h}"
            mv = (vx / R, vy / R)
        elif family == "box-orbit":
            cx, cy = (float(v) for v in rng.uniform(8, 24, 2) - np.array([w, h]) / 2)
            rx, ry = (float(v) for v in rng.uniform(3, 12, 2))
            om = sgn * rng.uniform(0.5, 2.0)  # rad/s
            ph = rng.uniform(0, 2 * math.pi)
            x = f"{cx:.1f}+{rx:.1f}*cos({om:.3f}*t+{ph:.3f})"
            y = f"{cy:.1f}+{ry:.1f}*sin({om:.3f}*t+{ph:.3f})"
            mv = (math.nan, math.nan)
        elif family == "box-bounce":  # triangle wave along one axis between 0 and S-w (S-h)
            per_x, per_y = 2 * (S - w) / sp, 2 * (S - h) / sp
            ph = rng.uniform(0, 1)
            if rng.random() < 0.5:
                x, y = f"{S - w}*abs(mod(t/{per_x:.3f}+{ph:.3f},1)*2-1)", f"{y0:.1f}"
            else:
                x, y = f"{x0:.1f}", f"{S - h}*abs(mod(t/{per_y:.3f}+{ph:.3f},1)*2-1)"
            mv = (math.nan, math.nan)
        else:
            raise ValueError(family)
        if nb == 1 and bg.startswith("color="):
            motion = mv  # only scored (tools/video/eval.py) for one box on a flat background
        out = f"[o{b}]" if b + 1 < nb else ""
        parts.append(f"[{prev}][s{b}]overlay=x='{x}':y='{y}':shortest=1:format=rgb{out}")
        prev = f"o{b}"
    return ";".join(parts), motion


def clip_args(rng, family: str, stills: list) -> tuple:
    """(ffmpeg input args, pre-filter or None, motion) of one clip of a family."""
    nan2 = (math.nan, math.nan)
    if family.startswith("box-"):
        g, mv = box_clip(rng, family)
        return ["-f", "lavfi", "-i", g], None, mv
    if family == "testsrc2":
        n = int(rng.choice([32, 40, 48]))
        pre = f"hue=h={rng.uniform(0, 360):.0f}" if rng.random() < 0.5 else None
        return ["-ss", f"{rng.uniform(0, 20):.2f}", "-f", "lavfi", "-i", f"testsrc2=s={n}x{n}:r={R}:d={DUR + 25:g}"], pre, nan2
    if family == "mandelbrot":
        pts = [(-0.743643887, 0.131825904), (-0.7453, 0.1127), (-0.16, 1.0405), (-1.25066, 0.02012), (0.2925, 0.015),
               (-0.7, 0.0), (-1.768778833, -0.001738996)]
        x, y = pts[int(rng.integers(0, len(pts)))]
        s0 = 3.0 * 10 ** rng.uniform(-3, 0)
        es = s0 * 10 ** rng.uniform(-2, 0.5)
        n = int(rng.choice([32, 64]))
        return ["-f", "lavfi", "-i", f"mandelbrot=s={n}x{n}:r={R}:start_x={x}:start_y={y}:start_scale={s0:.6g}:"
                f"end_scale={es:.6g}:end_pts={rng.uniform(4, 30):.1f}:maxiter={int(rng.choice([32, 64, 128]))}"], None, nan2
    if family == "gradients":
        k = int(rng.integers(2, 5))
        cols = ":".join(f"c{i}={_col(rng)}" for i in range(k))
        return ["-f", "lavfi", "-i", f"gradients=s={S}x{S}:r={R}:d={DUR:g}:{cols}:nb_colors={k}:"
                f"speed={rng.uniform(0.01, 0.3):.3f}:type={int(rng.integers(0, 4))}:seed={int(rng.integers(0, 2**31))}"], None, nan2
    if family == "life":
        a, d = _col(rng), _col(rng)
        rule = ["B3/S23", "B36/S23", "B3/S12345", "B368/S245"][int(rng.integers(0, 4))]
        return ["-f", "lavfi", "-i", f"life=s=8x8:r={R}:rule={rule}:ratio={rng.uniform(0.1, 0.4):.2f}:life_color={a}:"
                f"death_color={d}:mold={int(rng.random() < 0.3) * int(rng.integers(5, 50))}:mold_color={_col(rng)}:"
                f"seed={int(rng.integers(0, 2**31))}"], "scale=32:32:flags=neighbor", nan2
    if family == "sierpinski":
        return ["-f", "lavfi", "-i", f"sierpinski=s={S}x{S}:r={R}:seed={int(rng.integers(0, 2**31))}:"
                f"jump={int(rng.integers(1, 4))}:type={['carpet', 'triangle'][int(rng.integers(0, 2))]}"], \
            f"colorchannelmixer=rr={rng.uniform(0.2, 1):.2f}:gg={rng.uniform(0.2, 1):.2f}:bb={rng.uniform(0.2, 1):.2f}", nan2
    if family == "cellauto":
        return ["-f", "lavfi", "-i", f"cellauto=s={S}x{S}:r={R}:rule={int(rng.choice([18, 30, 45, 54, 60, 73, 90, 105, 110, 150]))}:"
                f"ratio={rng.uniform(0.1, 0.7):.2f}:seed={int(rng.integers(0, 2**31))}:scroll=1"], \
            f"colorchannelmixer=rr={rng.uniform(0.2, 1):.2f}:gg={rng.uniform(0.2, 1):.2f}:bb={rng.uniform(0.2, 1):.2f}", nan2
    if family == "kenburns":
        if not stills:
            raise ValueError("kenburns needs stills")
        path = stills[int(rng.integers(0, len(stills)))]
        z0, z1 = (rng.uniform(1.0, 4.0) for _ in range(2))
        fx, fy, tx, ty = (rng.uniform(0, 1) for _ in range(4))
        N = ch.FRAMES
        z = f"{z0:.3f}+({z1 - z0:.3f})*on/{N}"
        xe = f"({fx:.3f}+({tx - fx:.3f})*on/{N})*(iw-iw/zoom)"
        ye = f"({fy:.3f}+({ty - fy:.3f})*on/{N})*(ih-ih/zoom)"
        pre = f"zoompan=z='{z}':x='{xe}':y='{ye}':d=1:s=64x64:fps={R}"
        if rng.random() < 0.5:
            pre = "hflip," + pre
        return ["-loop", "1", "-framerate", str(R), "-t", f"{DUR:g}", "-i", path], pre, nan2
    raise ValueError(family)


# ---------------------------------------------------------------------------------------------- workers
_STATE: dict = {}


def render(split: str, index: int, seed: int, max_bytes: int) -> tuple:
    """(family index, stream, motion, rejected): clips longer than max_bytes (the model's context less bos and eos)
    or without exactly FRAMES frames are drawn again with new parameters (counted in `rejected`)."""
    st = _STATE[split]
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, index])
    fams, p = st["families"], st["p"]
    fam = fams[int(rng.choice(len(fams), p=p))] if split == "train" else fams[index % len(fams)]
    for attempt in range(MAX_TRIES):
        args, pre, mv = clip_args(rng, fam, st["stills"])
        try:
            s = ch.encode(args, pre)
        except RuntimeError:
            continue
        if ch.count_frames_syntax(s) == ch.FRAMES and len(s) <= max_bytes:
            return FAMILIES.index(fam), s, mv, attempt
    raise RuntimeError(f"{fam}: no clip of {ch.FRAMES} frames and <= {max_bytes} bytes after {MAX_TRIES} tries ({args} {pre})")


MAX_TRIES = 40


def _work(job):
    split, start, stop, seed, max_bytes = job
    return [render(split, i, seed, max_bytes) for i in range(start, stop)]


def build(split: str, n: int, seed: int, workers: int, max_bytes: int, log=print) -> dict:
    chunk = 100
    jobs = [(split, i, min(n, i + chunk), seed, max_bytes) for i in range(0, n, chunk)]
    t0 = time.time()
    results = []
    if workers > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            for r in pool.imap(_work, jobs):
                results += r
                if len(results) % 1000 == 0:
                    log(f"{split}: {len(results)}/{n} ({time.time() - t0:.0f}s)")
    else:
        for j in jobs:
            results += _work(j)
    fams = np.array([f for f, _, _, _ in results], np.uint8)
    lens = np.array([len(b) for _, b, _, _ in results], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    data = np.frombuffer(b"".join(b for _, b, _, _ in results), np.uint8)
    motion = np.array([m for _, _, m, _ in results], np.float32).reshape(-1, 2)
    rejected = np.array([r for _, _, _, r in results], np.int64)
    log(f"{split}: {n} clips, {lens.sum():,} bytes, mean {lens.mean():.0f}, max {lens.max()}, "
        f"{rejected.sum()} redrawn ({time.time() - t0:.0f}s)")
    return {"data": data, "offsets": offsets, "families": fams, "motion": motion, "rejected": rejected}


def load_split(path: str):
    """(list of stream bytes, families array, motion array) of a {train,val}.npz written here."""
    z = np.load(path)
    data, off = z["data"], z["offsets"]
    return [data[off[i]:off[i + 1]].tobytes() for i in range(len(off) - 1)], z["families"], z["motion"]


def length_stats(lens) -> dict:
    lens = np.asarray(lens)
    q = np.percentile(lens, [1, 5, 25, 50, 75, 95, 99])
    return {"clips": int(len(lens)), "bytes": int(lens.sum()), "mean": round(float(lens.mean()), 1), "min": int(lens.min()),
            "max": int(lens.max()), **{f"p{p}": int(v) for p, v in zip((1, 5, 25, 50, 75, 95, 99), q)}}


def find_stills(debs_dir: str) -> str | None:
    """Root holding skimage/data: / when python3-skimage is installed, else an unpacked .deb (tools/jpeg/data.py's
    <out>/debs/root, or apt-get download + dpkg -x into debs_dir)."""
    for root in ("/", os.path.join(debs_dir, "root"), os.path.join(ROOT, "data", "build", "jpeg", "debs", "root")):
        if os.path.exists(os.path.join(root, SKIMAGE_DATA, "chelsea.png")):
            return root
    import subprocess
    import glob

    os.makedirs(debs_dir, exist_ok=True)
    if not glob.glob(os.path.join(debs_dir, "python3-skimage_*.deb")):
        subprocess.run(["apt-get", "download", "python3-skimage"], cwd=debs_dir, check=True, capture_output=True)
    deb = sorted(glob.glob(os.path.join(debs_dir, "python3-skimage_*.deb")))[-1]
    subprocess.run(["dpkg", "-x", deb, os.path.join(debs_dir, "root")], check=True)
    return os.path.join(debs_dir, "root")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "build", "video"))
    ap.add_argument("--debs", default=None, help="where to download/unpack python3-skimage (default <out>/debs)")
    ap.add_argument("--train", type=int, default=12000)
    ap.add_argument("--val", type=int, default=480)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-bytes", type=int, default=1022, help="longest stream kept (context 1024 = bos + stream + eos)")
    ap.add_argument("--no-stills", action="store_true", help="no kenburns family (no Debian package needed)")
    ap.add_argument("--reuse-val", action="store_true",
                    help="keep an existing <out>/val.npz (same seed and options: it is deterministic) instead of rebuilding it")
    a = ap.parse_args(argv)
    ch.ffmpeg_path()  # fails early with the apt command
    os.makedirs(a.out, exist_ok=True)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    mix = dict(TRAIN_MIX)
    stills = {"train": [], "val": []}
    sources = []
    if a.no_stills:
        mix.pop("kenburns")
    else:
        root = find_stills(a.debs or os.path.join(a.out, "debs"))
        for split, names in (("train", STILLS_TRAIN), ("val", STILLS_VAL)):
            stills[split] = [os.path.join(root, SKIMAGE_DATA, n) for n in names]
            sources += [{"name": f"skimage/data/{n}", "package": "python3-skimage (Debian)", "licence": lic, "split": split}
                        for n, lic in names.items()]
    sources.append({"name": "ffmpeg lavfi sources (color + overlay, drawbox borders, gradients, testsrc2, mandelbrot, life, sierpinski, cellauto; zoompan over the stills)",
                    "package": "ffmpeg (Debian)", "licence": "generated", "split": "both (by seed; held-out families val only)"})
    tr = sorted(mix)
    p = np.array([mix[f] for f in tr], np.float64)
    _STATE["train"] = {"families": tr, "p": p / p.sum(), "stills": stills["train"]}
    vf = [f for f in FAMILIES if f in mix or f in HELD_OUT]
    _STATE["val"] = {"families": vf, "p": None, "stills": stills["val"]}
    man = {"seed": a.seed, "max_bytes": a.max_bytes, "flags": os.path.relpath(ch.FLAGS_FILE, ROOT), "width": ch.WIDTH, "height": ch.HEIGHT, "fps": ch.FPS,
           "frames": ch.FRAMES, "families": list(FAMILIES), "held_out": list(HELD_OUT),
           "train_mix": {f: round(float(x), 4) for f, x in zip(tr, p / p.sum())}, "val_families": vf, "sources": sources,
           "command": "/usr/bin/python3 " + " ".join(shlex.quote(x) for x in ["tools/video/data.py"] + (argv if argv is not None else sys.argv[1:])),
           "splits": {}}
    old = {}
    if a.reuse_val and os.path.exists(os.path.join(a.out, "MANIFEST.json")):
        with open(os.path.join(a.out, "MANIFEST.json"), encoding="utf-8") as f:
            old = json.load(f).get("splits", {})
    for split, n in (("val", a.val), ("train", a.train)):
        path = os.path.join(a.out, f"{split}.npz")
        if split == "val" and a.reuse_val and os.path.exists(path) and "val" in old and old["val"]["clips"] == n:
            man["splits"]["val"] = old["val"]
            log(f"kept {path}")
            continue
        d = build(split, n, a.seed, a.workers, a.max_bytes, log)
        rej = d.pop("rejected")
        np.savez(path, **d)
        lens = np.diff(d["offsets"])
        man["splits"][split] = {**length_stats(lens),
                                "by_family": {FAMILIES[k]: {"clips": int((d["families"] == k).sum()),
                                                            "mean_bytes": round(float(lens[d["families"] == k].mean()), 1),
                                                            "max_bytes": int(lens[d["families"] == k].max()),
                                                            "redrawn": int(rej[d["families"] == k].sum())}
                                              for k in range(len(FAMILIES)) if (d["families"] == k).any()}}
        log(f"{split} lengths: {man['splits'][split]}")
        if split == "val":  # written now, so that --reuse-val finds it after an interrupted train build
            with open(os.path.join(a.out, "MANIFEST.json"), "w", encoding="utf-8") as f:
                json.dump(man, f, indent=1)
    with open(os.path.join(a.out, "MANIFEST.json"), "w", encoding="utf-8") as f:
        json.dump(man, f, indent=1)
    log(f"wrote {a.out}/{{train,val}}.npz and MANIFEST.json")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Motion consistency of video continuations as users get them (#15): through Concert's own CLI
(`concert video continue`, the grammar-constrained decoding of the runtime and its defaults) on the exported pack,
where tools/video/eval.py samples the PyTorch checkpoint *unconstrained*.

For the first --clips scored validation clips of each moving-box family (box-h, box-v, and the held-out box-diag;
single box on a flat background, linear motion, data.py's true motion), the clip is written to a temporary folder,
continued with `--prompt-frames 4 --frames 4 --samples S --seed <clip index>` (plus any CLI options given after
`--`), each sample is decoded with ffmpeg (canonical_h264.decode) and scored with eval.py's measure: a sample
*agrees* when its box's median frame-to-frame displacement over the generated frames points within 90° of the
prompt's true motion (chance 50%; static or undecodable continuations do not agree).

    npm run build && /usr/bin/python3 tools/video/eval_cli.py --out data/build/eval/avc-cli-motion.json
    /usr/bin/python3 tools/video/eval_cli.py --out … -- --temperature 0.6     # CLI options after --
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from common.modules import sibling_loader  # noqa: E402

sibling = sibling_loader(HERE, "concert_video_")
ev = sibling("eval")
ch, _data = ev.ch, ev._data


def continue_clip(stream: bytes, work: str, name: str, samples: int, seed: int, cli_args: list) -> dict:
    """Runs `concert video continue` on one clip; its --json result."""
    clip = os.path.join(work, f"{name}.h264")
    with open(clip, "wb") as f:
        f.write(stream)
    cmd = [
        "node", os.path.join(ROOT, "bin", "concert.js"), "video", "continue", clip, "--out", os.path.join(work, name),
        "--prompt-frames", "4", "--frames", "4", "--samples", str(samples), "--seed", str(seed), "--json", *cli_args,
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr[-2000:]}")
    return json.loads(r.stdout)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "video"))
    ap.add_argument("--clips", type=int, default=6, help="scored clips per moving-box family")
    ap.add_argument("--samples", type=int, default=4, help="samples per clip")
    ap.add_argument("--out", default=None, help="JSON to write")
    ap.add_argument("cli_args", nargs="*", help="options for `concert video continue` (after --)")
    a = ap.parse_args(argv)
    streams, fams, motion = _data.load_split(os.path.join(a.data, "val.npz"))
    n, m = 4, 4
    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory(prefix="concert-motion-") as work:
        for fam in ev.MOTION_FAMILIES:
            k = _data.FAMILIES.index(fam)
            idx = [i for i in range(len(streams)) if fams[i] == k and np.isfinite(motion[i]).all()][: a.clips]
            for i in idx:
                real, _ = ch.decode(streams[i])
                bg = ev.background(real[0])
                ref = tuple(float(v) for v in motion[i])
                res = continue_clip(streams[i], work, f"{fam}-{i}", a.samples, int(i), a.cli_args)
                for f in res["files"]:
                    with open(f["path"], "rb") as fh:
                        frames, _ok = ch.decode(fh.read())
                    decodable = len(frames) == n + m
                    got = ev.direction(ev.centroids(frames[n - 1:n + m], bg)) if decodable else None
                    rows.append({
                        "family": fam, "clip": int(i), "decodable": decodable, "agree": ev.agrees(ref, got),
                        "static": decodable and (got is None or float(np.hypot(*got)) < 0.5),
                        "stopped_by": f.get("stoppedBy"), "closing_bytes": f.get("closingBytes", 0),
                    })
            xs = [r for r in rows if r["family"] == fam]
            print(f"{fam}: {len(xs)} samples, agree {ev.rate([r['agree'] for r in xs])} ({time.time() - t0:.0f}s)", flush=True)

    def summary(xs):
        return {"samples": len(xs), "decodable_rate": ev.rate([r["decodable"] for r in xs]),
                **ev.motion_summary([r for r in xs if r["agree"] is not None]),
                "budget_stops": sum(r["stopped_by"] == "max-tokens" for r in xs)}

    out = {"cli_args": a.cli_args, "clips_per_family": a.clips, "samples_per_clip": a.samples,
           "prompt_frames": n, "gen_frames": m, "seconds": round(time.time() - t0, 1),
           "held_out_box_diag": summary([r for r in rows if r["family"] == "box-diag"]),
           "seen_box_h_v": summary([r for r in rows if r["family"] in ("box-h", "box-v")])}
    print(json.dumps(out, indent=2))
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump({**out, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

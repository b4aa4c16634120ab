#!/usr/bin/env python3
"""Evaluate the AVC-LM on the validation clips of tools/video/data.py (held-out families `box-diag` and `cellauto`,
the other families from a separate seed stream) for the model card:

- bits per byte, overall and per family (teacher forcing; tools/video/train.py's figures);
- continuations: a clip's SPS/PPS + first --prompt-frames frames as the prompt (cut at access-unit boundaries: a
  frame starts at a slice NAL with first_mb_in_slice == 0), then --gen-frames more frames sampled *unconstrained*
  (temperature, top-k; no grammar constraint) — sampling stops at eos, when the context is full, or when the slice
  starting frame prompt+gen+1 appears (cut there). A sample is *decodable* when ffmpeg decodes it to exactly
  prompt+gen frames, *clean* when, in addition, ffmpeg reports no error;
- motion consistency on the linearly moving single-box clips on a flat background (families box-h, box-v and the
  held-out box-diag; data.py records their true motion): the object mask is the pixels far from the background
  colour (the first frame's most common colour); the median frame-to-frame displacement of its centroid over the
  generated frames (from the last prompt frame on) is the sample's direction. A sample *agrees* when it moves
  (>= 0.5 px/frame) and the angle to the prompt's true direction is under 90° (chance for a random direction: 50%;
  a static or undecodable continuation does not agree). The same measure on the real continuation is the metric's
  ceiling (wrap-around at the frame edge makes it < 100%);
- a frame strip PNG (each row: the prompt frames | the generated frames; magenta = a frame that did not decode).

    /usr/bin/python3 tools/video/eval.py --ckpt data/build/export/concert-avc-32/q4.pt \
        --out data/build/export/concert-avc-32/eval.json --strip data/build/export/concert-avc-32/samples.png
    /usr/bin/python3 tools/video/eval.py --ckpt data/build/ckpt/avc-32/final.pt --out …/eval_fp32.json --no-samples
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from causal_lm import load_model  # noqa: E402
from common.modules import sibling_loader  # noqa: E402


# A module of tools/video by file path, under a unique name (tools/jpeg and tools/diffusion have modules of the same
# names).
sibling = sibling_loader(HERE, "concert_video_")


ch, _data, _train = sibling("canonical_h264"), sibling("data"), sibling("train")
FAMILIES, HELD_OUT = _data.FAMILIES, _data.HELD_OUT
BOS, EOS, OFFSET, encode = _train.BOS, _train.EOS, _train.OFFSET, _train.encode
MOTION_FAMILIES = ("box-h", "box-v", "box-diag")


# ---------------------------------------------------------------------------------------------- sampling
def is_frame_start_tail(buf: bytearray) -> bool:
    """Whether buf ends with a start code + a slice NAL header (type 1 or 5) + a first slice-header byte whose top bit
    is 1 (first_mb_in_slice == 0 is ue(v) '1'; emulation prevention cannot occur right after the NAL header byte)."""
    return len(buf) >= 5 and buf[-5] == 0 and buf[-4] == 0 and buf[-3] == 1 and (buf[-2] & 0x1F) in (1, 5) \
        and buf[-2] & 0x80 == 0 and bool(buf[-1] & 0x80)


@torch.no_grad()
def continue_frames(model, prompt: bytes, n: int, frames_total: int, gen: torch.Generator, temperature=1.0, top_k=50) -> list:
    """n unconstrained continuations of a stream prefix; each stops at eos, at the context's end, or at the start of
    frame frames_total + 1 (cut before its start code). Returns [(stream bytes, stop reason)]."""
    model.eval()
    maxpos = model.cfg.max_positions
    ids = torch.tensor([[BOS] + [b + OFFSET for b in prompt]] * n)
    past = model.empty_past(n)
    bufs = [bytearray(prompt) for _ in range(n)]
    frames = [ch.count_frames_syntax(prompt)] * n
    done = [None] * n
    t0 = 0
    while t0 + ids.shape[1] <= maxpos:
        t = ids.shape[1]
        mask = torch.ones(n, t0 + t, dtype=torch.long)
        pos = torch.arange(t0, t0 + t).unsqueeze(0).expand(n, t)
        logits, past = model(ids, mask, pos, past)
        t0 += t
        lg = logits[:, -1].float() / max(temperature, 1e-6)
        if top_k and top_k < lg.shape[-1]:
            kth = torch.topk(lg, top_k, dim=-1).values[:, -1:]
            lg = lg.masked_fill(lg < kth, float("-inf"))
        nxt = torch.multinomial(torch.softmax(lg, -1), 1, generator=gen)
        for i in range(n):
            if done[i]:
                continue
            tok = int(nxt[i])
            if tok == EOS:
                done[i] = "eos"
            elif tok < OFFSET:
                done[i] = "special"
            else:
                bufs[i].append(tok - OFFSET)
                if is_frame_start_tail(bufs[i]):
                    frames[i] += 1
                    if frames[i] > frames_total:
                        cut = len(bufs[i]) - 5
                        if cut > 0 and bufs[i][cut - 1] == 0:
                            cut -= 1  # 4-byte start code
                        del bufs[i][cut:]
                        done[i] = "frames"
        if all(done):
            break
        ids = nxt
    return [(bytes(b), d or "context") for b, d in zip(bufs, done)]


# ------------------------------------------------------------------------------------------------ motion
def background(frame: np.ndarray) -> np.ndarray:
    """The most common colour of a frame (the flat background of a single-box clip)."""
    cols, counts = np.unique(frame.reshape(-1, 3), axis=0, return_counts=True)
    return cols[counts.argmax()]


def centroids(frames: np.ndarray, bg: np.ndarray, thresh: float = 60.0) -> list:
    """Centroid (x, y) of the pixels far from the background colour, per frame (None when < 3 such pixels)."""
    out = []
    for f in frames:
        m = np.abs(f.astype(np.int32) - bg.astype(np.int32)[None, None]).sum(-1) > thresh
        if m.sum() < 3:
            out.append(None)
        else:
            ys, xs = np.nonzero(m)
            out.append((float(xs.mean()), float(ys.mean())))
    return out


def direction(cs: list):
    """Median frame-to-frame displacement (dx, dy) of a centroid track (None where too few steps)."""
    d = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(cs, cs[1:]) if a is not None and b is not None]
    if not d:
        return None
    return tuple(float(v) for v in np.median(np.array(d), axis=0))


def agrees(ref, got, min_px: float = 0.5):
    """True/False: got moves in ref's half-plane; None when ref itself does not move (clip not scored)."""
    if ref is None or np.hypot(*ref) < min_px:
        return None
    if got is None or np.hypot(*got) < min_px:
        return False
    return bool(ref[0] * got[0] + ref[1] * got[1] > 0)


# ------------------------------------------------------------------------------------------------- strip
def strip(rows: list, n_prompt: int, cell: int = 32, pad: int = 2, gap: int = 6) -> Image.Image:
    """rows: lists of frames (uint8 HxWx3 or None); a wider gap after the n_prompt-th column."""
    cols = max(len(r) for r in rows)
    W = cols * (cell + pad) + pad + gap
    g = Image.new("RGB", (W, len(rows) * (cell + pad) + pad), (255, 255, 255))
    for y, r in enumerate(rows):
        for x, f in enumerate(r):
            im = Image.new("RGB", (cell, cell), (255, 0, 255)) if f is None else Image.fromarray(f)
            g.paste(im, (pad + x * (cell + pad) + (gap if x >= n_prompt else 0), pad + y * (cell + pad)))
    return g


def rate(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(sum(xs) / len(xs), 4) if xs else None


def motion_summary(scored: list) -> dict:
    """Motion consistency of scored samples (dicts with agree, static, decodable), as the model card reports it."""
    return {"scored_samples": len(scored), "agree_rate": rate([x["agree"] for x in scored]),
            "static_rate": rate([x["static"] for x in scored]),
            "agree_rate_among_moving": rate([x["agree"] for x in scored if x["decodable"] and not x["static"]]),
            "chance": 0.5}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "video"))
    ap.add_argument("--out", required=True, help="eval.json to write")
    ap.add_argument("--strip", default=None, help="frame strip PNG to write")
    ap.add_argument("--prompt-frames", type=int, default=4)
    ap.add_argument("--gen-frames", type=int, default=4)
    ap.add_argument("--clips-per-family", type=int, default=3, help="continued clips of each family")
    ap.add_argument("--motion-clips", type=int, default=10, help="continued clips of each moving-box family (box-h, box-v, box-diag)")
    ap.add_argument("--per-clip", type=int, default=4, help="samples per clip")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-samples", action="store_true", help="validation figures only")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t_start = time.time()
    model, ck = load_model(a.ckpt)
    model.eval()
    streams, fams, motion = _data.load_split(os.path.join(a.data, "val.npz"))
    seqs = [encode(s) for s in streams]
    cpu = torch.device("cpu")
    res = {"checkpoint": os.path.relpath(os.path.abspath(a.ckpt), ROOT), "val_clips": len(streams), "held_out": list(HELD_OUT)}
    stats = _train.clip_nll(model, seqs, cpu)  # one pass; every figure below aggregates these per-clip sums
    summarize = _train.summarize
    held = np.array([FAMILIES[f] in HELD_OUT for f in fams])
    res["validation"] = summarize(stats)
    res["validation_by_family"] = {FAMILIES[k]: summarize(stats[fams == k]) for k in range(len(FAMILIES)) if (fams == k).any()}
    res["validation_held_out"] = summarize(stats[held]) if held.any() else None
    res["validation_seen_families"] = summarize(stats[~held]) if (~held).any() else None
    print(f"validation: {res['validation']}; held-out families {res['validation_held_out']}", flush=True)
    if not a.no_samples:
        n, m = a.prompt_frames, a.gen_frames
        gen = torch.Generator().manual_seed(a.seed)
        res["sampling"] = {"temperature": a.temperature, "top_k": a.top_k, "top_p": 1.0, "seed": a.seed, "constrained": False,
                           "prompt_frames": n, "gen_frames": m, "per_clip": a.per_clip}
        samples, strip_rows = [], []
        strip_pick = {"box-diag": 2, "box-h": 1, "cellauto": 1, "kenburns": 1}
        for k, fam in enumerate(FAMILIES):
            idx = [i for i in range(len(streams)) if fams[i] == k]
            if not idx:
                continue
            if fam in MOTION_FAMILIES:  # the scored clips (single box, flat background) first
                idx = sorted(idx, key=lambda i: not np.isfinite(motion[i]).all())
            idx = idx[:a.motion_clips if fam in MOTION_FAMILIES else a.clips_per_family]
            for ci, i in enumerate(idx):
                s = streams[i]
                prompt = ch.prompt_frames(s, n)
                real, _ = ch.decode(s)
                scored = fam in MOTION_FAMILIES and bool(np.isfinite(motion[i]).all())
                bg = background(real[0])
                ref_dir = tuple(float(v) for v in motion[i]) if scored else None
                real_dir = direction(centroids(real[n - 1:n + m], bg)) if scored else None
                outs = continue_frames(model, prompt, a.per_clip, n + m, gen, a.temperature, a.top_k)
                for si, (g, why) in enumerate(outs):
                    frames, ok = ch.decode(g)
                    r = {"family": fam, "clip": int(i), "bytes": len(g), "generated_bytes": len(g) - len(prompt), "stop": why,
                         "frames": int(len(frames)), "decodable": len(frames) == n + m, "clean": len(frames) == n + m and ok,
                         "held_out": fam in HELD_OUT}
                    if scored:
                        got = direction(centroids(frames[n - 1:n + m], bg)) if r["decodable"] else None
                        r["agree"] = agrees(ref_dir, got)
                        r["real_agree"] = agrees(ref_dir, real_dir)
                        r["static"] = r["decodable"] and (got is None or np.hypot(*got) < 0.5)
                    samples.append(r)
                    if si == 0 and strip_pick.get(fam, 0) > ci:
                        row = [f for f in frames[:n + m]] + [None] * max(0, n + m - len(frames))
                        strip_rows.append(([f for f in real[:n]] + row[n:n + m]) if len(frames) >= n else [f for f in real[:n]] + [None] * m)
            done = [x for x in samples if x["family"] == fam]
            print(f"{fam}: {len(done)} samples, decodable {rate([x['decodable'] for x in done])}, "
                  f"agree {rate([x.get('agree') for x in done]) if fam in MOTION_FAMILIES else '-'} ({time.time() - t_start:.0f}s)", flush=True)

        def summary(xs):
            return {"samples": len(xs), "decodable_rate": rate([x["decodable"] for x in xs]),
                    "clean_rate": rate([x["clean"] for x in xs]),
                    "mean_generated_bytes": round(float(np.mean([x["generated_bytes"] for x in xs])), 1) if xs else None,
                    "stops": {w: sum(x["stop"] == w for x in xs) for w in ("frames", "eos", "context", "special")}}
        res["continuation"] = {**summary(samples),
                               "held_out": summary([x for x in samples if x["held_out"]]),
                               "seen_families": summary([x for x in samples if not x["held_out"]]),
                               "by_family": {f: summary([x for x in samples if x["family"] == f]) for f in FAMILIES
                                             if any(x["family"] == f for x in samples)}}
        mot = {}
        for name, fs in (("held_out_box_diag", ("box-diag",)), ("seen_box_h_v", ("box-h", "box-v"))):
            xs = [x for x in samples if x["family"] in fs and x.get("agree") is not None]
            mot[name] = {**motion_summary(xs), "real_continuation_agree_rate": rate([x["real_agree"] for x in xs])}
        res["motion_consistency"] = mot
        print(f"continuation: {json.dumps(res['continuation'])}\nmotion: {json.dumps(mot)}", flush=True)
        if a.strip and strip_rows:
            strip(strip_rows, n).save(a.strip, optimize=True)
            res["strip"] = {"path": os.path.relpath(os.path.abspath(a.strip), ROOT), "rows": len(strip_rows),
                            "layout": f"each row: a held-out validation clip's first {n} frames (the prompt) | {m} frames the model "
                                      "generated after them (first sample, unconstrained); magenta = did not decode. Rows: "
                                      + ", ".join(f"{f} ×{c}" for f, c in strip_pick.items())}
    res["seconds"] = round(time.time() - t_start, 1)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {a.out} ({res['seconds']}s)")


if __name__ == "__main__":
    main()

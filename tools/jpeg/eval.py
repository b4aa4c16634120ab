#!/usr/bin/env python3
"""Evaluate the JPEG-LM on held-out images (validation split of tools/jpeg/data.py: whole held-out sources) for the
model card: bits per byte, completions at ratio 0.5, unconditional samples, the unconstrained decodable rate, and a
sample grid PNG.

    /usr/bin/python3 tools/jpeg/eval.py --ckpt data/build/ckpt/jpeg-32/final.pt \
        --out data/build/export/concert-jpeg-32/eval.json --grid data/build/export/concert-jpeg-32/samples.png

Prompt cutting is the codec layer's rule (src/codec/jpeg/prompt.ts), reimplemented identically: a patch is 8 MCUs
when a row of MCUs is a multiple of 8 long, else one row of MCUs (32x32: 2 patches of 2 MCUs); ratio r keeps
n = floor(P*r + 1e-9) patches; the prompt ends right after the restart marker closing the n-th patch (the header alone
for n = 0, the whole stream for n = P). Sampling is plain (no grammar constraint): temperature, top-k (run.py's
defaults: 1.0 and 50), until eos or the 512-position context is full. A sample is *decodable* when Pillow opens and
fully loads the restored file (tables blob re-inserted after SOI); *clean* when, in addition, djpeg decodes it
without a warning (exit status 0) — libjpeg treats corrupt entropy data as a warning, so clean is the stricter figure.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools", "codec"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import canonical_jpeg as cj  # noqa: E402
from causal_lm import load_model  # noqa: E402
from common.modules import sibling_loader  # noqa: E402


# A module of tools/jpeg by file path, under a unique name (tools/diffusion has modules of the same names).
sibling = sibling_loader(HERE, "concert_jpeg_")


_data, _train = sibling("data"), sibling("train")
KINDS, load_split = _data.KINDS, _data.load_split
BOS, EOS, OFFSET, encode, evaluate = _train.BOS, _train.EOS, _train.OFFSET, _train.encode, _train.evaluate

HEADER = 59


# --------------------------------------------------------------------------------------------- prompt cut
def geometry(stream: bytes) -> tuple:
    info = cj.describe(stream)
    return info["width"], info["height"]


def patch_layout(width: int, height: int) -> tuple:
    per_row, rows = -(-width // 16), -(-height // 16)
    patch_mcus = 8 if per_row % 8 == 0 else per_row
    count = per_row * rows
    return patch_mcus, count // patch_mcus, count


def restart_offsets(stream: bytes, start: int = HEADER) -> list:
    out, i = [], start
    while i + 1 < len(stream):
        if stream[i] == 0xFF:
            m = stream[i + 1]
            if 0xD0 <= m <= 0xD7:
                out.append(i)
            elif m != 0x00:
                break
            i += 2
        else:
            i += 1
    return out


def prompt_for_ratio(stream: bytes, ratio: float) -> tuple:
    """(prompt bytes, MCUs kept) for ratio r, as src/codec/jpeg/prompt.ts promptForRatio."""
    w, h = geometry(stream)
    patch_mcus, patches, count = patch_layout(w, h)
    n = min(patches, math.floor(patches * ratio + 1e-9))
    mcus = n * patch_mcus
    if mcus == 0:
        return stream[:HEADER], 0
    if mcus == count:
        return stream, mcus
    r = restart_offsets(stream)[mcus - 1]
    assert stream[r + 1] == 0xD0 + (mcus - 1) % 8
    return stream[:r + 2], mcus


# ---------------------------------------------------------------------------------------------- sampling
@torch.no_grad()
def sample(model, prompt_ids: list, n: int, gen: torch.Generator, temperature=1.0, top_k=50, max_positions=None) -> list:
    """n samples continuing prompt_ids (batched, KV cache). Returns token lists (generated part, eos excluded)."""
    model.eval()
    max_positions = max_positions or model.cfg.max_positions
    ids = torch.tensor([prompt_ids] * n)
    past = model.empty_past(n)
    t0 = 0
    out = [[] for _ in range(n)]
    done = [False] * n
    while t0 + ids.shape[1] <= max_positions:
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
            if not done[i]:
                tok = int(nxt[i])
                if tok == EOS:
                    done[i] = True
                else:
                    out[i].append(tok)
        if all(done):
            break
        ids = nxt
    return out


def to_stream(prompt: bytes, tokens: list) -> tuple:
    """(stream bytes, ok tokens): generated specials other than eos make the sample invalid."""
    ok = all(OFFSET <= t for t in tokens)
    return prompt + bytes(t - OFFSET for t in tokens if t >= OFFSET), ok


def check(stream: bytes, ok_tokens: bool, blob: bytes, djpeg: str | None) -> dict:
    r = {"bytes": len(stream), "ends_with_eoi": stream[-2:] == b"\xff\xd9", "decodable": False, "clean": False}
    if not ok_tokens or stream[:2] != b"\xff\xd8":
        return r
    full = cj.restore_tables(stream, blob)
    try:
        im = Image.open(io.BytesIO(full))
        im.load()
        r["decodable"] = im.size == (32, 32)
        r["image"] = im.convert("RGB")
    except Exception as e:  # noqa: BLE001 - any failure is "not decodable"
        r["error"] = str(e)[:80]
        return r
    if djpeg:
        p = subprocess.run([djpeg, "-outfile", os.devnull], input=full, capture_output=True)
        r["clean"] = p.returncode == 0 and r["decodable"]
    return r


def decode_or_none(stream: bytes, blob: bytes):
    try:
        im = Image.open(io.BytesIO(cj.restore_tables(stream, blob)))
        im.load()
        return im.convert("RGB")
    except Exception:  # noqa: BLE001
        return None


def grid(rows: list, cell: int = 32, pad: int = 2, scale: int = 2) -> Image.Image:
    w = max(len(r) for r in rows)
    g = Image.new("RGB", (w * (cell + pad) + pad, len(rows) * (cell + pad) + pad), (255, 255, 255))
    for y, r in enumerate(rows):
        for x, im in enumerate(r):
            if im is None:
                im = Image.new("RGB", (cell, cell), (255, 0, 255))  # not decodable
            g.paste(im, (pad + x * (cell + pad), pad + y * (cell + pad)))
    return g.resize((g.width * scale, g.height * scale), Image.NEAREST)


def rate(rs: list, key: str) -> float:
    return round(sum(r[key] for r in rs) / max(1, len(rs)), 4)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "jpeg"))
    ap.add_argument("--out", required=True, help="eval.json to write")
    ap.add_argument("--grid", default=None, help="sample grid PNG to write")
    ap.add_argument("--images", type=int, default=48, help="held-out images completed (balanced over kinds)")
    ap.add_argument("--per-image", type=int, default=4)
    ap.add_argument("--unconditional", type=int, default=64)
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    t_start = time.time()
    model, ck = load_model(a.ckpt)
    model.eval()
    blob = cj.tables_blob()
    djpeg = shutil.which("djpeg")
    streams, kinds = load_split(os.path.join(a.data, "val.npz"))
    seqs = [encode(s) for s in streams]
    res = {"checkpoint": os.path.relpath(os.path.abspath(a.ckpt), ROOT), "val_streams": len(streams),
           "sampling": {"temperature": a.temperature, "top_k": a.top_k, "top_p": 1.0, "seed": a.seed, "constrained": False},
           "ratio": a.ratio}
    res["validation"] = evaluate(model, seqs, torch.device("cpu"))
    res["validation_by_kind"] = {KINDS[k]: evaluate(model, [s for s, kk in zip(seqs, kinds) if kk == k], torch.device("cpu"))
                                 for k in range(len(KINDS)) if (kinds == k).any()}
    print(f"validation: {res['validation']}", flush=True)

    gen = torch.Generator().manual_seed(a.seed)
    per_kind = max(1, a.images // max(1, len(set(kinds.tolist()))))
    picked = []
    for k in sorted(set(kinds.tolist())):
        picked += [i for i in range(len(streams)) if kinds[i] == k][:per_kind]
    comp, grid_rows = [], []
    for j, i in enumerate(picked):
        prompt, mcus = prompt_for_ratio(streams[i], a.ratio)
        outs = sample(model, [BOS] + [b + OFFSET for b in prompt], a.per_image, gen, a.temperature, a.top_k)
        checks = []
        for toks in outs:
            s, ok = to_stream(prompt, toks)
            c = check(s, ok, blob, djpeg)
            c["kind"] = KINDS[int(kinds[i])]
            checks.append(c)
        comp += checks
        if len(grid_rows) < 9 and j % max(1, len(picked) // 9) == 0:
            kept = decode_or_none(prompt + b"\xff\xd9", blob)
            if kept is not None:  # the kept region only: rows past the kept MCU rows shown flat grey
                w, _ = geometry(streams[i])
                top = mcus // -(-w // 16) * 16
                kept.paste((128, 128, 128), (0, top, kept.width, kept.height))
            grid_rows.append([decode_or_none(streams[i], blob), kept]
                             + [c.get("image") for c in checks])
    res["completion"] = {"images": len(picked), "samples": len(comp), "kept_mcus": mcus,
                         "decodable_rate": rate(comp, "decodable"), "clean_rate": rate(comp, "clean"),
                         "ends_with_eoi_rate": rate(comp, "ends_with_eoi"),
                         "mean_bytes": round(float(np.mean([c["bytes"] for c in comp])), 1),
                         "by_kind": {k: {"samples": sum(c["kind"] == k for c in comp),
                                         "decodable_rate": rate([c for c in comp if c["kind"] == k], "decodable")}
                                     for k in KINDS if any(c["kind"] == k for c in comp)}}
    print(f"completion: {res['completion']}", flush=True)

    unc = []
    left = a.unconditional
    while left > 0:
        n = min(32, left)
        for toks in sample(model, [BOS], n, gen, a.temperature, a.top_k):
            s = bytes(t - OFFSET for t in toks if t >= OFFSET)
            c = check(s, all(t >= OFFSET for t in toks), blob, djpeg)
            c["header_exact"] = s[:HEADER] == streams[0][:HEADER]
            unc.append(c)
        left -= n
    res["unconditional"] = {"samples": len(unc), "decodable_rate": rate(unc, "decodable"), "clean_rate": rate(unc, "clean"),
                            "ends_with_eoi_rate": rate(unc, "ends_with_eoi"),
                            "header_exact_rate": rate(unc, "header_exact"),
                            "mean_bytes": round(float(np.mean([c["bytes"] for c in unc])), 1)}
    print(f"unconditional: {res['unconditional']}", flush=True)
    res["real_mean_bytes"] = round(float(np.mean([len(s) for s in streams])), 1)
    res["seconds"] = round(time.time() - t_start, 1)
    if a.grid:
        rows = grid_rows + [[c.get("image") for c in unc[r * 8:(r + 1) * 8]] for r in range(min(2, len(unc) // 8))]
        grid(rows).save(a.grid, optimize=True)
        res["grid"] = {"path": os.path.relpath(os.path.abspath(a.grid), ROOT), "rows": len(rows),
                       "layout": "rows 1-%d: held-out original, kept region (ratio %.2f, the rest grey), %d completions; "
                                 "last rows: unconditional samples; magenta = not decodable" % (len(grid_rows), a.ratio, a.per_image)}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {a.out} ({res['seconds']}s)")


if __name__ == "__main__":
    main()

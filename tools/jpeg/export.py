#!/usr/bin/env python3
"""Export the JPEG-LM checkpoint to ONNX in the optimum decoder layout with KV cache (exactly as concert-lm-small:
tools/models/export_causal_lm.py, opset 14, one graph for past length 0 and > 0), and check parity against PyTorch
in onnxruntime-node (tools/jpeg/ort_run.mjs; the runtime the extension uses).

    /usr/bin/python3 tools/jpeg/export.py --ckpt data/build/ckpt/jpeg-32/final.pt \
        --out data/build/export/concert-jpeg-32/model.onnx [--golden DIR]

Parity cases (real canonical streams from the validation split when --data is given, else random bytes):
  nopast   batch 2, 48 tokens each, empty past          logits and every present.* compared
  step     one token per row, past = ORT's presents of "nopast"      logits compared
  padded   batch 2, row 0 left-padded by 5, empty past               logits of the real positions compared
Writes <out dir>/parity.json ({case: max-abs difference}); fails above --tolerance (1e-4). --golden also writes
golden fixtures (decoder.json) in the layout of test/fixtures/golden/<pack>/ for the TypeScript parity tests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from causal_lm import load_model, positions_from_mask  # noqa: E402
from common.modules import sibling_loader  # noqa: E402
from export_causal_lm import export_onnx, write_golden  # noqa: E402

PAD = 2


# A module of tools/jpeg by file path, under a unique name (tools/diffusion has modules of the same names).
sibling = sibling_loader(HERE, "concert_jpeg_")


def ort_available() -> bool:
    return shutil.which("node") is not None and os.path.isdir(os.path.join(ROOT, "node_modules", "onnxruntime-node"))


def ort_runs(onnx_path: str, runs: list) -> list:
    with tempfile.TemporaryDirectory() as d:
        fi, fo = os.path.join(d, "feeds.json"), os.path.join(d, "out.json")
        with open(fi, "w") as f:
            json.dump(runs, f)
        r = subprocess.run(["node", os.path.join(HERE, "ort_run.mjs"), onnx_path, fi, fo], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed: {r.stderr[-2000:]}")
        with open(fo) as f:
            out = json.load(f)
    return [{k: np.asarray(v["data"], np.float32).reshape(v["dims"]) for k, v in o.items()} for o in out]


def _t(a: np.ndarray, dtype: str) -> dict:
    return {"dtype": dtype, "dims": list(a.shape), "data": a.reshape(-1).tolist()}


def parity(model, onnx_path: str, rows: list) -> dict:
    """Max-abs differences ORT vs PyTorch for the cases above; rows = two int sequences of >= 48 token ids."""
    model = model.cpu().eval()
    c = model.cfg
    L, H, hd = c.n_layers, c.n_heads, c.head_dim
    T = 48
    ids = np.array([r[:T] for r in rows[:2]], np.int64)
    mask = np.ones((2, T), np.int64)
    pos = np.tile(np.arange(T), (2, 1))
    empty = np.zeros((2, H, 0, hd), np.float32)
    nopast = {"input_ids": _t(ids, "int64"), "attention_mask": _t(mask, "int64"), "position_ids": _t(pos, "int64")}
    for i in range(L):
        nopast[f"past_key_values.{i}.key"] = _t(empty, "float32")
        nopast[f"past_key_values.{i}.value"] = _t(empty, "float32")
    nxt = np.array([[r[T]] for r in rows[:2]], np.int64)
    step = {"input_ids": _t(nxt, "int64"), "attention_mask": _t(np.ones((2, T + 1), np.int64), "int64"),
            "position_ids": _t(np.full((2, 1), T, np.int64), "int64")}
    for i in range(L):
        step[f"past_key_values.{i}.key"] = {"from": f"present.{i}.key"}
        step[f"past_key_values.{i}.value"] = {"from": f"present.{i}.value"}
    pid = ids.copy()
    pmask = np.ones((2, T), np.int64)
    pid[0, 5:] = ids[0, :T - 5]
    pid[0, :5] = PAD
    pmask[0, :5] = 0
    ppos = positions_from_mask(torch.from_numpy(pmask), T).numpy()
    padded = {"input_ids": _t(pid, "int64"), "attention_mask": _t(pmask, "int64"), "position_ids": _t(ppos, "int64")}
    for i in range(L):
        padded[f"past_key_values.{i}.key"] = _t(empty, "float32")
        padded[f"past_key_values.{i}.value"] = _t(empty, "float32")
    got = ort_runs(onnx_path, [nopast, step, padded])

    with torch.no_grad():
        t = torch.from_numpy
        logits, presents = model(t(ids), t(mask), t(pos), model.empty_past(2))
        d_nopast = float(np.abs(got[0]["logits"] - logits.numpy()).max())
        for i, (k, v) in enumerate(presents):
            d_nopast = max(d_nopast, float(np.abs(got[0][f"present.{i}.key"] - k.numpy()).max()),
                           float(np.abs(got[0][f"present.{i}.value"] - v.numpy()).max()))
        l2, _ = model(t(nxt), torch.ones(2, T + 1, dtype=torch.long), torch.full((2, 1), T, dtype=torch.long), presents)
        full, _ = model(t(np.concatenate([ids, nxt], 1)))
        d_step = float(np.abs(got[1]["logits"] - l2.numpy()).max())
        d_cache_vs_full = float((l2[:, -1] - full[:, -1]).abs().max())
        lp, _ = model(t(pid), t(pmask), t(ppos), model.empty_past(2))
        d_padded = max(float(np.abs(got[2]["logits"][0, 5:] - lp.numpy()[0, 5:]).max()),
                       float(np.abs(got[2]["logits"][1] - lp.numpy()[1]).max()))
        d_pad_vs_unpadded = float((lp[0, 5:] - logits[0, :T - 5]).abs().max())
    return {"nopast": d_nopast, "step": d_step, "padded": d_padded,
            "torch_cache_vs_full": d_cache_vs_full, "torch_padded_vs_unpadded": d_pad_vs_unpadded}


def sample_rows(data_dir: str | None, vocab: int, seed: int = 5) -> list:
    if data_dir and os.path.exists(os.path.join(data_dir, "val.npz")):
        encode = sibling("train").encode
        streams, _ = sibling("data").load_split(os.path.join(data_dir, "val.npz"))
        rows = [encode(s) for s in streams if len(s) >= 60][:2]
        if len(rows) == 2:
            return [list(map(int, r)) for r in rows]
    rng = np.random.default_rng(seed)
    return [list(map(int, rng.integers(0, vocab, 64))) for _ in range(2)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True, help="ONNX file to write")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "jpeg"), help="folder with val.npz (parity inputs)")
    ap.add_argument("--golden", default=None, help="also write golden fixtures (decoder.json) here")
    ap.add_argument("--pack-id", default="concert-jpeg-32")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--skip-parity", action="store_true")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    model, _ = load_model(a.ckpt)
    export_onnx(model, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out):,} bytes)")
    result = {"skipped": True}
    if not a.skip_parity:
        if not ort_available():
            raise SystemExit("parity needs node and node_modules/onnxruntime-node (npm ci), or --skip-parity")
        result = parity(model, a.out, sample_rows(a.data, model.cfg.vocab_size))
        result["tolerance"] = a.tolerance
        print(f"parity (max-abs, ORT vs PyTorch): {result}")
        bad = [k for k in ("nopast", "step", "padded", "torch_cache_vs_full", "torch_padded_vs_unpadded") if result[k] > a.tolerance]
        if bad:
            raise SystemExit(f"parity failed for {bad}")
    with open(os.path.join(os.path.dirname(os.path.abspath(a.out)), "parity.json"), "w") as f:
        json.dump(result, f, indent=1)
    if a.golden:
        n = write_golden(model, a.golden, a.pack_id)
        print(f"wrote golden fixtures to {a.golden} ({n:,} bytes)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Export the AVC-LM checkpoint for the pack: the float32 graph in the optimum decoder layout with KV cache
(tools/models/export_causal_lm.py, as concert-jpeg-32), its parity against PyTorch in onnxruntime-node, then the
shipped graph: weight-only 4-bit MatMulNBits (tools/jpeg/quantize.py, reused) plus 8-bit embedding tables (below), its
parity against the PyTorch reference that computes with the very dequantised weights, golden fixtures of that
reference and the reference as a checkpoint for eval.py.

    /usr/bin/python3 tools/video/export.py --ckpt data/build/ckpt/avc-32/final.pt --work data/build/export/concert-avc-32 \
        [--golden DIR]

Writes <work>/model_fp32.onnx, <work>/model.onnx (the shipped graph), <work>/q4.pt and <work>/parity.json
({"fp32": {...}, case: max-abs, ...}). Parity cases are tools/jpeg/export.py's (no past / cached step / left-padded
batch) on two real validation clips (--data), tolerance 1e-4.

8-bit embeddings: the pack must stay under the VSIX budget (450 KB with card and strip), and the float32 position
table alone (1024 × 96) would be 393 KB. So the token table (wte, also the tied head) and the position table (wpe) are
stored as int8 with one float32 scale per row (symmetric: scale = max|row| / 127, q = round(w / scale)), and an ONNX
DequantizeLinear (opset 13+, axis 0) node whose output keeps the original initializer's name feeds the Gathers and
the head unchanged. The graph's inputs and outputs are unchanged (checked); node and intermediate value names are
shortened (compact_names: ~50 KB less).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from causal_lm import load_model  # noqa: E402
from common.modules import sibling_loader  # noqa: E402
from export_causal_lm import export_onnx, write_golden  # noqa: E402

EMBEDDINGS = ("wte.weight", "wpe.weight")
DESCRIPTION = ("q4 MatMulNBits block 32 (weight-only, asymmetric, fp32 scales) for attention/MLP; token and position "
               "embeddings (and the tied head) int8 per-row symmetric via DequantizeLinear")
CASES = ("nopast", "step", "padded", "torch_cache_vs_full", "torch_padded_vs_unpadded")


# tools/jpeg/<name>.py (export: parity / ORT runner; quantize: the q4 pass), shared, under their usual keys.
jpeg = sibling_loader(os.path.join(ROOT, "tools", "jpeg"), "concert_jpeg_")
sibling = sibling_loader(HERE, "concert_video_")


def int8_rows(w: np.ndarray) -> tuple:
    """(q int8, scale float32 [rows]) with w ≈ q · scale per row (symmetric)."""
    w = np.asarray(w, np.float32)
    scale = (np.abs(w).max(axis=1) / 127.0).astype(np.float32)
    scale[scale == 0] = np.float32(1.0)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def dequant_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """What DequantizeLinear computes: (q − 0) · scale, float32."""
    return (q.astype(np.float32) * scale[:, None]).astype(np.float32)


def int8_embeddings(onnx_path: str, out_path: str, names=EMBEDDINGS, prefix: str = "model.") -> dict:
    """Rewrites the embedding initializers of a graph as int8 + DequantizeLinear; returns {param: dequantised array}."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(onnx_path)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    deq, nodes = {}, []
    for n in names:
        full = prefix + n
        w = numpy_helper.to_array(inits[full])
        q, s = int8_rows(w)
        g.initializer.remove(inits[full])
        g.initializer.extend([numpy_helper.from_array(q, full + "_int8"), numpy_helper.from_array(s, full + "_scale"),
                              numpy_helper.from_array(np.zeros(len(s), np.int8), full + "_zero_point")])
        nodes.append(helper.make_node("DequantizeLinear", [full + "_int8", full + "_scale", full + "_zero_point"], [full],
                                      name=full + "_dequantize", axis=0))
        deq[n] = dequant_rows(q, s)
    for i, node in enumerate(nodes):
        g.node.insert(i, node)
    if any(i.name.startswith(prefix) for i in g.input):
        raise ValueError("initializers listed as graph inputs: not supported")
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    return deq


def compact_names(path: str) -> None:
    """Short node and intermediate value names (n<i>, v<i>), doc strings dropped: torch's "/model/blocks.0/attn/…"
    names are ~50 KB of a ~400 KB graph. Graph inputs, outputs and initializers keep their names."""
    import onnx

    m = onnx.load(path)
    g = m.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output} | {t.name for t in g.initializer} | {""}
    ren: dict = {}

    def name(v):
        if v in keep:
            return v
        if v not in ren:
            ren[v] = f"v{len(ren)}"
        return ren[v]

    for i, n in enumerate(g.node):
        n.name = f"n{i}"
        n.doc_string = ""
        n.input[:] = [name(v) for v in n.input]
        n.output[:] = [name(v) for v in n.output]
    del g.value_info[:]
    m.doc_string = ""
    onnx.checker.check_model(m)
    onnx.save(m, path)


def quantize(model, fp32_path: str, out_path: str):
    """The shipped graph (q4 MatMuls + int8 embeddings) and its PyTorch reference (a copy of `model` with every
    weight replaced by the dequantised one). Returns (reference, MatMulNBits block sizes)."""
    import onnx

    q = jpeg("quantize")
    tmp = out_path + ".q4.onnx"
    ref, blocks = q.quantize(model, fp32_path, tmp)
    deq = int8_embeddings(tmp, out_path)
    os.remove(tmp)
    compact_names(out_path)
    params = dict(ref.named_parameters())
    with torch.no_grad():
        for n, a in deq.items():
            params[n].copy_(torch.from_numpy(a))
    if q.io_signature(onnx.load(out_path)) != q.io_signature(onnx.load(fp32_path)):
        raise ValueError("quantisation changed the graph's inputs or outputs")
    return ref, blocks


def sample_rows(data_dir: str | None, vocab: int, seed: int = 5) -> list:
    """Two real validation clips as token ids (>= 49 tokens), else random ids."""
    if data_dir and os.path.exists(os.path.join(data_dir, "val.npz")):
        encode = sibling("train").encode
        streams = sibling("data").load_split(os.path.join(data_dir, "val.npz"))[0]
        rows = [encode(s) for s in streams if len(s) >= 60][:2]
        if len(rows) == 2:
            return [list(map(int, r)) for r in rows]
    rng = np.random.default_rng(seed)
    return [list(map(int, rng.integers(0, vocab, 64))) for _ in range(2)]


def check(diffs: dict, tol: float, what: str) -> None:
    bad = [k for k in CASES if diffs[k] > tol]
    if bad:
        raise SystemExit(f"{what} parity failed for {bad}: {diffs}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--work", required=True, help="folder for model_fp32.onnx, model.onnx, q4.pt, parity.json")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "video"), help="folder with val.npz (parity inputs)")
    ap.add_argument("--golden", default=None, help="also write golden fixtures (decoder.json) of the shipped model's reference")
    ap.add_argument("--pack-id", default="concert-avc-32")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--skip-parity", action="store_true")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    ex = jpeg("export")
    os.makedirs(a.work, exist_ok=True)
    model, ck = load_model(a.ckpt)
    model.eval()
    fp32, out = os.path.join(a.work, "model_fp32.onnx"), os.path.join(a.work, "model.onnx")
    export_onnx(model, fp32)
    ref, blocks = quantize(model, fp32, out)
    print(f"wrote {fp32} ({os.path.getsize(fp32):,} bytes) and {out} ({os.path.getsize(out):,} bytes; "
          f"{len(blocks)} MatMulNBits, block sizes {sorted(set(blocks.values()))}, int8 embeddings)")
    result = {"skipped": True}
    if not a.skip_parity:
        if not ex.ort_available():
            raise SystemExit("parity needs node and node_modules/onnxruntime-node (npm ci), or --skip-parity")
        rows = sample_rows(a.data, model.cfg.vocab_size)
        p32 = ex.parity(model, fp32, rows)
        p32["tolerance"] = a.tolerance
        check(p32, a.tolerance, "float32")
        result = ex.parity(ref, out, rows)
        result["tolerance"] = a.tolerance
        check(result, a.tolerance, "quantised")
        result["fp32"] = p32
        print(f"parity (max-abs, ORT vs PyTorch): float32 {p32}; shipped graph vs dequantised reference {result}")
    result["quantization"] = DESCRIPTION
    with open(os.path.join(a.work, "parity.json"), "w") as f:
        json.dump(result, f, indent=1)
    ck = dict(ck)
    ck["model"] = ref.state_dict()
    ck["quantization"] = DESCRIPTION
    torch.save(ck, os.path.join(a.work, "q4.pt"))
    if a.golden:
        n = write_golden(ref, a.golden, a.pack_id)
        print(f"wrote golden fixtures to {a.golden} ({n:,} bytes)")


if __name__ == "__main__":
    main()

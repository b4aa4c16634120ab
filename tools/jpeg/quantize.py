#!/usr/bin/env python3
"""Weight-only 4-bit quantisation of the exported JPEG-LM graph (com.microsoft MatMulNBits, bits 4, block size 32,
asymmetric with zero points), with parity against a PyTorch reference that computes with the very dequantised weights.

    /usr/bin/python3 tools/jpeg/quantize.py --ckpt data/build/ckpt/jpeg-32/final.pt \
        --onnx data/build/export/concert-jpeg-32/model_fp32.onnx --out data/build/export/concert-jpeg-32/model.onnx \
        [--golden DIR] [--ckpt-out data/build/export/concert-jpeg-32/q4.pt]

The packer is tools/hf/make_fixtures.py's (quantize_graph / q4_pack, written from the ONNX Runtime contrib-op spec),
imported, not copied: every MatMul whose B is a weight of an nn.Linear (attention qkv/proj, MLP fc1/fc2) becomes
MatMulNBits; W [N, K] is stored per block of 32 along K as 4-bit codes q with a float32 scale and a 4-bit zero point,
W ≈ (q − zero point) · scale. Weight-only: the activations stay float32, so the rows of a batch stay independent (no
DynamicQuantizeLinear). Left in float32: the embeddings (wte, wpe: Gathers) and the head, which is tied to wte (a
4-bit copy of wte would add bytes, the Gather needs the float32 table anyway), LayerNorms and biases. Inputs and
outputs (names, dtypes, dims) are those of the float32 graph (checked).

The reference is the checkpoint's model with every rewritten nn.Linear weight replaced by its dequantised weights
(q − zero point) · scale, exactly as stored (float32). Parity (tools/jpeg/export.py's cases, onnxruntime-node) is
written to <out dir>/parity.json (the float32 graph's figures, if that file held them, kept under "fp32");
--golden writes the golden fixtures (decoder.json) from that reference; --ckpt-out saves it as a checkpoint
(tools/jpeg/eval.py evaluates it: validation bits per byte, completions of the quantised model).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from causal_lm import load_model  # noqa: E402
from common.modules import load_module, sibling_loader  # noqa: E402

BITS = 4
BLOCK = 32
PREFIX = "model."  # export_causal_lm.FlatDecoder wraps the CausalLM as .model: initializers are model.<parameter>
DESCRIPTION = "q4 MatMulNBits block 32 (weight-only, asymmetric, fp32 scales; embeddings and tied head fp32)"


def packer():
    """tools/hf/make_fixtures.py, the MatMulNBits packer."""
    return load_module("concert_jpeg_hf_make_fixtures", os.path.join(ROOT, "tools", "hf", "make_fixtures.py"))


sibling = sibling_loader(HERE, "concert_jpeg_")


def linear_weights(model: nn.Module) -> set:
    """Initializer names of the nn.Linear weights (the MatMuls quantised)."""
    names = {id(p): n for n, p in model.named_parameters()}
    return {PREFIX + names[id(m.weight)] for m in model.modules() if isinstance(m, nn.Linear)}


def io_signature(m) -> list:
    def sig(v):
        t = v.type.tensor_type
        return (v.name, t.elem_type, [d.dim_param or d.dim_value for d in t.shape.dim])
    return [[sig(v) for v in m.graph.input], [sig(v) for v in m.graph.output]]


def quantize(model: nn.Module, onnx_in: str, onnx_out: str):
    """Writes the q4 graph; returns (the reference model with the dequantised weights, {param: block size})."""
    import onnx

    mf = packer()
    fp32 = onnx.load(onnx_in)
    wanted = linear_weights(model)
    blocks = {}

    def select(param):
        return param in wanted

    q4, refs = mf.quantize_graph(fp32, "q4", select=select)
    for n in q4.graph.node:
        if n.op_type == "MatMulNBits":
            a = {x.name: x.i for x in n.attribute}
            blocks[n.input[1][:-len("_Q4")]] = a["block_size"]
            assert a["bits"] == BITS
    if set(blocks.values()) != {BLOCK}:
        raise ValueError(f"block sizes {sorted(set(blocks.values()))}: every input dimension must be a multiple of {BLOCK}")
    if sorted(refs) != sorted(wanted):
        raise ValueError(f"quantised {sorted(refs)}, expected {sorted(wanted)}")
    if io_signature(q4) != io_signature(fp32):
        raise ValueError("quantisation changed the graph's inputs or outputs")
    onnx.save(q4, onnx_out)
    ref = reference(model, refs)
    return ref, blocks


def reference(model: nn.Module, refs: dict) -> nn.Module:
    """A copy of `model` whose nn.Linear weights are the dequantised q4 weights (q − zero point) · scale."""
    import copy

    ref = copy.deepcopy(model).cpu().eval()
    params = dict(ref.named_parameters())
    with torch.no_grad():
        for name, info in refs.items():
            p = params[name[len(PREFIX):]]
            deq = torch.from_numpy(info["deq"])
            assert deq.shape == p.shape, (name, deq.shape, p.shape)
            p.copy_(deq)
    return ref


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--onnx", required=True, help="the float32 graph (tools/jpeg/export.py)")
    ap.add_argument("--out", required=True, help="q4 ONNX file to write")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "jpeg"), help="folder with val.npz (parity inputs)")
    ap.add_argument("--golden", default=None, help="also write golden fixtures (decoder.json) of the q4 reference here")
    ap.add_argument("--ckpt-out", default=None, help="also save the q4 reference (dequantised weights) as a checkpoint")
    ap.add_argument("--pack-id", default="concert-jpeg-32")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    ap.add_argument("--skip-parity", action="store_true")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    if os.path.abspath(a.onnx) == os.path.abspath(a.out):
        raise SystemExit("--out must differ from --onnx")
    model, ck = load_model(a.ckpt)
    model.eval()
    ref, blocks = quantize(model, a.onnx, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out):,} bytes; float32 {os.path.getsize(a.onnx):,}); "
          f"{len(blocks)} MatMulNBits, block sizes {sorted(set(blocks.values()))}")
    ex = sibling("export")
    par_path = os.path.join(os.path.dirname(os.path.abspath(a.out)), "parity.json")
    fp32_par = None
    if os.path.exists(par_path):
        with open(par_path) as f:
            old = json.load(f)
        fp32_par = old.get("fp32") if "quantization" in old else old  # a rerun keeps the float32 figures
    result = {"skipped": True}
    if not a.skip_parity:
        if not ex.ort_available():
            raise SystemExit("parity needs node and node_modules/onnxruntime-node (npm ci), or --skip-parity")
        result = ex.parity(ref, a.out, ex.sample_rows(a.data, model.cfg.vocab_size))
        result["tolerance"] = a.tolerance
        print(f"parity q4 (max-abs, ORT vs PyTorch with dequantised weights): {result}")
        bad = [k for k in ("nopast", "step", "padded", "torch_cache_vs_full", "torch_padded_vs_unpadded") if result[k] > a.tolerance]
        if bad:
            raise SystemExit(f"parity failed for {bad}")
    result["quantization"] = DESCRIPTION
    if fp32_par is not None:
        result["fp32"] = fp32_par
    with open(par_path, "w") as f:
        json.dump(result, f, indent=1)
    if a.ckpt_out:
        ck = dict(ck)
        ck["model"] = ref.state_dict()
        ck["quantization"] = DESCRIPTION
        torch.save(ck, a.ckpt_out)
        print(f"wrote {a.ckpt_out}")
    if a.golden:
        from export_causal_lm import write_golden

        n = write_golden(ref, a.golden, a.pack_id)
        print(f"wrote golden fixtures to {a.golden} ({n:,} bytes)")


if __name__ == "__main__":
    main()

"""Helpers shared by the export scripts: ONNX signature reading and compact golden fixtures.

Golden fixtures hold everything the TypeScript parity tests need without torch: the inputs (small integer tensors in
full; large float tensors as a deterministic formula that TypeScript regenerates), and for every output its dims, a
fixed sample of (flat index, value) pairs, and per-row sums and argmaxes over the last axis.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}


def onnx_signature(path: str, load_external_data: bool = True) -> Dict[str, List[dict]]:
    """Graph inputs/outputs of an ONNX file as [{name, dtype, shape}] with symbolic dims as strings."""
    import onnx

    model = onnx.load(path, load_external_data=load_external_data)
    init = {i.name for i in model.graph.initializer}

    def spec(v):
        t = v.type.tensor_type
        shape = []
        for d in t.shape.dim:
            if d.HasField("dim_value"):
                shape.append(int(d.dim_value))
            elif d.HasField("dim_param"):
                shape.append(d.dim_param)
            else:
                raise ValueError(f"{v.name} has an unnamed dynamic dimension")
        return {"name": v.name, "dtype": ONNX_DTYPES[t.elem_type], "shape": shape}

    return {
        "inputs": [spec(v) for v in model.graph.input if v.name not in init],
        "outputs": [spec(v) for v in model.graph.output],
    }


def fix_dims(model, fixes) -> bool:
    """Sets the fixed dims that tracing left symbolic: fixes(name) -> {axis: value} for every graph input and output.
    Returns whether anything changed."""
    changed = False
    for v in list(model.graph.input) + list(model.graph.output):
        for axis, val in fixes(v.name).items():
            d = v.type.tensor_type.shape.dim[axis]
            if not d.HasField("dim_value") or d.dim_value != val:
                d.Clear()
                d.dim_value = val
                changed = True
    return changed


def export_arg_parser(doc: str, out_help: str, golden_help: str, pack_id: Optional[str] = None) -> argparse.ArgumentParser:
    """The export scripts' common options: --ckpt, --out, --golden and --pack-id (required when there is no default)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True, help=out_help)
    ap.add_argument("--golden", help=golden_help)
    if pack_id is None:
        ap.add_argument("--pack-id", required=True)
    else:
        ap.add_argument("--pack-id", default=pack_id)
    return ap


def formula_tensor(dims: List[int], seed: float, scale: float) -> np.ndarray:
    """Deterministic pseudo-random float32 tensor: scale * sin(0.7853981 * i * 1.618034 + seed), i the flat index.

    TypeScript regenerates it with Math.sin in float64 and rounds to float32 (the same as numpy here)."""
    n = int(np.prod(dims)) if dims else 1
    i = np.arange(n, dtype=np.float64)
    v = scale * np.sin(i * (0.7853981 * 1.618034) + seed)
    return v.astype(np.float32).reshape(dims)


def formula_spec(dims: List[int], seed: float, scale: float) -> dict:
    return {"dtype": "float32", "dims": list(dims), "formula": {"kind": "sin", "seed": seed, "scale": scale}}


def int_spec(arr: np.ndarray) -> dict:
    return {"dtype": "int64", "dims": list(arr.shape), "data": [int(x) for x in arr.reshape(-1)]}


def float_spec(arr) -> dict:
    """A small float32 input in full."""
    a = np.asarray(arr, dtype=np.float32)
    return {"dtype": "float32", "dims": list(a.shape), "data": [float(x) for x in a.reshape(-1)]}


def materialise(spec: dict) -> np.ndarray:
    """The array of an input spec (``data`` in full, or a ``formula``)."""
    if "data" in spec:
        dt = np.int64 if spec["dtype"] == "int64" else np.float32
        return np.asarray(spec["data"], dtype=dt).reshape(spec["dims"])
    f = spec["formula"]
    return formula_tensor(spec["dims"], f["seed"], f["scale"])


def f32(x: float) -> float:
    """A float32 value as the shortest decimal that round-trips (keeps the JSON small)."""
    return float(np.format_float_positional(np.float32(x), unique=True, trim="-")) if math.isfinite(x) else x


def output_summary(arr: np.ndarray, n_sample: int, rng: np.random.Generator, must_include: List[int] = ()) -> dict:
    arr = np.asarray(arr, dtype=np.float32)
    flat = arr.reshape(-1)
    n = flat.size
    k = min(n, n_sample)
    idx = set(rng.choice(n, size=k, replace=False).tolist()) if k < n else set(range(n))
    idx.update(int(i) for i in must_include)
    idx = sorted(idx)
    rows = arr.reshape(-1, arr.shape[-1]) if arr.ndim >= 1 and arr.shape[-1] > 0 else arr.reshape(-1, 1)
    return {
        "dims": list(arr.shape),
        "sample": {"index": idx, "value": [f32(float(flat[i])) for i in idx]},
        "rowSum": [f32(float(s)) for s in rows.astype(np.float64).sum(-1)],
        "rowArgmax": [int(a) for a in rows.argmax(-1)] if rows.shape[-1] > 1 else [],
        "torchSha256": hashlib.sha256(flat.astype("<f4").tobytes()).hexdigest(),
    }


def write_json(path: str, obj) -> int:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    text = json.dumps(obj, separators=(",", ":"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return len(text) + 1


def run_golden_cases(cases: Iterable[Tuple[str, dict, dict, Optional[str]]], run: Callable[[dict, dict], dict], n_layers: int,
                     rng: np.random.Generator, n_sample: int, n_sample_kv: int) -> List[dict]:
    """The fixture's cases of a graph with a KV cache. cases: (name, fields, input specs, past_from) in order; fields
    (e.g. {"graph": "context"}) follow the name in the case; past_from names an earlier case whose present.{i}.key/value
    outputs are fed as past_key_values.{i}.key/value. run(inputs, fields) gives the PyTorch outputs by name; "logits"
    are summarised with n_sample entries (each row's argmax included), the others with n_sample_kv."""
    results: Dict[str, dict] = {}
    docs = []
    for name, fields, specs, past_from in cases:
        inputs = {k: materialise(v) for k, v in specs.items()}
        if past_from:
            prev = results[past_from]
            for i in range(n_layers):
                for kv in ("key", "value"):
                    inputs[f"past_key_values.{i}.{kv}"] = prev[f"present.{i}.{kv}"]
        out = run(inputs, fields)
        results[name] = out
        outs = {}
        for k, v in out.items():
            if k == "logits":
                top = [int(r * v.shape[-1] + a) for r, a in enumerate(v.reshape(-1, v.shape[-1]).argmax(-1))]
                outs[k] = output_summary(v, n_sample, rng, top)
            else:
                outs[k] = output_summary(v, n_sample_kv, rng)
        case = {"name": name, **fields, "inputs": specs, "outputs": outs}
        if past_from:
            case["pastFrom"] = past_from
        docs.append(case)
    return docs

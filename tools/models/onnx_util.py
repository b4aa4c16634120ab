"""Helpers shared by the export scripts: ONNX signature reading and compact golden fixtures.

Golden fixtures hold everything the TypeScript parity tests need without torch: the inputs (small integer tensors in
full; large float tensors as a deterministic formula that TypeScript regenerates), and for every output its dims, a
fixed sample of (flat index, value) pairs, and per-row sums and argmaxes over the last axis.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from typing import Dict, List

import numpy as np

ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "float64"}


def onnx_signature(path: str) -> Dict[str, List[dict]]:
    """Graph inputs/outputs of an ONNX file as [{name, dtype, shape}] with symbolic dims as strings."""
    import onnx

    model = onnx.load(path)
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

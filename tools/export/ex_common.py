"""Shared pieces of tools/export: checkpoint reading (PyTorch .bin, safetensors, sharded, with or without
`transformers`), ONNX Runtime parity runs, and the relative-error measure of the export checks."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, HERE)

OPSET = 14


def have_transformers() -> bool:
    """Whether the real model classes can be used (torch 2.x + transformers installed); CONCERT_EXPORT_REFERENCE=1
    forces the reference modules."""
    if os.environ.get("CONCERT_EXPORT_REFERENCE") == "1":
        return False
    try:
        import transformers  # noqa: F401
    except Exception:
        return False
    return True


def read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ------------------------------------------------------------------------------------------------ checkpoints

_ST_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64,
              "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """A .safetensors file (8-byte little-endian header length, JSON header, raw little-endian data) without the
    safetensors package."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(data[a:b])
        t = torch.frombuffer(buf, dtype=_ST_DTYPES[e["dtype"]]) if b > a else torch.zeros(0, dtype=_ST_DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).clone()
    return out


def read_weights(folder_or_file: str) -> Dict[str, torch.Tensor]:
    """State dict of a Hugging Face folder (model.safetensors, pytorch_model.bin, or their sharded index) or of a
    single .pt/.bin/.safetensors file. Tensors are returned as stored (bf16 stays bf16)."""
    p = folder_or_file
    if os.path.isfile(p):
        if p.endswith(".safetensors"):
            return read_safetensors(p)
        sd = torch.load(p, map_location="cpu")
        if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
            sd = sd["state_dict"]
        return dict(sd)
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        ip = os.path.join(p, index)
        if os.path.exists(ip):
            out: Dict[str, torch.Tensor] = {}
            for shard in sorted(set(read_json(ip)["weight_map"].values())):
                out.update(read_weights(os.path.join(p, shard)))
            return out
    for name in ("model.safetensors", "pytorch_model.bin"):
        fp = os.path.join(p, name)
        if os.path.exists(fp):
            return read_weights(fp)
    raise FileNotFoundError(f"{p}: no model.safetensors, pytorch_model.bin or sharded index")


def strip_prefix(state: Dict[str, torch.Tensor], prefix: str = "module.") -> Dict[str, torch.Tensor]:
    """Keys saved from a wrapped module (accelerate / DataParallel) carry `module.`; the official SSD-LM extras may."""
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}


def float_state(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


# ------------------------------------------------------------------------------------------------ parity


def rel_err(a, b) -> float:
    """max |a − b| / max(|b|, 1e-6): the relative error of the export checks (≤ 1e-3 for large models)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape {a.shape} vs {b.shape}")
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-6))


def ort_backend() -> Optional[str]:
    """`python` (the onnxruntime package), `node` (onnxruntime-node from this repository's node_modules, the runtime
    the extension uses) or None."""
    try:
        import onnxruntime  # noqa: F401
        if os.environ.get("CONCERT_EXPORT_ORT") != "node":
            return "python"
    except Exception:
        pass
    if shutil.which("node") and os.path.isdir(os.path.join(ROOT, "node_modules", "onnxruntime-node")):
        return "node"
    return None


def ort_run(onnx_path: str, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """One run of an ONNX graph in ONNX Runtime; feeds are int64 or float32 arrays."""
    backend = ort_backend()
    if backend is None:
        raise RuntimeError("parity needs onnxruntime (pip install onnxruntime) or node with this repository's node_modules (npm ci)")
    if backend == "python":
        import onnxruntime as ort

        s = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        names = [o.name for o in s.get_outputs()]
        return dict(zip(names, s.run(names, feeds)))
    run = {}
    for name, a in feeds.items():
        a = np.asarray(a)
        if a.dtype == np.int64:
            run[name] = {"dtype": "int64", "dims": list(a.shape), "data": a.reshape(-1).tolist()}
        else:
            run[name] = {"dtype": "float32", "dims": list(a.shape), "data": a.astype(np.float32).reshape(-1).tolist()}
    with tempfile.TemporaryDirectory() as d:
        fi, fo = os.path.join(d, "feeds.json"), os.path.join(d, "out.json")
        with open(fi, "w") as f:
            json.dump([run], f)
        # The runner of tools/jpeg (onnxruntime-node, one thread), reused.
        r = subprocess.run(["node", os.path.join(ROOT, "tools", "jpeg", "ort_run.mjs"), onnx_path, fi, fo], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"onnxruntime-node failed: {r.stderr[-2000:]}")
        with open(fo) as f:
            out = json.load(f)[0]
    return {k: np.asarray(v["data"], dtype=np.float32).reshape(v["dims"]) for k, v in out.items()}


def check(name: str, err: float, tol: float, report: dict) -> None:
    report[name] = err
    if not err <= tol:
        raise SystemExit(f"parity check {name} failed: relative error {err:.3g} > {tol:g}")


def fix_dims(path: str, fixes) -> None:
    """Sets fixed dims by name on the saved graph (tools/models/onnx_util.fix_dims) and re-checks it."""
    import onnx
    from onnx_util import fix_dims as _fix

    m = onnx.load(path)
    _fix(m, fixes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def tokenizer_ids(tokenizer_path: str) -> Dict[str, int]:
    tok = read_json(tokenizer_path)
    vocab = tok["model"]["vocab"]
    ids = dict(vocab) if isinstance(vocab, dict) else {p[0]: i for i, p in enumerate(vocab)}
    for t in tok.get("added_tokens", []):
        ids[t["content"]] = t["id"]
    return ids


def file_list(paths: List[str]) -> List[str]:
    return [p for p in paths if p and os.path.exists(p)]

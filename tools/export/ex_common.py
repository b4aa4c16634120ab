"""Shared pieces of tools/export: checkpoint reading (PyTorch .bin, safetensors, sharded, with or without
`transformers`), saving graphs with or without ONNX external data, ONNX Runtime parity runs, and the relative-error
measure of the export checks."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional

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
    """One run of an ONNX graph in ONNX Runtime; feeds are int64 or float32 arrays. The session is made from the
    file's path in both backends, so ONNX Runtime finds the graph's external data (`model.onnx_data`) beside it."""
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


# ------------------------------------------------------------------------------------------------ external data
#
# A ModelProto cannot be serialised past protobuf's 2 GB limit, so larger graphs (7 B decoders, float32 or int4) keep
# their tensors in ONNX external data beside the graph: `<graph file>_data` (model.onnx → model.onnx_data, the name
# Hugging Face's ONNX exports use), continued in `<graph file>_data_1`, `_2` … (the chunk names transformers.js uses)
# so that no file exceeds 2 GiB: the runtime reads each data file whole with Node's fs.readFile, which refuses files
# over 2 GiB, and hands the bytes to ONNX Runtime (src/runtime/ort.ts). src/runtime/packs.ts accepts both names.
# `--external-data` of export.py picks the form: auto (external data only when the tensors would not fit inline),
# always (tests force it on tiny models), never (fail past 2 GB).

EXTERNAL_DATA_MODES = ("auto", "always", "never")
PROTOBUF_LIMIT = 2**31 - 1
# auto: tensors over this many bytes go to external data (headroom for the graph's nodes and the small inline tensors)
EXTERNAL_DATA_AUTO_BYTES = PROTOBUF_LIMIT - (128 << 20)
# Largest data file (Node's fs.readFile limit is 2 GiB − 1); a single tensor larger than this gets a file of its own.
EXTERNAL_DATA_CHUNK_BYTES = 2**31 - (1 << 20)
EXTERNAL_DATA_MIN_TENSOR = 1024  # smaller tensors stay in the graph (onnx's default size_threshold)
_external_data = "auto"
_chunk_bytes = EXTERNAL_DATA_CHUNK_BYTES


def set_external_data(mode: str, chunk_bytes: Optional[int] = None) -> None:
    global _external_data, _chunk_bytes
    if mode not in EXTERNAL_DATA_MODES:
        raise ValueError(f"external data mode {mode!r}: one of {', '.join(EXTERNAL_DATA_MODES)}")
    if chunk_bytes is not None and not 0 < chunk_bytes <= EXTERNAL_DATA_CHUNK_BYTES:
        raise ValueError(f"external data files hold at most {EXTERNAL_DATA_CHUNK_BYTES} bytes (Node's fs.readFile limit)")
    _external_data = mode
    _chunk_bytes = chunk_bytes or EXTERNAL_DATA_CHUNK_BYTES


def external_data_mode() -> str:
    return _external_data


def tensor_bytes(model) -> int:
    """Bytes the model's tensors take inline (raw_data and the typed fields), subgraphs and attributes included."""
    from pack import graph_tensors

    return sum(tensor_bytes_of(t) + sum(len(x) for x in t.string_data) for t in graph_tensors(model.graph))


def _initializers(graph):
    """Initializers of the graph and of its subgraphs (the tensors onnx moves to external data; attribute tensors of
    Constant nodes stay inline, as with onnx.save_model's default convert_attribute=False)."""
    yield from graph.initializer
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("g"):
                yield from _initializers(a.g)
            for g in a.graphs:
                yield from _initializers(g)


def _write_external(model, path: str, chunk_bytes: int) -> List[str]:
    """Moves every initializer of ≥ 1 KiB into `<basename>_data`, `<basename>_data_1` … (each ≤ chunk_bytes unless one
    tensor alone is larger), records location/offset/length in the tensors and writes the graph. Returns the files."""
    import onnx
    from onnx import numpy_helper

    base = os.path.basename(path)
    folder = os.path.dirname(os.path.abspath(path))
    files: List[str] = []
    f = None
    try:
        for t in _initializers(model.graph):
            if t.data_location == onnx.TensorProto.EXTERNAL:
                raise ValueError(f"tensor {t.name} still refers to external data: load the model with its data first")
            if not t.HasField("raw_data"):
                if t.data_type == onnx.TensorProto.STRING or tensor_bytes_of(t) < EXTERNAL_DATA_MIN_TENSOR:
                    continue
                raw = numpy_helper.to_array(t).tobytes()  # typed fields → raw_data (little-endian, as ONNX stores it)
                for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
                    t.ClearField(field)
                t.raw_data = raw
            n = len(t.raw_data)
            if n < EXTERNAL_DATA_MIN_TENSOR:
                continue
            if f is None or (f.tell() > 0 and f.tell() + n > chunk_bytes):
                if f is not None:
                    f.close()
                files.append(base + "_data" + (f"_{len(files)}" if files else ""))
                f = open(os.path.join(folder, files[-1]), "wb")
            if n > chunk_bytes:
                print(f"warning: tensor {t.name} alone is {n:,} bytes, more than one data file should hold ({chunk_bytes:,})", file=sys.stderr)
            offset = f.tell()
            f.write(t.raw_data)
            del t.external_data[:]
            for k, v in (("location", files[-1]), ("offset", str(offset)), ("length", str(n))):
                e = t.external_data.add()
                e.key, e.value = k, v
            t.data_location = onnx.TensorProto.EXTERNAL
            t.ClearField("raw_data")
    finally:
        if f is not None:
            f.close()
    text = model.SerializeToString()
    with open(path, "wb") as g:
        g.write(text)
    return files


def tensor_bytes_of(t) -> int:
    return len(t.raw_data) + 4 * (len(t.float_data) + len(t.int32_data)) + 8 * (len(t.int64_data) + len(t.double_data) + len(t.uint64_data))


def save_onnx(model, path: str, mode: Optional[str] = None) -> List[str]:
    """Saves a ModelProto (whose tensors are all loaded) at path, with its tensors in `<basename>_data` (+ `_data_1` …
    past 2 GiB) beside it when the mode asks for it (auto: only when they would not fit inline). Returns the data file
    names written (relative to path's folder). An external save moves the tensors out of the proto: do not reuse it."""
    import re

    import onnx

    mode = mode or _external_data
    base = os.path.basename(path)
    folder = os.path.dirname(os.path.abspath(path))
    for name in os.listdir(folder):  # stale data files of an earlier save at the same path
        if re.fullmatch(re.escape(base) + r"_data(_\d+)?", name):
            os.remove(os.path.join(folder, name))
    size = tensor_bytes(model)
    if mode == "always" or (mode == "auto" and size > EXTERNAL_DATA_AUTO_BYTES):
        return _write_external(model, path, _chunk_bytes)
    if size > EXTERNAL_DATA_AUTO_BYTES:
        raise SystemExit(f"{path}: the graph's tensors take {size:,} bytes, past protobuf's 2 GB limit; use --external-data auto or always")
    onnx.save(model, path)
    return []


@contextmanager
def traced_path(path: str) -> Iterator[str]:
    """A path in a private folder beside `path` for torch.onnx.export to write to. Past 2 GB the exporter writes the
    tensors itself, as files beside its output (torch 1.x/2.x TorchScript exporter: one file per tensor, named after
    it; the dynamo exporter: `<name>.data`); fix_dims(path, …, src=<this path>) loads them and saves the graph at
    `path` in the form --external-data asks for, and the folder is removed afterwards."""
    d = tempfile.mkdtemp(prefix=".trace-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        yield os.path.join(d, os.path.basename(path))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fix_dims(path: str, fixes, src: Optional[str] = None) -> List[str]:
    """Sets fixed dims by name on the graph at src (default: path; tools/models/onnx_util.fix_dims), saves it at path
    (save_onnx: external data per --external-data) and checks the saved file. Returns the external-data files."""
    import onnx
    from onnx_util import fix_dims as _fix

    m = onnx.load(src or path)  # loads external data, wherever the exporter put it (relative to src)
    _fix(m, fixes)
    written = save_onnx(m, path)
    onnx.checker.check_model(path)  # by path: a proto past 2 GB cannot be checked in memory
    return written


def tokenizer_ids(tokenizer_path: str) -> Dict[str, int]:
    tok = read_json(tokenizer_path)
    vocab = tok["model"]["vocab"]
    ids = dict(vocab) if isinstance(vocab, dict) else {p[0]: i for i, p in enumerate(vocab)}
    for t in tok.get("added_tokens", []):
        ids[t["content"]] = t["id"]
    return ids


def file_list(paths: List[str]) -> List[str]:
    return [p for p in paths if p and os.path.exists(p)]

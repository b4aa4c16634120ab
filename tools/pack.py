#!/usr/bin/env python3
"""Writes a Concert model pack: models/<id>/ with concert.json, the ONNX graph(s), tokenizer.json and MODEL_CARD.md.

The manifest follows src/runtime/manifest.ts exactly (unknown keys are errors there): every file with sha256 and
bytes, graphs by role, and io read from each ONNX file's own graph inputs/outputs (names, dtypes, symbolic dims), so
the declared signature cannot drift from the graph.

Usage (normally called by tools/models/train_all.sh):
    /usr/bin/python3 tools/pack.py --spec data/build/export/concert-lm-small/pack.json --out models/concert-lm-small

A spec is JSON: {"id", "kind", "displayName", "description", "licence", "graphs": {role: {"src": path, "name": file}},
"tokenizer": path, "modelCard": path, "specialTokens": {...}, "knobs": {...}, "provenance": {...}}.

Graphs with ONNX external data (over protobuf's 2 GB limit, tools/export --external-data) are copied with their data
files, which are listed in `files` like any other (sha256, bytes). The runtime's rules (src/runtime/packs.ts
checkGraphBytes / externalDataFiles) are enforced here too: each location is a plain relative path without "..",
resolved against the graph's own folder in the pack, and ends in .onnx_data, .data, .bin or .onnx_data_<n>. A data file
named after its source graph (`<src>.onnx_data`) follows the graph's name in the pack (`<name>_data`), the location
inside the graph being rewritten to match; other locations are kept as they are.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import posixpath
from typing import Dict, Iterator, List, Optional

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "models"))
from onnx_util import onnx_signature  # noqa: E402

SCHEMA_VERSION = 1
KINDS = ("causal-lm", "simplex-diffusion-lm", "classifier", "codec-lm")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MANIFEST = "concert.json"

# Roles for special tokens, by the token strings commonly used for them.
SPECIAL_ROLE_NAMES = {
    "bos": ("<s>", "<bos>", "[BOS]", "<|bos|>", "<|startoftext|>"),
    "eos": ("</s>", "<eos>", "[EOS]", "<|eos|>", "<|endoftext|>"),
    "pad": ("<pad>", "[PAD]", "<|pad|>"),
    "unk": ("<unk>", "[UNK]", "<|unk|>"),
    "sep": ("<sep>", "[SEP]", "<|sep|>"),
    "mask": ("<mask>", "[MASK]", "<|mask|>"),
}


# src/runtime/packs.ts EXTERNAL_DATA_SUFFIXES, and the chunked names transformers.js uses (model.onnx_data_1, _2 …).
EXTERNAL_DATA_RE = re.compile(r"(\.onnx_data|\.data|\.bin|\.onnx_data_\d{1,4})$")


def graph_tensors(graph) -> Iterator:
    """Every TensorProto of a graph that may hold external data: initializers, sparse initializers, tensor attributes,
    and the same in subgraphs (If/Loop/Scan bodies)."""
    yield from graph.initializer
    for sp in graph.sparse_initializer:
        yield sp.values
        yield sp.indices
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            if a.HasField("g"):
                yield from graph_tensors(a.g)
            for g in a.graphs:
                yield from graph_tensors(g)


def _external_tensors(model) -> Iterator:
    import onnx

    for t in graph_tensors(model.graph):
        if t.data_location == onnx.TensorProto.EXTERNAL:
            yield t


def _location(tensor) -> str:
    for e in tensor.external_data:
        if e.key == "location":
            return e.value
    raise ValueError(f"tensor {tensor.name!r} has external data without a location")


def check_relative_location(loc: str, where: str) -> None:
    """src/runtime/manifest.ts checkRelativePath: a non-empty relative path with forward slashes, no "..", no "."."""
    if not loc or len(loc) > 255 or "\0" in loc:
        raise ValueError(f"{where}: must be a non-empty relative path of at most 255 characters")
    if "\\" in loc:
        raise ValueError(f"{where}: {loc!r} uses a backslash")
    if loc.startswith("/") or re.match(r"^[a-zA-Z]:", loc):
        raise ValueError(f"{where}: {loc!r} is an absolute path")
    for part in loc.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"{where}: {loc!r} has an empty, \".\" or \"..\" component")


def external_data_locations(onnx_path: str) -> List[str]:
    """The distinct external-data locations an ONNX file refers to (relative to its folder), in order of first use.
    Reads the graph only, never the data."""
    import onnx

    m = onnx.load(onnx_path, load_external_data=False)
    return list(dict.fromkeys(_location(t) for t in _external_tensors(m)))


def copy_graph(src: str, out_dir: str, name: str) -> Dict[str, str]:
    """Copies the graph `src` to out_dir/name with its external-data files. Returns {pack-relative name: source path}
    for every file written, the graph first. `<src basename>_data[_<n>]` becomes `<name basename>_data[_<n>]`."""
    import onnx

    check_relative_location(name, f"graph file {name}")
    src_base, dst_base = os.path.basename(src), posixpath.basename(name)
    src_dir, pack_dir = os.path.dirname(os.path.abspath(src)), posixpath.dirname(name)
    renames: Dict[str, str] = {}
    for loc in external_data_locations(src):
        check_relative_location(loc, f"{src}: external data location")
        new = loc
        mm = re.match(re.escape(src_base) + r"_data(_\d{1,4})?$", loc)
        if mm and src_base != dst_base:
            new = dst_base + "_data" + (mm.group(1) or "")
        renames[loc] = new
    written: Dict[str, str] = {}
    dst = os.path.join(out_dir, *name.split("/"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if any(a != b for a, b in renames.items()):
        m = onnx.load(src, load_external_data=False)
        for t in _external_tensors(m):
            for e in t.external_data:
                if e.key == "location":
                    e.value = renames[e.value]
        with open(dst, "wb") as f:  # the graph alone: onnx.save could try to write tensors' data
            f.write(m.SerializeToString())
    else:
        shutil.copyfile(src, dst)
    written[name] = src
    for loc, new in renames.items():
        rel = posixpath.normpath(posixpath.join(pack_dir, new)) if pack_dir else new
        if not EXTERNAL_DATA_RE.search(rel):
            raise ValueError(f"{src}: external data {loc!r} must end in .onnx_data, .data, .bin or .onnx_data_<n> (src/runtime/packs.ts)")
        data_src = os.path.join(src_dir, *loc.split("/"))
        if not os.path.isfile(data_src):
            raise ValueError(f"{src}: external data file {data_src} is missing")
        d = os.path.join(out_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copyfile(data_src, d)  # plain copies: packs may not contain links
        written[rel] = data_src
    return written


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tokenizer_special_tokens(tokenizer_path: str) -> Dict[str, str]:
    """Maps roles (bos, eos, pad, unk, sep, mask) to the special-token strings present in tokenizer.json."""
    with open(tokenizer_path, encoding="utf-8") as f:
        tok = json.load(f)
    specials = [t["content"] for t in tok.get("added_tokens", []) if t.get("special")]
    out = {}
    for role, names in SPECIAL_ROLE_NAMES.items():
        for n in names:
            if n in specials:
                out[role] = n
                break
    return out


def tokenizer_vocab_size(tokenizer_path: str) -> int:
    with open(tokenizer_path, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    ids = list(range(len(vocab))) if isinstance(vocab, list) else list(vocab.values())
    ids += [t["id"] for t in tok.get("added_tokens", [])]
    return max(ids) + 1


def write_pack(out_dir: str, *, id: str, kind: str, graphs: Dict[str, Dict[str, str]], licence: str,
               tokenizer: Optional[str] = None, model_card: Optional[str] = None, display_name: Optional[str] = None,
               description: Optional[str] = None, special_tokens: Optional[Dict[str, str]] = None,
               knobs: Optional[dict] = None, provenance: Optional[dict] = None, prompts: Optional[str] = None) -> dict:
    """Copies the files into out_dir (replacing its previous contents) and writes concert.json. Returns the manifest."""
    if not ID_RE.match(id):
        raise ValueError(f"bad pack id {id!r}")
    if kind not in KINDS:
        raise ValueError(f"bad kind {kind!r}")
    if not licence or not licence.strip():
        raise ValueError("licence is required")
    if os.path.isdir(out_dir):
        for name in os.listdir(out_dir):
            p = os.path.join(out_dir, name)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    os.makedirs(out_dir, exist_ok=True)

    files: Dict[str, str] = {}  # pack-relative name -> source path
    graph_roles: Dict[str, str] = {}
    for role, g in graphs.items():
        if not re.match(r"^[a-z][a-zA-Z0-9_-]{0,31}$", role):
            raise ValueError(f"bad graph role {role!r}")
        name = g.get("name") or os.path.basename(g["src"])
        if not name.endswith(".onnx"):
            raise ValueError(f"graph file {name} must end in .onnx")
        if name in files:
            raise ValueError(f"graph file {name} is written twice")
        for rel, src in copy_graph(g["src"], out_dir, name).items():  # the graph and its external data
            if rel in files and os.path.abspath(files[rel]) != os.path.abspath(src):
                raise ValueError(f"{rel} would be written from two sources ({files[rel]}, {src})")
            files[rel] = src
        graph_roles[role] = name
    others: Dict[str, str] = {}
    if tokenizer:
        others["tokenizer.json"] = tokenizer
    if model_card:
        others["MODEL_CARD.md"] = model_card
    if prompts:
        others["prompts.json"] = prompts  # the prompt templates the model was trained with (src/runtime/prompts.ts)
    for name, src in others.items():
        if name in files:
            raise ValueError(f"{name} is also a graph's file")
        shutil.copyfile(src, os.path.join(out_dir, name))  # plain copies: packs may not contain links
        files[name] = src

    manifest: dict = {"schemaVersion": SCHEMA_VERSION, "id": id, "kind": kind}
    if display_name:
        manifest["displayName"] = display_name
    if description:
        manifest["description"] = description
    manifest["licence"] = licence
    manifest["files"] = {n: {"sha256": sha256_file(os.path.join(out_dir, *n.split("/"))), "bytes": os.path.getsize(os.path.join(out_dir, *n.split("/")))}
                         for n in sorted(files)}
    manifest["graphs"] = graph_roles
    if tokenizer:
        manifest["tokenizer"] = "tokenizer.json"
    manifest["io"] = {role: onnx_signature(os.path.join(out_dir, *name.split("/")), load_external_data=False) for role, name in graph_roles.items()}
    if tokenizer:
        st = special_tokens if special_tokens is not None else tokenizer_special_tokens(os.path.join(out_dir, "tokenizer.json"))
        if st:
            manifest["specialTokens"] = st
    if knobs:
        for k, v in knobs.items():
            ok = isinstance(v, (int, float, str, bool)) or (isinstance(v, list) and len(v) <= 1024 and (
                all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) or all(isinstance(x, str) for x in v)))
            if not ok:
                raise ValueError(f"knob {k} must be a number, string, boolean or flat array")
        manifest["knobs"] = knobs
    if model_card:
        manifest["modelCard"] = "MODEL_CARD.md"
    if prompts:
        manifest["prompts"] = "prompts.json"
    if provenance:
        for k, v in provenance.items():
            if not isinstance(v, (str, int, float)) or isinstance(v, bool):
                raise ValueError(f"provenance {k} must be a string or number")
        manifest["provenance"] = provenance
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    if len(text.encode("utf-8")) > 64 * 1024:
        raise ValueError("concert.json would exceed 64 KiB")
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as f:
        f.write(text)
    return manifest


def verify_pack(pack_dir: str) -> dict:
    """Re-reads a pack and checks sizes, hashes and the declared io against the ONNX files. Returns the manifest."""
    with open(os.path.join(pack_dir, MANIFEST), encoding="utf-8") as f:
        m = json.load(f)
    for name, e in m["files"].items():
        p = os.path.join(pack_dir, *name.split("/"))
        if os.path.islink(p) or not os.path.isfile(p):
            raise ValueError(f"{name} is not a plain file")
        if os.path.getsize(p) != e["bytes"]:
            raise ValueError(f"{name}: size mismatch")
        if sha256_file(p) != e["sha256"]:
            raise ValueError(f"{name}: sha256 mismatch")
    listed = set(m["files"]) | {MANIFEST}
    present = {os.path.relpath(os.path.join(r, f), pack_dir).replace(os.sep, "/") for r, _, fs in os.walk(pack_dir) for f in fs}
    if present - listed:
        raise ValueError(f"unlisted files in pack: {sorted(present - listed)}")
    for role, name in m["graphs"].items():
        gp = os.path.join(pack_dir, *name.split("/"))
        if onnx_signature(gp, load_external_data=False) != m["io"][role]:
            raise ValueError(f"io of graph {role} does not match {name}")
        base = posixpath.dirname(name)
        for loc in external_data_locations(gp):  # as src/runtime/packs.ts checkGraphBytes
            check_relative_location(loc, f"graph {role} external data location")
            rel = posixpath.normpath(posixpath.join(base, loc)) if base else loc
            if rel not in m["files"]:
                raise ValueError(f"graph {role}: external data {loc!r} is not a file listed in {MANIFEST}")
            if not EXTERNAL_DATA_RE.search(rel):
                raise ValueError(f"graph {role}: external data {loc!r} must end in .onnx_data, .data, .bin or .onnx_data_<n>")
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="pack spec JSON (see above)")
    ap.add_argument("--out", required=True, help="pack folder to (re)write, e.g. models/concert-lm-small")
    args = ap.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        s = json.load(f)
    m = write_pack(args.out, id=s["id"], kind=s["kind"], graphs=s["graphs"], licence=s["licence"],
                   tokenizer=s.get("tokenizer"), model_card=s.get("modelCard"), display_name=s.get("displayName"),
                   description=s.get("description"), special_tokens=s.get("specialTokens"), knobs=s.get("knobs"),
                   provenance=s.get("provenance"))
    verify_pack(args.out)
    total = sum(e["bytes"] for e in m["files"].values())
    print(f"wrote pack {m['id']} to {args.out}: {len(m['files'])} files, {total} bytes")


if __name__ == "__main__":
    main()

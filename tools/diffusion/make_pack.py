#!/usr/bin/env python3
"""Writes a simplex-diffusion-lm pack (models/concert-ssd-core, models/concert-ssd-user): concert.json, the two graphs
with their shared weights.bin, tokenizer.json, prompts.json and MODEL_CARD.md.

    /usr/bin/python3 tools/diffusion/make_pack.py --ckpt data/build/ckpt/ssd-core/final.pt \
        --export data/build/export/concert-ssd-core --eval data/build/export/concert-ssd-core/eval.json \
        --out models/concert-ssd-core

The manifest follows src/runtime/manifest.ts (unknown keys are errors): every file with sha256 and bytes, graphs by
role, io read from each ONNX graph's own inputs/outputs (without loading the external data). tools/pack.py is not used
because it has no place for external-data files and prompt templates; its helpers are.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(ROOT, "tools"))
sys.path.append(os.path.join(ROOT, "tools", "models"))
sys.path.append(os.path.join(ROOT, "tools", "data"))
import pack as packlib  # noqa: E402
import templates  # noqa: E402
from card import model_card  # noqa: E402
from export import signature  # noqa: E402

MANIFEST = "concert.json"
WEIGHTS_LICENCE = "MIT"
GRAPHS = {"context": "context.onnx", "denoiser": "denoiser.onnx"}


def prompts_json() -> str:
    """The prompt templates the models were trained with (the subset of tools/data/templates.json the runtime reads)."""
    j = templates.as_json()
    return json.dumps({"version": j["version"], "comment": "Prompt templates of tools/data/templates.py (version "
                       f"{j['version']}) the model was trained with.", "prompts": {k: j["prompts"][k] for k in ("lm", "summary", "qa")},
                       "roles": j["roles"]}, indent=2, ensure_ascii=False) + "\n"


def write_pack(out_dir: str, manifest_fields: dict, files: dict) -> dict:
    """files: pack name -> source path. Replaces out_dir's contents; returns the manifest."""
    if os.path.isdir(out_dir):
        for name in os.listdir(out_dir):
            p = os.path.join(out_dir, name)
            shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    os.makedirs(out_dir, exist_ok=True)
    for name, src in files.items():
        shutil.copyfile(src, os.path.join(out_dir, name))
    m = {"schemaVersion": 1, "id": manifest_fields["id"], "kind": "simplex-diffusion-lm",
         "displayName": manifest_fields["displayName"], "description": manifest_fields["description"],
         "licence": WEIGHTS_LICENCE,
         "files": {n: {"sha256": packlib.sha256_file(os.path.join(out_dir, n)), "bytes": os.path.getsize(os.path.join(out_dir, n))}
                   for n in sorted(files)},
         "graphs": dict(GRAPHS), "tokenizer": "tokenizer.json",
         "io": {role: signature(os.path.join(out_dir, f)) for role, f in GRAPHS.items()},
         "specialTokens": dict(templates.ROLES), "knobs": manifest_fields["knobs"], "modelCard": "MODEL_CARD.md",
         "prompts": "prompts.json", "provenance": manifest_fields["provenance"]}
    for k, v in m["knobs"].items():
        ok = isinstance(v, (int, float, str, bool)) or (isinstance(v, list) and (all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v) or all(isinstance(x, str) for x in v)))
        if not ok:
            raise ValueError(f"knob {k} must be a number, string, boolean or flat array")
    for k, v in m["provenance"].items():
        if not isinstance(v, (str, int, float)) or isinstance(v, bool):
            raise ValueError(f"provenance {k} must be a string or number")
    text = json.dumps(m, indent=2, ensure_ascii=False) + "\n"
    if len(text.encode()) > 64 * 1024:
        raise ValueError("concert.json would exceed 64 KiB")
    with open(os.path.join(out_dir, MANIFEST), "w", encoding="utf-8") as f:
        f.write(text)
    verify(out_dir)
    return m


def verify(pack_dir: str) -> None:
    with open(os.path.join(pack_dir, MANIFEST), encoding="utf-8") as f:
        m = json.load(f)
    for name, e in m["files"].items():
        p = os.path.join(pack_dir, name)
        if os.path.islink(p) or not os.path.isfile(p) or os.path.getsize(p) != e["bytes"] or packlib.sha256_file(p) != e["sha256"]:
            raise ValueError(f"{name}: missing, not a plain file, or size/sha256 mismatch")
    present = set(os.listdir(pack_dir))
    if present - set(m["files"]) - {MANIFEST}:
        raise ValueError(f"unlisted files: {sorted(present - set(m['files']) - {MANIFEST})}")
    import onnx
    for role, name in m["graphs"].items():
        if signature(os.path.join(pack_dir, name)) != m["io"][role]:
            raise ValueError(f"io of {role} does not match {name}")
        onnx.checker.check_model(os.path.join(pack_dir, name))


def knobs_for(ck: dict, ev: dict) -> dict:
    c = ck["config"]
    role = ck.get("role", "core")
    return {
        "role": role, "K": float(c["K"]), "blockSize": c["block_size"], "tTrain": c["t_train"], "schedule": "cosine",
        "scheduleOffset": 1e-4, "timeInput": "t/T_decode", "selfConditioning": True, "selfConditioningNone": "zeros",
        "contextTimeEmbedding": False, "maxContext": c["max_positions"], "vocabSize": c["vocab_size"],
        "numLayers": c["n_layers"], "numHeads": c["n_heads"], "headDim": c["d_model"] // c["n_heads"],
        "hiddenSize": c["d_model"], "projection": "sample", "topP": 0.95, "steps": 100 if role == "core" else 50,
        "earlyStop": 0.0, "templatesVersion": templates.TEMPLATES_VERSION,
        "templates": ["lm", "summary", "qa"] if role == "core" else ["qa", "summary"],
        "finalTokens": "argmax of the last step's logits",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--export", required=True, help="folder with context.onnx, denoiser.onnx, weights.bin")
    ap.add_argument("--eval", required=True)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--previous-card", default=None, help="the earlier pack's MODEL_CARD.md, whose training story a fine-tune's "
                    "card keeps (tools/diffusion/pack_to_ckpt.py → train.py --init-from)")
    ap.add_argument("--training-note", default=None, help="a sentence the card adds after a fine-tune's stages (what the "
                    "commands alone do not say)")
    a = ap.parse_args()
    ck = torch.load(a.ckpt, map_location="cpu")
    with open(a.eval, encoding="utf-8") as f:
        ev = json.load(f)
    pid = os.path.basename(os.path.normpath(a.out))
    tok = os.path.join(os.path.dirname(os.path.abspath(a.ckpt)), "tokenizer.json")
    from lm_data import sha_file
    want = ck.get("data", {}).get("tokenizer_sha256")
    if want and sha_file(tok) != want:
        raise SystemExit(f"{tok} is not the tokenizer the model was trained with")
    role = ck.get("role", "core")
    work = a.export
    with open(os.path.join(work, "prompts.json"), "w", encoding="utf-8") as f:
        f.write(prompts_json())
    sizes = {n: os.path.getsize(os.path.join(work, n)) for n in ("context.onnx", "denoiser.onnx", "weights.bin")}
    card = model_card(pid, ck, ev, {r: signature(os.path.join(work, f)) for r, f in GRAPHS.items()}, sizes, a)
    with open(os.path.join(work, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card)
    commit = packlib_commit()
    fields = {
        "id": pid,
        "displayName": "Concert diffusion LM (core)" if role == "core" else "Concert diffusion LM (user)",
        "description": (f"{ck['num_params'] / 1e6:.1f}M-parameter SSD-2-style simplex diffusion LM ({role} model): block "
                        f"size {ck['config']['block_size']}, K {ck['config']['K']:g}, causal context states reused "
                        "across denoising steps, self-conditioning."
                        + (" Trained to answer from knowledge placed in its context." if role == "user" else "")),
        "knobs": knobs_for(ck, ev),
        "provenance": {"commit": commit, "seed": ck["seed"], "command": ck["command"], "trainMinutes": ck["train_minutes"],
                       "steps": ck["steps"], "blockTokensSeen": ck["block_tokens_seen"], "hardware": ck["hardware"],
                       "finished": ck["finished"], "tokenizerSha256": ck.get("data", {}).get("tokenizer_sha256", ""),
                       "exportCommand": f"/usr/bin/python3 tools/diffusion/export.py --ckpt {os.path.relpath(os.path.abspath(a.ckpt), ROOT)} --out {os.path.relpath(os.path.abspath(work), ROOT)}",
                       "params": ck["num_params"]},
    }
    files = {"context.onnx": os.path.join(work, "context.onnx"), "denoiser.onnx": os.path.join(work, "denoiser.onnx"),
             "weights.bin": os.path.join(work, "weights.bin"), "tokenizer.json": tok,
             "prompts.json": os.path.join(work, "prompts.json"), "MODEL_CARD.md": os.path.join(work, "MODEL_CARD.md")}
    m = write_pack(a.out, fields, files)
    total = sum(e["bytes"] for e in m["files"].values())
    print(f"wrote pack {pid} to {a.out}: {total:,} bytes")


def packlib_commit() -> str:
    import subprocess
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        c = r.stdout.strip()
        if r.returncode != 0 or not c:
            return "uncommitted"
        d = subprocess.run(["git", "status", "--porcelain", "--", "tools/diffusion"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return c + ("+dirty" if d.stdout.strip() else "")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    main()

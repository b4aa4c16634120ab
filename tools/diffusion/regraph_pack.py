#!/usr/bin/env python3
"""Replaces a diffusion pack's graphs and weights with a new export of the same model, keeping everything else: its
manifest fields (id, names, knobs, provenance), tokenizer, prompts and model card (with a dated note appended).

    /usr/bin/python3 tools/diffusion/regraph_pack.py --pack models/concert-ssd-core \
        --export data/build/export/concert-ssd-core-f16 --note "Weights rounded to float16 (2026-12-08) …"

Used to store the bundled core's weights as float16 (export.py --weights-dtype float16 from pack_to_ckpt.py's
checkpoint of the pack): make_pack.py would rewrite the card from a training checkpoint, which the pack no longer has.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_pack import GRAPHS, MANIFEST, write_pack  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", required=True, help="the pack folder to update in place")
    ap.add_argument("--export", required=True, help="folder with the new context.onnx, denoiser.onnx and weights.bin")
    ap.add_argument("--note", required=True, help="a paragraph appended to MODEL_CARD.md under '## Changes'")
    a = ap.parse_args()
    with open(os.path.join(a.pack, MANIFEST), encoding="utf-8") as f:
        m = json.load(f)
    with tempfile.TemporaryDirectory() as keep:
        for name in ("tokenizer.json", "prompts.json", "MODEL_CARD.md"):
            shutil.copyfile(os.path.join(a.pack, name), os.path.join(keep, name))
        card = os.path.join(keep, "MODEL_CARD.md")
        with open(card, encoding="utf-8") as f:
            text = f.read().rstrip("\n")
        if "\n## Changes\n" not in text:
            text += "\n\n## Changes\n"
        with open(card, "w", encoding="utf-8") as f:
            f.write(text + "\n\n" + a.note.strip() + "\n")
        files = {n: os.path.join(keep, n) for n in ("tokenizer.json", "prompts.json", "MODEL_CARD.md")}
        files.update({f: os.path.join(a.export, f) for f in (*GRAPHS.values(), "weights.bin")})
        fields = {k: m[k] for k in ("id", "displayName", "description", "knobs", "provenance")}
        write_pack(a.pack, fields, files)
    print(f"{a.pack}: graphs and weights replaced from {a.export}")


if __name__ == "__main__":
    main()

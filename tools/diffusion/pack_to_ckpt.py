#!/usr/bin/env python3
"""A PyTorch checkpoint from a diffusion pack's own weights (the ONNX initializers of context.onnx + denoiser.onnx),
for fine-tuning a bundled model whose training checkpoint is not committed: `train.py --init-from <out>`.

    /usr/bin/python3 tools/diffusion/pack_to_ckpt.py models/concert-ssd-user data/build/ckpt/ssd-user-pack/final.pt

The result holds {"config", "model", "source", "steps"}; the weights load strictly (every parameter must be in the pack).
"""
from __future__ import annotations

import dataclasses
import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
from torch_diffusion import load_pack_model  # noqa: E402


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    pack, out = sys.argv[1], sys.argv[2]
    model, manifest = load_pack_model(pack)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save({"config": dataclasses.asdict(model.cfg), "model": model.state_dict(), "source": os.path.abspath(pack),
                "steps": "pack", "pack_id": manifest.get("id")}, out)
    print(f"{out}: {model.num_params():,} parameters, config {dataclasses.asdict(model.cfg)}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A PyTorch checkpoint from a causal-lm pack's model.onnx (the bundled concert-lm-small's training checkpoint is not
committed; the ONNX file keeps every weight under its state_dict name `model.<name>`, exported without constant
folding), for evaluation (eval_grounded.py) and for fine-tuning with train_causal_lm.py --init-from.

    /usr/bin/python3 tools/models/pack_to_ckpt.py models/concert-lm-small data/build/ckpt/lm-pack/final.pt

The result holds {"config", "model", "source"}; the config is read from the ONNX shapes and the pack's manifest.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from causal_lm import CausalLM, LMConfig  # noqa: E402


def pack_state_dict(pack_dir: str) -> dict:
    import onnx
    from onnx import numpy_helper

    m = onnx.load(os.path.join(pack_dir, "model.onnx"))
    sd = {}
    for init in m.graph.initializer:
        if init.name.startswith("model."):
            sd[init.name[len("model."):]] = torch.from_numpy(np.array(numpy_helper.to_array(init)))
    return sd


def config_from(sd: dict, pack_dir: str) -> LMConfig:
    vocab, d = sd["wte.weight"].shape
    n_layers = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    d_ff = sd["blocks.0.fc1.weight"].shape[0]
    n_heads = None
    man = json.load(open(os.path.join(pack_dir, "concert.json"), encoding="utf-8"))
    for inp in man.get("io", {}).get("inputs", []) if isinstance(man.get("io"), dict) else []:
        if str(inp.get("name", "")).startswith("past_key_values.") and len(inp.get("shape", [])) == 4:
            n_heads = int(inp["shape"][1])
            break
    if n_heads is None:  # the ONNX input shape [batch, heads, past, head_dim]
        import onnx
        g = onnx.load(os.path.join(pack_dir, "model.onnx"), load_external_data=False).graph
        for i in g.input:
            if i.name == "past_key_values.0.key":
                n_heads = i.type.tensor_type.shape.dim[1].dim_value
    return LMConfig(vocab_size=vocab, d_model=d, n_layers=n_layers, n_heads=n_heads, d_ff=d_ff,
                    max_positions=sd["wpe.weight"].shape[0])


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    pack, out = sys.argv[1], sys.argv[2]
    sd = pack_state_dict(pack)
    cfg = config_from(sd, pack)
    model = CausalLM(cfg)
    model.load_state_dict(sd)  # strict: every weight must be there
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save({"config": dataclasses.asdict(cfg), "model": model.state_dict(), "source": os.path.abspath(pack),
                "step": "pack"}, out)
    print(f"{out}: {model.num_params():,} parameters, config {dataclasses.asdict(cfg)}")


if __name__ == "__main__":
    main()

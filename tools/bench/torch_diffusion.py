#!/usr/bin/env python3
"""PyTorch eager reference of a diffusion block, on the SAME weights as a Concert pack (for `npm run bench`, row P1).

The model is tools/diffusion/model.py's SimplexDiffusionLM; its weights are read from the pack's own ONNX initializers
(context.onnx + denoiser.onnx, external data in weights.bin), so no training checkpoint is needed. The loop is the
reference decoding loop of tools/diffusion/decode.py (the algorithm of src/engine/diffusion/decode.ts, with the
engine's seeded noise), on the given context tokens, tokens, steps, top-p, seed and thread count.

Line protocol (the benchmark interleaves these runs with its own): after loading and one warm-up run it prints
`{"ready": ...}`; then for every line `run` on stdin it decodes once and prints `{"ms": ..., "cpuMs": ..., "tokens": [...]}` (wall and process CPU time); it
exits at end of input.

    /usr/bin/python3 tools/bench/torch_diffusion.py --pack models/concert-ssd-core --context 1,2,3 --tokens 32 --steps 50 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "diffusion"))
from decode import Term, TorchDiffusion, decode  # noqa: E402
from model import SimplexDiffusionLM, SSDConfig  # noqa: E402


def pack_state_dict(pack: str) -> dict:
    """Every initializer of the pack's graphs, by parameter name (the exporter wrapped the model as `model.`)."""
    state = {}
    for graph in ("context.onnx", "denoiser.onnx"):
        m = onnx.load(os.path.join(pack, graph), load_external_data=False)
        onnx.external_data_helper.load_external_data_for_model(m, pack)
        for t in m.graph.initializer:
            if t.name.startswith("model."):
                # float16-stored weights (export.py --weights-dtype float16) are float32 in the model
                arr = numpy_helper.to_array(t)
                state[t.name[len("model."):]] = torch.from_numpy(arr.astype(np.float32) if arr.dtype == np.float16 else arr.copy())
    return state


def load_pack_model(pack: str) -> tuple[SimplexDiffusionLM, dict]:
    with open(os.path.join(pack, "concert.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    k = manifest["knobs"]
    state = pack_state_dict(pack)
    cfg = SSDConfig(vocab_size=k["vocabSize"], d_model=k["hiddenSize"], n_layers=k["numLayers"], n_heads=k["numHeads"],
                    d_ff=state["blocks.0.fc1.weight"].shape[0], max_positions=state["wpe.weight"].shape[0],
                    block_size=k["blockSize"], K=float(k["K"]), t_train=k["tTrain"], time_features=state["time_fc1.weight"].shape[1])
    model = SimplexDiffusionLM(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SystemExit(f"the pack's initializers do not match the model: missing {missing}, unexpected {unexpected}")
    return model.eval(), manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pack", required=True)
    ap.add_argument("--context", required=True, help="context token ids, comma-separated")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    model, manifest = load_pack_model(a.pack)
    pad = 0
    lm = TorchDiffusion(model, pad)
    ctx = [int(x) for x in a.context.split(",") if x]

    def run():
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            r = decode(lm, [Term(list(ctx))], a.tokens, a.steps, a.top_p, "sample", seed=a.seed)
        return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, r.tokens

    run()  # warm-up
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads(), "params": model.num_params(),
                      "pack": manifest["id"]}), flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            continue
        ms, cpu_ms, tokens = run()
        print(json.dumps({"ms": round(ms, 3), "cpuMs": round(cpu_ms, 3), "tokens": tokens}), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Times the PyTorch reference decoding loop (tools/diffusion/decode.py, the algorithm of src/engine/diffusion/decode.ts)
on a training checkpoint, for bench/diffusion-speed.ts's ratio (same prompt, tokens, steps, projection, seed and
threads as the TypeScript run). Prints one JSON object.

    /usr/bin/python3 tools/diffusion/bench_torch.py --ckpt data/build/ckpt/ssd-core/final.pt --tokens 32 --steps 50 --threads 2
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from decode import Term, decode, decode_arg_parser, load_for_decoding, prompt_ids  # noqa: E402

PROMPT = " The history of the old harbour town begins with a small fishing village on the river."


def main() -> None:
    ap = decode_arg_parser(__doc__, steps=50, threads=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    model, _, enc, lm = load_for_decoding(a.ckpt, a.threads)
    ctx = prompt_ids(enc, PROMPT)  # PROMPT starts with its one space

    def run() -> float:
        t0 = time.perf_counter()
        decode(lm, [Term(list(ctx))], a.tokens, a.steps, 0.95, "sample", seed=1)
        return (time.perf_counter() - t0) * 1000

    run()  # warm-up
    ms = statistics.median(run() for _ in range(a.repeats))
    blocks = -(-a.tokens // model.cfg.block_size)
    print(json.dumps({"ms": round(ms, 1), "msPerStep": round(ms / (blocks * a.steps), 2), "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()

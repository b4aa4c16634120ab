#!/usr/bin/env python3
"""A randomly initialised Llama-architecture decoder in the folder layout Hugging Face publishes for ONNX decoders
(config.json, tokenizer files, onnx/model.onnx), sized so that a decoding step is not overhead-bound, for
`npm run bench` row P3 (Concert ÷ transformers.js on the same folder). Generated at benchmark time, never committed.

The model code, tokenizer and exporter are tools/hf/make_fixtures.py's (imported, not copied); the head has exactly
the tokenizer's ids (no padding rows), so both decoders choose among the same tokens.

    /usr/bin/python3 tools/bench/make_llama.py --out .cache/bench/llama-36m --hidden 512 --layers 12
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hf"))
import make_fixtures as mf  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ff", type=int, default=0, help="intermediate size (default 3 × hidden)")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    vocab = mf.TOKENIZER_VOCAB
    mf.MODEL_VOCAB = vocab  # the exporter fixes the logits' width to this
    d = a.out
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(os.path.join(tmp, "onnx"))
    head_dim = a.hidden // a.heads
    eos = mf.IDS["<|endoftext|>"]
    cfg = dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=a.hidden, intermediate_size=a.ff or 3 * a.hidden,
               num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, head_dim=head_dim,
               max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0, vocab_size=vocab, tie_word_embeddings=False,
               bos_token_id=eos, eos_token_id=eos, hidden_act="silu", torch_dtype="float32", transformers_version="4.45.0")
    m = mf.Llama(mf.Cfg(**cfg, qkv_bias=False))
    m.c.kv_heads, m.c.layers = a.kv_heads, a.layers
    mf.init_peaked(m, a.seed)
    with torch.no_grad():  # keep the residual stream of a deep random model in range
        for layer in m.layers:
            layer.o_proj.weight.mul_(1.0 / a.layers)
            layer.down_proj.weight.mul_(1.0 / a.layers)
    mf.write_json(os.path.join(tmp, "config.json"), cfg)
    mf.write_json(os.path.join(tmp, "generation_config.json"), {"bos_token_id": eos, "eos_token_id": eos, "transformers_version": "4.45.0"})
    mf.tokenizer_files(tmp, None, "<|endoftext|>", "<|endoftext|>", False)
    mf.export(m, "llama", os.path.join(tmp, "onnx", "model.onnx"))
    params = sum(p.numel() for p in m.parameters())
    with open(os.path.join(tmp, "bench.json"), "w", encoding="utf-8") as f:
        json.dump({"params": params, **vars(a)}, f)
    shutil.rmtree(d, ignore_errors=True)
    os.replace(tmp, d)
    print(json.dumps({"out": d, "params": params}))


if __name__ == "__main__":
    main()

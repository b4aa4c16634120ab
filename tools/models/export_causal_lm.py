#!/usr/bin/env python3
"""Export a trained causal LM to ONNX with the optimum decoder I/O convention, and write golden fixtures.

    /usr/bin/python3 tools/models/export_causal_lm.py --ckpt data/build/ckpt/lm/final.pt \
        --out data/build/export/concert-lm-small/model.onnx --golden test/fixtures/golden/concert-lm-small

Graph (opset 14, one graph for past length 0 and > 0):
  inputs  input_ids int64 [batch_size, sequence_length]
          attention_mask int64 [batch_size, past_sequence_length + sequence_length]
          position_ids int64 [batch_size, sequence_length]
          past_key_values.{i}.key / .value float32 [batch_size, num_heads, past_sequence_length, head_dim]
  outputs logits float32 [batch_size, sequence_length, vocab]
          present.{i}.key / .value float32 [batch_size, num_heads, past_sequence_length + sequence_length, head_dim]
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from causal_lm import CausalLM, load_model, positions_from_mask  # noqa: E402
from onnx_util import export_arg_parser, fix_dims, formula_spec, int_spec, materialise, run_golden_cases, write_json  # noqa: E402,F401

OPSET = 14
TOTAL = "past_sequence_length + sequence_length"


class FlatDecoder(nn.Module):
    def __init__(self, model: CausalLM):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(self.model.cfg.n_layers)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past)
        out = [logits]
        for k, v in presents:
            out += [k, v]
        return tuple(out)


def io_names(n_layers: int):
    inputs = ["input_ids", "attention_mask", "position_ids"]
    outputs = ["logits"]
    for i in range(n_layers):
        inputs += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outputs += [f"present.{i}.key", f"present.{i}.value"]
    return inputs, outputs


def export_onnx(model: CausalLM, path: str) -> None:
    import onnx

    model = model.cpu().eval()
    cfg = model.cfg
    b, t, p = 2, 3, 4
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (b, t), generator=g)
    mask = torch.ones(b, p + t, dtype=torch.long)
    pos = torch.arange(p, p + t).unsqueeze(0).expand(b, t).contiguous()
    past = [torch.randn(b, cfg.n_heads, p, cfg.head_dim, generator=g) for _ in range(2 * cfg.n_layers)]
    in_names, out_names = io_names(cfg.n_layers)
    dyn = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: TOTAL},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for n in in_names[3:]:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in out_names[1:]:
        dyn[n] = {0: "batch_size", 2: TOTAL}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(FlatDecoder(model), (ids, mask, pos, *past), path, input_names=in_names,
                          output_names=out_names, dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=False)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    # Fix the head dims that tracing left symbolic (num_heads, head_dim are constants of the model).
    def fixes(name):
        if name.startswith(("past_key_values.", "present.")):
            return {1: cfg.n_heads, 3: cfg.head_dim}
        return {2: cfg.vocab_size} if name == "logits" else {}

    if fix_dims(m, fixes):
        onnx.save(m, path)
        onnx.checker.check_model(onnx.load(path))


def _run(model: CausalLM, inputs: dict):
    cfg = model.cfg
    t = lambda a: torch.from_numpy(np.asarray(a))  # noqa: E731
    past = [(t(inputs[f"past_key_values.{i}.key"]), t(inputs[f"past_key_values.{i}.value"])) for i in range(cfg.n_layers)]
    with torch.no_grad():
        logits, presents = model(t(inputs["input_ids"]), t(inputs["attention_mask"]), t(inputs["position_ids"]), past)
    out = {"logits": logits.numpy()}
    for i, (k, v) in enumerate(presents):
        out[f"present.{i}.key"] = k.numpy()
        out[f"present.{i}.value"] = v.numpy()
    return out


def golden_cases(model: CausalLM, seed: int = 1234):
    """The golden cases: (name, input specs, concrete inputs, past_from)."""
    cfg = model.cfg
    rng = np.random.default_rng(seed)
    H, hd, L, V = cfg.n_heads, cfg.head_dim, cfg.n_layers, cfg.vocab_size
    cases = []

    def empty_past(b):
        return {f"past_key_values.{i}.{kv}": formula_spec([b, H, 0, hd], 0.0, 1.0) for i in range(L) for kv in ("key", "value")}

    # 1. No past, batch 2, no padding.
    ids = rng.integers(0, V, size=(2, 6))
    specs = {"input_ids": int_spec(ids), "attention_mask": int_spec(np.ones((2, 6), np.int64)),
             "position_ids": int_spec(np.tile(np.arange(6), (2, 1))), **empty_past(2)}
    cases.append(("nopast", specs, None))
    # 2. Synthetic random past (formula tensors), batch 2, 3 new tokens after 5 cached positions.
    ids = rng.integers(0, V, size=(2, 3))
    specs = {"input_ids": int_spec(ids), "attention_mask": int_spec(np.ones((2, 8), np.int64)),
             "position_ids": int_spec(np.tile(np.arange(5, 8), (2, 1)))}
    for i in range(L):
        for j, kv in enumerate(("key", "value")):
            specs[f"past_key_values.{i}.{kv}"] = formula_spec([2, H, 5, hd], seed=float(2 * i + j) + 0.5, scale=1.5)
    cases.append(("past", specs, None))
    # 3. Batch 2 with left padding (row 0 has 3 real tokens of 6), no past.
    ids = rng.integers(0, V, size=(2, 6))
    mask = np.ones((2, 6), np.int64)
    mask[0, :3] = 0
    ids[0, :3] = 0
    pos = positions_from_mask(torch.from_numpy(mask), 6).numpy()
    specs = {"input_ids": int_spec(ids), "attention_mask": int_spec(mask), "position_ids": int_spec(pos), **empty_past(2)}
    cases.append(("padded", specs, None))
    # 4. One step after case 3 with its presents as past (the CAD two-row batch, incremental).
    ids = rng.integers(0, V, size=(2, 1))
    mask2 = np.concatenate([mask, np.ones((2, 1), np.int64)], axis=1)
    pos2 = positions_from_mask(torch.from_numpy(mask2), 1).numpy()
    specs = {"input_ids": int_spec(ids), "attention_mask": int_spec(mask2), "position_ids": int_spec(pos2)}
    cases.append(("padded-step", specs, "padded"))
    return cases


def write_golden(model: CausalLM, out_dir: str, pack_id: str, n_sample: int = 1500, n_sample_kv: int = 120) -> int:
    model = model.cpu().eval()
    doc = {"pack": pack_id, "graph": "decoder", "tolerance": 1e-4,
           "note": "PyTorch reference outputs. Inputs with 'formula' are regenerated as scale*sin(i*0.7853981*1.618034+seed) "
                   "rounded to float32; 'pastFrom' means: use the present.* outputs of that case (as computed by the runtime) as past.",
           "cases": []}
    cases = [(name, {}, specs, past_from) for name, specs, past_from in golden_cases(model)]
    doc["cases"] = run_golden_cases(cases, lambda inputs, _: _run(model, inputs), model.cfg.n_layers, np.random.default_rng(99),
                                    n_sample, n_sample_kv)
    return write_json(os.path.join(out_dir, "decoder.json"), doc)


def main():
    args = export_arg_parser(__doc__, "ONNX file to write", "folder for golden fixtures (decoder.json)", "concert-lm-small").parse_args()
    torch.manual_seed(0)
    model, _ = load_model(args.ckpt)
    export_onnx(model, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    if args.golden:
        n = write_golden(model, args.golden, args.pack_id)
        print(f"wrote golden fixtures to {args.golden} ({n} bytes)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Export a trained simplex classifier (forward + explicit input gradient) to ONNX and write golden fixtures.

    /usr/bin/python3 tools/models/export_classifier.py --ckpt data/build/ckpt/clf-sentiment/final.pt \
        --out data/build/export/concert-clf-sentiment/classifier.onnx --golden test/fixtures/golden/concert-clf-sentiment

Graph (opset 14):
  inputs  logits float32 [batch_size, block_length, vocab]   simplex logits (softmax is taken inside)
          label  int64   [batch_size]                        the label whose log-probability is differentiated
  outputs log_probs float32 [batch_size, num_labels]
          grad      float32 [batch_size, block_length, vocab] d log p(label) / d logits, per row
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from classifier import ExportWrapper, SimplexClassifier, load_model, onehot_logits  # noqa: E402
from onnx_util import export_arg_parser, fix_dims, formula_spec, formula_tensor, int_spec, output_summary, write_json  # noqa: E402

OPSET = 14
DEFAULT_TEXT = {"sentiment": "It was a wonderful, happy evening and everyone enjoyed it.",
                "style": "This package provides a command-line tool to convert files."}


def export_onnx(model: SimplexClassifier, path: str) -> None:
    import onnx

    model = model.cpu().eval()
    V = model.cfg.vocab_size
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 4, V, generator=g) * 3
    label = torch.tensor([0, 1]) % model.cfg.num_labels
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(ExportWrapper(model), (logits, label), path, input_names=["logits", "label"],
                          output_names=["log_probs", "grad"],
                          dynamic_axes={"logits": {0: "batch_size", 1: "block_length"}, "label": {0: "batch_size"},
                                        "log_probs": {0: "batch_size"}, "grad": {0: "batch_size", 1: "block_length"}},
                          opset_version=OPSET, do_constant_folding=False)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    if fix_dims(m, lambda name: {"log_probs": {1: model.cfg.num_labels}, "grad": {2: V}}.get(name, {})):
        onnx.save(m, path)
        onnx.checker.check_model(onnx.load(path))


def golden_inputs(model: SimplexClassifier, text_ids=None):
    """(name, specs, logits, label) for the golden cases."""
    V, N = model.cfg.vocab_size, model.cfg.num_labels
    rng = np.random.default_rng(7)
    cases = []
    dims = [2, 5, V]
    spec = formula_spec(dims, 0.25, 3.0)
    label = np.array([0, 1 % N], np.int64)
    cases.append(("random", {"logits": spec, "label": int_spec(label)}, formula_tensor(dims, 0.25, 3.0), label))
    ids = np.asarray(text_ids if text_ids is not None else rng.integers(0, V, size=(1, 7)), np.int64).reshape(1, -1)
    K = 5.0
    lg = onehot_logits(torch.from_numpy(ids), V, K).numpy()
    label = np.array([N - 1], np.int64)
    cases.append(("text", {"logits": {"dtype": "float32", "dims": [1, ids.shape[1], V], "onehot": {"ids": ids.reshape(-1).tolist(), "K": K}},
                           "label": int_spec(label)}, lg, label))
    return cases


def write_golden(model: SimplexClassifier, out_dir: str, pack_id: str, text_ids=None, n_sample: int = 1500) -> int:
    model = model.cpu().eval()
    rng = np.random.default_rng(5)
    doc = {"pack": pack_id, "graph": "classifier", "tolerance": 1e-4,
           "note": "PyTorch reference outputs. 'formula' inputs: scale*sin(i*0.7853981*1.618034+seed) rounded to float32; "
                   "'onehot' inputs: K*(2*onehot(ids)-1) over the vocabulary.",
           "cases": []}
    for name, specs, logits, label in golden_inputs(model, text_ids):
        with torch.no_grad():
            lp, grad = model.forward_with_grad(torch.from_numpy(logits), torch.from_numpy(label))
        g = grad.numpy()
        top = [int(r * g.shape[-1] + a) for r, a in enumerate(np.abs(g.reshape(-1, g.shape[-1])).argmax(-1))]
        doc["cases"].append({"name": name, "inputs": specs, "outputs": {
            "log_probs": output_summary(lp.numpy(), 64, rng),
            "grad": output_summary(g, n_sample, rng, top),
        }})
    return write_json(os.path.join(out_dir, "classifier.json"), doc)


def main():
    ap = export_arg_parser(__doc__, "ONNX file to write", "folder for golden fixtures (classifier.json)")
    ap.add_argument("--text", default=None, help="a real sentence for the one-hot golden case (default: one per attribute)")
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json (default: the snapshot next to the checkpoint)")
    ap.add_argument("--build-dir", default=None, help="unused; accepted for symmetry with the other scripts")
    args = ap.parse_args()
    model, ck = load_model(args.ckpt)
    export_onnx(model, args.out)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")
    if args.golden:
        ids = None
        tok = args.tokenizer or os.path.join(os.path.dirname(os.path.abspath(args.ckpt)), "tokenizer.json")
        if os.path.exists(tok):
            import lm_data
            enc = lm_data.Encoder(tok)
            attr = ck.get("args", {}).get("attribute", "sentiment")
            text = args.text or DEFAULT_TEXT.get(attr, DEFAULT_TEXT["sentiment"])
            ids = enc.render("classify", "prompt", {"text": text})
        n = write_golden(model, args.golden, args.pack_id, ids)
        print(f"wrote golden fixtures to {args.golden} ({n} bytes)")


if __name__ == "__main__":
    main()

"""Llama-family decoders (`causal-lm`, `jpeg-lm`) as one ONNX graph in the optimum decoder layout that published
ONNX decoders use (#9): input_ids, attention_mask, position_ids, past_key_values.{i}.key/value →
logits, present.{i}.key/value; one graph for past length 0 and > 0, float32 KV cache."""
from __future__ import annotations

import os

import torch
import torch.nn as nn

from ex_common import OPSET, check, fix_dims, float_state, have_transformers, ort_run, read_json, read_weights, rel_err, save_onnx, traced_path
from ex_reference import llama as ref_llama

TOTAL = "past_sequence_length + sequence_length"


class Flat(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.n = model.config.num_hidden_layers

    def forward(self, input_ids, attention_mask, position_ids, *past):
        pairs = [(past[2 * i], past[2 * i + 1]) for i in range(self.n)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, pairs)
        return (logits, *[t for kv in presents for t in kv])


def io_names(n: int):
    ins = ["input_ids", "attention_mask", "position_ids"]
    outs = ["logits"]
    for i in range(n):
        ins += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outs += [f"present.{i}.key", f"present.{i}.value"]
    return ins, outs


def load_llama(folder: str):
    cfg = read_json(os.path.join(folder, "config.json"))
    if cfg.get("model_type", "llama") not in ("llama", "mistral"):
        raise SystemExit(f"model_type {cfg.get('model_type')!r}: the exporter handles Llama-family decoders (llama; mistral without sliding window)")
    c = ref_llama.LlamaConfig.from_dict(cfg)
    if cfg.get("model_type") == "mistral" and cfg.get("sliding_window") and cfg["sliding_window"] < c.max_position_embeddings:
        raise SystemExit("mistral with a sliding window shorter than the context is not supported")
    ref = ref_llama.LlamaForCausalLM(c)
    ref_llama.load_state(ref, float_state(read_weights(folder)))
    ref.eval()
    real = None
    if have_transformers():
        from transformers import AutoModelForCausalLM

        real = AutoModelForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
    return ref, real, cfg, c


def export_decoder(model, path: str) -> None:
    c = model.config
    b, t, p = 2, 3, 4
    g = torch.Generator().manual_seed(0)
    args = [torch.randint(0, c.vocab_size, (b, t), generator=g), torch.ones(b, p + t, dtype=torch.long),
            torch.arange(p, p + t).unsqueeze(0).expand(b, t).contiguous()]
    args += [torch.randn(b, c.num_key_value_heads, p, c.head_dim, generator=g) for _ in range(2 * c.num_hidden_layers)]
    ins, outs = io_names(c.num_hidden_layers)
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: TOTAL},
           "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
    for n in ins[3:]:
        dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in outs[1:]:
        dyn[n] = {0: "batch_size", 2: TOTAL}

    def fixes(name):
        if name.startswith(("past_key_values.", "present.")):
            return {1: c.num_key_value_heads, 3: c.head_dim}
        return {2: c.vocab_size} if name == "logits" else {}

    with traced_path(path) as traced, torch.no_grad():
        torch.onnx.export(Flat(model), tuple(args), traced, input_names=ins, output_names=outs, dynamic_axes=dyn, opset_version=OPSET,
                          do_constant_folding=False)
        fix_dims(path, fixes, src=traced)  # path (+ path_data with external data)


def _feeds(c, ids, mask, pos, past):
    f = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "position_ids": pos.numpy()}
    for i, (k, v) in enumerate(past):
        f[f"past_key_values.{i}.key"] = k.numpy()
        f[f"past_key_values.{i}.value"] = v.numpy()
    return f


def verify(ref, real, onnx_path: str, tol: float, vocab_ids: int = None) -> dict:
    """nopast (batch 2, 7 tokens), step (one token on the PyTorch cache), padded (row 0 left-padded by 3): ONNX vs
    PyTorch, relative to the largest logit; with transformers, the reference vs the real class (full sequences)."""
    c = ref.config
    rep: dict = {}
    hi = vocab_ids or c.vocab_size
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        ids = torch.randint(0, hi, (2, 7), generator=g)
        mask = torch.ones(2, 7, dtype=torch.long)
        pos = torch.arange(7).unsqueeze(0).repeat(2, 1)
        logits, presents = ref(ids, mask, pos, ref.empty_past(2))
        o = ort_run(onnx_path, _feeds(c, ids, mask, pos, ref.empty_past(2)))
        check("nopast_logits", rel_err(o["logits"], logits.numpy()), tol, rep)
        check("nopast_present", max(rel_err(o[f"present.{i}.key"], presents[i][0].numpy()) for i in range(c.num_hidden_layers)), tol, rep)
        nxt = torch.randint(0, hi, (2, 1), generator=g)
        m2 = torch.ones(2, 8, dtype=torch.long)
        p2 = torch.full((2, 1), 7, dtype=torch.long)
        l2, _ = ref(nxt, m2, p2, presents)
        o2 = ort_run(onnx_path, _feeds(c, nxt, m2, p2, presents))
        check("step_logits", rel_err(o2["logits"], l2.numpy()), tol, rep)
        full, _ = ref(torch.cat([ids, nxt], 1), m2, torch.arange(8).unsqueeze(0).repeat(2, 1), ref.empty_past(2))
        check("torch_cache_vs_full", rel_err(l2[:, -1].numpy(), full[:, -1].numpy()), 1e-4, rep)
        pm = mask.clone()
        pm[0, :3] = 0
        pp = (torch.cumsum(pm, 1) - 1).clamp(min=0)
        lp, _ = ref(ids, pm, pp, ref.empty_past(2))
        op = ort_run(onnx_path, _feeds(c, ids, pm, pp, ref.empty_past(2)))
        check("padded_logits", rel_err(op["logits"][:, 3:], lp[:, 3:].numpy()), tol, rep)
        alone, _ = ref(ids[:1, 3:], mask[:1, 3:], torch.arange(4).unsqueeze(0), ref.empty_past(1))
        check("torch_padded_vs_alone", rel_err(lp[:1, 3:].numpy(), alone.numpy()), 1e-4, rep)
        if real is not None:
            hf = real(input_ids=ids).logits
            check("reference_vs_transformers", rel_err(logits.numpy(), hf.float().numpy()), 1e-4, rep)
    rep["tolerance"] = tol
    rep["path"] = "transformers" if real is not None else "reference"
    return rep


def quantize_q4(ref, fp32_path: str, q4_path: str):
    """Weight-only int4 (MatMulNBits, block 32 where the input width allows, asymmetric, fp32 scales) of every
    Linear weight except the head, with tools/hf/make_fixtures.py's packer (as tools/jpeg/quantize.py uses it).
    Returns a copy of the model computing with the dequantised weights (the parity reference)."""
    import copy

    import onnx

    sys_path_jpeg = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "jpeg")
    import importlib.util

    spec = importlib.util.spec_from_file_location("concert_jpeg_quantize", os.path.join(sys_path_jpeg, "quantize.py"))
    qmod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qmod)
    packer = qmod.packer()
    names = {id(p): n for n, p in ref.named_parameters()}
    wanted = {"model." + names[id(m.weight)] for m in ref.modules() if isinstance(m, nn.Linear) and m is not ref.lm_head}
    q4, refs = packer.quantize_graph(onnx.load(fp32_path), "q4", select=lambda p: p in wanted)
    save_onnx(q4, q4_path)  # model_q4.onnx (+ model_q4.onnx_data): 7 B at int4 is ~4.3 GB
    deq = copy.deepcopy(ref).eval()
    params = dict(deq.named_parameters())
    with torch.no_grad():
        for name, info in refs.items():
            params[name[len("model."):]].copy_(torch.from_numpy(info["deq"]))
    return deq, len(refs)

#!/usr/bin/env python3
"""Export a trained simplex diffusion LM to two ONNX graphs that share one weights file, and write golden fixtures.

    /usr/bin/python3 tools/diffusion/export.py --ckpt data/build/ckpt/ssd-core/final.pt \
        --out data/build/export/concert-ssd-core --golden test/fixtures/golden/concert-ssd-core --pack-id concert-ssd-core

Graphs (opset 14, float32, every dimension but the model constants dynamic):

  context.onnx   encodes context tokens causally, optionally after an already encoded prefix (optimum decoder I/O):
    inputs  input_ids int64 [batch_size, sequence_length]
            attention_mask int64 [batch_size, past_sequence_length + sequence_length]   1 = token, 0 = left padding
            position_ids int64 [batch_size, sequence_length]                            real-token positions
            past_key_values.{i}.key / .value float32 [batch_size, H, past_sequence_length, head_dim]
    outputs present.{i}.key / .value float32 [batch_size, H, past_sequence_length + sequence_length, head_dim]

  denoiser.onnx  one denoising step for one block per row, reusing the encoded context:
    inputs  noisy_logits float32 [batch_size, block_length, V]       w̃_t (the graph applies the softmax)
            self_cond_logits float32 [batch_size, block_length, V]   previous step's logits; zeros = none (t = T)
            t_frac float32 [batch_size]                              t / T_decode
            attention_mask int64 [batch_size, context_length]        the context's mask (left padding 0)
            past_key_values.{i}.key / .value float32 [batch_size, H, context_length, head_dim]  = context presents
    outputs logits float32 [batch_size, block_length, V]
    Block positions are sum(attention_mask) + 0..block_length−1, computed inside the graph.

Both graphs keep their tensors in one shared external-data file, weights.bin (each distinct tensor stored once,
64-byte aligned), so the pack carries the weights once. With `--weights-dtype float16` the large weights are rounded
to float16 before anything is exported or measured and stored as float16 initializers, each read through a `Cast` to
float32 that ONNX Runtime's constant folding replaces at load: the graphs compute in float32 as before, the file is
half the size, and the golden fixtures come from the rounded model, so parity stays exact (the user model, #13).

Golden fixtures (test/fixtures/golden/<pack>/): graphs.json (per-graph cases with inputs as small integer arrays or
sin formulas, and samples of PyTorch's outputs; see tools/models/onnx_util.py) and decode.json (whole decoding runs of
tools/diffusion/decode.py under the engine's seeded noise, with the expected tokens of every step).
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(ROOT, "tools", "models"))
from model import SimplexDiffusionLM, load_model, positions_from_mask  # noqa: E402
from onnx_util import export_arg_parser, fix_dims, float_spec, formula_spec, int_spec, onnx_signature, run_golden_cases, write_json  # noqa: E402

OPSET = 14
TOTAL = "past_sequence_length + sequence_length"
WEIGHTS = "weights.bin"
INLINE_MAX_BYTES = 1024  # smaller tensors stay inside the graph


class ContextGraph(nn.Module):
    def __init__(self, model: SimplexDiffusionLM):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *flat_past):
        n = self.model.cfg.n_layers
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(n)]
        out = []
        for k, v in self.model.encode_context(input_ids, attention_mask, position_ids, past):
            out += [k, v]
        return tuple(out)


class DenoiserGraph(nn.Module):
    def __init__(self, model: SimplexDiffusionLM):
        super().__init__()
        self.model = model

    def forward(self, noisy_logits, self_cond_logits, t_frac, attention_mask, anchor_ids, *flat_past):
        n = self.model.cfg.n_layers
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(n)]
        return self.model.denoise(noisy_logits, self_cond_logits, t_frac, attention_mask, past, anchor_ids)


def past_names(n_layers: int, prefix: str):
    return [f"{prefix}.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]


def context_io(n):
    return ["input_ids", "attention_mask", "position_ids"] + past_names(n, "past_key_values"), past_names(n, "present")


def denoiser_io(n):
    return ["noisy_logits", "self_cond_logits", "t_frac", "attention_mask", "anchor_ids"] + past_names(n, "past_key_values"), ["logits"]


def export_graphs(model: SimplexDiffusionLM, out_dir: str, weights_dtype: str = "float32") -> dict:
    """Writes context.onnx, denoiser.onnx and the shared weights.bin into out_dir. Returns file sizes. With float16
    weights the model must have been rounded (round_to_float16)."""
    import onnx

    model = model.cpu().eval()
    cfg = model.cfg
    n, H, hd, V = cfg.n_layers, cfg.n_heads, cfg.head_dim, cfg.vocab_size
    os.makedirs(out_dir, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    b, s, p, B = 2, 3, 4, cfg.block_size

    def kv_fix(name):
        if name.startswith(("past_key_values.", "present.")):
            return {1: H, 3: hd}
        if name in ("logits", "noisy_logits", "self_cond_logits"):
            return {2: V}
        return {}

    with tempfile.TemporaryDirectory() as tmp:
        # context graph
        ids = torch.randint(0, V, (b, s), generator=g)
        mask = torch.ones(b, p + s, dtype=torch.long)
        pos = torch.arange(p, p + s).unsqueeze(0).expand(b, s).contiguous()
        past = [torch.randn(b, H, p, hd, generator=g) for _ in range(2 * n)]
        ins, outs = context_io(n)
        dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: TOTAL},
               "position_ids": {0: "batch_size", 1: "sequence_length"}}
        dyn.update({k: {0: "batch_size", 2: "past_sequence_length"} for k in ins[3:]})
        dyn.update({k: {0: "batch_size", 2: TOTAL} for k in outs})
        ctx_path = os.path.join(tmp, "context.onnx")
        with torch.no_grad():
            torch.onnx.export(ContextGraph(model), (ids, mask, pos, *past), ctx_path, input_names=ins, output_names=outs,
                              dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=False)
        # denoiser graph
        c = 5
        noisy = torch.randn(b, B, V, generator=g) * 5
        sc = torch.randn(b, B, V, generator=g)
        tf = torch.tensor([0.5, 0.9])
        cmask = torch.ones(b, c, dtype=torch.long)
        cpast = [torch.randn(b, H, c, hd, generator=g) for _ in range(2 * n)]
        ins, outs = denoiser_io(n)
        dyn = {"noisy_logits": {0: "batch_size", 1: "block_length"}, "self_cond_logits": {0: "batch_size", 1: "block_length"},
               "t_frac": {0: "batch_size"}, "attention_mask": {0: "batch_size", 1: "context_length"},
               "anchor_ids": {0: "batch_size"}, "logits": {0: "batch_size", 1: "block_length"}}
        dyn.update({k: {0: "batch_size", 2: "context_length"} for k in ins[5:]})
        den_path = os.path.join(tmp, "denoiser.onnx")
        with torch.no_grad():
            anchors = torch.randint(0, V, (b,), generator=g)
            torch.onnx.export(DenoiserGraph(model), (noisy, sc, tf, cmask, anchors, *cpast), den_path, input_names=ins,
                              output_names=outs, dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=False)
        models = {name: onnx.load(os.path.join(tmp, f"{name}.onnx")) for name in ("context", "denoiser")}
    for m in models.values():
        fix_dims(m, kv_fix)
    if weights_dtype == "float16":
        store_float16(models)
    for m in models.values():
        onnx.checker.check_model(m)
    return share_weights(models, out_dir)


def float16_stored(float32_bytes: int) -> bool:
    """Whether --weights-dtype float16 stores a weight of this float32 size as float16 (the large ones, which
    share_weights moves out of the graph); the one rule for rounding the model and for converting its initializers."""
    return float32_bytes > INLINE_MAX_BYTES


def round_to_float16(model: nn.Module) -> int:
    """Rounds in place every parameter that export stores as float16 (float16_stored) to the nearest float16, so that
    storing it as float16 loses nothing; returns how many were rounded."""
    n = 0
    with torch.no_grad():
        for p in model.parameters():
            if float16_stored(p.numel() * 4):
                p.copy_(p.half().float())
                n += 1
    return n


def store_float16(models: dict) -> int:
    """Turns every float16_stored float32 initializer (already float16-exact: round_to_float16) into a float16 one of
    the same name and feeds its consumers through a Cast to float32 placed first in the graph. Returns the tensors
    converted."""
    import onnx
    from onnx import helper, numpy_helper

    count = 0
    for m in models.values():
        g = m.graph
        casts, renamed = [], {}
        for init in g.initializer:
            if init.data_type != onnx.TensorProto.FLOAT:
                continue
            arr = numpy_helper.to_array(init)
            if not float16_stored(arr.nbytes):
                continue
            half = arr.astype(np.float16)
            if not np.array_equal(half.astype(np.float32), arr):
                raise SystemExit(f"{init.name} is not float16-exact: round the model first (round_to_float16)")
            init.CopyFrom(numpy_helper.from_array(half, init.name))
            renamed[init.name] = f"{init.name}_as_float32"
            casts.append(helper.make_node("Cast", [init.name], [renamed[init.name]], to=onnx.TensorProto.FLOAT,
                                          name=f"{init.name}_cast"))
        for node in g.node:
            node.input[:] = [renamed.get(i, i) for i in node.input]
        nodes = casts + list(g.node)
        del g.node[:]
        g.node.extend(nodes)
        count += len(casts)
    return count


def share_weights(models: dict, out_dir: str) -> dict:
    """Moves every initializer larger than INLINE_MAX_BYTES into one external-data file, each distinct tensor
    (by dtype, dims and bytes) once, and writes <name>.onnx files referencing it."""
    import onnx
    from onnx import numpy_helper

    store = {}  # content key -> (offset, length)
    chunks = []
    size = 0
    for m in models.values():
        for init in m.graph.initializer:
            arr = numpy_helper.to_array(init)
            raw = np.ascontiguousarray(arr).tobytes()
            if len(raw) <= INLINE_MAX_BYTES:
                continue
            key = (init.data_type, tuple(init.dims), hashlib.sha256(raw).hexdigest())
            if key not in store:
                pad = (-size) % 64
                if pad:
                    chunks.append(b"\0" * pad)
                    size += pad
                store[key] = (size, len(raw))
                chunks.append(raw)
                size += len(raw)
            off, length = store[key]
            init.ClearField("raw_data")
            for f in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
                init.ClearField(f)
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            for k, v in (("location", WEIGHTS), ("offset", str(off)), ("length", str(length))):
                e = init.external_data.add()
                e.key, e.value = k, v
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, WEIGHTS), "wb") as f:
        for ch in chunks:
            f.write(ch)
    sizes = {WEIGHTS: size}
    for name, m in models.items():
        path = os.path.join(out_dir, f"{name}.onnx")
        onnx.save(m, path)
        onnx.checker.check_model(path)  # resolves the external data next to the file
        sizes[f"{name}.onnx"] = os.path.getsize(path)
    return sizes


def signature(path: str) -> dict:
    """Graph inputs/outputs as [{name, dtype, shape}] (external data not loaded)."""
    return onnx_signature(path, load_external_data=False)


# ------------------------------------------------------------------------------------------------- golden
def _t(a):
    return torch.from_numpy(np.asarray(a))


def run_context(model, inputs: dict) -> dict:
    n = model.cfg.n_layers
    past = [(_t(inputs[f"past_key_values.{i}.key"]), _t(inputs[f"past_key_values.{i}.value"])) for i in range(n)]
    with torch.no_grad():
        pres = model.encode_context(_t(inputs["input_ids"]), _t(inputs["attention_mask"]), _t(inputs["position_ids"]), past)
    out = {}
    for i, (k, v) in enumerate(pres):
        out[f"present.{i}.key"], out[f"present.{i}.value"] = k.numpy(), v.numpy()
    return out


def run_denoiser(model, inputs: dict) -> dict:
    n = model.cfg.n_layers
    past = [(_t(inputs[f"past_key_values.{i}.key"]), _t(inputs[f"past_key_values.{i}.value"])) for i in range(n)]
    with torch.no_grad():
        lg = model.denoise(_t(inputs["noisy_logits"]), _t(inputs["self_cond_logits"]), _t(inputs["t_frac"]),
                           _t(inputs["attention_mask"]), past, _t(inputs["anchor_ids"]))
    return {"logits": lg.numpy()}


def golden_cases(model):
    """(name, graph, input specs, pastFrom) for the graph parity fixture."""
    cfg = model.cfg
    rng = np.random.default_rng(1234)
    H, hd, n, V, B = cfg.n_heads, cfg.head_dim, cfg.n_layers, cfg.vocab_size, cfg.block_size

    def empty_past(b):
        return {k: formula_spec([b, H, 0, hd], 0.0, 1.0) for k in past_names(n, "past_key_values")}

    cases = []
    ids0 = ids = rng.integers(0, V, size=(2, 7))
    cases.append(("ctx-nopast", "context", {"input_ids": int_spec(ids), "attention_mask": int_spec(np.ones((2, 7), np.int64)),
                                            "position_ids": int_spec(np.tile(np.arange(7), (2, 1))), **empty_past(2)}, None))
    # left padding: row 0 has 4 real tokens of 7
    ids = rng.integers(0, V, size=(2, 7))
    mask = np.ones((2, 7), np.int64)
    mask[0, :3] = 0
    ids[0, :3] = 0
    pos = positions_from_mask(torch.from_numpy(mask), 7).numpy()
    cases.append(("ctx-padded", "context", {"input_ids": int_spec(ids), "attention_mask": int_spec(mask),
                                            "position_ids": int_spec(pos), **empty_past(2)}, None))
    # incremental: 3 more tokens after ctx-padded (its presents as past)
    ids2 = rng.integers(0, V, size=(2, 3))
    mask2 = np.concatenate([mask, np.ones((2, 3), np.int64)], axis=1)
    pos2 = positions_from_mask(torch.from_numpy(mask2), 3).numpy()
    cases.append(("ctx-extend", "context", {"input_ids": int_spec(ids2), "attention_mask": int_spec(mask2),
                                            "position_ids": int_spec(pos2)}, "ctx-padded"))
    # denoiser on the padded context, self-conditioning given, different t per row
    cases.append(("den-padded", "denoiser", {
        "noisy_logits": formula_spec([2, B, V], 0.25, 5.0), "self_cond_logits": formula_spec([2, B, V], 1.5, 3.0),
        "t_frac": float_spec([0.9, 0.3]), "attention_mask": int_spec(mask), "anchor_ids": int_spec(ids[:, -1])}, "ctx-padded"))
    # first step (zero self-conditioning), t = 1, context of ctx-nopast
    cases.append(("den-first", "denoiser", {
        "noisy_logits": formula_spec([2, B, V], 2.0, 5.0), "self_cond_logits": formula_spec([2, B, V], 0.0, 0.0),
        "t_frac": float_spec([1.0, 1.0]), "attention_mask": int_spec(np.ones((2, 7), np.int64)), "anchor_ids": int_spec(ids0[:, -1])}, "ctx-nopast"))
    # after the incremental extension
    cases.append(("den-extended", "denoiser", {
        "noisy_logits": formula_spec([2, B, V], 3.0, 5.0), "self_cond_logits": formula_spec([2, B, V], 0.7, 4.0),
        "t_frac": float_spec([0.05, 0.55]), "attention_mask": int_spec(mask2), "anchor_ids": int_spec(ids2[:, -1])}, "ctx-extend"))
    return cases


def write_graph_golden(model, out_dir: str, pack_id: str, n_sample: int = 1200, n_sample_kv: int = 60) -> int:
    model = model.cpu().eval()
    n = model.cfg.n_layers
    rng = np.random.default_rng(99)
    doc = {"pack": pack_id, "tolerance": 1e-4,
           "note": "PyTorch reference outputs of tools/diffusion/model.py. Inputs with 'formula' are regenerated as "
                   "scale*sin(i*0.7853981*1.618034+seed) rounded to float32; 'pastFrom' names the context case whose "
                   "present.* outputs (as computed by the runtime) are fed as past_key_values.* (and, for the denoiser, "
                   "are the context state).",
           "cases": []}
    cases = [(name, {"graph": graph}, specs, past_from) for name, graph, specs, past_from in golden_cases(model)]

    def run(inputs, fields):
        return run_context(model, inputs) if fields["graph"] == "context" else run_denoiser(model, inputs)

    doc["cases"] = run_golden_cases(cases, run, n, rng, n_sample, n_sample_kv)
    return write_json(os.path.join(out_dir, "graphs.json"), doc)


def decode_prompts(enc, role: str):
    """Prompts of the whole-run fixture (token ids; built with the shared templates)."""
    if enc is None:
        return [[2, 17, 23, 4]]
    if role == "user":
        f = {"document": "Belkania is a country in Asia. Its capital is Nortraton.", "question": "What is the capital of Belkania?"}
        return [enc.render("qa", "prompt", f)]
    return [[enc.bos] + enc.tok.encode_plain(" The house was quiet, and")]


def write_decode_golden(model, out_dir: str, pack_id: str, enc=None, role: str = "core") -> int:
    """Whole decoding runs of the reference loop under the engine's seeded noise (greedy and top-p sampling)."""
    from decode import Rng, TorchDiffusion, Term, decode, seeded_gaussian

    cfg = model.cfg
    eos = enc.eos if enc is not None else 3
    pad = enc.pad if enc is not None else 0
    lm = TorchDiffusion(model.cpu().eval(), pad)
    runs = []
    settings = [dict(name="greedy-T20", steps=20, top_p=0.0, max_tokens=2 * cfg.block_size, seed=7, early_stop=0.0),
                dict(name="greedy-T10-noeos", steps=10, top_p=0.0, max_tokens=3 * cfg.block_size, seed=5, early_stop=0.0,
                     stop_at_eos=False),
                dict(name="topp0.95-T16-earlystop0.4-noeos", steps=16, top_p=0.95, max_tokens=2 * cfg.block_size, seed=11, early_stop=0.4,
                     stop_at_eos=False)]
    for prompt in decode_prompts(enc, role)[:1]:
        for st in settings:
            st = dict(st)
            stop = st.pop("stop_at_eos", True)
            r = decode(lm, [Term(list(prompt))], st["max_tokens"], st["steps"], st["top_p"], "sample", st["seed"],
                       early_stop=st["early_stop"], eos=eos if stop else None, record_steps=True)
            runs.append({**st, "prompt": [int(x) for x in prompt], "projection": "sample", "eos": eos if stop else None,
                         "expected": {"tokens": r.tokens, "blocks": r.blocks, "stoppedBy": r.stopped_by,
                                      "steps": [{"block": s.block, "t": s.t, "argmax": s.argmax, "chosen": s.chosen} for s in r.steps]}})
    probe = seeded_gaussian(7, 8, cfg.K, 0, 21)
    rng = Rng(11, 1)
    doc = {"pack": pack_id, "K": cfg.K, "blockSize": cfg.block_size, "vocabSize": cfg.vocab_size,
           "note": "Whole runs of tools/diffusion/decode.py (the algorithm of src/engine/diffusion/decode.ts) with the "
                   "engine's SeededNoise(seed) and Rng(seed, 1); one term of weight 1, self-conditioning on, no "
                   "guidance; eos null = no stop token. steps[i].argmax = argmax of the step's logits (onStep tokens); chosen = the projected "
                   "tokens (null at the last step). Runtime logits differ from PyTorch's by ~1e-5, so a sampled token "
                   "can flip where two cumulative probabilities nearly tie; greedy runs must match exactly.",
           "noiseProbe": {"seed": 7, "block": 0, "step": 21, "std": cfg.K, "first8": [float(x) for x in probe]},
           "rngProbe": {"seed": 11, "stream": 1, "first4": [rng.next() for _ in range(4)]},
           "runs": runs}
    return write_json(os.path.join(out_dir, "decode.json"), doc)


def main():
    ap = export_arg_parser(__doc__, "folder for context.onnx, denoiser.onnx, weights.bin",
                           "folder for golden fixtures (graphs.json, decode.json)", "concert-ssd-core")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights-dtype", choices=["float32", "float16"], default="float32",
                    help="how weights.bin stores the large weights (float16: rounded first, computed in float32)")
    ap.add_argument("--rounded-ckpt", default=None,
                    help="with float16: also save the rounded model as a checkpoint here (evaluate that one: it is the pack)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, ck = load_model(args.ckpt)
    if args.weights_dtype == "float16":
        print(f"rounded {round_to_float16(model)} weight tensors to float16")
        if args.rounded_ckpt:
            torch.save({**ck, "model": model.state_dict(), "rounded_to": "float16"}, args.rounded_ckpt)
    sizes = export_graphs(model, args.out, args.weights_dtype)
    print(f"wrote {args.out}: {sizes}")
    if args.golden:
        n = write_graph_golden(model, args.golden, args.pack_id)
        enc = None
        tok = os.path.join(os.path.dirname(os.path.abspath(args.ckpt)), "tokenizer.json")
        if os.path.exists(tok):
            from data import encoder_for
            enc = encoder_for(tok)
        m = write_decode_golden(model, args.golden, args.pack_id, enc, ck.get("role", "core"))
        print(f"wrote golden fixtures to {args.golden} ({n} + {m} bytes)")


if __name__ == "__main__":
    main()

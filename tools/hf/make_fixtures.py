#!/usr/bin/env python3
"""Tiny, randomly initialised decoders in the folder layout that Hugging Face publishes for ONNX decoders
(transformers.js / optimum), with golden greedy decodes from a PyTorch reference. No `transformers`: the model code
below is our own small re-implementation of the architectures' forward passes.

    /usr/bin/python3 tools/hf/make_fixtures.py --out test/fixtures/hf

Writes three folders (seeded, deterministic up to the torch version):
  qwen2-tiny/   Qwen2 (GQA 4/2 heads, RoPE, q/k/v bias, tied embeddings), ChatML chat template, EOS list
                onnx/model.onnx + onnx/model.onnx_data (fp32, external data), onnx/model_fp16.onnx (float16 KV cache
                and logits, as fp16 exports declare them)
  llama-tiny/   Llama (GQA 4/1, RoPE, no bias, untied head), base model (no chat template, add_bos_token),
                onnx/model.onnx with a num_logits_to_keep input; the head has 32 rows more than the tokenizer has ids;
                and the quantised variants, rewritten from model.onnx by this script (see "quantised variants"):
                onnx/model_quantized.onnx (int8), onnx/model_uint8.onnx (uint8), onnx/model_q4.onnx (MatMulNBits with
                zero points) and onnx/model_q4f16.onnx (symmetric MatMulNBits, float16 graph, KV cache and logits)
  gpt2-tiny/    GPT-2 (learned positions, LayerNorm, GELU), an older optimum export: onnx/decoder_model_merged.onnx
                with a use_cache_branch input (an If node: no-past branch / with-past branch) and no position_ids
and golden.json: for every folder/variant, prompts (token ids) and the PyTorch greedy continuation (argmax over the
tokenizer's ids), computed with a KV cache exactly as the graphs are fed; a quantised variant's reference computes with
the very dequantised weights (q4) or integer codes (int8/uint8) the graph holds. "batched" holds, for int8/uint8, the
two prompts decoded as one left-padded batch (DynamicQuantizeLinear gives the whole batch one scale, so there a row
does not decode as it does alone). The q4f16 graph computes in float16 and its reference in float32 with the same
float16 weights: they agree token for token where the reference's margins exceed float16 rounding (printed below).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from onnx_util import fix_dims  # noqa: E402

OPSET = 14
TOTAL = "past_sequence_length + sequence_length"
NEG = -1e9

# ---------------------------------------------------------------------------------------------- tokenizer (ByteLevel BPE)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


MERGES = [("Ġ", "t"), ("h", "e"), ("Ġ", "a"), ("i", "n"), ("Ġt", "he"), ("e", "r"), ("o", "n"), ("Ġ", "s"), ("r", "e"), ("a", "t"), ("Ġ", "w"), ("o", "r")]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MODEL_VOCAB = 288  # > the tokenizer's 271 ids: the head has padding rows, as many published models do


def tokenizer_json():
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: i for i, b in enumerate(sorted(b2u))}
    for a, b in MERGES:
        vocab[a + b] = len(vocab)
    added = []
    for s in SPECIALS:
        added.append({"id": len(vocab), "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True})
        vocab_size = len(vocab) + 1
        vocab[s] = len(vocab)
    del vocab_size
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": [f"{a} {b}" for a, b in MERGES]},
    }


TOK = tokenizer_json()
IDS = {t["content"]: t["id"] for t in TOK["added_tokens"]}
TOKENIZER_VOCAB = max(IDS.values()) + 1

# The ChatML template as Qwen2 instruct models publish it.
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def added_tokens_decoder():
    return {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")} for t in TOK["added_tokens"]}


# ---------------------------------------------------------------------------------------------- models


class Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def attend(q, k, v, mask, past_len):
    """q [b, H, t, d], k/v [b, H, T, d] (T = past_len + t), mask [b, T] → [b, H, t, d]."""
    t, T = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    qpos = torch.arange(t).unsqueeze(1) + (T - t)
    kpos = torch.arange(T).unsqueeze(0)
    causal = (kpos <= qpos).unsqueeze(0).unsqueeze(0)
    allowed = causal & (mask[:, None, None, :] > 0)
    scores = scores.masked_fill(~allowed, NEG)
    return torch.softmax(scores, dim=-1) @ v


def repeat_kv(x, n_rep):
    if n_rep == 1:
        return x
    b, h, T, d = x.shape
    return x.unsqueeze(2).expand(b, h, n_rep, T, d).reshape(b, h * n_rep, T, d)


class LlamaLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d, H, KV, hd = c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.input_layernorm = RMSNorm(d, c.rms_norm_eps)
        self.q_proj = nn.Linear(d, H * hd, bias=c.qkv_bias)
        self.k_proj = nn.Linear(d, KV * hd, bias=c.qkv_bias)
        self.v_proj = nn.Linear(d, KV * hd, bias=c.qkv_bias)
        self.o_proj = nn.Linear(H * hd, d, bias=False)
        self.post_attention_layernorm = RMSNorm(d, c.rms_norm_eps)
        self.gate_proj = nn.Linear(d, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(d, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, d, bias=False)

    def forward(self, x, mask, cos, sin, pk, pv):
        c = self.c
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(b, t, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, t, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([pk, k], dim=2)
        v = torch.cat([pv, v], dim=2)
        n_rep = c.num_attention_heads // c.num_key_value_heads
        a = attend(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), mask, pk.shape[2])
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, c.num_attention_heads * c.head_dim))
        h = self.post_attention_layernorm(x)
        x = x + self.down_proj(torch.nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))
        return x, k, v


class Llama(nn.Module):
    """Llama / Qwen2 decoder: RoPE (rotate-half), RMSNorm, SwiGLU, grouped-query attention."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([LlamaLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2).float() / c.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, input_ids, attention_mask, position_ids, past, keep=None):
        x = self.embed_tokens(input_ids)
        freqs = position_ids.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        presents = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, attention_mask, cos, sin, past[2 * i], past[2 * i + 1])
            presents += [k, v]
        x = self.norm(x)
        if keep is not None:
            t = x.shape[1]
            x = x.index_select(1, torch.arange(t - keep, t))
        return self.lm_head(x), presents


class Gpt2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        d = c.n_embd
        self.ln_1 = nn.LayerNorm(d, eps=c.layer_norm_epsilon)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=c.layer_norm_epsilon)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)

    def forward(self, x, mask, pk, pv):
        c = self.c
        b, t, d = x.shape
        hd = d // c.n_head
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, c.n_head, hd).transpose(1, 2) for z in (q, k, v))
        k = torch.cat([pk, k], dim=2)
        v = torch.cat([pv, v], dim=2)
        a = attend(q, k, v, mask, pk.shape[2])
        x = x + self.c_proj(a.transpose(1, 2).reshape(b, t, d))
        x = x + self.proj(torch.nn.functional.gelu(self.fc(self.ln_2(x)), approximate="tanh"))
        return x, k, v


class Gpt2(nn.Module):
    """GPT-2: learned absolute positions (past length + 0..t-1: this old export has no position_ids input)."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.n_positions, c.n_embd)
        self.h = nn.ModuleList([Gpt2Block(c) for _ in range(c.n_layer)])
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)

    def forward(self, input_ids, attention_mask, past):
        t = input_ids.shape[1]
        p = past[0].shape[2]
        pos = torch.arange(t).unsqueeze(0) + p
        x = self.wte(input_ids) + self.wpe(pos)
        presents = []
        for i, blk in enumerate(self.h):
            x, k, v = blk(x, attention_mask, past[2 * i], past[2 * i + 1])
            presents += [k, v]
        return self.ln_f(x) @ self.wte.weight.t(), presents


def init_peaked(model, seed):
    """Random weights large enough that greedy choices have clear margins (robust to fp16 rounding)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.startswith("ln") or ".ln_" in name:
                continue
            std = 1.0 if ("embed" in name or "wte" in name or "wpe" in name) else 0.35
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return model.eval()


# ---------------------------------------------------------------------------------------------- export


class Flat(nn.Module):
    def __init__(self, model, kind, n_layers, fp16=False, keep=False, past=True):
        super().__init__()
        self.model, self.kind, self.n, self.fp16, self.keep, self.past = model, kind, n_layers, fp16, keep, past

    def forward(self, *args):
        args = list(args)
        input_ids, mask = args[0], args[1]
        i = 2
        pos = None
        if self.kind == "llama":
            pos = args[i]
            i += 1
        if self.past:
            past = [a.float() for a in args[i:i + 2 * self.n]]
            i += 2 * self.n
        else:
            b = input_ids.shape[0]
            past = [torch.zeros(b, self.model.c.kv_heads, 0, self.model.c.head_dim) for _ in range(2 * self.n)]
        keep = args[i] if self.keep else None
        if self.kind == "llama":
            logits, presents = self.model(input_ids, mask, pos, past, keep)
        else:
            logits, presents = self.model(input_ids, mask, past)
        if self.fp16:
            return (logits.half(), *[p.half() for p in presents])
        return (logits, *presents)


def io_names(kind, n, keep=False, past=True):
    ins = ["input_ids", "attention_mask"] + (["position_ids"] if kind == "llama" else [])
    outs = ["logits"]
    for i in range(n):
        if past:
            ins += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outs += [f"present.{i}.key", f"present.{i}.value"]
    if keep:
        ins.append("num_logits_to_keep")
    return ins, outs


def export(model, kind, path, fp16=False, keep=False, past=True, external=False):
    import onnx

    c = model.c
    b, t, p = 2, 3, 4
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, TOKENIZER_VOCAB, (b, t), generator=g)
    args = [ids, torch.ones(b, (p if past else 0) + t, dtype=torch.long)]
    if kind == "llama":
        args.append(torch.arange(p, p + t).unsqueeze(0).expand(b, t).contiguous())
    if past:
        dt = torch.float16 if fp16 else torch.float32
        args += [torch.randn(b, c.kv_heads, p, c.head_dim, generator=g).to(dt) for _ in range(2 * c.layers)]
    if keep:
        args.append(torch.tensor(1, dtype=torch.long))
    ins, outs = io_names(kind, c.layers, keep, past)
    total = TOTAL if past else "sequence_length"
    dyn = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: total},
           "logits": {0: "batch_size", 1: "sequence_length" if not keep else "num_logits"}}
    if kind == "llama":
        dyn["position_ids"] = {0: "batch_size", 1: "sequence_length"}
    for n in ins:
        if n.startswith("past_key_values."):
            dyn[n] = {0: "batch_size", 2: "past_sequence_length"}
    for n in outs[1:]:
        dyn[n] = {0: "batch_size", 2: total}
    with torch.no_grad():
        torch.onnx.export(Flat(model, kind, c.layers, fp16, keep, past), tuple(args), path, input_names=ins, output_names=outs,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=False)
    m = onnx.load(path)

    def fixes(name):
        if name.startswith(("past_key_values.", "present.")):
            return {1: c.kv_heads, 3: c.head_dim}
        return {2: MODEL_VOCAB} if name == "logits" else {}

    fix_dims(m, fixes)
    onnx.checker.check_model(m)
    if external:
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=os.path.basename(path) + "_data", size_threshold=512)
    else:
        onnx.save(m, path)
    return m


def merge_use_cache_branch(no_past, with_past, path):
    """optimum's merged decoder: one graph, input use_cache_branch (bool [1]) choosing the with-past or no-past body."""
    import onnx
    from onnx import helper, TensorProto

    outer = {i.name for i in with_past.graph.input}

    def branch(m, prefix):
        g = m.graph
        ren = lambda n: n if (n in outer or n == "") else prefix + n  # noqa: E731
        nodes = []
        for nd in g.node:
            nn_ = onnx.NodeProto()
            nn_.CopyFrom(nd)
            nn_.name = prefix + nd.name
            del nn_.input[:]
            nn_.input.extend(ren(x) for x in nd.input)
            del nn_.output[:]
            nn_.output.extend(ren(x) for x in nd.output)
            nodes.append(nn_)
        inits = []
        for t in g.initializer:
            t2 = onnx.TensorProto()
            t2.CopyFrom(t)
            t2.name = prefix + t.name
            inits.append(t2)
        outs = []
        for o in g.output:
            v = onnx.ValueInfoProto()
            v.CopyFrom(o)
            v.name = prefix + o.name
            outs.append(v)
        return helper.make_graph(nodes, prefix + "body", [], outs, inits)

    then_g = branch(with_past, "with_past/")
    else_g = branch(no_past, "no_past/")
    flag = helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])
    node = helper.make_node("If", ["use_cache_branch"], [o.name for o in with_past.graph.output], name="optimum::if", then_branch=then_g, else_branch=else_g)
    graph = helper.make_graph([node], "merged", list(with_past.graph.input) + [flag], list(with_past.graph.output))
    m = helper.make_model(graph, opset_imports=with_past.opset_import, producer_name="concert-fixtures")
    m.ir_version = with_past.ir_version
    onnx.checker.check_model(m)
    onnx.save(m, path)


# ---------------------------------------------------------------------------------------------- quantised variants
# Written by this script from the operators' specifications (ONNX operators.md; ONNX Runtime docs/ContribOperators.md),
# not with onnxruntime.quantization: every MatMul whose B is a weight (an initializer, or torch's Transpose of one) is
# rewritten in place of the fp32 graph.
#   int8 / uint8  onnx/model_quantized.onnx / onnx/model_uint8.onnx, the node pattern of optimum's dynamic
#                 quantisation (onnxruntime.quantization.quantize_dynamic): A → DynamicQuantizeLinear (uint8, per
#                 tensor, range widened to include 0) → MatMulInteger(A_q, W_q, A_zp, W_zp) → Cast(float) →
#                 Mul(·, A_scale · W_scale). Weights per tensor and within 7 bits, as quantize_dynamic(reduce_range=
#                 True) writes them: int8 symmetric (codes −63..63, zero point 0) or uint8 asymmetric (codes 0..127).
#                 With full 8-bit weights ONNX Runtime's fused kernels (DynamicQuantizeMatMul, graph optimisation level
#                 "extended" and up) are not exact on x64: uint8 weights 0..255 gave logits off by up to 0.08 in batched
#                 decode steps (ONNX Runtime 1.30, AVX-512 VNNI CPU) while the unfused graph matched the reference.
#   q4            onnx/model_q4.onnx: com.microsoft MatMulNBits, bits 4. Y = A · Wᵀ with W [N, K] dequantised per block
#                 of block_size along K as (q − zero_point) · scale. B is uint8 [N, n_blocks, block_size / 2]: element k
#                 of a block sits in byte k // 2, low nibble for even k, high nibble for odd k; scales [N, n_blocks];
#                 zero_points (optional; default 8) uint8 [N, ceil(n_blocks / 2)], packed the same way along the
#                 blocks. Here asymmetric, with zero points.
#   q4f16         onnx/model_q4f16.onnx: symmetric q4 (no zero points) with float16 scales, and the whole graph in float16
#                 (activations, KV cache, logits), as published q4f16 exports are.
Q4_BITS = 4
FP16_MAX = 65504.0


def q4_block_size(k):
    """32 as published exports use; 16 (the operator's smallest) where K is not a multiple of 32 (tiny dims)."""
    return 32 if k % 32 == 0 else 16


def q4_pack(w, block_size, symmetric, scale_dtype=None):
    """Blockwise 4-bit quantisation of w [N, K] (rows: output features) for MatMulNBits.

    Returns (B uint8 [N, n_blocks, block_size // 2], scales [N, n_blocks] in scale_dtype (float32 by default),
    zero_points uint8 [N, ceil(n_blocks / 2)] or None when symmetric, the dequantised weights [N, K] float32: exactly
    (q − zero_point) · scale with the stored scale). K is zero-padded to whole blocks. Symmetric: codes 0..15 around
    the default zero point 8, scale = max|w| / 7. Asymmetric: the block's range widened to include 0, scale = range
    / 15, zero point = round(−min / scale)."""
    import numpy as np

    scale_dtype = scale_dtype or np.float32
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    if block_size < 16 or block_size & (block_size - 1):
        raise ValueError(f"block_size must be a power of two >= 16 (got {block_size})")
    nb = -(-k // block_size)
    blocks = np.zeros((n, nb * block_size), np.float32)
    blocks[:, :k] = w
    blocks = blocks.reshape(n, nb, block_size)
    if symmetric:
        scale = (np.abs(blocks).max(-1) / 7.0).astype(scale_dtype)
        zp = np.full((n, nb), 8, np.int32)
    else:
        lo = np.minimum(blocks.min(-1), 0.0)
        hi = np.maximum(blocks.max(-1), 0.0)
        scale = ((hi - lo) / 15.0).astype(scale_dtype)
    s = scale.astype(np.float32)
    safe = np.where(s == 0, np.float32(1), s)
    if not symmetric:
        zp = np.clip(np.round(-lo / safe), 0, 15).astype(np.int32)
    q = np.clip(np.round(blocks / safe[..., None]) + zp[..., None], 0, 15).astype(np.uint8)
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    deq = ((q.astype(np.float32) - zp[..., None].astype(np.float32)) * s[..., None]).reshape(n, nb * block_size)[:, :k]
    zpp = None
    if not symmetric:
        z = zp.astype(np.uint8)
        if nb % 2:
            z = np.concatenate([z, np.zeros((n, 1), np.uint8)], axis=1)
        zpp = (z[:, 0::2] | (z[:, 1::2] << 4)).astype(np.uint8)
    return packed, scale, zpp, np.ascontiguousarray(deq, dtype=np.float32)


def int8_pack(w, signed):
    """Per-tensor quantisation of w (any shape) for MatMulInteger, within 7 bits (see above): (q int8/uint8, scale
    float32, zero point of q's dtype, dequantised (q − zp) · scale float32). int8: symmetric, codes −63..63; uint8:
    asymmetric, codes 0..127 over the range widened to include 0."""
    import numpy as np

    w = np.asarray(w, dtype=np.float32)
    if signed:
        scale = np.float32(np.abs(w).max() / 63.0)
        zp = 0
        q = np.clip(np.round(w / scale), -63, 63).astype(np.int8)
    else:
        lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
        scale = np.float32((hi - lo) / 127.0)
        zp = int(np.clip(np.round(-lo / scale), 0, 127))
        q = np.clip(np.round(w / scale) + zp, 0, 127).astype(np.uint8)
    deq = ((q.astype(np.float32) - np.float32(zp)) * scale).astype(np.float32)
    return q, scale, (np.int8 if signed else np.uint8)(zp), deq


def _weight_matmuls(graph):
    """{MatMul node name: (param, W [N, K] float32)} for MatMuls whose B is a weight: an initializer [K, N], or, as
    torch exports nn.Linear without constant folding, Transpose(perm [1, 0]) of an initializer [N, K]."""
    from onnx import numpy_helper

    inits = {t.name: t for t in graph.initializer}
    transposed = {}
    for n in graph.node:
        perm = [list(a.ints) for a in n.attribute if a.name == "perm"]
        if n.op_type == "Transpose" and n.input[0] in inits and perm == [[1, 0]]:
            transposed[n.output[0]] = n.input[0]
    out = {}
    for n in graph.node:
        if n.op_type != "MatMul":
            continue
        b = n.input[1]
        if b in transposed:
            out[n.name] = (transposed[b], numpy_helper.to_array(inits[transposed[b]]).astype("float32"))
        elif b in inits and len(inits[b].dims) == 2:
            out[n.name] = (b, numpy_helper.to_array(inits[b]).astype("float32").T.copy())
    return out


def _prune(graph):
    """Drops nodes whose outputs nothing reads (the orphaned weight Transposes) and initializers nothing reads."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        keep = [n for n in graph.node if any(o in used for o in n.output)]
        if len(keep) == len(graph.node):
            break
        del graph.node[:]
        graph.node.extend(keep)
    used = {i for n in graph.node for i in n.input}
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)


def quantize_graph(model, mode, fp16=False, select=None):
    """A quantised copy of the fp32 decoder `model` (onnx.ModelProto, external data loaded) and, for the PyTorch
    reference, {param: {"deq": W [N, K]} (q4) or {"int8": (q [N, K], zero point, scale)}} of every weight rewritten.
    mode: "q4" (asymmetric, zero points), "q4-sym" (symmetric), "int8" or "uint8"; fp16: float16 scales; select:
    optional predicate on the weight's initializer name, MatMuls whose weight it rejects stay float32 (default: all
    weight MatMuls are rewritten). Also used by tools/jpeg/quantize.py."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    weights = _weight_matmuls(g)
    if select is not None:
        weights = {k: v for k, v in weights.items() if select(v[0])}
    refs = {}
    nodes = []
    quantized_inputs = {}
    for n in g.node:
        if n.name not in weights:
            nodes.append(n)
            continue
        param, w = weights[n.name]
        nn_, kk = w.shape
        a, y = n.input[0], n.output[0]
        if mode in ("q4", "q4-sym"):
            bs = q4_block_size(kk)
            packed, scales, zps, deq = q4_pack(w, bs, symmetric=(mode == "q4-sym"), scale_dtype=np.float16 if fp16 else np.float32)
            ins = [a, f"{param}_Q4", f"{param}_scales"]
            if param not in refs:
                g.initializer.append(numpy_helper.from_array(packed, ins[1]))
                g.initializer.append(numpy_helper.from_array(scales, ins[2]))
                if zps is not None:
                    g.initializer.append(numpy_helper.from_array(zps, f"{param}_zero_points"))
            if zps is not None:
                ins.append(f"{param}_zero_points")
            nodes.append(helper.make_node("MatMulNBits", ins, [y], name=f"{n.name}_Q4", domain="com.microsoft", K=kk, N=nn_, bits=Q4_BITS, block_size=bs))
            refs[param] = {"deq": deq}
        elif mode in ("int8", "uint8"):
            q, scale, zp, _ = int8_pack(w.T, signed=(mode == "int8"))  # B is [K, N]
            if param not in refs:
                g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(q), f"{param}_quantized"))
                g.initializer.append(numpy_helper.from_array(np.array(scale, np.float32), f"{param}_scale"))
                g.initializer.append(numpy_helper.from_array(np.array(zp), f"{param}_zero_point"))
            if a not in quantized_inputs:
                quantized_inputs[a] = (f"{a}_quantized", f"{a}_scale", f"{a}_zero_point")
                nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(quantized_inputs[a]), name=f"{a}_QuantizeLinear"))
            aq, ascale, azp = quantized_inputs[a]
            nodes.append(helper.make_node("MatMulInteger", [aq, f"{param}_quantized", azp, f"{param}_zero_point"], [f"{y}_int32"], name=f"{n.name}_quant"))
            nodes.append(helper.make_node("Cast", [f"{y}_int32"], [f"{y}_float"], name=f"{n.name}_cast", to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Mul", [ascale, f"{param}_scale"], [f"{y}_scale"], name=f"{n.name}_scales_mul"))
            nodes.append(helper.make_node("Mul", [f"{y}_float", f"{y}_scale"], [y], name=f"{n.name}_output_scale_mul"))
            refs[param] = {"int8": (q.T.astype("float64"), float(zp), scale)}
        else:
            raise ValueError(mode)
    del g.node[:]
    g.node.extend(nodes)
    _prune(g)
    if mode.startswith("q4") and not any(o.domain == "com.microsoft" for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    if fp16:
        to_float16(m)
    del g.value_info[:]
    onnx.checker.check_model(m)
    return m, refs


def to_float16(m):
    """Every float32 tensor of the graph as float16 (weights, constants, casts, inputs and outputs), values clipped to
    ±65504 (the attention masks' −1e9 becomes the float16 minimum). ONNX Runtime's CPU provider runs the float16 nodes
    that have no float16 kernel in float32 between Casts it inserts itself."""
    import numpy as np
    from onnx import TensorProto, numpy_helper

    def half(t):
        a = numpy_helper.to_array(t)
        h = numpy_helper.from_array(np.clip(a, -FP16_MAX, FP16_MAX).astype(np.float16), t.name)
        t.CopyFrom(h)

    g = m.graph
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT:
            half(t)
    for n in g.node:
        for a in n.attribute:
            if a.name == "to" and n.op_type == "Cast" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16
            if a.type == a.TENSOR and a.t.data_type == TensorProto.FLOAT:
                half(a.t)
            if a.type == a.GRAPH:
                raise ValueError("to_float16 handles graphs without subgraphs")
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.FLOAT16


class QuantLinear(nn.Module):
    """The PyTorch reference of a rewritten MatMul (+ bias Add): q4, the dequantised weights exactly as stored;
    int8/uint8, the integer product of DynamicQuantizeLinear's activation codes and the weight codes (exact in
    float64), times A_scale · W_scale in float32."""

    def __init__(self, bias, deq=None, int8=None):
        super().__init__()
        self.bias = bias
        self.deq = None if deq is None else torch.from_numpy(deq)
        self.int8 = int8

    def forward(self, x):
        if self.int8 is None:
            y = x @ self.deq.t()
        else:
            q, zp, scale = self.int8
            xq, xzp, xscale = dynamic_quantize_linear(x)
            acc = (xq.double() - xzp) @ (torch.from_numpy(q) - zp).t()
            y = acc.float() * (xscale * torch.tensor(scale, dtype=torch.float32))
        return y if self.bias is None else y + self.bias


def dynamic_quantize_linear(x):
    """ONNX DynamicQuantizeLinear in float32: uint8 codes of the whole tensor (every row of a batch together), scale =
    (max(x, 0) − min(x, 0)) / 255, zero point = round(−min / scale); returns (codes, zero point, scale)."""
    lo = torch.clamp(x.min(), max=0.0)
    hi = torch.clamp(x.max(), min=0.0)
    scale = (hi - lo) / 255.0
    zp = torch.clamp(torch.round(-lo / scale), 0, 255)
    q = torch.clamp(torch.round(x / scale) + zp, 0, 255)
    return q, zp.double(), scale


def reference_model(model, refs, fp16=False):
    """A copy of `model` whose nn.Linear layers compute as the quantised graph's nodes do (refs of quantize_graph);
    with fp16, its other weights rounded to float16 as the q4f16 graph stores them."""
    import copy

    ref = copy.deepcopy(model)
    names = {id(p): n for n, p in ref.named_parameters()}
    for path, mod in list(ref.named_modules()):
        if not isinstance(mod, nn.Linear):
            continue
        info = refs.pop("model." + names[id(mod.weight)])
        bias = mod.bias
        if fp16 and bias is not None:
            bias = nn.Parameter(bias.detach().half().float())
        parent = ref.get_submodule(path.rsplit(".", 1)[0]) if "." in path else ref
        setattr(parent, path.rsplit(".", 1)[-1], QuantLinear(bias, **info))
    if refs:
        raise ValueError(f"weights without a module: {sorted(refs)}")
    if fp16:
        with torch.no_grad():
            for p in ref.parameters():
                p.copy_(p.half().float())
            for name, b in ref.named_buffers():
                b.copy_(b.half().float())
    return ref.eval()


# ---------------------------------------------------------------------------------------------- reference decode


@torch.no_grad()
def greedy(model, kind, prompt, steps, fp16=False, keep=None):
    """Single-row greedy decode with a KV cache, fed exactly as the ONNX graphs are; argmax over the tokenizer's ids.
    keep: num_logits_to_keep as Concert feeds it (1) where the graph has that input."""
    c = model.c
    past = [torch.zeros(1, c.kv_heads, 0, c.head_dim) for _ in range(2 * c.layers)]
    ids = torch.tensor([prompt])
    out = []
    margins = []
    n = 0
    for _ in range(steps):
        t = ids.shape[1]
        mask = torch.ones(1, n + t, dtype=torch.long)
        if kind == "llama":
            logits, pres = model(ids, mask, torch.arange(n, n + t).unsqueeze(0), past, keep)
        else:
            logits, pres = model(ids, mask, past)
        if fp16:
            logits = logits.half().float()
            pres = [p.half().float() for p in pres]
        last = logits[0, -1, :TOKENIZER_VOCAB]
        top = torch.topk(last, 2).values
        margins.append(float(top[0] - top[1]))
        nxt = int(last.argmax())
        out.append(nxt)
        past = pres
        n += t
        ids = torch.tensor([[nxt]])
    return out, min(margins)


@torch.no_grad()
def greedy_left_padded(model, prompts, steps, pad, fp16=False, keep=None):
    """Greedy decode of several rows as one batch, fed as Concert feeds a graph with position_ids (src/runtime/
    padding.ts): left-padded with `pad`, mask 0 and position 0 under the padding, then one token per row per step.
    Needed where rows interact: DynamicQuantizeLinear quantises the whole batch tensor with one scale."""
    c = model.c
    rows, length = len(prompts), max(len(p) for p in prompts)
    ids = torch.full((rows, length), pad, dtype=torch.long)
    mask = torch.zeros(rows, length, dtype=torch.long)
    pos = torch.zeros(rows, length, dtype=torch.long)
    for r, p in enumerate(prompts):
        ids[r, length - len(p):] = torch.tensor(p)
        mask[r, length - len(p):] = 1
        pos[r, length - len(p):] = torch.arange(len(p))
    nxt_pos = torch.tensor([[len(p)] for p in prompts])
    past = [torch.zeros(rows, c.kv_heads, 0, c.head_dim) for _ in range(2 * c.layers)]
    out = [[] for _ in prompts]
    margins = []
    for _ in range(steps):
        logits, pres = model(ids, mask, pos, past, keep)
        if fp16:
            logits = logits.half().float()
            pres = [p.half().float() for p in pres]
        last = logits[:, -1, :TOKENIZER_VOCAB]
        top = torch.topk(last, 2, dim=-1).values
        margins.append(float((top[:, 0] - top[:, 1]).min()))
        nxt = last.argmax(-1)
        for r in range(rows):
            out[r].append(int(nxt[r]))
        past = pres
        ids = nxt.unsqueeze(1)
        mask = torch.cat([mask, torch.ones(rows, 1, dtype=torch.long)], dim=1)
        pos = nxt_pos
        nxt_pos = nxt_pos + 1
    return out, min(margins)


# ---------------------------------------------------------------------------------------------- folders


def write_json(path, obj):
    with open(path, "w", encoding="utf8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def tokenizer_files(d, chat, bos, eos, add_bos):
    write_json(os.path.join(d, "tokenizer.json"), TOK)
    tc = {"add_bos_token": add_bos, "add_prefix_space": False, "added_tokens_decoder": added_tokens_decoder(),
          "bos_token": bos, "clean_up_tokenization_spaces": False, "eos_token": eos if chat is None else {"content": eos, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
          "errors": "replace", "model_max_length": 256, "pad_token": "<|endoftext|>", "split_special_tokens": False,
          "tokenizer_class": "Qwen2Tokenizer" if chat else "GPT2Tokenizer", "unk_token": None}
    if chat is not None:
        tc["chat_template"] = chat
        tc["additional_special_tokens"] = ["<|im_start|>", "<|im_end|>"]
    write_json(os.path.join(d, "tokenizer_config.json"), tc)
    stm = {"eos_token": eos, "pad_token": "<|endoftext|>"}
    if bos:
        stm["bos_token"] = bos
    if chat is not None:
        stm["additional_special_tokens"] = ["<|im_start|>", "<|im_end|>"]
    write_json(os.path.join(d, "special_tokens_map.json"), stm)


# Quantised variants of a folder: dtype → (file, quantize_graph mode, float16 graph).
QUANTIZED = {
    "int8": ("model_quantized.onnx", "int8", False),
    "uint8": ("model_uint8.onnx", "uint8", False),
    "q4": ("model_q4.onnx", "q4", False),
    "q4f16": ("model_q4f16.onnx", "q4-sym", True),
}


def write_quantized(d, model, graph, golden, name, keep=None):
    """Writes every QUANTIZED variant of the fp32 `graph` into d/onnx and its PyTorch reference decodes into golden
    (for int8/uint8 also the two prompts decoded as one left-padded batch: their activations share one scale)."""
    import onnx

    for dtype, (file, mode, fp16) in QUANTIZED.items():
        q, refs = quantize_graph(graph, mode, fp16=fp16)
        onnx.save(q, os.path.join(d, "onnx", file))
        ref = reference_model(model, refs, fp16=fp16)
        golden["models"][name][dtype] = [greedy(ref, "llama", p, STEPS, fp16=fp16, keep=keep) for p in PROMPTS]
        if mode in ("int8", "uint8"):
            golden["batched"].setdefault(name, {})[dtype] = greedy_left_padded(ref, PROMPTS, STEPS, IDS["<|endoftext|>"], keep=keep)


PROMPTS = [[IDS["<|im_start|>"], 117, 115, 101, 114, 198, 84, 104, 101], [72, 101, 108, 108, 111, 44, 256, 119, 111, 114, 108, 100, 33, 32, 73, 116]]
STEPS = 12


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="test/fixtures/hf")
    a = ap.parse_args()
    torch.manual_seed(0)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    golden = {"tokenizerVocab": TOKENIZER_VOCAB, "modelVocab": MODEL_VOCAB, "steps": STEPS, "prompts": PROMPTS, "models": {}, "batched": {}}

    # --- qwen2-tiny: fp32 (external data) + fp16 KV/logits
    d = os.path.join(a.out, "qwen2-tiny")
    os.makedirs(os.path.join(d, "onnx"))
    qc = dict(model_type="qwen2", architectures=["Qwen2ForCausalLM"], hidden_size=32, intermediate_size=64, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-6, rope_theta=10000.0,
              vocab_size=MODEL_VOCAB, tie_word_embeddings=True, bos_token_id=IDS["<|endoftext|>"], eos_token_id=IDS["<|im_end|>"],
              hidden_act="silu", torch_dtype="float32", use_cache=True, transformers_version="4.45.0")
    m = Llama(Cfg(**qc, head_dim=8, qkv_bias=True))
    m.c.kv_heads, m.c.layers = 2, 2
    init_peaked(m, 1)
    write_json(os.path.join(d, "config.json"), qc)
    write_json(os.path.join(d, "generation_config.json"), {"bos_token_id": IDS["<|endoftext|>"], "eos_token_id": [IDS["<|im_end|>"], IDS["<|endoftext|>"]], "pad_token_id": IDS["<|endoftext|>"], "do_sample": False, "transformers_version": "4.45.0"})
    tokenizer_files(d, CHATML, None, "<|im_end|>", False)
    export(m, "llama", os.path.join(d, "onnx", "model.onnx"), external=True)
    export(m, "llama", os.path.join(d, "onnx", "model_fp16.onnx"), fp16=True)
    golden["models"]["qwen2-tiny"] = {v: [greedy(m, "llama", p, STEPS, fp16=(v == "fp16")) for p in PROMPTS] for v in ("fp32", "fp16")}

    # --- llama-tiny: base model, num_logits_to_keep, untied head with loud padding rows
    d = os.path.join(a.out, "llama-tiny")
    os.makedirs(os.path.join(d, "onnx"))
    lc = dict(model_type="llama", architectures=["LlamaForCausalLM"], hidden_size=32, intermediate_size=48, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=1, head_dim=8, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=500000.0,
              vocab_size=MODEL_VOCAB, tie_word_embeddings=False, bos_token_id=IDS["<|endoftext|>"], eos_token_id=IDS["<|endoftext|>"],
              hidden_act="silu", torch_dtype="float32", transformers_version="4.45.0")
    m = Llama(Cfg(**lc, qkv_bias=False))
    m.c.kv_heads, m.c.layers = 1, 2
    init_peaked(m, 2)
    with torch.no_grad():
        m.lm_head.weight[TOKENIZER_VOCAB:] *= 6.0  # ids the tokenizer does not have would often win unless masked
    write_json(os.path.join(d, "config.json"), lc)
    write_json(os.path.join(d, "generation_config.json"), {"bos_token_id": IDS["<|endoftext|>"], "eos_token_id": IDS["<|endoftext|>"], "transformers_version": "4.45.0"})
    tokenizer_files(d, None, "<|endoftext|>", "<|endoftext|>", True)
    graph = export(m, "llama", os.path.join(d, "onnx", "model.onnx"), keep=True)
    golden["models"]["llama-tiny"] = {"fp32": [greedy(m, "llama", p, STEPS) for p in PROMPTS]}
    write_quantized(d, m, graph, golden, "llama-tiny", keep=1)

    # --- gpt2-tiny: merged decoder with use_cache_branch, no position_ids
    d = os.path.join(a.out, "gpt2-tiny")
    os.makedirs(os.path.join(d, "onnx"))
    gc = dict(model_type="gpt2", architectures=["GPT2LMHeadModel"], n_embd=32, n_head=4, n_layer=2, n_positions=128, n_ctx=128,
              layer_norm_epsilon=1e-5, vocab_size=MODEL_VOCAB, bos_token_id=IDS["<|endoftext|>"], eos_token_id=IDS["<|endoftext|>"],
              activation_function="gelu_new", transformers_version="4.33.0")
    m = Gpt2(Cfg(**gc))
    m.c.kv_heads, m.c.layers, m.c.head_dim = 4, 2, 8
    init_peaked(m, 3)
    write_json(os.path.join(d, "config.json"), gc)
    write_json(os.path.join(d, "generation_config.json"), {"bos_token_id": IDS["<|endoftext|>"], "eos_token_id": IDS["<|endoftext|>"], "transformers_version": "4.33.0"})
    tokenizer_files(d, None, "<|endoftext|>", "<|endoftext|>", False)
    tmp_np, tmp_wp = os.path.join(d, "np.onnx"), os.path.join(d, "wp.onnx")
    no_past = export(m, "gpt2", tmp_np, past=False)
    with_past = export(m, "gpt2", tmp_wp)
    os.remove(tmp_np)
    os.remove(tmp_wp)
    merge_use_cache_branch(no_past, with_past, os.path.join(d, "onnx", "decoder_model_merged.onnx"))
    golden["models"]["gpt2-tiny"] = {"fp32": [greedy(m, "gpt2", p, STEPS) for p in PROMPTS]}

    for name, variants in golden["models"].items():
        for v, runs in variants.items():
            print(f"{name}/{v}: min greedy margin {min(r[1] for r in runs):.3f}")
            variants[v] = [r[0] for r in runs]
    for name, variants in golden["batched"].items():
        for v, (rows, margin) in variants.items():
            print(f"{name}/{v} (rows batched): min greedy margin {margin:.3f}")
            variants[v] = rows
    write_json(os.path.join(a.out, "golden.json"), golden)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(a.out) for f in fs)
    print(f"wrote {a.out} ({total} bytes)")


if __name__ == "__main__":
    main()

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
                onnx/model.onnx with a num_logits_to_keep input; the head has 32 rows more than the tokenizer has ids
  gpt2-tiny/    GPT-2 (learned positions, LayerNorm, GELU), an older optimum export: onnx/decoder_model_merged.onnx
                with a use_cache_branch input (an If node: no-past branch / with-past branch) and no position_ids
and golden.json: for every folder/variant, prompts (token ids) and the PyTorch greedy continuation (argmax over the
tokenizer's ids), computed with a KV cache exactly as the graphs are fed.
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


# ---------------------------------------------------------------------------------------------- reference decode


@torch.no_grad()
def greedy(model, kind, prompt, steps, fp16=False):
    """Single-row greedy decode with a KV cache, fed exactly as the ONNX graphs are; argmax over the tokenizer's ids."""
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
            logits, pres = model(ids, mask, torch.arange(n, n + t).unsqueeze(0), past)
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


PROMPTS = [[IDS["<|im_start|>"], 117, 115, 101, 114, 198, 84, 104, 101], [72, 101, 108, 108, 111, 44, 256, 119, 111, 114, 108, 100, 33, 32, 73, 116]]
STEPS = 12


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="test/fixtures/hf")
    a = ap.parse_args()
    torch.manual_seed(0)
    if os.path.isdir(a.out):
        shutil.rmtree(a.out)
    golden = {"tokenizerVocab": TOKENIZER_VOCAB, "modelVocab": MODEL_VOCAB, "steps": STEPS, "prompts": PROMPTS, "models": {}}

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
    export(m, "llama", os.path.join(d, "onnx", "model.onnx"), keep=True)
    golden["models"]["llama-tiny"] = {"fp32": [greedy(m, "llama", p, STEPS) for p in PROMPTS]}

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
    write_json(os.path.join(a.out, "golden.json"), golden)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(a.out) for f in fs)
    print(f"wrote {a.out} ({total} bytes)")


if __name__ == "__main__":
    main()

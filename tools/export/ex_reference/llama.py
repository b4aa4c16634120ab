"""Llama decoder (RoPE rotate-half, RMSNorm, SwiGLU, grouped-query attention) with Hugging Face parameter names
(`model.embed_tokens`, `model.layers.{i}.self_attn.{q,k,v,o}_proj`, `model.layers.{i}.mlp.{gate,up,down}_proj`,
`model.layers.{i}.{input,post_attention}_layernorm`, `model.norm`, `lm_head`).

`forward(input_ids, attention_mask, position_ids, past)` works like the optimum decoder graph: `past` is a list of
(key, value) tensors [batch, kv_heads, past_len, head_dim] per layer, `attention_mask` covers past + new tokens
(1 = token, 0 = left padding); returns (logits [batch, new, vocab], presents). Only the default RoPE (no scaling).
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG = -1e9


class LlamaConfig(SimpleNamespace):
    DEFAULTS = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                    num_key_value_heads=None, head_dim=None, max_position_embeddings=4096, rms_norm_eps=1e-6, rope_theta=10000.0,
                    rope_scaling=None, tie_word_embeddings=False, attention_bias=False, mlp_bias=False, hidden_act="silu",
                    bos_token_id=1, eos_token_id=2, pad_token_id=None)

    @classmethod
    def from_dict(cls, d: dict) -> "LlamaConfig":
        kw = dict(cls.DEFAULTS)
        kw.update({k: v for k, v in d.items() if not k.startswith("_")})
        if kw["num_key_value_heads"] is None:
            kw["num_key_value_heads"] = kw["num_attention_heads"]
        if kw["head_dim"] is None:
            kw["head_dim"] = kw["hidden_size"] // kw["num_attention_heads"]
        if kw["rope_scaling"] not in (None, {}) and (kw["rope_scaling"] or {}).get("rope_type", kw["rope_scaling"].get("type")) != "default":
            raise ValueError(f"rope_scaling {kw['rope_scaling']} is not supported by the reference Llama")
        if kw["hidden_act"] != "silu":
            raise ValueError(f"hidden_act {kw['hidden_act']!r} is not supported by the reference Llama")
        return cls(**kw)


class LlamaRMSNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def repeat_kv(x, rep: int):
    """[b, kv, T, d] → [b, kv·rep, T, d], each key/value head serving `rep` query heads in turn."""
    if rep == 1:
        return x
    b, kv, T, d = x.shape
    return x.unsqueeze(2).expand(b, kv, rep, T, d).reshape(b, kv * rep, T, d)


class LlamaAttention(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.c = c
        H, KV, hd, d = c.num_attention_heads, c.num_key_value_heads, c.head_dim, c.hidden_size
        self.q_proj = nn.Linear(d, H * hd, bias=c.attention_bias)
        self.k_proj = nn.Linear(d, KV * hd, bias=c.attention_bias)
        self.v_proj = nn.Linear(d, KV * hd, bias=c.attention_bias)
        self.o_proj = nn.Linear(H * hd, d, bias=c.attention_bias)

    def forward(self, x, additive, cos, sin, pk, pv):
        c = self.c
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, c.num_attention_heads, c.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, c.num_key_value_heads, c.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = torch.cat([pk, k], dim=2)
        v = torch.cat([pv, v], dim=2)
        rep = c.num_attention_heads // c.num_key_value_heads
        kk, vv = repeat_kv(k, rep), repeat_kv(v, rep)
        s = q @ kk.transpose(-1, -2) / math.sqrt(c.head_dim) + additive
        a = torch.softmax(s, dim=-1) @ vv
        return self.o_proj(a.transpose(1, 2).reshape(b, t, c.num_attention_heads * c.head_dim)), k, v


class LlamaMLP(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=c.mlp_bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.self_attn = LlamaAttention(c)
        self.mlp = LlamaMLP(c)
        self.input_layernorm = LlamaRMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = LlamaRMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x, additive, cos, sin, pk, pv):
        a, k, v = self.self_attn(self.input_layernorm(x), additive, cos, sin, pk, pv)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), k, v


class LlamaModel(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([LlamaDecoderLayer(c) for _ in range(c.num_hidden_layers)])
        self.norm = LlamaRMSNorm(c.hidden_size, c.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c: LlamaConfig):
        super().__init__()
        self.config = c
        self.model = LlamaModel(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2).float() / c.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)

    def empty_past(self, batch: int):
        c = self.config
        z = torch.zeros(batch, c.num_key_value_heads, 0, c.head_dim)
        return [(z, z) for _ in range(c.num_hidden_layers)]

    def forward(self, input_ids, attention_mask=None, position_ids=None, past=None):
        b, t = input_ids.shape
        if past is None:
            past = self.empty_past(b)
        p = past[0][0].shape[2]
        if attention_mask is None:
            attention_mask = torch.ones(b, p + t, dtype=torch.long)
        if position_ids is None:
            position_ids = (torch.cumsum(attention_mask, 1) - 1).clamp(min=0)[:, p:]
        x = self.model.embed_tokens(input_ids)
        freqs = position_ids.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        cos, sin = emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)
        T = p + t
        qpos = torch.arange(t).unsqueeze(1) + p
        kpos = torch.arange(T).unsqueeze(0)
        allowed = (kpos <= qpos)[None, None] & (attention_mask[:, None, None, :] > 0)
        additive = torch.zeros(allowed.shape).masked_fill(~allowed, NEG)
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, k, v = layer(x, additive, cos, sin, past[i][0], past[i][1])
            presents.append((k, v))
        return self.lm_head(self.model.norm(x)), presents


IGNORED_KEYS = ("model.rotary_emb.inv_freq",)


def load_state(model: nn.Module, state: dict) -> None:
    state = {k: v for k, v in state.items() if not (k.startswith(IGNORED_KEYS) or k.endswith("rotary_emb.inv_freq"))}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if model.config.tie_word_embeddings:
        missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise ValueError(f"checkpoint does not fit the model: missing {missing[:8]}, unexpected {unexpected[:8]}")

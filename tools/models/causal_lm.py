"""A small decoder-only transformer with a KV cache, exportable with the optimum decoder I/O convention.

Pre-LayerNorm blocks, learned absolute positions (looked up from ``position_ids`` so that left padding works),
GELU MLP, tied input/output embeddings. Attention is written out by hand (no fused kernels) so that the same code
exports to plain ONNX opset 14 operators.

The forward signature follows Hugging Face / optimum:
    logits, presents = model(input_ids, attention_mask, position_ids, past_key_values)
with ``past_key_values`` a list of (key, value) tensors ``[batch, heads, past_len, head_dim]`` (``past_len`` may be
0) and ``attention_mask`` covering ``past_len + seq_len`` positions (1 = real token, 0 = padding).
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# Added to attention scores of masked positions. Finite (not -inf) so that a fully masked row (a left-padding query)
# yields a finite uniform distribution instead of NaN; exp(-1e9) is exactly 0 in float32, so real rows are unaffected.
MASK_VALUE = -1e9


@dataclasses.dataclass
class LMConfig:
    vocab_size: int = 8192
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 1024
    max_positions: int = 512
    layer_norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @staticmethod
    def from_dict(d: dict) -> "LMConfig":
        return LMConfig(**{k: d[k] for k in (f.name for f in dataclasses.fields(LMConfig)) if k in d})


Past = List[Tuple[torch.Tensor, torch.Tensor]]


class Attention(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def forward(self, x: torch.Tensor, bias: torch.Tensor, past: Optional[Tuple[torch.Tensor, torch.Tensor]]):
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [b, h, t, hd]
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim)) + bias
        att = torch.softmax(scores, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(b, t, d)
        return self.proj(y), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.fc2 = nn.Linear(cfg.d_ff, cfg.d_model)

    def forward(self, x, bias, past):
        a, present = self.attn(self.ln1(x), bias, past)
        x = x + a
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
        return x, present


class CausalLM(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_positions, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.apply(self._init)
        # GPT-2 style scaled init of residual projections.
        for blk in self.blocks:
            nn.init.normal_(blk.attn.proj.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))
            nn.init.normal_(blk.fc2.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def empty_past(self, batch: int, device=None) -> Past:
        c = self.cfg
        z = torch.zeros(batch, c.n_heads, 0, c.head_dim, device=device)
        return [(z, z) for _ in range(c.n_layers)]

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        past_key_values: Optional[Past] = None,
    ):
        b, t = input_ids.shape
        past_len = past_key_values[0][0].shape[2] if past_key_values is not None else 0
        total = past_len + t
        dev = input_ids.device
        if position_ids is None:
            position_ids = torch.arange(past_len, total, device=dev).unsqueeze(0).expand(b, t)
        # Causal part: query i (absolute position past_len + i) sees keys j <= past_len + i.
        q_idx = torch.arange(t, device=dev).unsqueeze(1) + past_len
        k_idx = torch.arange(total, device=dev).unsqueeze(0)
        allowed = (k_idx <= q_idx).unsqueeze(0).unsqueeze(0)  # [1, 1, t, total]
        if attention_mask is not None:
            allowed = allowed & (attention_mask[:, None, None, :] > 0)  # [b, 1, t, total]
        bias = (1.0 - allowed.to(torch.float32)) * MASK_VALUE
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for i, blk in enumerate(self.blocks):
            x, present = blk(x, bias, past_key_values[i] if past_key_values is not None else None)
            presents.append(present)
        x = self.ln_f(x)
        logits = torch.matmul(x, self.wte.weight.t())
        return logits, presents


def positions_from_mask(attention_mask: torch.Tensor, seq_len: int) -> torch.Tensor:
    """HF-style position ids for left padding: cumsum(mask) - 1, padding positions set to 1; last seq_len columns."""
    pos = attention_mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(attention_mask == 0, 1)
    return pos[:, -seq_len:]


@torch.no_grad()
def greedy_generate(model: CausalLM, prompt_ids: List[int], max_new: int, eos_id: Optional[int] = None,
                    device=None) -> List[int]:
    """Greedy decoding with the KV cache (batch 1). Stops at eos_id or when the context is full."""
    model.eval()
    device = device or next(model.parameters()).device
    ids = torch.tensor([prompt_ids[-model.cfg.max_positions:]], device=device)
    past = model.empty_past(1, device)
    out: List[int] = []
    pos0 = 0
    for _ in range(max_new):
        t = ids.shape[1]
        if pos0 + t > model.cfg.max_positions:
            break
        mask = torch.ones(1, pos0 + t, dtype=torch.long, device=device)
        pos = torch.arange(pos0, pos0 + t, device=device).unsqueeze(0)
        logits, past = model(ids, mask, pos, past)
        nxt = int(logits[0, -1].argmax())
        pos0 += t
        if eos_id is not None and nxt == eos_id:
            break
        out.append(nxt)
        ids = torch.tensor([[nxt]], device=device)
    return out


def save_checkpoint(path: str, model: CausalLM, extra: dict) -> None:
    torch.save({"config": dataclasses.asdict(model.cfg), "model": model.state_dict(), **extra}, path)


def load_model(path: str, map_location="cpu") -> Tuple[CausalLM, dict]:
    ck = torch.load(path, map_location=map_location)
    model = CausalLM(LMConfig.from_dict(ck["config"]))
    model.load_state_dict(ck["model"])
    return model, ck

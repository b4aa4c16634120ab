"""The pre-LayerNorm transformer pieces of the causal LM (tools/models/causal_lm.py) and the simplex diffusion LM
(tools/diffusion/model.py). Both models keep these modules under the same attribute names (``blocks.{i}.ln1``,
``.attn.qkv``, ``.attn.proj``, ``.ln2``, ``.fc1``, ``.fc2``), so the diffusion model can start from the causal LM's
weights (tools/diffusion/init_lm.py) and checkpoints and exported graphs keep their layout.

Attention is written out by hand (no fused kernels) so that everything exports to plain ONNX opset 14.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# Added to attention scores of masked positions. Finite (not -inf) so that a fully masked row (a left-padding query)
# yields a finite uniform distribution instead of NaN; exp(-1e9) is exactly 0 in float32, so real rows are unaffected.
MASK_VALUE = -1e9

Past = List[Tuple[torch.Tensor, torch.Tensor]]


class TransformerConfig:
    """Mixed into the models' dataclass configs (fields d_model, n_heads, d_ff, layer_norm_eps, …)."""

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def _heads(self, y: torch.Tensor, b, t, n: int):
        """The n projections in y [b, t, n·d] as n tensors [b, heads, t, head_dim]."""
        y = y.view(b, t, n, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return tuple(y[i] for i in range(n))

    @staticmethod
    def _mix(q, k, v, bias, scale: float):
        """softmax(q·kᵀ·scale + bias)·v, heads moved back next to the width: [b, t, h, hd]."""
        scores = torch.matmul(q, k.transpose(-1, -2)) * scale + bias
        att = torch.softmax(scores, dim=-1)
        return torch.matmul(att, v).transpose(1, 2)

    def qkv_heads(self, x: torch.Tensor):
        b, t, _ = x.shape
        return self._heads(self.qkv(x), b, t, 3)  # q, k, v [b, h, t, hd]

    def kv_heads(self, x: torch.Tensor):
        """Keys and values only (the last layer of the diffusion model's context stream needs nothing else)."""
        b, t, d = x.shape
        return self._heads(F.linear(x, self.qkv.weight[d:], self.qkv.bias[d:]), b, t, 2)

    def attend(self, q, k, v, bias):
        b, h, t, hd = q.shape
        return self.proj(self._mix(q, k, v, bias, 1.0 / math.sqrt(hd)).reshape(b, t, h * hd))

    def forward(self, x: torch.Tensor, bias: torch.Tensor, past: Optional[Tuple[torch.Tensor, torch.Tensor]]):
        """Causal self-attention with a KV cache (the causal LM): (output, (keys, values) including the past)."""
        b, t, d = x.shape
        q, k, v = self._heads(self.qkv(x), b, t, 3)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        return self.proj(self._mix(q, k, v, bias, 1.0 / math.sqrt(self.head_dim)).reshape(b, t, d)), (k, v)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(cfg.d_model, cfg.d_ff)
        self.fc2 = nn.Linear(cfg.d_ff, cfg.d_model)

    def mlp(self, x):
        return self.fc2(F.gelu(self.fc1(self.ln2(x))))

    def forward(self, x, bias, past):
        a, present = self.attn(self.ln1(x), bias, past)
        x = x + a
        x = x + self.mlp(x)
        return x, present


def init_weights(model: nn.Module, n_layers: int) -> None:
    """GPT-2 style initialisation: N(0, 0.02) linear and embedding weights, zero biases, and the residual
    projections (attn.proj, fc2 of every block in ``model.blocks``) scaled by 1/√(2·n_layers)."""

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    model.apply(init)
    for blk in model.blocks:
        nn.init.normal_(blk.attn.proj.weight, std=0.02 / math.sqrt(2 * n_layers))
        nn.init.normal_(blk.fc2.weight, std=0.02 / math.sqrt(2 * n_layers))


def causal_inputs(input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor], position_ids: Optional[torch.Tensor],
                  past: Optional[Past]):
    """(attention bias [b or 1, 1, t, past + t], position ids [b, t]) of a causal step over input_ids [b, t] after
    ``past``: query i (absolute position past_len + i) sees keys j ≤ past_len + i that the attention mask (covering
    past + t positions, 1 = real token, 0 = padding) lets through; position ids default to past_len, past_len + 1, …"""
    b, t = input_ids.shape
    past_len = past[0][0].shape[2] if past is not None else 0
    total = past_len + t
    dev = input_ids.device
    if position_ids is None:
        position_ids = torch.arange(past_len, total, device=dev).unsqueeze(0).expand(b, t)
    q_idx = torch.arange(t, device=dev).unsqueeze(1) + past_len
    k_idx = torch.arange(total, device=dev).unsqueeze(0)
    allowed = (k_idx <= q_idx).unsqueeze(0).unsqueeze(0)  # [1, 1, t, total]
    if attention_mask is not None:
        allowed = allowed & (attention_mask[:, None, None, :] > 0)  # [b, 1, t, total]
    bias = (1.0 - allowed.to(torch.float32)) * MASK_VALUE
    return bias, position_ids


def positions_from_mask(attention_mask: torch.Tensor, seq_len: int) -> torch.Tensor:
    """HF-style position ids for left padding: cumsum(mask) − 1, padding positions set to 1; last seq_len columns."""
    pos = attention_mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(attention_mask == 0, 1)
    return pos[:, -seq_len:]

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
import os
import sys
from typing import List, Optional, Tuple

import torch
import torch.nn as nn

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common.checkpoint import DictConfig, load_checkpoint, save_checkpoint  # noqa: E402,F401
from common.transformer import MASK_VALUE, Block, Past, TransformerConfig, causal_inputs, init_weights, positions_from_mask  # noqa: E402,F401


@dataclasses.dataclass
class LMConfig(TransformerConfig, DictConfig):
    vocab_size: int = 8192
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 1024
    max_positions: int = 512
    layer_norm_eps: float = 1e-5


class CausalLM(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_positions, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        init_weights(self, cfg.n_layers)

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
        bias, position_ids = causal_inputs(input_ids, attention_mask, position_ids, past_key_values)
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for i, blk in enumerate(self.blocks):
            x, present = blk(x, bias, past_key_values[i] if past_key_values is not None else None)
            presents.append(present)
        x = self.ln_f(x)
        logits = torch.matmul(x, self.wte.weight.t())
        return logits, presents


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


def load_model(path: str, map_location="cpu") -> Tuple[CausalLM, dict]:
    return load_checkpoint(path, CausalLM, LMConfig, map_location)

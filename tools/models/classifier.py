"""Guidance classifiers over vocabulary simplexes, with their input gradient written out by hand.

Architecture (small enough to differentiate exactly, and exportable as plain ONNX):

    q      = softmax(logits)                       [B, L, V]   (the simplex; one-hot-like for real text)
    e      = q @ E                                 [B, L, D]   (the classifier's own embedding table)
    z_t    = sum_k e_{t+k} W_k + b, k = -r..r      [B, L, H]   (width 2r+1 convolution, zero outside the block)
    h      = tanh(z)
    s_t    = h_t . u                               [B, L]      (attention-pooling scores)
    a      = softmax_t(s)
    p      = sum_t a_t h_t                         [B, H]
    c      = p @ Wc + bc                           [B, N]      (class logits)
    log_probs = log_softmax(c)

``forward_with_grad`` returns ``log_probs`` and ``grad = d log p(label) / d logits`` per batch row, computed with the
explicit backward pass below (onnxruntime-node has no autograd, so the exported graph must contain it):

    gc = onehot(label) - softmax(c)
    gp = gc @ Wc^T
    ga_t = h_t . gp ;   gs = a * (ga - sum_t a ga)
    gh_t = a_t gp + gs_t u ;   gz = gh * (1 - h^2)
    ge_t = sum_k gz_{t-k} W_k^T
    gq = ge @ E^T ;   grad = q * (gq - sum_v q gq)
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common.checkpoint import DictConfig, load_checkpoint, save_checkpoint  # noqa: E402,F401


@dataclasses.dataclass
class ClfConfig(DictConfig):
    vocab_size: int = 8192
    d_embed: int = 128
    d_hidden: int = 128
    num_labels: int = 2
    radius: int = 2


def shift(x: torch.Tensor, k: int) -> torch.Tensor:
    """y_t = x_{t+k} along dim 1 of [B, L, C], zero where t+k falls outside [0, L)."""
    if k == 0:
        return x
    L = x.shape[1]
    if k > 0:
        return F.pad(x, (0, 0, 0, k))[:, k:k + L]
    return F.pad(x, (0, 0, -k, 0))[:, :L]


class SimplexClassifier(nn.Module):
    def __init__(self, cfg: ClfConfig):
        super().__init__()
        self.cfg = cfg
        D, H, N = cfg.d_embed, cfg.d_hidden, cfg.num_labels
        self.E = nn.Parameter(torch.randn(cfg.vocab_size, D) * 0.1)
        self.offsets = list(range(-cfg.radius, cfg.radius + 1))
        self.Wk = nn.Parameter(torch.randn(len(self.offsets), D, H) / math.sqrt(len(self.offsets) * D))
        self.b = nn.Parameter(torch.zeros(H))
        self.u = nn.Parameter(torch.randn(H) / math.sqrt(H))
        self.Wc = nn.Parameter(torch.randn(H, N) / math.sqrt(H))
        self.bc = nn.Parameter(torch.zeros(N))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ---- forward pieces ------------------------------------------------------------------------------------------
    def embed_simplex(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        q = torch.softmax(logits, dim=-1)
        return q, torch.matmul(q, self.E)

    def embed_onehot_like(self, ids: torch.Tensor, K: float) -> torch.Tensor:
        """Exactly ``softmax(K*(2*onehot(ids)-1)) @ E`` without materialising [B, L, V]."""
        V = self.cfg.vocab_size
        # softmax of +K at one entry and -K elsewhere: p_hot = 1 / (1 + (V-1) e^{-2K}), p_other = e^{-2K} p_hot.
        r = math.exp(-2.0 * K)
        p_hot = 1.0 / (1.0 + (V - 1) * r)
        p_other = r * p_hot
        e_tok = self.E[ids]
        return (p_hot - p_other) * e_tok + p_other * self.E.sum(0)

    def head(self, e: torch.Tensor, mask: Optional[torch.Tensor] = None):
        """From embeddings [B, L, D] to class logits; mask [B, L] (1 = real) is for padded training batches only."""
        if mask is not None:
            e = e * mask.unsqueeze(-1).to(e.dtype)
        z = self.b
        for i, k in enumerate(self.offsets):
            z = z + torch.matmul(shift(e, k), self.Wk[i])
        h = torch.tanh(z)
        s = torch.matmul(h, self.u)
        if mask is not None:
            s = s.masked_fill(mask == 0, -1e9)
        a = torch.softmax(s, dim=1)
        p = torch.sum(a.unsqueeze(-1) * h, dim=1)
        c = torch.matmul(p, self.Wc) + self.bc
        return c, (h, a, p)

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        """Class log-probabilities of simplex logits [B, L, V] (autograd-friendly reference)."""
        _, e = self.embed_simplex(logits)
        c, _ = self.head(e)
        return torch.log_softmax(c, dim=-1)

    def forward_with_grad(self, logits: torch.Tensor, label: torch.Tensor):
        """(log_probs [B, N], d log p(label)/d logits [B, L, V]) with the explicit backward pass."""
        q, e = self.embed_simplex(logits)
        c, (h, a, p) = self.head(e)
        log_probs = torch.log_softmax(c, dim=-1)
        onehot = F.one_hot(label, self.cfg.num_labels).to(logits.dtype)
        gc = onehot - torch.exp(log_probs)                          # [B, N]
        gp = torch.matmul(gc, self.Wc.t())                          # [B, H]
        ga = torch.sum(h * gp.unsqueeze(1), dim=-1)                 # [B, L]
        gs = a * (ga - torch.sum(a * ga, dim=1, keepdim=True))      # [B, L]
        gh = a.unsqueeze(-1) * gp.unsqueeze(1) + gs.unsqueeze(-1) * self.u  # [B, L, H]
        gz = gh * (1.0 - h * h)
        ge = 0
        for i, k in enumerate(self.offsets):
            ge = ge + torch.matmul(shift(gz, -k), self.Wk[i].t())
        gq = torch.matmul(ge, self.E.t())                           # [B, L, V]
        grad = q * (gq - torch.sum(q * gq, dim=-1, keepdim=True))
        return log_probs, grad


class ExportWrapper(nn.Module):
    """The exported graph: (logits, label) -> (log_probs, grad)."""

    def __init__(self, model: SimplexClassifier):
        super().__init__()
        self.model = model

    def forward(self, logits, label):
        return self.model.forward_with_grad(logits, label)


def onehot_logits(ids: torch.Tensor, vocab: int, K: float = 5.0) -> torch.Tensor:
    """K * (2 * onehot - 1): the one-hot-like simplex logits of real text."""
    return K * (2.0 * F.one_hot(ids, vocab).to(torch.float32) - 1.0)


def load_model(path: str, map_location="cpu"):
    return load_checkpoint(path, SimplexClassifier, ClfConfig, map_location)

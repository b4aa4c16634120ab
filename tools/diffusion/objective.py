"""The SSD-2 training objective shared by train.py and eval.py: block targets, the forward diffusion of the block
logits, the per-block cross-entropy (optionally with self-conditioning) and validation losses at fixed t."""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import SSDConfig, alpha_bar  # noqa: E402

VAL_T_FRACS = (0.1, 0.3, 0.5, 0.7, 0.9)


def block_targets(tokens: torch.Tensor, starts: torch.Tensor, B: int):
    """Targets [b, nb·B] and weights (1 for used blocks)."""
    nbB = starts.shape[1] * B
    pos = starts.clamp(min=0).repeat_interleave(B, dim=1) + torch.arange(B).repeat(starts.shape[1]).unsqueeze(0)
    tgt = torch.gather(tokens, 1, pos.clamp(max=tokens.shape[1] - 1))
    w = (starts >= 0).repeat_interleave(B, dim=1).to(torch.float32)
    assert tgt.shape[1] == nbB
    return tgt, w


def noisy_logits(tgt: torch.Tensor, t: torch.Tensor, cfg: SSDConfig, gen: torch.Generator, B: int) -> torch.Tensor:
    """√ᾱ_t·K(2·onehot−1) + √(1−ᾱ_t)·K·ε for targets [b, nB] with t [b, nb] per block."""
    ab = alpha_bar(t, cfg.t_train).to(torch.float32).repeat_interleave(B, dim=1)  # [b, nB]
    sa, sn = ab.sqrt().unsqueeze(-1), (1 - ab).clamp(min=0).sqrt().unsqueeze(-1)
    eps = torch.randn(tgt.shape[0], tgt.shape[1], cfg.vocab_size, generator=gen, device=gen.device)
    x = eps.mul_(sn * cfg.K).sub_(sa * cfg.K)
    x.scatter_add_(2, tgt.unsqueeze(-1), (2 * cfg.K) * sa)
    return x


def loss_on(model, tokens, starts, gen, dev, t_fixed=None, self_cond_prob=0.0, coin=None):
    cfg = model.cfg
    B = cfg.block_size
    tokens, starts = tokens.to(dev), starts.to(dev)
    tgt, w = block_targets(tokens.cpu(), starts.cpu(), B)
    tgt, w = tgt.to(dev), w.to(dev)
    if t_fixed is None:
        t = torch.randint(1, cfg.t_train + 1, starts.shape, generator=gen, device=gen.device)
    else:
        t = torch.full(starts.shape, t_fixed, dtype=torch.long, device=gen.device)
    x = noisy_logits(tgt.to(gen.device), t, cfg, gen, B).to(dev)
    t_frac = (t.to(torch.float32) / cfg.t_train).to(dev)
    ctx = model.encode_context(tokens[:, : max(1, int(starts.max()))])  # nothing after the last block start is attended
    sc = None
    if coin is not None and coin < self_cond_prob:
        with torch.no_grad():
            sc = model.forward_train(tokens, starts, x, t_frac, None, [(k.detach(), v.detach()) for k, v in ctx])
    logits = model.forward_train(tokens, starts, x, t_frac, sc, ctx)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), reduction="none")
    return (ce * w.reshape(-1)).sum() / w.sum().clamp(min=1), int(w.sum().item())


@torch.no_grad()
def val_losses(model, val, dev, seed: int, max_windows: int = 48) -> dict:
    model.eval()
    toks, starts = val
    out = {}
    for frac in VAL_T_FRACS:
        g = torch.Generator().manual_seed(seed)
        tot, cnt = 0.0, 0
        for i in range(0, min(len(toks), max_windows), 8):
            s = starts[i:i + 8]
            nb = max(1, int((s >= 0).sum(1).max()))
            lo, n = loss_on(model, torch.from_numpy(toks[i:i + 8]), torch.from_numpy(np.ascontiguousarray(s[:, :nb])), g, dev,
                            t_fixed=max(1, round(frac * model.cfg.t_train)))
            tot += lo.item() * n
            cnt += n
        out[f"t{frac:.1f}"] = round(tot / max(1, cnt), 4)
    out["mean"] = round(sum(out.values()) / len(VAL_T_FRACS), 4)
    model.train()
    return out

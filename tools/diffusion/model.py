"""SSD-2-style simplex diffusion language model (thesis ch. 3 and 5; A_seed_reference §1 and §3).

Representation. A token w is the almost-one-hot logit vector K·(2·onehot(w) − 1) over the vocabulary (K = 5); the
forward process is w̃_t = √ᾱ_t·w̃_0 + √(1−ᾱ_t)·ε, ε ~ N(0, K²I), with SSD-LM's cosine ᾱ (``alpha_bar``).

Architecture (pre-LayerNorm transformer, one embedding matrix E [V, d] used everywhere):

    context token   h = E[w] + P[pos]                                      (no time embedding: see below)
    block position  h̃ = softmax(w̃_t)·E + A·(softmax(w_logits,t+1)·E) + P[pos] + τ(t/T)
    output          logits = LN(h_L)·Eᵀ                                    (tied)

W_diff of the thesis is E itself and W_pred = E·Aᵀ with a learned d×d matrix A (``pred_proj``), so the pack stores the
V×d table once. τ is a small MLP of sinusoidal features of t/T. Self-conditioning input "no previous prediction"
(t = T, and training steps without self-conditioning) is all-zero logits, i.e. the uniform simplex.

Anchored blocks (Concert's deviation from SSD-LM/SSD-2, as in adaptations of autoregressive LMs to diffusion such
as DiffuLLaMA): the block stream of a block starting at position s is [anchor, noisy_0 … noisy_{B−1}], where the anchor
is the clean token s − 1 embedded exactly as the causal LM embeds it, and the logits of block position i are read at
stream index i (the anchor's output predicts block token 0, noisy_{i−1}'s output predicts token i). This keeps the
causal LM's next-token head meaningful, so the core model starts from Concert's causal LM (init_lm.py) and, at high
noise, already predicts the next token from the context like the LM does; without it a 5 M-parameter model trained
for an hour predicted block tokens from the context no better than unigram statistics. noisy_{B−1}'s own output is
not used (the others attend to it).

Attention (SSD-2, §5.6.2, anchored): context tokens attend causally to the context; the block group (anchor and noisy
positions) attends to the context before the anchor and bidirectionally within the group. The context never sees a
block, and its per-layer keys/values are computed once and reused by every denoising step (and by every block of a
training sequence). SSD-2 also adds a (quantised, Q = 50) time embedding to the context; this model deliberately does
not, so the context states do not depend on t at all (no quantisation needed; recorded as a deviation in the model
card).

Training runs every block of a sequence in one pass: a causal stream over the clean tokens (``encode_context``) and
a stream of anchored block groups, group k attending to clean columns j < start_k − 1 plus itself (``block_bias``);
this is the thesis mask δ(c0, n, B) with each block extended by its anchor (``anchored_joint_mask``; ``ssd2_joint_mask``
builds the printed thesis matrix; tests check both).

Attention is written out by hand (no fused kernels) so that everything exports to plain ONNX opset 14.
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
from common.transformer import MASK_VALUE, Block, Past, TransformerConfig, causal_inputs, init_weights, positions_from_mask  # noqa: E402,F401

SCHEDULE_S = 1e-4


# ------------------------------------------------------------------------------------------------ schedule
def alpha_bar(t, T):
    """SSD-LM cosine schedule: f(u) = cos(((u + s)/(1 + s))·π/2)², ᾱ_t = f(t/T)/f(0), s = 1e-4; ᾱ_0 = 1 exactly.

    Works on Python numbers (float64 math, like src/engine/diffusion/schedule.ts) and on tensors."""
    if isinstance(t, torch.Tensor):
        u = t.to(torch.float64) / T
        f = torch.cos((u + SCHEDULE_S) / (1 + SCHEDULE_S) * (math.pi / 2)) ** 2
        f0 = math.cos(SCHEDULE_S / (1 + SCHEDULE_S) * (math.pi / 2)) ** 2
        return torch.where(t <= 0, torch.ones_like(f), f / f0)
    if t <= 0:
        return 1.0
    f = lambda u: math.cos(((u + SCHEDULE_S) / (1 + SCHEDULE_S)) * (math.pi / 2)) ** 2  # noqa: E731
    return f(t / T) / f(0.0)


def almost_one_hot(ids: torch.Tensor, vocab: int, K: float) -> torch.Tensor:
    """K·(2·onehot − 1): +K at the token, −K elsewhere."""
    return K * (2.0 * F.one_hot(ids, vocab).to(torch.float32) - 1.0)


# ------------------------------------------------------------------------------------------------- config
@dataclasses.dataclass
class SSDConfig(TransformerConfig, DictConfig):
    vocab_size: int = 8192
    d_model: int = 256
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 768
    max_positions: int = 160
    block_size: int = 8
    K: float = 5.0
    t_train: int = 1000
    time_features: int = 32
    layer_norm_eps: float = 1e-5


# ------------------------------------------------------------------------------------------------- model
class SimplexDiffusionLM(nn.Module):
    def __init__(self, cfg: SSDConfig):
        super().__init__()
        assert cfg.d_model % cfg.n_heads == 0 and cfg.time_features % 2 == 0
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.max_positions, cfg.d_model)
        self.pred_proj = nn.Linear(cfg.d_model, cfg.d_model, bias=False)
        half = cfg.time_features // 2
        self.register_buffer("time_freqs", torch.exp(torch.linspace(0.0, math.log(200.0), half)), persistent=False)
        self.time_fc1 = nn.Linear(cfg.time_features, cfg.d_model)
        self.time_fc2 = nn.Linear(cfg.d_model, cfg.d_model)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_f = nn.LayerNorm(cfg.d_model, eps=cfg.layer_norm_eps)
        init_weights(self, cfg.n_layers)
        nn.init.zeros_(self.pred_proj.weight)  # starts as "no self-conditioning"

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------------------------------ context
    def encode_context(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                       position_ids: Optional[torch.Tensor] = None, past: Optional[Past] = None) -> Past:
        """Causal encoding of context tokens; returns every layer's keys/values [b, heads, past+s, head_dim].

        Same conventions as the causal LM's decoder graph: attention_mask covers past + s positions (1 = real,
        0 = left padding), position_ids count real tokens only. The last layer's MLP and queries are skipped: block
        positions need only the context's keys and values."""
        bias, position_ids = causal_inputs(input_ids, attention_mask, position_ids, past)
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents: Past = []
        n = len(self.blocks)
        for i, blk in enumerate(self.blocks):
            a = blk.ln1(x)
            if i < n - 1:
                q, k, v = blk.attn.qkv_heads(a)
            else:
                k, v = blk.attn.kv_heads(a)
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            presents.append((k, v))
            if i < n - 1:
                x = x + blk.attn.attend(q, k, v, bias)
                x = x + blk.mlp(x)
        return presents

    # ------------------------------------------------------------------------------------------- blocks
    def time_embedding(self, t_frac: torch.Tensor) -> torch.Tensor:
        """τ(t/T) for t_frac of any shape [...] -> [..., d]."""
        ang = t_frac.unsqueeze(-1) * self.time_freqs
        feats = torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)
        return self.time_fc2(F.silu(self.time_fc1(feats)))

    def embed_block(self, noisy_logits: torch.Tensor, self_cond_logits: Optional[torch.Tensor],
                    t_frac_pos: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        E = self.wte.weight
        h = torch.matmul(torch.softmax(noisy_logits, dim=-1), E)
        if self_cond_logits is None:
            # softmax(0) is uniform: the same as zero logits, without the [.., V] product.
            h = h + self.pred_proj(E.mean(0)).expand_as(h)
        else:
            h = h + self.pred_proj(torch.matmul(torch.softmax(self_cond_logits, dim=-1), E))
        return h + self.wpe(position_ids) + self.time_embedding(t_frac_pos)

    def denoise_hidden(self, h: torch.Tensor, ctx: Past, bias: torch.Tensor) -> torch.Tensor:
        """Block positions through the layers; each attends to [context keys ; block keys] under ``bias``."""
        for i, blk in enumerate(self.blocks):
            q, k, v = blk.attn.qkv_heads(blk.ln1(h))
            kk = torch.cat([ctx[i][0], k], dim=2)
            vv = torch.cat([ctx[i][1], v], dim=2)
            h = h + blk.attn.attend(q, kk, vv, bias)
            h = h + blk.mlp(h)
        return self.ln_f(h)

    def output_logits(self, h: torch.Tensor) -> torch.Tensor:
        return torch.matmul(h, self.wte.weight.t())

    def anchor_embedding(self, anchor_ids: torch.Tensor, anchor_pos: torch.Tensor) -> torch.Tensor:
        """The anchor (the token just before the block) enters the block stream as a clean token, exactly as the
        causal LM embeds it: no time embedding, no self-conditioning."""
        return self.wte(anchor_ids) + self.wpe(anchor_pos)

    def denoise(self, noisy_logits: torch.Tensor, self_cond_logits: Optional[torch.Tensor], t_frac: torch.Tensor,
                attention_mask: torch.Tensor, past: Past, anchor_ids: torch.Tensor) -> torch.Tensor:
        """One denoising step for one block per row (the exported ``denoiser`` graph).

        noisy_logits, self_cond_logits [b, B, V]; t_frac [b]; attention_mask [b, ctx_len] (1 = real context token,
        left padding 0); past: the context graph's presents; anchor_ids [b]: each row's last context token. The block
        stream is [anchor, noisy_0 … noisy_{B−1}] at positions sum(mask) − 1 … sum(mask) + B − 1; logits of block
        position i are read at stream index i (the anchored shift, see the module docstring). The anchor's own
        context column (the last one: real tokens are right-aligned) is not attended: the anchor is in the block."""
        b, B, _ = noisy_logits.shape
        dev = noisy_logits.device
        start = attention_mask.to(torch.int64).sum(dim=1, keepdim=True)
        position_ids = start + torch.arange(B, device=dev).unsqueeze(0)
        t_pos = t_frac.to(torch.float32).unsqueeze(1).expand(b, B)
        h_blk = self.embed_block(noisy_logits, self_cond_logits, t_pos, position_ids)
        h_anchor = self.anchor_embedding(anchor_ids.to(torch.int64).unsqueeze(1), (start - 1).clamp(min=0))
        h = torch.cat([h_anchor, h_blk], dim=1)
        # 1 for every column but the last (shape-generic, so the exported graph keeps a dynamic context length)
        not_last = F.pad(torch.ones_like(attention_mask[:, 1:]), (0, 1), value=0)
        ctx_allowed = ((attention_mask > 0) & (not_last > 0)).to(torch.float32)[:, None, None, :].expand(b, 1, B + 1, attention_mask.shape[1])
        blk_allowed = torch.ones(b, 1, B + 1, B + 1, device=dev)
        bias = (1.0 - torch.cat([ctx_allowed, blk_allowed], dim=-1)) * MASK_VALUE
        return self.output_logits(self.denoise_hidden(h, past, bias)[:, :B])

    # ------------------------------------------------------------------------------------------ training
    def block_bias(self, block_starts: torch.Tensor, ctx_len: int) -> torch.Tensor:
        """Attention bias [b, 1, nb·(B+1), ctx_len + nb·(B+1)] for training with nb anchored blocks per row.

        Block k of a row (clean positions start_k … start_k+B−1) is the group [anchor = token start_k − 1, noisy
        block]; the group sees clean columns j < start_k − 1 and itself. block_starts [b, nb]; −1 marks an unused
        slot (it then sees only itself; its loss weight is 0)."""
        b, nb = block_starts.shape
        G = self.cfg.block_size + 1
        dev = block_starts.device
        starts = block_starts.repeat_interleave(G, dim=1)  # [b, nb·G]
        j = torch.arange(ctx_len, device=dev)
        ctx_ok = j[None, None, :] < (starts[:, :, None] - 1)  # [b, nbG, ctx]
        grp = torch.arange(nb, device=dev).repeat_interleave(G)
        grp_ok = (grp[:, None] == grp[None, :]).unsqueeze(0).expand(b, nb * G, nb * G)
        allowed = torch.cat([ctx_ok, grp_ok], dim=-1).unsqueeze(1)
        return (1.0 - allowed.to(torch.float32)) * MASK_VALUE

    def forward_train(self, tokens: torch.Tensor, block_starts: torch.Tensor, noisy_logits: torch.Tensor,
                      t_frac_blocks: torch.Tensor, self_cond_logits: Optional[torch.Tensor] = None,
                      ctx: Optional[Past] = None) -> torch.Tensor:
        """Logits [b, nb·B, V] for all blocks of each row in one pass.

        tokens [b, L] clean tokens (right padding is harmless: the context is causal and blocks only look left of
        their start); block_starts [b, nb] (≥ 1: every block has an anchor); noisy_logits [b, nb·B, V];
        t_frac_blocks [b, nb]; ctx: the context stream's keys/values (default: encode_context(tokens)), possibly of
        only the first max(block_starts) tokens."""
        b = tokens.shape[0]
        nb = block_starts.shape[1]
        B = self.cfg.block_size
        G = B + 1
        d = self.cfg.d_model
        if ctx is None:
            ctx = self.encode_context(tokens)
        L = ctx[0][0].shape[2]  # the context may be cut after the last block start (nothing later is attended)
        s = block_starts.clamp(min=1)
        pos = (s.repeat_interleave(B, dim=1) + torch.arange(B, device=tokens.device).repeat(nb).unsqueeze(0))
        pos = pos.clamp(max=self.cfg.max_positions - 1)
        t_pos = t_frac_blocks.repeat_interleave(B, dim=1)
        h_blk = self.embed_block(noisy_logits, self_cond_logits, t_pos, pos).view(b, nb, B, d)
        anchors = torch.gather(tokens, 1, s - 1)
        h_anchor = self.anchor_embedding(anchors, s - 1).unsqueeze(2)
        h = torch.cat([h_anchor, h_blk], dim=2).reshape(b, nb * G, d)
        out = self.denoise_hidden(h, ctx, self.block_bias(block_starts, L)).view(b, nb, G, d)[:, :, :B]
        return self.output_logits(out.reshape(b, nb * B, d))

    # ------------------------------------------------------------------------------ reference (tests only)
    def joint_forward(self, tokens: torch.Tensor, c0: int, n: int, noisy_logits: torch.Tensor,
                      t_frac_blocks: torch.Tensor, self_cond_logits: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The single-sequence formulation: Transformer[concat(h^{<c}, [anchor_k, h̃_k] for k < n); anchored_joint_mask].

        A plain full-sequence forward under the joint mask, written independently of the split computation, so that
        tests can check that context-state reuse is exact. Returns block logits [b, nB, V]."""
        B = self.cfg.block_size
        G = B + 1
        b = tokens.shape[0]
        c = c0 + (n - 1) * B
        dev = tokens.device
        parts = [self.wte(tokens[:, :c]) + self.wpe(torch.arange(c, device=dev)).unsqueeze(0)]
        for k in range(n):
            s = c0 + k * B
            parts.append(self.wte(tokens[:, s - 1:s]) + self.wpe(torch.tensor([s - 1], device=dev)).unsqueeze(0))
            pos = (s + torch.arange(B, device=dev)).unsqueeze(0).expand(b, -1)
            sl = slice(k * B, (k + 1) * B)
            sc = None if self_cond_logits is None else self_cond_logits[:, sl]
            parts.append(self.embed_block(noisy_logits[:, sl], sc, t_frac_blocks[:, k:k + 1].expand(b, B), pos))
        x = torch.cat(parts, dim=1)
        bias = (1.0 - anchored_joint_mask(c0, n, B).to(torch.float32).to(dev)) * MASK_VALUE
        for blk in self.blocks:
            q, k_, v = blk.attn.qkv_heads(blk.ln1(x))
            x = x + blk.attn.attend(q, k_, v, bias)
            x = x + blk.mlp(x)
        x = self.ln_f(x)
        rows = torch.cat([torch.arange(c + k * G, c + k * G + B) for k in range(n)]).to(dev)
        return self.output_logits(x[:, rows])


def anchored_joint_mask(c0: int, n: int, B: int) -> torch.Tensor:
    """Concert's variant of δ(c0, n, B) with anchored blocks, as a boolean [c + n(B+1)] square matrix, c = c0 + (n−1)B.

    Context rows are causal; block k is the group [anchor (a copy of token c0 + kB − 1), noisy block k], whose rows
    see context columns j < c0 + kB − 1 and their own group (bidirectionally)."""
    c = c0 + (n - 1) * B
    G = B + 1
    N = c + n * G
    m = torch.zeros(N, N, dtype=torch.bool)
    for i in range(c):
        m[i, : i + 1] = True
    for k in range(n):
        r0 = c + k * G
        m[r0:r0 + G, : c0 + k * B - 1] = True
        m[r0:r0 + G, r0:r0 + G] = True
    return m


def ssd2_joint_mask(c0: int, n: int, B: int) -> torch.Tensor:
    """δ(c0, n, B) of thesis §5.6.2 as a boolean [c+nB, c+nB] matrix, c = c0 + (n−1)B.

    Context rows are causal; rows of noisy block k (0-based) see context columns j < c0 + k·B and their own block.
    This reproduces the printed example δ(1, 2, 2) exactly (the printed inequalities have off-by-one slips)."""
    c = c0 + (n - 1) * B
    N = c + n * B
    m = torch.zeros(N, N, dtype=torch.bool)
    for i in range(c):
        m[i, : i + 1] = True
    for k in range(n):
        r0 = c + k * B
        m[r0:r0 + B, : c0 + k * B] = True
        m[r0:r0 + B, r0:r0 + B] = True
    return m


# ---------------------------------------------------------------------------------------------- checkpoints
def load_model(path: str, map_location="cpu") -> Tuple[SimplexDiffusionLM, dict]:
    return load_checkpoint(path, SimplexDiffusionLM, SSDConfig, map_location)

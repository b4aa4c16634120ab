"""Initialise a simplex diffusion LM from Concert's causal LM (tools/models), as SSD-LM starts from RoBERTa and SSD-2
from OPT: both models share the tokenizer, width, depth and head count, so the embeddings, positions, every
transformer block and the final LayerNorm carry over. What stays new: the time MLP and the self-conditioning
projection (zero, i.e. "no previous prediction").

Two shapes may differ and are adapted instead of refused:
- positions: the diffusion model's first ``max_positions`` rows of the LM's table (the LM was trained on longer windows);
- MLP width: when the diffusion model's d_ff is smaller (it is, to keep the text packs within their size budget), the
  hidden units with the largest |fc1 row|·|fc2 column| are kept, in their original order: a magnitude pruning of the
  MLP that keeps most of its function (the fine-tuning then repairs the rest).
"""
from __future__ import annotations

from typing import Dict

import torch

from model import SimplexDiffusionLM


def _mlp_keep(fc1_w: torch.Tensor, fc2_w: torch.Tensor, keep: int) -> torch.Tensor:
    score = fc1_w.norm(dim=1) * fc2_w.norm(dim=0)
    return torch.sort(torch.topk(score, keep).indices).values


def init_from_causal_lm(model: SimplexDiffusionLM, lm_ckpt: dict) -> Dict[str, object]:
    """Copies the causal LM's weights into ``model`` in place; returns a summary for the training record."""
    cfg, lc = model.cfg, lm_ckpt["config"]
    for key, mine in (("vocab_size", cfg.vocab_size), ("d_model", cfg.d_model), ("n_layers", cfg.n_layers), ("n_heads", cfg.n_heads)):
        if lc[key] != mine:
            raise SystemExit(f"the causal LM has {key} {lc[key]}, the diffusion model {mine}: cannot initialise from it")
    if lc["max_positions"] < cfg.max_positions:
        raise SystemExit(f"the causal LM has {lc['max_positions']} positions, the diffusion model needs {cfg.max_positions}")
    if lc["d_ff"] < cfg.d_ff:
        raise SystemExit(f"the causal LM's MLP ({lc['d_ff']}) is narrower than the diffusion model's ({cfg.d_ff})")
    src = lm_ckpt["model"]
    own = model.state_dict()
    out: Dict[str, torch.Tensor] = {}
    out["wte.weight"] = src["wte.weight"]
    out["wpe.weight"] = src["wpe.weight"][: cfg.max_positions]
    out["ln_f.weight"], out["ln_f.bias"] = src["ln_f.weight"], src["ln_f.bias"]
    for i in range(cfg.n_layers):
        p = f"blocks.{i}."
        for name in ("ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "attn.qkv.weight", "attn.qkv.bias",
                     "attn.proj.weight", "attn.proj.bias", "fc2.bias"):
            out[p + name] = src[p + name]
        keep = _mlp_keep(src[p + "fc1.weight"], src[p + "fc2.weight"], cfg.d_ff)
        out[p + "fc1.weight"] = src[p + "fc1.weight"][keep]
        out[p + "fc1.bias"] = src[p + "fc1.bias"][keep]
        out[p + "fc2.weight"] = src[p + "fc2.weight"][:, keep]
    for k, v in out.items():
        if own[k].shape != v.shape:
            raise SystemExit(f"shape mismatch for {k}: {tuple(v.shape)} vs {tuple(own[k].shape)}")
        own[k] = v.to(own[k].dtype).clone()
    model.load_state_dict(own)
    new = sorted(k for k in own if k not in out)
    return {"copied_tensors": len(out), "new_tensors": new, "mlp_units_kept": f"{cfg.d_ff}/{lc['d_ff']}",
            "positions_kept": f"{cfg.max_positions}/{lc['max_positions']}"}

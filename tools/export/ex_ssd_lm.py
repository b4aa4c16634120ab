"""`ssd-lm`: the official SSD-LM checkpoint (Han et al. 2022; `xhan77/ssdlm`: RobertaForMaskedLM + embed_sum_layer.pt +
timestep_layer.pt) → a simplex-diffusion-lm pack with the `ssd-lm` layout (one denoiser graph, see below).

Model input, as the official decode scripts build it (A_seed_reference §1.3):
  context: word embeddings E_word[ctx] only; block: softmax(noisy logits) · W_sumᵀ + (t/T)·w_time + b_time (the
  timestep layer on the block only); both concatenated and run through RoBERTa as `inputs_embeds` (position ids
  from 2 = pad + 1, token type 0, embedding LayerNorm), no mask: attention is bidirectional over context and block.
  Output: the masked-LM logits of the block rows.

Denoiser graph: context_ids int64 [R, L], context_mask int64 [R, L] (1 = token, 0 = left padding), noisy_logits
float32 [R, B, V], t_frac float32 [R] → logits float32 [R, B, V]. With padding, positions count the row's own tokens
(left padding gets the padding position and is masked out), so a padded row gives the logits it gives alone.
"""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn as nn

from ex_common import OPSET, check, fix_dims, float_state, have_transformers, ort_run, read_json, read_weights, rel_err, strip_prefix, traced_path
from ex_reference import roberta as ref_roberta


class SsdLmDenoiser(nn.Module):
    def __init__(self, mlm: nn.Module, embed_sum: nn.Linear, timestep: nn.Linear, pad_id: int):
        super().__init__()
        self.mlm, self.embed_sum, self.timestep, self.pad_id = mlm, embed_sum, timestep, pad_id

    def forward(self, context_ids, context_mask, noisy_logits, t_frac):
        L = context_ids.shape[1]
        ctx = self.mlm.get_input_embeddings()(context_ids)
        blk = self.embed_sum(torch.softmax(noisy_logits, dim=-1)) + self.timestep(t_frac.unsqueeze(-1)).unsqueeze(1)
        emb = torch.cat([ctx, blk], dim=1)
        mask = torch.cat([context_mask, torch.ones(noisy_logits.shape[:2], dtype=context_mask.dtype)], dim=1)
        pos = torch.cumsum(mask, dim=1) * mask + self.pad_id
        out = self.mlm(inputs_embeds=emb, attention_mask=mask, position_ids=pos).logits
        return out[:, L:, :]


def load_extra(path: str) -> dict:
    obj = torch.load(path, map_location="cpu")
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    return float_state(strip_prefix(dict(obj)))


def load_ssd_lm(folder: str, embed_sum_path: str = None, timestep_path: str = None):
    """(reference denoiser, real-class denoiser or None, config dict). The reference is what is exported; the real
    transformers class, when importable, is the oracle it is checked against."""
    cfg = read_json(os.path.join(folder, "config.json"))
    es = load_extra(embed_sum_path or os.path.join(folder, "embed_sum_layer.pt"))
    ts = load_extra(timestep_path or os.path.join(folder, "timestep_layer.pt"))
    V, H = cfg["vocab_size"], cfg["hidden_size"]
    if tuple(es["weight"].shape) != (H, V):
        raise SystemExit(f"embed_sum_layer weight is {tuple(es['weight'].shape)}, expected [{H}, {V}] (Linear vocab → hidden, no bias)")
    if tuple(ts["weight"].shape) != (H, 1) or tuple(ts["bias"].shape) != (H,):
        raise SystemExit(f"timestep_layer is {tuple(ts['weight'].shape)} + bias, expected Linear(1, {H})")

    def extras():
        e = nn.Linear(V, H, bias=False)
        e.load_state_dict(es)
        t = nn.Linear(1, H)
        t.load_state_dict(ts)
        return e, t

    pad = cfg.get("pad_token_id", 1)
    c = ref_roberta.RobertaConfig.from_dict(cfg)
    mlm = ref_roberta.RobertaForMaskedLM(c)
    ref_roberta.load_state(mlm, float_state(read_weights(folder)))
    ref = SsdLmDenoiser(mlm.eval(), *extras(), pad).eval()
    real = None
    if have_transformers():
        from transformers import RobertaForMaskedLM

        hf = RobertaForMaskedLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
        real = SsdLmDenoiser(hf, *extras(), pad).eval()
    return ref, real, cfg


def official_logits(den: SsdLmDenoiser, ctx: torch.Tensor, noisy: torch.Tensor, t_frac: float) -> torch.Tensor:
    """The official construction for one unpadded row, with the model's default positions for `inputs_embeds`."""
    L = ctx.shape[1]
    e = den.mlm.get_input_embeddings()(ctx)
    b = den.embed_sum(torch.softmax(noisy, -1)) + den.timestep(torch.full((1, 1), t_frac))
    return den.mlm(inputs_embeds=torch.cat([e, b], 1)).logits[:, L:]


def sample_inputs(V: int, B: int, K: float, seed: int, rows: int = 2, L: int = 6, pad_first: int = 0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, V, (rows, L), generator=g)
    mask = torch.ones(rows, L, dtype=torch.long)
    if pad_first:
        mask[0, :pad_first] = 0
        ids[0, :pad_first] = 0
    noisy = torch.randn(rows, B, V, generator=g) * K
    t = torch.rand(rows, generator=g)
    return ids, mask, noisy, t


def export_denoiser(den: SsdLmDenoiser, path: str, B: int, V: int) -> None:
    ids, mask, noisy, t = sample_inputs(V, B, 5.0, 0)
    with traced_path(path) as traced, torch.no_grad():
        torch.onnx.export(den, (ids, mask, noisy, t), traced, input_names=["context_ids", "context_mask", "noisy_logits", "t_frac"],
                          output_names=["logits"], opset_version=OPSET, do_constant_folding=True,
                          dynamic_axes={"context_ids": {0: "batch_size", 1: "context_length"}, "context_mask": {0: "batch_size", 1: "context_length"},
                                        "noisy_logits": {0: "batch_size"}, "t_frac": {0: "batch_size"}, "logits": {0: "batch_size"}})
        fix_dims(path, lambda n: {1: B, 2: V} if n in ("noisy_logits", "logits") else {}, src=traced)


def verify(ref: SsdLmDenoiser, real, onnx_path: str, B: int, V: int, K: float, tol: float) -> dict:
    """ONNX vs PyTorch on random inputs; padded vs unpadded rows; the graph's input construction vs the official one;
    with transformers, the reference modules vs the real class."""
    rep: dict = {}
    with torch.no_grad():
        for case, pad in (("unpadded", 0), ("left-padded", 3)):
            ids, mask, noisy, t = sample_inputs(V, B, K, 1 + pad, pad_first=pad)
            want = ref(ids, mask, noisy, t)
            got = ort_run(onnx_path, {"context_ids": ids.numpy(), "context_mask": mask.numpy(), "noisy_logits": noisy.numpy(), "t_frac": t.numpy()})["logits"]
            check(f"onnx_vs_torch_{case}", rel_err(got, want.numpy()), tol, rep)
            if pad:
                alone = ref(ids[:1, pad:], mask[:1, pad:], noisy[:1], t[:1])
                check("padded_row_vs_alone", rel_err(want[:1].numpy(), alone.numpy()), 1e-4, rep)
            off = official_logits(ref, ids[1:2], noisy[1:2], float(t[1]))
            check("graph_vs_official_construction", rel_err(want[1:2].numpy(), off.numpy()), 1e-4, rep)
            if real is not None:
                check(f"reference_vs_transformers_{case}", rel_err(want.numpy(), real(ids, mask, noisy, t).numpy()), 1e-4, rep)
                check("transformers_official_construction", rel_err(off.numpy(), official_logits(real, ids[1:2], noisy[1:2], float(t[1])).numpy()), 1e-4, rep)
    rep["tolerance"] = tol
    rep["path"] = "transformers" if real is not None else "reference"
    return rep

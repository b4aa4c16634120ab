"""`classifier`: a RoBERTa sequence classifier that shares the diffusion model's tokenizer (e.g.
`cardiffnlp/twitter-roberta-base-sentiment`) → a classifier pack for guidance (thesis ch. 3, the contract of #3):

    logits float32 [N, B, V], label int64 [N] → log_probs float32 [N, C], grad float32 [N, B, V]

with grad = ∂ log p(label | softmax(logits)) / ∂ logits per row. The classifier reads what the official SSD-LM code
feeds it (A_seed_reference §1.8): q = softmax(logits), inputs_embeds = q · E_cls (its own word embeddings), the block
positions only (no context, no <s>/</s>), positions 2 … B+1, head on position 0.

ONNX Runtime has no autograd, so the graph computes the backward pass explicitly: `GuidanceGraph` runs the forward
pass keeping its activations and then the vector–Jacobian products layer by layer (classification head, LayerNorm,
GELU, attention softmax, embeddings, softmax of the input). It is checked against autograd through the model (the
reference module, or the real transformers class when installed).
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn as nn

from ex_common import OPSET, check, fix_dims, float_state, have_transformers, ort_run, read_json, read_weights, rel_err, traced_path
from ex_reference import roberta as ref_roberta


def ln_fwd(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    inv = torch.rsqrt((xc * xc).mean(-1, keepdim=True) + eps)
    xhat = xc * inv
    return xhat * w + b, (xhat, inv)


def ln_bwd(g, saved, w):
    xhat, inv = saved
    gx = g * w
    return inv * (gx - gx.mean(-1, keepdim=True) - xhat * (gx * xhat).mean(-1, keepdim=True))


SQRT_HALF = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu_fwd(x):
    cdf = 0.5 * (1.0 + torch.erf(x * SQRT_HALF))
    return x * cdf, cdf


def gelu_bwd(g, x, cdf):
    return g * (cdf + x * torch.exp(-0.5 * x * x) * INV_SQRT_2PI)


class GuidanceGraph(nn.Module):
    """Forward and explicit backward of a RobertaForSequenceClassification on simplex inputs, from its weights."""

    def __init__(self, model: nn.Module, cfg: dict):
        super().__init__()
        if cfg.get("hidden_act", "gelu") != "gelu":
            raise SystemExit(f"hidden_act {cfg.get('hidden_act')!r}: the gradient graph implements the exact (erf) GELU of RoBERTa")
        sd = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
        self.p = nn.ParameterDict()
        self.names = {}
        for k, v in sd.items():
            if k.startswith(("roberta.embeddings.", "roberta.encoder.", "classifier.")) and not k.endswith("position_ids"):
                safe = k.replace(".", "__")
                self.p[safe] = nn.Parameter(v, requires_grad=False)
                self.names[k] = safe
        self.layers = cfg["num_hidden_layers"]
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg.get("layer_norm_eps", 1e-5)
        self.pad = cfg.get("pad_token_id", 1)
        self.scale = 1.0 / math.sqrt(cfg["hidden_size"] // cfg["num_attention_heads"])

    def w(self, k):
        return self.p[self.names[k]]

    def lin(self, x, k):
        return x @ self.w(k + ".weight").t() + self.w(k + ".bias")

    def split(self, x):
        n, s, h = x.shape
        return x.view(n, s, self.heads, h // self.heads).transpose(1, 2)

    @staticmethod
    def merge(x):
        n, h, s, d = x.shape
        return x.transpose(1, 2).reshape(n, s, h * d)

    def forward(self, logits, label):
        E = self.w("roberta.embeddings.word_embeddings.weight")
        n, s, _ = logits.shape
        q = torch.softmax(logits, dim=-1)
        e = q @ E
        pos = self.w("roberta.embeddings.position_embeddings.weight")[self.pad + 1:self.pad + 1 + s]
        x0 = e + pos.unsqueeze(0) + self.w("roberta.embeddings.token_type_embeddings.weight")[0]
        h, ln0 = ln_fwd(x0, self.w("roberta.embeddings.LayerNorm.weight"), self.w("roberta.embeddings.LayerNorm.bias"), self.eps)
        saved = []
        scale = self.scale
        for i in range(self.layers):
            p = f"roberta.encoder.layer.{i}."
            Q, K, Vv = (self.split(self.lin(h, p + "attention.self." + m)) for m in ("query", "key", "value"))
            A = torch.softmax(Q @ K.transpose(-1, -2) * scale, dim=-1)
            C = self.merge(A @ Vv)
            h1, ln1 = ln_fwd(self.lin(C, p + "attention.output.dense") + h, self.w(p + "attention.output.LayerNorm.weight"),
                             self.w(p + "attention.output.LayerNorm.bias"), self.eps)
            m = self.lin(h1, p + "intermediate.dense")
            f, cdf = gelu_fwd(m)
            h2, ln2 = ln_fwd(self.lin(f, p + "output.dense") + h1, self.w(p + "output.LayerNorm.weight"), self.w(p + "output.LayerNorm.bias"), self.eps)
            saved.append((h, Q, K, Vv, A, ln1, m, cdf, ln2))
            h = h2
        d = torch.tanh(self.lin(h[:, 0, :], "classifier.dense"))
        z = self.lin(d, "classifier.out_proj")
        log_probs = torch.log_softmax(z, dim=-1)

        # backward of log p(label) per row
        onehot = torch.zeros_like(z).scatter(1, label.unsqueeze(1), 1.0)
        gz = onehot - torch.exp(log_probs)
        gd = (gz @ self.w("classifier.out_proj.weight")) * (1.0 - d * d)
        gx = gd @ self.w("classifier.dense.weight")
        first = torch.zeros_like(h[:, :1, :]) + gx.unsqueeze(1)
        g = torch.cat([first, torch.zeros_like(h[:, 1:, :])], dim=1)
        for i in reversed(range(self.layers)):
            p = f"roberta.encoder.layer.{i}."
            hin, Q, K, Vv, A, ln1, m, cdf, ln2 = saved[i]
            gu = ln_bwd(g, ln2, self.w(p + "output.LayerNorm.weight"))
            gf = gu @ self.w(p + "output.dense.weight")
            gm = gelu_bwd(gf, m, cdf)
            gh1 = gu + gm @ self.w(p + "intermediate.dense.weight")
            gv = ln_bwd(gh1, ln1, self.w(p + "attention.output.LayerNorm.weight"))
            gC = self.split(gv @ self.w(p + "attention.output.dense.weight"))
            gA = gC @ Vv.transpose(-1, -2)
            gV = A.transpose(-1, -2) @ gC
            gS = A * (gA - (gA * A).sum(-1, keepdim=True)) * scale
            gQ = self.merge(gS @ K)
            gK = self.merge(gS.transpose(-1, -2) @ Q)
            g = (gv + gQ @ self.w(p + "attention.self.query.weight") + gK @ self.w(p + "attention.self.key.weight")
                 + self.merge(gV) @ self.w(p + "attention.self.value.weight"))
        ge = ln_bwd(g, ln0, self.w("roberta.embeddings.LayerNorm.weight"))
        gq = ge @ E.t()
        grad = q * (gq - (q * gq).sum(-1, keepdim=True))
        return log_probs, grad


def autograd_reference(model: nn.Module, logits: torch.Tensor, label: torch.Tensor):
    """log p and ∂ log p(label)/∂ logits through the model by autograd (the check of the explicit backward)."""
    x = logits.clone().requires_grad_(True)
    E = model.get_input_embeddings().weight
    out = model(inputs_embeds=torch.softmax(x, -1) @ E).logits
    lp = torch.log_softmax(out.float(), -1)
    lp.gather(1, label.unsqueeze(1)).sum().backward()
    return lp.detach(), x.grad.detach()


def load_classifier(folder: str):
    cfg = read_json(os.path.join(folder, "config.json"))
    c = ref_roberta.RobertaConfig.from_dict(cfg)
    ref = ref_roberta.RobertaForSequenceClassification(c)
    ref_roberta.load_state(ref, float_state(read_weights(folder)))
    ref.eval()
    real = None
    if have_transformers():
        from transformers import RobertaForSequenceClassification

        real = RobertaForSequenceClassification.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager").eval()
    return ref, real, cfg, c


def export_graph(graph: GuidanceGraph, path: str, V: int, C: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, V, generator=g) * 5
    label = torch.tensor([0, C - 1])
    with traced_path(path) as traced, torch.no_grad():
        torch.onnx.export(graph, (x, label), traced, input_names=["logits", "label"], output_names=["log_probs", "grad"], opset_version=OPSET,
                          do_constant_folding=True,
                          dynamic_axes={"logits": {0: "batch_size", 1: "block_length"}, "label": {0: "batch_size"},
                                        "log_probs": {0: "batch_size"}, "grad": {0: "batch_size", 1: "block_length"}})
        fix_dims(path, lambda n: {2: V} if n in ("logits", "grad") else ({1: C} if n == "log_probs" else {}), src=traced)


def verify(graph: GuidanceGraph, ref, real, onnx_path: str, V: int, C: int, K: float, tol: float) -> dict:
    rep: dict = {}
    g = torch.Generator().manual_seed(7)
    for case, (n, s) in {"batch2_block5": (2, 5), "batch1_block3": (1, 3)}.items():
        x = torch.randn(n, s, V, generator=g) * K
        label = torch.randint(0, C, (n,), generator=g)
        with torch.no_grad():
            lp, grad = graph(x, label)
        alp, agrad = autograd_reference(ref, x, label)
        check(f"{case}_log_probs_vs_model", rel_err(lp.numpy(), alp.numpy()), 1e-4, rep)
        check(f"{case}_grad_vs_autograd", rel_err(grad.numpy(), agrad.numpy()), 1e-3, rep)
        if real is not None:
            tlp, tgrad = autograd_reference(real, x, label)
            check(f"{case}_log_probs_vs_transformers", rel_err(lp.numpy(), tlp.numpy()), 1e-4, rep)
            check(f"{case}_grad_vs_transformers_autograd", rel_err(grad.numpy(), tgrad.numpy()), 1e-3, rep)
        o = ort_run(onnx_path, {"logits": x.numpy(), "label": label.numpy()})
        check(f"{case}_onnx_log_probs", rel_err(o["log_probs"], lp.numpy()), tol, rep)
        check(f"{case}_onnx_grad", rel_err(o["grad"], grad.numpy()), tol, rep)
        rep[f"{case}_grad_sum_over_vocab_max"] = float(grad.sum(-1).abs().max())
    rep["tolerance"] = tol
    rep["path"] = "transformers" if real is not None else "reference"
    return rep

#!/usr/bin/env python3
"""PyTorch reference of Concert's simplex diffusion decoding loop (SSD-LM / SSD-2), step for step the algorithm of
src/engine/diffusion/decode.ts (A_seed_reference §1.5), so that whole runs can be compared under a fixed noise stream.

Per block (B positions), with T = T_decode ≤ T_train:

    x ← K·N(0, I)                                   noise at (block, step T+1)  [rewrite: √ᾱ_t0·w̃ + √(1−ᾱ_t0)·noise]
    for t = T, T−1, …, t_end:                       t_end = max(1, ⌈earlyStop·T⌉); earlyStop 0 runs to t = 1
        out_r ← model_r(context_r, softmax(x), selfcond_r, t/T)   every term (row) r
        selfcond_r ← out_r                          the row's own logits (zeros at the first step)
        logits ← Σ_r w_r·out_r                      terms with weight 0 skipped
        logits ← logits + Σ λ·∇log p(label|softmax(logits))       guidance hook, every step incl. the last
        if t = t_end: stop
        ŵ ← projection(logits; top-p, K)            ±K; sampling from the nucleus (top-p 0 = greedy) or multi-hot
        z ← K·N(0, I)                               noise at (block, step t)
        x ← √ᾱ_{t−1}·ŵ + √(1−ᾱ_{t−1})·z            (t = 1: ᾱ_0 = 1, x = ŵ exactly: no noise at the last step)
    block ← argmax(logits of the last step)         the official code's choice (model logits, not x)
    if eos in block: keep the tokens before the first eos and stop
    every context ← context + block

Randomness is exactly the TypeScript engine's (src/engine/random.ts): Gaussian noise from ``SeededNoise(seed)``
addressed by (block, step), Box–Muller over a counter-based hash (ported bit for bit in ``seeded_gaussian``); the
projection draws one uniform per position from ``Rng(seed, 1)``. Float arithmetic follows the TypeScript code
(float32 buffers, float64 scalars).

CLI (a quick look at a trained model):
    /usr/bin/python3 tools/diffusion/decode.py --ckpt data/build/ckpt/ssd-core/final.pt --prompt "The house was" \
        --steps 100 --top-p 0.95 --tokens 32
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import SimplexDiffusionLM, alpha_bar  # noqa: E402

M32 = 0xFFFFFFFF
_M = np.uint64(M32)


def _u64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.uint64) & _M


def _imul(a: np.ndarray, b: int) -> np.ndarray:
    """Math.imul (as unsigned): the low 32 bits of the product (uint64 arithmetic wraps, the low bits are exact)."""
    return (a * np.uint64(b)) & _M


def mix32(x) -> np.ndarray:
    x = _u64(x)
    x = _imul(x ^ (x >> np.uint64(16)), 0x85EBCA6B)
    x = _imul(x ^ (x >> np.uint64(13)), 0xC2B2AE35)
    return (x ^ (x >> np.uint64(16))) & _M


def uniform_at(seed: int, stream: int, index) -> np.ndarray:
    """src/engine/random.ts uniformAt: uniform in [0, 1) from (seed, stream, index) (index may be an array)."""
    a = mix32(mix32(seed & M32) ^ np.uint64(stream & M32))
    h = mix32(a ^ _u64(index))
    return h.astype(np.float64) / 4294967296.0


class Rng:
    """src/engine/random.ts Rng: a sequential stream of uniforms for (seed, stream)."""

    def __init__(self, seed: int, stream: int = 0):
        self.seed, self.stream, self.index = seed, stream, 0

    def next(self) -> float:
        u = float(uniform_at(self.seed, self.stream, self.index))
        self.index += 1
        return u


def noise_stream_id(block: int, step: int) -> int:
    return (((block + 1) * 0x9E3779B1) & M32) ^ ((step + 1) & M32)


def seeded_gaussian(seed: int, n: int, std: float, block: int, step: int) -> np.ndarray:
    """SeededNoise(seed).gaussian(out[n], std, {block, step}) as float32 (Box–Muller on counter-based uniforms)."""
    stream = noise_stream_id(block, step)
    m = (n + 1) // 2
    i = np.arange(m, dtype=np.uint64) * np.uint64(2)
    u1 = 1.0 - uniform_at(seed, stream, i)
    u2 = uniform_at(seed, stream, i + np.uint64(1))
    r = np.sqrt(-2.0 * np.log(u1))
    ang = 2.0 * math.pi * u2
    out = np.empty(2 * m, dtype=np.float64)
    out[0::2] = std * r * np.cos(ang)
    out[1::2] = std * r * np.sin(ang)
    return out[:n].astype(np.float32)


class SeededNoise:
    def __init__(self, seed: int):
        self.seed = seed

    def gaussian(self, n: int, std: float, block: int, step: int) -> np.ndarray:
        return seeded_gaussian(self.seed, n, std, block, step)


# ------------------------------------------------------------------------------------------------ projection
def nucleus(row: np.ndarray, top_p: float):
    """Sorted nucleus of one row of logits: keep sorted positions while the mass before them is < top_p."""
    x = row.astype(np.float64)
    exps = np.exp(x - x.max())
    total = exps.sum()
    if top_p <= 0:
        j = int(np.argmax(exps))
        return np.array([j]), np.array([exps[j] / total])
    order = np.argsort(-exps, kind="stable")
    probs = exps[order] / total
    before = np.concatenate([[0.0], np.cumsum(probs)[:-1]])
    keep = max(1, int(np.sum(before < top_p)))  # 'before' is increasing, so this is the first failing position
    return order[:keep], probs[:keep]


def project(logits: np.ndarray, K: float, top_p: float, kind: str, rng: Rng):
    """[B, V] logits → (±K simplex [B, V] float32, chosen token per position). Mirrors projection.ts."""
    Bn, V = logits.shape
    out = np.full((Bn, V), -K, dtype=np.float32)
    chosen = np.zeros(Bn, dtype=np.int64)
    for i in range(Bn):
        ids, probs = nucleus(logits[i], top_p)
        if kind == "multi-hot":
            out[i, ids] = K
            chosen[i] = ids[0]
            continue
        total = 0.0
        for p in probs:
            total += p
        u = rng.next() * total
        pick = int(ids[-1])
        for j in range(len(ids)):
            u -= probs[j]
            if u < 0:
                pick = int(ids[j])
                break
        out[i, pick] = K
        chosen[i] = pick
    return out, chosen


def renoise(projected: np.ndarray, z: np.ndarray, t: int, T: int) -> np.ndarray:
    """x_{t−1} = √ᾱ_{t−1}·ŵ + √(1−ᾱ_{t−1})·z in float64, stored as float32 (t = 1: ᾱ_0 = 1, exactly ŵ)."""
    a = alpha_bar(t - 1, T)
    return (math.sqrt(a) * projected.astype(np.float64) + math.sqrt(1 - a) * z.astype(np.float64)).astype(np.float32)


# ------------------------------------------------------------------------------------------------ the models
class TorchDiffusion:
    """A trained SimplexDiffusionLM behind the engine's DiffusionLM contract (rows left-padded in one batch)."""

    def __init__(self, model: SimplexDiffusionLM, pad_id: int = 0, device="cpu"):
        self.model = model.eval().to(device)
        self.cfg = model.cfg
        self.pad_id = pad_id
        self.device = device
        self.vocab_size, self.block_size, self.k, self.t_train = self.cfg.vocab_size, self.cfg.block_size, self.cfg.K, self.cfg.t_train
        self.max_context = self.cfg.max_positions

    @torch.no_grad()
    def encode_context(self, rows: Sequence[Sequence[int]]):
        L = max(len(r) for r in rows)
        ids = torch.full((len(rows), L), self.pad_id, dtype=torch.long)
        mask = torch.zeros(len(rows), L, dtype=torch.long)
        pos = torch.ones(len(rows), L, dtype=torch.long)
        for i, r in enumerate(rows):
            o = L - len(r)
            ids[i, o:] = torch.tensor(list(r), dtype=torch.long)
            mask[i, o:] = 1
            pos[i, o:] = torch.arange(len(r))
        ids, mask, pos = ids.to(self.device), mask.to(self.device), pos.to(self.device)
        anchors = torch.tensor([r[-1] for r in rows], dtype=torch.long, device=self.device)
        return {"past": self.model.encode_context(ids, mask, pos), "mask": mask, "anchors": anchors}

    @torch.no_grad()
    def denoise(self, ctx, noisy: np.ndarray, self_cond: Optional[np.ndarray], t_frac: float) -> np.ndarray:
        rows = noisy.shape[0]
        x = torch.from_numpy(noisy).to(self.device)
        sc = torch.from_numpy(self_cond).to(self.device) if self_cond is not None else torch.zeros_like(x)
        t = torch.full((rows,), float(np.float32(t_frac)), device=self.device)
        out = self.model.denoise(x, sc, t, ctx["mask"], ctx["past"], ctx["anchors"])
        return out.float().cpu().numpy()


# ------------------------------------------------------------------------------------------------- the loop
@dataclass
class Term:
    context: List[int]
    weight: float = 1.0
    label: str = "term"


@dataclass
class StepRecord:
    block: int
    t: int
    argmax: List[int]
    chosen: Optional[List[int]] = None  # projected tokens (None at the last step)


@dataclass
class DecodeResult:
    tokens: List[int]
    blocks: int
    stopped_by: str
    steps: List[StepRecord] = field(default_factory=list)


Guidance = Callable[[np.ndarray, dict], np.ndarray]


def decode(lm: TorchDiffusion, terms: Sequence[Term], max_tokens: int, steps: int, top_p: float = 0.0,
           projection: str = "sample", seed: int = 0, guidance: Optional[Guidance] = None, early_stop: float = 0.0,
           eos: Optional[int] = None, rewrite: Optional[dict] = None, noise=None, record_steps: bool = False,
           self_conditioning: Optional[bool] = None, suppress: Sequence[int] = (), slide_head: Optional[int] = None) -> DecodeResult:
    """The decoding loop of src/engine/diffusion/decode.ts (see the module docstring). ``suppress``: token ids whose
    logits are set to −1e9 at every step (before guidance); ``slide_head``: slide the context window (keep that many
    head tokens and the latest ones) instead of refusing contexts that do not fit."""
    B, V, K = lm.block_size, lm.vocab_size, lm.k
    T = steps
    if not (1 <= T <= lm.t_train):
        raise ValueError(f"steps must be in 1..{lm.t_train}")
    if not (0 <= early_stop < 1):
        raise ValueError("early stop must be in [0, 1)")
    sc_on = True if self_conditioning is None else self_conditioning
    rows = len(terms)
    noise = noise or SeededNoise(seed)
    rng = Rng(seed, 1)
    weights = [t.weight for t in terms]
    t_end = max(1, math.ceil(early_stop * T)) if early_stop else 1
    t0 = max(1, math.ceil(rewrite["strength"] * T)) if rewrite else T
    blocks = math.ceil(len(rewrite["tokens"]) / B) if rewrite else math.ceil(max_tokens / B)
    contexts = [list(t.context) for t in terms]
    for c in contexts:
        if slide_head is None and len(c) + blocks * B > lm.max_context:
            raise ValueError(f"context of {len(c)} tokens plus {blocks * B} new tokens exceeds {lm.max_context}")
    output: List[int] = []
    records: List[StepRecord] = []
    for block in range(blocks):
        if slide_head is not None:
            limit = lm.max_context - B
            for c in contexts:
                if len(c) > limit:
                    del c[slide_head:len(c) - limit + slide_head]
        ctx = lm.encode_context(contexts)
        x = noise.gaussian(B * V, K, block, t0 + 1).reshape(B, V)
        if rewrite:
            toks = rewrite["tokens"]
            fill = eos if eos is not None else toks[-1]
            orig = [toks[block * B + i] if block * B + i < len(toks) else fill for i in range(B)]
            w = np.full((B, V), -K, dtype=np.float32)
            w[np.arange(B), orig] = K
            a = alpha_bar(t0, T)
            x = (math.sqrt(a) * w.astype(np.float64) + math.sqrt(1 - a) * x.astype(np.float64)).astype(np.float32)
        self_cond = np.zeros((rows, B, V), dtype=np.float32) if sc_on else None
        combined = np.zeros((B, V), dtype=np.float32)
        t = t0
        while t >= t_end:
            noisy = np.broadcast_to(x, (rows, B, V)).copy()
            out = lm.denoise(ctx, noisy, self_cond, t / T)
            if self_cond is not None:
                self_cond = out
            combined = np.zeros((B, V), dtype=np.float32)
            for r in range(rows):
                if weights[r] == 0:
                    continue
                combined = (combined.astype(np.float64) + weights[r] * out[r].astype(np.float64)).astype(np.float32)
            for tok in suppress:
                combined[:, tok] = -1e9
            if guidance is not None:
                combined = guidance(combined, {"block": block, "t": t, "T": T})
            rec = StepRecord(block, t, [int(i) for i in combined.argmax(-1)]) if record_steps else None
            if t == t_end:
                if rec:
                    records.append(rec)
                break
            projected, chosen = project(combined, K, top_p, projection, rng)
            if rec:
                rec.chosen = [int(c) for c in chosen]
                records.append(rec)
            z = noise.gaussian(B * V, K, block, t).reshape(B, V)
            x = renoise(projected, z, t, T)
            t -= 1
        released = [int(i) for i in combined.argmax(-1)]
        if eos is not None and eos in released:
            output.extend(released[: released.index(eos)])
            return DecodeResult(output, block + 1, "eos", records)
        output.extend(released)
        for c in contexts:
            c.extend(released)
    return DecodeResult(output[: len(rewrite["tokens"]) if rewrite else max_tokens], blocks, "max-tokens", records)


@dataclass
class BatchTerm:
    """One term of a batched run: a model, one context per sample, a weight."""
    lm: "TorchDiffusion"
    contexts: List[List[int]]
    weight: float = 1.0


@torch.no_grad()
def decode_batch(terms: Sequence[BatchTerm], blocks: int, steps: int, top_p: float = 0.0, seed: int = 0,
                 eos: Optional[int] = None, early_stop: float = 0.0, guidance=None, device="cpu") -> List[List[int]]:
    """The same algorithm for many independent samples at once (evaluation speed): each sample has its own x, shared
    by its terms (e.g. SSD-2 collaboration: core(no doc), user(doc), user(no doc) with weights); noise and sampling
    come from a torch generator (not the engine's stream). guidance(logits [n, B, V] tensor) -> logits.
    Returns each sample's tokens (pruned at the first eos; a sample stops there)."""
    n = len(terms[0].contexts)
    lm0 = terms[0].lm
    B, V, K = lm0.block_size, lm0.vocab_size, lm0.k
    T = steps
    t_end = max(1, math.ceil(early_stop * T)) if early_stop else 1
    g = torch.Generator().manual_seed(seed)
    ctxs = [[list(c) for c in term.contexts] for term in terms]
    out: List[List[int]] = [[] for _ in range(n)]
    done = [False] * n
    for _block in range(blocks):
        live = [i for i in range(n) if not done[i]]
        if not live:
            break
        # (evaluation helper: contexts longer than the model's window keep their last max_context - B tokens)
        encoded = [term.lm.encode_context([ctxs[j][i][-(term.lm.max_context - B):] for i in live]) for j, term in enumerate(terms)]
        m = len(live)
        x = torch.randn(m, B, V, generator=g) * K
        sc = [torch.zeros(m, B, V) for _ in terms]
        combined = None
        for t in range(T, t_end - 1, -1):
            combined = torch.zeros(m, B, V)
            for j, term in enumerate(terms):
                o = torch.from_numpy(term.lm.denoise(encoded[j], x.numpy(), sc[j].numpy(), t / T))
                sc[j] = o
                if term.weight != 0:
                    combined += term.weight * o
            if guidance is not None:
                combined = guidance(combined)
            if t == t_end:
                break
            if top_p <= 0:
                pick = combined.argmax(-1)
            else:
                probs = torch.softmax(combined.double(), -1)
                sp, si = probs.sort(-1, descending=True)
                before = sp.cumsum(-1) - sp
                sp = torch.where(before < top_p, sp, torch.zeros_like(sp))
                sp[..., 0] = torch.where(sp[..., 0] > 0, sp[..., 0], torch.ones_like(sp[..., 0]))
                k = torch.multinomial(sp.reshape(-1, V), 1, generator=g).reshape(m, B, 1)
                pick = si.gather(-1, k).squeeze(-1)
            w = torch.full((m, B, V), -K)
            w.scatter_(-1, pick.unsqueeze(-1), K)
            a = alpha_bar(t - 1, T)
            z = torch.randn(m, B, V, generator=g) * K
            x = (math.sqrt(a) * w.double() + math.sqrt(1 - a) * z.double()).float()
        released = combined.argmax(-1).tolist()
        for r, i in enumerate(live):
            toks = released[r]
            if eos is not None and eos in toks:
                out[i].extend(toks[: toks.index(eos)])
                done[i] = True
            else:
                out[i].extend(toks)
                for j in range(len(terms)):
                    ctxs[j][i].extend(toks)
    return out


def classifier_guidance_batch(clf, label: int, lam: float):
    """Batched guidance: logits [n, B, V] ← logits + λ·∂log p(label)/∂logits per row (the classifier graph's grad)."""

    def g(logits: torch.Tensor) -> torch.Tensor:
        if lam == 0:
            return logits
        _, grad = clf.forward_with_grad(logits, torch.full((logits.shape[0],), label, dtype=torch.long))
        return logits + lam * grad

    return g


def classifier_guidance(clf, label: int, lam: float) -> Guidance:
    """logits ← logits + λ·∂log p(label | softmax(logits))/∂logits with a tools/models/classifier.py model."""

    def g(logits: np.ndarray, _info: dict) -> np.ndarray:
        if lam == 0:
            return logits
        with torch.no_grad():
            _, grad = clf.forward_with_grad(torch.from_numpy(logits).unsqueeze(0), torch.tensor([label]))
        return (logits.astype(np.float64) + lam * grad[0].numpy().astype(np.float64)).astype(np.float32)

    return g


def decode_arg_parser(doc: str, steps: int, threads: int) -> argparse.ArgumentParser:
    """The options of the scripts that decode from a training checkpoint: --ckpt, --tokens, --steps, --threads."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--threads", type=int, default=threads)
    return ap


def load_for_decoding(ckpt: str, threads: int):
    """(model, checkpoint, encoder, TorchDiffusion) of a training checkpoint, with the tokenizer snapshot next to it;
    torch runs on ``threads`` threads."""
    torch.set_num_threads(threads)
    from data import encoder_for
    from model import load_model

    model, ck = load_model(ckpt)
    enc = encoder_for(os.path.join(os.path.dirname(os.path.abspath(ckpt)), "tokenizer.json"))
    return model, ck, enc, TorchDiffusion(model, enc.pad)


def prompt_ids(enc, text: str) -> List[int]:
    """A continuation's context: <s>, then the text (stripped, after one space) plain-encoded; <s> alone for no text."""
    return [enc.bos] + enc.tok.encode_plain(" " + text.strip()) if text.strip() else [enc.bos]


def main():
    ap = decode_arg_parser(__doc__, steps=100, threads=1)
    ap.add_argument("--prompt", default="")
    ap.add_argument("--template", default="lm", help="lm (text continuation) or raw")
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--early-stop", type=float, default=0.0)
    a = ap.parse_args()
    model, ck, enc, lm = load_for_decoding(a.ckpt, a.threads)
    ctx = prompt_ids(enc, a.prompt)
    r = decode(lm, [Term(ctx)], a.tokens, a.steps, a.top_p, seed=a.seed, eos=enc.eos, early_stop=a.early_stop)
    print(a.prompt + enc.decode(r.tokens))


if __name__ == "__main__":
    main()

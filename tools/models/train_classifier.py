#!/usr/bin/env python3
"""Train a guidance classifier over vocabulary simplexes (sentiment or literary/technical style).

    /usr/bin/python3 tools/models/train_classifier.py --attribute sentiment --max-minutes 8
    /usr/bin/python3 tools/models/train_classifier.py --attribute style --max-minutes 8
    /usr/bin/python3 tools/models/train_classifier.py --attribute sentiment --smoke      (tiny, ~1 min)

Data: data/build/<attribute>/{train,validation,test}.jsonl ({"text","label"}), tokenized with the shared tokenizer
exactly as the runtime encodes classifier input (the "classify" template: the text alone, plain encoding).

Inputs during training are the simplexes the exported graph receives: one-hot-like logits K*(2*onehot-1) with K=5
(real text; computed exactly without materialising [B, L, V]) and, for a share of the batches, noisier simplexes
(smaller K plus Gaussian noise) like the ones diffusion guidance sees. Model selection uses the validation split;
the test split is only scored once at the end (reported in the model card). A checkpoint is written to
<out-dir>/last.pt every --ckpt-minutes so an interrupted run resumes.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(ROOT, "tools"))
import lm_data  # noqa: E402
from common.training import arg_parser, budget_progress, log, pick_device, run_record  # noqa: E402
from classifier import ClfConfig, SimplexClassifier  # noqa: E402

LABELS = {"sentiment": ["negative", "positive"], "style": ["literary", "technical"]}
K_TEXT = 5.0


def parse_args(argv=None):
    ap = arg_parser(__doc__)
    ap.add_argument("--attribute", required=True, choices=sorted(LABELS))
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--out-dir", default=None)
    ap.add_argument("--eval-out", default=None, help="write test/validation metrics JSON here")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--d-embed", type=int, default=None)
    ap.add_argument("--d-hidden", type=int, default=None)
    ap.add_argument("--radius", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=64)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--noisy-share", type=float, default=0.25, help="share of batches with noisy simplexes")
    ap.add_argument("--noisy-batch", type=int, default=16)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--patience", type=int, default=8, help="stop after this many evaluations without improvement")
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--fresh", action="store_true")
    a = ap.parse_args(argv)
    if a.smoke:
        a.d_embed = a.d_embed or 16
        a.d_hidden = a.d_hidden or 16
        a.max_minutes = a.max_minutes or 0.5
        a.eval_every = 50
    a.d_embed = a.d_embed or 128
    a.d_hidden = a.d_hidden or 128
    if a.max_minutes is None and a.max_steps is None:
        a.max_minutes = 8.0
    if a.out_dir is None:
        a.out_dir = os.path.join(a.build_dir, "ckpt", f"clf-{a.attribute}" + ("-smoke" if a.smoke else ""))
    if not os.path.exists(os.path.join(a.build_dir, "tokenizer", "tokenizer.json")) and os.path.exists(os.path.join(a.build_dir, "smoke", "tokenizer", "tokenizer.json")):
        a.build_dir = os.path.join(a.build_dir, "smoke")
    return a


def load_split(build_dir: str, attribute: str, split: str, enc, max_len: int, limit=None):
    rows = lm_data.read_jsonl(os.path.join(build_dir, attribute, f"{split}.jsonl"))
    if limit:
        rows = rows[:limit]
    labels = LABELS[attribute]
    ids = [enc.render("classify", "prompt", {"text": r["text"]})[:max_len] for r in rows]
    y = [labels.index(r["label"]) for r in rows]
    keep = [i for i, s in enumerate(ids) if len(s) > 0]
    return [ids[i] for i in keep], np.array([y[i] for i in keep], np.int64), [rows[i] for i in keep]


def pad_batch(seqs, device):
    L = max(len(s) for s in seqs)
    x = torch.zeros(len(seqs), L, dtype=torch.long)
    m = torch.zeros(len(seqs), L, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = torch.as_tensor(s)
        m[i, :len(s)] = 1
    return x.to(device), m.to(device)


def embed(model: SimplexClassifier, x, noisy: bool, gen: torch.Generator):
    if not noisy:
        return model.embed_onehot_like(x, K_TEXT)
    B, L = x.shape
    V = model.cfg.vocab_size
    K = 1.0 + 4.0 * torch.rand(B, 1, 1, generator=gen).to(x.device)
    sigma = 2.0 * torch.rand(B, 1, 1, generator=gen).to(x.device)
    logits = K * (2.0 * F.one_hot(x, V).to(torch.float32) - 1.0)
    logits = logits + sigma * torch.randn(logits.shape, generator=gen).to(x.device)
    _, e = model.embed_simplex(logits)
    return e


@torch.no_grad()
def evaluate(model, seqs, y, device, noisy=None, gen=None, batch=256):
    model.eval()
    correct, nll = 0, 0.0
    order = np.argsort([len(s) for s in seqs])  # length-bucketed for speed; results are per example
    for i in range(0, len(seqs), batch):
        idx = order[i:i + batch]
        x, m = pad_batch([seqs[j] for j in idx], device)
        e = embed(model, x, noisy is not None, gen) if noisy is not None else model.embed_onehot_like(x, K_TEXT)
        c, _ = model.head(e, m)
        t = torch.as_tensor(y[idx], device=device)
        correct += int((c.argmax(-1) == t).sum())
        nll += F.cross_entropy(c, t, reduction="sum").item()
    model.train()
    return {"n": len(seqs), "accuracy": round(correct / max(len(seqs), 1), 4), "nll": round(nll / max(len(seqs), 1), 4)}


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    dev = pick_device(a.device)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    gen = torch.Generator().manual_seed(a.seed + 1)
    os.makedirs(a.out_dir, exist_ok=True)
    enc = lm_data.Encoder(os.path.join(a.build_dir, "tokenizer", "tokenizer.json"))
    import shutil
    shutil.copyfile(enc.path, os.path.join(a.out_dir, "tokenizer.json"))  # the pack ships this copy
    lim = 2000 if a.smoke else None
    tr_x, tr_y, _ = load_split(a.build_dir, a.attribute, "train", enc, a.max_len, lim)
    va_x, va_y, _ = load_split(a.build_dir, a.attribute, "validation", enc, a.max_len, lim)
    log(f"{a.attribute}: train {len(tr_x)} (label counts {np.bincount(tr_y).tolist()}), validation {len(va_x)}; device {dev}")
    cfg = ClfConfig(vocab_size=enc.vocab_size, d_embed=a.d_embed, d_hidden=a.d_hidden, num_labels=len(LABELS[a.attribute]), radius=a.radius)
    model = SimplexClassifier(cfg).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    log(f"model {model.num_params():,} parameters {dataclasses.asdict(cfg)}")

    final_path = os.path.join(a.out_dir, "final.pt")
    last_path = os.path.join(a.out_dir, "last.pt")
    if os.path.exists(final_path) and not a.fresh:
        fin = torch.load(final_path, map_location="cpu")
        if fin["config"] == dataclasses.asdict(cfg) and fin.get("seed") == a.seed and fin["args"].get("max_minutes") == a.max_minutes \
                and fin.get("tokenizer_sha256") == enc.sha:
            log(f"{final_path} already holds this run; nothing to do (use --fresh to retrain)")
            if a.eval_out and fin.get("metrics"):
                os.makedirs(os.path.dirname(os.path.abspath(a.eval_out)), exist_ok=True)
                with open(a.eval_out, "w") as f:
                    json.dump(fin["metrics"], f, indent=1)
            return
        raise SystemExit(f"{final_path} holds a different run; use --fresh")

    step, elapsed, history, best, best_state, bad = 0, 0.0, [], -1.0, None, 0
    if os.path.exists(last_path) and not a.fresh:
        ck = torch.load(last_path, map_location=dev)
        if ck["config"] == dataclasses.asdict(cfg) and ck.get("seed") == a.seed:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            step, elapsed, history, best, best_state, bad = ck["step"], ck["elapsed"], ck["history"], ck["best"], ck["best_state"], ck["bad"]
            log(f"resumed at step {step}")
    def progress():
        return budget_progress(a, step, elapsed)

    n = len(tr_x)
    steps_per_epoch = max(1, n // a.batch)
    t_ckpt = time.time()
    run_start = time.time()
    stopped = "budget"
    while progress() < 1.0:
        t0 = time.time()
        epoch, k = divmod(step, steps_per_epoch)
        perm = np.random.default_rng([a.seed, epoch]).permutation(n)
        idx = perm[k * a.batch:(k + 1) * a.batch]
        noisy = rng.random() < a.noisy_share
        if noisy:
            idx = idx[:a.noisy_batch]  # dense [B, L, V] simplexes are costly: smaller batches
        x, m = pad_batch([tr_x[i] for i in idx], dev)
        y = torch.as_tensor(tr_y[idx], device=dev)
        lr = a.lr * min(1.0, (step + 1) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress()))))
        for g in opt.param_groups:
            g["lr"] = lr
        c, _ = model.head(embed(model, x, noisy, gen), m)
        loss = F.cross_entropy(c, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        elapsed += time.time() - t0
        if step % a.eval_every == 0:
            v = evaluate(model, va_x, va_y, dev)
            history.append({"step": step, "loss": round(loss.item(), 4), "validation": v, "minutes": round(elapsed / 60, 2)})
            log(f"step {step} epoch {epoch} loss {loss.item():.4f} lr {lr:.2e} validation {v}")
            if v["accuracy"] > best:
                best, bad = v["accuracy"], 0
                best_state = {k_: t.detach().cpu().clone() for k_, t in model.state_dict().items()}
            else:
                bad += 1
                if bad >= a.patience:
                    stopped = f"early stop (no validation improvement in {a.patience} evaluations)"
                    break
        if time.time() - t_ckpt > a.ckpt_minutes * 60:
            torch.save({"config": dataclasses.asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                        "elapsed": elapsed, "history": history, "best": best, "best_state": best_state, "bad": bad, "seed": a.seed}, last_path + ".tmp")
            os.replace(last_path + ".tmp", last_path)
            t_ckpt = time.time()
    v = evaluate(model, va_x, va_y, dev)
    if v["accuracy"] > best or best_state is None:
        best, best_state = v["accuracy"], {k_: t.detach().cpu().clone() for k_, t in model.state_dict().items()}
    model.load_state_dict(best_state)
    log(f"training ended ({stopped}) at step {step}, {elapsed / 60:.1f} min; best validation accuracy {best}")

    # ---- the test split, scored once
    te_x, te_y, te_rows = load_split(a.build_dir, a.attribute, "test", enc, a.max_len, lim)
    metrics = {"attribute": a.attribute, "labels": LABELS[a.attribute], "K": K_TEXT,
               "validation": evaluate(model, va_x, va_y, dev), "test": evaluate(model, te_x, te_y, dev),
               "test_noisy": evaluate(model, te_x, te_y, dev, noisy=True, gen=torch.Generator().manual_seed(7)),
               "test_by_source": {}}
    for src in sorted({r.get("source", "") for r in te_rows}):
        ii = [i for i, r in enumerate(te_rows) if r.get("source", "") == src]
        metrics["test_by_source"][src] = evaluate(model, [te_x[i] for i in ii], te_y[ii], dev)
    metrics["external_human_labelled"] = None
    metrics["train_examples"] = len(tr_x)
    log(f"test {metrics['test']} noisy {metrics['test_noisy']} by source {metrics['test_by_source']}")
    final = {"config": dataclasses.asdict(cfg), "model": best_state, "seed": a.seed, "steps": step, "train_minutes": round(elapsed / 60, 2),
             "stopped": stopped, "history": history, "metrics": metrics, "args": vars(a),
             **run_record(__file__, ROOT, argv, a, dev),
             "wall_minutes_this_session": round((time.time() - run_start) / 60, 2), "num_params": model.num_params(),
             "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "tokenizer_sha256": enc.sha}
    torch.save(final, final_path + ".tmp")
    os.replace(final_path + ".tmp", final_path)
    if a.eval_out:
        os.makedirs(os.path.dirname(os.path.abspath(a.eval_out)), exist_ok=True)
        with open(a.eval_out, "w") as f:
            json.dump(metrics, f, indent=1)
    log(f"wrote {final_path}")


if __name__ == "__main__":
    main()

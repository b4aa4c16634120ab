#!/usr/bin/env python3
"""Train the bundled JPEG-LM (models/concert-jpeg-32): a small causal transformer over the bytes of canonical
image-only JPEG streams of 32x32 images (tools/jpeg/data.py). The model is tools/models/causal_lm.py (the same
decoder-only transformer with KV cache as concert-lm-small, exported by tools/models/export_causal_lm.py).

Tokens: id = byte + 3 (OFFSET), bos = 0, eos = 1, pad = 2 (vocabulary 259); a sequence is
[bos] + stream (FF D8 … FF D9) + [eos], at most 512 positions. Every image is its own sequence starting at position
0 (no packing), right-padded within a batch; padding is never a target. Batches are bucketed by length.

    /usr/bin/python3 tools/jpeg/train.py --max-minutes 40                  # the pack's run (2 CPU cores)
    /usr/bin/python3 tools/jpeg/train.py --smoke --data /tmp/d --out-dir /tmp/ck   # tiny, seconds
    /usr/bin/python3 tools/jpeg/train.py --init-from data/build/ckpt/jpeg-32/final.pt --out-dir …/jpeg-32b --max-minutes 20

Fixed seed, AdamW (0.9/0.95), linear warm-up then cosine decay over --max-steps or the --max-minutes budget,
validation loss every --eval-every steps, <out-dir>/last.pt every --ckpt-minutes: started again with the same
arguments the run resumes (--fresh starts over); --init-from starts from another checkpoint's weights with a fresh
optimizer and schedule (a continuation run). The final model is <out-dir>/final.pt with the run record.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from causal_lm import CausalLM, LMConfig  # noqa: E402
from common.checkpoint import atomic_save  # noqa: E402
from common.modules import sibling_loader  # noqa: E402
from common.training import (adamw, add_run_args, add_transformer_args, apply_preset, arg_parser, budget_progress,  # noqa: E402
                             finished_run, log, lr_at, resume_checkpoint, run_record, start_run)


# A module of tools/jpeg by file path, under a unique name (tools/diffusion has modules of the same names).
sibling = sibling_loader(HERE, "concert_jpeg_")


BOS, EOS, PAD, OFFSET = 0, 1, 2, 3
VOCAB = 256 + OFFSET
HEADER_BYTES = 59
LN2 = math.log(2)


def encode(stream: bytes) -> np.ndarray:
    return np.concatenate([[BOS], np.frombuffer(stream, np.uint8).astype(np.int64) + OFFSET, [EOS]])


def decode_tokens(ids) -> bytes:
    return bytes(int(t) - OFFSET for t in ids if OFFSET <= int(t) < VOCAB)


def load_streams(path: str):
    return sibling("data").load_split(path)


def pad_batch(seqs) -> torch.Tensor:
    n = max(len(s) for s in seqs)
    out = np.full((len(seqs), n), PAD, np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return torch.from_numpy(out)


class Batches:
    """Deterministic bucketed batches: for pool k, a seeded permutation of the training set is cut into pools of
    `pool` batches, each pool sorted by length and split into batches whose order is shuffled."""

    def __init__(self, seqs, batch: int, seed: int, pool: int = 32):
        self.seqs, self.batch, self.seed = seqs, batch, seed
        self.pool = max(1, min(pool, len(seqs) // batch))  # small (smoke) data sets: fewer batches per pool
        self.lens = np.array([len(s) for s in seqs])
        self.per_pool = batch * pool

    def get(self, step: int) -> torch.Tensor:
        pools_per_epoch = max(1, len(self.seqs) // self.per_pool)
        pool_idx, within = divmod(step, self.pool)
        epoch, p = divmod(pool_idx, pools_per_epoch)
        perm = np.random.default_rng([self.seed, 11, epoch]).permutation(len(self.seqs))
        idx = perm[p * self.per_pool:(p + 1) * self.per_pool]
        idx = idx[np.argsort(self.lens[idx], kind="stable")]
        order = np.random.default_rng([self.seed, 12, pool_idx]).permutation(self.pool)
        j = order[within]
        return pad_batch([self.seqs[i] for i in idx[j * self.batch:(j + 1) * self.batch]])


def lm_loss(model, x: torch.Tensor, reduction="mean"):
    logits, _ = model(x[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), ignore_index=PAD, reduction=reduction)


@torch.no_grad()
def evaluate(model, seqs, device, batch: int = 32) -> dict:
    """Validation figures: nats per token over all targets (stream bytes + eos), bits per byte over the stream's
    bytes, and bits per byte over the entropy-coded part only (after the constant 59-byte header, EOI included)."""
    model.eval()
    order = np.argsort([len(s) for s in seqs])
    tot = {"all": 0.0, "bytes": 0.0, "scan": 0.0}
    cnt = {"all": 0, "bytes": 0, "scan": 0}
    for i in range(0, len(order), batch):
        x = pad_batch([seqs[j] for j in order[i:i + batch]]).to(device)
        logits, _ = model(x[:, :-1])
        tgt = x[:, 1:]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD,
                              reduction="none").view_as(tgt)
        pos = torch.arange(tgt.shape[1], device=device).unsqueeze(0)  # target t = stream byte t (0-based)
        real = tgt != PAD
        is_byte = real & (tgt >= OFFSET)
        is_scan = is_byte & (pos >= HEADER_BYTES)
        for k, m in (("all", real), ("bytes", is_byte), ("scan", is_scan)):
            tot[k] += float(nll[m].sum())
            cnt[k] += int(m.sum())
    model.train()
    return {"loss": round(tot["all"] / cnt["all"], 4), "bits_per_byte": round(tot["bytes"] / cnt["bytes"] / LN2, 4),
            "bits_per_scan_byte": round(tot["scan"] / cnt["scan"] / LN2, 4), "tokens": cnt["all"]}


def parse_args(argv=None):
    ap = arg_parser(__doc__)
    add_run_args(ap, ROOT, out_help="checkpoint folder (default <build-dir>/ckpt/jpeg-32)", smoke_help="tiny model, seconds")
    add_transformer_args(ap, seq_len_help="context (positions), default 512")
    ap.add_argument("--data", default=None, help="folder with train.npz / val.npz (default <build-dir>/jpeg)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--eval-streams", type=int, default=256, help="validation streams used for the periodic loss")
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--fresh", action="store_true", help="ignore an existing last.pt")
    ap.add_argument("--init-from", default=None, help="start from the weights of this checkpoint (fresh optimizer)")
    a = ap.parse_args(argv)
    preset = dict(d_model=32, layers=1, heads=2, d_ff=64, seq_len=512, batch=4, lr=3e-3, warmup=2, eval_every=5,
                  max_minutes=None) if a.smoke else \
        dict(d_model=128, layers=6, heads=4, d_ff=512, seq_len=512, batch=32, lr=2e-3, warmup=50, eval_every=100,
             max_minutes=None)
    apply_preset(a, preset)
    if a.max_minutes is None and a.max_steps is None:
        a.max_minutes = 0.2 if a.smoke else 40.0
    if a.data is None:
        a.data = os.path.join(a.build_dir, "jpeg")
    if a.out_dir is None:
        a.out_dir = os.path.join(a.build_dir, "ckpt", "jpeg-32-smoke" if a.smoke else "jpeg-32")
    return a


def main(argv=None, *, parse=None, load=None, evaluate_fn=None, script=None):
    """The training run; the keyword hooks let another byte-stream pipeline reuse it (tools/video/train.py):
    parse(argv) -> args, load(npz path) -> list of stream bytes, evaluate_fn(model, seqs, device) -> dict with "loss",
    script = the path recorded as the command."""
    parse, evaluate_fn, script = parse or parse_args, evaluate_fn or evaluate, script or __file__
    load = load or (lambda path: load_streams(path)[0])
    a = parse(argv)
    dev = start_run(a)
    train_streams = load(os.path.join(a.data, "train.npz"))
    val_streams = load(os.path.join(a.data, "val.npz"))
    too_long = sum(len(s) + 2 > a.seq_len for s in train_streams)
    train = [encode(s) for s in train_streams if len(s) + 2 <= a.seq_len]
    val = [encode(s) for s in val_streams if len(s) + 2 <= a.seq_len]
    data_info = {"data": os.path.relpath(a.data, ROOT), "train_streams": len(train), "val_streams": len(val),
                 "dropped_too_long": int(too_long), "train_tokens": int(sum(len(s) for s in train))}
    cfg = LMConfig(vocab_size=VOCAB, d_model=a.d_model, n_layers=a.layers, n_heads=a.heads, d_ff=a.d_ff,
                   max_positions=a.seq_len)
    model = CausalLM(cfg).to(dev)
    init_info = None
    if a.init_from:
        init = torch.load(a.init_from, map_location="cpu")
        if init["config"] != dataclasses.asdict(cfg):
            raise SystemExit(f"--init-from {a.init_from}: its model config {init['config']} differs from {dataclasses.asdict(cfg)}")
        model.load_state_dict(init["model"])
        init_info = {"path": a.init_from, "steps": init.get("steps", init.get("step")), "command": init.get("command"),
                     "train_minutes": init.get("train_minutes")}
        log(f"initialised from {a.init_from} (step {init_info['steps']})")
    opt = adamw(model, a.lr, a.weight_decay, (0.9, 0.95))
    log(f"model {model.num_params():,} parameters, config {dataclasses.asdict(cfg)}")
    log(f"data {data_info}")

    last_path, final_path = os.path.join(a.out_dir, "last.pt"), os.path.join(a.out_dir, "final.pt")
    same_args = ("max_minutes", "max_steps", "lr", "batch", "seq_len", "init_from")
    if finished_run(a, final_path, dataclasses.asdict(cfg), same_args, data_info, ("train_streams", "train_tokens")):
        return
    step, elapsed, history, tokens_seen = 0, 0.0, [], 0
    ck = resume_checkpoint(a, last_path, dataclasses.asdict(cfg), dev)
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed, history, tokens_seen = ck["step"], ck["elapsed"], ck["history"], ck.get("tokens_seen", 0)
        torch.set_rng_state(ck["torch_rng"])
        log(f"resumed from {last_path} at step {step} ({elapsed / 60:.1f} min trained)")

    batches = Batches(train, a.batch, a.seed)
    eval_set = val[:a.eval_streams]

    def save_last():
        atomic_save({"config": dataclasses.asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "step": step, "elapsed": elapsed, "history": history, "seed": a.seed, "tokens_seen": tokens_seen,
                     "torch_rng": torch.get_rng_state()}, last_path)

    model.train()
    t_ckpt, t_log, tok_log, run_start = time.time(), time.time(), 0, time.time()
    loss = torch.tensor(float("nan"))
    while budget_progress(a, step, elapsed) < 1.0:
        t0 = time.time()
        lr = lr_at(a, step, budget_progress(a, step, elapsed))
        for g in opt.param_groups:
            g["lr"] = lr
        x = batches.get(step).to(dev)
        loss = lm_loss(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        elapsed += time.time() - t0
        n_tok = int((x[:, 1:] != PAD).sum())
        tokens_seen += n_tok
        tok_log += n_tok
        if step % 20 == 0 or step == 1:
            log(f"step {step} loss {loss.item():.4f} lr {lr:.2e} tok/s {tok_log / max(time.time() - t_log, 1e-9):.0f} "
                f"trained {elapsed / 60:.1f} min progress {budget_progress(a, step, elapsed):.3f}")
            t_log, tok_log = time.time(), 0
        if step % a.eval_every == 0:
            v = evaluate_fn(model, eval_set, dev)
            history.append({"step": step, "train_loss": round(loss.item(), 4), "val": v, "minutes": round(elapsed / 60, 2)})
            log(f"validation at step {step}: {v}")
        if time.time() - t_ckpt > a.ckpt_minutes * 60:
            save_last()
            t_ckpt = time.time()
            log(f"checkpoint {last_path} (step {step})")

    v = evaluate_fn(model, val, dev)
    history.append({"step": step, "train_loss": round(loss.item(), 4), "val": v, "minutes": round(elapsed / 60, 2)})
    log(f"final validation ({len(val)} streams): {v}")
    save_last()
    final = {
        "config": dataclasses.asdict(cfg), "model": {k: t.detach().cpu() for k, t in model.state_dict().items()},
        "seed": a.seed, "steps": step, "tokens_seen": tokens_seen, "train_minutes": round(elapsed / 60, 2),
        "wall_minutes_this_session": round((time.time() - run_start) / 60, 2), "history": history,
        "args": dict(vars(a)), "data": data_info, "init_from": init_info,
        "tokens": {"bos": BOS, "eos": EOS, "pad": PAD, "offset": OFFSET},
        **run_record(script, ROOT, argv, a, dev),
        "num_params": model.num_params(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_save(final, final_path)
    log(f"done: {step} steps, {tokens_seen:,} tokens, {elapsed / 60:.1f} min -> {final_path}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Train Concert's simplex diffusion LMs (SSD-2 style): the core model and the small user model.

    /usr/bin/python3 tools/diffusion/train.py --model core --max-minutes 40      # full core run (2 CPU cores)
    /usr/bin/python3 tools/diffusion/train.py --model user --max-minutes 20      # full user run
    /usr/bin/python3 tools/diffusion/train.py --model core --smoke               # tiny model, ~1-2 minutes
    /usr/bin/python3 tools/diffusion/train.py --smoke --synthetic --out-dir /tmp/ssd-smoke   # no data needed

Each step: a batch of packed windows (tools/diffusion/data.py); the clean tokens are encoded causally once; every
block of every window gets its own t ~ U{1..T_train} and noisy logits √ᾱ_t·K(2·onehot−1) + √(1−ᾱ_t)·K·ε; with
probability 0.5 (per step) a first pass without gradients predicts the block logits, which are fed back as the
self-conditioning input of the second pass (thesis §5.2.1); the loss is the cross-entropy over all block positions
(EOS padding included). Fixed seeds (data order, t, ε, the self-conditioning coin all come from seeded generators
that are checkpointed); AdamW, linear warm-up then cosine decay over --max-steps or the --max-minutes budget;
validation loss at fixed t with fixed noise; <out-dir>/last.pt every --ckpt-minutes (an interrupted run started again
with the same arguments resumes; --fresh starts over); <out-dir>/final.pt at the end. --device auto uses CUDA when
present.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(ROOT, "tools"))
from common.checkpoint import atomic_save  # noqa: E402
from common.training import (adamw, add_run_args, add_transformer_args, apply_preset, arg_parser, budget_progress,  # noqa: E402
                             finished_run, log, lr_at, resume_checkpoint, run_record, start_run, use_smoke_build)
from data import MIXES  # noqa: E402
from model import SSDConfig, SimplexDiffusionLM  # noqa: E402
from objective import loss_on, val_losses  # noqa: E402

PRESETS = {
    # Block size 2 (thesis: 25): with ~5 M parameters a position far from the context is barely predictable at high
    # noise, and blocks of 4 or 8 decoded into repetitions ("Din Din Din") and word salad; 2 keeps a real block
    # (bidirectional within it) while each block's first token is the causal LM's next-token prediction (anchored
    # blocks, model.py). The core starts from the causal LM (--init-lm).
    "core": dict(d_model=256, layers=4, heads=4, d_ff=640, seq_len=128, block=2, batch=16, lr=1e-3, warmup=60,
                 target_tokens=2.5e6, eval_every=100, max_minutes=52.0),
    "user": dict(d_model=128, layers=3, heads=4, d_ff=256, seq_len=128, block=2, batch=24, lr=2e-3, warmup=40,
                 target_tokens=1.6e6, eval_every=100, max_minutes=20.0),
    # The bundled user model since 2026-12-08 (#13): the core's shape, started from the grounded causal LM
    # (--init-lm) so that it reads its knowledge as that LM reads documents; trained on the grounded mixtures (--mix).
    "user-lm": dict(d_model=256, layers=4, heads=4, d_ff=640, seq_len=128, block=2, batch=16, lr=1e-3, warmup=40,
                    target_tokens=2.5e6, eval_every=100, max_minutes=42.0),
    "smoke": dict(d_model=64, layers=2, heads=2, d_ff=128, seq_len=64, block=4, batch=8, lr=3e-3, warmup=10,
                  target_tokens=1.5e5, eval_every=25, max_minutes=1.0),
}


def parse_args(argv=None):
    ap = arg_parser(__doc__)
    ap.add_argument("--model", choices=["core", "user", "user-lm"], default="core", help="data mixture and size preset")
    add_run_args(ap, ROOT, out_help="checkpoint folder (default <build-dir>/ckpt/ssd-<model>[-smoke])",
                 smoke_help="tiny model, ~1-2 minutes", synthetic_help="train on a generated copy task (no data needed)")
    add_transformer_args(ap, seq_len_help="window length L (= the model's maximum context)")
    ap.add_argument("--block", type=int, default=None, help="block size B")
    ap.add_argument("--K", type=float, default=5.0)
    ap.add_argument("--t-train", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--self-cond-prob", type=float, default=0.5)
    ap.add_argument("--target-tokens", type=float, default=None, help="target (block) tokens in the packed training set")
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--ckpt-minutes", type=float, default=4.0)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--init-from", default=None, help="start from the weights of this checkpoint (same architecture), "
                    "e.g. to continue a finished run with a new budget into another --out-dir")
    ap.add_argument("--init-lm", default=None, help="start from this causal LM checkpoint (tools/models; same tokenizer, "
                    "width, depth and heads): embeddings, positions and transformer blocks carry over (tools/diffusion/init_lm.py)")
    ap.add_argument("--mix", default=None, choices=sorted(MIXES), help="data mixture (tools/diffusion/data.py MIXES); "
                    "default: the --model's own")
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json (default: <build-dir>/tokenizer/tokenizer.json)")
    a = ap.parse_args(argv)
    apply_preset(a, PRESETS["smoke" if a.smoke else a.model])
    a.mix = a.mix or ("user-grounded-passages" if a.model == "user-lm" else a.model)
    if a.max_steps is not None and "--max-minutes" not in (argv if argv is not None else sys.argv):
        a.max_minutes = None
    if a.out_dir is None:
        a.out_dir = os.path.join(a.build_dir, "ckpt", f"ssd-{a.model}" + ("-smoke" if a.smoke else ""))
    use_smoke_build(a)
    return a


# ------------------------------------------------------------------------------------------------------ data
class Data:
    def __init__(self, a, log=log):
        self.synthetic = a.synthetic
        if a.synthetic:
            from data import synthetic_windows
            self.vocab_size, self.eos, self.pad = 64, 3, 0
            self.train = synthetic_windows(3000, a.seq_len, a.block, 64, a.seed)
            self.val = synthetic_windows(64, a.seq_len, a.block, 64, a.seed + 1)
            self.info = {"synthetic": True}
            self.enc = None
            return
        from data import build_windows, encoder_for
        self.enc = encoder_for(a.tokenizer or os.path.join(a.build_dir, "tokenizer", "tokenizer.json"))
        self.vocab_size, self.eos, self.pad = self.enc.vocab_size, self.enc.eos, self.enc.pad
        toks, starts, info = build_windows(a.build_dir, self.enc, a.mix, "train", a.seq_len, a.block, int(a.target_tokens), a.seed, log=log)
        self.train = (toks, starts)
        vt, vs, vinfo = build_windows(a.build_dir, self.enc, a.mix, "validation", a.seq_len, a.block, 6000 if a.smoke else 20000, a.seed + 1, log=log)
        self.val = (vt[:48], vs[:48])
        self.info = {**info, "validation": {"windows": int(len(self.val[0])), "blocks": int((self.val[1] >= 0).sum())},
                     "tokenizer_sha256": self.enc.sha}


_EPOCHS: dict = {}


def epoch_batches(starts: np.ndarray, batch: int, seed: int, epoch: int) -> np.ndarray:
    """The batches (window indices [n_batches, batch]) of one epoch: a seeded permutation, cut into chunks of 32
    batches, each chunk sorted by the windows' block counts (so a batch's rows have similar numbers of blocks and
    little padding is computed), and the batch order shuffled."""
    key = (id(starts), batch, seed, epoch)
    if key not in _EPOCHS:
        rng = np.random.default_rng([seed, epoch])
        n = len(starts)
        perm = rng.permutation(n)
        nb = (starts >= 0).sum(1)
        chunk = batch * 32
        parts = [c[np.argsort(nb[c], kind="stable")] for c in (perm[i:i + chunk] for i in range(0, n, chunk))]
        order = np.concatenate(parts)[: n // batch * batch].reshape(-1, batch)
        _EPOCHS.clear()
        _EPOCHS[key] = order[rng.permutation(len(order))]
    return _EPOCHS[key]


def batch_at(data, step: int, batch: int, seed: int):
    toks, starts = data
    per_epoch = max(1, len(toks) // batch)
    epoch, i = divmod(step, per_epoch)
    idx = epoch_batches(starts, min(batch, len(toks)), seed, epoch)[i % per_epoch]
    t, s = toks[idx], starts[idx]
    nb = max(1, int((s >= 0).sum(1).max()))
    return torch.from_numpy(t), torch.from_numpy(np.ascontiguousarray(s[:, :nb]))


SAME_RUN_ARGS = ("model", "mix", "max_minutes", "max_steps", "lr", "batch", "seq_len", "block", "target_tokens", "synthetic", "init_from", "init_lm",
                 "self_cond_prob", "K", "t_train")


def main(argv=None):
    a = parse_args(argv)
    dev = start_run(a)
    data = Data(a)
    if not a.synthetic:
        from lm_data import sha_file
        snap = os.path.join(a.out_dir, "tokenizer.json")
        if os.path.exists(snap) and sha_file(snap) != data.enc.sha and os.path.exists(os.path.join(a.out_dir, "last.pt")) and not a.fresh:
            raise SystemExit(f"the tokenizer changed since {a.out_dir} was started; use --fresh to retrain")
        shutil.copyfile(data.enc.path, snap)
    cfg = SSDConfig(vocab_size=data.vocab_size, d_model=a.d_model, n_layers=a.layers, n_heads=a.heads, d_ff=a.d_ff,
                    max_positions=a.seq_len, block_size=a.block, K=a.K, t_train=a.t_train)
    model = SimplexDiffusionLM(cfg).to(dev)
    if a.init_from:
        init = torch.load(a.init_from, map_location=dev)
        if init["config"] != dataclasses.asdict(cfg):
            raise SystemExit(f"{a.init_from} has a different architecture: {init['config']}")
        model.load_state_dict(init["model"])
        log(f"initialised from {a.init_from} ({init.get('steps')} steps, {init.get('block_tokens_seen')} block tokens)")
    elif a.init_lm:
        from init_lm import init_from_causal_lm
        lm_ck = torch.load(a.init_lm, map_location="cpu")
        init_summary = init_from_causal_lm(model, lm_ck)
        log(f"initialised from the causal LM {a.init_lm} ({lm_ck.get('tokens_seen')} tokens): {init_summary}")
    opt = adamw(model, a.lr, a.weight_decay, (0.9, 0.98))
    log(f"model {model.num_params():,} parameters, config {dataclasses.asdict(cfg)}")
    log(f"data {json.dumps(data.info)}")

    step, elapsed, history, blocks_seen = 0, 0.0, [], 0
    gen = torch.Generator(device=dev if dev.type == "cuda" else "cpu").manual_seed(a.seed)
    coin_rng = np.random.default_rng([a.seed, 3])
    last_path = os.path.join(a.out_dir, "last.pt")
    final_path = os.path.join(a.out_dir, "final.pt")
    if finished_run(a, final_path, dataclasses.asdict(cfg), SAME_RUN_ARGS, data.info, ("tokenizer_sha256", "mix", "blocks", "windows")):
        return
    ck = resume_checkpoint(a, last_path, dataclasses.asdict(cfg), dev)
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed, history, blocks_seen = ck["step"], ck["elapsed"], ck["history"], ck.get("blocks_seen", 0)
        gen.set_state(ck["gen_state"])
        coin_rng.bit_generator.state = ck["coin_state"]
        log(f"resumed from {last_path} at step {step} ({elapsed / 60:.1f} min trained)")

    def progress() -> float:
        return budget_progress(a, step, elapsed)

    def save_last():
        atomic_save({"config": dataclasses.asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "step": step, "elapsed": elapsed, "history": history, "seed": a.seed, "blocks_seen": blocks_seen,
                     "gen_state": gen.get_state(), "coin_state": coin_rng.bit_generator.state}, last_path)

    model.train()
    t_ckpt = time.time()
    t_log, tok_log, loss_acc, loss_n = time.time(), 0, 0.0, 0
    run_start = time.time()
    loss = torch.tensor(float("nan"))
    while progress() < 1.0:
        t0 = time.time()
        lr = lr_at(a, step, progress())
        for g in opt.param_groups:
            g["lr"] = lr
        tokens, starts = batch_at(data.train, step, a.batch, a.seed)
        loss, n_tok = loss_on(model, tokens, starts, gen, dev, self_cond_prob=a.self_cond_prob, coin=float(coin_rng.random()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        blocks_seen += n_tok // cfg.block_size
        if dev.type == "cuda":
            torch.cuda.synchronize()
        elapsed += time.time() - t0
        tok_log += n_tok
        loss_acc += loss.item()
        loss_n += 1
        if step % 10 == 0 or step == 1:
            dt = time.time() - t_log
            log(f"step {step} loss {loss_acc / loss_n:.4f} lr {lr:.2e} block-tok/s {tok_log / max(dt, 1e-9):.0f} "
                f"trained {elapsed / 60:.1f} min progress {progress():.3f}")
            history.append({"step": step, "train_loss": round(loss_acc / loss_n, 4), "minutes": round(elapsed / 60, 2)})
            t_log, tok_log, loss_acc, loss_n = time.time(), 0, 0.0, 0
        if step % a.eval_every == 0:
            t_eval = time.time()
            v = val_losses(model, data.val, dev, a.seed)
            history.append({"step": step, "val": v, "minutes": round(elapsed / 60, 2)})
            log(f"validation at step {step}: {v} ({time.time() - t_eval:.1f}s)")
        if time.time() - t_ckpt > a.ckpt_minutes * 60:
            save_last()
            t_ckpt = time.time()
            log(f"checkpoint {last_path} (step {step})")

    v = val_losses(model, data.val, dev, a.seed)
    history.append({"step": step, "val": v, "minutes": round(elapsed / 60, 2)})
    log(f"final validation: {v}")
    save_last()
    final = {
        "config": dataclasses.asdict(cfg), "model": {k: t.detach().cpu() for k, t in model.state_dict().items()},
        "seed": a.seed, "steps": step, "blocks_seen": blocks_seen, "block_tokens_seen": blocks_seen * cfg.block_size,
        "train_minutes": round(elapsed / 60, 2), "wall_minutes_this_session": round((time.time() - run_start) / 60, 2),
        "history": history, "args": {k: v for k, v in vars(a).items()}, "data": data.info, "role": "user" if a.model.startswith("user") else a.model,
        **run_record(__file__, ROOT, argv, a, dev),
        "num_params": model.num_params(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_save(final, final_path)
    log(f"done: {step} steps, {blocks_seen * cfg.block_size:,} block tokens, {elapsed / 60:.1f} min -> {final_path}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Train Concert's small causal LM on the data pipeline's corpora (general text + facts + summaries + QA).

Full run (CPU, 2 cores, ~50 min):
    /usr/bin/python3 tools/models/train_causal_lm.py --max-minutes 50
Smoke run (tiny model, ~1 min; uses data/build/smoke if the full build is missing):
    /usr/bin/python3 tools/models/train_causal_lm.py --smoke
Synthetic smoke (no data pipeline needed):
    /usr/bin/python3 tools/models/train_causal_lm.py --smoke --synthetic --out-dir /tmp/lm-smoke

Fixed seeds, AdamW, linear warm-up then cosine decay (over --max-steps, or over the --max-minutes budget when no
step count is given), periodic validation loss, a checkpoint every --ckpt-minutes to <out-dir>/last.pt: an
interrupted run started again with the same arguments resumes from it (use --fresh to start over). The final model is
<out-dir>/final.pt. --device cuda runs the same script on a GPU.
"""
from __future__ import annotations

import dataclasses
import json
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
from causal_lm import CausalLM, LMConfig  # noqa: E402
from common.checkpoint import atomic_save  # noqa: E402
from common.training import (adamw, add_run_args, add_transformer_args, apply_preset, arg_parser, budget_progress,  # noqa: E402
                             finished_run, log, lr_at, resume_checkpoint, run_record, start_run, use_smoke_build)
from lm_data import get_batch  # noqa: E402
from lm_data import sha_file as lm_sha  # noqa: E402

SOURCES = ("general", "summarization", "qa", "facts", "grounded_qa", "grounded_summary", "grounded_lm", "grounded_qa_cloze")


def parse_args(argv=None):
    ap = arg_parser(__doc__)
    add_run_args(ap, ROOT, out_help="checkpoint folder (default <build-dir>/ckpt/lm or ckpt/lm-smoke)",
                 smoke_help="tiny model, ~1 minute", synthetic_help="train on a generated toy corpus (no data needed)")
    add_transformer_args(ap)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--stream-tokens", type=float, default=None, help="length of the shuffled training stream")
    ap.add_argument("--eval-every", type=int, default=None, help="steps between validation losses")
    ap.add_argument("--ckpt-minutes", type=float, default=4.0)
    ap.add_argument("--fresh", action="store_true", help="ignore an existing last.pt")
    ap.add_argument("--init-from", default=None, help="start from the weights of this checkpoint (fine-tuning; fresh optimizer)")
    ap.add_argument("--mix", default=None, help='training mixture, e.g. "qa=0.5,facts=0.3,summarization=0.1,general=0.1"; '
                    'grounded data (issue #16): grounded_qa, grounded_summary, grounded_lm')
    ap.add_argument("--tokenizer", default=None, help="tokenizer.json (default <build-dir>/tokenizer/tokenizer.json); "
                    "use models/concert-lm-small/tokenizer.json to fine-tune the bundled model")
    ap.add_argument("--prompt-loss-weight", type=float, default=1.0,
                    help="loss weight of prompt tokens (documents, questions) relative to target tokens (answers, "
                         "summaries, LM text); 1 = plain LM loss on every token")
    a = ap.parse_args(argv)
    preset = dict(d_model=64, layers=2, heads=2, d_ff=128, seq_len=64, batch=8, lr=3e-3, warmup=10, stream_tokens=3e5,
                  eval_every=25, max_minutes=1.0) if a.smoke else \
        dict(d_model=256, layers=4, heads=4, d_ff=1024, seq_len=256, batch=16, lr=1.5e-3, warmup=100, stream_tokens=1.2e7,
             eval_every=150, max_minutes=None)
    apply_preset(a, preset)
    if a.max_minutes is None and a.max_steps is None:
        a.max_minutes = 50.0
    if a.out_dir is None:
        a.out_dir = os.path.join(a.build_dir, "ckpt", "lm-smoke" if a.smoke else "lm")
    use_smoke_build(a)
    return a


# ------------------------------------------------------------------------------------------------------ data
class SyntheticData:
    """A toy corpus (vocab 64) with copyable structure, for tests and --synthetic smoke runs."""

    vocab_size = 64

    def __init__(self, seed: int, seq_len: int):
        rng = np.random.default_rng(seed)
        seqs = []
        for _ in range(4000):
            k = rng.integers(4, 12)
            a = rng.integers(8, 64, size=k)
            seqs.append(np.concatenate([[2], a, [4], a, [3]]))  # <s> x <sep> x </s>: the second half is a copy
        self.stream = np.concatenate(seqs).astype(np.uint16)
        self.val = {"synthetic": self.stream[-20 * (seq_len + 1):]}
        self.stream = self.stream[: -20 * (seq_len + 1)]
        self.info = {"synthetic": True}


class CorpusData:
    def __init__(self, a, log=log):
        import lm_data

        self.enc = lm_data.Encoder(a.tokenizer or os.path.join(a.build_dir, "tokenizer", "tokenizer.json"))
        self.vocab_size = self.enc.vocab_size
        mix = parse_mix(a.mix) if a.mix else lm_data.DEFAULT_MIX
        parts, val = {}, {}
        for s in SOURCES:
            if s not in mix:
                continue
            parts[s] = lm_data.tokenized(a.build_dir, self.enc, s, "train", seed=a.seed, log=log)
            v = lm_data.tokenized(a.build_dir, self.enc, s, "validation", seed=a.seed, log=log)
            if v is not None and len(v["tokens"]) > a.seq_len + 1:
                vs, vm = lm_data.build_stream({s: v}, {s: 1.0}, min(len(v["tokens"]), 16 * (a.seq_len + 1)), a.seed, with_mask=True)
                val[s] = vs
                if s.startswith("grounded_qa") or s.startswith("grounded_summary"):
                    val[s + ":target"] = (vs, vm)
        weighted = a.prompt_loss_weight != 1.0
        st = lm_data.build_stream(parts, mix, int(a.stream_tokens), a.seed, with_mask=weighted)
        self.stream, self.mask = st if weighted else (st, None)
        self.val = val
        self.info = {
            "mix": mix, "general_source_keep": lm_data.GENERAL_SOURCE_KEEP,
            "contradict_keep": lm_data.CONTRADICT_KEEP,
            "train_tokens_by_source": {s: int(p["tokens"].size) if p is not None else 0 for s, p in parts.items()},
            "stream_tokens": int(len(self.stream)), "tokenizer_sha256": self.enc.sha,
            "prompt_loss_weight": a.prompt_loss_weight,
        }


def parse_mix(text: str) -> dict:
    mix = {}
    for part in text.split(","):
        name, _, share = part.partition("=")
        if name.strip() not in SOURCES:
            raise SystemExit(f"--mix: unknown source {name!r} (sources: {', '.join(SOURCES)})")
        mix[name.strip()] = float(share)
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


# ------------------------------------------------------------------------------------------------- training
@torch.no_grad()
def val_losses(model, val: dict, seq_len: int, device) -> dict:
    model.eval()
    out = {}
    for name, stream in val.items():
        stream, mask = stream if isinstance(stream, tuple) else (stream, None)  # name:target = loss on target tokens only
        n = (len(stream) - 1) // seq_len
        if n == 0:
            continue
        x = torch.from_numpy(np.stack([stream[i * seq_len:i * seq_len + seq_len + 1] for i in range(min(n, 16))]).astype(np.int64)).to(device)
        m = None if mask is None else torch.from_numpy(np.stack([mask[i * seq_len:i * seq_len + seq_len + 1] for i in range(min(n, 16))]).astype(np.float32)).to(device)
        tot, cnt = 0.0, 0
        for i in range(0, x.shape[0], 8):
            xb = x[i:i + 8]
            logits, _ = model(xb[:, :-1])
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xb[:, 1:].reshape(-1), reduction="none")
            if m is None:
                tot += ce.sum().item()
                cnt += xb[:, 1:].numel()
            else:
                w = m[i:i + 8, 1:].reshape(-1)
                tot += (ce * w).sum().item()
                cnt += float(w.sum().item())
        out[name] = round(tot / max(cnt, 1e-9), 4)
    model.train()
    return out


def main(argv=None):
    a = parse_args(argv)
    dev = start_run(a)

    data = SyntheticData(a.seed, a.seq_len) if a.synthetic else CorpusData(a)
    if not a.synthetic:
        # Snapshot the tokenizer the model is trained with; the pack ships this copy (its sha is checked).
        import shutil
        os.makedirs(a.out_dir, exist_ok=True)
        snap = os.path.join(a.out_dir, "tokenizer.json")
        if os.path.exists(snap) and lm_sha(snap) != data.enc.sha:
            if os.path.exists(os.path.join(a.out_dir, "last.pt")) and not a.fresh:
                raise SystemExit(f"the tokenizer changed since {a.out_dir} was started; use --fresh to retrain")
        shutil.copyfile(data.enc.path, snap)
    cfg = LMConfig(vocab_size=data.vocab_size, d_model=a.d_model, n_layers=a.layers, n_heads=a.heads, d_ff=a.d_ff,
                   max_positions=a.seq_len)
    model = CausalLM(cfg).to(dev)
    if a.init_from:
        init = torch.load(a.init_from, map_location="cpu")
        if init["config"] != dataclasses.asdict(cfg):
            raise SystemExit(f"--init-from {a.init_from}: its model config {init['config']} differs from {dataclasses.asdict(cfg)}")
        model.load_state_dict(init["model"])
        log(f"initialised from {a.init_from} (step {init.get('step')})")
    opt = adamw(model, a.lr, a.weight_decay, (0.9, 0.95))
    log(f"model {model.num_params():,} parameters, config {dataclasses.asdict(cfg)}")
    log(f"data {json.dumps(data.info)}; stream {len(data.stream):,} tokens")

    step, elapsed, history = 0, 0.0, []
    last_path = os.path.join(a.out_dir, "last.pt")
    final_path = os.path.join(a.out_dir, "final.pt")
    same_args = ("max_minutes", "max_steps", "lr", "batch", "seq_len", "stream_tokens")
    if finished_run(a, final_path, dataclasses.asdict(cfg), same_args, data.info, ("tokenizer_sha256",)):
        return
    ck = resume_checkpoint(a, last_path, dataclasses.asdict(cfg), dev)
    if ck is not None:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed, history = ck["step"], ck["elapsed"], ck["history"]
        torch.set_rng_state(ck["torch_rng"])
        log(f"resumed from {last_path} at step {step} ({elapsed / 60:.1f} min trained)")

    tokens_per_step = a.batch * a.seq_len

    def progress() -> float:
        return budget_progress(a, step, elapsed)

    def save_last():
        atomic_save({"config": dataclasses.asdict(cfg), "model": model.state_dict(), "optimizer": opt.state_dict(),
                     "step": step, "elapsed": elapsed, "history": history, "seed": a.seed,
                     "torch_rng": torch.get_rng_state()}, last_path)

    model.train()
    t_ckpt = time.time()
    t_log, tok_log = time.time(), 0
    run_start = time.time()
    while progress() < 1.0:
        t0 = time.time()
        lr = lr_at(a, step, progress())
        for g in opt.param_groups:
            g["lr"] = lr
        x = torch.from_numpy(get_batch(data.stream, a.seq_len, a.batch, step)).to(dev)
        logits, _ = model(x[:, :-1])
        if getattr(data, "mask", None) is None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        else:  # target tokens weight 1, prompt tokens --prompt-loss-weight
            m = torch.from_numpy(get_batch(data.mask, a.seq_len, a.batch, step)[:, 1:]).to(dev).float().reshape(-1)
            w = m + a.prompt_loss_weight * (1 - m)
            ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="none")
            loss = (ce * w).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if dev.type == "cuda":
            torch.cuda.synchronize()
        elapsed += time.time() - t0
        tok_log += tokens_per_step
        if step % 10 == 0 or step == 1:
            dt = time.time() - t_log
            log(f"step {step} loss {loss.item():.4f} lr {lr:.2e} tok/s {tok_log / max(dt, 1e-9):.0f} "
                f"trained {elapsed / 60:.1f} min progress {progress():.3f}")
            t_log, tok_log = time.time(), 0
        if step % a.eval_every == 0:
            t_eval = time.time()
            v = val_losses(model, data.val, a.seq_len, dev)
            history.append({"step": step, "train_loss": round(loss.item(), 4), "val": v, "minutes": round(elapsed / 60, 2)})
            log(f"validation at step {step}: {v} ({time.time() - t_eval:.1f}s)")
        if time.time() - t_ckpt > a.ckpt_minutes * 60:
            save_last()
            t_ckpt = time.time()
            log(f"checkpoint {last_path} (step {step})")

    v = val_losses(model, data.val, a.seq_len, dev)
    history.append({"step": step, "train_loss": round(loss.item(), 4), "val": v, "minutes": round(elapsed / 60, 2)})
    log(f"final validation: {v}")
    save_last()
    final = {
        "config": dataclasses.asdict(cfg), "model": {k: t.detach().cpu() for k, t in model.state_dict().items()},
        "seed": a.seed, "steps": step, "tokens_seen": step * tokens_per_step, "train_minutes": round(elapsed / 60, 2),
        "wall_minutes_this_session": round((time.time() - run_start) / 60, 2), "history": history,
        "args": {k: v for k, v in vars(a).items()}, "data": data.info,
        **run_record(__file__, ROOT, argv, a, dev),
        "num_params": model.num_params(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    atomic_save(final, os.path.join(a.out_dir, "final.pt"))
    log(f"done: {step} steps, {step * tokens_per_step:,} tokens, {elapsed / 60:.1f} min -> {os.path.join(a.out_dir, 'final.pt')}")


if __name__ == "__main__":
    main()

"""Run set-up shared by the training scripts (tools/models/train_causal_lm.py, train_classifier.py,
tools/diffusion/train.py): command-line options, presets, device and seeds, the learning-rate schedule, the time or
step budget, and the run record of the final checkpoint."""
from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time

import numpy as np
import torch


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def arg_parser(doc: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def add_run_args(ap: argparse.ArgumentParser, root: str, out_help=None, smoke_help=None, synthetic_help=None) -> None:
    """--build-dir, --out-dir, --smoke, --synthetic (with synthetic_help), --device, --threads, --seed, --max-minutes,
    --max-steps."""
    ap.add_argument("--build-dir", default=os.path.join(root, "data", "build"))
    ap.add_argument("--out-dir", default=None, help=out_help)
    ap.add_argument("--smoke", action="store_true", help=smoke_help)
    if synthetic_help:
        ap.add_argument("--synthetic", action="store_true", help=synthetic_help)
    ap.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument("--max-steps", type=int, default=None)


def add_transformer_args(ap: argparse.ArgumentParser, seq_len_help=None) -> None:
    """--d-model, --layers, --heads, --d-ff, --seq-len (None: from the preset)."""
    for name in ("--d-model", "--layers", "--heads", "--d-ff"):
        ap.add_argument(name, type=int, default=None)
    ap.add_argument("--seq-len", type=int, default=None, help=seq_len_help)


def apply_preset(a, preset: dict) -> None:
    """Fills the options left at None from the preset."""
    for k, v in preset.items():
        if getattr(a, k) is None:
            setattr(a, k, v)


def use_smoke_build(a) -> None:
    """A smoke run without the full data build trains on data/build/smoke (tools/data/build.py --smoke)."""
    if a.smoke and not a.synthetic and not os.path.exists(os.path.join(a.build_dir, "tokenizer", "tokenizer.json")):
        smoke_dir = os.path.join(a.build_dir, "smoke")
        if os.path.exists(os.path.join(smoke_dir, "tokenizer", "tokenizer.json")):
            a.build_dir = smoke_dir


def pick_device(name: str) -> torch.device:
    """--device: auto is CUDA when present, else the CPU."""
    return torch.device("cuda" if name == "auto" and torch.cuda.is_available() else ("cpu" if name == "auto" else name))


def start_run(a) -> torch.device:
    """Threads, device, seeds (torch and numpy) and the output folder of a run; logs them. Returns the device."""
    torch.set_num_threads(a.threads)
    dev = pick_device(a.device)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    log(f"device {dev}, threads {torch.get_num_threads()}, out {a.out_dir}, build {a.build_dir}")
    return dev


def lr_at(a, step: int, progress: float) -> float:
    """Linear warm-up over a.warmup steps, then cosine decay from a.lr to a.lr·a.min_lr_frac over the progress."""
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    p = min(1.0, max(0.0, progress))
    return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * p)))


def budget_progress(a, step: int, elapsed: float) -> float:
    """How much of the run's budget is used: the larger of steps / --max-steps and seconds / --max-minutes."""
    ps = [step / a.max_steps] if a.max_steps else []
    if a.max_minutes:
        ps.append(elapsed / (a.max_minutes * 60))
    return max(ps)


def adamw(model: torch.nn.Module, lr: float, weight_decay: float, betas) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, LayerNorm gains)."""
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=lr, betas=betas, eps=1e-8)


def finished_run(a, final_path: str, config: dict, same_args, data_info: dict, data_keys) -> bool:
    """Whether final_path already holds this run (same config, seed, options same_args, and data_info entries
    data_keys): then there is nothing to do. Exits when it holds another run; False when there is none, or with --fresh."""
    if not os.path.exists(final_path) or a.fresh:
        return False
    fin = torch.load(final_path, map_location="cpu")
    same = fin["config"] == config and fin.get("seed") == a.seed and all(
        fin["args"].get(k) == getattr(a, k) for k in same_args) \
        and all(fin.get("data", {}).get(k) == data_info.get(k) for k in data_keys)
    if same:
        log(f"{final_path} already holds this run ({fin['steps']} steps); nothing to do (use --fresh to retrain)")
        return True
    raise SystemExit(f"{final_path} holds a different run; use --fresh or another --out-dir")


def resume_checkpoint(a, last_path: str, config: dict, dev):
    """The interrupted run's last_path to resume from, or None (there is none, or --fresh). Exits when it belongs to
    another configuration or seed."""
    if not os.path.exists(last_path) or a.fresh:
        return None
    ck = torch.load(last_path, map_location=dev)
    if ck["config"] != config or ck.get("seed") != a.seed:
        raise SystemExit(f"{last_path} belongs to a different configuration; use --fresh or another --out-dir")
    return ck


def run_record(script: str, root: str, argv, a, dev: torch.device) -> dict:
    """The final checkpoint's "command" and "hardware" entries."""
    return {
        "command": "/usr/bin/python3 " + " ".join(shlex.quote(x) for x in [os.path.relpath(os.path.abspath(script), root)] + (argv if argv is not None else sys.argv[1:])),
        "hardware": f"{platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__}, {a.threads} threads, device {dev}"
                    + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
    }

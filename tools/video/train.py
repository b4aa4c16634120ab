#!/usr/bin/env python3
"""Train the bundled AVC-LM (models/concert-avc-32): a small causal transformer over the bytes of canonical H.264
Annex-B clips (32×32, 3 fps, 12 frames; tools/video/data.py). A thin wrapper around tools/jpeg/train.py's training
run (same model tools/models/causal_lm.py, same token layout, bucketed batches, AdamW + cosine schedule, resumable
last.pt, --init-from), with the video data, defaults and validation figures.

Tokens: id = byte + 3 (OFFSET), bos = 0, eos = 1, pad = 2 (vocabulary 259); a sequence is [bos] + Annex-B stream
(00 00 00 01 67 … SPS, PPS, one slice NAL per macroblock) + [eos], at most 1024 positions (tools/video/data.py keeps
streams <= 1022 bytes).

    /usr/bin/python3 tools/video/train.py --max-minutes 40                  # the pack's run (2 CPU cores)
    /usr/bin/python3 tools/video/train.py --smoke --data /tmp/d --out-dir /tmp/ck   # tiny, seconds
    /usr/bin/python3 tools/video/train.py --init-from data/build/ckpt/avc-32/final.pt --out-dir data/build/ckpt/avc-32b --max-minutes 30

Started again with the same arguments, an interrupted run resumes from <out-dir>/last.pt (--fresh starts over); a
finished one is not repeated. --init-from starts a continuation run from another checkpoint's weights (fresh optimizer
and schedule). The final model is <out-dir>/final.pt with the run record.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from common.modules import load_module, sibling_loader  # noqa: E402
from common.training import add_run_args, add_transformer_args, apply_preset, arg_parser  # noqa: E402

# A module of tools/video by file path, under a unique name (tools/jpeg and tools/diffusion have modules of the same
# names).
sibling = sibling_loader(HERE, "concert_video_")


def jpeg_train():
    """tools/jpeg/train.py (the training run, Batches, encode, pad_batch), shared with the JPEG pipeline."""
    return load_module("concert_jpeg_train", os.path.join(ROOT, "tools", "jpeg", "train.py"))


_jt = jpeg_train()
BOS, EOS, PAD, OFFSET, VOCAB = _jt.BOS, _jt.EOS, _jt.PAD, _jt.OFFSET, _jt.VOCAB
encode, decode_tokens, pad_batch = _jt.encode, _jt.decode_tokens, _jt.pad_batch
LN2 = math.log(2)
SEED = 20261207


def load_streams(path: str) -> list:
    return sibling("data").load_split(path)[0]


@torch.no_grad()
def clip_nll(model, seqs, device, batch: int = 16) -> np.ndarray:
    """Per sequence: [nats over all targets (stream bytes + eos), their count, nats over the stream bytes, their count,
    nats over the P-frame bytes (from the second frame's start code on), their count] (float64 [n, 6])."""
    ch = sibling("canonical_h264")
    model.eval()
    out = np.zeros((len(seqs), 6), np.float64)
    order = np.argsort([len(s) for s in seqs])
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        rows = [seqs[j] for j in idx]
        x = pad_batch(rows).to(device)
        logits, _ = model(x[:, :-1])
        tgt = x[:, 1:]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD,
                              reduction="none").view_as(tgt)
        real = tgt != PAD
        is_byte = real & (tgt >= OFFSET)
        p_start = torch.tensor([(ch.frame_starts(decode_tokens(r)) + [len(r), len(r)])[1] for r in rows], device=device)
        pos = torch.arange(tgt.shape[1], device=device).unsqueeze(0)  # target t = stream byte t (0-based)
        is_p = is_byte & (pos >= p_start.unsqueeze(1))
        for c, m in enumerate((real, is_byte, is_p)):
            out[idx, 2 * c] = (nll * m).sum(1).double().cpu().numpy()
            out[idx, 2 * c + 1] = m.sum(1).cpu().numpy()
    model.train()
    return out


def summarize(stats: np.ndarray) -> dict:
    t = stats.sum(0)
    return {"loss": round(t[0] / max(1, t[1]), 4), "bits_per_byte": round(t[2] / max(1, t[3]) / LN2, 4),
            "bits_per_p_frame_byte": round(t[4] / max(1, t[5]) / LN2, 4), "tokens": int(t[1])}


def evaluate(model, seqs, device, batch: int = 16) -> dict:
    """Validation figures: nats per token over all targets (stream bytes + eos), bits per byte over the stream's bytes,
    and bits per byte over the frames after the first (the P frames: from the second frame's start code on)."""
    return summarize(clip_nll(model, seqs, device, batch))


def parse_args(argv=None):
    ap = arg_parser(__doc__)
    add_run_args(ap, ROOT, out_help="checkpoint folder (default <build-dir>/ckpt/avc-32)", smoke_help="tiny model, seconds")
    add_transformer_args(ap, seq_len_help="context (positions), default 1024")
    ap.add_argument("--data", default=None, help="folder with train.npz / val.npz (default <build-dir>/video)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=None)
    ap.add_argument("--eval-streams", type=int, default=96, help="validation streams used for the periodic loss")
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--fresh", action="store_true", help="ignore an existing last.pt")
    ap.add_argument("--init-from", default=None, help="start from the weights of this checkpoint (fresh optimizer)")
    ap.set_defaults(seed=SEED)
    a = ap.parse_args(argv)
    # The pack's model: 4 layers, d_model 96, 3 heads of 32, MLP 256 (every MatMul input a multiple of the q4 block
    # of 32), context 1024: sized so that the q4 graph + card + sample strip stay under the 450 KB VSIX budget.
    preset = dict(d_model=32, layers=1, heads=2, d_ff=64, seq_len=1024, batch=4, lr=3e-3, warmup=2, eval_every=5,
                  max_minutes=None) if a.smoke else \
        dict(d_model=96, layers=4, heads=3, d_ff=256, seq_len=1024, batch=16, lr=2e-3, warmup=60, eval_every=100,
             max_minutes=None)
    apply_preset(a, preset)
    if a.max_minutes is None and a.max_steps is None:
        a.max_minutes = 0.2 if a.smoke else 40.0
    if a.data is None:
        a.data = os.path.join(a.build_dir, "video")
    if a.out_dir is None:
        a.out_dir = os.path.join(a.build_dir, "ckpt", "avc-32-smoke" if a.smoke else "avc-32")
    return a


def main(argv=None):
    _jt.main(argv, parse=parse_args, load=load_streams, evaluate_fn=evaluate, script=os.path.abspath(__file__))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the bundled AVC-LM pack models/concert-avc-32: MODEL_CARD.md from the checkpoint's run record, the data
manifest, eval.json (+ eval_fp32.json) and parity.json, then the pack with tools/pack.py plus the `codec` block and the
frame strip, written to docs/media/<id>-samples.png (outside the pack: every pack byte ships in each VSIX). Fails when the pack exceeds --max-bytes (450 KB: the VSIX
budget of this pack).

    /usr/bin/python3 tools/video/make_pack.py --ckpt data/build/ckpt/avc-32/final.pt \
        --work data/build/export/concert-avc-32 --out models/concert-avc-32
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import pack  # noqa: E402
from common.modules import sibling_loader  # noqa: E402

PACK_ID = "concert-avc-32"
LICENCE = "MIT"
MAX_BYTES = 450_000


# A module of tools/video by file path, under a unique name (tools/jpeg and tools/diffusion have modules of the same
# names).
sibling = sibling_loader(HERE, "concert_video_")


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def card(ck: dict, ev: dict, par: dict, man: dict, onnx_bytes: int, ev32: dict | None, fp32_bytes: int | None) -> str:
    c, a, d = ck["config"], ck.get("args", {}), ck.get("data", {})
    flags = sibling("canonical_h264").FLAGS
    v, vh, vs = ev["validation"], ev.get("validation_held_out") or {}, ev.get("validation_seen_families") or {}
    cont, mot, smp = ev.get("continuation"), ev.get("motion_consistency", {}), ev.get("sampling", {})
    sp = man.get("splits", {})
    L = [f"# {PACK_ID}\n"]
    L.append("A small autoregressive transformer over the bytes of canonical H.264 Annex-B clips of **32×32 pixels, 3 fps, "
             f"{flags['frames']} frames** (AVC-LM, thesis ch. 6), trained by the Concert project on 2 CPU cores for *Concert: "
             "Continue Video* (issue #15). It is a toy-scale model trained on synthetic clips (moving boxes, ffmpeg's test "
             "patterns and fractals, Ken Burns pans over CC0 photos): it has learnt the stream's structure and continues clips "
             "for a few frames; it does not model real-world video.\n")
    L.append("## Model\n")
    L.append(f"- Decoder-only transformer (`tools/models/causal_lm.py`, as concert-jpeg-32): pre-LayerNorm, {c['n_layers']} layers, "
             f"d_model {c['d_model']}, {c['n_heads']} heads (head_dim {c['d_model'] // c['n_heads']}), GELU MLP {c['d_ff']}, "
             f"learned absolute positions ({c['max_positions']}), tied embeddings, vocabulary {c['vocab_size']}.")
    L.append("- Tokens: one per stream byte, id = byte + 3; bos 0, eos 1, pad 2. A training sequence is [bos] + the whole "
             f"Annex-B stream + [eos], at most {c['max_positions']} positions (streams ≤ {c['max_positions'] - 2} bytes).")
    L.append(f"- {ck['num_params']:,} parameters; `model.onnx` {onnx_bytes:,} bytes (opset 14; float32 export "
             f"{fp32_bytes:,} bytes), optimum decoder I/O with KV cache (`input_ids`, `attention_mask`, `position_ids`, "
             "`past_key_values.N.key/value` → `logits`, `present.N.key/value`), one graph for the first and the cached steps."
             if fp32_bytes else f"- {ck['num_params']:,} parameters; `model.onnx` {onnx_bytes:,} bytes.")
    L.append("- Quantisation (`tools/video/export.py`, reusing `tools/jpeg/quantize.py`): every attention (qkv, proj) and MLP "
             "(fc1, fc2) weight is a `com.microsoft` `MatMulNBits` node (bits 4, block 32, asymmetric, float32 scales); the "
             "token and position embeddings (the head is tied to the token embedding) are int8 with one float32 scale per row, "
             "dequantised by an ONNX `DequantizeLinear` node. Activations, the KV cache and logits stay float32.")
    if par and not par.get("skipped"):
        f32 = par.get("fp32", {})
        L.append(f"- Parity, onnxruntime-node vs PyTorch with the dequantised weights (max-abs): no past {par['nopast']:.1e}, "
                 f"cached step {par['step']:.1e}, left-padded batch {par['padded']:.1e} (tolerance {par['tolerance']:.0e}); "
                 f"float32 graph vs PyTorch: {f32.get('nopast', float('nan')):.1e} / {f32.get('step', float('nan')):.1e} / "
                 f"{f32.get('padded', float('nan')):.1e}.\n")
    L.append("## Stream\n")
    L.append("The canonical stream (`tools/video/canonical_h264.py`; the exact ffmpeg arguments are in "
             "`tools/video/x264_flags.json`, shared with the runtime): the thesis' x264 settings (§6.6.4) at 32×32 — "
             f"`-vf \"{flags['videoFilter']}\" {' '.join(flags['outputArgs'])}` — i.e. Constrained Baseline, QP 37, "
             "no B-frames, one slice per macroblock (4 slice NAL units per frame), x264's SEI removed; SPS + PPS lead the "
             "stream, an IDR frame, then P frames.\n")
    L.append("## Data\n")
    tr, va = sp.get("train", {}), sp.get("val", {})
    L.append(f"{tr.get('clips', '?'):,} training and {va.get('clips', '?'):,} validation clips from `tools/video/data.py` "
             f"(seed {man.get('seed')}): families {', '.join(f'`{f}`' for f in man.get('families', []))}. Clips longer than "
             f"{man.get('max_bytes')} bytes are drawn again (per-family counts in the data manifest). Training stream "
             f"lengths: mean {tr.get('mean')}, median {tr.get('p50')}, p95 {tr.get('p95')}, max {tr.get('max')} bytes.")
    L.append(f"**Validation holds out whole families**: the motion family `box-diag` (boxes moving diagonally; training "
             "has only horizontal, vertical, circular and back-and-forth motion) and the source type `cellauto` (ffmpeg's "
             "elementary cellular automaton) never occur in training; the other families appear in validation with a "
             "separate seed stream, and the Ken Burns clips of validation pan over the held-out photos `chelsea` and "
             f"`gravel` only. Training mix: {json.dumps(man.get('train_mix'))}. Sources and licences: `tools/video/SOURCES.md`.\n")
    L.append("| source | package | licence | split |\n|---|---|---|---|")
    for s in man.get("sources", []):
        L.append(f"| {s['name']} | {s['package']} | {s['licence']} | {s['split']} |")
    L.append("")
    L.append("## Training\n")
    L.append(f"- Command: `{ck.get('command')}`; data: `{man.get('command')}`.")
    if ck.get("init_from"):
        L.append(f"- Initialised from `{ck['init_from']['path']}` ({ck['init_from']['steps']} steps, "
                 f"{ck['init_from']['train_minutes']} min; `{ck['init_from']['command']}`).")
    L.append(f"- Seed {ck.get('seed')}; AdamW (0.9/0.95, weight decay {a.get('weight_decay')}), peak LR {a.get('lr')}, "
             f"{a.get('warmup')} warm-up steps then cosine to {a.get('min_lr_frac')}× over the {a.get('max_minutes')}-minute "
             f"budget; batch {a.get('batch')} clips (bucketed by length, right-padded, padding never a target); gradient clipping 1.0.")
    L.append(f"- {ck['steps']:,} steps, {ck['tokens_seen']:,} target tokens (≈ {ck['tokens_seen'] / max(1, d.get('train_tokens', 1)):.2f} "
             f"epochs), {ck['train_minutes']} min of training steps ({ck.get('wall_minutes_this_session')} min wall) on "
             f"{ck.get('hardware')}, shared with other jobs; finished {ck.get('finished')}.\n")
    L.append("## Evaluation (validation clips)\n")
    L.append("| | 4-bit (shipped) | float32 |\n|---|---|---|" if ev32 else "| | value |\n|---|---|")

    def row(label, x, y=None):
        L.append(f"| {label} | {x} |" + (f" {y} |" if ev32 else ""))
    v32 = (ev32 or {}).get("validation", {})
    row(f"bits per byte, all {ev['val_clips']} validation clips", v["bits_per_byte"], v32.get("bits_per_byte"))
    row("bits per byte, P frames (after the first frame)", v["bits_per_p_frame_byte"], v32.get("bits_per_p_frame_byte"))
    row("bits per byte, families seen in training", vs.get("bits_per_byte"), ((ev32 or {}).get("validation_seen_families") or {}).get("bits_per_byte"))
    row("bits per byte, **held-out families**", vh.get("bits_per_byte"), ((ev32 or {}).get("validation_held_out") or {}).get("bits_per_byte"))
    for fam, fv in ev.get("validation_by_family", {}).items():
        f32 = (ev32 or {}).get("validation_by_family", {}).get(fam, {})
        row(f"bits per byte, `{fam}`{' (held out)' if fam in ev.get('held_out', []) else ''}", fv["bits_per_byte"], f32.get("bits_per_byte"))
    L.append("")
    if cont:
        n, m = smp["prompt_frames"], smp["gen_frames"]
        L.append(f"**Continuations** (shipped model): the SPS/PPS + first {n} frames of a validation clip as the prompt, {m} more "
                 f"frames sampled **without** a grammar constraint (temperature {smp['temperature']}, top-k {smp['top_k']}, "
                 f"{smp['per_clip']} samples per clip, seed {smp['seed']}); *decodable* = ffmpeg decodes the result to exactly "
                 f"{n + m} frames, *clean* = and reports no error.\n")
        L.append("| | samples | decodable | clean | mean generated bytes |\n|---|---|---|---|---|")
        for label, s in (("all", cont), ("families seen in training", cont["seen_families"]), ("held-out families", cont["held_out"])):
            L.append(f"| {label} | {s['samples']} | **{pct(s['decodable_rate'])}** | {pct(s['clean_rate'])} | {s['mean_generated_bytes']} |")
        for fam, s in cont["by_family"].items():
            L.append(f"| `{fam}` | {s['samples']} | {pct(s['decodable_rate'])} | {pct(s['clean_rate'])} | {s['mean_generated_bytes']} |")
        L.append("")
        L.append("**Motion consistency** (single box on a flat background, linear motion): a sample *agrees* when its box's "
                 "median frame-to-frame displacement over the generated frames points within 90° of the prompt's true motion "
                 "(chance 50%; static or undecodable continuations do not agree). The same measure on the real continuation "
                 "is the ceiling.\n")
        L.append("| | scored samples | agree | static | agree among moving | real continuation |\n|---|---|---|---|---|---|")
        for label, k in (("`box-diag` (held out)", "held_out_box_diag"), ("`box-h`, `box-v` (seen)", "seen_box_h_v")):
            s = mot.get(k, {})
            L.append(f"| {label} | {s.get('scored_samples')} | **{pct(s.get('agree_rate'))}** | {pct(s.get('static_rate'))} | "
                     f"{pct(s.get('agree_rate_among_moving'))} | {pct(s.get('real_continuation_agree_rate'))} |")
        L.append("")
        if ev.get("strip"):
            L.append(f"![frame strips](../../docs/media/concert-avc-32-samples.png)\n")
            L.append(f"`docs/media/concert-avc-32-samples.png` (kept out of the pack, so out of the VSIX): {ev['strip']['layout']}.\n")
    L.append("The extension samples under the H.264 grammar constraint of the codec layer (`src/codec/h264`), which is "
             "meant to make every sample decodable; the rates above are without it (the constrained rate is measured by the "
             "runtime side).\n")
    L.append("## Limitations\n")
    L.append(f"- 32×32, 3 fps, {flags['frames']} frames, Constrained Baseline QP 37 only: other sizes or encodings are out of "
             "distribution (the runtime re-encodes input with the flags above).")
    L.append(f"- A {ck['num_params'] / 1e6:.2f} M-parameter model trained for {ck['train_minutes']} minutes on a shared 2-core "
             "CPU on synthetic clips: continuations are often static or drift; real-world video is out of distribution; "
             "content is not controllable.")
    if cont:
        L.append(f"- Without the grammar constraint only {pct(cont['decodable_rate'])} of continuations decode to the right "
                 f"number of frames and {pct(cont['clean_rate'])} decode without an ffmpeg error (the rest lean on error "
                 "concealment); the motion-consistency figures above show whether decodable continuations keep the prompt's "
                 "motion (a static continuation, skipped macroblocks only, does not).")
    L.append("- Not evaluated for safety or bias; generated clips are not meant for any decision.\n")
    L.append("## Licence\n")
    L.append("Weights and code: MIT (the project's licence). Training clips: generated with ffmpeg's lavfi sources and Ken "
             "Burns pans over CC0 / public-domain photos of scikit-image's sample data; none ships in the pack; the frame strip "
             "(docs/media, not in the pack) shows held-out validation clips and generated frames.\n")
    L.append("## Reproduce\n")
    L.append("```\ntools/video/build_pack.sh     # data → train (resumable) → export + q4 + parity → eval → pack\n```\n"
             "(the steps and their commands: `tools/video/README.md`).")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "video"), help="folder with MANIFEST.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--id", default=PACK_ID)
    ap.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    a = ap.parse_args(argv)
    tp = sibling("make_test_pack")
    ck = torch.load(a.ckpt, map_location="cpu")
    w = lambda n: os.path.join(a.work, n)  # noqa: E731
    with open(w("eval.json")) as f:
        ev = json.load(f)
    par = json.load(open(w("parity.json"))) if os.path.exists(w("parity.json")) else {}
    ev32 = json.load(open(w("eval_fp32.json"))) if os.path.exists(w("eval_fp32.json")) else None
    with open(os.path.join(a.data, "MANIFEST.json")) as f:
        man = json.load(f)
    onnx_path = w("model.onnx")
    fp32_bytes = os.path.getsize(w("model_fp32.onnx")) if os.path.exists(w("model_fp32.onnx")) else None
    with open(w("MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(card(ck, ev, par, man, os.path.getsize(onnx_path), ev32, fp32_bytes))
    c, v = ck["config"], ev["validation"]
    cont = ev.get("continuation") or {}
    mot = ev.get("motion_consistency", {})
    pack.write_pack(
        a.out, id=a.id, kind="codec-lm", licence=LICENCE, graphs={"decoder": {"src": onnx_path, "name": "model.onnx"}},
        model_card=w("MODEL_CARD.md"), display_name="Concert AVC-LM 32×32",
        description=f"{ck['num_params'] / 1e6:.2f}M-parameter byte-level transformer over canonical H.264 Annex-B clips "
                    "(32×32, 3 fps, 12 frames; AVC-LM, thesis ch. 6): video continuation previews.",
        knobs={"maxContext": c["max_positions"], "numLayers": c["n_layers"], "numHeads": c["n_heads"],
               "headDim": c["d_model"] // c["n_heads"], "hiddenSize": c["d_model"], "vocabSize": c["vocab_size"],
               "temperature": (ev.get("sampling") or {}).get("temperature", 1.0), "topK": (ev.get("sampling") or {}).get("top_k", 50)},
        provenance={"seed": ck["seed"], "command": ck["command"], "trainMinutes": ck["train_minutes"], "steps": ck["steps"],
                    "tokensSeen": ck["tokens_seen"], "hardware": ck["hardware"], "finished": ck["finished"],
                    "parameters": ck["num_params"], "valBitsPerByte": v["bits_per_byte"],
                    "valBitsPerByteHeldOut": (ev.get("validation_held_out") or {}).get("bits_per_byte"),
                    **({"decodableRateContinuationUnconstrained": cont["decodable_rate"]} if cont else {}),
                    **({"motionAgreeRateHeldOut": mot["held_out_box_diag"]["agree_rate"]}
                       if mot.get("held_out_box_diag", {}).get("agree_rate") is not None else {}),
                    **({"quantization": par["quantization"]} if par.get("quantization") else {}),
                    **({"valBitsPerByteFp32": ev32["validation"]["bits_per_byte"]} if ev32 else {})},
    )
    # The frame strip goes to docs/media, not into the pack: every pack byte ships in each VSIX (80 MiB budget). A pack
    # written elsewhere (the smoke test) gets it beside the pack folder.
    if os.path.exists(w("samples.png")):
        in_models = os.path.abspath(a.out).startswith(os.path.join(ROOT, "models") + os.sep)
        grid_dir = os.path.join(ROOT, "docs", "media") if in_models else os.path.dirname(os.path.abspath(a.out))
        os.makedirs(grid_dir, exist_ok=True)
        shutil.copyfile(w("samples.png"), os.path.join(grid_dir, f"{a.id}-samples.png"))
    m = tp.add_codec(a.out, tp.codec_block(c["max_positions"]), {})
    total = sum(e["bytes"] for e in m["files"].values()) + os.path.getsize(os.path.join(a.out, pack.MANIFEST))
    print(f"wrote pack {a.id} to {a.out}: {len(m['files'])} files + manifest, {total:,} bytes")
    if total > a.max_bytes:
        raise SystemExit(f"pack is {total:,} bytes, over the {a.max_bytes:,}-byte budget")


if __name__ == "__main__":
    main()

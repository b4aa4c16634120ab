#!/usr/bin/env python3
"""Writes the bundled JPEG-LM pack models/concert-jpeg-32: MODEL_CARD.md from the checkpoint's run record, the data
manifest, eval.json and parity.json, then the pack with tools/pack.py plus the `codec` block (src/runtime/manifest.ts;
tools/pack.py knows no codec block, so it is added to the manifest it wrote, as tools/jpeg/make_test_pack.py does)
and the sample grid, written to docs/media/<id>-samples.png (outside the pack: every pack byte ships in each VSIX).

    /usr/bin/python3 tools/jpeg/make_pack.py --ckpt data/build/ckpt/jpeg-32/final.pt \
        --work data/build/export/concert-jpeg-32 --out models/concert-jpeg-32

--work holds model.onnx (the graph shipped: the q4 graph of tools/jpeg/quantize.py, whose parity.json records the
quantisation; else the float32 export), parity.json, eval.json and samples.png (tools/jpeg/eval.py, of the shipped
model) and optionally eval_fp32.json (tools/jpeg/eval.py on the float32 checkpoint: its validation figures are set
beside the quantised model's in the card).
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
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
sys.path.insert(0, HERE)
import pack  # noqa: E402
from make_test_pack import codec_block  # noqa: E402
from onnx_util import onnx_signature  # noqa: E402

PACK_ID = "concert-jpeg-32"
LICENCE = "MIT"


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def card(ck: dict, ev: dict, par: dict, man: dict, onnx_bytes: int, sig: dict, ev32: dict | None = None,
         fp32_bytes: int | None = None) -> str:
    c = ck["config"]
    quant = par.get("quantization")
    a = ck.get("args", {})
    d = ck.get("data", {})
    v = ev["validation"]
    comp, unc = ev["completion"], ev["unconditional"]
    sp = man.get("splits", {})
    L = [f"# {PACK_ID}\n"]
    L.append("A small autoregressive transformer over the bytes of canonical JPEG streams of **32×32** images (JPEG-LM, "
             "thesis ch. 6), trained by the Concert project on 2 CPU cores, for *Concert: Complete Image…* and *Concert: "
             "Generate Image* (issue #14). It is a toy-scale model: it has learnt the stream's structure (the header, "
             "where restart markers and EOI go) but its entropy-coded data is close to noise (see the bits per byte "
             "below), so completions below the kept rows are mostly blocky noise, not continuations of the image. Use it "
             "to exercise the pipeline (and with the grammar constraint); a better model needs far more compute.\n")
    L.append("![samples](../../docs/media/concert-jpeg-32-samples.png)\n")
    L.append(f"`docs/media/concert-jpeg-32-samples.png` (kept out of the pack, so out of the VSIX): {ev.get('grid', {}).get('layout', '')}. Samples are unconstrained (no grammar constraint), "
             f"temperature {ev['sampling']['temperature']}, top-k {ev['sampling']['top_k']}, seed {ev['sampling']['seed']}; "
             "shown 2× enlarged.\n")
    L.append("## Stream and tokens\n")
    L.append("- The thesis' canonical stream (`tools/codec/canonical_jpeg.py`, `src/codec/README.md`): RGB, centre square crop, "
             "bilinear resize to 32×32, baseline JPEG quality 25, 4:2:0 (four 16×16 MCUs), standard Huffman tables, a restart "
             "marker after every MCU (`jpegtran -restart 1B`), *image-only*: DQT/DHT removed (the constant 570-byte blob is "
             "re-inserted after SOI to decode). Every stream starts with the same 59-byte header and ends with `FF D9`.")
    L.append("- Tokens: byte b → id b + 3; bos 0, eos 1, pad 2 (vocabulary 259, no tokenizer file). A training sequence is "
             "[bos] + stream + [eos]; context 512 positions (32×32 streams here are "
             f"{sp.get('train', {}).get('min_bytes', '?')}–{sp.get('train', {}).get('max_bytes', '?')} bytes, mean "
             f"{sp.get('train', {}).get('mean_bytes', '?')}).")
    L.append("- Prompt cut (ratio r): the codec layer's rule — for 32×32 a patch is one row of two MCUs, so r = 0.5 keeps the "
             "stream through the second restart marker (`FF D1`), i.e. the top 16 pixel rows.\n")
    L.append("## Architecture and size\n")
    L.append(f"- `tools/models/causal_lm.py` (the same decoder as concert-lm-small): pre-LayerNorm, {c['n_layers']} layers, "
             f"d_model {c['d_model']}, {c['n_heads']} heads (head_dim {c['d_model'] // c['n_heads']}), GELU MLP {c['d_ff']}, "
             f"learned absolute positions ({c['max_positions']}), tied embeddings, vocabulary {c['vocab_size']}.")
    kind = "weight-only 4-bit, see below" if quant else "float32"
    L.append(f"- {ck['num_params']:,} parameters; `model.onnx` {onnx_bytes:,} bytes ({kind}, opset 14), optimum decoder "
             "I/O with KV cache (`input_ids`, `attention_mask`, `position_ids`, `past_key_values.N.key/value` → `logits`, "
             "`present.N.key/value`), one graph for the first and the cached steps.")
    if quant:
        was = f" (the float32 export: {fp32_bytes:,} bytes)" if fp32_bytes else ""
        L.append(f"- Quantisation (`tools/jpeg/quantize.py`): weight-only 4-bit{was}. Every attention (qkv, proj) and MLP (fc1, fc2) "
                 "weight is a `com.microsoft` `MatMulNBits` node, bits 4, block size 32 along the input dimension, "
                 "asymmetric: W ≈ (q − zero point) · scale, 4-bit codes and zero points, float32 scales (packer: "
                 "`tools/hf/make_fixtures.py`). Weight-only: activations, the KV cache and logits stay float32 and every "
                 "row of a batch is computed independently. The token and position embeddings, the tied head (it reads "
                 "the float32 token embedding), LayerNorms and biases stay float32.")
    if par and not par.get("skipped"):
        ref = "PyTorch with the dequantised 4-bit weights, `tools/jpeg/quantize.py`" if quant else "PyTorch, `tools/jpeg/export.py`"
        L.append(f"- Parity, onnxruntime-node vs {ref} (max-abs): no past {par['nopast']:.1e}, cached "
                 f"step {par['step']:.1e}, left-padded batch {par['padded']:.1e} (tolerance {par['tolerance']:.0e}); in "
                 f"PyTorch, cached vs full forward {par['torch_cache_vs_full']:.1e}.\n")
    L.append("## Data\n")
    L.append(f"{sp.get('train', {}).get('streams', '?'):,} training and {sp.get('val', {}).get('streams', '?'):,} validation "
             "32×32 images rendered by `tools/jpeg/data.py` (seed "
             f"{man.get('seed')}): random multi-scale square crops (1/16 … 1 of the shorter side, ≥ 24 px), horizontal flips, "
             f"±15 % contrast and ±12 brightness; mix {json.dumps(man.get('mix'))}. By kind, training "
             f"{json.dumps(sp.get('train', {}).get('by_kind'))}, validation {json.dumps(sp.get('val', {}).get('by_kind'))}.")
    L.append("**Validation holds out whole sources**, never crops of training images: the photos `chelsea` and `gravel`, "
             "the clip-art files whose path hashes to 0 mod 10 (composited on held-out photo crops or procedural "
             "backgrounds), and procedural images from a separate seed stream. Details and licences: `tools/jpeg/SOURCES.md`.\n")
    L.append("| source | package | licence | split |")
    L.append("|---|---|---|---|")
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
             f"budget; batch {a.get('batch')} sequences (bucketed by length, right-padded, padding never a target); "
             "gradient clipping 1.0.")
    L.append(f"- {ck['steps']:,} steps, {ck['tokens_seen']:,} target tokens (≈ {ck['tokens_seen'] / max(1, d.get('train_tokens', 1)):.2f} "
             f"epochs), {ck['train_minutes']} min of training steps ({ck.get('wall_minutes_this_session')} min wall, this "
             f"session) on {ck.get('hardware')}; the machine's 2 cores were shared with other jobs, so throughput was "
             f"a fraction of the machine's; finished {ck.get('finished')}.\n")
    L.append("## Evaluation (held-out sources)\n")
    if quant and ev32:
        L.append("The shipped 4-bit model beside the float32 model it was quantised from (the same checkpoint, `tools/jpeg/eval.py` "
                 "with the same seed on both). The validation figures are deterministic; the sampled rates come from "
                 "different random draws (the two models' distributions differ slightly), so a difference of a few samples "
                 "there is within sampling noise. The sample grid shows the 4-bit model.\n")
        v32 = ev32["validation"]
        k32 = ev32.get("validation_by_kind", {})
        L.append("| | 4-bit (shipped) | float32 |\n|---|---|---|")
        L.append(f"| validation loss (nats/token, all {ev['val_streams']:,} streams, incl. eos) | {v['loss']} | {v32['loss']} |")
        L.append(f"| bits per byte (whole stream) | {v['bits_per_byte']} | {v32['bits_per_byte']} |")
        L.append(f"| bits per byte (entropy-coded part, after the 59-byte header) | {v['bits_per_scan_byte']} | {v32['bits_per_scan_byte']} |")
        for k, kv in ev.get("validation_by_kind", {}).items():
            kf = k32.get(k, {})
            L.append(f"| bits per byte, {k} | {kv['bits_per_byte']} (scan {kv['bits_per_scan_byte']}) | "
                     f"{kf.get('bits_per_byte', '?')} (scan {kf.get('bits_per_scan_byte', '?')}) |")
        cf, uf = ev32["completion"], ev32["unconditional"]
        L.append(f"| completions at ratio {ev['ratio']} ({comp['samples']} = {comp['images']} images × {comp['samples'] // max(1, comp['images'])}): "
                 f"decodable (Pillow loads) | **{pct(comp['decodable_rate'])}** | {pct(cf['decodable_rate'])} |")
        L.append(f"| … of them warning-free in djpeg | {pct(comp['clean_rate'])} | {pct(cf['clean_rate'])} |")
        L.append(f"| … ending with FF D9 before eos | {pct(comp['ends_with_eoi_rate'])} | {pct(cf['ends_with_eoi_rate'])} |")
        L.append(f"| unconditional ({unc['samples']}): decodable | **{pct(unc['decodable_rate'])}** | {pct(uf['decodable_rate'])} |")
        L.append(f"| … warning-free in djpeg | {pct(unc['clean_rate'])} | {pct(uf['clean_rate'])} |")
        L.append(f"| … exact 59-byte header | {pct(unc['header_exact_rate'])} | {pct(uf['header_exact_rate'])} |")
        L.append(f"| mean bytes: completions / unconditional / real | {comp['mean_bytes']} / {unc['mean_bytes']} / {ev['real_mean_bytes']} "
                 f"| {cf['mean_bytes']} / {uf['mean_bytes']} / {ev32['real_mean_bytes']} |")
    else:
        L.append(f"| | value |\n|---|---|")
        L.append(f"| validation loss (nats/token, all {ev['val_streams']:,} streams, incl. eos) | {v['loss']} |")
        L.append(f"| bits per byte (whole stream) | {v['bits_per_byte']} |")
        L.append(f"| bits per byte (entropy-coded part, after the 59-byte header) | {v['bits_per_scan_byte']} |")
        for k, kv in ev.get("validation_by_kind", {}).items():
            L.append(f"| bits per byte, {k} | {kv['bits_per_byte']} (scan {kv['bits_per_scan_byte']}) |")
        L.append(f"| completions at ratio {ev['ratio']} ({comp['samples']} = {comp['images']} images × {comp['samples'] // max(1, comp['images'])}): "
                 f"decodable (Pillow loads) | **{pct(comp['decodable_rate'])}** |")
        L.append(f"| … of them warning-free in djpeg | {pct(comp['clean_rate'])} |")
        L.append(f"| … ending with FF D9 before eos | {pct(comp['ends_with_eoi_rate'])} |")
        L.append(f"| unconditional ({unc['samples']}): decodable | **{pct(unc['decodable_rate'])}** |")
        L.append(f"| … warning-free in djpeg | {pct(unc['clean_rate'])} |")
        L.append(f"| … exact 59-byte header | {pct(unc['header_exact_rate'])} |")
        L.append(f"| mean bytes: completions / unconditional / real | {comp['mean_bytes']} / {unc['mean_bytes']} / {ev['real_mean_bytes']} |")
    L.append("")
    L.append("*Decodable* = Pillow opens and fully loads the restored file as a 32×32 image. libjpeg treats corrupt entropy "
             "data as a warning (it fills on), so *warning-free in djpeg* is the stricter figure of how often a sample is a "
             "valid stream. The extension decodes under the grammar constraint of `src/codec/jpeg/validator.ts`, which "
             "makes every sample a valid stream; the rates above are without it.\n")
    L.append("## Limitations\n")
    L.append(f"- 32×32 only, and a model of {ck['num_params'] / 1e6:.1f} M parameters that saw {ck['tokens_seen'] / 1e6:.1f} M "
             "tokens (under half an epoch) on a shared 2-core CPU: completions rarely continue the kept rows' colours or "
             "textures; objects and fine structure are not modelled. Unconstrained samples are almost never warning-free "
             "streams (figures above); use the grammar constraint.")
    L.append("- The training images are a narrow mix (a dozen CC0/public-domain photos, public-domain clip art, procedural "
             "patterns): real-world photos of other kinds are out of distribution.")
    L.append("- Larger images go through the same code path only with another pack (e.g. an exported official JPEG-LM "
             "checkpoint, #16); this pack's `codec` block says 32×32.")
    L.append("- Not evaluated for safety or bias; generated images are not meant for any decision.\n")
    L.append("## Licence\n")
    L.append("Weights: MIT (the project's licence). Training images: CC0 / public-domain photos of scikit-image's sample data, "
             "public-domain Open Clip Art, procedural images; none is shipped in the pack; the sample grid (docs/media, not "
             "in the pack) shows held-out CC0/public-domain images and generated samples.\n")
    L.append("## Reproduce\n")
    L.append("```\n"
             "/usr/bin/python3 tools/jpeg/data.py                      # data/build/jpeg (apt-get download + dpkg -x, no install)\n"
             "/usr/bin/python3 tools/jpeg/train.py --max-minutes 40    # data/build/ckpt/jpeg-32/final.pt (resumable)\n"
             "W=data/build/export/concert-jpeg-32\n"
             "/usr/bin/python3 tools/jpeg/export.py --ckpt data/build/ckpt/jpeg-32/final.pt --out $W/model_fp32.onnx\n"
             "/usr/bin/python3 tools/jpeg/quantize.py --ckpt data/build/ckpt/jpeg-32/final.pt --onnx $W/model_fp32.onnx --out $W/model.onnx \\\n"
             "    --golden $W/golden --ckpt-out $W/q4.pt\n"
             "/usr/bin/python3 tools/jpeg/eval.py --ckpt data/build/ckpt/jpeg-32/final.pt --out $W/eval_fp32.json\n"
             "/usr/bin/python3 tools/jpeg/eval.py --ckpt $W/q4.pt --out $W/eval.json --grid $W/samples.png\n"
             "/usr/bin/python3 tools/jpeg/make_pack.py --ckpt data/build/ckpt/jpeg-32/final.pt --work data/build/export/concert-jpeg-32 --out models/concert-jpeg-32\n"
             "```\n(`tools/jpeg/build_pack.sh` runs the same steps.)")
    return "\n".join(L) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "build", "jpeg"), help="folder with MANIFEST.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--id", default=PACK_ID)
    a = ap.parse_args(argv)
    ck = torch.load(a.ckpt, map_location="cpu")
    w = lambda n: os.path.join(a.work, n)  # noqa: E731
    with open(w("eval.json")) as f:
        ev = json.load(f)
    par = {}
    if os.path.exists(w("parity.json")):
        with open(w("parity.json")) as f:
            par = json.load(f)
    ev32 = None
    if os.path.exists(w("eval_fp32.json")):
        with open(w("eval_fp32.json")) as f:
            ev32 = json.load(f)
    with open(os.path.join(a.data, "MANIFEST.json")) as f:
        man = json.load(f)
    onnx_path = w("model.onnx")
    sig = onnx_signature(onnx_path)
    fp32_bytes = os.path.getsize(w("model_fp32.onnx")) if os.path.exists(w("model_fp32.onnx")) else None
    card_path = w("MODEL_CARD.md")
    with open(card_path, "w", encoding="utf-8") as f:
        f.write(card(ck, ev, par, man, os.path.getsize(onnx_path), sig, ev32, fp32_bytes))
    c = ck["config"]
    v = ev["validation"]
    m = pack.write_pack(
        a.out, id=a.id, kind="codec-lm", licence=LICENCE, graphs={"decoder": {"src": onnx_path, "name": "model.onnx"}},
        model_card=card_path, display_name="Concert JPEG-LM 32×32",
        description=f"{ck['num_params'] / 1e6:.1f}M-parameter byte-level transformer over canonical JPEG streams of 32×32 "
                    "images (JPEG-LM, thesis ch. 6): image completion and generation previews.",
        knobs={"maxContext": c["max_positions"], "numLayers": c["n_layers"], "numHeads": c["n_heads"],
               "headDim": c["d_model"] // c["n_heads"], "hiddenSize": c["d_model"], "vocabSize": c["vocab_size"],
               "temperature": ev["sampling"]["temperature"], "topK": ev["sampling"]["top_k"]},
        provenance={"seed": ck["seed"], "command": ck["command"], "trainMinutes": ck["train_minutes"], "steps": ck["steps"],
                    "tokensSeen": ck["tokens_seen"], "hardware": ck["hardware"], "finished": ck["finished"],
                    "parameters": ck["num_params"], "valBitsPerByte": v["bits_per_byte"],
                    "decodableRateCompletion": ev["completion"]["decodable_rate"],
                    "decodableRateUnconditional": ev["unconditional"]["decodable_rate"],
                    **({"quantization": par["quantization"]} if par.get("quantization") else {}),
                    **({"valBitsPerByteFp32": ev32["validation"]["bits_per_byte"]} if par.get("quantization") and ev32 else {})},
    )
    # The sample grid goes to docs/media, not into the pack: every pack byte ships in each VSIX (80 MiB budget).
    # (A pack written elsewhere, e.g. by the smoke test, gets its grid beside the pack folder instead.)
    if os.path.exists(w("samples.png")):
        in_models = os.path.abspath(a.out).startswith(os.path.join(ROOT, "models") + os.sep)
        grid_dir = os.path.join(ROOT, "docs", "media") if in_models else os.path.dirname(os.path.abspath(a.out))
        os.makedirs(grid_dir, exist_ok=True)
        shutil.copyfile(w("samples.png"), os.path.join(grid_dir, f"{a.id}-samples.png"))
    # tools/pack.py knows no codec block: it is added to the manifest it wrote.
    m["codec"] = codec_block()
    assert m["codec"]["maxTokens"] == c["max_positions"]
    with open(os.path.join(a.out, pack.MANIFEST), "w", encoding="utf-8") as f:
        f.write(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    pack.verify_pack(a.out)
    total = sum(e["bytes"] for e in m["files"].values())
    print(f"wrote pack {a.id} to {a.out}: {len(m['files'])} files, {total:,} bytes")


if __name__ == "__main__":
    main()

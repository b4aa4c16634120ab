#!/usr/bin/env python3
"""Writes the tiny RANDOM-weight H.264 codec-lm pack used by the tests: test/fixtures/codec-lm-tiny-h264.

    /usr/bin/python3 tools/video/make_test_pack.py [--out test/fixtures/codec-lm-tiny-h264]

A decoder-only transformer (tools/models/causal_lm.py: 2 layers, d_model 32, 2 heads, MLP 64, context 1024) over
plain byte tokens (vocabulary 259: bos 0, eos 1, pad 2, byte b = token b + 3), never trained: seeded random weights.
It goes through the same export as the bundled concert-avc-32 (tools/video/export.py: optimum decoder layout with KV
cache, attention/MLP weights as 4-bit MatMulNBits, embeddings int8 + DequantizeLinear), so the runtime tests exercise
the shipped graph's operators without a trained model. Its outputs are close to uniform: unconstrained samples
essentially never decode. The `codec` block is the one the bundled concert-avc-32 pack carries (codec_block()).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "models"))
import pack  # noqa: E402
from causal_lm import CausalLM, LMConfig  # noqa: E402
from export_causal_lm import export_onnx  # noqa: E402

PACK_ID = "codec-lm-tiny-h264"
SEED = 15
BOS, EOS, PAD, OFFSET = 0, 1, 2, 3
MAX_TOKENS = 1024

with open(os.path.join(HERE, "x264_flags.json"), encoding="utf-8") as _f:
    _FLAGS = json.load(_f)

CARD = """# codec-lm-tiny-h264 (test fixture)

A **random-weight** H.264 codec LM for Concert's tests (issue #15): {params:,} parameters, never trained, seed {seed}.
Decoder-only transformer of `tools/models/causal_lm.py` ({layers} layers, d_model {d_model}, {heads} heads, context
{ctx}), optimum decoder I/O with a KV cache, over plain byte tokens (bos {bos}, eos {eos}, pad {pad}, byte b = b + {offset}),
exported like concert-avc-32 (4-bit MatMulNBits, int8 embeddings). Its clips are noise: only a grammar constraint
makes them decodable. Rebuild with `/usr/bin/python3 tools/video/make_test_pack.py`.
"""


def codec_block(max_tokens: int = MAX_TOKENS) -> dict:
    """The manifest's codec block of the H.264 packs (src/runtime/manifest.ts); stream parameters from x264_flags.json."""
    f = _FLAGS
    return {"format": "h264", "stream": "annex-b", "width": f["width"], "height": f["height"], "fps": f["fps"],
            "frames": f["frames"], "profile": f["profile"], "qp": f["qp"], "sliceMaxMbs": f["sliceMaxMbs"],
            "tokens": {"mapping": "bytes", "offset": OFFSET}, "bos": BOS, "eos": EOS, "pad": PAD, "maxTokens": max_tokens}


def video_export():
    key = "concert_video_export"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, os.path.join(HERE, "export.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


def add_codec(out_dir: str, codec: dict, extra_files: dict | None = None) -> dict:
    """Adds the codec block (and extra files, e.g. samples.png) to the manifest tools/pack.py wrote; verifies the pack."""
    import shutil

    path = os.path.join(out_dir, pack.MANIFEST)
    with open(path, encoding="utf-8") as f:
        m = json.load(f)
    for name, src in (extra_files or {}).items():
        dst = os.path.join(out_dir, name)
        shutil.copyfile(src, dst)
        m["files"][name] = {"sha256": pack.sha256_file(dst), "bytes": os.path.getsize(dst)}
    m["files"] = dict(sorted(m["files"].items()))
    m["codec"] = codec
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    pack.verify_pack(out_dir)
    return m


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", PACK_ID))
    args = ap.parse_args(argv)
    torch.manual_seed(SEED)
    cfg = LMConfig(vocab_size=256 + OFFSET, d_model=32, n_layers=2, n_heads=2, d_ff=64, max_positions=MAX_TOKENS)
    model = CausalLM(cfg).eval()
    params = model.num_params()
    with tempfile.TemporaryDirectory() as work:
        fp32, onnx_path = os.path.join(work, "model_fp32.onnx"), os.path.join(work, "model.onnx")
        export_onnx(model, fp32)
        video_export().quantize(model, fp32, onnx_path)
        card = os.path.join(work, "MODEL_CARD.md")
        with open(card, "w", encoding="utf-8") as f:
            f.write(CARD.format(params=params, seed=SEED, layers=cfg.n_layers, d_model=cfg.d_model, heads=cfg.n_heads,
                                ctx=cfg.max_positions, bos=BOS, eos=EOS, pad=PAD, offset=OFFSET))
        pack.write_pack(
            args.out, id=PACK_ID, kind="codec-lm", licence="MIT", graphs={"decoder": {"src": onnx_path, "name": "model.onnx"}},
            model_card=card, display_name="Tiny random H.264 codec LM (tests)",
            description="Random-weight H.264 byte LM for tests: 32×32, 3 fps, 12-frame canonical Annex-B clips, plain byte tokens.",
            knobs={"maxContext": cfg.max_positions, "numLayers": cfg.n_layers, "numHeads": cfg.n_heads,
                   "headDim": cfg.head_dim, "hiddenSize": cfg.d_model, "vocabSize": cfg.vocab_size},
            provenance={"seed": SEED, "weights": "random (untrained)", "parameters": params,
                        "quantization": video_export().DESCRIPTION,
                        "command": "/usr/bin/python3 tools/video/make_test_pack.py"},
        )
    m = add_codec(args.out, codec_block())
    total = sum(e["bytes"] for e in m["files"].values())
    print(f"wrote {args.out}: {params:,} parameters, {total:,} bytes")


if __name__ == "__main__":
    main()

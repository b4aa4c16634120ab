#!/usr/bin/env python3
"""Writes the tiny RANDOM-weight codec-lm pack used by the tests: test/fixtures/codec-lm-tiny.

    /usr/bin/python3 tools/jpeg/make_test_pack.py [--out test/fixtures/codec-lm-tiny]
    /usr/bin/python3 tools/jpeg/make_test_pack.py --bpe      # test/fixtures/codec-lm-tiny-bpe

With `--bpe` the pack uses the "bytes-bpe" mapping instead: the 64 merges of test/fixtures/byte-bpe/golden.json
(tools/codec/byte_bpe.py) in `merges.json`, vocabulary 259 + 64.

A decoder-only transformer (tools/models/causal_lm.py: 2 layers, d_model 32, 2 heads, ~42k parameters) over plain
byte tokens (vocabulary 259: bos 0, eos 1, pad 2, byte b = token b + 3), never trained: seeded random weights, so the
tests exercise the real runtime path (optimum decoder I/O, KV cache, left padding) without a trained model. Its
outputs are close to uniform over the vocabulary, which is what makes the unconstrained decodable rate ≈ 0 and the
grammar constraint the only reason constrained samples decode. Exported with tools/models/export_causal_lm.py and
packed with tools/pack.py; the `codec` block (src/runtime/manifest.ts) is the one the bundled concert-jpeg-32 pack
carries: 32×32, quality 25, 4:2:0, a restart marker after every MCU, image-only stream.
"""
from __future__ import annotations

import argparse
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

PACK_ID = "codec-lm-tiny"
SEED = 14
BOS, EOS, PAD, OFFSET = 0, 1, 2, 3
MAX_TOKENS = 512

CARD = """# codec-lm-tiny (test fixture)

A **random-weight** codec LM for Concert's tests (issue #14): {params:,} parameters, never trained, seed {seed}.
Decoder-only transformer of `tools/models/causal_lm.py` ({layers} layers, d_model {d_model}, {heads} heads, context
{ctx}), optimum decoder I/O with a KV cache, over {tokens} (bos {bos}, eos {eos}, pad {pad}, byte b = b + {offset}).
Its images are noise: only the grammar constraint makes them decodable. Rebuild with
`/usr/bin/python3 tools/jpeg/make_test_pack.py`.
"""


def codec_block(bpe: bool = False) -> dict:
    tokens = {"mapping": "bytes-bpe", "offset": OFFSET, "merges": "merges.json"} if bpe else {"mapping": "bytes", "offset": OFFSET}
    return {"format": "jpeg", "stream": "image-only", "width": 32, "height": 32, "quality": 25, "subsampling": "4:2:0",
            "restartInterval": 1, "tokens": tokens, "bos": BOS, "eos": EOS, "pad": PAD, "maxTokens": MAX_TOKENS}


def golden_merges() -> list:
    with open(os.path.join(ROOT, "test", "fixtures", "byte-bpe", "golden.json"), encoding="utf-8") as f:
        g = json.load(f)
    assert g["offset"] == OFFSET
    return g["merges"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--bpe", action="store_true", help="the bytes-bpe variant (codec-lm-tiny-bpe)")
    args = ap.parse_args()
    pack_id = PACK_ID + ("-bpe" if args.bpe else "")
    args.out = args.out or os.path.join(ROOT, "test", "fixtures", pack_id)
    merges = golden_merges() if args.bpe else []
    torch.manual_seed(SEED)
    cfg = LMConfig(vocab_size=256 + OFFSET + len(merges), d_model=32, n_layers=2, n_heads=2, d_ff=64, max_positions=MAX_TOKENS)
    model = CausalLM(cfg).eval()
    params = model.num_params()
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, "model.onnx")
        export_onnx(model, onnx_path)
        card = os.path.join(work, "MODEL_CARD.md")
        with open(card, "w", encoding="utf-8") as f:
            f.write(CARD.format(params=params, seed=SEED, layers=cfg.n_layers, d_model=cfg.d_model, heads=cfg.n_heads,
                                ctx=cfg.max_positions, tokens="byte tokens and the 64 BPE merges of merges.json" if args.bpe else "plain byte tokens", bos=BOS, eos=EOS, pad=PAD, offset=OFFSET))
        pack.write_pack(
            args.out, id=pack_id, kind="codec-lm", licence="MIT", graphs={"decoder": {"src": onnx_path, "name": "model.onnx"}},
            model_card=card, display_name="Tiny random codec LM (tests)",
            description="Random-weight JPEG byte LM for tests: 32×32 canonical image-only streams, "
                        + ("byte tokens + 64 BPE merges." if args.bpe else "plain byte tokens."),
            knobs={"maxContext": cfg.max_positions, "numLayers": cfg.n_layers, "numHeads": cfg.n_heads,
                   "headDim": cfg.head_dim, "hiddenSize": cfg.d_model, "vocabSize": cfg.vocab_size},
            provenance={"seed": SEED, "weights": "random (untrained)", "parameters": params,
                        "command": "/usr/bin/python3 tools/jpeg/make_test_pack.py" + (" --bpe" if args.bpe else "")},
        )
    # tools/pack.py knows no codec block: it is added to the manifest it wrote (no file hashes change).
    manifest_path = os.path.join(args.out, pack.MANIFEST)
    with open(manifest_path, encoding="utf-8") as f:
        m = json.load(f)
    m["codec"] = codec_block(args.bpe)
    if args.bpe:
        # the merges file is listed with its hash like every pack file (tools/pack.py copies only graphs and cards)
        p = os.path.join(args.out, "merges.json")
        with open(p, "w", encoding="utf-8") as f:
            f.write(json.dumps(merges, separators=(",", ":")) + "\n")
        m["files"]["merges.json"] = {"sha256": pack.sha256_file(p), "bytes": os.path.getsize(p)}
        m["files"] = dict(sorted(m["files"].items()))
    with open(manifest_path, "w", encoding="utf-8") as f:
        f.write(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    pack.verify_pack(args.out)
    total = sum(e["bytes"] for e in m["files"].values())
    print(f"wrote {args.out}: {params:,} parameters, {total:,} bytes")


if __name__ == "__main__":
    main()

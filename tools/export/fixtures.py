#!/usr/bin/env python3
"""Tiny, randomly initialised checkpoints in the Hugging Face folder layout of the four model families (no download),
and the exported test packs built from them:

    /usr/bin/python3 tools/export/fixtures.py --out test/fixtures/export

writes test/fixtures/export/packs/{ssdlm-tiny, clf-roberta-tiny, jpeg-lm-tiny}/ (Concert packs) and
test/fixtures/export/hf/llama-tiny/ (the published ONNX layout), each well under 1 MB.

    /usr/bin/python3 tools/export/fixtures.py --checkpoint jpeg-lm --out <folder>

writes only that tiny checkpoint (ssd-lm, classifier, causal-lm, jpeg-lm), the same bytes every time, for tests that
run the exporter themselves (test/worker/export-packs.test.ts: a pack with external data). The checkpoints are built
with the real transformers classes when they are importable, else with tools/export/reference; they are saved as
pytorch_model.bin with tokenizer files as the published models ship them (RoBERTa vocab.json + merges.txt, Llama
SentencePiece tokenizer.model), and the SSD-LM extras as state dicts with the `module.` prefix of the official files.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from ex_common import ROOT, have_transformers, write_json  # noqa: E402
from ex_reference import llama as ref_llama  # noqa: E402
from ex_reference import roberta as ref_roberta  # noqa: E402
import tok_convert  # noqa: E402


def _hf_fixtures():
    spec = importlib.util.spec_from_file_location("concert_hf_make_fixtures", os.path.join(ROOT, "tools", "hf", "make_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------------------------ RoBERTa family

ROBERTA_MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("i", "n"), ("e", "r"), ("o", "n"), ("Ġ", "s"), ("r", "e"),
                  ("a", "t"), ("Ġ", "w"), ("o", "r"), ("e", "d"), ("Ġ", "c"), ("Ġ", "f"), ("o", "o"), ("Ġf", "oo"), ("Ġ", "g")]


def roberta_vocab():
    b2u = _hf_fixtures().bytes_to_unicode()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for b in sorted(b2u):
        vocab[b2u[b]] = len(vocab)
    for a, b in ROBERTA_MERGES:
        vocab[a + b] = len(vocab)
    vocab["<mask>"] = len(vocab)
    return vocab


def write_roberta_tokenizer(folder: str) -> int:
    vocab = roberta_vocab()
    write_json(os.path.join(folder, "vocab.json"), vocab)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in ROBERTA_MERGES))
    write_json(os.path.join(folder, "special_tokens_map.json"), {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
                                                                 "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"})
    return len(vocab)


def roberta_config(V: int, **kw) -> dict:
    c = dict(model_type="roberta", vocab_size=V, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
             hidden_act="gelu", max_position_embeddings=66, type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
             eos_token_id=2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    c.update(kw)
    return c


def randomize(model: nn.Module, seed: int, std: float = 0.3) -> None:
    """Weights large enough that outputs depend visibly on the inputs (HF's 0.02 init gives near-constant outputs)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 if "embed" in name else std))


def save_model(model: nn.Module, folder: str, cfg: dict, arch: str) -> None:
    cfg = {**cfg, "architectures": [arch]}
    write_json(os.path.join(folder, "config.json"), cfg)
    sd = {k: v.contiguous() for k, v in model.state_dict().items()}
    torch.save(sd, os.path.join(folder, "pytorch_model.bin"))


def build_model(kind: str, cfg: dict):
    """The real transformers class when importable, else the reference module (same parameter names)."""
    if have_transformers():
        import transformers

        if kind == "mlm":
            return transformers.RobertaForMaskedLM(transformers.RobertaConfig(**cfg)).eval()
        if kind == "cls":
            return transformers.RobertaForSequenceClassification(transformers.RobertaConfig(**cfg)).eval()
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg)).eval()
    if kind == "mlm":
        return ref_roberta.RobertaForMaskedLM(ref_roberta.RobertaConfig.from_dict(cfg)).eval()
    if kind == "cls":
        return ref_roberta.RobertaForSequenceClassification(ref_roberta.RobertaConfig.from_dict(cfg)).eval()
    return ref_llama.LlamaForCausalLM(ref_llama.LlamaConfig.from_dict(cfg)).eval()


def make_ssd_lm(folder: str, seed: int = 1) -> dict:
    os.makedirs(folder, exist_ok=True)
    V = write_roberta_tokenizer(folder)
    cfg = roberta_config(V)
    torch.manual_seed(seed)
    m = build_model("mlm", cfg)
    randomize(m, seed)
    with torch.no_grad():  # flatter output distributions: samples vary and guidance can move them
        m.lm_head.layer_norm.weight.mul_(0.05)
        m.lm_head.layer_norm.bias.zero_()
        m.lm_head.bias.zero_()
    save_model(m, folder, cfg, "RobertaForMaskedLM")
    g = torch.Generator().manual_seed(seed + 100)
    H = cfg["hidden_size"]
    # As the official files: state dicts saved from an accelerate-wrapped module (keys prefixed "module.").
    torch.save({"module.weight": torch.randn(H, V, generator=g)}, os.path.join(folder, "embed_sum_layer.pt"))
    torch.save({"module.weight": torch.randn(H, 1, generator=g), "module.bias": torch.randn(H, generator=g) * 0.1}, os.path.join(folder, "timestep_layer.pt"))
    return cfg


def make_classifier(folder: str, seed: int = 2, labels=("negative", "neutral", "positive")) -> dict:
    os.makedirs(folder, exist_ok=True)
    V = write_roberta_tokenizer(folder)
    cfg = roberta_config(V, id2label={str(i): f"LABEL_{i}" for i in range(len(labels))}, label2id={f"LABEL_{i}": i for i in range(len(labels))},
                         problem_type="single_label_classification")
    torch.manual_seed(seed)
    m = build_model("cls", cfg)
    randomize(m, seed)
    with torch.no_grad():  # no label certain from the start, so that guidance visibly moves the scores
        m.classifier.out_proj.weight.mul_(0.3)
        m.classifier.out_proj.bias.zero_()
    save_model(m, folder, cfg, "RobertaForSequenceClassification")
    return cfg


# ------------------------------------------------------------------------------------------------ Llama family


def llama_config(V: int, **kw) -> dict:
    c = dict(model_type="llama", vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, head_dim=8, max_position_embeddings=1024, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
             hidden_act="silu", bos_token_id=1, eos_token_id=2, attention_bias=False, mlp_bias=False, torch_dtype="float32")
    c.update(kw)
    return c


TEXT_MERGES = ["▁t", "he", "▁the", "in", "er", "▁a", "on", "at", "en", "es", "▁s", "▁w", "or", "an", "▁c", "ed"]


def text_sentencepiece() -> bytes:
    """Llama-style BPE with byte fallback: <unk> <s> </s>, <0x00>…<0xFF>, ▁, printable ASCII, a few merges."""
    P = tok_convert
    pieces = [("<unk>", 0.0, P.UNKNOWN), ("<s>", 0.0, P.CONTROL), ("</s>", 0.0, P.CONTROL)]
    pieces += [(f"<0x{b:02X}>", 0.0, P.BYTE) for b in range(256)]
    merged = list(TEXT_MERGES)
    singles = ["▁"] + [chr(c) for c in range(33, 127)]
    for i, s in enumerate(merged):
        pieces.append((s, -float(i), P.NORMAL))
    for i, s in enumerate(singles):
        pieces.append((s, -float(len(merged) + i), P.NORMAL))
    return P.write_sentencepiece(pieces, add_dummy_prefix=True, byte_fallback=True)


JPEG_MERGES = [(0xFF, 0xD0 + i) for i in range(8)] + [(0xFF, 0xD8), (0xFF, 0xD9), (0xFF, 0xDA), (0xFF, 0xC0), (0xFF, 0xDD), (0xFF, 0xE0), (0xFF, 0x00), (0x00, 0x00)]


def jpeg_sentencepiece() -> bytes:
    """The JPEG-LM form: <unk> <s> </s>, ▁, the 256 Braille characters U+2800 + b, merges of marker byte pairs."""
    P = tok_convert
    pieces = [("<unk>", 0.0, P.UNKNOWN), ("<s>", 0.0, P.CONTROL), ("</s>", 0.0, P.CONTROL)]
    merged = ["".join(chr(0x2800 + b) for b in pair) for pair in JPEG_MERGES]
    for i, s in enumerate(merged):
        pieces.append((s, -float(i), P.NORMAL))
    singles = ["▁"] + [chr(0x2800 + b) for b in range(256)]
    for i, s in enumerate(singles):
        pieces.append((s, -float(len(merged) + i), P.NORMAL))
    return P.write_sentencepiece(pieces, add_dummy_prefix=True, byte_fallback=False)


def make_llama(folder: str, sp: bytes, seed: int, special_map: dict, **kw) -> dict:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tokenizer.model"), "wb") as f:
        f.write(sp)
    V = len(tok_convert.read_sentencepiece(sp)["pieces"])
    cfg = llama_config(V, **kw)
    torch.manual_seed(seed)
    m = build_model("llama", cfg)
    randomize(m, seed, std=0.35)
    save_model(m, folder, cfg, "LlamaForCausalLM")
    write_json(os.path.join(folder, "special_tokens_map.json"), special_map)
    write_json(os.path.join(folder, "tokenizer_config.json"), {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                                                                 "unk_token": "<unk>", "pad_token": special_map.get("pad_token"), "legacy": True,
                                                                 "model_max_length": cfg["max_position_embeddings"], "tokenizer_class": "LlamaTokenizer"})
    write_json(os.path.join(folder, "generation_config.json"), {"bos_token_id": 1, "eos_token_id": 2})
    return cfg


def make_causal_lm(folder: str, seed: int = 3) -> dict:
    return make_llama(folder, text_sentencepiece(), seed, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, max_position_embeddings=256)


def make_jpeg_lm(folder: str, seed: int = 4) -> dict:
    return make_llama(folder, jpeg_sentencepiece(), seed, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"},
                      max_position_embeddings=1024)


# ------------------------------------------------------------------------------------------------ regeneration


def main() -> None:
    # export.py by path under a unique name: `export` is also tools/diffusion/export.py (one unittest process).
    import importlib.util

    spec = importlib.util.spec_from_file_location("concert_tools_export_export", os.path.join(os.path.dirname(os.path.abspath(__file__)), "export.py"))
    export = sys.modules.get("concert_tools_export_export")
    if export is None:
        export = importlib.util.module_from_spec(spec)
        sys.modules["concert_tools_export_export"] = export
        spec.loader.exec_module(export)

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "test", "fixtures", "export"))
    ap.add_argument("--checkpoint", choices=["ssd-lm", "classifier", "causal-lm", "jpeg-lm"], default=None,
                    help="write only this tiny checkpoint into --out (a Hugging Face folder for export.py --from)")
    a = ap.parse_args()
    if a.checkpoint:
        {"ssd-lm": make_ssd_lm, "classifier": make_classifier, "causal-lm": make_causal_lm, "jpeg-lm": make_jpeg_lm}[a.checkpoint](a.out)
        print(f"wrote the tiny {a.checkpoint} checkpoint to {a.out}")
        return
    packs, hf = os.path.join(a.out, "packs"), os.path.join(a.out, "hf")
    for d in (packs, hf):
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    summary = {"command": "/usr/bin/python3 tools/export/fixtures.py --out test/fixtures/export", "torch": torch.__version__,
               "modelClasses": "transformers" if have_transformers() else "tools/export/reference", "packs": {}}
    with tempfile.TemporaryDirectory() as work:
        src = {n: os.path.join(work, n) for n in ("ssdlm", "clf", "llama", "jpeg")}
        make_ssd_lm(src["ssdlm"])
        make_classifier(src["clf"])
        make_causal_lm(src["llama"])
        make_jpeg_lm(src["jpeg"])
        lic = ["--licence", "MIT"]
        runs = {
            "ssdlm-tiny": ["ssd-lm", "--from", src["ssdlm"], "--out", os.path.join(packs, "ssdlm-tiny"), "--block-size", "4", "--t-train", "100", *lic],
            "clf-roberta-tiny": ["classifier", "--from", src["clf"], "--out", os.path.join(packs, "clf-roberta-tiny"), "--attribute", "tweet-sentiment",
                                 "--labels", "negative,neutral,positive", *lic],
            "jpeg-lm-tiny": ["jpeg-lm", "--from", src["jpeg"], "--out", os.path.join(packs, "jpeg-lm-tiny"), "--size", "32", "--max-tokens", "512",
                             "--dtype", "q4", *lic],
            "llama-tiny": ["causal-lm", "--from", src["llama"], "--out", os.path.join(hf, "llama-tiny"), "--dtype", "all", *lic],
        }
        for name, argv in runs.items():
            res = export.main(argv)
            summary["packs"][name] = {"argv": " ".join(argv[:1]) + " " + " ".join(x for x in argv[1:] if not x.startswith(work)),
                                      "parity": {k: v for k, v in res["parity"].items() if k != "triton"}}
    write_json(os.path.join(a.out, "fixtures.json"), summary)
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(a.out) for f in fs)
    print(f"wrote {a.out} ({total:,} bytes)")


if __name__ == "__main__":
    main()

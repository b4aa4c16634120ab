"""Trains Concert's shared subword tokenizer and exports it as a Hugging Face tokenizer.json.

Trainer: SentencePiece BPE (Debian python3-sentencepiece 0.1.97), byte fallback, identity normalisation, no dummy
prefix, digits split, control symbols for every special token (so ordinary text can never produce them).
Export: BPE model whose merges are derived from the piece scores (like transformers' SentencePiece converter),
normalizer Replace(" " -> "\u2581"), no pre-tokenizer, decoder Replace + ByteFallback + Fuse. The pure-Python
reference encoder (ref_tokenizer.py) implements the same pipeline and is the encoder used for training data.

Usage:
  /usr/bin/python3 tools/tokenizer/train.py [--smoke] [--input FILE] [--out DIR] [--vocab-size N]
(build.py calls train_from_build() after building the corpora.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))

import templates  # noqa: E402

META = "\u2581"
SEED = 20261129
DEFAULT_VOCAB = 8192
TOKENIZER_INPUT_BYTES = 30_000_000  # deterministic hash subsample of the training text fed to SentencePiece


def sp_train(input_file: str, prefix: str, vocab_size: int, threads: int = 2) -> None:
    import sentencepiece as spm

    spm.set_random_generator_seed(SEED)
    specials = templates.SPECIAL_TOKENS
    assert specials[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    spm.SentencePieceTrainer.train(
        input=input_file,
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=0.9995,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        split_digits=True,
        split_by_whitespace=True,
        split_by_unicode_script=True,
        split_by_number=True,
        allow_whitespace_only_pieces=False,
        max_sentencepiece_length=16,
        max_sentence_length=8192,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=threads,
        pad_id=0, unk_id=1, bos_id=2, eos_id=3,
        pad_piece="<pad>", unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        control_symbols=",".join(specials[4:]),
        minloglevel=2,
    )


def export_tokenizer_json(model_file: str) -> dict:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=model_file)
    n = sp.get_piece_size()
    pieces = [sp.id_to_piece(i) for i in range(n)]
    specials = templates.SPECIAL_TOKENS
    for i, s in enumerate(specials):
        assert pieces[i] == s, (i, pieces[i], s)
        assert sp.is_control(i) or sp.is_unknown(i), s
    vocab = {p: i for i, p in enumerate(pieces)}
    normal = {p: i for i, p in enumerate(pieces) if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i) or sp.is_unused(i))}
    for p in normal:
        if META in p[1:]:
            raise SystemExit(f"piece {p!r} has an inner word boundary; the reference encoder's word split would be wrong")
    merges: list[tuple[int, int, int, str, str]] = []
    for p, pid in normal.items():
        found = False
        for k in range(1, len(p)):
            a, b = p[:k], p[k:]
            if a in normal and b in normal:
                merges.append((pid, normal[a], normal[b], a, b))
                found = True
        if len(p) > 1 and not found:
            raise SystemExit(f"piece {p!r} cannot be built by any merge")
    merges.sort()
    # Special strings must not be reachable from text: they are not normal pieces, so no merge yields them, and
    # none is a single character.
    for s in specials:
        assert s not in normal and len(s) > 1
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, s in enumerate(specials)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": META},
        "pre_tokenizer": None,
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": META}, "content": " "},
            {"type": "ByteFallback"},
            {"type": "Fuse"},
        ]},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [[a, b] for _, _, _, a, b in merges],
        },
    }


def write_json(obj: dict, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def _keep(line: str, rate: float) -> bool:
    if rate >= 1:
        return True
    h = hashlib.sha256(("tok:" + line).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64 < rate


def tokenizer_input(build_dir: str, out_file: str, budget_bytes: int) -> dict:
    """Training-split text only: general corpus (subsampled to the budget), fact statements, summary pairs, QA
    documents and questions. Fixed file order, so the input (and the trained model) is deterministic."""
    gen = os.path.join(build_dir, "general", "train.jsonl")
    total = os.path.getsize(gen)
    rate = min(1.0, budget_bytes / max(1, total))
    n = 0
    size = 0
    with open(out_file, "w", encoding="utf-8") as out:
        def put(t: str) -> None:
            nonlocal n, size
            t = t.replace("\n", " ").strip()
            if t:
                out.write(t + "\n")
                n += 1
                size += len(t)

        with open(gen, encoding="utf-8") as f:
            for line in f:
                t = json.loads(line)["text"]
                if _keep(t, rate):
                    put(t)
        with open(os.path.join(build_dir, "facts", "statements.jsonl"), encoding="utf-8") as f:
            for line in f:
                put(json.loads(line)["text"])
        with open(os.path.join(build_dir, "summarization", "train.jsonl"), encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                put(r["summary"])
        with open(os.path.join(build_dir, "qa", "train.jsonl"), encoding="utf-8") as f:
            seen = set()
            for line in f:
                r = json.loads(line)
                for t in (r["document"], r["question"], r["answer"]):
                    if t and t not in seen:
                        seen.add(t)
                        put(t)
    return {"lines": n, "chars": size, "general_sample_rate": round(rate, 4)}


def train_from_build(build_dir: str, vocab_size: int = DEFAULT_VOCAB, budget_bytes: int = TOKENIZER_INPUT_BYTES) -> dict:
    out_dir = os.path.join(build_dir, "tokenizer")
    os.makedirs(out_dir, exist_ok=True)
    inp = os.path.join(out_dir, "train-input.txt")
    t0 = time.time()
    info = tokenizer_input(build_dir, inp, budget_bytes)
    t1 = time.time()
    prefix = os.path.join(out_dir, "spm")
    sp_train(inp, prefix, vocab_size)
    t2 = time.time()
    tj = export_tokenizer_json(prefix + ".model")
    path = os.path.join(out_dir, "tokenizer.json")
    write_json(tj, path)
    t3 = time.time()
    stats = {"vocab_size": len(tj["model"]["vocab"]), "merges": len(tj["model"]["merges"]), "input": info,
             "seconds": {"prepare_input": round(t1 - t0, 1), "sentencepiece_train": round(t2 - t1, 1),
                         "export": round(t3 - t2, 1)},
             "command": f"/usr/bin/python3 tools/tokenizer/train.py --build-dir {os.path.relpath(build_dir, ROOT)} --vocab-size {vocab_size}",
             "trainer": "sentencepiece BPE (python3-sentencepiece 0.1.97), seed %d" % SEED}
    with open(os.path.join(out_dir, "train-stats.json"), "w") as f:
        json.dump(stats, f, indent=1)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--vocab-size", type=int, default=DEFAULT_VOCAB)
    ap.add_argument("--budget-bytes", type=int, default=TOKENIZER_INPUT_BYTES)
    a = ap.parse_args()
    print(json.dumps(train_from_build(os.path.abspath(a.build_dir), a.vocab_size, a.budget_bytes), indent=1))


if __name__ == "__main__":
    main()

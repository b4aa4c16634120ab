"""tokenizer.json (the Hugging Face `tokenizers` format the runtime reads) from the files published checkpoints
ship: RoBERTa's vocab.json + merges.txt (byte-level BPE), and a SentencePiece BPE tokenizer.model (Llama, JPEG-LM),
read with a small protobuf reader (no sentencepiece / protobuf packages). Written from the formats' documentation.
"""
from __future__ import annotations

import os
import struct
from typing import Dict, List, Tuple

from ex_common import read_json, write_json

SPECIAL_CONTENT = dict(single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)


def added(content: str, id_: int, lstrip: bool = False) -> dict:
    return {"id": id_, "content": content, **SPECIAL_CONTENT, "lstrip": lstrip}


# ------------------------------------------------------------------------------------------------ RoBERTa (byte-level BPE)


def roberta_tokenizer_json(vocab: Dict[str, int], merges: List[str]) -> dict:
    """The RoBERTa layout: ByteLevel pre-tokenizer (no prefix space), BPE, <s> … </s> post-processor, <mask> lstrip."""
    specials = [s for s in ("<s>", "<pad>", "</s>", "<unk>", "<mask>") if s in vocab]
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(s, vocab[s], lstrip=(s == "<mask>")) for s in sorted(specials, key=lambda s: vocab[s])],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", vocab.get("</s>", 2)], "cls": ["<s>", vocab.get("<s>", 0)],
                           "trim_offsets": True, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges},
    }


def roberta_tokenizer(folder: str, out_path: str) -> str:
    """Copies folder/tokenizer.json, or builds it from vocab.json + merges.txt. Returns how it was obtained."""
    tj = os.path.join(folder, "tokenizer.json")
    if os.path.exists(tj):
        write_json(out_path, read_json(tj))
        return "tokenizer.json (as published)"
    vocab = read_json(os.path.join(folder, "vocab.json"))
    with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
        merges = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#version")]
    write_json(out_path, roberta_tokenizer_json(vocab, merges))
    return "vocab.json + merges.txt (converted)"


# ------------------------------------------------------------------------------------------------ SentencePiece

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def _varint(b: bytes, i: int) -> Tuple[int, int]:
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def _fields(b: bytes):
    """(field number, wire type, value) of a protobuf message: ints for varint, bytes for length-delimited and
    fixed-width fields."""
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        yield num, wt, v


def read_sentencepiece(data: bytes) -> dict:
    """ModelProto: pieces (field 1: piece 1, score 2, type 3), trainer_spec (2: model_type 3, byte_fallback 35),
    normalizer_spec (3: add_dummy_prefix 3, remove_extra_whitespaces 4)."""
    pieces, trainer, norm = [], {}, {}
    for num, _, v in _fields(data):
        if num == 1:
            p = {"piece": "", "score": 0.0, "type": NORMAL}
            for n2, _, v2 in _fields(v):
                if n2 == 1:
                    p["piece"] = v2.decode("utf-8")
                elif n2 == 2:
                    p["score"] = struct.unpack("<f", v2)[0]
                elif n2 == 3:
                    p["type"] = v2
            pieces.append(p)
        elif num == 2:
            for n2, _, v2 in _fields(v):
                if n2 == 3:
                    trainer["model_type"] = v2
                elif n2 == 35:
                    trainer["byte_fallback"] = bool(v2)
        elif num == 3:
            for n2, _, v2 in _fields(v):
                if n2 == 3:
                    norm["add_dummy_prefix"] = bool(v2)
                elif n2 == 4:
                    norm["remove_extra_whitespaces"] = bool(v2)
    return {"pieces": pieces, "model_type": trainer.get("model_type", 1), "byte_fallback": trainer.get("byte_fallback", False),
            "add_dummy_prefix": norm.get("add_dummy_prefix", True)}


def _key(num: int, wt: int) -> bytes:
    return _enc_varint((num << 3) | wt)


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _ld(num: int, payload: bytes) -> bytes:
    return _key(num, 2) + _enc_varint(len(payload)) + payload


def write_sentencepiece(pieces: List[Tuple[str, float, int]], add_dummy_prefix: bool = True, byte_fallback: bool = False) -> bytes:
    """A minimal BPE ModelProto (for tests: tiny tokenizer.model files)."""
    out = b""
    for piece, score, typ in pieces:
        out += _ld(1, _ld(1, piece.encode("utf-8")) + _key(2, 5) + struct.pack("<f", score) + _key(3, 0) + _enc_varint(typ))
    out += _ld(2, _key(3, 0) + _enc_varint(2) + _key(35, 0) + _enc_varint(int(byte_fallback)))
    out += _ld(3, _key(3, 0) + _enc_varint(int(add_dummy_prefix)))
    return out


def sentencepiece_tokenizer_json(sp: dict) -> dict:
    """A BPE SentencePiece model as tokenizer.json (the legacy Llama form): normalizer Prepend("▁") (when the model
    adds a dummy prefix) + Replace(" " → "▁"), no pre-tokenizer, BPE over the pieces with merges derived from the
    vocabulary (every split of a piece into two pieces, ranked by the merged piece's score), byte fallback as the
    model says; decoder ▁ → space, byte fallback, fuse, strip the leading space."""
    if sp["model_type"] != 2:
        raise ValueError(f"only BPE SentencePiece models are supported (model_type {sp['model_type']})")
    pieces = sp["pieces"]
    vocab = {p["piece"]: i for i, p in enumerate(pieces)}
    rank = {p["piece"]: (-p["score"], i) for i, p in enumerate(pieces)}
    merges = []
    for p in pieces:
        s = p["piece"]
        if p["type"] not in (NORMAL, USER_DEFINED) or len(s) < 2:
            continue
        for k in range(1, len(s)):
            a, b = s[:k], s[k:]
            if a in vocab and b in vocab:
                merges.append((rank[s], vocab[a], vocab[b], a, b))
    merges.sort()
    unk = next((p["piece"] for p in pieces if p["type"] == UNKNOWN), None)
    specials = [added(p["piece"], i) for i, p in enumerate(pieces) if p["type"] in (UNKNOWN, CONTROL)]
    norm = [{"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]
    if sp["add_dummy_prefix"]:
        norm.insert(0, {"type": "Prepend", "prepend": "\u2581"})
    bos = next((p["piece"] for p in pieces if p["piece"] == "<s>"), None)
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": specials,
        "normalizer": {"type": "Sequence", "normalizers": norm},
        "pre_tokenizer": None,
        "post_processor": None if bos is None else {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": unk, "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": bool(sp["byte_fallback"]), "ignore_merges": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for *_, a, b in merges]},
    }


def llama_tokenizer(folder: str, out_path: str) -> str:
    """Copies folder/tokenizer.json, or converts folder/tokenizer.model. Returns how it was obtained."""
    tj = os.path.join(folder, "tokenizer.json")
    if os.path.exists(tj):
        write_json(out_path, read_json(tj))
        return "tokenizer.json (as published)"
    with open(os.path.join(folder, "tokenizer.model"), "rb") as f:
        sp = read_sentencepiece(f.read())
    write_json(out_path, sentencepiece_tokenizer_json(sp))
    return "tokenizer.model (SentencePiece BPE, converted)"

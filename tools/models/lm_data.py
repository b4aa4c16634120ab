"""Training data for the causal LM: the data pipeline's corpora rendered with the shared prompt templates and
tokenized with the shared tokenizer (tools/tokenizer/ref_tokenizer.py, identical ids to the TypeScript runtime).

Sources (all from data/build, written by tools/data/build.py):
  general        general/{split}.jsonl            {"source", "text"}     -> template "lm"
  facts          facts/statements.jsonl (train)   {"text"}               -> template "lm"
  summarization  summarization/{split}.jsonl      {"document","summary"} -> template "summary"
  qa             qa/{split}.jsonl                 document QA -> "qa"; closed-book records -> "qa" no_context
  grounded_qa, grounded_summary, grounded_lm
                 grounded/{split}.jsonl           (tools/data/build_grounded.py, issue #16) records of task "qa",
                                                  "summary", "lm" -> the same templates; splits train, validation,
                                                  test, heldout
  grounded_qa_cloze
                 grounded/{split}.jsonl           cloze questions over the grounded_lm prose (tools/data/cloze.py,
                                                  seeded) -> "qa" with their documents

Every tokenized example also has a target mask (1 on the tokens of the template's target part: the answer, the
summary, the LM text, and </s>), so that training can weight the loss on prompts (--prompt-loss-weight).

The training stream is a seeded shuffle of whole examples from every source (with per-source repetition so that the
mixture has the requested token fractions), concatenated and cut into fixed windows. Tokenized examples are cached
under data/build/lm_cache/ (keyed by the input file and tokenizer hashes).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "tokenizer"))
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))

import cloze  # noqa: E402
import templates  # noqa: E402
from ref_tokenizer import RefTokenizer  # noqa: E402

SPLITS = ("train", "validation", "test")
GROUNDED_SOURCES = {"grounded_qa": "qa", "grounded_summary": "summary", "grounded_lm": "lm"}
CLOZE_SOURCE = "grounded_qa_cloze"
CLOZE_RECORDS = 60000  # at most: one per prose record that has a name or number to ask
CACHE_VERSION = 2  # 2: target masks
# Share of training tokens per source (renormalised over the sources present).
DEFAULT_MIX = {"general": 0.40, "summarization": 0.25, "qa": 0.23, "facts": 0.12}
# Probability of keeping a general-corpus unit, by source: favour clean prose and the Debian descriptions the
# summariser works on; thin out the dictionary definitions, which are numerous and noisy.
GENERAL_SOURCE_KEEP = {"debian": 1.0, "austen": 1.0, "fortunes": 1.0, "gcide-quote": 1.0, "wordnet-example": 0.6,
                       "wordnet-gloss": 0.25, "gcide-def": 0.15}
# Share of the (few) contradicting-document QA training records kept: documents that contradict memorised facts
# stay rare in training, as they are for real LMs, so that regular decoding often repeats the memorised fact and
# context-aware decoding has something to overcome (measured in the model card).
CONTRADICT_KEEP = 0.25


def sha_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def read_jsonl(path: str) -> List[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Encoder:
    """Template rendering to ids with the shared tokenizer (control tokens by id, text via the plain encoder)."""

    def __init__(self, tokenizer_path: str):
        self.path = tokenizer_path
        self.tok = RefTokenizer(tokenizer_path)
        self.vocab_size = len(self.tok)
        self.sha = sha_file(tokenizer_path)
        self.bos = self.tok.token_id(templates.ROLES["bos"])
        self.eos = self.tok.token_id(templates.ROLES["eos"])
        self.pad = self.tok.token_id(templates.ROLES["pad"])

    def render(self, template: str, part: str, fields: dict) -> List[int]:
        return templates.render_ids(templates.PROMPTS[template][part], fields, self.tok.token_id, self.tok.encode_plain)

    def render_fit(self, template: str, part: str, fields: dict, max_len: int, slot: str = "document") -> List[int]:
        """Like render, but if the result is longer than max_len the {slot} text is cut (from its end) to fit."""
        parts = templates.PROMPTS[template][part]
        pieces = [templates.render_ids([p], fields, self.tok.token_id, self.tok.encode_plain) for p in parts]
        excess = sum(len(x) for x in pieces) - max_len
        if excess > 0:
            for i, p in enumerate(parts):
                if "text" in p and "{" + slot + "}" in p["text"]:
                    pieces[i] = pieces[i][:max(1, len(pieces[i]) - excess)]
                    break
        return [t for x in pieces for t in x]

    def example(self, template: str, fields: dict, no_context: bool = False) -> List[int]:
        return self.render(template, "no_context" if no_context else "prompt", fields) + self.render(template, "target", fields)

    def decode(self, ids, skip_special=True) -> str:
        return self.tok.decode(ids, skip_special)


def source_path(build_dir: str, source: str, split: str) -> str:
    if source == "facts":
        return os.path.join(build_dir, "facts", "statements.jsonl")
    if source in GROUNDED_SOURCES or source == CLOZE_SOURCE:
        return os.path.join(build_dir, "grounded", f"{split}.jsonl")
    return os.path.join(build_dir, source, f"{split}.jsonl")


def source_records(build_dir: str, source: str, split: str) -> List[dict]:
    if source == CLOZE_SOURCE:
        texts = [r["text"] for r in source_records(build_dir, "grounded_lm", split)]
        return cloze.cloze_records(texts, np.random.default_rng([20261207, len(split)]), CLOZE_RECORDS)
    if source in GROUNDED_SOURCES:
        p = source_path(build_dir, source, split)
        task = GROUNDED_SOURCES[source]
        return [r for r in read_jsonl(p) if r["task"] == task] if os.path.exists(p) else []
    if source == "facts":
        return read_jsonl(os.path.join(build_dir, "facts", "statements.jsonl")) if split == "train" else []
    return read_jsonl(os.path.join(build_dir, source, f"{split}.jsonl"))


def encode_parts(enc: Encoder, source: str, r: dict):
    """(prompt ids, target ids) of one record."""
    if source in GROUNDED_SOURCES or source == CLOZE_SOURCE:
        source = {"qa": "qa", "summary": "summarization", "lm": "general"}[r["task"]]
    if source in ("general", "facts"):
        t, f, nc = "lm", {"text": r["text"]}, False
    elif source == "summarization":
        t, f, nc = "summary", {"document": r["document"], "summary": r["summary"]}, False
    elif source == "qa":
        nc = bool(r.get("closed_book"))
        t, f = "qa", ({"question": r["question"], "answer": r["answer"]} if nc else
                      {"document": r["document"], "question": r["question"], "answer": r["answer"]})
    else:
        raise ValueError(source)
    return enc.render(t, "no_context" if nc else "prompt", f), enc.render(t, "target", f)


def encode_record(enc: Encoder, source: str, r: dict) -> List[int]:
    p, t = encode_parts(enc, source, r)
    return p + t


def keep_record(source: str, r: dict, rng: np.random.Generator) -> bool:
    if source == "general":
        return rng.random() < GENERAL_SOURCE_KEEP.get(r.get("source", ""), 1.0)
    if source == "qa" and r.get("contradicts"):
        return rng.random() < CONTRADICT_KEEP
    return True


def tokenized(build_dir: str, enc: Encoder, source: str, split: str, seed: int = 0, log=print) -> Optional[dict]:
    """{"tokens": uint16[n], "offsets": int64[m+1]} for the kept records of one source and split (cached)."""
    path = source_path(build_dir, source, split)
    if not os.path.exists(path) or (source == "facts" and split != "train"):
        return None
    key = hashlib.sha256(json.dumps([sha_file(path), enc.sha, source, split, seed, GENERAL_SOURCE_KEEP, CONTRADICT_KEEP,
                                     templates.TEMPLATES_VERSION, CACHE_VERSION]
                                    + ([cloze.VERSION, CLOZE_RECORDS] if source == CLOZE_SOURCE else [])).encode()).hexdigest()[:16]
    cache = os.path.join(build_dir, "lm_cache", f"{source}-{split}-{key}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return {"tokens": z["tokens"], "offsets": z["offsets"], "mask": z["mask"]}
    rng = np.random.default_rng([seed, len(source), len(split)])
    recs = source_records(build_dir, source, split)
    if split == "train":
        recs = [r for r in recs if keep_record(source, r, rng)]
    if not recs:
        return None
    pairs = [encode_parts(enc, source, r) for r in recs]
    offsets = np.zeros(len(pairs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(p) + len(t) for p, t in pairs])
    tokens = np.fromiter((x for p, t in pairs for x in p + t), dtype=np.uint16, count=int(offsets[-1]))
    mask = np.fromiter((m for p, t in pairs for m in [0] * len(p) + [1] * len(t)), dtype=np.uint8, count=int(offsets[-1]))
    os.makedirs(os.path.dirname(cache), exist_ok=True)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, tokens=tokens, offsets=offsets, mask=mask)
    os.replace(tmp, cache)
    log(f"tokenized {source}/{split}: {len(pairs)} examples, {len(tokens)} tokens ({int(mask.sum())} target)")
    return {"tokens": tokens, "offsets": offsets, "mask": mask}


def build_stream(parts: Dict[str, dict], mix: Dict[str, float], total_tokens: int, seed: int, with_mask: bool = False):
    """A seeded shuffle of whole examples, each source repeated/subsampled to its token share of total_tokens.
    With with_mask, returns (stream, target mask) (the mask is all ones for parts that have none)."""
    rng = np.random.default_rng(seed)
    present = {s: w for s, w in mix.items() if s in parts and parts[s] is not None and len(parts[s]["tokens"])}
    z = sum(present.values())
    order = []  # (source index, example index)
    names = sorted(present)
    for si, s in enumerate(names):
        p = parts[s]
        n_ex = len(p["offsets"]) - 1
        want = present[s] / z * total_tokens
        have = float(p["offsets"][-1])
        reps = want / have
        full = int(reps)
        idx = [np.arange(n_ex)] * full
        frac = reps - full
        if frac > 0:
            idx.append(rng.permutation(n_ex)[: int(round(frac * n_ex))])
        idx = np.concatenate(idx) if idx else np.zeros(0, np.int64)
        order.append(np.stack([np.full(len(idx), si), idx], 1))
    order = np.concatenate(order)
    order = order[rng.permutation(len(order))]
    lens = np.array([parts[names[s]]["offsets"][i + 1] - parts[names[s]]["offsets"][i] for s, i in order], np.int64)
    out = np.empty(int(lens.sum()), np.uint16)
    mask = np.ones(int(lens.sum()), np.uint8) if with_mask else None
    pos = 0
    for (s, i), n in zip(order, lens):
        p = parts[names[s]]
        out[pos:pos + n] = p["tokens"][p["offsets"][i]:p["offsets"][i + 1]]
        if with_mask and "mask" in p:
            mask[pos:pos + n] = p["mask"][p["offsets"][i]:p["offsets"][i + 1]]
        pos += n
    return (out, mask) if with_mask else out


def windows(stream: np.ndarray, seq_len: int) -> int:
    return (len(stream) - 1) // seq_len


def get_batch(stream: np.ndarray, seq_len: int, batch: int, step: int) -> np.ndarray:
    """Windows [step*batch, (step+1)*batch) of seq_len+1 tokens (stride seq_len), wrapping around the stream.
    Works on the target mask (same length as the stream) as well."""
    n = windows(stream, seq_len)
    rows = [(step * batch + j) % n for j in range(batch)]
    return np.stack([stream[r * seq_len:r * seq_len + seq_len + 1] for r in rows]).astype(np.int64)


def example_windows(part: dict, seq_len: int, max_examples: int, seed: int) -> List[np.ndarray]:
    """Whole examples (truncated to seq_len+1 tokens), each starting at position 0 as at inference time."""
    n = len(part["offsets"]) - 1
    idx = np.random.default_rng(seed).permutation(n)[:max_examples]
    out = []
    for i in sorted(idx):
        a, b = part["offsets"][i], part["offsets"][i + 1]
        out.append(part["tokens"][a:min(b, a + seq_len + 1)].astype(np.int64))
    return out

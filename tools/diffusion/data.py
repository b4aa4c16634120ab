"""Training data for the simplex diffusion LMs: the data pipeline's corpora rendered with the shared prompt templates
(tools/data/templates.py) and the shared tokenizer, split into (prompt, target) pairs and packed into windows whose
diffusion blocks tile each target.

An example is (prompt ids, target ids). The target ends with </s> and is padded with further </s> to a whole number of
blocks (SSD-2 fn. 10: EOS padding to the block boundary, EOS not masked in the loss). Examples are packed greedily
into windows of L tokens (never straddling two windows); every block of a target becomes one training block whose
context is everything before it in the window. Sources:

  general, facts   template "lm":  prompt = <s> + the first r text tokens (r uniform in 0..B−1, so block boundaries fall
                   at every phase of the text, as at inference after an arbitrary prompt); target = the rest + </s>
  summarization    template "summary": <s><|doc|> document <|summary|> → summary </s> (document cut to fit the window)
  qa               template "qa": <s><|doc|> document <|question|> q <|answer|> → answer </s>; closed-book records
                   with the no_context variant
  qa-nodoc         (user model) the no_context variant of document QA records, for the contrastive term of the
                   SSD-2 collaboration, which queries the user model without its knowledge
  grounded_*       the grounded corpora of issue #16 (tools/data/build_grounded.py: extractive QA over documents in
                   many styles and wordings, summaries that the document supports, prose), read like qa,
                   summarization and general; grounded_qa_nodoc is the no_context variant of grounded_qa,
                   grounded_qa_passage the same records with the document cut to the passage that holds the answer,
                   grounded_qa_multi that passage among passages about other entities of the same kind

Mixtures (shares of target tokens; see MIXES) differ between the core model (general English + all tasks) and the user
model (reading knowledge from its context).
"""
from __future__ import annotations

import os
import re
import sys
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.append(os.path.join(ROOT, "tools", "models"))
sys.path.append(os.path.join(ROOT, "tools", "data"))
sys.path.append(os.path.join(ROOT, "tools", "tokenizer"))

import cloze  # noqa: E402
import lm_data  # noqa: E402
import templates  # noqa: E402

Example = Tuple[List[int], List[int]]

MIXES: Dict[str, Dict[str, float]] = {
    "core": {"general": 0.68, "facts": 0.07, "summarization": 0.10, "qa": 0.15},
    "user": {"qa": 0.55, "qa-nodoc": 0.10, "summarization": 0.20, "general": 0.15},
    # The user model retrained to copy its knowledge into answers (issues #13, #16): only the grounded corpora, every
    # document QA record (contradicting documents included: the user model must follow its document).
    "user-grounded": {"grounded_qa": 0.60, "grounded_qa_nodoc": 0.10, "grounded_summary": 0.20, "grounded_lm": 0.10},
    # Its second stage: part of the QA with the document cut to the lines that hold the answer (short passages like
    # those retrieval hands the user model in a collaboration, and an easier copy task to learn from).
    "user-grounded-passages": {"grounded_qa": 0.40, "grounded_qa_passage": 0.25, "grounded_qa_nodoc": 0.10,
                               "grounded_summary": 0.15, "grounded_lm": 0.10},
    # Its third stage: adds cloze questions over the prose corpus (a sentence asked back with a name or number replaced
    # by a question word, the sentence hidden among other passages joined as retrieval joins them): relations and
    # wordings the templated QA never has, so that the copy skill carries to notes unlike the templates.
    "user-grounded-cloze": {"grounded_qa": 0.30, "grounded_qa_passage": 0.20, "grounded_qa_cloze": 0.25,
                            "grounded_qa_nodoc": 0.10, "grounded_summary": 0.10, "grounded_lm": 0.05},
    # Its fourth stage: part of the QA with the answer's passage among passages about other entities of the same kind
    # (other countries' capitals, other venues' directors), joined as the collaboration joins the passages retrieval
    # picked. Every other training document is about one entity, so the model never had to find *which* capital is
    # asked; a knowledge file about several countries or people is exactly that task.
    "user-grounded-multi": {"grounded_qa": 0.25, "grounded_qa_passage": 0.15, "grounded_qa_multi": 0.35,
                            "grounded_qa_nodoc": 0.10, "grounded_summary": 0.10, "grounded_lm": 0.05},
}
# How each source is split and cut: the grounded corpora read like the base ones.
KIND = {"grounded_qa": "qa", "grounded_qa_nodoc": "qa-nodoc", "grounded_qa_passage": "qa", "grounded_qa_cloze": "qa",
        "grounded_qa_multi": "qa",
        "grounded_summary": "summarization", "grounded_lm": "general"}
# The no_context grounded records rendered (a sample: their share of the mixture is small and rendering is slow).
NODOC_SAMPLE = 30000
PASSAGE_SAMPLE = 60000
MULTI_SAMPLE = 60000
CLOZE_SAMPLE = 60000


def encoder_for(tokenizer_path: str) -> "lm_data.Encoder":
    return lm_data.Encoder(tokenizer_path)


def pad_target(target: List[int], B: int, eos: int) -> List[int]:
    n = len(target)
    return target + [eos] * ((-n) % B)


def split_at(ids: List[int], marker: int) -> Optional[Example]:
    """(prompt through the first marker token, rest)."""
    try:
        i = ids.index(marker)
    except ValueError:
        return None
    return ids[: i + 1], ids[i + 1:]


def lm_split(ids: List[int], rng: np.random.Generator, B: int) -> Optional[Example]:
    """<s> text </s> → prompt <s> + r tokens, target the rest (at least one token besides </s>)."""
    if len(ids) < 3:
        return None
    r = int(rng.integers(0, B))
    r = min(r, len(ids) - 3)
    return ids[: 1 + r], ids[1 + r:]


def examples_from_tokenized(part: dict, source: str, enc, rng: np.random.Generator, B: int) -> List[Example]:
    toks, offs = part["tokens"], part["offsets"]
    out: List[Example] = []
    ans = enc.tok.token_id(templates.ROLES["answer"])
    summ = enc.tok.token_id(templates.ROLES["summary"])
    kind = KIND.get(source, source)
    for i in range(len(offs) - 1):
        ids = toks[offs[i]:offs[i + 1]].astype(np.int64).tolist()
        if kind in ("general", "facts"):
            ex = lm_split(ids, rng, B)
        elif kind == "summarization":
            ex = split_at(ids, summ)
        else:
            ex = split_at(ids, ans)
        if ex and ex[1]:
            out.append(ex)
    return out


def qa_examples(build_dir: str, enc, split: str, no_context: bool, kinds: Optional[set] = None) -> List[Example]:
    """Document QA records rendered with (or, for no_context, without) their document; closed-book records skipped."""
    out: List[Example] = []
    for r in lm_data.read_jsonl(os.path.join(build_dir, "qa", f"{split}.jsonl")):
        if r.get("closed_book") or (kinds and r["kind"] not in kinds):
            continue
        f = {"document": r["document"], "question": r["question"], "answer": r["answer"]}
        out.append((enc.render("qa", "no_context" if no_context else "prompt", f), enc.render("qa", "target", f)))
    return out


def answer_passage(document: str, answer: str, rng: np.random.Generator) -> str:
    """The line of `document` that holds `answer` (a table row with the table's header line), half of the time with
    its neighbour above or below; the whole document when no line holds it."""
    lines = [x for x in document.split("\n") if x.strip()]
    hits = [i for i, x in enumerate(lines) if answer in x]
    if not hits:
        return document
    i = hits[0]
    if i > 0 and lines[0].lstrip().startswith("|"):
        return "\n".join([lines[0], lines[i]])
    if rng.random() < 0.5:
        # One line; a line of prose is cut to its first sentence (which names the subject) and the answer's sentence.
        sents = re.split(r"(?<=[.!?])\s+", lines[i])
        j = next((k for k, x in enumerate(sents) if answer in x), 0)
        return " ".join(sents[:1] + sents[j:j + 1]) if j > 0 else lines[i]
    lo, hi = (max(0, i - 1), i + 1) if rng.random() < 0.5 else (i, min(len(lines), i + 2))
    return "\n".join(lines[lo:hi])


def grounded_qa_sample(build_dir: str, enc, split: str, rng: np.random.Generator, n: int, passages: bool) -> List[Example]:
    """A seeded sample of n grounded QA records, rendered without their documents (passages False: the no_context
    variant) or with each document cut to the passage that holds the answer."""
    recs = lm_data.source_records(build_dir, "grounded_qa", split)
    out: List[Example] = []
    for i in sorted(rng.permutation(len(recs))[:n].tolist()):
        r = recs[i]
        f = {"question": r["question"], "answer": r["answer"]}
        if passages:
            f["document"] = answer_passage(r["document"], r["answer"], rng)
        out.append((enc.render("qa", "prompt" if passages else "no_context", f), enc.render("qa", "target", f)))
    return out


def one_line(s: str) -> str:
    """White space collapsed, as Concert hands text to the diffusion models (src/worker/diffusionText.ts modelText)."""
    return " ".join(s.split())


def entity_name(entity: str) -> str:
    """"the Granite Theatre in Glenmoor" → "Granite Theatre" (how documents name it); a country stays as it is."""
    return re.sub(r"^the ", "", entity).split(" in ")[0]


def multi_entity_records(recs: List[dict], rng: np.random.Generator, n: int, fits: Callable[[dict], bool]) -> List[dict]:
    """n of `recs` (grounded QA) with the answer's passage among 1–3 passages about other entities of the same kind
    (distractors never contain the answer), in random order, joined on one line as the collaboration joins retrieved
    passages. A distractor is kept only while `fits` the record; a record that no distractor fits is left out.
    Each record: document, question, answer and `entities` (the asked one first)."""

    def named_passage(rec) -> str:
        # The passage must name its entity (a list line "Founded: 1881" could belong to any of them): else the document.
        cut = one_line(answer_passage(rec["document"], rec["answer"], rng))
        return cut if entity_name(rec["entity"]) in cut else one_line(rec["document"])

    # Only documents that name their entity: a list of "Place: …, Opened: …" lines is about whichever entity was asked.
    recs = [r for r in recs if entity_name(r["entity"]) in r["document"]]
    by_kind: Dict[str, List[int]] = {}
    for i, r in enumerate(recs):
        by_kind.setdefault(r["kind"], []).append(i)
    out: List[dict] = []
    for i in sorted(rng.permutation(len(recs))[:n].tolist()):
        r = recs[i]
        same = by_kind[r["kind"]]
        parts, entities = [named_passage(r)], [r["entity"]]
        best: Optional[dict] = None
        want = int(rng.integers(1, 4))
        for _ in range(2 * want + 2):
            if len(parts) > want:
                break
            d = recs[same[int(rng.integers(0, len(same)))]]
            if d["entity"] == r["entity"] or r["answer"] in d["document"]:
                continue
            cand = parts + [named_passage(d)]
            order = rng.permutation(len(cand))
            f = {"document": " ".join(cand[k] for k in order), "question": r["question"], "answer": r["answer"],
                 "entities": entities + [d["entity"]]}
            if fits(f):
                parts, entities, best = cand, f["entities"], f
        if best is not None:
            out.append(best)
    return out


def grounded_qa_multi_sample(build_dir: str, enc, split: str, rng: np.random.Generator, n: int, L: int, B: int) -> List[Example]:
    """multi_entity_records of the split's grounded QA, rendered; prompt + padded target fit in L tokens."""
    recs = lm_data.source_records(build_dir, "grounded_qa", split)

    def render(f: dict) -> Example:
        return enc.render("qa", "prompt", f), enc.render("qa", "target", f)

    def fits(f: dict) -> bool:
        prompt, target = render(f)
        return len(prompt) + len(pad_target(target, B, 0)) <= L

    return [render(f) for f in multi_entity_records(recs, rng, n, fits)]


def cloze_sample(build_dir: str, enc, split: str, rng: np.random.Generator, n: int) -> List[Example]:
    """n cloze QA examples (tools/data/cloze.py) over the split's prose records."""
    texts = [r["text"] for r in lm_data.source_records(build_dir, "grounded_lm", split)]
    return [(enc.render("qa", "prompt", f), enc.render("qa", "target", f)) for f in cloze.cloze_records(texts, rng, n)]


def load_examples(build_dir: str, enc, sources: List[str], split: str, seed: int, B: int, log=print,
                  L: int = 128) -> Dict[str, List[Example]]:
    """Each source's examples; L (the window) bounds how many passages grounded_qa_multi joins."""
    rng = np.random.default_rng([seed, 7])
    ex: Dict[str, List[Example]] = {}
    for s in sources:
        if s == "qa-nodoc":
            ex[s] = qa_examples(build_dir, enc, split, no_context=True)
        elif s == "grounded_qa_nodoc":
            ex[s] = grounded_qa_sample(build_dir, enc, split, np.random.default_rng([seed, 11]), NODOC_SAMPLE, passages=False)
        elif s == "grounded_qa_passage":
            ex[s] = grounded_qa_sample(build_dir, enc, split, np.random.default_rng([seed, 17]), PASSAGE_SAMPLE, passages=True)
        elif s == "grounded_qa_multi":
            ex[s] = grounded_qa_multi_sample(build_dir, enc, split, np.random.default_rng([seed, 23]), MULTI_SAMPLE, L, B)
        elif s == "grounded_qa_cloze":
            ex[s] = cloze_sample(build_dir, enc, split, np.random.default_rng([seed, 19]), CLOZE_SAMPLE)
        elif s == "qa" and "qa-nodoc" in sources:
            ex[s] = qa_examples(build_dir, enc, split, no_context=False)  # user model: every document record
        else:
            # Grounded records are never filtered, so their seed only names the cache (train_causal_lm.py's).
            seed_tok = 20261207 if s in KIND else 20261129
            part = lm_data.tokenized(build_dir, enc, s, split, seed=seed_tok, log=log)
            ex[s] = examples_from_tokenized(part, s, enc, rng, B) if part is not None else []
        log(f"{split} {s}: {len(ex[s])} examples")
    return ex


def fit(ex: Example, L: int, B: int, eos: int, source: str) -> Optional[Example]:
    """Makes prompt + padded target fit in L tokens: lm targets are cut (whole blocks kept), summary documents are cut
    from their end (the <|summary|> marker kept), anything else that does not fit is dropped."""
    prompt, target = ex
    padded = pad_target(target, B, eos)
    if len(prompt) + len(padded) <= L:
        return prompt, padded
    kind = KIND.get(source, source)
    if kind in ("general", "facts"):
        room = (L - len(prompt)) // B * B
        return (prompt, target[:room]) if room >= B else None
    if kind == "summarization":
        cut = len(prompt) + len(padded) - L
        if len(prompt) - cut < 8:
            return None
        return prompt[: len(prompt) - 1 - cut] + prompt[-1:], padded
    return None


def pack(examples: List[Tuple[str, Example]], L: int, B: int, eos: int, pad: int):
    """Greedy packing into windows. Returns tokens [N, L] int64, block_starts [N, L//B] int64 (−1 = unused), and
    n_real per window."""
    wins, starts = [], []
    cur: List[int] = []
    cur_starts: List[int] = []

    def flush():
        if cur_starts:
            wins.append(cur + [pad] * (L - len(cur)))
            starts.append(cur_starts + [-1] * (L // B - len(cur_starts)))

    for source, ex in examples:
        f = fit(ex, L, B, eos, source)
        if f is None:
            continue
        prompt, padded = f
        if len(cur) + len(prompt) + len(padded) > L:
            flush()
            cur, cur_starts = [], []
        base = len(cur) + len(prompt)
        cur += prompt + padded
        cur_starts += [base + k * B for k in range(len(padded) // B)]
    flush()
    return np.array(wins, dtype=np.int64), np.array(starts, dtype=np.int64)


def mixture_stream(ex: Dict[str, List[Example]], mix: Dict[str, float], total_target_tokens: int, seed: int,
                   B: int) -> List[Tuple[str, Example]]:
    """A seeded shuffle of examples, each source repeated or subsampled to its share of target tokens."""
    rng = np.random.default_rng(seed)
    present = {s: w for s, w in mix.items() if ex.get(s)}
    z = sum(present.values())
    out: List[Tuple[str, Example]] = []
    for s in sorted(present):
        items = ex[s]
        have = sum(len(t) + (-len(t)) % B for _, t in items)
        reps = present[s] / z * total_target_tokens / max(1, have)
        idx = [np.arange(len(items))] * int(reps)
        frac = reps - int(reps)
        if frac > 0:
            idx.append(rng.permutation(len(items))[: int(round(frac * len(items)))])
        for i in (np.concatenate(idx) if idx else []):
            out.append((s, items[int(i)]))
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def build_windows(build_dir: str, enc, mix_name: str, split: str, L: int, B: int, target_tokens: int, seed: int, log=print):
    """mix_name: a key of MIXES."""
    mix = MIXES[mix_name]
    ex = load_examples(build_dir, enc, list(mix), split, seed, B, log=log, L=L)
    stream = mixture_stream(ex, mix, target_tokens, seed, B)
    toks, starts = pack(stream, L, B, enc.eos, enc.pad)
    info = {"mix": mix, "examples_by_source": {s: len(v) for s, v in ex.items()}, "windows": int(len(toks)),
            "blocks": int((starts >= 0).sum()), "target_tokens": int((starts >= 0).sum()) * B,
            "window_fill": round(float((toks != enc.pad).mean()), 3)}
    return toks, starts, info


def synthetic_windows(n: int, L: int, B: int, vocab: int, seed: int):
    """A toy corpus (for tests and --synthetic smoke runs): <s> x <sep> → x </s>, the target copies the prompt."""
    rng = np.random.default_rng(seed)
    exs = []
    for _ in range(n):
        k = int(rng.integers(3, 10))
        a = rng.integers(16, vocab, size=k).tolist()
        exs.append(("qa", ([2] + a + [4], a + [3])))
    return pack(exs, L, B, eos=3, pad=0)

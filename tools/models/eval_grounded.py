#!/usr/bin/env python3
"""Held-out evaluation of grounding (issue #16) on data/build/grounded/<split>.jsonl (tools/data/build_grounded.py).

    /usr/bin/python3 tools/models/pack_to_ckpt.py models/concert-lm-small data/build/ckpt/lm-pack/final.pt
    /usr/bin/python3 tools/models/eval_grounded.py --ckpt bundled=data/build/ckpt/lm-pack/final.pt \\
        --ckpt new=data/build/ckpt/lm-grounded/final.pt --out data/build/eval/grounded.json

Measures, per checkpoint, on the `heldout` split (held-out facts with document styles and/or question wordings never
trained; `--split test` = held-out facts, trained wordings):
  * knowledge conflict: documents that swap a country's capital; exact match (EM) with the document's city and the
    share that repeats the memorised capital, for regular decoding and CAD;
  * consistent documents: the same capital questions on documents that agree with the fact table (the control), and
    all fact kinds (capital, continent, language, currency, and for made-up institutions: year, person, place,
    quantity, date), broken down by new style / new wording;
  * summaries of held-out documents (general prose: Austen, fortunes, GCIDE, WordNet, hand-written everyday
    paragraphs; technical: Debian, man pages): support = share of the summary's content words found in the document,
    words, sentence-ness (>= 6 words, capital first letter, final . ! or ?), and the share of summaries that are both
    a sentence and >= 70% supported;
  * non-word rate: generated words that occur neither in the training text's dictionary (grounded/train.jsonl)
    nor in the document.

Decoding variants (the engine's CAD, src/engine/cad.ts, reproduced here exactly for greedy decoding: logits
(1+α)·l(y|c,x) − α·l(y|x); plausibility β keeps tokens with l(y|c,x) − max l(·|c,x) ≥ log β, the others get −∞;
stop at any special token): regular (α = 0); CAD α = 1, β = 0; CAD α = 1, β = 0.1 (the `ask` default); for
summaries greedy regular, greedy CAD α = 0.5 β = 0.1, and the `summarize` default (α = 0.5, β = 0.1, top-p 0.9,
temperature 1) with Python's sampler (same distribution as the engine, not the same random numbers).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
import unicodedata
from collections import defaultdict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))
import lm_data  # noqa: E402
from causal_lm import load_model  # noqa: E402
from grounded import content_words, support  # noqa: E402

PROSE = {"austen", "fortunes", "gcide-quote", "gcide-def", "wordnet-gloss", "everyday"}


def norm(s: str) -> str:
    """bench/cad-eval.ts' norm: lower case, punctuation to spaces, articles dropped, spaces collapsed."""
    s = re.sub(r"[^\w\s]", " ", s.lower())
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return re.sub(r"\s+", " ", s).strip()


class Spans:
    """Extractive answers as src/engine/spans.ts + documentSpanSources (src/worker/cadJob.ts) do them: the output is
    one span of whole words of one line of the document (each line encoded after a space)."""

    def __init__(self, enc, document: str, stop_ids):
        toks, bound, self.pieces = [], [], []
        for line in re.split(r"\r?\n", document):
            if not line.strip():
                continue
            ids = enc.tok.encode_plain(" " + line.strip())
            pieces = [enc.decode([t]) if i == 0 else enc.decode([ids[i - 1], t])[len(enc.decode([ids[i - 1]])):]
                      for i, t in enumerate(ids)]
            word = lambda ch: ch == "\ufffd" or ch.isalnum() or ch == "_" or unicodedata.category(ch).startswith("M")
            b = [1] + [int(bool(pieces[i]) and bool(pieces[i - 1]) and (not word(pieces[i][0]) or not word(pieces[i - 1][-1])))
                       for i in range(1, len(ids))] + [1]
            toks += ids + [-1]
            bound += b
            self.pieces += pieces + [""]
        self.tokens, self.boundary, self.stops = toks, bound, stop_ids
        pc = self.pieces
        space_before_word = lambda p: pc[p].isspace() and p + 1 < len(pc) and pc[p + 1][:1].isalnum()
        self.pos = [p for p, t in enumerate(toks) if t >= 0 and bound[p] and (any(ch.isalnum() for ch in pc[p]) or space_before_word(p))]
        self.generated = 0

    def mask(self, z: torch.Tensor) -> torch.Tensor:
        keep = {self.tokens[p] for p in self.pos if self.tokens[p] >= 0}
        if self.generated and any(self.boundary[p] for p in self.pos):
            keep |= set(self.stops)
        m = torch.full_like(z, -math.inf)
        m[torch.tensor(sorted(keep))] = 0
        return z + m

    def advance(self, t: int):
        self.pos = [p + 1 for p in self.pos if self.tokens[p] == t]
        self.generated += 1


@torch.no_grad()
def decode(model, with_ctx, without_ctx, alpha, beta, max_new, stop_ids, sample=None, seed=0, spans=None):
    """Greedy (sample=None) or nucleus sampling (sample=(temperature, top_p)) with CAD over two KV caches; `spans`
    (a Spans) makes the answer extractive, with β relative to the best token it allows (as src/engine/cad.ts)."""
    T = model.cfg.max_positions
    rows = [with_ctx] if alpha == 0 and not (sample and beta > 0) else [with_ctx, without_ctx]
    states = [{"ids": torch.tensor([ids[-T:]]), "past": model.empty_past(1), "pos": 0} for ids in rows]
    gen = torch.Generator().manual_seed(seed)
    out = []
    log_beta = math.log(beta) if beta > 0 else None
    for _ in range(max_new):
        lg = []
        for st in states:
            t = st["ids"].shape[1]
            if st["pos"] + t > T:
                return out
            mask = torch.ones(1, st["pos"] + t, dtype=torch.long)
            pos = torch.arange(st["pos"], st["pos"] + t)[None]
            l, st["past"] = model(st["ids"], mask, pos, st["past"])
            st["pos"] += t
            lg.append(l[0, -1].float())
        c = lg[0]
        z = c if len(lg) == 1 else (1 + alpha) * c - alpha * lg[1]
        if spans is not None:
            z, c = spans.mask(z), spans.mask(c)
        if log_beta is not None:
            z = torch.where(c - c.max() >= log_beta, z, torch.full_like(z, -math.inf))
        if sample is None:
            nxt = int(z.argmax())
        else:
            temp, top_p = sample
            p = torch.softmax(z / temp, -1)
            ps, idx = torch.sort(p, descending=True)
            keep = torch.cumsum(ps, 0) - ps < top_p
            ps = ps * keep
            nxt = int(idx[torch.multinomial(ps / ps.sum(), 1, generator=gen)])
        if nxt in stop_ids:
            break
        out.append(nxt)
        if spans is not None:
            spans.advance(nxt)
        for st in states:
            st["ids"] = torch.tensor([[nxt]])
    return out


def dictionary(train_path: str) -> set:
    words = set()
    with open(train_path, encoding="utf-8") as f:
        for line in f:
            words.update(w.lower() for w in re.findall(r"[^\W\d_]+", line))
    return words


def non_words(text: str, doc: str, vocab: set) -> tuple[int, int]:
    ws = [w.lower() for w in re.findall(r"[^\W\d_]+", text) if len(w) >= 2]
    dw = {w.lower() for w in re.findall(r"[^\W\d_]+", doc)}
    return sum(1 for w in ws if w not in vocab and w not in dw), len(ws)


def is_sentence(s: str) -> bool:
    s = s.strip()
    return len(s.split()) >= 6 and bool(re.match(r"^[\"'(]?[A-Z0-9]", s)) and s.endswith((".", "!", "?", '."', ".'"))


def pick(rows, n, key=lambda r: True, by=None):
    """The first n matching rows (the files are hash-ordered); with `by`, round-robin over its values (stratified)."""
    out = [r for r in rows if key(r)]
    if by is not None:
        groups = defaultdict(list)
        for r in out:
            groups[by(r)].append(r)
        out, i = [], 0
        while any(i < len(g) for g in groups.values()):
            out += [g[i] for _, g in sorted(groups.items()) if i < len(g)]
            i += 1
    return out[:n] if n else out


QA_VARIANTS = {"regular": (0.0, 0.0, False), "cad_a1": (1.0, 0.0, False), "cad_a1_b0.1": (1.0, 0.1, False),
               # extractive answers (the `ask` default since #16): regular and the default CAD, quoting the document
               "regular_x": (0.0, 0.0, True), "cad_a1_b0.1_x": (1.0, 0.1, True)}
SUM_VARIANTS = {"regular_greedy": (0.0, 0.0, None), "cad_a0.5_b0.1_greedy": (0.5, 0.1, None),
                "summarize_default": (0.5, 0.1, (1.0, 0.9))}


def eval_ckpt(name, path, recs, enc, vocab, a, log=print):
    model, ck = load_model(path)
    model.eval()
    stop = {enc.tok.token_id(t) for t in lm_data.templates.SPECIAL_TOKENS}
    T = model.cfg.max_positions
    res = {"checkpoint": os.path.relpath(os.path.abspath(path), ROOT), "qa": {}, "summary": {}, "samples": {}}

    qa = [r for r in recs if r["task"] == "qa"]
    groups = {
        "conflict": pick(qa, a.n_qa, lambda r: r["contradicts"], lambda r: (r["new_style"], r["new_wording"])),
        "consistent_capital": pick(qa, a.n_qa, lambda r: not r["contradicts"] and r["kind"] == "capital" and not r.get("fictional")),
        "consistent_country_other": pick(qa, a.n_qa, lambda r: not r["contradicts"] and r["kind"] != "capital" and not r.get("fictional") and "code" in r),
        "institutions": pick(qa, a.n_qa, lambda r: r["kind"] in ("year", "person", "place", "quantity", "date")),
    }
    for g, rows in groups.items():
        stats = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        samples = []
        for i, r in enumerate(rows):
            f = {"document": r["document"], "question": r["question"]}
            w = enc.render_fit("qa", "prompt", f, T - 12)
            wo = enc.render("qa", "no_context", f)
            sub = ("new_style+new_wording" if r["new_style"] and r["new_wording"] else "new_style" if r["new_style"]
                   else "new_wording" if r["new_wording"] else "trained_families")
            gens = {}
            for v, (al, be, x) in QA_VARIANTS.items():
                txt = enc.decode(decode(model, w, wo, al, be, 12, stop, spans=Spans(enc, r["document"], stop) if x else None)).strip()
                gens[v] = txt
                em = norm(txt) == norm(r["answer"])
                mem = r.get("memorised_answer") is not None and r["contradicts"] and norm(txt) == norm(r["memorised_answer"])
                nw, nt = non_words(txt, r["document"], vocab)
                for k in ("all", sub, "kind:" + r["kind"], "style:" + r["style"]):
                    s = stats[v][k]
                    s[0] += em
                    s[1] += 1
                stats[v]["_memorised"][0] += mem
                stats[v]["_memorised"][1] += 1
                stats[v]["_nonwords"][0] += nw
                stats[v]["_nonwords"][1] += nt
            if i < 4:
                samples.append({"document": r["document"][:160], "question": r["question"], "answer": r["answer"],
                                "memorised": r.get("memorised_answer"), **gens})
        res["qa"][g] = {v: {k: {"em": round(x[0] / x[1], 4), "n": x[1]} for k, x in sorted(st.items()) if k != "_nonwords"}
                        for v, st in stats.items()}
        for v, st in stats.items():  # generated words in neither the training dictionary nor the document
            res["qa"][g][v]["_nonwords"] = {"rate": round(st["_nonwords"][0] / max(1, st["_nonwords"][1]), 4), "n": st["_nonwords"][1]}
        res["samples"][g] = samples
        log(f"[{name}] qa {g} (n={len(rows)}): " + ", ".join(
            f"{v} EM {st['all'][0] / max(1, st['all'][1]):.3f}" + (f" mem {st['_memorised'][0] / max(1, st['_memorised'][1]):.3f}" if g == "conflict" else "")
            for v, st in stats.items()))

    sm = [r for r in recs if r["task"] == "summary"]
    fam = lambda r: r["family"]
    sgroups = {"prose": pick(sm, a.n_sum, lambda r: r["source"] in PROSE and r["family"] != "everyday", fam),
               "everyday": pick(sm, a.n_sum, lambda r: r["family"] == "everyday"),
               "technical": pick(sm, a.n_sum, lambda r: r["source"] not in PROSE, fam)}
    for g, rows in sgroups.items():
        agg = {v: defaultdict(float) for v in SUM_VARIANTS}
        samples = []
        for i, r in enumerate(rows):
            w = enc.render_fit("summary", "prompt", {"document": r["document"]}, T - 40)
            wo = enc.render("summary", "no_context", {"document": ""})
            gens = {}
            for v, (al, be, samp) in SUM_VARIANTS.items():
                txt = enc.decode(decode(model, w, wo, al, be, 40, stop, samp, seed=1000 + i)).strip()
                gens[v] = txt
                sup = support(txt, r["document"]) if content_words(txt) else 0.0
                sent = is_sentence(txt)
                nw, nt = non_words(txt, r["document"], vocab)
                d = agg[v]
                d["n"] += 1
                d["support"] += sup
                d["words"] += len(txt.split())
                d["sentence"] += sent
                d["grounded_sentence"] += sent and sup >= 0.7
                d["nonword"] += nw
                d["tokens"] += nt
            if i < 4:
                samples.append({"family": r["family"], "document": r["document"][:200], "reference": r["summary"], **gens})
        res["summary"][g] = {v: {"n": int(d["n"]), "support": round(d["support"] / max(1, d["n"]), 4),
                                 "mean_words": round(d["words"] / max(1, d["n"]), 1),
                                 "sentence": round(d["sentence"] / max(1, d["n"]), 4),
                                 "grounded_sentence": round(d["grounded_sentence"] / max(1, d["n"]), 4),
                                 "nonword_rate": round(d["nonword"] / max(1, d["tokens"]), 4)} for v, d in agg.items()}
        res["samples"]["summary_" + g] = samples
        log(f"[{name}] summaries {g} (n={len(rows)}): " + ", ".join(
            f"{v} support {x['support']:.2f} sent {x['sentence']:.2f} ok {x['grounded_sentence']:.2f} nonword {x['nonword_rate']:.3f}"
            for v, x in res["summary"][g].items()))
    return res


def table(results: dict) -> str:
    pct = lambda x: "—" if x is None else f"{x:.1%}"

    def em(r, g, v, k="all"):
        x = r["qa"].get(g, {}).get(v, {}).get(k)
        return None if x is None else x["em"]

    def nw(r, g, v):
        x = r["qa"].get(g, {}).get(v, {}).get("_nonwords")
        return None if x is None else x.get("rate", x.get("em"))

    lines = ["| checkpoint | conflict EM: regular | CAD α=1 | CAD α=1 β=0.1 | conflict: memorised regular / CAD β=0.1 "
             "| consistent capital EM: regular / CAD β=0.1 | other country facts: regular / CAD β=0.1 "
             "| institutions: regular / CAD β=0.1 | QA non-words: regular / CAD β=0.1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {pct(em(r, 'conflict', 'regular'))} | {pct(em(r, 'conflict', 'cad_a1'))} | {pct(em(r, 'conflict', 'cad_a1_b0.1'))} "
                     f"| {pct(em(r, 'conflict', 'regular', '_memorised'))} / {pct(em(r, 'conflict', 'cad_a1_b0.1', '_memorised'))} "
                     f"| {pct(em(r, 'consistent_capital', 'regular'))} / {pct(em(r, 'consistent_capital', 'cad_a1_b0.1'))} "
                     f"| {pct(em(r, 'consistent_country_other', 'regular'))} / {pct(em(r, 'consistent_country_other', 'cad_a1_b0.1'))} "
                     f"| {pct(em(r, 'institutions', 'regular'))} / {pct(em(r, 'institutions', 'cad_a1_b0.1'))} "
                     f"| {pct(nw(r, 'conflict', 'regular'))} / {pct(nw(r, 'conflict', 'cad_a1_b0.1'))} |")
    ratio = lambda a, b: "—" if a is None or not b else f"{a / b:.2f}×"
    lines += ["", "Extractive answers (the `ask` default since #16): regular / CAD α=1 β=0.1, both quoting the document.", "",
              "| checkpoint | conflict EM | CAD ÷ regular | conflict: memorised | consistent capital EM | other country facts "
              "| institutions | QA non-words |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if em(r, "conflict", "regular_x") is None:
            continue
        two = lambda g, k="all": f"{pct(em(r, g, 'regular_x', k))} / {pct(em(r, g, 'cad_a1_b0.1_x', k))}"
        lines.append(f"| {name} | {two('conflict')} | {ratio(em(r, 'conflict', 'cad_a1_b0.1_x'), em(r, 'conflict', 'regular_x'))} "
                     f"| {two('conflict', '_memorised')} | {two('consistent_capital')} | {two('consistent_country_other')} "
                     f"| {two('institutions')} | {pct(nw(r, 'conflict', 'regular_x'))} / {pct(nw(r, 'conflict', 'cad_a1_b0.1_x'))} |")
    lines += ["", "| checkpoint | group | subset | regular | CAD α=1 | CAD α=1 β=0.1 | extractive: regular / CAD α=1 β=0.1 |",
              "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for g in ("conflict", "consistent_capital", "institutions"):
            for sub in ("trained_families", "new_style", "new_wording", "new_style+new_wording"):
                if em(r, g, "regular", sub) is None:
                    continue
                n = r["qa"][g]["regular"][sub]["n"]
                lines.append(f"| {name} | {g} | {sub} (n={n}) | {pct(em(r, g, 'regular', sub))} | {pct(em(r, g, 'cad_a1', sub))} "
                             f"| {pct(em(r, g, 'cad_a1_b0.1', sub))} | {pct(em(r, g, 'regular_x', sub))} / {pct(em(r, g, 'cad_a1_b0.1_x', sub))} |")
    lines += ["", "| checkpoint | documents | decoding | support | sentence (≥ 6 words) | grounded sentence (≥ 70% supported) | mean words | non-word rate |",
              "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for g, vs in r["summary"].items():
            for v, x in vs.items():
                lines.append(f"| {name} | {g} (n={x['n']}) | {v} | {x['support']:.1%} | {x['sentence']:.1%} | {x['grounded_sentence']:.1%} "
                             f"| {x['mean_words']} | {x['nonword_rate']:.1%} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", action="append", default=[], help="NAME=PATH (repeatable)")
    ap.add_argument("--tables", nargs="+", default=None, help="only print the tables of earlier --out files")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models", "concert-lm-small", "tokenizer.json"))
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--n-qa", type=int, default=200, help="records per QA group (0 = all)")
    ap.add_argument("--n-sum", type=int, default=60, help="documents per summary group (0 = all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    if a.tables:
        merged = {}
        for p in a.tables:
            merged.update(json.load(open(p, encoding="utf-8"))["results"])
        print(table(merged))
        return
    if not a.ckpt:
        ap.error("--ckpt NAME=PATH is required")
    torch.set_num_threads(a.threads)
    t0 = time.time()
    enc = lm_data.Encoder(a.tokenizer)
    gdir = os.path.join(a.build_dir, "grounded")
    recs = lm_data.read_jsonl(os.path.join(gdir, f"{a.split}.jsonl"))
    vocab = dictionary(os.path.join(gdir, "train.jsonl"))
    results = {}
    for spec in a.ckpt:
        name, _, path = spec.partition("=")
        results[name] = eval_ckpt(name, path, recs, enc, vocab, a)
    md = table(results)
    print(md)
    out = {"split": a.split, "data_manifest_sha256": lm_data.sha_file(os.path.join(gdir, "MANIFEST.json")),
           "tokenizer_sha256": enc.sha, "n_qa": a.n_qa, "n_sum": a.n_sum, "results": results, "table_md": md,
           "seconds": round(time.time() - t0, 1)}
    if a.out:
        os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1, ensure_ascii=False)
        print(f"wrote {a.out} in {out['seconds']} s")


if __name__ == "__main__":
    main()

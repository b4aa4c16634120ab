#!/usr/bin/env python3
"""Evaluate the causal LM on the TEST split (never used for training or tuning) and write eval.json for the card.

    /usr/bin/python3 tools/models/eval_causal_lm.py --ckpt data/build/ckpt/lm/final.pt --out data/build/export/concert-lm-small/eval.json

Measures:
  * held-out perplexity per source (each test example from position 0, as at inference, truncated to the context);
  * one-line summaries of held-out Debian descriptions (greedy), ROUGE-1/ROUGE-L F1 against the synopsis + samples;
  * closed-book accuracy on memorised capitals (the QA test countries, whose closed-book questions were never
    trained, and all countries of the fact table);
  * QA with documents: consistent documents, fictional countries (reading only), and documents that CONTRADICT the
    memorised capital: how often greedy decoding repeats the memorised capital vs follows the document, and the same
    with context-aware decoding (alpha = 1, greedy) as a preview of what CAD changes.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import lm_data  # noqa: E402
from causal_lm import CausalLM, greedy_generate, load_model  # noqa: E402


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.strip().rstrip(".").strip()).lower()


@torch.no_grad()
def perplexity(model: CausalLM, seqs, device, batch=16) -> dict:
    T = model.cfg.max_positions
    tot, cnt = 0.0, 0
    seqs = [s[: T + 1] for s in seqs if len(s) >= 2]
    for i in range(0, len(seqs), batch):
        chunk = seqs[i:i + batch]
        L = max(len(s) for s in chunk)
        x = torch.zeros(len(chunk), L, dtype=torch.long)
        y = torch.full((len(chunk), L - 1), -100, dtype=torch.long)
        for j, s in enumerate(chunk):
            x[j, :len(s)] = torch.as_tensor(s)
            y[j, :len(s) - 1] = torch.as_tensor(s[1:])
        logits, _ = model(x[:, :-1].to(device))
        tot += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1).to(device), ignore_index=-100, reduction="sum").item()
        cnt += int((y != -100).sum())
    return {"tokens": cnt, "nll": round(tot / max(cnt, 1), 4), "perplexity": round(math.exp(tot / max(cnt, 1)), 2), "examples": len(seqs)}


@torch.no_grad()
def cad_generate(model: CausalLM, with_ctx, without_ctx, max_new, eos_id, alpha=1.0, device=None):
    """Greedy context-aware decoding: argmax of (1+alpha)*logits(y|doc,x) - alpha*logits(y|x), two KV caches."""
    device = device or next(model.parameters()).device
    T = model.cfg.max_positions
    states = []
    for ids in (with_ctx, without_ctx):
        states.append({"ids": torch.tensor([ids[-T:]], device=device), "past": model.empty_past(1, device), "pos": 0})
    out = []
    for _ in range(max_new):
        logits = []
        for st in states:
            t = st["ids"].shape[1]
            if st["pos"] + t > T:
                return out
            mask = torch.ones(1, st["pos"] + t, dtype=torch.long, device=device)
            pos = torch.arange(st["pos"], st["pos"] + t, device=device)[None]
            lg, st["past"] = model(st["ids"], mask, pos, st["past"])
            st["pos"] += t
            logits.append(lg[0, -1])
        nxt = int(((1 + alpha) * logits[0] - alpha * logits[1]).argmax())
        if nxt == eos_id:
            break
        out.append(nxt)
        for st in states:
            st["ids"] = torch.tensor([[nxt]], device=device)
    return out


def lcs(a, b) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge(pred: str, ref: str) -> tuple:
    p, r = re.findall(r"\w+", pred.lower()), re.findall(r"\w+", ref.lower())
    if not p or not r:
        return 0.0, 0.0
    from collections import Counter
    ov = sum((Counter(p) & Counter(r)).values())
    f1 = 0.0 if ov == 0 else 2 * ov / (len(p) + len(r))
    l = lcs(p, r)
    fl = 0.0 if l == 0 else 2 * l / (len(p) + len(r))
    return f1, fl


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="a few examples of each measure")
    ap.add_argument("--n-summaries", type=int, default=200)
    ap.add_argument("--n-ppl", type=int, default=1000)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device))
    build = a.build_dir
    if a.smoke and not os.path.exists(os.path.join(build, "tokenizer", "tokenizer.json")) and os.path.exists(os.path.join(build, "smoke")):
        build = os.path.join(build, "smoke")
    n_sum, n_ppl, n_qa = (8, 40, 40) if a.smoke else (a.n_summaries, a.n_ppl, None)
    t0 = time.time()
    model, ck = load_model(a.ckpt)
    model = model.to(dev).eval()
    enc = lm_data.Encoder(os.path.join(build, "tokenizer", "tokenizer.json"))
    rng = np.random.default_rng(0)
    res = {"split": "test", "checkpoint": os.path.relpath(os.path.abspath(a.ckpt), ROOT)}

    # ---- perplexity
    ppl = {}
    for src in ("general", "summarization", "qa"):
        recs = lm_data.source_records(build, src, "test")
        idx = sorted(rng.permutation(len(recs))[:n_ppl]) if len(recs) > n_ppl else range(len(recs))
        ppl[src] = perplexity(model, [lm_data.encode_record(enc, src, recs[i]) for i in idx], dev)
    tot_tok = sum(v["tokens"] for v in ppl.values())
    ppl["all"] = {"tokens": tot_tok, "nll": round(sum(v["nll"] * v["tokens"] for v in ppl.values()) / tot_tok, 4)}
    ppl["all"]["perplexity"] = round(math.exp(ppl["all"]["nll"]), 2)
    res["perplexity"] = ppl
    print("perplexity", json.dumps(ppl), flush=True)

    # ---- summaries
    recs = lm_data.source_records(build, "summarization", "test")
    idx = sorted(np.random.default_rng(1).permutation(len(recs))[:n_sum])
    r1s, rls, samples, lens = [], [], [], []
    for k, i in enumerate(idx):
        r = recs[i]
        prompt = enc.render_fit("summary", "prompt", {"document": r["document"]}, model.cfg.max_positions - 40)
        out = greedy_generate(model, prompt, 40, enc.eos, dev)
        pred = enc.decode(out).strip()
        f1, fl = rouge(pred, r["summary"])
        r1s.append(f1)
        rls.append(fl)
        lens.append(len(pred.split()))
        if k < 10:
            samples.append({"package": r["package"], "document": r["document"][:220] + ("…" if len(r["document"]) > 220 else ""),
                            "reference": r["summary"], "generated": pred})
    res["summaries"] = {"n": len(idx), "rouge1_f1": round(float(np.mean(r1s)), 4), "rougeL_f1": round(float(np.mean(rls)), 4),
                        "mean_words": round(float(np.mean(lens)), 1), "exact_match": 0, "samples": samples}
    print("summaries", res["summaries"]["rouge1_f1"], res["summaries"]["rougeL_f1"], flush=True)

    # ---- QA
    qa = lm_data.source_records(build, "qa", "test")
    if n_qa:
        qa = qa[:n_qa]

    def answer(r, no_context=False, cad=False):
        f = {"document": r.get("document") or "", "question": r["question"]}
        budget = model.cfg.max_positions - 12
        if cad:
            out = cad_generate(model, enc.render_fit("qa", "prompt", f, budget), enc.render_fit("qa", "no_context", f, budget), 12, enc.eos, 1.0, dev)
        else:
            out = greedy_generate(model, enc.render_fit("qa", "no_context" if no_context else "prompt", f, budget), 12, enc.eos, dev)
        return enc.decode(out).strip()

    def rate(rows, key):
        return round(sum(1 for x in rows if x[key]) / len(rows), 4) if rows else None

    closed = [r for r in qa if r.get("closed_book")]
    cb = [{"country": r["country"], "answer": r["answer"], "generated": (g := answer(r, no_context=True)), "correct": norm(g) == norm(r["answer"])} for r in closed]
    table = lm_data.read_jsonl(os.path.join(build, "facts", "table.jsonl"))
    if a.smoke:
        table = table[:20]
    import templates
    allcb = []
    for f in table:
        q = templates.QUESTIONS["capital"].format(country=f["country"])
        g = answer({"question": q}, no_context=True)
        allcb.append({"correct": norm(g) == norm(f["capital"])})
    res["closed_book"] = {"test_countries": {"n": len(cb), "accuracy": rate(cb, "correct"), "samples": cb[:8]},
                          "all_fact_table_countries": {"n": len(allcb), "accuracy": rate(allcb, "correct")}}
    print("closed book", res["closed_book"]["test_countries"]["accuracy"], res["closed_book"]["all_fact_table_countries"]["accuracy"], flush=True)

    def doc_eval(rows, with_cad=False):
        out = []
        for r in rows:
            g = answer(r)
            item = {"country": r["country"], "kind": r["kind"], "answer": r["answer"], "memorised": r.get("memorised_answer"),
                    "generated": g, "follows_document": norm(g) == norm(r["answer"]),
                    "repeats_memorised": r.get("memorised_answer") is not None and norm(g) == norm(r["memorised_answer"])}
            if with_cad:
                gc = answer(r, cad=True)
                item.update({"generated_cad": gc, "cad_follows_document": norm(gc) == norm(r["answer"]),
                             "cad_repeats_memorised": norm(gc) == norm(r["memorised_answer"])})
            out.append(item)
        return out

    consistent = doc_eval([r for r in qa if not r["contradicts"] and not r["fictional"] and not r.get("closed_book")])
    fictional = doc_eval([r for r in qa if r["fictional"]])
    contra = doc_eval([r for r in qa if r["contradicts"]], with_cad=True)
    res["qa_documents"] = {
        "consistent": {"n": len(consistent), "accuracy": rate(consistent, "follows_document"),
                       "by_kind": {k: rate([x for x in consistent if x["kind"] == k], "follows_document") for k in sorted({x["kind"] for x in consistent})}},
        "fictional": {"n": len(fictional), "accuracy": rate(fictional, "follows_document"),
                      "by_kind": {k: rate([x for x in fictional if x["kind"] == k], "follows_document") for k in sorted({x["kind"] for x in fictional})}},
        "contradicting": {"n": len(contra), "greedy_repeats_memorised": rate(contra, "repeats_memorised"),
                          "greedy_follows_document": rate(contra, "follows_document"),
                          "cad_alpha1_repeats_memorised": rate(contra, "cad_repeats_memorised"),
                          "cad_alpha1_follows_document": rate(contra, "cad_follows_document"),
                          "samples": contra[:8]},
    }
    print("qa", json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "samples"} for k, v in res["qa_documents"].items()}), flush=True)
    res["seconds"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
    print(f"wrote {a.out} in {res['seconds']}s")


if __name__ == "__main__":
    main()

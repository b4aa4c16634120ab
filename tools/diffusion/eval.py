#!/usr/bin/env python3
"""Evaluation of a trained simplex diffusion LM for its model card (test split only).

    /usr/bin/python3 tools/diffusion/eval.py --ckpt data/build/ckpt/ssd-core/final.pt --out <work>/eval.json \
        [--clf data/build/ckpt/clf-sentiment/final.pt]            # guidance sanity check (core)
    /usr/bin/python3 tools/diffusion/eval.py --ckpt data/build/ckpt/ssd-user/final.pt --out <work>/eval.json \
        [--core data/build/ckpt/ssd-core/final.pt]                # collaboration preview (user)

Measures: held-out block loss at several t (with and without self-conditioning), samples (continuations of held-out
prompts at a few T with top-p 0.5), document-QA exact match under several conditions, for the user model a preview of
the SSD-2 collaboration (core without the document + user with and without it), and for the core the guidance sanity
check: continuations guided towards positive / negative with the sentiment classifier, judged by an external lexicon
scorer (VADER, npm vader-sentiment, run with node from data/build/vader; AFINN is not used as judge because the
classifier's training labels come from it).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(ROOT, "tools", "models"))
from data import build_windows, encoder_for, multi_entity_records  # noqa: E402
from decode import BatchTerm, TorchDiffusion, classifier_guidance_batch, decode_batch  # noqa: E402
from model import load_model  # noqa: E402
from objective import VAL_T_FRACS, loss_on  # noqa: E402

import lm_data  # noqa: E402

# Held-out grounded answers are read over 4 blocks (8 tokens, as bench/collab-eval.ts decodes) and count when they
# contain the answer.
GROUNDED_BLOCKS = 4
SAMPLE_SOURCES = ("austen", "fortunes", "wordnet-example", "debian")
# Sampling of the samples and the guidance check: the default top-p of Concert's diffusion settings (0.5: on these
# small models wider nuclei pick sub-word junk; see docs/diffusion.md), and about 12 new tokens.
SAMPLE_TOP_P = 0.5
SAMPLE_TOKENS = 12
GUIDE_PROMPTS = ["The city", "The food", "My day", "The weather", "Her letter", "The movie", "The house", "His answer",
                 "This book", "The party", "Our trip", "The news", "The music", "The garden", "The meeting", "The road"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


@torch.no_grad()
def heldout_losses(model, toks, starts, seed: int, self_cond: bool) -> dict:
    model.eval()
    out = {}
    for frac in VAL_T_FRACS + (0.95,):
        g = torch.Generator().manual_seed(seed)
        tot, cnt = 0.0, 0
        for i in range(0, len(toks), 8):
            s = starts[i:i + 8]
            nb = max(1, int((s >= 0).sum(1).max()))
            lo, n = loss_on(model, torch.from_numpy(toks[i:i + 8]), torch.from_numpy(np.ascontiguousarray(s[:, :nb])), g,
                            "cpu", t_fixed=max(1, round(frac * model.cfg.t_train)), self_cond_prob=1.0 if self_cond else 0.0,
                            coin=0.0 if self_cond else None)
            tot += lo.item() * n
            cnt += n
        out[f"t{frac:.2f}"] = round(tot / max(1, cnt), 4)
    return out


def answer_ok(generated: str, answer: str) -> bool:
    g, a = generated.strip().lower().rstrip("."), answer.strip().lower()
    return g == a or g.startswith(a + " ") or g.startswith(a + ",")


def qa_records(build_dir: str, n: int, seed: int):
    recs = lm_data.read_jsonl(os.path.join(build_dir, "qa", "test.jsonl"))
    rng = np.random.default_rng(seed)
    groups = {"consistent": [r for r in recs if not r["fictional"] and not r["contradicts"] and not r["closed_book"]],
              "fictional": [r for r in recs if r["fictional"]],
              "contradicting": [r for r in recs if r["contradicts"]]}
    return {k: [v[i] for i in sorted(rng.permutation(len(v))[:n])] for k, v in groups.items()}


def collab_terms(core, user, enc, lam: float, alpha: float = 1.0):
    """The SSD-2 all-reduce as decoding terms for a batch of QA records: core without the document (1 − λ), user with
    it (λ(1 + α)) and without it (−λα)."""
    def terms_fn(recs):
        doc = [enc.render("qa", "prompt", {"document": r["document"], "question": r["question"]}) for r in recs]
        nod = [enc.render("qa", "no_context", {"question": r["question"]}) for r in recs]
        return [BatchTerm(core, nod, 1 - lam), BatchTerm(user, doc, lam * (1 + alpha)), BatchTerm(user, nod, -lam * alpha)]
    return terms_fn


def grounded_qa_records(build_dir: str, n: int, seed: int, multi_fits=None):
    """Held-out grounded QA (tools/data/build_grounded.py heldout split: document styles and question wordings never
    trained, facts never asked), by group; {} without the grounded build. With `multi_fits` (a record → whether its
    prompt fits the model), also `grounded_multi`: consistent records whose passage sits among passages about other
    entities of the same kind (tools/diffusion/data.py multi_entity_records), as a knowledge file about several
    countries or people hands them to the user model."""
    path = os.path.join(build_dir, "grounded", "heldout.jsonl")
    if not os.path.exists(path):
        return {}
    recs = [r for r in lm_data.read_jsonl(path) if r["task"] == "qa"]
    rng = np.random.default_rng([seed, 13])
    groups = {"grounded_conflict": [r for r in recs if r["contradicts"]],
              "grounded_institution": [r for r in recs if r["fictional"]],
              "grounded_country": [r for r in recs if not r["fictional"] and not r["contradicts"]]}
    out = {k: [v[i] for i in sorted(rng.permutation(len(v))[:n])] for k, v in groups.items() if v}
    if multi_fits is not None:
        multi = multi_entity_records([r for r in recs if not r["contradicts"]], np.random.default_rng([seed, 29]), 4 * n, multi_fits)
        if multi:
            out["grounded_multi"] = multi[:n]
    return out


def qa_eval(lm, enc, recs, with_doc: bool, steps: int, seed: int, terms_fn=None, blocks: int = 1, contains: bool = False) -> dict:
    """Greedy answers of `blocks` blocks; correct when the answer is the start of the output (or, with contains,
    anywhere in it: longer outputs that go on after the answer)."""
    prompts = [enc.render("qa", "prompt" if with_doc else "no_context", {"document": r["document"], "question": r["question"]})
               for r in recs]
    terms = terms_fn(recs) if terms_fn else [BatchTerm(lm, prompts, 1.0)]
    outs = []
    for i in range(0, len(recs), 64):
        part = [BatchTerm(t.lm, t.contexts[i:i + 64], t.weight) for t in terms]
        outs += decode_batch(part, blocks, steps, 0.0, seed + i, enc.eos)
    gen = [enc.decode(o) for o in outs]
    ok = [r["answer"].lower() in g.lower() if contains else answer_ok(g, r["answer"]) for g, r in zip(gen, recs)]
    res = {"n": len(recs), "accuracy": round(float(np.mean(ok)) if ok else 0.0, 4),
           "samples": [{"question": r["question"], "answer": r["answer"], "generated": g} for r, g in list(zip(recs, gen))[:4]]}
    if recs and "memorised_answer" in recs[0]:
        mem = [answer_ok(g, r["memorised_answer"]) for g, r in zip(gen, recs) if r.get("memorised_answer") and r["contradicts"]]
        if mem:
            res["repeats_memorised"] = round(float(np.mean(mem)), 4)
    return res


def sample_prompts(build_dir: str, enc, n: int, seed: int):
    recs = lm_data.read_jsonl(os.path.join(build_dir, "general", "test.jsonl"))
    rng = np.random.default_rng(seed)
    out = []
    for src in SAMPLE_SOURCES:
        cand = [r for r in recs if r.get("source") == src and len(r["text"].split()) >= 10]
        for i in rng.permutation(len(cand))[: max(1, n // len(SAMPLE_SOURCES))]:
            words = cand[i]["text"].split()
            out.append({"source": src, "prompt": " ".join(words[:6]), "reference": " ".join(words[6:20])})
    return out[:n]


def vader_scores(texts):
    """VADER compound scores via node (data/build/vader, npm vader-sentiment); None if unavailable."""
    pkg = os.path.join(ROOT, "data", "build", "vader", "package")
    if not os.path.isdir(pkg):
        return None, None
    script = ("const v=require(process.argv[1]);let s='';process.stdin.on('data',d=>s+=d);process.stdin.on('end',()=>{"
              "const t=JSON.parse(s);process.stdout.write(JSON.stringify(t.map(x=>v.SentimentIntensityAnalyzer.polarity_scores(x).compound)))})")
    r = subprocess.run(["node", "-e", script, pkg], input=json.dumps(texts), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None, None
    with open(os.path.join(pkg, "package.json"), encoding="utf-8") as f:
        ver = json.load(f)["version"]
    return json.loads(r.stdout), f"vader-sentiment {ver} (npm, Apache-2.0; compound > 0.05 positive, < -0.05 negative)"


def guidance_check(lm, enc, clf_path: str, steps: int, seed: int, lambdas, samples_per_prompt: int = 4) -> dict:
    sys.path.append(os.path.join(ROOT, "tools", "models"))
    from classifier import load_model as load_clf

    clf, cck = load_clf(clf_path)
    clf.eval()
    labels = ["negative", "positive"]
    prompts = [[enc.bos] + enc.tok.encode_plain(" " + p) for p in GUIDE_PROMPTS]
    ctxs = [p for p in prompts for _ in range(samples_per_prompt)]
    texts = {}
    runs = []
    for lam in lambdas:
        for label in ([1, 0] if lam > 0 else [None]):
            g = classifier_guidance_batch(clf, label, lam) if lam > 0 else None
            outs = decode_batch([BatchTerm(lm, ctxs, 1.0)], -(-SAMPLE_TOKENS // lm.block_size), steps, SAMPLE_TOP_P, seed, enc.eos, guidance=g)
            key = f"lambda{lam:g}-{labels[label] if label is not None else 'none'}"
            texts[key] = [enc.decode(o) for o in outs]
            runs.append((key, lam, label))
    all_texts = [t for k in texts for t in texts[k]]
    comp, judge = vader_scores(all_texts)
    res = {"classifier": os.path.relpath(clf_path, ROOT), "classifier_test_accuracy": (cck.get("metrics") or {}).get("test", {}).get("accuracy"),
           "judge": judge or "unavailable", "steps": steps, "top_p": SAMPLE_TOP_P, "tokens": -(-SAMPLE_TOKENS // lm.block_size) * lm.block_size,
           "prompts": len(GUIDE_PROMPTS), "samples_per_prompt": samples_per_prompt, "conditions": []}
    i = 0
    for key, lam, label in runs:
        tx = texts[key]
        c = comp[i:i + len(tx)] if comp else None
        i += len(tx)
        with torch.no_grad():
            ids = [enc.tok.encode_plain(" " + t)[:32] or [enc.eos] for t in tx]
            L = max(len(x) for x in ids)
            arr = torch.full((len(ids), L), enc.pad, dtype=torch.long)
            for j, x in enumerate(ids):
                arr[j, :len(x)] = torch.tensor(x)
            from classifier import onehot_logits
            lp = torch.stack([clf(onehot_logits(arr[j:j + 1, :len(ids[j])], clf.cfg.vocab_size))[0] for j in range(len(ids))])
        entry = {"condition": key, "lambda": lam, "target": labels[label] if label is not None else None,
                 "classifier_positive_rate": round(float((lp.argmax(-1) == 1).float().mean()), 4),
                 "samples": tx[:3]}
        if c is not None:
            pos = float(np.mean([x > 0.05 for x in c]))
            neg = float(np.mean([x < -0.05 for x in c]))
            entry.update({"judge_positive_rate": round(pos, 4), "judge_negative_rate": round(neg, 4),
                          "judge_mean_compound": round(float(np.mean(c)), 4)})
            if label is not None:
                entry["judge_accuracy"] = round(pos if label == 1 else neg, 4)
        res["conditions"].append(entry)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--clf", default=None, help="sentiment classifier checkpoint (guidance check)")
    ap.add_argument("--core", default=None, help="core model checkpoint (collaboration preview, user model)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--smoke", action="store_true", help="few examples")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.time()
    model, ck = load_model(a.ckpt)
    model.eval()
    role = ck.get("role", "core")
    enc = encoder_for(os.path.join(os.path.dirname(os.path.abspath(a.ckpt)), "tokenizer.json"))
    cfg = model.cfg
    lm = TorchDiffusion(model, enc.pad)
    ev = {"role": role, "pack_config": {"block_size": cfg.block_size, "K": cfg.K, "t_train": cfg.t_train}}
    n_win = 16 if a.smoke else 64
    mix = (ck.get("args") or {}).get("mix") or role  # the mixture the model was trained on
    toks, starts, info = build_windows(a.build_dir, enc, mix, "test", cfg.max_positions, cfg.block_size,
                                       4000 if a.smoke else 30000, a.seed + 5, log=log)
    toks, starts = toks[:n_win], starts[:n_win]
    ev["heldout"] = {"split": "test", "mixture": mix, "windows": int(len(toks)), "blocks": int((starts >= 0).sum()),
                     "loss_by_t": heldout_losses(model, toks, starts, a.seed, False),
                     "loss_by_t_self_cond": heldout_losses(model, toks, starts, a.seed, True)}
    log(f"held-out losses {ev['heldout']}")
    n_q = 12 if a.smoke else 80
    qa = qa_records(a.build_dir, n_q, a.seed)
    steps_qa = 10 if a.smoke else 50
    ev["qa"] = {"steps": steps_qa, "projection": "greedy (top-p 0)"}
    for group, recs in qa.items():
        ev["qa"][f"{group}_with_document"] = qa_eval(lm, enc, recs, True, steps_qa, a.seed)
    ev["qa"]["consistent_closed_book"] = qa_eval(lm, enc, qa["consistent"], False, steps_qa, a.seed)
    ev["qa"]["fictional_closed_book"] = qa_eval(lm, enc, qa["fictional"], False, steps_qa, a.seed)
    log(f"qa {json.dumps({k: v.get('accuracy') for k, v in ev['qa'].items() if isinstance(v, dict)})}")
    def fits_with_answer(r) -> bool:
        prompt = enc.render("qa", "prompt", {"document": r["document"], "question": r["question"]})
        return len(prompt) + GROUNDED_BLOCKS * cfg.block_size <= cfg.max_positions

    grounded = grounded_qa_records(a.build_dir, 8 if a.smoke else 60, a.seed, fits_with_answer) if role == "user" else {}
    if grounded:
        ev["grounded_qa"] = {"split": "grounded heldout", "blocks": GROUNDED_BLOCKS, "metric": "contains the answer",
                             "steps": steps_qa, "projection": "greedy (top-p 0)"}
        for group, recs in grounded.items():
            ev["grounded_qa"][f"{group}_with_document"] = qa_eval(lm, enc, recs, True, steps_qa, a.seed, blocks=GROUNDED_BLOCKS, contains=True)
            ev["grounded_qa"][f"{group}_closed_book"] = qa_eval(lm, enc, recs, False, steps_qa, a.seed, blocks=GROUNDED_BLOCKS, contains=True)
        log(f"grounded qa {json.dumps({k: v.get('accuracy') for k, v in ev['grounded_qa'].items() if isinstance(v, dict)})}")
    if role == "user" and a.core and os.path.exists(a.core):
        core_model, _ = load_model(a.core)
        core = TorchDiffusion(core_model.eval(), enc.pad)
        collab = {"alpha": 1.0, "by_lambda": {}}
        for lam in ([0.0, 0.5] if a.smoke else [0.0, 0.3, 1.0]):
            terms_fn = collab_terms(core, lm, enc, lam)
            collab["by_lambda"][f"{lam:g}"] = {g: qa_eval(lm, enc, qa[g], True, steps_qa, a.seed, terms_fn)["accuracy"]
                                               for g in ("fictional", "consistent")}
        if grounded:
            collab["grounded_by_lambda"] = {}
            for lam in ([0.0, 0.3] if a.smoke else [0.0, 0.2, 0.3, 0.5]):
                terms_fn = collab_terms(core, lm, enc, lam)
                collab["grounded_by_lambda"][f"{lam:g}"] = {
                    g: qa_eval(lm, enc, recs, True, steps_qa, a.seed, terms_fn, blocks=GROUNDED_BLOCKS, contains=True)["accuracy"]
                    for g, recs in grounded.items()}
        ev["collaboration"] = collab
        log(f"collaboration {collab}")
    # samples
    Ts = [10] if a.smoke else [25, 50, 100]
    if role == "core":
        sp = sample_prompts(a.build_dir, enc, 4 if a.smoke else 8, a.seed)
        ctxs = [[enc.bos] + enc.tok.encode_plain(" " + p["prompt"]) for p in sp]
        nb = -(-SAMPLE_TOKENS // cfg.block_size)
        ev["samples"] = {"top_p": SAMPLE_TOP_P, "tokens": nb * cfg.block_size, "by_T": {}}
        for T in Ts:
            outs = decode_batch([BatchTerm(lm, ctxs, 1.0)], nb, T, SAMPLE_TOP_P, a.seed, enc.eos)
            ev["samples"]["by_T"][str(T)] = [{"prompt": p["prompt"], "source": p["source"], "continuation": enc.decode(o)}
                                             for p, o in zip(sp, outs)]
        log(f"samples {json.dumps(ev['samples'])[:1500]}")
        if a.clf and os.path.exists(a.clf):
            ev["guidance"] = guidance_check(lm, enc, a.clf, 10 if a.smoke else 40, a.seed,
                                            [0.0, 200.0] if a.smoke else [0.0, 200.0, 1000.0],
                                            1 if a.smoke else 3)
            log(f"guidance {json.dumps([{k: v for k, v in c.items() if k != 'samples'} for c in ev['guidance']['conditions']])}")
    else:
        recs = qa["fictional"][:6]
        ctxs = [enc.render("qa", "prompt", {"document": r["document"], "question": r["question"]}) for r in recs]
        ev["samples"] = {"top_p": SAMPLE_TOP_P, "by_T": {}}
        for T in Ts:
            outs = decode_batch([BatchTerm(lm, ctxs, 1.0)], 1, T, SAMPLE_TOP_P, a.seed, enc.eos)
            ev["samples"]["by_T"][str(T)] = [{"document": r["document"], "question": r["question"], "answer": r["answer"],
                                              "generated": enc.decode(o)} for r, o in zip(recs, outs)]
    ev["seconds"] = round(time.time() - t0, 1)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(ev, f, indent=1, ensure_ascii=False)
    log(f"wrote {a.out} ({ev['seconds']} s)")


if __name__ == "__main__":
    main()

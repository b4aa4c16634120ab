"""Builds the grounded data of issue #16 into data/build/grounded/ (see grounded.py for the design).

  /usr/bin/python3 tools/data/build_grounded.py            # ~1-2 min after tools/data/build.py has fetched data/raw
  /usr/bin/python3 tools/data/build_grounded.py --smoke    # small subset into data/build/smoke/grounded

Reads the raw sources that tools/data/build.py fetched (data/raw; `--fetch` fetches what is missing, including the
Debian `manpages` package used only here) and writes:
  grounded/{train,validation,test,heldout}.jsonl   {"task": "qa"|"summary"|"lm", ...}
  grounded/MANIFEST.json                           split design, counts by family, token-free sizes, sha256
The `qa` records render with templates.PROMPTS["qa"], `summary` with PROMPTS["summary"], `lm` with PROMPTS["lm"]
(the prompt formats are unchanged, so the runtime's prompts stay valid).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import corpora  # noqa: E402
import extract  # noqa: E402
import fetch  # noqa: E402
import grounded  # noqa: E402
import splits  # noqa: E402

MANPAGES = (("manpages", "6.03-2"), ("manpages-dev", "6.03-2"))  # Linux man-pages project (sections 1-8)
# General-text units kept as LM text, by source (a thinned general corpus: the grounded tasks are the focus)
LM_KEEP = {"austen": 0.5, "fortunes": 0.5, "gcide-quote": 0.5, "debian": 0.12, "wordnet-example": 0.2,
           "wordnet-gloss": 0.08, "gcide-def": 0.05, "man": 0.5}
SEED = 20261207


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def log(msg):
    print(f"[grounded {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--fetch", action="store_true", help="fetch missing sources (otherwise data/raw must exist)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--institutions", type=int, default=None)
    a = ap.parse_args(argv)
    t0 = time.time()
    out_dir = a.out or os.path.join(ROOT, "data", "build", *(("smoke",) if a.smoke else ()), "grounded")
    srcs = []
    if a.fetch:
        srcs = fetch.fetch_all()
    import glob
    man_roots = []
    for pkg, ver in MANPAGES:
        root = os.path.join(fetch.deb_dir(pkg), "usr", "share", "man")
        if not os.path.isdir(root):
            srcs.append(fetch.fetch_debian(pkg, ver))
        else:
            deb = glob.glob(os.path.join(fetch.RAW, "debs", f"{pkg}_{ver}_*.deb"))
            srcs.append({"kind": "debian", "name": pkg, "version": ver, "file": os.path.relpath(deb[0], ROOT) if deb else None,
                         "sha256": fetch.sha256_file(deb[0]) if deb else None})
        man_roots.append(root)

    import build  # reuse the main build's source loading (same parsers, same limits)
    units, descs = build.load_units(a.smoke)
    mans = [u for r in man_roots for u in grounded.man_units(r)]
    if a.smoke:
        mans = mans[:600]
    log(f"{len(units)} units, {len(descs)} Debian descriptions, {len(mans)} man paragraphs")
    deb_units = corpora.debian_units(descs)
    synopses = {d.document: d.synopsis for d in descs}

    cl = os.path.join(fetch.npm_dir("countries-list"), "package")
    cur = {k: v["name"] for k, v in json.load(open(os.path.join(cl, "currencies.min.json"), encoding="utf-8")).items()}
    facts = corpora.fact_table(extract.countries(cl), cur)
    fict = corpora.fictional_facts(60 if a.smoke else 300, facts)
    insts = grounded.institutions(a.institutions or (300 if a.smoke else 3000))

    qa = grounded.qa_records(facts, fict, insts)
    summ = grounded.summary_records(units + deb_units + mans + grounded.everyday_units(), synopses)
    # LM text: thinned general corpus (train split only), man paragraphs of train pages, and the fact statements
    import random
    rng = random.Random(SEED)
    lm = []
    for u in units + deb_units + mans:
        sp = splits.split_of("man", u.key.split(":")[1]) if u.source == "man" else corpora.unit_split(u)
        if u.source == "man" and u.key.startswith("man7:"):
            continue  # a held-out summary family: never trained, not even as LM text
        if sp == "train" and rng.random() < LM_KEEP.get(u.source, 0.1):
            lm.append({"split": "train", "task": "lm", "source": u.source, "text": u.text})
        elif sp == "validation" and rng.random() < LM_KEEP.get(u.source, 0.1):
            lm.append({"split": "validation", "task": "lm", "source": u.source, "text": u.text})
    for st in corpora.fact_statements(facts):
        lm.append({"split": "train", "task": "lm", "source": "facts", "text": st["text"]})

    rows = {s: [] for s in grounded.GROUNDED_SPLITS}
    for r in qa + summ + lm:
        rows[r["split"]].append(r)
    for s in rows:
        rows[s].sort(key=lambda r: splits.stable_order_key(json.dumps(r, sort_keys=True, ensure_ascii=False)))
        write_jsonl(os.path.join(out_dir, f"{s}.jsonl"), rows[s])

    def qa_counts(rs):
        c = Counter()
        for r in rs:
            if r["task"] != "qa":
                continue
            c["all"] += 1
            c["kind:" + r["kind"]] += 1
            c["style:" + r["style"]] += 1
            c["qfamily:" + r["qfamily"]] += 1
            c["contradicts"] += r["contradicts"]
            c["new_style"] += r["new_style"]
            c["new_wording"] += r["new_wording"]
            c["new_style_and_wording"] += r["new_style"] and r["new_wording"]
        return dict(sorted(c.items()))

    counts = {s: {"qa": qa_counts(v),
                  "summary": dict(sorted(Counter(f"{r['family']}/{r['target_kind']}" for r in v if r["task"] == "summary").items())),
                  "lm": dict(sorted(Counter(r["source"] for r in v if r["task"] == "lm").items())),
                  "words": dict(Counter()),
                  } for s, v in rows.items()}
    for s, v in rows.items():
        w = Counter()
        for r in v:
            w[r["task"]] += sum(len(str(r.get(k) or "").split()) for k in ("document", "question", "answer", "summary", "text"))
        counts[s]["words"] = dict(w)
    manifest = {
        "command": "/usr/bin/python3 tools/data/build_grounded.py" + (" --smoke" if a.smoke else ""),
        "design": {
            "qa_fact_split": "countries: corpora.qa_split (train/validation/test by country code, held-out = test, "
                             "only unambiguous capitals held out); institutions: splits.split_of('grounded-entity', "
                             f"entity, {grounded.ENTITY_RATIOS})",
            "heldout_styles": sorted(grounded.HELDOUT_STYLES),
            "heldout_style_variants": "the last variant of every style with 3 variants",
            "heldout_question_families": sorted(grounded.HELDOUT_QFAMILIES),
            "trained_question_families": [f for f in grounded.QUESTION_FAMILIES if f not in grounded.HELDOUT_QFAMILIES],
            "test": "held-out facts, trained styles and wordings",
            "heldout": "held-out facts with a held-out style and/or wording (fields new_style, new_wording)",
            "counterfactual": "capital swapped for another real capital of the same continent (corpora.substitute_capital); "
                              "train: one style variant in 3 per train country; test/heldout: every variant",
            "summary_split": "general corpus split of the document (corpora.unit_split; man pages keyed by page), "
                             "test -> heldout; held-out families never trained: " + ", ".join(sorted(grounded.HELDOUT_SUMMARY_FAMILIES)),
            "summary_targets": "lead sentence compressed | most central sentence compressed | Debian synopsis "
                               "(only if >= 70% of its content words are in the document; about 1/3 of Debian docs)",
            "lm_keep": LM_KEEP,
        },
        "sources": srcs,
        "counts": counts,
        "outputs": {f"{s}.jsonl": build.file_stats(os.path.join(out_dir, f"{s}.jsonl")) for s in rows},
        "seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(out_dir, "MANIFEST.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    log(f"done in {time.time() - t0:.0f}s -> {os.path.relpath(out_dir, ROOT)}: " +
        ", ".join(f"{s} {len(v)}" for s, v in rows.items()))


if __name__ == "__main__":
    main()

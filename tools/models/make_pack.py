#!/usr/bin/env python3
"""Writes MODEL_CARD.md and the pack spec for a trained model, then the pack itself (via tools/pack.py).

    /usr/bin/python3 tools/models/make_pack.py lm --ckpt data/build/ckpt/lm/final.pt \
        --onnx data/build/export/concert-lm-small/model.onnx --eval data/build/export/concert-lm-small/eval.json \
        --work data/build/export/concert-lm-small --out models/concert-lm-small
    /usr/bin/python3 tools/models/make_pack.py classifier --ckpt data/build/ckpt/clf-sentiment/final.pt \
        --onnx data/build/export/concert-clf-sentiment/classifier.onnx --eval data/build/export/concert-clf-sentiment/eval.json \
        --work data/build/export/concert-clf-sentiment --out models/concert-clf-sentiment

The tokenizer shipped is the snapshot written next to the checkpoint by the training script (the exact file the model
was trained with); its sha256 must match the one recorded in the checkpoint.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "data"))
import pack  # noqa: E402
import templates  # noqa: E402
from lm_data import sha_file  # noqa: E402
from onnx_util import onnx_signature  # noqa: E402

WEIGHTS_LICENCE = "MIT"
LICENCE_NOTE = ("The weights are released under the project's licence (MIT). They were trained on the sources listed "
                "under Data / Training data; the GCIDE compilation is GPL-3+ (its 1913 Webster text is public domain) and the Debian package "
                "descriptions carry their packages' own DFSG-free licences. Whether weights trained on such text are a "
                "derived work is a licence decision for the project (see tools/data/SOURCES.md); no training text is "
                "shipped in the pack.")


def git_commit() -> str:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        c = r.stdout.strip()
        if r.returncode != 0 or not c:
            return "uncommitted"
        d = subprocess.run(["git", "status", "--porcelain", "--", "tools"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return c + ("+dirty" if d.stdout.strip() else "")
    except Exception:
        return "unknown"


def data_manifest(build_dir: str) -> dict:
    p = os.path.join(build_dir, "MANIFEST.json")
    if not os.path.exists(p):
        return {}
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def sources_table(man: dict) -> str:
    rows = ["| source | version | licence |", "|---|---|---|"]
    for s in man.get("sources", []):
        rows.append(f"| {s['name']} ({s['kind']}) | {s.get('version', '')} | {s.get('licence', '')} |")
    return "\n".join(rows)


def io_table(sig: dict) -> str:
    rows = ["| | name | dtype | shape |", "|---|---|---|---|"]
    for side in ("inputs", "outputs"):
        vs = sig[side]
        if len(vs) > 6:
            vs = vs[:4] + [{"name": "…", "dtype": "", "shape": []}] + vs[-1:]
        for v in vs:
            rows.append(f"| {side[:-1]} | `{v['name']}` | {v['dtype']} | [{', '.join(str(d) for d in v['shape'])}] |")
    return "\n".join(rows)


def template_text(name: str) -> str:
    p = templates.PROMPTS[name]
    fields = {k: "{" + k + "}" for k in ("text", "document", "summary", "question", "answer")}
    out = [f"prompt `{templates.render_text(p['prompt'], fields)}`"]
    if "no_context" in p:
        out.append(f"no-context variant `{templates.render_text(p['no_context'], fields)}`")
    if p["target"]:
        out.append(f"target `{templates.render_text(p['target'], fields)}`")
    return "; ".join(out)


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def check_tokenizer(ck: dict, ckpt: str, recorded_sha: str) -> str:
    tok = os.path.join(os.path.dirname(os.path.abspath(ckpt)), "tokenizer.json")
    if not os.path.exists(tok):
        raise SystemExit(f"{tok} is missing (the training script writes it)")
    sha = sha_file(tok)
    if recorded_sha and sha != recorded_sha:
        raise SystemExit(f"{tok} has sha256 {sha} but the model was trained with {recorded_sha}")
    return tok


def phase1(ck):
    """The general-phase checkpoint a task-phase model was initialised from (None for a single-phase model)."""
    p = (ck.get("args") or {}).get("init_from")
    if not p:
        return None
    path = p if os.path.isabs(p) else os.path.join(ROOT, p)
    return torch.load(path, map_location="cpu") if os.path.exists(path) else {"command": f"(checkpoint {p} not found)"}


_CHAINS: dict = {}


def init_chain(ck) -> list:
    """The checkpoints `ck` was initialised from, nearest first, up to a missing one or a pack's weights
    (tools/models/pack_to_ckpt.py writes those with a `source` and no training record). Loaded once per checkpoint:
    the card asks for the chain several times and each link is a torch.load."""
    if id(ck) not in _CHAINS:
        _CHAINS[id(ck)] = (ck, load_chain(ck))  # ck kept alive so that its id is not reused
    return _CHAINS[id(ck)][1]


def load_chain(ck) -> list:
    out, cur = [], ck
    for _ in range(8):
        nxt = phase1(cur)
        if nxt is None:
            break
        out.append(nxt)
        if "source" in nxt or "history" not in nxt:
            break
        cur = nxt
    return out


def is_grounding_finetune(ck) -> bool:
    """A fine-tune of a shipped pack's weights (issue #16's grounding runs) rather than the two phases of train_all.sh."""
    chain = init_chain(ck)
    return bool(chain) and "source" in chain[-1]


def stage_line(i: int, c) -> str:
    a = c.get("args") or {}
    val = c["history"][-1]["val"] if c.get("history") else {}
    return (f"{i}. `{c.get('command')}` — seed {c.get('seed')}, mixture {json.dumps(c.get('data', {}).get('mix', {}))}, prompt-token "
            f"loss weight {c.get('data', {}).get('prompt_loss_weight', 1)}, peak LR {a.get('lr')}, {a.get('warmup')} warm-up steps, "
            f"cosine to {a.get('min_lr_frac')}× over {a.get('max_minutes')} min; batch {a.get('batch')} × {a.get('seq_len')}; "
            f"{c.get('steps'):,} steps, {c.get('tokens_seen'):,} tokens, {c.get('train_minutes')} min on {c.get('hardware')}, "
            f"finished {c.get('finished')}. Validation loss at its end (nats/token): {json.dumps(val)}.")


def grounding_training(ck, args) -> list:
    """Training section of a grounding fine-tune: each stage from the pack's weights on, then the earlier card's story."""
    chain = init_chain(ck)
    base = chain[-1]
    stages = [c for c in reversed(chain[:-1])] + [ck]
    L = [f"Fine-tuned for grounding (issue #16) from the weights of the earlier `{os.path.basename(base.get('source', 'pack'))}` pack "
         f"(converted by `tools/models/pack_to_ckpt.py`, identical logits), in {len(stages)} stage(s) of "
         "`tools/models/train_causal_lm.py` on the grounded data of `tools/data/build_grounded.py` (each resumes the weights "
         "of the one before, with a fresh optimizer; `--prompt-loss-weight` weights the loss on documents and questions):\n"]
    L += [stage_line(i + 1, c) for i, c in enumerate(stages)]
    total_tok = sum(c.get("tokens_seen", 0) for c in stages)
    total_min = round(sum(c.get("train_minutes", 0) for c in stages), 1)
    L.append(f"\n- Fine-tune total: {total_tok:,} tokens in {total_min} min on {ck.get('hardware')} (shared with other jobs at times); "
             "gradient clipping 1.0. Reproducible on CPU in about that time with the commands above (seeds fixed).\n")
    if args.previous_card and os.path.exists(args.previous_card):
        prev = open(args.previous_card, encoding="utf-8").read()
        start = prev.find("## Training data")
        end = prev.find("## Export")
        if start >= 0 and end > start:
            body = prev[start:end].replace("\n## ", "\n### ").replace("## Training data", "### Training data", 1)
            L.append("### Before the grounding fine-tune (from the earlier pack's card)\n")
            L.append(body.rstrip() + "\n")
    return L


def single_phase(ck, a, last_val):
    return [
        f"- Command: `{ck.get('command')}` (via `tools/models/train_all.sh`).",
        f"- Seed {ck.get('seed')}; AdamW (betas 0.9/0.95, weight decay {a.get('weight_decay')}), peak LR {a.get('lr')}, "
        f"{a.get('warmup')} warm-up steps then cosine decay to {a.get('min_lr_frac')}× over the {a.get('max_minutes')}-minute "
        f"budget; batch {a.get('batch')} × {a.get('seq_len')} tokens; gradient clipping 1.0.",
        f"- {ck.get('steps'):,} steps, {ck.get('tokens_seen'):,} training tokens, {ck.get('train_minutes')} min of training "
        f"on {ck.get('hardware')}; finished {ck.get('finished')}.",
        f"- Validation loss at the end (nats/token): {json.dumps(last_val)}.\n",
    ]


def lm_card(ck, ev, sig, man, onnx_bytes, args) -> str:
    c = ck["config"]
    hist = ck.get("history", [])
    last_val = hist[-1]["val"] if hist else {}
    d = ck.get("data", {})
    p = ev["perplexity"]
    s = ev["summaries"]
    cb = ev["closed_book"]
    qa = ev["qa_documents"]
    con = qa["contradicting"]
    L = []
    L.append("# concert-lm-small\n")
    L.append("A small decoder-only transformer trained by the Concert project on 2 CPU cores, shipped for context-aware "
             "decoding (CAD) of one-line summaries and short-document question answering. It is a toy-scale model: it "
             "knows the prompt formats below, a table of country capitals, and the style of Debian package descriptions; "
             "it is not a general-purpose assistant.\n")
    L.append("## Architecture and size\n")
    L.append(f"- Decoder-only transformer, pre-LayerNorm, {c['n_layers']} layers, d_model {c['d_model']}, {c['n_heads']} heads "
             f"(head_dim {c['d_model'] // c['n_heads']}), GELU MLP {c['d_ff']}, learned absolute positions (max context "
             f"{c['max_positions']} tokens, looked up from `position_ids`), tied input/output embeddings, vocabulary {c['vocab_size']}.")
    L.append(f"- {ck['num_params']:,} parameters; `model.onnx` is {onnx_bytes:,} bytes (float32, opset 14, no external data).")
    L.append("- One graph for the first step (past length 0) and for cached steps, with the optimum decoder I/O convention; "
             "left padding works through `attention_mask` + `position_ids` (`cumsum(mask) - 1`, padding positions 1), "
             "so two rows (with and without context) run as one batch for CAD.\n")
    L.append(io_table(sig) + "\n")
    L.append("## Tokenizer and prompt formats\n")
    L.append(f"Shared Concert tokenizer (`tokenizer.json`, BPE with byte fallback, {c['vocab_size']} entries, sha256 "
             f"`{d.get('tokenizer_sha256', '')}`). Templates (tools/data/templates.py, version {templates.TEMPLATES_VERSION}); "
             "control tokens are encoded by id, document/user text with the plain encoder:\n")
    for name in ("lm", "summary", "qa"):
        L.append(f"- `{name}`: {template_text(name)}")
    L.append("")
    grounding = is_grounding_finetune(ck)
    L.append("## Training data\n")
    if grounding:
        L.append("The grounding fine-tune reads `data/build/grounded/` (`/usr/bin/python3 tools/data/build_grounded.py --fetch`; "
                 "design and held-out families in tools/data/README.md, \"Grounded data\"): extractive QA over synthetic "
                 "documents in several styles about real countries (consistent and counterfactual) and made-up institutions, "
                 "grounded summaries of general prose and technical paragraphs, and plain LM text; whole template families, "
                 "document styles and facts are held out. The base corpora of the earlier pack (its sources are listed below) feed it too.\n")
    if grounding:
        gman = data_manifest(os.path.join(args.build_dir, "grounded"))
        extra = [x for x in gman.get("sources", [])]
        if extra:
            L.append("Sources it adds to the base corpora (listed under \"Before the grounding fine-tune\"):\n")
            L.append("\n".join(["| source | version | licence |", "|---|---|---|"] + [
                f"| {x['name']} ({x['kind']}) | {x.get('version', '')} | {x.get('licence', 'the Debian package’s copyright file (free licences)')} |"
                for x in extra]) + "\n")
    if man.get("sources"):
        L.append(f"Built by `{man.get('command', '/usr/bin/python3 tools/data/build.py')}` (data/build/MANIFEST.json). "
                 "Sources and licences:\n")
        L.append(sources_table(man) + "\n")
    mix = d.get("mix", {})
    L.append(("Mixture of the last grounding stage" if grounding else
              "Mixture of the task phase (the general phase's is under Training)" if (ck.get("args") or {}).get("init_from")
              else "Training mixture") + " (share of training tokens; each source's train split, examples shuffled with a "
             "fixed seed and packed into windows):\n")
    L.append("| corpus | share | train tokens available |")
    L.append("|---|---|---|")
    for k, v in mix.items():
        L.append(f"| {k} | {v:.0%} | {d.get('train_tokens_by_source', {}).get(k, 0):,} |")
    L.append("")
    L.append(f"General-text units kept by source (probability): {json.dumps(d.get('general_source_keep', {}))}. "
             f"Contradicting-document QA records kept in training: {d.get('contradict_keep')} (documents that contradict "
             "memorised facts stay rare in training so that CAD has something to overcome). The validation split was used "
             "for the training curve only; the test split only for the numbers below.\n")
    L.append("## Training\n")
    a = ck.get("args", {})
    ph1 = phase1(ck)
    if grounding:
        L.extend(grounding_training(ck, args))
    elif ph1:
        a1 = ph1.get("args", {})
        L.append("Two phases, both with `tools/models/train_causal_lm.py` (driven by `tools/models/train_all.sh`):\n")
        L.append(f"1. **General phase** from scratch: `{ph1.get('command')}` — seed {ph1.get('seed')}, mixture "
                 f"{json.dumps(ph1.get('data', {}).get('mix', {}))}, AdamW (betas 0.9/0.95, weight decay {a1.get('weight_decay')}), "
                 f"peak LR {a1.get('lr')}, {a1.get('warmup')} warm-up steps, cosine to {a1.get('min_lr_frac')}× over "
                 f"{a1.get('max_minutes')} min; batch {a1.get('batch')} × {a1.get('seq_len')}; {ph1.get('steps'):,} steps, "
                 f"{ph1.get('tokens_seen'):,} tokens, {ph1.get('train_minutes')} min. Validation loss at its end: "
                 f"{json.dumps(ph1['history'][-1]['val'] if ph1.get('history') else {})}.")
        L.append(f"2. **Task phase** initialised from phase 1 (fresh optimizer): `{ck.get('command')}` — the mixture above, "
                 f"peak LR {a.get('lr')}, {a.get('warmup')} warm-up steps, cosine to {a.get('min_lr_frac')}× over {a.get('max_minutes')} min; "
                 f"{ck.get('steps'):,} steps, {ck.get('tokens_seen'):,} tokens, {ck.get('train_minutes')} min.\n")
        L.append(f"- Total: {ph1.get('tokens_seen', 0) + ck.get('tokens_seen', 0):,} training tokens in "
                 f"{round(ph1.get('train_minutes', 0) + ck.get('train_minutes', 0), 1)} min of training on {ck.get('hardware')} "
                 "(shared with other jobs during the run, so the token count is below the uncontended throughput); "
                 f"finished {ck.get('finished')}; gradient clipping 1.0 in both phases.")
        L.append(f"- Validation loss at the end (nats/token): {json.dumps(last_val)}.\n")
    else:
        L.extend(single_phase(ck, a, last_val))
    L.append("## Export\n")
    L.append(f"`/usr/bin/python3 tools/models/export_causal_lm.py --ckpt {os.path.relpath(args.ckpt, ROOT)} --out <work>/model.onnx "
             "--golden test/fixtures/golden/concert-lm-small` (torch.onnx.export, opset 14, dynamic axes; onnx.checker). "
             "ONNX Runtime parity against PyTorch (≤ 1e-4 max-abs, with and without past, batch 2 with left padding, and a "
             "cached step after padding) is checked by `test/worker/causal-lm-parity.test.ts` on the committed golden fixtures.\n")
    L.append("## Evaluation (test split)\n")
    L.append(f"Measured by `tools/models/eval_causal_lm.py` in {ev.get('seconds')} s." + (f" {args.eval_note}" if getattr(args, "eval_note", None) else "") + "\n")
    L.append("| held-out perplexity | examples | tokens | perplexity |")
    L.append("|---|---|---|---|")
    for k in ("general", "summarization", "qa"):
        L.append(f"| {k} | {p[k]['examples']} | {p[k]['tokens']:,} | {p[k]['perplexity']} |")
    L.append(f"| all | | {p['all']['tokens']:,} | {p['all']['perplexity']} |\n")
    L.append(f"**One-line summaries** of {s['n']} held-out Debian descriptions (greedy, `summary` template, no CAD): "
             f"ROUGE-1 F1 {s['rouge1_f1']:.3f}, ROUGE-L F1 {s['rougeL_f1']:.3f}, mean length {s['mean_words']} words. Samples:\n")
    for x in s["samples"][:6]:
        L.append(f"- `{x['package']}` — reference: “{x['reference']}” — generated: “{x['generated']}”")
    L.append("")
    L.append(f"**Closed-book facts** (greedy, `qa` no-context template): {pct(cb['test_countries']['accuracy'])} exact match on the "
             f"{cb['test_countries']['n']} held-out QA countries' capitals (their closed-book questions were never trained; the "
             f"facts were, as statements), {pct(cb['all_fact_table_countries']['accuracy'])} over all "
             f"{cb['all_fact_table_countries']['n']} countries of the fact table.\n")
    L.append(f"**QA with a document** (greedy): consistent documents {pct(qa['consistent']['accuracy'])} "
             f"(n={qa['consistent']['n']}; by question {json.dumps(qa['consistent']['by_kind'])}); fictional countries, "
             f"answerable only by reading, {pct(qa['fictional']['accuracy'])} (n={qa['fictional']['n']}).\n")
    L.append(f"**Documents that contradict a memorised capital** (n={con['n']}): regular greedy decoding repeats the memorised "
             f"capital {pct(con['greedy_repeats_memorised'])} of the time and follows the document {pct(con['greedy_follows_document'])}. "
             f"Preview of CAD (α = 1, greedy, contrast with the no-document prompt): repeats memorised "
             f"{pct(con['cad_alpha1_repeats_memorised'])}, follows the document {pct(con['cad_alpha1_follows_document'])}.\n")
    for x in con["samples"][:4]:
        L.append(f"- {x['country']}: document says “{x['answer']}”, memorised “{x['memorised']}” → greedy “{x['generated']}”, CAD “{x.get('generated_cad')}”")
    L.append("")
    if getattr(args, "grounded_eval", None):
        g = json.load(open(args.grounded_eval, encoding="utf-8"))
        L.append("## Evaluation on held-out families (grounding, issue #16)\n")
        L.append(f"`tools/models/eval_grounded.py` on `data/build/grounded/{g['split']}.jsonl` ({g['n_qa']} QA records per group, "
                 f"{g['n_sum']} documents per summary group; greedy unless stated; {g['seconds']} s). Document styles and question "
                 "wordings never trained, facts never asked about in training; `bundled` is the pack before this fine-tune. "
                 "Extractive = the answer is one span of the document's words (the `ask` default, src/engine/spans.ts). "
                 "docs/cad.md explains the columns.\n")
        L.append(g["table_md"] + "\n")
    L.append("## Known limits\n")
    L.append(f"- Context is {c['max_positions']} tokens (prompt + generation); longer documents must be truncated by the caller.")
    L.append(("- Trained for under three hours in all on a CPU. It reads rather than recalls: fine-tuned to copy from the "
              "document, it has forgotten most memorised capitals (closed-book accuracy above). Its own summaries copy and "
              "condense the document but garble a word at times, hence the extractive default (whole sentences quoted); "
              "answers can stop early or run long (a span of the document, not always the exact phrase); " if grounding else
              "- Trained for under an hour on a CPU: summaries are short, generic and often inaccurate; ") +
             "facts beyond the capital table are unreliable; it does not follow free-form instructions.")
    L.append("- English only; the vocabulary and style lean on dictionary definitions, Debian descriptions, Austen and fortune cookies.")
    L.append("- Not evaluated for safety or bias; do not use for decisions.\n")
    L.append("## Licence\n")
    L.append(LICENCE_NOTE + "\n")
    L.append("## Reproduce\n")
    L.append("```\n/usr/bin/python3 tools/data/build.py            # data + shared tokenizer (data/build)\n"
             "tools/models/train_all.sh                      # ONLY=lm for this pack; SMOKE=1 for a quick check\n```")
    return "\n".join(L) + "\n"


def clf_card(ck, ev, sig, man, onnx_bytes, pack_id, args) -> str:
    c = ck["config"]
    attr = ev["attribute"]
    labels = ev["labels"]
    a = ck.get("args", {})
    L = [f"# {pack_id}\n"]
    what = ("sentiment (negative / positive; weak AFINN-165 labels)" if attr == "sentiment"
            else "writing style (literary / technical; labels by source)")
    L.append(f"A guidance classifier for Concert's diffusion rewriting: it scores {what} of a block of vocabulary simplexes "
             "and returns, inside the ONNX graph, the gradient of log p(label) with respect to the input logits "
             "(onnxruntime-node has no autograd). The same graph classifies ordinary text given as one-hot-like logits "
             "K·(2·onehot − 1) with K = 5.\n")
    L.append("## Architecture and size\n")
    L.append(f"- q = softmax(logits) → e = q·E (own embedding table {c['vocab_size']}×{c['d_embed']}) → width-{2 * c['radius'] + 1} "
             f"convolution to {c['d_hidden']} units + tanh → attention pooling over the block → linear → log_softmax over "
             f"{c['num_labels']} labels {labels}.")
    L.append("- The backward pass is written out in the forward graph (`tools/models/classifier.py`): "
             "gc = onehot(label) − softmax(c); back through the linear head, the attention pooling, tanh and the convolution "
             "to g_e; g_q = g_e·Eᵀ; grad = q ⊙ (g_q − ⟨q, g_q⟩). It matches torch autograd to ≤ 1e-4 relative in float32 "
             "(1e-10 in float64) in `tools/tests/test_classifier.py`; the gradient sums to 0 over the vocabulary at each position.")
    L.append(f"- {ck['num_params']:,} parameters; `classifier.onnx` is {onnx_bytes:,} bytes (float32, opset 14). "
             "Block length and batch are dynamic; the gradient is per row (not batch-averaged).\n")
    L.append(io_table(sig) + "\n")
    L.append("## Data\n")
    if attr == "sentiment":
        L.append("Sentences (6–40 words) from Austen, fortune cookies, WordNet examples, GCIDE quotations and Debian descriptions, "
                 "labelled by the AFINN-165 lexicon (phrases up to 3 words, a negator in the 3 preceding words flips the "
                 "valence; positive if the positive sum ≥ 2 and no negative word, negative symmetrically), balanced per "
                 "source and split (tools/data/corpora.py). VADER is deliberately not used (it judges guided generations in #6).")
    else:
        L.append("Sentences (6–40 words) labelled by source: literary = Austen, fortune cookies, GCIDE literary quotations; "
                 "technical = Debian package descriptions; balanced per split (tools/data/corpora.py).")
    L.append(f"{ev.get('train_examples', 0):,} training sentences; validation {ev['validation']['n']:,}; test {ev['test']['n']:,}. "
             "Text is encoded as the runtime does (`classify` template: the text alone, plain encoding).\n")
    L.append(sources_table(man) + "\n")
    L.append("## Training\n")
    L.append(f"- Command: `{ck.get('command')}` (via `tools/models/train_all.sh`).")
    L.append(f"- Seed {ck.get('seed')}; AdamW lr {a.get('lr')} (warm-up, cosine), weight decay {a.get('weight_decay')}, batch {a.get('batch')}, "
             f"sentences truncated to {a.get('max_len')} tokens; {int(100 * a.get('noisy_share', 0))}% of steps use a batch of {a.get('noisy_batch')} noisier simplexes "
             "(K ∈ [1, 5], Gaussian noise σ ∈ [0, 2]) like those diffusion guidance produces; the checkpoint with the best "
             "validation accuracy is kept.")
    L.append(f"- {ck.get('steps'):,} steps, {ck.get('train_minutes')} min ({ck.get('stopped')}), on {ck.get('hardware')}; finished {ck.get('finished')}.\n")
    L.append("## Evaluation\n")
    L.append("| split | n | accuracy |")
    L.append("|---|---|---|")
    L.append(f"| validation (K = 5) | {ev['validation']['n']} | {pct(ev['validation']['accuracy'])} |")
    L.append(f"| **test (K = 5)** | {ev['test']['n']} | **{pct(ev['test']['accuracy'])}** |")
    L.append(f"| test, noisy simplexes | {ev['test_noisy']['n']} | {pct(ev['test_noisy']['accuracy'])} |")
    for src, m in ev.get("test_by_source", {}).items():
        L.append(f"| test, source {src} | {m['n']} | {pct(m['accuracy'])} |")
    L.append("")
    if attr == "sentiment":
        L.append("External human-labelled sentiment set: none is available offline (the UCI Sentiment Labelled Sentences are "
                 "only on GitHub, which this build does not use), so only the weak-label test split is reported. The test "
                 "labels come from the same lexicon as the training labels: the accuracy measures agreement with AFINN, not "
                 "with human judgement.\n")
    L.append("## Export\n")
    L.append(f"`/usr/bin/python3 tools/models/export_classifier.py --ckpt {os.path.relpath(args.ckpt, ROOT)} --out <work>/classifier.onnx "
             f"--golden test/fixtures/golden/{pack_id} --pack-id {pack_id}`; ONNX Runtime parity of `log_probs` and `grad` "
             f"(≤ 1e-4) is checked by `test/worker/classifier-parity.test.ts`.\n")
    L.append("## Known limits\n")
    L.append("- A bag of 5-token windows with attention pooling: no long-range syntax; negation and sarcasm are handled only "
             "as far as the lexicon labels and local windows capture them.")
    if attr == "sentiment":
        L.append("- Weak labels from AFINN: the classifier learns the lexicon's notion of sentiment, including its blind spots.")
    else:
        L.append("- \"Technical\" means Debian-description-like prose; code, markdown and other technical genres are out of domain.")
    L.append("- English only; trained for minutes on a CPU.\n")
    L.append("## Licence\n")
    L.append(LICENCE_NOTE + "\n")
    L.append("## Reproduce\n")
    L.append(f"```\n/usr/bin/python3 tools/data/build.py\nONLY={attr} tools/models/train_all.sh\n```")
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["lm", "classifier"])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--onnx", required=True)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "data", "build"))
    ap.add_argument("--work", required=True, help="folder for MODEL_CARD.md and pack.json")
    ap.add_argument("--out", required=True, help="pack folder")
    ap.add_argument("--previous-card", default=None,
                    help="lm, grounding fine-tune: the earlier pack's MODEL_CARD.md, whose training story is kept")
    ap.add_argument("--grounded-eval", default=None, help="lm: an eval_grounded.py --out JSON to include as a table")
    ap.add_argument("--eval-note", default=None, help="lm: a sentence on where --eval was measured (which build's test split)")
    args = ap.parse_args()
    ck = torch.load(args.ckpt, map_location="cpu")
    with open(args.eval, encoding="utf-8") as f:
        ev = json.load(f)
    man = data_manifest(args.build_dir)
    sig = onnx_signature(args.onnx)
    onnx_bytes = os.path.getsize(args.onnx)
    os.makedirs(args.work, exist_ok=True)
    commit = git_commit()
    if args.kind == "lm":
        pid = os.path.basename(os.path.normpath(args.out))
        tok = check_tokenizer(ck, args.ckpt, ck.get("data", {}).get("tokenizer_sha256"))
        card = lm_card(ck, ev, sig, man, onnx_bytes, args)
        c = ck["config"]
        spec = {
            "id": pid, "kind": "causal-lm", "displayName": "Concert small LM",
            "description": f"{ck['num_params'] / 1e6:.1f}M-parameter decoder-only LM trained by the project for context-aware "
                           "summaries and document QA (optimum decoder I/O, KV cache).",
            "licence": WEIGHTS_LICENCE,
            "graphs": {"decoder": {"src": args.onnx, "name": "model.onnx"}},
            "specialTokens": dict(templates.ROLES),
            "knobs": {"maxContext": c["max_positions"], "numLayers": c["n_layers"], "numHeads": c["n_heads"],
                      "headDim": c["d_model"] // c["n_heads"], "hiddenSize": c["d_model"], "vocabSize": c["vocab_size"],
                      "templatesVersion": templates.TEMPLATES_VERSION, "templates": ["lm", "summary", "qa"],
                      "maxNewTokens": 40, "cadAlphaSummary": 0.5, "cadAlphaQa": 1.0, "topPSummary": 0.9},
            "provenance": {"commit": commit, "seed": ck["seed"], "command": ck["command"], "trainMinutes": ck["train_minutes"],
                           "steps": ck["steps"], "tokensSeen": ck["tokens_seen"], "hardware": ck["hardware"],
                           **({"initFromCommand": ph1["command"], "initFromSeed": ph1.get("seed", ""),
                               "initFromTrainMinutes": ph1.get("train_minutes", 0), "initFromTokensSeen": ph1.get("tokens_seen", 0)}
                              if (ph1 := phase1(ck)) and "command" in ph1 else {}),
                           **({"groundingStages": " && ".join([c.get("command") for c in reversed(init_chain(ck)[:-1])] + [ck["command"]]),
                               "finetunedFromPack": os.path.basename(init_chain(ck)[-1].get("source", ""))}
                              if is_grounding_finetune(ck) else {}),
                           "finished": ck["finished"], "tokenizerSha256": ck["data"]["tokenizer_sha256"],
                           "exportCommand": f"/usr/bin/python3 tools/models/export_causal_lm.py --ckpt {os.path.relpath(args.ckpt, ROOT)} --out {os.path.relpath(args.onnx, ROOT)}",
                           "testPerplexity": ev["perplexity"]["all"]["perplexity"]},
        }
    else:
        attr = ev["attribute"]
        pid = os.path.basename(os.path.normpath(args.out))
        tok = check_tokenizer(ck, args.ckpt, ck.get("tokenizer_sha256"))
        card = clf_card(ck, ev, sig, man, onnx_bytes, pid, args)
        c = ck["config"]
        spec = {
            "id": pid, "kind": "classifier",
            "displayName": {"sentiment": "Concert sentiment classifier", "style": "Concert style classifier"}[attr],
            "description": ("Guidance classifier (negative/positive) over vocabulary simplexes; outputs log-probabilities and "
                            "d log p(label)/d logits." if attr == "sentiment" else
                            "Guidance classifier (literary/technical) over vocabulary simplexes; outputs log-probabilities and "
                            "d log p(label)/d logits."),
            "licence": WEIGHTS_LICENCE,
            "graphs": {"classifier": {"src": args.onnx, "name": "classifier.onnx"}},
            "specialTokens": dict(templates.ROLES),
            "knobs": {"attribute": attr, "labels": ev["labels"], "K": ev["K"], "numLabels": c["num_labels"],
                      "vocabSize": c["vocab_size"], "embedDim": c["d_embed"], "hiddenDim": c["d_hidden"], "radius": c["radius"],
                      "inputTemplate": "classify", "templatesVersion": templates.TEMPLATES_VERSION,
                      "gradient": "d log p(label) / d logits, per row"},
            "provenance": {"commit": commit, "seed": ck["seed"], "command": ck["command"], "trainMinutes": ck["train_minutes"],
                           "steps": ck["steps"], "hardware": ck["hardware"], "finished": ck["finished"],
                           "tokenizerSha256": ck["tokenizer_sha256"], "testAccuracy": ev["test"]["accuracy"],
                           "exportCommand": f"/usr/bin/python3 tools/models/export_classifier.py --ckpt {os.path.relpath(args.ckpt, ROOT)} --out {os.path.relpath(args.onnx, ROOT)}"},
        }
    card_path = os.path.join(args.work, "MODEL_CARD.md")
    with open(card_path, "w", encoding="utf-8") as f:
        f.write(card)
    spec["tokenizer"] = tok
    spec["modelCard"] = card_path
    with open(os.path.join(args.work, "pack.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    prompts = None
    if args.kind == "lm":
        # The exact prompt layouts the LM was trained with; the runtime renders CAD inputs from this file.
        prompts = os.path.join(args.work, "prompts.json")
        with open(os.path.join(ROOT, "tools", "data", "templates.json"), encoding="utf-8") as f:
            tj = json.load(f)
        with open(prompts, "w", encoding="utf-8") as f:
            json.dump({"version": tj["version"], "comment": "Prompt templates of tools/data/templates.py the model was trained with.",
                       "prompts": {k: tj["prompts"][k] for k in ("lm", "summary", "qa")}}, f, indent=2, ensure_ascii=False)
            f.write("\n")
    m = pack.write_pack(args.out, id=spec["id"], kind=spec["kind"], graphs=spec["graphs"], licence=spec["licence"],
                        tokenizer=tok, model_card=card_path, display_name=spec["displayName"], description=spec["description"],
                        special_tokens=spec["specialTokens"], knobs=spec["knobs"], provenance=spec["provenance"], prompts=prompts)
    pack.verify_pack(args.out)
    total = sum(e["bytes"] for e in m["files"].values())
    print(f"wrote pack {m['id']} to {args.out}: {total:,} bytes")


if __name__ == "__main__":
    main()

"""MODEL_CARD.md of the simplex diffusion LM packs (used by make_pack.py)."""
from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.append(os.path.join(ROOT, "tools", "models"))
sys.path.append(os.path.join(ROOT, "tools", "data"))
import templates  # noqa: E402

LICENCE_NOTE = ("The weights are released under the project's licence (MIT). They were trained on the sources listed under "
                "Training data; the GCIDE compilation is GPL-3+ (its 1913 Webster text is public domain) and the Debian "
                "package descriptions carry their packages' own DFSG-free licences. Whether weights trained on such text "
                "are a derived work is a licence decision for the project (see tools/data/SOURCES.md); no training text "
                "is shipped in the pack.")


def pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def data_manifest(build_dir: str) -> dict:
    p = os.path.join(build_dir, "MANIFEST.json")
    if not os.path.exists(p):
        return {}
    with open(p, encoding="utf-8") as f:
        return json.load(f)


GROUNDED_NOTE = "core without the document, user with and without it; output contains the answer"


def fine_tune_stages(ck: dict) -> tuple[str, list]:
    """(the pack whose weights the first stage started from, or "" for a first stage trained from scratch or from the
    causal LM; the training stages oldest first, `ck` last), following each checkpoint's --init-from."""
    import torch

    stages, cur = [ck], ck
    for _ in range(8):
        p = (cur.get("args") or {}).get("init_from")
        path = p if p and os.path.isabs(p) else os.path.join(ROOT, p or "")
        if not p or not os.path.exists(path):
            break
        cur = torch.load(path, map_location="cpu")
        if cur.get("source"):  # tools/diffusion/pack_to_ckpt.py: a pack's weights
            return os.path.basename(cur["source"]), stages[::-1]
        stages.append(cur)
    return "", stages[::-1]


def from_causal_lm(stages: list) -> bool:
    """Whether the first stage was initialised from the causal LM (tools/diffusion/init_lm.py)."""
    return bool((stages[0].get("args") or {}).get("init_lm"))


def stage_line(i: int, c: dict) -> str:
    a, d = c.get("args") or {}, c.get("data") or {}
    val = next((h["val"] for h in reversed(c.get("history", [])) if "val" in h), {})
    return (f"{i}. `{c.get('command')}` — mixture {json.dumps(d.get('mix', {}))}, peak LR {a.get('lr')}, {a.get('warmup')} "
            f"warm-up steps, cosine to {a.get('min_lr_frac')}×; {c.get('steps'):,} steps, {c.get('block_tokens_seen'):,} block "
            f"tokens, {c.get('train_minutes')} min on {c.get('hardware')}, finished {c.get('finished')}; validation loss at its "
            f"end (mean over t): {val.get('mean')}.")


def io_table(sigs: dict) -> str:
    rows = ["| graph | | name | dtype | shape |", "|---|---|---|---|---|"]
    for role, sig in sigs.items():
        for side in ("inputs", "outputs"):
            vs = sig[side]
            if len(vs) > 7:
                vs = vs[:5] + [{"name": "…", "dtype": "", "shape": []}] + vs[-1:]
            for v in vs:
                rows.append(f"| {role} | {side[:-1]} | `{v['name']}` | {v['dtype']} | [{', '.join(str(d) for d in v['shape'])}] |")
    return "\n".join(rows)


def loss_curve(hist) -> str:
    tr = [h for h in hist if "train_loss" in h]
    va = [h for h in hist if "val" in h]
    pick = tr[:: max(1, len(tr) // 12)] + tr[-1:]
    seen = set()
    rows = ["| step | minutes | train loss (10-step mean) |", "|---|---|---|"]
    for h in pick:
        if h["step"] in seen:
            continue
        seen.add(h["step"])
        rows.append(f"| {h['step']} | {h['minutes']} | {h['train_loss']} |")
    out = "\n".join(rows) + "\n\n"
    if va:
        keys = [k for k in va[-1]["val"] if k != "mean"]
        out += "Validation loss (nats per block token, fixed noise, no self-conditioning) at t = fraction of T_train:\n\n"
        out += "| step | " + " | ".join(keys) + " | mean |\n|---|" + "---|" * (len(keys) + 1) + "\n"
        for h in va[:: max(1, len(va) // 8)] + ([va[-1]] if va[-1] is not va[:: max(1, len(va) // 8)][-1] else []):
            out += f"| {h['step']} | " + " | ".join(str(h["val"][k]) for k in keys) + f" | {h['val']['mean']} |\n"
    return out


def model_card(pid: str, ck: dict, ev: dict, sigs: dict, sizes: dict, args) -> str:
    c = ck["config"]
    a = ck.get("args", {})
    d = ck.get("data", {})
    role = ck.get("role", "core")
    base, stages = fine_tune_stages(ck)
    lm_init = from_causal_lm(stages)
    # A recipe of its own (fine-tune stages, or a start from the causal LM), not tools/diffusion/train_all.sh's.
    own_recipe = bool(base) or len(stages) > 1 or lm_init
    man = data_manifest(getattr(args, "build_dir", os.path.join(ROOT, "data", "build")))
    L = [f"# {pid}\n"]
    if role == "core":
        L.append("The **core** simplex diffusion language model of Concert (thesis ch. 3 and 5: SSD-LM with the SSD-2 "
                 "improvements), trained by the project on 2 CPU cores. It generates text in blocks of "
                 f"{c['block_size']} tokens by iteratively denoising almost-one-hot vocabulary simplexes, which makes it "
                 "steerable by classifier guidance (rewriting, ch. 3) and combinable with the small user model "
                 "(`concert-ssd-user`, collaboration, ch. 5). It is a toy-scale model: expect loosely English text, not "
                 "a capable generator.\n")
    else:
        size = ("the core's shape, started from Concert's grounded causal LM `concert-lm-small` (the core started from "
                "an earlier one), and sharing the core's" if lm_init else
                "several times smaller than the core model `concert-ssd-core` and sharing its")
        L.append("The **user** simplex diffusion language model of Concert (thesis ch. 5, SSD-2 \"David helps Goliath\"), "
                 f"{size} tokenizer, block size, K and schedule. It is trained to answer from knowledge placed in its context (a document, then the question), "
                 "so that in the collaboration — core(instruction) + user(knowledge, instruction) − user(instruction), "
                 "weights (1 − λ), λ(1 + α), −λα per step — it contributes what the core cannot know.\n")
    L.append("## Architecture and size\n")
    L.append(f"- Transformer, pre-LayerNorm, {c['n_layers']} layers, d_model {c['d_model']}, {c['n_heads']} heads (head_dim "
             f"{c['d_model'] // c['n_heads']}), GELU MLP {c['d_ff']}, learned absolute positions (maximum context + block "
             f"{c['max_positions']} tokens), vocabulary {c['vocab_size']} (the shared Concert tokenizer).")
    L.append(f"- **{ck['num_params']:,} parameters.** One embedding matrix E is the context embedding, the simplex "
             "embedding (W_diff = E) and the output projection (tied); the self-conditioning embedding is W_pred = E·Aᵀ "
             "with a learned d×d matrix A."
             + (" The weights are rounded to float16 and stored so in `weights.bin` (`tools/diffusion/export.py "
                "--weights-dtype float16`: each read through a Cast that ONNX Runtime folds at load, so the graphs compute "
                "in float32); every figure below is of the rounded weights." if ck.get("rounded_to") == "float16" else ""))
    L.append(f"- Simplex diffusion: K = {c['K']:g}, cosine ᾱ schedule of SSD-LM (s = 1e-4), T_train = {c['t_train']}, block "
             f"size B = {c['block_size']} (the thesis uses 25; with ~5 M parameters longer blocks decoded into repetitions "
             "and word salad), timestep input t/T "
             f"through {c['time_features']} sinusoidal features and a 2-layer MLP, added to the block positions only.")
    L.append("- **Anchored blocks (deviation from SSD-LM/SSD-2, as in adaptations of autoregressive LMs to diffusion such "
             "as DiffuLLaMA):** the block stream is [anchor, noisy_0 … noisy_{B−1}], the anchor being the last context "
             "token embedded as the causal LM embeds it; the logits of block position i are read at stream index i, so "
             "the anchor's output predicts the block's first token exactly like a causal LM's next-token head. "
             + (f"The {role} model is initialised from Concert's causal LM `concert-lm-small` (embeddings, positions, all "
                "transformer blocks; its MLP pruned to the largest units, tools/diffusion/init_lm.py) and starts out "
                "predicting the next token at high noise like that LM; trained from scratch for the same time, an "
                "unanchored model predicted block tokens from the context no better than unigram statistics."
                if lm_init else ""))
    L.append("- Attention as in SSD-2 (with the anchor): context tokens attend causally; the block group (anchor and "
             "noisy positions) attends to the context before the anchor and bidirectionally within the group. "
             "**Deviation from SSD-2:** no time embedding on the context, so "
             "the context keys/values do not depend on t and are computed once per block (no Q = 50 quantisation "
             "needed); the context states are exactly those of a causal LM over the context.")
    L.append("- Self-conditioning (SSD-2 §5.2.1): the previous step's logits are an input; \"no previous prediction\" "
             "(t = T) is all-zero logits (= the uniform simplex), which is also what training feeds when it does not "
             "self-condition.")
    tot = sum(sizes.values())
    L.append(f"- Files: `context.onnx` ({sizes['context.onnx']:,} B) and `denoiser.onnx` ({sizes['denoiser.onnx']:,} B) share "
             f"their tensors in `weights.bin` ({sizes['weights.bin']:,} B, ONNX external data, each tensor once); "
             f"{tot:,} bytes of graphs and weights, float32, opset 14.\n")
    L.append(io_table(sigs) + "\n")
    L.append("Runtime recipe: encode the context once per block with `context` (optimum decoder I/O: left padding through "
             "`attention_mask` and `position_ids` = cumsum(mask) − 1; an encoded prefix can be extended by passing its "
             "presents as `past_key_values`); then every denoising step runs `denoiser` with the noisy logits, the "
             "previous step's logits (zeros at the first step), t/T_decode, the context mask, `anchor_ids` (each row's last "
             "context token) and the context presents. The anchor sits at position sum(mask) − 1 and the block at "
             "sum(mask) + 0…B−1 inside the graph. Batch rows with different context lengths are "
             "independent (left padding + mask).\n")
    L.append("## Decoding (knobs)\n")
    L.append(f"Per block: x ← K·N(0, I); for t = T … 1: logits ← model(context, softmax(x), self-cond, t/T); optional guidance; "
             "ŵ ← ±K projection (top-p sampling; top-p 0 = greedy); x ← √ᾱ_{t−1}·ŵ + √(1−ᾱ_{t−1})·z (no noise at t = 1); "
             "the block is the argmax of the last step's logits; stop at the first `</s>` in a block. T_decode ≤ T_train "
             "re-parameterises the schedule (t/T_decode). Reference implementation: `tools/diffusion/decode.py` "
             "(identical to `src/engine/diffusion/decode.ts`, golden whole runs in "
             f"`test/fixtures/golden/{pid}/decode.json`). Defaults in the manifest knobs.\n")
    L.append("## Tokenizer and prompt formats\n")
    L.append(f"Shared Concert tokenizer (`tokenizer.json`, sha256 `{d.get('tokenizer_sha256', '')}`), templates of "
             f"tools/data/templates.py version {templates.TEMPLATES_VERSION} (`prompts.json`): `lm` = `<s>` text; "
             "`summary` = `<s><|doc|> {document}<|summary|>` → ` {summary}</s>`; `qa` = `<s><|doc|> {document}<|question|> "
             "{question}<|answer|>` → ` {answer}</s>` (no-context variant without the document). Control tokens by id, "
             "text with the plain encoder.\n")
    L.append("## Training data\n")
    grounded = any(k.startswith("grounded_") for k in d.get("mix", {}))
    if grounded:  # the grounded corpora of issue #16 have their own manifest
        man = data_manifest(os.path.join(getattr(args, "build_dir", os.path.join(ROOT, "data", "build")), "grounded")) or man
    if grounded:
        L.append(f"Built by `{man.get('command', '/usr/bin/python3 tools/data/build_grounded.py')}` (data/build/grounded/"
                 "MANIFEST.json; design and held-out families in tools/data/README.md, \"Grounded data\") from the base "
                 "corpora (their sources are listed under \"Before the fine-tune\") and these:\n")
    else:
        L.append(f"Built by `{man.get('command', '/usr/bin/python3 tools/data/build.py')}` (data/build/MANIFEST.json). "
                 "Sources and licences:\n")
    L.append("| source | version | licence |\n|---|---|---|")
    for s in man.get("sources", []):
        lic = s.get("licence", "the Debian package’s copyright file (free licences)" if s.get("kind") == "debian" else "")
        L.append(f"| {s['name']} ({s['kind']}) | {s.get('version', '')} | {lic} |")
    L.append("")
    mix = d.get("mix", {})
    L.append("Mixture (share of target tokens): " + ", ".join(f"{k} {v:.0%}" for k, v in mix.items()) +
             f". Examples available per source: {json.dumps(d.get('examples_by_source', {}))}. Examples are split into "
             "prompt and target (for `lm` text the prompt is `<s>` plus 0…B−1 text tokens so that block boundaries fall at "
             "every phase), the target is padded with `</s>` to whole blocks (SSD-2: EOS padding, EOS kept in the loss), "
             f"and examples are packed greedily into windows of {a.get('seq_len')} tokens: {d.get('windows', 0):,} windows, "
             f"{d.get('blocks', 0):,} blocks, window fill {d.get('window_fill')}. "
             + ("The grounded mixture (issues #13, #16): extractive question answering over documents in many styles "
                "(narrative, notes, tables, lists, …) with many question wordings and fact types (capitals incl. documents "
                "that contradict the real capital, other country facts, made-up institutions' dates, people, places and "
                "quantities) — every record, so the user model learns to follow its document —, a sample of the same "
                "questions without their documents (the contrastive term queries the user model without its knowledge), "
                "summaries that their documents support, and prose. Question families, document styles and facts held "
                "out for evaluation never occur in training (tools/data/build_grounded.py).\n" if grounded else
                "The user mixture uses every document-QA record (consistent, fictional and contradicting documents: the "
                "user model must follow its document), the same questions without the document (the contrastive term "
                "queries the user model without its knowledge), summaries, and some general text.\n" if role == "user" else
                "General text units are thinned by source as for the causal LM (tools/models/lm_data.py).\n"))
    L.append("## Training\n")
    if own_recipe:
        start = (f"Fine-tuned from the weights of the earlier `{base}` pack (converted by `tools/diffusion/pack_to_ckpt.py`, "
                 "identical weights)" if base else
                 "Initialised from the causal LM `concert-lm-small` (its pack converted by `tools/models/pack_to_ckpt.py`)"
                 if lm_init else "Trained")
        if base or len(stages) > 1:
            L.append(f"{start}, in {len(stages)} stage(s) of `tools/diffusion/train.py`, each from the weights of the one before "
                     "with a fresh optimizer and schedule:\n")
            L += [stage_line(i + 1, c) for i, c in enumerate(stages)]
            note = getattr(args, "training_note", None)
            L.append(f"\nIn all {sum(c.get('train_minutes', 0) for c in stages):.1f} min on 2 CPU cores; reproducible on CPU in about "
                     "that time with the commands above (seeds fixed)." + (f" {note}" if note else "") + " The last stage:\n")
        else:
            L.append(f"{start}:\n")
        L.append(f"- Command: `{ck.get('command')}`.")
    else:
        L.append(f"- Command: `{ck.get('command')}` (via `tools/diffusion/train_all.sh`).")
    L.append(f"- Seed {ck.get('seed')} (data order, t, noise and the self-conditioning coin come from seeded, checkpointed "
             f"generators). AdamW (betas 0.9/0.98, weight decay {a.get('weight_decay')}), peak LR {a.get('lr')}, "
             f"{a.get('warmup')} warm-up steps then cosine decay to {a.get('min_lr_frac')}× over the budget; batch "
             f"{a.get('batch')} windows; gradient clipping 1.0.")
    L.append(f"- Every block of every window in one pass (SSD-2 mask), each block with its own t ~ U{{1…{c['t_train']}}}; "
             f"self-conditioning on {a.get('self_cond_prob', 0.5):.0%} of the steps (a first pass without gradients "
             "predicts the logits that the second pass receives); cross-entropy on all block positions.")
    L.append(f"- {ck.get('steps'):,} steps, {ck.get('block_tokens_seen'):,} block (target) tokens, {ck.get('train_minutes')} "
             f"min of training on {ck.get('hardware')}; finished {ck.get('finished')}.\n")
    L.append("### Loss curve\n")
    L.append(loss_curve(ck.get("history", [])))
    prev = getattr(args, "previous_card", None)
    if base and prev and os.path.exists(prev):
        text = open(prev, encoding="utf-8").read()
        start, end = text.find("## Training data"), text.find("## Evaluation")
        if 0 <= start < end:
            L.append("### Before the fine-tune (from the earlier pack's card)\n")
            L.append(text[start:end].replace("\n### ", "\n#### ").replace("\n## ", "\n### ").replace("## Training data", "### Training data", 1).rstrip() + "\n")
    L.append("## Evaluation (test split)\n")
    h = ev.get("heldout", {})
    if h:
        keys = list(h["loss_by_t"])
        L.append(f"Held-out block loss (nats per token; {h['windows']} test windows of the {h['mixture']} mixture, "
                 f"{h['blocks']} blocks, fixed noise) at t = fraction of T_train:\n")
        L.append("| | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
        L.append("| first step (no self-conditioning) | " + " | ".join(str(h["loss_by_t"][k]) for k in keys) + " |")
        L.append("| with self-conditioning | " + " | ".join(str(h["loss_by_t_self_cond"][k]) for k in keys) + " |\n")
    q = ev.get("qa", {})
    if q:
        L.append(f"Document QA, exact match of the first block (greedy, T = {q.get('steps')}):\n")
        L.append("| condition | n | accuracy |\n|---|---|---|")
        for k, v in q.items():
            if isinstance(v, dict) and "accuracy" in v:
                L.append(f"| {k.replace('_', ' ')} | {v['n']} | {pct(v['accuracy'])} |")
        L.append("")
        for k in ("fictional_with_document",):
            for s in q.get(k, {}).get("samples", [])[:3]:
                L.append(f"- {s['question']} → “{s['generated']}” (answer: {s['answer']})")
        L.append("")
    gq = ev.get("grounded_qa", {})
    if gq:
        groups = [k[: -len("_with_document")] for k in gq if k.endswith("_with_document")]
        L.append(f"Held-out grounded QA ({gq['split']}: document styles and question wordings never trained, facts never "
                 f"asked; greedy, T = {gq['steps']}, {gq['blocks']} blocks; counts when the output contains the answer):\n")
        L.append("| group | n | with the document | without it |\n|---|---|---|---|")
        for g in groups:
            w, wo = gq[f"{g}_with_document"], gq.get(f"{g}_closed_book", {})
            L.append(f"| {g.replace('grounded_', '').replace('_', ' ')} | {w['n']} | {pct(w['accuracy'])} | {pct(wo.get('accuracy'))} |")
        L.append("")
        for s_ in gq.get(f"{groups[0]}_with_document", {}).get("samples", [])[:3] if groups else []:
            L.append(f"- {s_['question']} → “{s_['generated'].strip()}” (answer: {s_['answer']})")
        L.append("")
    col = ev.get("collaboration")
    if col:
        L.append(f"**Collaboration preview** (SSD-2 all-reduce, α = {col['alpha']:g}; core without the document, user with "
                 "and without it; greedy; exact match):\n")
        L.append("| λ_user | fictional countries | consistent documents |\n|---|---|---|")
        for lam, r in col["by_lambda"].items():
            L.append(f"| {lam} | {pct(r.get('fictional'))} | {pct(r.get('consistent'))} |")
        L.append("")
        gl = col.get("grounded_by_lambda")
        if gl:
            groups = list(next(iter(gl.values())))
            L.append(f"The same on held-out grounded QA ({GROUNDED_NOTE}):\n")
            L.append("| λ_user | " + " | ".join(g.replace("grounded_", "").replace("_", " ") for g in groups) + " |\n|---|" + "---|" * len(groups))
            for lam, r in gl.items():
                L.append(f"| {lam} | " + " | ".join(pct(r.get(g)) for g in groups) + " |")
            L.append("")
    sm = ev.get("samples", {})
    if sm:
        L.append(f"**Samples** (top-p {sm.get('top_p')}, seeded; " + ("continuations of held-out prompts" if role == "core" else
                 "answers to held-out fictional-country documents") + "):\n")
        for T, rows in sm.get("by_T", {}).items():
            L.append(f"T = {T}:\n")
            for r in rows:
                if role == "core":
                    L.append(f"- ({r['source']}) “{r['prompt']}” → “{r['continuation'].strip()}”")
                else:
                    L.append(f"- {r['question']} → “{r['generated'].strip()}” (answer: {r['answer']})")
            L.append("")
    gd = ev.get("guidance")
    if gd:
        L.append("## Guidance sanity check (baseline for #6)\n")
        L.append(f"Classifier guidance with `{gd['classifier']}` (the sentiment classifier of `concert-clf-sentiment`, test accuracy "
                 f"{pct(gd.get('classifier_test_accuracy'))}): "
                 "logits ← logits + λ·∂log p(label | softmax(logits))/∂logits at every step (A_seed_reference §1.8), on "
                 f"continuations of {gd['prompts']} neutral prompts × {gd['samples_per_prompt']} samples, "
                 f"{gd['tokens']} tokens, T = {gd['steps']}, top-p {gd['top_p']}. External judge: {gd['judge']}.\n")
        L.append("| condition | λ | judge: positive | judge: negative | judge accuracy (target label) | classifier: positive |")
        L.append("|---|---|---|---|---|---|")
        for e in gd["conditions"]:
            L.append(f"| {e['condition']} | {e['lambda']:g} | {pct(e.get('judge_positive_rate'))} | {pct(e.get('judge_negative_rate'))} "
                     f"| {pct(e.get('judge_accuracy'))} | {pct(e.get('classifier_positive_rate'))} |")
        L.append("")
        for e in gd["conditions"]:
            if e["samples"]:
                L.append(f"- {e['condition']}: “{e['samples'][0].strip()}”")
        L.append("")
    L.append(f"Evaluation by `tools/diffusion/eval.py` in {ev.get('seconds')} s.\n")
    L.append("## Export and parity\n")
    L.append(f"`/usr/bin/python3 tools/diffusion/export.py --ckpt <ckpt> --out <work> --golden test/fixtures/golden/{pid} "
             f"--pack-id {pid}"
             + (" --weights-dtype float16 --rounded-ckpt <ckpt dir>/final-float16.pt` (the evaluation above reads the rounded "
                "checkpoint)" if ck.get("rounded_to") == "float16" else "`")
             + " (torch.onnx.export, opset 14, dynamic axes; onnx.checker). ONNX Runtime parity with "
             "PyTorch (≤ 1e-4 max-abs on random inputs, batch 2 with left padding, incremental context, zero and non-zero "
             "self-conditioning), context-state reuse, padding invariance and the whole-run golden decodes are checked by "
             "`test/worker/diffusion-parity.test.ts`; PyTorch-side invariants by `tools/tests/test_diffusion.py`.\n")
    L.append("## Known limits\n")
    L.append(f"- Context + generated tokens ≤ {c['max_positions']} (the training window); longer inputs must be cut by the caller.")
    L.append(f"- Trained on a CPU ({sum(c.get('train_minutes', 0) for c in stages):.0f} min{' of fine-tuning' if base else ''}, "
             f"{sum(c.get('block_tokens_seen', 0) for c in stages):,} target tokens): fluency is far below the causal LM of the same size; many "
             "steps (T ≥ 50) help, and greedy projection tends to repeat.")
    L.append("- English only; vocabulary and style lean on dictionary definitions, Debian descriptions, Austen and fortunes.")
    L.append("- Not evaluated for safety or bias; do not use for decisions.\n")
    L.append("## Licence\n")
    L.append(LICENCE_NOTE + "\n")
    L.append("## Reproduce\n")
    if own_recipe:
        first = (f"/usr/bin/python3 tools/diffusion/pack_to_ckpt.py models/{base} <init.pt>   # the earlier pack's weights\n" if base else
                 f"/usr/bin/python3 tools/models/pack_to_ckpt.py models/concert-lm-small {stages[0]['args']['init_lm']}   # the causal LM\n"
                 if lm_init else "")
        L.append("```\n/usr/bin/python3 tools/data/build.py --no-tokenizer && /usr/bin/python3 tools/data/build_grounded.py   # the corpora\n"
                 + first
                 + "".join(f"{c.get('command')}\n" for c in stages) +
                 "# then export.py, eval.py and make_pack.py as in tools/diffusion/README.md\n```")
        return "\n".join(L) + "\n"
    L.append("```\n/usr/bin/python3 tools/data/build.py              # data + shared tokenizer (data/build)\n"
             "tools/models/train_all.sh                        # the sentiment classifier used by the guidance check\n"
             f"ONLY={role} tools/diffusion/train_all.sh          # train → export → evaluate → pack; SMOKE=1 for a quick check\n```")
    return "\n".join(L) + "\n"

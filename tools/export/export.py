#!/usr/bin/env python3
"""Export the thesis' own PyTorch checkpoints into Concert packs (issue #19; docs/own-models.md).

    python3 tools/export/export.py causal-lm  --from <hf folder> --out <folder>        [--dtype fp32|q4|all]
    python3 tools/export/export.py ssd-lm     --from <hf folder> --out <pack dir>      [--triton <dir>] [--block-size 25] [--k 5] [--t-train 5000]
    python3 tools/export/export.py classifier --from <hf folder> --out <pack dir>      [--attribute sentiment] [--labels a,b,c]
    python3 tools/export/export.py jpeg-lm    --from <hf folder> --out <pack dir>      [--dtype fp32|q4] [--size 256] [--max-tokens 12288]
    (all: [--external-data auto|always|never] [--tolerance x] [--report file] [--id id] [--licence text])

`causal-lm` writes the published Hugging Face ONNX layout (config.json, tokenizer files, onnx/model.onnx) that
`concert --model <folder>` reads (#9); the others write Concert packs (concert.json with every file's sha256).
The model is built with the real transformers classes when they are importable (torch 2.x + transformers), else
with the reference modules of tools/export/reference (same parameter names, so the same checkpoints load). The
graph is traced from the reference modules in both cases; with transformers the real class is the oracle they are
checked against. Every export checks ONNX Runtime against PyTorch on random inputs (relative error ≤ --tolerance,
default 1e-4, 1e-3 for models over 100 M parameters) and fails otherwise; the figures go into the pack's model card,
its provenance, and the JSON file named by --report.

Graphs past protobuf's 2 GB limit (7 B decoders, float32 or int4) are written with ONNX external data: the graph file
plus `<graph file>_data` beside it (`model.onnx` + `model.onnx_data`; `onnx/model.onnx_data` in the published
layout), continued in `model.onnx_data_1`, `_2` … so that no file exceeds 2 GiB (the runtime reads each one whole),
each listed in the pack's files with its sha256 and size. `--external-data auto` (default) does so only when the
tensors would not fit, `always` forces it (tests, on tiny models), `never` refuses graphs that do not fit.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from ex_common import ROOT, have_transformers, read_json, set_external_data, write_json  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools"))
import pack as packlib  # noqa: E402


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def pack_id(args, folder: str) -> str:
    if args.id:
        return args.id
    raw = os.path.basename(os.path.abspath(args.out)).lower()
    return "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in raw)[:64] or "exported"


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def tolerance(args, params: int) -> float:
    return args.tolerance if args.tolerance is not None else (1e-3 if params > 100_000_000 else 1e-4)


def source_provenance(folder: str, extra_files=()) -> dict:
    """sha256 of the checkpoint's small files (config, tokenizer, SSD-LM extras); the weights by size only."""
    out = {"source": os.path.basename(os.path.abspath(folder))}
    for name in ("config.json", "tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", *extra_files):
        p = os.path.join(folder, name) if not os.path.isabs(name) else name
        if os.path.isfile(p) and os.path.getsize(p) < 64 << 20:
            out[f"sha256:{os.path.basename(p)}"] = sha256(p)
    for name in ("model.safetensors", "pytorch_model.bin"):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            out[f"bytes:{name}"] = os.path.getsize(p)
    return out


def base_provenance(kind_cmd: str, rep: dict) -> dict:
    worst = max((v for k, v in rep.items() if isinstance(v, float) and "sum_over_vocab" not in k and "tolerance" not in k), default=0.0)
    return {"exporter": f"tools/export/export.py {kind_cmd}", "modelPath": rep["path"], "torch": torch.__version__,
            "parityMaxRelErr": float(f"{worst:.3g}"), "parityTolerance": rep["tolerance"],
            "exported": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def card(title: str, lines, rep: dict) -> str:
    body = [f"# {title}", "", *lines, "", "## Export check (ONNX Runtime vs PyTorch, relative error)", "",
            f"Model classes: {'transformers' if rep['path'] == 'transformers' else 'tools/export/reference (transformers not installed)'}.",
            "", "| check | value |", "|---|---|"]
    body += [f"| {k} | {v:.3g} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in rep.items() if k != "path"]
    return "\n".join(body) + "\n"


def add_to_manifest(out: str, extra: dict) -> dict:
    p = os.path.join(out, packlib.MANIFEST)
    m = read_json(p)
    m.update(extra)
    with open(p, "w", encoding="utf-8") as f:
        f.write(json.dumps(m, indent=2, ensure_ascii=False) + "\n")
    packlib.verify_pack(out)
    return m


def maybe_report(args, rep: dict) -> None:
    if args.report:
        write_json(args.report, rep)


# ------------------------------------------------------------------------------------------------ ssd-lm


def cmd_ssd_lm(args) -> dict:
    import ex_ssd_lm as ssd_lm
    import tok_convert
    import ex_triton as triton

    ref, real, cfg = ssd_lm.load_ssd_lm(args.src, args.embed_sum, args.timestep)
    V, B = cfg["vocab_size"], args.block_size
    params = n_params(ref)
    tol = tolerance(args, params)
    max_context = cfg.get("max_position_embeddings", 514) - cfg.get("pad_token_id", 1) - 1
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, "denoiser.onnx")
        ssd_lm.export_denoiser(ref, onnx_path, B, V)
        rep = ssd_lm.verify(ref, real, onnx_path, B, V, args.k, tol)
        tok_path = os.path.join(work, "tokenizer.json")
        tok_how = tok_convert.roberta_tokenizer(args.src, tok_path)
        pid = pack_id(args, args.src)
        knobs = {"K": float(args.k), "blockSize": B, "tTrain": args.t_train, "schedule": "cosine", "scheduleOffset": 0.0001,
                 "timeInput": "t/T_decode", "selfConditioning": False, "contextTimeEmbedding": False, "maxContext": max_context,
                 "vocabSize": V, "numLayers": cfg["num_hidden_layers"], "numHeads": cfg["num_attention_heads"], "hiddenSize": cfg["hidden_size"],
                 "projection": "sample", "topP": 0.95, "steps": min(1000, args.t_train), "finalTokens": "argmax of the last step's logits",
                 "parameters": params}
        card_path = os.path.join(work, "MODEL_CARD.md")
        with open(card_path, "w", encoding="utf-8") as f:
            f.write(card(f"{pid} (SSD-LM, exported)", [
                f"Exported from `{os.path.basename(os.path.abspath(args.src))}` with `tools/export/export.py ssd-lm` ({params:,} parameters).",
                "Layout `ssd-lm` (the official SSD-LM code): context word embeddings only, block = softmax(noisy) · embed_sum_layer"
                " + timestep_layer(t/T) (block only), RoBERTa positions from 2, bidirectional attention over context and block,"
                " no self-conditioning: every denoising step re-reads the whole context.",
                f"Tokenizer: {tok_how}. K {args.k}, block {B}, T_train {args.t_train}, window {max_context} tokens (context + block)."], rep))
        m = packlib.write_pack(args.out, id=pid, kind="simplex-diffusion-lm", licence=args.licence,
                               graphs={"denoiser": {"src": onnx_path, "name": "denoiser.onnx"}}, tokenizer=tok_path, model_card=card_path,
                               display_name=args.display_name or f"{pid} (SSD-LM)",
                               description="SSD-LM simplex diffusion LM exported from PyTorch (official layout: bidirectional context, no self-conditioning).",
                               knobs=knobs, provenance={**base_provenance("ssd-lm", rep),
                                                        **source_provenance(args.src, [p for p in (args.embed_sum, args.timestep) if p] or
                                                                            ["embed_sum_layer.pt", "timestep_layer.pt"])})
        m = add_to_manifest(args.out, {"diffusion": {"layout": "ssd-lm", "contextAttention": "bidirectional", "positionOffset": cfg.get("pad_token_id", 1) + 1}})
        if args.triton:
            info = {"pack": pid, "vocabSize": V, "blockSize": B, "k": float(args.k), "tTrain": args.t_train, "selfConditioning": False,
                    "maxContext": max_context}
            d = triton.write_repository(args.triton, os.path.join(args.out, "denoiser.onnx"), info, gpu=not args.triton_cpu)
            rep["triton"] = d
    maybe_report(args, rep)
    return {"manifest": m, "parity": rep}


# ------------------------------------------------------------------------------------------------ classifier


def cmd_classifier(args) -> dict:
    import ex_classifier as classifier
    import tok_convert

    ref, real, cfg, c = classifier.load_classifier(args.src)
    graph = classifier.GuidanceGraph(ref, cfg).eval()
    V, C = cfg["vocab_size"], c.num_labels
    labels = args.labels.split(",") if args.labels else [str((c.id2label or {}).get(str(i), (c.id2label or {}).get(i, f"LABEL_{i}"))) for i in range(C)]
    if len(labels) != C:
        raise SystemExit(f"--labels names {len(labels)} labels; the model has {C}")
    params = n_params(ref)
    tol = tolerance(args, params)
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, "classifier.onnx")
        classifier.export_graph(graph, onnx_path, V, C)
        rep = classifier.verify(graph, ref, real, onnx_path, V, C, args.k, tol)
        tok_path = os.path.join(work, "tokenizer.json")
        tok_how = tok_convert.roberta_tokenizer(args.src, tok_path)
        pid = pack_id(args, args.src)
        knobs = {"labels": labels, "K": float(args.k), "numLabels": C, "vocabSize": V, "hiddenSize": cfg["hidden_size"],
                 "numLayers": cfg["num_hidden_layers"], "gradient": "d log p(label) / d logits, per row",
                 "inputPositions": "block only (no context, no <s>/</s>), positions 2..B+1, head on position 0", "parameters": params}
        if args.attribute:
            knobs = {"attribute": args.attribute, **knobs}
        card_path = os.path.join(work, "MODEL_CARD.md")
        with open(card_path, "w", encoding="utf-8") as f:
            f.write(card(f"{pid} (guidance classifier, exported)", [
                f"Exported from `{os.path.basename(os.path.abspath(args.src))}` with `tools/export/export.py classifier` ({params:,} parameters).",
                f"Labels: {', '.join(labels)}. Reads q = softmax(logits) of a diffusion block as q · E_cls (its own word embeddings),"
                " block positions only; the graph also returns d log p(label)/d logits, computed by an explicit backward pass"
                " (checked against autograd).", f"Tokenizer: {tok_how} (must be the diffusion model's)."], rep))
        m = packlib.write_pack(args.out, id=pid, kind="classifier", licence=args.licence, graphs={"classifier": {"src": onnx_path, "name": "classifier.onnx"}},
                               tokenizer=tok_path, model_card=card_path, display_name=args.display_name or f"{pid} (classifier)",
                               description=f"Guidance classifier ({'/'.join(labels)}) over vocabulary simplexes; outputs log-probabilities and d log p(label)/d logits.",
                               knobs=knobs, provenance={**base_provenance("classifier", rep), **source_provenance(args.src)})
    maybe_report(args, rep)
    return {"manifest": m, "parity": rep}


# ------------------------------------------------------------------------------------------------ causal-lm / jpeg-lm


def _decoder(args, work: str):
    import ex_llama as llama

    ref, real, cfg, c = llama.load_llama(args.src)
    params = n_params(ref)
    tol = tolerance(args, params)
    fp32 = os.path.join(work, "model.onnx")
    llama.export_decoder(ref, fp32)
    rep = llama.verify(ref, real, fp32, tol)
    q4 = None
    if args.dtype in ("q4", "all"):
        q4 = os.path.join(work, "model_q4.onnx")
        deq, n = llama.quantize_q4(ref, fp32, q4)
        rq = llama.verify(deq, None, q4, tol)
        rep.update({f"q4_{k}": v for k, v in rq.items() if isinstance(v, float)})
        rep["q4_matmuls"] = n
    return ref, cfg, c, params, rep, fp32, q4


def cmd_causal_lm(args) -> dict:
    import tok_convert

    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        ref, cfg, c, params, rep, fp32, q4 = _decoder(args, work)
        os.makedirs(os.path.join(args.out, "onnx"), exist_ok=True)
        for f in os.listdir(os.path.join(args.out, "onnx")):
            os.remove(os.path.join(args.out, "onnx", f))
        # Each graph with its external data, if any: onnx/model.onnx_data, onnx/model_q4.onnx_data (the names
        # Hugging Face's ONNX exports use; src/runtime/hfLayout.ts lists them from the graph's locations).
        if args.dtype in ("fp32", "all"):
            packlib.copy_graph(fp32, args.out, "onnx/model.onnx")
        if q4:
            packlib.copy_graph(q4, args.out, "onnx/model_q4.onnx")
    write_json(os.path.join(args.out, "config.json"), cfg)
    tok_how = tok_convert.llama_tokenizer(args.src, os.path.join(args.out, "tokenizer.json"))
    for name in ("generation_config.json", "special_tokens_map.json", "tokenizer_config.json"):
        src = os.path.join(args.src, name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(args.out, name))
    if not os.path.exists(os.path.join(args.out, "generation_config.json")):
        write_json(os.path.join(args.out, "generation_config.json"), {k: cfg[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if cfg.get(k) is not None})
    files = {}
    for root, _, fs in os.walk(args.out):
        for f in fs:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, args.out).replace(os.sep, "/")
            if rel != "concert_export.json":
                files[rel] = {"sha256": sha256(p), "bytes": os.path.getsize(p)}
    report = {"exporter": "tools/export/export.py causal-lm", "layout": "published (optimum decoder, #9)", "tokenizer": tok_how,
              "parameters": params, "files": dict(sorted(files.items())), "parity": rep,
              "provenance": {**base_provenance("causal-lm", rep), **source_provenance(args.src)}}
    write_json(os.path.join(args.out, "concert_export.json"), report)
    maybe_report(args, rep)
    return {"files": files, "parity": rep}


def cmd_jpeg_lm(args) -> dict:
    import tok_convert
    from ex_common import tokenizer_ids

    with tempfile.TemporaryDirectory() as work:
        ref, cfg, c, params, rep, fp32, q4 = _decoder(args, work)
        graph = q4 if args.dtype == "q4" else fp32
        tok_path = os.path.join(work, "tokenizer.json")
        tok_how = tok_convert.llama_tokenizer(args.src, tok_path)
        ids = tokenizer_ids(tok_path)
        for b in range(256):
            if chr(0x2800 + b) not in ids:
                raise SystemExit(f"the tokenizer has no piece for byte {b} (U+{0x2800 + b:04X}): not the JPEG-LM Braille vocabulary")
        stm_path = os.path.join(args.src, "special_tokens_map.json")
        stm = read_json(stm_path) if os.path.exists(stm_path) else {}

        def tok_of(role, default):
            v = stm.get(f"{role}_token", default)
            return v["content"] if isinstance(v, dict) else v

        bos, eos, pad = tok_of("bos", "<s>"), tok_of("eos", "</s>"), tok_of("pad", "<unk>")
        max_tokens = min(args.max_tokens, c.max_position_embeddings)
        codec = {"format": "jpeg", "stream": "image-only", "width": args.size, "height": args.size, "quality": 25, "subsampling": "4:2:0",
                 "restartInterval": 1, "tokens": {"mapping": "braille"}, "bos": ids[bos], "eos": ids[eos], "pad": ids[pad], "maxTokens": max_tokens}
        pid = pack_id(args, args.src)
        knobs = {"maxContext": max_tokens, "numLayers": c.num_hidden_layers, "numHeads": c.num_key_value_heads, "headDim": c.head_dim,
                 "hiddenSize": c.hidden_size, "vocabSize": c.vocab_size, "parameters": params, "weights": "q4 MatMulNBits (weight-only)" if args.dtype == "q4" else "float32"}
        card_path = os.path.join(work, "MODEL_CARD.md")
        with open(card_path, "w", encoding="utf-8") as f:
            f.write(card(f"{pid} (JPEG-LM, exported)", [
                f"Exported from `{os.path.basename(os.path.abspath(args.src))}` with `tools/export/export.py jpeg-lm` ({params:,} parameters, "
                f"{'int4 weight-only' if args.dtype == 'q4' else 'float32'} weights).",
                f"Stream: canonical image-only JPEG, {args.size}×{args.size}, quality 25, 4:2:0, a restart marker after every MCU; byte b is"
                f" the Braille character U+2800 + b, tokenised by the checkpoint's tokenizer ({tok_how}). bos {bos}, eos {eos}, pad {pad}."], rep))
        m = packlib.write_pack(args.out, id=pid, kind="codec-lm", licence=args.licence, graphs={"decoder": {"src": graph, "name": "model.onnx"}},
                               tokenizer=tok_path, model_card=card_path, display_name=args.display_name or f"{pid} (JPEG-LM)",
                               description=f"JPEG-LM image completion/generation, {args.size}×{args.size} canonical streams, Braille byte mapping.",
                               special_tokens={"bos": bos, "eos": eos, "pad": pad}, knobs=knobs,
                               provenance={**base_provenance("jpeg-lm", rep), **source_provenance(args.src)})
        m = add_to_manifest(args.out, {"codec": codec})
    maybe_report(args, rep)
    return {"manifest": m, "parity": rep}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--from", dest="src", required=True, help="the Hugging Face checkpoint folder")
    common.add_argument("--out", required=True, help="pack folder to (re)write")
    common.add_argument("--id", default=None, help="pack id (default: the --out folder's name)")
    common.add_argument("--display-name", default=None)
    common.add_argument("--licence", default="see the source checkpoint's licence")
    common.add_argument("--tolerance", type=float, default=None, help="relative error allowed (default 1e-4; 1e-3 above 100M parameters)")
    common.add_argument("--report", default=None, help="also write the parity figures to this JSON file")
    common.add_argument("--external-data", choices=["auto", "always", "never"], default="auto",
                        help="ONNX external data (<graph>.onnx_data beside each graph): auto = only past protobuf's 2 GB limit (default); "
                             "always (tests); never = fail past 2 GB")
    common.add_argument("--external-data-chunk-bytes", type=int, default=None,
                        help="largest external-data file; more go to <graph>.onnx_data_1, _2 … (default and maximum: 2 GiB − 1 MiB, "
                             "under Node's 2 GiB fs.readFile limit; smaller values are for tests)")
    p = sub.add_parser("causal-lm", parents=[common], help="a Llama-family decoder → the published ONNX layout")
    p.add_argument("--dtype", choices=["fp32", "q4", "all"], default="fp32")
    p = sub.add_parser("ssd-lm", parents=[common], help="the official SSD-LM checkpoint → a simplex-diffusion-lm pack")
    p.add_argument("--embed-sum", default=None, help="embed_sum_layer.pt (default: in --from)")
    p.add_argument("--timestep", default=None, help="timestep_layer.pt (default: in --from)")
    p.add_argument("--block-size", type=int, default=25)
    p.add_argument("--k", type=float, default=5.0)
    p.add_argument("--t-train", type=int, default=5000)
    p.add_argument("--triton", default=None, help="also write a Triton model repository (concert-core, dense signature) here")
    p.add_argument("--triton-cpu", action="store_true", help="Triton instance_group KIND_CPU instead of KIND_GPU")
    p = sub.add_parser("classifier", parents=[common], help="a RoBERTa sequence classifier → a guidance classifier pack")
    p.add_argument("--attribute", default=None, help="the attribute name the CLI and UI steer by (default: the pack id)")
    p.add_argument("--labels", default=None, help="comma-separated label names (default: config.json id2label)")
    p.add_argument("--k", type=float, default=5.0)
    p = sub.add_parser("jpeg-lm", parents=[common], help="the JPEG-LM checkpoint → a codec-lm pack (Braille mapping)")
    p.add_argument("--dtype", choices=["fp32", "q4"], default="fp32")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--max-tokens", type=int, default=12288)
    args = ap.parse_args(argv)
    set_external_data(args.external_data, args.external_data_chunk_bytes)
    torch.manual_seed(0)
    print(f"model classes: {'transformers' if have_transformers() else 'tools/export/reference'}; torch {torch.__version__}", file=sys.stderr)
    fn = {"causal-lm": cmd_causal_lm, "ssd-lm": cmd_ssd_lm, "classifier": cmd_classifier, "jpeg-lm": cmd_jpeg_lm}[args.cmd]
    res = fn(args)
    worst = res["parity"]
    print(f"wrote {args.out}; parity ({worst['path']}): " + ", ".join(f"{k} {v:.2g}" for k, v in worst.items() if isinstance(v, float)), file=sys.stderr)
    return res


if __name__ == "__main__":
    main()

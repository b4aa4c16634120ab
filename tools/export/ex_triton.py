"""A Triton Inference Server model repository for a core diffusion model: the dense signature of the remote core
(`concert-core`, docs/remote-core.md, src/runtime/oip/signature.ts) served by Triton's ONNX Runtime backend from
one graph, so no Python (BLS) model is needed:

    <dir>/concert-core/config.pbtxt
    <dir>/concert-core/1/model.onnx        (+ model.onnx_data when the pack's graph has external data)

The graph is the SSD-LM denoiser of the pack with the signature's input names; `self_cond_logits` is declared and
ignored (SSD-LM has no self-conditioning). The names, datatypes and dims below are checked against the TypeScript
signature by tools/tests/test_export.py.
"""
from __future__ import annotations

import os
import shutil

SIGNATURE_VERSION = 1
DENSE_MODEL = "concert-core"


def dense_signature(B: int, V: int):
    """(inputs, outputs) as (name, Triton data type, dims); −1 = variable (R rows, L context tokens)."""
    inputs = [("context_ids", "TYPE_INT64", [-1, -1]), ("context_mask", "TYPE_INT64", [-1, -1]),
              ("noisy_logits", "TYPE_FP32", [-1, B, V]), ("self_cond_logits", "TYPE_FP32", [-1, B, V]), ("t_frac", "TYPE_FP32", [-1])]
    outputs = [("logits", "TYPE_FP32", [-1, B, V])]
    return inputs, outputs


def config_pbtxt(info: dict, gpu: bool = True) -> str:
    """info: pack, vocabSize, blockSize, k, tTrain, selfConditioning, maxContext."""
    ins, outs = dense_signature(info["blockSize"], info["vocabSize"])

    def tensor(name, dt, dims):
        return f'  {{ name: "{name}" data_type: {dt} dims: [ {", ".join(str(d) for d in dims)} ] }}'

    params = {"concert_signature": SIGNATURE_VERSION, "concert_pack": info["pack"], "concert_vocab_size": info["vocabSize"],
              "concert_block_size": info["blockSize"], "concert_k": info["k"], "concert_t_train": info["tTrain"],
              "concert_self_conditioning": "true" if info["selfConditioning"] else "false", "concert_max_context": info["maxContext"]}
    lines = [f'name: "{DENSE_MODEL}"', 'backend: "onnxruntime"', "max_batch_size: 0", "input ["]
    lines.append(",\n".join(tensor(*t) for t in ins))
    lines += ["]", "output ["]
    lines.append(",\n".join(tensor(*t) for t in outs))
    lines.append("]")
    for k, v in params.items():
        lines.append(f'parameters {{ key: "{k}" value {{ string_value: "{v}" }} }}')
    lines.append(f"instance_group [ {{ count: 1, kind: {'KIND_GPU' if gpu else 'KIND_CPU'} }} ]")
    return "\n".join(lines) + "\n"


def parse_pbtxt_tensors(text: str):
    """The inputs/outputs and parameters of a config.pbtxt written by config_pbtxt (a small reader for the tests)."""
    import re

    def block(name):
        m = re.search(name + r"\s*\[(.*?)\n\]", text, re.S)
        return [(n, dt, [int(x) for x in dims.split(",")]) for n, dt, dims in
                re.findall(r'name:\s*"([^"]+)"\s*data_type:\s*(\w+)\s*dims:\s*\[([^\]]*)\]', m.group(1))]

    params = dict(re.findall(r'parameters\s*\{\s*key:\s*"([^"]+)"\s*value\s*\{\s*string_value:\s*"([^"]*)"', text))
    name = re.search(r'^name:\s*"([^"]+)"', text, re.M).group(1)
    return {"name": name, "inputs": block("input"), "outputs": block("output"), "parameters": params}


def with_self_cond_input(src: str, dst: str, B: int, V: int) -> None:
    """Copies the denoiser graph, adding the (unused) `self_cond_logits` input the signature requires."""
    import onnx
    from onnx import TensorProto, helper

    from ex_common import save_onnx

    m = onnx.load(src)  # with its external data, if any
    if not any(i.name == "self_cond_logits" for i in m.graph.input):
        m.graph.input.append(helper.make_tensor_value_info("self_cond_logits", TensorProto.FLOAT, ["batch_size", B, V]))
    save_onnx(m, dst)  # model.onnx (+ model.onnx_data beside it, which Triton's onnxruntime backend reads)
    onnx.checker.check_model(dst)


def write_repository(out_dir: str, denoiser_onnx: str, info: dict, gpu: bool = True) -> str:
    d = os.path.join(out_dir, DENSE_MODEL)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "1"))
    with_self_cond_input(denoiser_onnx, os.path.join(d, "1", "model.onnx"), info["blockSize"], info["vocabSize"])
    with open(os.path.join(d, "config.pbtxt"), "w", encoding="utf-8") as f:
        f.write(config_pbtxt(info, gpu))
    return d

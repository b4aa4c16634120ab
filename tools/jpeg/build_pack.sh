#!/usr/bin/env bash
# data → train → export (+ ORT parity) → 4-bit quantisation (+ ORT parity) → evaluate → pack for models/concert-jpeg-32 (issue #14). Re-runnable: the data
# step is skipped when data/build/jpeg exists, an interrupted training run resumes from last.pt, a finished one is not
# repeated. MINUTES sets the training budget (default 40, the pack's run on 2 CPU cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
MINUTES=${MINUTES:-40}
WORK=data/build/export/concert-jpeg-32
CKPT=data/build/ckpt/jpeg-32/final.pt
[ -f data/build/jpeg/MANIFEST.json ] || $PY tools/jpeg/data.py
$PY tools/jpeg/train.py --max-minutes "$MINUTES"
mkdir -p "$WORK"
$PY tools/jpeg/export.py --ckpt "$CKPT" --out "$WORK/model_fp32.onnx"
# weight-only 4-bit (MatMulNBits, block 32): the shipped graph, its parity, the golden fixtures of its PyTorch
# reference (dequantised weights; copy $WORK/golden/decoder.json to test/fixtures/golden/concert-jpeg-32/) and that
# reference as a checkpoint for eval.py
$PY tools/jpeg/quantize.py --ckpt "$CKPT" --onnx "$WORK/model_fp32.onnx" --out "$WORK/model.onnx" --golden "$WORK/golden" \
    --ckpt-out "$WORK/q4.pt"
$PY tools/jpeg/eval.py --ckpt "$CKPT" --out "$WORK/eval_fp32.json"
$PY tools/jpeg/eval.py --ckpt "$WORK/q4.pt" --out "$WORK/eval.json" --grid "$WORK/samples.png"
$PY tools/jpeg/make_pack.py --ckpt "$CKPT" --work "$WORK" --out models/concert-jpeg-32

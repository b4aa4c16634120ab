#!/usr/bin/env bash
# data → train → export (+ ORT parity) → 4-bit MatMulNBits + int8 embeddings (+ ORT parity, golden fixtures) → evaluate
# → pack for models/concert-avc-32 (issue #15), then the random-weight test pack. Re-runnable: the data step is skipped
# when data/build/video/train.npz exists, an interrupted training run resumes from its last.pt, a finished one is not
# repeated.
#   MINUTES   training budget (default 40: the pack's run on 2 shared CPU cores)
#   INIT_FROM continue from this checkpoint's weights (fresh optimizer and schedule) into OUT_DIR
#   OUT_DIR   checkpoint folder (default data/build/ckpt/avc-32; set another one with INIT_FROM)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="nice -n 10 /usr/bin/python3"
MINUTES=${MINUTES:-40}
OUT_DIR=${OUT_DIR:-data/build/ckpt/avc-32}
WORK=data/build/export/concert-avc-32
CKPT=$OUT_DIR/final.pt
[ -f data/build/video/train.npz ] || $PY tools/video/data.py --train 2500 --val 360
$PY tools/video/train.py --max-minutes "$MINUTES" --out-dir "$OUT_DIR" ${INIT_FROM:+--init-from "$INIT_FROM"}
mkdir -p "$WORK"
$PY tools/video/export.py --ckpt "$CKPT" --work "$WORK" --golden "$WORK/golden"
$PY tools/video/eval.py --ckpt "$CKPT" --out "$WORK/eval_fp32.json" --no-samples
$PY tools/video/eval.py --ckpt "$WORK/q4.pt" --out "$WORK/eval.json" --strip "$WORK/samples.png"
$PY tools/video/make_pack.py --ckpt "$CKPT" --work "$WORK" --out models/concert-avc-32
mkdir -p test/fixtures/golden/concert-avc-32
cp "$WORK/golden/decoder.json" test/fixtures/golden/concert-avc-32/decoder.json
$PY tools/video/make_test_pack.py

#!/usr/bin/env bash
# Train → export → evaluate → pack Concert's bundled text models, in sequence (one heavy process at a time).
#
#   tools/models/train_all.sh                 full run: causal LM (~50 min general phase + ~22 min task phase)
#                                             then the two classifiers (~8 min each)
#   SMOKE=1 tools/models/train_all.sh         tiny models (~1 min each); packs go to data/build/smoke-packs/,
#                                             fixtures to data/build/smoke-golden/ (models/ and test/ untouched)
#   ONLY="sentiment style" tools/models/train_all.sh   a subset of: lm sentiment style
#
# Re-runnable: each training resumes from its last checkpoint, a finished training (final.pt with the same settings)
# is not repeated, and export/eval/pack are cheap and always redone. Background use:
#   nohup tools/models/train_all.sh > data/build/logs/train_all.log 2>&1 &
# Environment: PY (python with torch; default /usr/bin/python3), BUILD (data/build), DEVICE (auto|cpu|cuda),
# LM_MINUTES (50), LM_TASK_MINUTES (22), CLF_MINUTES (8), SEED (20261129).
#
# The causal LM trains in two phases: a general phase on the default mixture (general text 40%, summaries 25%,
# QA 23%, facts 12%), then a task phase initialised from it with a QA/fact-heavy mixture and a lower LR, which the
# pack ships (the general phase alone memorised few facts and did not copy answers from documents).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-data/build}
DEVICE=${DEVICE:-auto}
LM_MINUTES=${LM_MINUTES:-50}
LM_TASK_MINUTES=${LM_TASK_MINUTES:-22}
CLF_MINUTES=${CLF_MINUTES:-8}
SEED=${SEED:-20261129}
SMOKE=${SMOKE:-0}
ONLY=${ONLY:-lm sentiment style}

if [ "$SMOKE" = 1 ]; then
  SMOKE_FLAG=--smoke
  CK=$BUILD/ckpt-smoke
  PACKS=$BUILD/smoke-packs
  GOLDEN=$BUILD/smoke-golden
  LM_ARGS=(--smoke --out-dir "$CK/lm")
  LM_TASK_ARGS=(--smoke --max-minutes 0.5)
  CLF_ARGS=(--smoke)
else
  SMOKE_FLAG=
  CK=$BUILD/ckpt
  PACKS=models
  GOLDEN=test/fixtures/golden
  LM_ARGS=(--max-minutes "$LM_MINUTES" --out-dir "$CK/lm")
  LM_TASK_ARGS=(--max-minutes "$LM_TASK_MINUTES" --lr 6e-4 --warmup 20 --stream-tokens 3e6 --eval-every 100)
  CLF_ARGS=(--max-minutes "$CLF_MINUTES")
fi
EXPORT=$BUILD/export${SMOKE_FLAG:+-smoke}
mkdir -p "$BUILD/logs" "$EXPORT" "$PACKS"

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "[$(stamp)] train_all: stages '$ONLY', smoke=$SMOKE, device=$DEVICE, build=$BUILD"

for stage in $ONLY; do
  case "$stage" in
    lm)
      id=concert-lm-small
      echo "[$(stamp)] == $id: train"
      "$PY" tools/models/train_causal_lm.py --build-dir "$BUILD" --device "$DEVICE" --seed "$SEED" "${LM_ARGS[@]}"
      echo "[$(stamp)] == $id: train (task phase)"
      "$PY" tools/models/train_causal_lm.py --build-dir "$BUILD" --device "$DEVICE" --seed "$((SEED + 1))" \
        --init-from "$CK/lm/final.pt" --out-dir "$CK/lm-ft" --mix qa=0.45,facts=0.30,summarization=0.15,general=0.10 "${LM_TASK_ARGS[@]}"
      echo "[$(stamp)] == $id: export"
      "$PY" tools/models/export_causal_lm.py --ckpt "$CK/lm-ft/final.pt" --out "$EXPORT/$id/model.onnx" --golden "$GOLDEN/$id" --pack-id "$id"
      echo "[$(stamp)] == $id: evaluate (test split)"
      "$PY" tools/models/eval_causal_lm.py --ckpt "$CK/lm-ft/final.pt" --build-dir "$BUILD" --device "$DEVICE" --out "$EXPORT/$id/eval.json" $SMOKE_FLAG
      echo "[$(stamp)] == $id: pack"
      "$PY" tools/models/make_pack.py lm --ckpt "$CK/lm-ft/final.pt" --onnx "$EXPORT/$id/model.onnx" --eval "$EXPORT/$id/eval.json" \
        --build-dir "$BUILD" --work "$EXPORT/$id" --out "$PACKS/$id"
      ;;
    sentiment|style)
      id=concert-clf-$stage
      echo "[$(stamp)] == $id: train"
      "$PY" tools/models/train_classifier.py --attribute "$stage" --build-dir "$BUILD" --device "$DEVICE" --seed "$SEED" \
        --out-dir "$CK/clf-$stage" --eval-out "$EXPORT/$id/eval.json" "${CLF_ARGS[@]}"
      echo "[$(stamp)] == $id: export"
      "$PY" tools/models/export_classifier.py --ckpt "$CK/clf-$stage/final.pt" --out "$EXPORT/$id/classifier.onnx" \
        --golden "$GOLDEN/$id" --pack-id "$id" --build-dir "$BUILD"
      echo "[$(stamp)] == $id: pack"
      "$PY" tools/models/make_pack.py classifier --ckpt "$CK/clf-$stage/final.pt" --onnx "$EXPORT/$id/classifier.onnx" \
        --eval "$EXPORT/$id/eval.json" --build-dir "$BUILD" --work "$EXPORT/$id" --out "$PACKS/$id"
      ;;
    *)
      echo "unknown stage $stage (use lm, sentiment, style)" >&2
      exit 2
      ;;
  esac
done
du -sb "$PACKS"/concert-* 2>/dev/null || true
echo "[$(stamp)] train_all: done"

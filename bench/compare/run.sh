#!/usr/bin/env bash
# Two builds of marquee side by side, in one run, on the same data: the
# continuity, listening and home benchmarks, each run with binary A and with
# binary B in alternating order (A B, then B A, ...), so that a noisy
# neighbour hurts both alike. Prints each figure's median per binary and the
# ratio B/A (for latencies, A/B: above 1 means B is better either way).
#
#   bench/compare/run.sh OLD_BINARY NEW_BINARY
#   ROUNDS=2 RUNS=3 bench/compare/run.sh /tmp/marquee-before target/release/marquee
#
# A typical use: build the commit before a change into one binary and the
# change into another (`git worktree add /tmp/before REV`, `cargo build
# --release -p marquee` in each), then compare them here.
# Env: ROUNDS (alternations, default 2), RUNS (runs inside each benchmark per
# round, default 3), BENCHES (default "continuity listening home"),
# OUT (default bench/compare/results).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -eq 2 ] || { sed -n 2,17p "$0"; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2")
[ -x "$A" ] && [ -x "$B" ] || { echo "both binaries must exist and be executable"; exit 2; }
ROUNDS=${ROUNDS:-2}; RUNS=${RUNS:-3}
BENCHES=${BENCHES:-continuity listening home}
OUT=${OUT:-$ROOT/bench/compare/results}
mkdir -p "$OUT"
rm -f "$OUT"/*.log
echo "A = $A"
echo "B = $B"
echo "rounds $ROUNDS, runs per round $RUNS, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

one() { # BENCH LABEL BINARY ROUND
  local log="$OUT/$1.$2.$4.log"
  case $1 in
    continuity) BENCH_BIN=$3 "$ROOT/bench/continuity/run.sh" "$RUNS" 64 10 200 >"$log" 2>&1 ;;
    listening) BENCH_BIN=$3 RUNS=$RUNS N=${N:-100000} "$ROOT/bench/listening/run.sh" >"$log" 2>&1 ;;
    home) BENCH_BIN=$3 RUNS=$RUNS DURATION=${DURATION:-10} ENDPOINTS="home recommendations" \
      OUT="$OUT/home.$2.$4" "$ROOT/bench/home/run.sh" >"$log" 2>&1 ;;
  esac || { echo "$1 with $2 failed; see $log"; tail -5 "$log"; exit 1; }
  echo "$1 $2 round $4 done"
}

for r in $(seq 1 "$ROUNDS"); do
  for bench in $BENCHES; do
    if [ $((r % 2)) = 1 ]; then one "$bench" A "$A" "$r"; one "$bench" B "$B" "$r"
    else one "$bench" B "$B" "$r"; one "$bench" A "$A" "$r"; fi
  done
done

python3 "$ROOT/bench/compare/summary.py" "$OUT" | tee "$OUT/summary.txt"

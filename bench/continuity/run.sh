#!/usr/bin/env bash
# Progress-event ingest over HTTP on loopback, with wrk (Debian package `wrk`).
# Usage: bench/continuity/run.sh [RUNS] [CONNECTIONS] [SECONDS] [VIEWERS]
set -euo pipefail
RUNS=${1:-5}; CONNS=${2:-64}; SECS=${3:-10}; VIEWERS=${4:-200}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/continuity"
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/marquee}
ADDR=127.0.0.1:18090
WORK=$(mktemp -d)
trap 'kill ${SERVER:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -p marquee)

# A small catalog of 50 films.
mkdir -p "$WORK/ml"
{ echo "movieId,title,genres"; for i in $(seq 1 50); do echo "$i,Film $i (2000),Drama"; done; } > "$WORK/ml/movies.csv"
{ echo "userId,movieId,rating,timestamp"; echo "1,1,4.0,1"; } > "$WORK/ml/ratings.csv"
cd "$WORK"
MARQUEE_DATA_DIR="$WORK/data" "$BIN" import movielens "$WORK/ml" > /dev/null
MARQUEE_DATA_DIR="$WORK/data" MARQUEE_LOG__FILTER=warn "$BIN" serve --addr $ADDR --no-demo \
  --admin-password bench-admin-pass > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "http://$ADDR/healthz" > /dev/null && break; sleep 0.1; done
python3 "$HERE/setup.py" $ADDR "$VIEWERS" 50 "$WORK/sessions.txt"

TOTAL=0
for r in $(seq 1 "$RUNS"); do
  OUT=$(SESSIONS="$WORK/sessions.txt" wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$HERE/progress.lua" "http://$ADDR" | grep '^RESULT')
  echo "run $r: ${OUT#RESULT }"
  ACK=$(echo "$OUT" | sed -E 's/.* acked=([0-9]+).*/\1/')
  TOTAL=$((TOTAL + ACK))
done
python3 "$HERE/check.py" "$WORK/data/marquee.db" "$TOTAL"
python3 "$HERE/sse_latency.py" $ADDR 200
echo "settings: wrk -t2 -c$CONNS -d${SECS}s, $VIEWERS streams, $RUNS runs, $(nproc) cores"

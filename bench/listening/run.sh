#!/usr/bin/env bash
# Listening benchmarks:
#  1. ingest: posts/s classified and committed, end to end through
#     POST /api/v1/posts (release build, fresh database, load.py);
#  2. the same file through `marquee ingest posts` (one connection, with the
#     CLI's own line validation);
#  3. the backlash detector's false-alarm rate on quiet simulated days and its
#     delay on an injected backlash.
# Usage: bench/listening/run.sh   (env: N posts per run, RUNS, BATCH, CONC)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-200000}; RUNS=${RUNS:-5}; BATCH=${BATCH:-2000}; CONC=${CONC:-2}
PORT=${PORT:-18282}
# BENCH_BIN runs another binary (e.g. an older build, side by side in
# bench/compare/run.sh); then nothing is built and the detector part is skipped.
if [ -z "${SKIP_BUILD:-}" ] && [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release -p marquee -q
  cargo build --release -p marquee-server --example detector_fa -q
fi
T=${CARGO_TARGET_DIR:-target}/release
BIN=${BENCH_BIN:-$T/marquee}
DIR=$(mktemp -d)
MARQUEE_DATA_DIR=$DIR/data "$BIN" serve --no-demo --addr 127.0.0.1:$PORT \
  --admin-password bench-admin-pw >"$DIR/serve.log" 2>&1 &
PID=$!
trap 'kill ${PID:-} 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 100); do curl -sf localhost:$PORT/healthz >/dev/null && break; sleep 0.2; done
ADMIN=$(curl -sf -X POST localhost:$PORT/api/v1/auth/login -H 'content-type: application/json' \
  -d '{"email":"admin@marquee.local","password":"bench-admin-pw"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
TOKEN=$(curl -sf -X POST localhost:$PORT/api/v1/listening/tokens -H "Authorization: Bearer $ADMIN" \
  -H 'content-type: application/json' -d '{"name":"bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "== ingest: $N posts per run, batch $BATCH, $CONC connections, $RUNS runs (nproc $(nproc), load $(cut -d' ' -f1 /proc/loadavg))"
RATES=()
for r in $(seq "$RUNS"); do
  python3 bench/listening/gen_posts.py "$N" "$DIR/posts.jsonl" "run$r"
  OUT=$(python3 bench/listening/load.py "$DIR/posts.jsonl" "127.0.0.1:$PORT" "$TOKEN" "$BATCH" "$CONC")
  echo "run $r: $OUT"
  RATES+=("$(echo "$OUT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["posts_per_s"])')")
done
printf '%s\n' "${RATES[@]}" | sort -n | awk '{a[NR]=$1} END {print "median posts/s:", a[int((NR+1)/2)]}'
echo "== the same through marquee ingest posts (new ids)"
python3 bench/listening/gen_posts.py "$N" "$DIR/posts.jsonl" cli
START=$(date +%s.%N)
"$BIN" ingest posts "$DIR/posts.jsonl" --server "http://127.0.0.1:$PORT" --token "$TOKEN" --batch "$BATCH"
END=$(date +%s.%N)
python3 -c "print('marquee ingest posts: %.0f posts/s' % ($N / ($END - $START)))"
echo "== detector: false alarms on quiet days, delay on a backlash"
if [ -z "${BENCH_BIN:-}" ] && [ -x "$T/examples/detector_fa" ]; then "$T/examples/detector_fa" 20 7 24; fi

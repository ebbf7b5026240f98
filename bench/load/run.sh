#!/usr/bin/env bash
# The mixed load scenario (issue 11): browsing, progress reports, social posts
# and support chat at once, for DURATION seconds, against one `marquee serve`
# per backend. Reports per route the error rate and p50/p99 (wrk), and the
# server's RSS every 5 s; bench/load/report.py prints the table and draws the
# RSS chart (results/rss.svg).
#
#   bench/load/run.sh                          # SQLite, 600 s
#   PG_URL=postgres://postgres@127.0.0.1:5432 BACKENDS="sqlite postgres" bench/load/run.sh
#   DURATION=60 bench/load/run.sh              # a short check
#
# Rates (requests/s): BROWSE_RATE (home, recommendations, /, title pages in
# turn), PROGRESS_RATE (progress reports), POSTS_RATE (batches of BATCH posts),
# CHAT_RATE (customer messages). Uses $BIN or the release build.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-600}
BACKENDS=${BACKENDS:-sqlite}
BROWSE_RATE=${BROWSE_RATE:-400}
PROGRESS_RATE=${PROGRESS_RATE:-1000}
POSTS_RATE=${POSTS_RATE:-40}
BATCH=${BATCH:-50}
CHAT_RATE=${CHAT_RATE:-20}
PORT=${PORT:-18097}
OUT=${OUT:-bench/load/results}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p marquee >/dev/null
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/marquee}
export ADMIN_PASSWORD=load-admin-pass
BASE=http://127.0.0.1:$PORT
mkdir -p "$OUT"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null || true; jobs -p | xargs -r kill 2>/dev/null || true; }
trap cleanup EXIT

for backend in $BACKENDS; do
  dir="$OUT/$backend"
  rm -rf "$dir"; mkdir -p "$dir"
  data=$(mktemp -d)
  unset MARQUEE_DATABASE__URL
  if [ "$backend" = postgres ]; then
    : "${PG_URL:?PG_URL (an admin URL) is needed for the postgres backend}"
    db="marquee_load_$$"
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    export MARQUEE_DATABASE__URL="$PG_URL/$db"
  fi
  MARQUEE_LOG__FILTER=warn "$BIN" serve --addr 127.0.0.1:$PORT --data-dir "$data" \
    --admin-password "$ADMIN_PASSWORD" >"$dir/server.log" 2>&1 &
  server=$!
  for _ in $(seq 1 900); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 1; done
  admin=$(curl -sf -H 'content-type: application/json' \
    -d "{\"email\":\"admin@marquee.local\",\"password\":\"$ADMIN_PASSWORD\"}" "$BASE/api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  for _ in $(seq 1 900); do
    ready=$(curl -sf -H "Authorization: Bearer $admin" "$BASE/api/v1/staff/recs" \
      | python3 -c 'import json,sys; s=json.load(sys.stdin); print(int(s["ready"] and not s["training"]["running"]))')
    [ "$ready" = 1 ] && break; sleep 1
  done
  python3 bench/load/setup.py "$BASE" "$dir" 200 400 300
  # RSS every 5 s.
  ( t0=$(date +%s); while kill -0 "$server" 2>/dev/null; do
      echo "$(( $(date +%s) - t0 )) $(awk '/VmRSS/ {print $2}' /proc/$server/status)"; sleep 5; done ) >"$dir/rss.txt" &
  sampler=$!
  run() { # route script rate connections
    ROUTE=$1 RATE=$3 CONNECTIONS=$4 PROFILES_FILE="$dir/viewers.json" SESSIONS="$dir/sessions.txt" \
      INGEST_TOKEN=$(cat "$dir/ingest_token.txt") CONVERSATIONS="$dir/conversations.txt" BATCH=$BATCH \
      wrk -t1 -c"$4" -d"${DURATION}s" --timeout 10s -s "bench/load/$2" "$BASE" >"$dir/$1.txt" 2>&1
  }
  pids=()
  run browse browse.lua "$BROWSE_RATE" 8 & pids+=($!)
  run progress progress.lua "$PROGRESS_RATE" 8 & pids+=($!)
  run posts posts.lua "$POSTS_RATE" 2 & pids+=($!)
  run chat chat.lua "$CHAT_RATE" 2 & pids+=($!)
  wait "${pids[@]}" || true
  kill "$sampler" 2>/dev/null || true
  grep -h RESULT "$dir"/*.txt | sed "s/^/$backend /"
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  rm -rf "$data"
  if [ "$backend" = postgres ]; then
    psql "$PG_URL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  fi
done
python3 bench/load/report.py "$OUT" $BACKENDS

#!/usr/bin/env bash
# Home page and recommendations under load, on loopback, with the demo data set.
#
#   bench/home/run.sh            # RUNS=3 DURATION=20 CONNECTIONS=8 PROFILES=50
#   CACHE=off bench/home/run.sh  # the cache-miss path: no session or profile cache
#   ENDPOINTS="home recommendations" bench/home/run.sh
#   RATE=2500 CONNECTIONS=10 bench/home/run.sh   # paced: about 2,000 req/s offered
#   ARTWORK=off bench/home/run.sh  # no generated posters (cards are colour tiles)
#
# Builds marquee in release mode, starts `marquee serve` on a fresh data
# directory (first start imports the demo catalog and trains the configured
# model), logs in PROFILES demo viewers, then runs wrk RUNS times against each
# endpoint, rotating over the viewers (bench/home/rotate.lua). Prints each run's
# requests/s and latency percentiles and the server's RSS (VmRSS after the runs,
# VmHWM = peak), then the medians. With ARTWORK=on (the default) the load
# starts once the poster worker has drawn the demo's posters and the home
# page shows them. Last, the HTML home page's weight and time to first byte
# (curl, one request per viewer, twice over), as a browser sees them.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-1}
PROFILES=${PROFILES:-50}
PORT=${PORT:-18089}
OUT=${OUT:-bench/home/results}
CACHE=${CACHE:-on}
ENDPOINTS=${ENDPOINTS:-home recommendations page}
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)"; exit 1; }

# BENCH_BIN runs another binary (e.g. an older build, side by side in
# bench/compare/run.sh); then nothing is built.
[ -n "${SKIP_BUILD:-}" ] || [ -n "${BENCH_BIN:-}" ] || cargo build --release -p marquee >/dev/null
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/marquee}
DATA=$(mktemp -d)
trap 'kill ${SERVER:-} 2>/dev/null || true; rm -rf "$DATA"' EXIT
# Fifty log-ins from one address in a few seconds: above the anonymous
# write limit meant for the open internet.
export MARQUEE_AUTH__ANONYMOUS_PER_MINUTE=${MARQUEE_AUTH__ANONYMOUS_PER_MINUTE:-100000}
ARTWORK=${ARTWORK:-on}
if [ "$ARTWORK" = off ]; then
  export MARQUEE_CATALOG__GENERATE_POSTERS=false
fi
if [ "$CACHE" = off ]; then
  export MARQUEE_RECS__CACHE_TTL_S=0 MARQUEE_AUTH__SESSION_CACHE_S=0
fi
MARQUEE_LOG__FILTER=warn \
  "$BIN" serve --addr 127.0.0.1:$PORT --data-dir "$DATA" --admin-password 'bench-admin-pass' >"$OUT/server.log" 2>&1 &
SERVER=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 600); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.5; done

ADMIN=$(curl -sf -H 'content-type: application/json' \
  -d '{"email":"admin@marquee.local","password":"bench-admin-pass"}' "$BASE/api/v1/auth/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "waiting for the trained model..."
for _ in $(seq 1 1200); do
  READY=$(curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/staff/recs" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); print(int(s["ready"] and not s["training"]["running"]))')
  [ "$READY" = 1 ] && break; sleep 1
done
curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/staff/recs" >"$OUT/recs_status.json"

python3 bench/home/setup.py "$BASE" "$PROFILES" "$OUT/profiles.json"
FIRST_TOKEN=$(head -1 "$OUT/profiles.json.txt" | cut -d' ' -f1)
if [ "$ARTWORK" = on ]; then
  echo "waiting for the generated posters..."
  # (grep -c on whole outputs: `curl | grep -q` fails under pipefail when
  # grep stops reading early.)
  for _ in $(seq 1 600); do
    curl -sf "$BASE/metrics" > "$OUT/metrics.txt" || true
    curl -sf -H "Authorization: Bearer $FIRST_TOKEN" "$BASE/" > "$OUT/page.html" || true
    if [ "$(grep -c '^marquee_poster_worker_busy 0' "$OUT/metrics.txt")" = 1 ] \
      && [ "$(grep -Ec '^marquee_posters_generated_total [1-9]' "$OUT/metrics.txt")" = 1 ] \
      && [ "$(grep -c 'src="/art/' "$OUT/page.html")" -gt 0 ]; then
      break
    fi
    sleep 1
  done
  echo "posters: $(grep '^marquee_posters_generated_total' "$OUT/metrics.txt")"
fi
grep -E "VmRSS|VmHWM" "/proc/$SERVER/status" | sed 's/^/before load: /' | tee "$OUT/rss_start.txt"

rm -f "$OUT"/wrk_*.txt
for ep in $ENDPOINTS; do
  for r in $(seq 1 "$RUNS"); do
    ENDPOINT=$ep PROFILES_FILE="$OUT/profiles.json" RATE=${RATE:-0} CONNECTIONS=$CONNECTIONS \
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/home/rotate.lua "$BASE" \
      >"$OUT/wrk_${ep}_$r.txt"
    grep -E "Requests/sec|99%|50%" "$OUT/wrk_${ep}_$r.txt" | tr -s ' ' | paste -sd' ' | sed "s/^/$ep run $r: /"
  done
done
grep -E "VmRSS|VmHWM" "/proc/$SERVER/status" | sed 's/^/after load: /' | tee "$OUT/rss.txt"
curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/staff/recs" \
  | python3 -c 'import json,sys; s=json.load(sys.stdin); print("cache", s["cache"], "profiles cached", s["cache_profiles"])' \
  | tee "$OUT/cache.txt"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/loadavg.txt"
# The HTML home page as a browser gets it: bytes, time to first byte, images.
: > "$OUT/page_weight.txt"
for _ in 1 2; do
  while read -r token _pid; do
    curl -s -o "$OUT/page.html" -w '%{size_download} %{time_starttransfer}' \
      -H "Authorization: Bearer $token" "$BASE/" >> "$OUT/page_weight.txt"
    echo " $(grep -o 'src="/art/' "$OUT/page.html" | wc -l || true)" >> "$OUT/page_weight.txt"
  done < "$OUT/profiles.json.txt"
done
python3 bench/home/summary.py "$OUT"

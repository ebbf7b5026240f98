#!/usr/bin/env bash
# Media serving (issue 23, Benchmarks): one media file served with HTTP Range
# by Marquee and by nginx side by side, and the time from Play to the first
# frame in headless Chromium, for direct play and (once the server offers
# it) remuxed HLS.
#
#   bench/media/run.sh                      # RUNS=3 DURATION=10 READERS=32 CHUNK=1 MiB MODE=random
#   SKIP_BUILD=1 RUNS=5 bench/media/run.sh
#   MODE=seq CHUNK=2097152 bench/media/run.sh   # each reader reads on like a player, 2 MiB at a time
#   FIRST_FRAME=off bench/media/run.sh      # Range serving only;  RANGE=off: first frame only
#   WRK=off bench/media/run.sh              # no wrk cross-check of the load generator
#   SERVERS="marquee nginx axum-servefile axum-pread" bench/media/run.sh   # + the profiling aid
#
# 1. Makes the media with ffmpeg once (cached in $OUT/media): MEDIA_S
#    seconds (default 90) of 1280x720 30 fps H.264 (testsrc2, 3 Mb/s, a
#    key frame every 2 s) and AAC stereo (a sine), MP4 with the index first
#    (faststart), about 35 MB; and the same streams copied into Matroska
#    (.mkv), which plan.rs sends through HLS (remux: H.264/AAC in a
#    container that is not WebM). Not x264's `nal-hrd=cbr`: its
#    buffering-period SEI before the SPS plays as MP4 but fails to decode
#    (PIPELINE_ERROR_DECODE on the second frame) once remuxed to HLS in
#    Chromium 148's native HLS player.
# 2. Builds marquee (release; not with SKIP_BUILD=1 or BENCH_BIN=…) and
#    bench/media/rangeload.rs (std only, `rustc -O`), starts `marquee serve`
#    on a fresh data directory (demo import; no generated posters, so that
#    no poster worker competes for the 2 cores), with both files in its
#    media directory ({data}/media), and waits for the recommender's model.
# 3. Starts Debian's nginx (apt-get installs it when missing) as a
#    throw-away instance: its own prefix and config in a temp directory,
#    a free port, `sendfile on`, `worker_processes auto`, serving the same
#    file from the same directory (so the same page cache).
# 4. bench/media/setup.py gives two demo movies the files (the admin API),
#    logs viewers in, selects their profiles, and reads the signed media URL
#    from the watch page (`/media/{id}?sub=…&exp=…&sig=…`): the load uses
#    it without a cookie, as a CDN or the player would.
# 5. Range load (rangeload): READERS keep-alive connections, closed loop,
#    each asking CHUNK-byte ranges (MODE=random: random 4 KiB-aligned
#    offsets; seq: reading on from a random start) for DURATION seconds.
#    Per request: time to first byte (request written → first response
#    byte) and full latency; body MB/s (10^6 bytes) over all readers; every
#    answer must be a 206 with the asked Content-Range. A 2 s warm-up each,
#    then RUNS rounds alternating marquee, nginx; each run also records the
#    server's CPU seconds (/proc/PID/stat; nginx: master and workers) and
#    the client's. WRK=on: one extra run each with wrk (bench/media/range.lua,
#    full-response latency only), to check that rangeload is not the limit.
#    SERVERS may add two servers of bench/media/servefile-exp (a bare axum
#    server built here with the workspace's Cargo.lock, on the same file):
#    axum-servefile (tower-http ServeFile as Marquee's handler uses it,
#    nothing else) and axum-pread (one positional read per range): they
#    separate what ServeFile costs from what Marquee's handler adds.
# 6. First frame (bench/media/firstframe.cjs, puppeteer-core into UI_TOOLS
#    as bench/ui/run.sh installs it, the system's Chromium): for the MP4
#    title (direct) and, when GET /api/v1/titles/{id}/playback-info offers
#    the MKV title an HLS source, the MKV title; RUNS times each, "click"
#    (loaded page, Play clicked → first frame) and "open" (/watch/{id}?play=1
#    → first frame).
# 7. bench/media/summary.py prints the runs and the medians ($OUT/summary.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
READERS=${READERS:-32}
CHUNK=${CHUNK:-1048576}
MODE=${MODE:-random}
MEDIA_S=${MEDIA_S:-90}
OUT=${OUT:-bench/media/results}
RANGE=${RANGE:-on}
SERVERS=${SERVERS:-marquee nginx}
WRK=${WRK:-on}
FIRST_FRAME=${FIRST_FRAME:-on}
UI_TOOLS=${UI_TOOLS:-$HOME/.cache/marquee-ui-tools}
CHROME=${CHROME:-$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)}
ADMIN_PASSWORD=bench-admin-pass
# No network here; autoplay allowed so that ?play=1 (a Play click on the
# title page, then a new page) is not refused as an autoplay without a gesture.
CHROME_FLAGS="--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --autoplay-policy=no-user-gesture-required --mute-audio"
mkdir -p "$OUT/media"
rm -f "$OUT"/range.jsonl "$OUT"/firstframe.jsonl "$OUT"/wrk_*.txt "$OUT"/headers-*.txt

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=${PORT:-$(free_port)}
NGINX_PORT=${NGINX_PORT:-$(free_port)}
EXP_PORT=${EXP_PORT:-$(free_port)}
apt_install() {
  echo "installing $1 (apt-get)..."
  { apt-get install -y --no-install-recommends "$1" || { apt-get update && apt-get install -y --no-install-recommends "$1"; }; } >/dev/null
}
command -v ffmpeg >/dev/null || apt_install ffmpeg
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx
NGINX_BIN=$(command -v nginx || echo /usr/sbin/nginx)
command -v rustc >/dev/null || { echo "rustc is required (the load generator is bench/media/rangeload.rs)"; exit 1; }

# The media, made once.
MP4="$OUT/media/bench-${MEDIA_S}s-3M.mp4"
MKV="$OUT/media/bench-${MEDIA_S}s-3M.mkv"
if [ ! -s "$MP4" ]; then
  echo "making ${MEDIA_S} s of 1280x720 H.264/AAC with ffmpeg (once)..."
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=$MEDIA_S" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$MEDIA_S" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 60 \
    -b:v 3M -maxrate 3M -bufsize 6M \
    -c:a aac -b:a 128k -ac 2 -movflags +faststart -shortest "$MP4.tmp.mp4"
  mv "$MP4.tmp.mp4" "$MP4"
fi
[ -s "$MKV" ] || { ffmpeg -hide_banner -loglevel error -y -i "$MP4" -c copy "$MKV.tmp.mkv" && mv "$MKV.tmp.mkv" "$MKV"; }
SIZE=$(stat -c %s "$MP4")
echo "media: $MP4 ($SIZE bytes), $MKV ($(stat -c %s "$MKV") bytes)"

[ -n "${SKIP_BUILD:-}" ] || [ -n "${BENCH_BIN:-}" ] || cargo build --release -p marquee >/dev/null
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/marquee}
LOAD="$OUT/rangeload"
if [ ! -x "$LOAD" ] || [ bench/media/rangeload.rs -nt "$LOAD" ]; then
  rustc -O --edition 2021 -o "$LOAD" bench/media/rangeload.rs
fi

EXP_BIN=
case " $SERVERS " in *" axum-"*)
  cp Cargo.lock bench/media/servefile-exp/Cargo.lock
  cargo build --release --offline --manifest-path bench/media/servefile-exp/Cargo.toml \
    --target-dir bench/media/servefile-exp/target >/dev/null 2>&1 \
    || cargo build --release --manifest-path bench/media/servefile-exp/Cargo.toml \
      --target-dir bench/media/servefile-exp/target >/dev/null
  EXP_BIN=bench/media/servefile-exp/target/release/servefile-exp
esac

DATA=$(mktemp -d)
NGX=$(mktemp -d)
cleanup() {
  [ -z "${EXP:-}" ] || { kill "$EXP" 2>/dev/null || true; wait "$EXP" 2>/dev/null || true; }
  [ -z "${SERVER:-}" ] || { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  [ -z "${NGINX:-}" ] || { kill "$NGINX" 2>/dev/null || true; wait "$NGINX" 2>/dev/null || true; }
  rm -rf "$DATA" "$NGX"
}
trap cleanup EXIT
mkdir -p "$DATA/media"
# nginx's workers run as another user (nobody) when started by root.
chmod 711 "$DATA"
chmod 755 "$DATA/media"
cp "$MP4" "$DATA/media/bench.mp4"
cp "$MKV" "$DATA/media/bench.mkv"

# Many log-ins from one address in a few seconds: above the anonymous
# write limit meant for the open internet.
export MARQUEE_AUTH__ANONYMOUS_PER_MINUTE=${MARQUEE_AUTH__ANONYMOUS_PER_MINUTE:-100000}
export MARQUEE_CATALOG__GENERATE_POSTERS=${MARQUEE_CATALOG__GENERATE_POSTERS:-false}
MARQUEE_LOG__FILTER=${MARQUEE_LOG__FILTER:-warn} \
  "$BIN" serve --addr 127.0.0.1:$PORT --data-dir "$DATA" --admin-password "$ADMIN_PASSWORD" >"$OUT/server.log" 2>&1 &
SERVER=$!
BASE=http://127.0.0.1:$PORT
echo "starting marquee on $BASE (first start imports the demo)..."
for _ in $(seq 1 600); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/healthz" >/dev/null || { echo "the server did not start:"; tail -20 "$OUT/server.log"; exit 1; }

# nginx: a throw-away instance, nothing of the system's configuration.
mkdir -p "$NGX/logs" "$NGX/tmp"
cat >"$NGX/nginx.conf" <<EOF
worker_processes auto;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $NGX/tmp;
  proxy_temp_path $NGX/tmp;
  fastcgi_temp_path $NGX/tmp;
  uwsgi_temp_path $NGX/tmp;
  scgi_temp_path $NGX/tmp;
  types { video/mp4 mp4; video/x-matroska mkv; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $DATA/media;
  }
}
EOF
"$NGINX_BIN" -p "$NGX" -c "$NGX/nginx.conf" -g 'daemon off;' &
NGINX=$!
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/bench.mp4" -r 0-0 && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/bench.mp4" -r 0-0 \
  || { echo "nginx does not serve the file:"; curl -s -r 0-0 "http://127.0.0.1:$NGINX_PORT/bench.mp4" | head -3; tail -5 "$NGX/logs/error.log"; exit 1; }
echo "nginx $("$NGINX_BIN" -v 2>&1 | sed 's/.*\///') on 127.0.0.1:$NGINX_PORT, $(pgrep -c -P "$NGINX") workers"

if [ -n "$EXP_BIN" ]; then
  FILE="$DATA/media/bench.mp4" ADDR=127.0.0.1:$EXP_PORT "$EXP_BIN" &
  EXP=$!
  for _ in $(seq 1 50); do curl -sf -o /dev/null -r 0-0 "http://127.0.0.1:$EXP_PORT/pread" && break; sleep 0.1; done
fi

ADMIN=$(curl -sf -H 'content-type: application/json' \
  -d "{\"email\":\"admin@marquee.local\",\"password\":\"$ADMIN_PASSWORD\"}" "$BASE/api/v1/auth/login" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "waiting for the trained model (no background work during the load)..."
for _ in $(seq 1 1200); do
  READY=$(curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/api/v1/staff/recs" \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); print(int(s["ready"] and not s["training"]["running"]))' || echo 0)
  [ "$READY" = 1 ] && break; sleep 1
done

# Viewers: one for the media URL, then one per first-frame measurement.
python3 bench/media/setup.py "$BASE" admin@marquee.local "$ADMIN_PASSWORD" $((4 * RUNS + 1)) "$OUT/setup.json" \
  bench.mp4:direct bench.mkv:hls
MEDIA_URL=$BASE$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["titles"]["direct"]["media_url"])' "$OUT/setup.json")
NGINX_URL=http://127.0.0.1:$NGINX_PORT/bench.mp4


# CPU seconds of a server (nginx: the master and its workers).
cpu_of() {
  local pids=$1 total=0 p t
  [ "$2" = nginx ] && pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
  for p in $pids; do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
url_of() {
  case $1 in
    marquee) echo "$MEDIA_URL" ;;
    nginx) echo "$NGINX_URL" ;;
    axum-servefile) echo "http://127.0.0.1:$EXP_PORT/servefile" ;;
    axum-pread) echo "http://127.0.0.1:$EXP_PORT/pread" ;;
  esac
}
pid_of() { case $1 in marquee) echo "$SERVER" ;; nginx) echo "$NGINX" ;; *) echo "$EXP" ;; esac; }
TICK=$(getconf CLK_TCK)

# Each answers a Range with the file's bytes (the signed link needs no cookie).
dd if="$MP4" of="$NGX/want" bs=1 skip=1000000 count=65536 status=none
for s in $SERVERS; do
  curl -sf -r 1000000-1065535 -o "$NGX/got-$s" "$(url_of $s)" && cmp -s "$NGX/want" "$NGX/got-$s" \
    || { echo "$s did not answer the Range with the file's bytes"; exit 1; }
  curl -s -o /dev/null -D "$OUT/headers-$s.txt" -r 0-1023 "$(url_of $s)"
done
echo "Range checked on $SERVERS; marquee: $(head -1 "$OUT/headers-marquee.txt" | tr -d '\r')"

if [ "$RANGE" = on ]; then
  echo "warm-up (2 s each)..."
  for s in $SERVERS; do "$LOAD" "$(url_of $s)" "$SIZE" "$READERS" 2 "$CHUNK" "$MODE" 1 >/dev/null; done
  : >"$OUT/range.jsonl"
  echo "range load: $READERS readers, $MODE ranges of $CHUNK bytes, ${DURATION}s, $RUNS rounds of: $SERVERS"
  for r in $(seq 1 "$RUNS"); do
    for s in $SERVERS; do
      c0=$(cpu_of "$(pid_of $s)" $s)
      line=$("$LOAD" "$(url_of $s)" "$SIZE" "$READERS" "$DURATION" "$CHUNK" "$MODE" "$r")
      c1=$(cpu_of "$(pid_of $s)" $s)
      line=$(python3 bench/media/summary.py --annotate "$line" $s "$r" "$(( c1 - c0 ))" "$TICK")
      echo "$line" >>"$OUT/range.jsonl"
      python3 bench/media/summary.py --line "$line"
    done
  done
  if [ "$WRK" = on ] && command -v wrk >/dev/null; then
    for s in $SERVERS; do
      SIZE=$SIZE CHUNK=$CHUNK wrk -t2 -c"$READERS" -d"${DURATION}s" --latency -s bench/media/range.lua "$(url_of $s)" >"$OUT/wrk_$s.txt"
      echo "wrk cross-check, $s: $(grep '^wrk:' "$OUT/wrk_$s.txt"), p99 (full response) $(grep ' 99%' "$OUT/wrk_$s.txt" | tr -s ' ' | cut -d' ' -f3)"
    done
  fi
fi

if [ "$FIRST_FRAME" = on ]; then
  if ! command -v node >/dev/null || [ ! -x "$CHROME" ]; then
    echo "first frame skipped: node and Chromium are required (apt-get install -y nodejs npm chromium)"
  else
    if [ ! -d "$UI_TOOLS/node_modules/puppeteer-core" ]; then
      echo "installing puppeteer-core into $UI_TOOLS..."
      mkdir -p "$UI_TOOLS"
      npm install --no-audit --no-fund --silent --prefix "$UI_TOOLS" puppeteer-core@24 >/dev/null
    fi
    KEYS=direct
    HLS_NOTE=$(python3 bench/media/summary.py --hls-note "$OUT/setup.json")
    if [ -z "$HLS_NOTE" ]; then KEYS="direct hls"; else echo "remuxed HLS skipped: $HLS_NOTE"; fi
    echo "play to first frame ($KEYS), $RUNS runs..."
    UI_TOOLS="$UI_TOOLS" CHROME="$CHROME" CHROME_FLAGS="$CHROME_FLAGS" BASE="$BASE" SETUP="$OUT/setup.json" \
      KEYS="$KEYS" RUNS="$RUNS" FIRST_VIEWER=1 node bench/media/firstframe.cjs | tee "$OUT/firstframe.jsonl"
    [ -z "$HLS_NOTE" ] || python3 -c 'import json,sys; print(json.dumps({"key": "hls", "skipped": sys.argv[1]}))' "$HLS_NOTE" >>"$OUT/firstframe.jsonl"
  fi
fi

{
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates 2>/dev/null || echo ' (+ uncommitted changes under crates/)'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "marquee RSS: $(grep -E 'VmRSS|VmHWM' "/proc/$SERVER/status" | tr -s ' \t' ' ' | paste -sd' ')"
} >"$OUT/env.txt"
python3 bench/media/summary.py "$OUT" | tee "$OUT/summary.md"
echo "took $(( $(date +%s) - START )) s"

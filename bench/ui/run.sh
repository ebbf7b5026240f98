#!/usr/bin/env bash
# The pages as people see them: screenshots of every page at phone and
# desktop width, and Lighthouse scores for the main ones (issue 24).
#
#   bench/ui/run.sh                 # RUNS=3: builds, shoots, 3 Lighthouse runs per page
#   SKIP_BUILD=1 RUNS=1 bench/ui/run.sh
#   SHOTS=off bench/ui/run.sh       # Lighthouse only;  LIGHTHOUSE=off: screenshots only
#   BACKLASH=off bench/ui/run.sh    # no simulated day of social posts (faster, empty /listening)
#   ARTWORK=off bench/ui/run.sh     # no generated posters (cards are colour tiles; no wait)
#
# Builds marquee in release mode (unless SKIP_BUILD=1 or BENCH_BIN is set),
# starts `marquee serve` on a fresh data directory (the first start imports
# the MovieLens demo: 9,742 titles, 610 viewers viewerN@demo.marquee), adds a
# support agent with `marquee user add`, gives the pages content through the
# JSON API (bench/ui/seed.py) and replays a simulated day of social posts
# with a backlash (`marquee demo backlash`) so the listening pages and an
# alert have data, and waits for the generated posters. Then:
#  - screenshots (bench/ui/shots.cjs, puppeteer-core): every page as visitor,
#    viewer, agent and admin at 400 and 1,400 px, full page, into
#    bench/ui/shots/<role>/<width>/<page>.png (not committed), with an
#    index.tsv and a list of pages that scroll sideways or log console errors;
#  - Lighthouse (npm) RUNS times per page, mobile (Lighthouse's default) and
#    desktop (--preset=desktop), performance and accessibility, for home,
#    a title, its watch page and /ideas as a viewer, /listening and /staff as
#    the admin; the session cookie comes from a log-in through the /login
#    form and is passed with --extra-headers. Prints the medians, the failing
#    accessibility audits with their elements and the largest performance
#    opportunities (bench/ui/summary.py; also in $OUT/summary.md).
# Node tools come from the npm registry into UI_TOOLS (outside the repo);
# Chromium is the system's (CHROME, default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/../.."
START=$(date +%s)
RUNS=${RUNS:-3}
PORT=${PORT:-18095}
OUT=${OUT:-bench/ui/results}
SHOTS_DIR=${SHOTS_DIR:-bench/ui/shots}
SHOTS=${SHOTS:-on}
LIGHTHOUSE=${LIGHTHOUSE:-on}
BACKLASH=${BACKLASH:-on}
UI_TOOLS=${UI_TOOLS:-$HOME/.cache/marquee-ui-tools}
CHROME=${CHROME:-$(command -v chromium || command -v chromium-browser || echo /usr/bin/chromium)}
ADMIN_EMAIL=admin@marquee.local # config.rs: auth.admin_email's default
ADMIN_PASSWORD=bench-admin-pass
AGENT_EMAIL=agent@bench.marquee
VIEWER_EMAIL=viewer1@demo.marquee
PASSWORD=marquee-demo # the demo viewers' (demo.viewer_password), also the agent's
# No network here: without these Chromium keeps trying (and failing) to reach
# Google's services, which shows up in timings and logs.
CHROME_FLAGS="--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync"

command -v node >/dev/null || { echo "node and npm are required (apt-get install nodejs npm)"; exit 1; }
[ -x "$CHROME" ] || { echo "Chromium is required (apt-get install -y chromium chromium-driver)"; exit 1; }
if [ ! -x "$UI_TOOLS/node_modules/.bin/lighthouse" ] || [ ! -d "$UI_TOOLS/node_modules/puppeteer-core" ]; then
  echo "installing lighthouse and puppeteer-core into $UI_TOOLS..."
  mkdir -p "$UI_TOOLS"
  npm install --no-audit --no-fund --silent --prefix "$UI_TOOLS" lighthouse@12 puppeteer-core@24 >/dev/null
fi
echo "lighthouse $("$UI_TOOLS/node_modules/.bin/lighthouse" --version), $("$CHROME" --version 2>/dev/null)"

[ -n "${SKIP_BUILD:-}" ] || [ -n "${BENCH_BIN:-}" ] || cargo build --release -p marquee >/dev/null
BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/marquee}
DATA=$(mktemp -d)
TMPD=$(mktemp -d)
trap 'kill ${SERVER:-} 2>/dev/null || true; wait ${SERVER:-} 2>/dev/null || true; rm -rf "$DATA" "$TMPD"' EXIT
mkdir -p "$OUT"
# Many log-ins from one address in a few minutes: above the anonymous
# write limit meant for the open internet.
export MARQUEE_AUTH__ANONYMOUS_PER_MINUTE=${MARQUEE_AUTH__ANONYMOUS_PER_MINUTE:-100000}
ARTWORK=${ARTWORK:-on}
[ "$ARTWORK" = on ] || export MARQUEE_CATALOG__GENERATE_POSTERS=false
MARQUEE_LOG__FILTER=warn \
  "$BIN" serve --addr 127.0.0.1:$PORT --data-dir "$DATA" --admin-password "$ADMIN_PASSWORD" >"$OUT/server.log" 2>&1 &
SERVER=$!
BASE=http://127.0.0.1:$PORT
echo "starting the server (first start imports the demo)..."
for _ in $(seq 1 600); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/healthz" >/dev/null || { echo "the server did not start:"; tail -20 "$OUT/server.log"; exit 1; }
grep -E "admin login|demo viewer" "$OUT/server.log" || true

# The support agent: the CLI on the server's database.
MARQUEE_DATA_DIR="$DATA" MARQUEE_LOG__FILTER=warn \
  "$BIN" user add --email "$AGENT_EMAIL" --role agent --password "$PASSWORD"

python3 bench/ui/seed.py "$BASE" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$AGENT_EMAIL" "$VIEWER_EMAIL" "$PASSWORD" "$OUT/pages.json"
if [ "$BACKLASH" = on ]; then
  echo "replaying a day of social posts with a backlash (marquee demo backlash)..."
  TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ingest_token"])' "$OUT/pages.json")
  MARQUEE_LOG__FILTER=warn "$BIN" demo backlash --server "$BASE" --token "$TOKEN" \
    --speed "${BACKLASH_SPEED:-60}" >"$OUT/backlash.log" 2>&1 || { echo "backlash replay failed:"; tail -5 "$OUT/backlash.log"; }
  tail -2 "$OUT/backlash.log" | tr -d '\r' || true
  python3 bench/ui/seed.py --alert "$BASE" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$OUT/pages.json"
fi

if [ "$ARTWORK" = on ]; then
  echo "waiting for the generated posters..."
  VTOKEN=$(curl -sf -H 'content-type: application/json' \
    -d "{\"email\":\"$VIEWER_EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/api/v1/auth/login" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  for _ in $(seq 1 600); do
    curl -sf "$BASE/metrics" > "$TMPD/metrics.txt" || true
    curl -sf -H "Authorization: Bearer $VTOKEN" "$BASE/" > "$TMPD/page.html" || true
    # (grep -c on whole outputs: `curl | grep -q` fails under pipefail.)
    if [ "$(grep -c '^marquee_poster_worker_busy 0' "$TMPD/metrics.txt")" = 1 ] \
      && [ "$(grep -Ec '^marquee_posters_generated_total [1-9]' "$TMPD/metrics.txt")" = 1 ] \
      && [ "$(grep -c 'src="/art/' "$TMPD/page.html")" -gt 0 ]; then
      break
    fi
    sleep 1
  done
  echo "posters: $(grep '^marquee_posters_generated_total' "$TMPD/metrics.txt" || echo none)"
fi

if [ "$SHOTS" = on ]; then
  echo "screenshots..."
  rm -rf "$SHOTS_DIR"
  mkdir -p "$SHOTS_DIR" "$TMPD/profiles"
  ACCOUNTS=$(printf '{"viewer":["%s","%s"],"agent":["%s","%s"],"admin":["%s","%s"]}' \
    "$VIEWER_EMAIL" "$PASSWORD" "$AGENT_EMAIL" "$PASSWORD" "$ADMIN_EMAIL" "$ADMIN_PASSWORD")
  UI_TOOLS="$UI_TOOLS" CHROME="$CHROME" BASE="$BASE" PAGES="$OUT/pages.json" SHOTS="$SHOTS_DIR" \
    PROFILE_DIR="$TMPD/profiles" ACCOUNTS="$ACCOUNTS" CHROME_FLAGS="$CHROME_FLAGS" \
    node bench/ui/shots.cjs | tee "$OUT/shots.txt"
  echo "shots took $(( $(date +%s) - START )) s since the start"
fi

# A session cookie, from a log-in through the form (with its CSRF token).
session_cookie() {
  local jar="$TMPD/jar-$1" csrf
  curl -sf -c "$jar" -b "$jar" "$BASE/login" -o "$TMPD/login.html"
  csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$TMPD/login.html" | head -1)
  curl -sf -c "$jar" -b "$jar" -o /dev/null --data-urlencode "email=$1" --data-urlencode "password=$2" \
    --data-urlencode "csrf=$csrf" --data-urlencode "next=/" "$BASE/login"
  awk -F'\t' '$6 == "marquee_session" || $6 == "marquee_csrf" { printf "%s%s=%s", sep, $6, $7; sep="; " }' "$jar"
}

if [ "$LIGHTHOUSE" = on ]; then
  LH="$OUT/lighthouse"
  rm -rf "$LH"
  mkdir -p "$LH"
  for role in viewer admin; do
    if [ $role = viewer ]; then C=$(session_cookie "$VIEWER_EMAIL" "$PASSWORD"); else C=$(session_cookie "$ADMIN_EMAIL" "$ADMIN_PASSWORD"); fi
    case "$C" in *marquee_session=*) ;; *) echo "log-in through /login as $role failed"; exit 1 ;; esac
    printf '{"Cookie": "%s"}' "$C" > "$TMPD/headers-$role.json"
  done
  python3 -c 'import json,sys
for role, p in json.load(open(sys.argv[1]))["lighthouse"]:
    slug = p.strip("/").replace("/", "-") or "home"
    print(f"{slug}\t{role}\t{p}")' "$OUT/pages.json" > "$LH/pages.tsv"
  n=0
  for r in $(seq 1 "$RUNS"); do
    while IFS=$'\t' read -r slug role path; do
      for ff in mobile desktop; do
        n=$((n + 1))
        PRESET=()
        [ $ff = desktop ] && PRESET=(--preset=desktop)
        CHROME_PATH="$CHROME" timeout 300 "$UI_TOOLS/node_modules/.bin/lighthouse" "$BASE$path" \
          "${PRESET[@]}" --only-categories=performance,accessibility \
          --output=json --output-path="$LH/${role}__${slug}__${ff}__$r.json" --quiet \
          --chrome-flags="$CHROME_FLAGS --user-data-dir=$TMPD/lh-profile-$n" \
          --extra-headers="$TMPD/headers-$role.json" </dev/null 2>>"$LH/lighthouse.log" \
          || echo "lighthouse failed: $path $ff run $r (see $LH/lighthouse.log)"
        rm -rf "$TMPD/lh-profile-$n"
        python3 bench/ui/summary.py --one "$LH/${role}__${slug}__${ff}__$r.json" "run $r" || true
      done
    done < "$LH/pages.tsv"
  done
  echo
  python3 bench/ui/summary.py "$LH" | tee "$OUT/summary.md"
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "took $(( $(date +%s) - START )) s"

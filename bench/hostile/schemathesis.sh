#!/usr/bin/env bash
# schemathesis against a live Marquee with the demo catalog, as an admin and
# as a viewer. Checks: no 5xx (not_a_server_error) and every response matches
# the OpenAPI document (status_code_conformance, content_type_conformance,
# response_schema_conformance, response_headers_conformance).
#
#   bench/hostile/schemathesis.sh            # MAX_EXAMPLES=25 by default
#
# Needs: python3 (a venv with schemathesis is made in bench/hostile/.venv),
# and `cargo build -p marquee` (uses target/debug/marquee or $BIN; MARQUEE_*
# variables are the server's configuration, so the binary is not one of them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/marquee}
port=${PORT:-18099}
examples=${MAX_EXAMPLES:-25}
out=${OUT:-$here/results}
mkdir -p "$out"
if [ ! -x "$here/.venv/bin/st" ]; then
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q schemathesis
fi
data=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
MARQUEE_RECS__RETRAIN_INTERVAL_S=86400 "$bin" serve --data-dir "$data" --addr "127.0.0.1:$port" \
  --admin-password 'hostile-admin-pw' >"$out/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  kill -0 $server 2>/dev/null || { echo "server exited:"; tail -5 "$out/server.log"; exit 1; }
  sleep 1
done
base="http://127.0.0.1:$port"
login() {
  curl -sf "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
admin=$(login admin@marquee.local hostile-admin-pw 2>/dev/null || login "$(grep -o 'admin[^ ]*@[^ ]*' "$out/server.log" | head -1)" hostile-admin-pw)
viewer=$(login viewer1@demo.marquee marquee-demo)
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
status=0
for who in admin viewer; do
  token=${!who}
  # Log-out would end the session the run authenticates with.
  "$here/.venv/bin/st" run "$base/api/v1/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks "$checks" --max-examples "$examples" --seed 11 \
    --exclude-path /api/v1/auth/logout \
    --exclude-path-regex '.*/events$' \
    --workers 2 --continue-on-failure \
    --report junit --report-junit-path "$out/$who.xml" \
    >"$out/$who.txt" 2>&1 || status=1
  tail -25 "$out/$who.txt"
done
exit $status

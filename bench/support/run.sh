#!/usr/bin/env bash
# Support chat delivery benchmark: 1,000 customers with live SSE connections
# on loopback, agents replying and customers writing back; reports delivery
# latency percentiles and lost/duplicated/misrouted deliveries per run, then
# the medians over the runs.
#
#   bench/support/run.sh [RUNS] [-- extra args for the generator]
#   e.g. bench/support/run.sh 5 -- --customers 1000 --messages 5 --rate 200
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
shift || true
[ "${1:-}" = "--" ] && shift
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p marquee-server --example support_load
bin="${CARGO_TARGET_DIR:-target}/release/examples/support_load"
out="$(mktemp)"
for i in $(seq 1 "$runs"); do
  "$bin" "$@" | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
med = lambda f: statistics.median(f(r) for r in rows)
print(f"runs: {len(rows)}  customers: {rows[0]['customers']}  messages/direction: {rows[0]['messages_per_direction']}  "
      f"rate/direction: {rows[0]['rate_per_direction_per_s']}/s (achieved median {med(lambda r: r['achieved_rate_per_direction_per_s'])}/s)")
for k in ("to_customer_ms", "to_agent_ms"):
    print(f"{k}: median of p50 {med(lambda r: r[k]['p50']):.2f}  p95 {med(lambda r: r[k]['p95']):.2f}  "
          f"p99 {med(lambda r: r[k]['p99']):.2f}  max {med(lambda r: r[k]['max']):.2f}")
print(f"all: median p99 {med(lambda r: r['all_ms']['p99']):.2f} ms; worst p99 {max(r['all_ms']['p99'] for r in rows):.2f} ms")
print("lost:", [r["lost"] for r in rows], "duplicated:", [r["duplicated"] for r in rows],
      "misrouted:", [r["misrouted"] for r in rows], "post errors:", [r["post_errors"] for r in rows])
PY

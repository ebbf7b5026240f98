#!/usr/bin/env bash
# Consultation dashboard benchmark (#25): the staff dashboard of one proposal
# over POSTS matching social posts and REACTIONS customer reactions, read
# REQUESTS times in-process and REQUESTS times over HTTP, RUNS fresh databases.
# Usage (from the repository root):
#   bench/changes/run.sh [POSTS] [REACTIONS] [REQUESTS] [RUNS]
# SKIP_BUILD=1 reuses an existing release build of the example;
# MARQUEE_BENCH_POSTGRES=postgres://user@host:port runs it on PostgreSQL
# (each run on a fresh database of its own).
set -euo pipefail
cd "$(dirname "$0")/../.."
POSTS=${1:-1000000}
REACTIONS=${2:-100000}
REQUESTS=${3:-200}
RUNS=${4:-3}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p marquee-server --example consultation_bench
fi
BIN=${CARGO_TARGET_DIR:-target}/release/examples/consultation_bench
echo "== consultation dashboard: $POSTS matching posts, $REACTIONS reactions, $REQUESTS reads x $RUNS runs (nproc $(nproc), load $(cut -d' ' -f1 /proc/loadavg))"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for r in $(seq "$RUNS"); do
  "$BIN" "$POSTS" "$REACTIONS" "$REQUESTS" | tee -a "$OUT"
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for part in ("service_ms", "service_cold_ms", "http_ms"):
    p99 = [r[part]["p99"] for r in runs]
    p50 = [r[part]["p50"] for r in runs]
    print(f"{part[:-3]:12s} p50 median {statistics.median(p50):7.1f} ms   "
          f"p99 median {statistics.median(p99):7.1f} ms (runs: {', '.join(f'{x:.1f}' for x in p99)})   "
          f"target p99 < 100 ms: {'met' if statistics.median(p99) < 100 else 'NOT met'}")
ratio = statistics.median(r["post_figures_ms"]["ratio"] for r in runs)
kept = statistics.median(r["post_figures_ms"]["kept"] for r in runs)
fts = statistics.median(r["post_figures_ms"]["full_text_search"] for r in runs)
parts = {k: statistics.median(r["parts_ms"][k] for r in runs) for k in runs[0]["parts_ms"]}
print("parts of a read (median ms): " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])))
print(f"post figures: kept at ingest {kept:.1f} ms vs searched in the full-text index {fts:.1f} ms: {ratio:.0f}x faster")
PY

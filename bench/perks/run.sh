#!/usr/bin/env bash
# Perks benchmark: evaluation throughput, replay, dry-run and overview latency.
# Usage (from the repository root): bench/perks/run.sh [EVENTS] [ACCOUNTS] [RUNS]
# SKIP_BUILD=1 reuses an existing release build of the example.
set -euo pipefail
EVENTS=${1:-20000}
ACCOUNTS=${2:-2000}
RUNS=${3:-5}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p marquee-server --example perks_bench
fi
TARGET=${CARGO_TARGET_DIR:-target}
echo "== perks: $EVENTS events, $ACCOUNTS accounts, $RUNS runs (nproc $(nproc), load $(cut -d' ' -f1 /proc/loadavg))"
"$TARGET/release/examples/perks_bench" "$EVENTS" "$ACCOUNTS" "$RUNS"

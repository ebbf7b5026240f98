#!/bin/sh
# Runs the fault tests N times (default 3) and prints the lines they measure:
# how long writes take to fail with 503 while another process holds SQLite's
# write lock, how soon /readyz is back after it is released, how soon the
# queued webhooks are delivered, and how many batches were acknowledged
# before kill -9.
# Usage: bench/faults/run.sh [N]
set -eu
cd "$(dirname "$0")/../.."
n=${1:-3}
cargo test -p marquee --test it --no-run
i=1
while [ "$i" -le "$n" ]; do
  cargo test -q -p marquee --test it faults:: -- --nocapture --test-threads 1 2>&1 | grep '^FAULTS'
  i=$((i + 1))
done

#!/usr/bin/env bash
# Catalog import and artwork benchmarks (#21), Marquee beside its peers, in
# one run, on the same data.
#
#   bench/catalog/run.sh                 # RUNS=3 TITLES=100000 PICTURES=60
#   SKIP_BUILD=1 RUNS=5 bench/catalog/run.sh
#   PARTS=artwork bench/catalog/run.sh     # one part only (import, artwork, home)
#
# 1. Metadata import: a generated feed of TITLES titles (gen_feed.py: movies,
#    and series of ten episodes; cast, crew, genres, tags, ratings, ids) into
#    a fresh SQLite data directory with `marquee import catalog FEED
#    --no-posters`, then the same feed again (every title unchanged). Peer:
#    sqlite-utils (pip) inserting the same lines, flattened, into a fresh
#    SQLite file: a bulk insert with no identity, no parsing of people or
#    ratings, the floor any importer pays. Titles/s and peak RSS (GNU time).
# 2. Artwork: PICTURES 2000x3000 JPEG posters (drawn by Pillow) each resized
#    into card, detail and share renditions at JPEG quality 82 on one thread:
#    marquee-artwork (`resize_dir` example) beside Pillow (pillow_resize.py).
# 3. Home page with artwork (PARTS=home, not in the default set: about ten
#    minutes): bench/home/run.sh on the page endpoint (GET /, HTML) twice in
#    one run, with the demo's generated posters off (colour tiles, as before
#    artwork) and on (after the poster worker drew them all): wrk p99 under
#    load, and the HTML weight and time to first byte per request.
#
# Prints each run and the medians, and the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
TITLES=${TITLES:-100000}
PICTURES=${PICTURES:-60}
PARTS=${PARTS:-import artwork}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
command -v /usr/bin/time >/dev/null || { echo "GNU time is required (apt-get install time)"; exit 1; }
python3 -m pip install -q sqlite-utils pillow >/dev/null 2>&1 || true
TARGET=${CARGO_TARGET_DIR:-target}
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release -p marquee >/dev/null
  cargo build --release -p marquee-artwork --example resize_dir >/dev/null
fi
BIN=${BENCH_BIN:-$TARGET/release/marquee}

: > "$WORK/results"
if [[ " $PARTS " == *" import "* ]]; then
echo "generating a feed of $TITLES titles..."
python3 bench/catalog/gen_feed.py "$TITLES" > "$WORK/feed.jsonl"
python3 - "$WORK/feed.jsonl" "$WORK/flat.jsonl" <<'PY'
import json, sys
# The peer's input: one flat row per title (episodes included), the nested
# fields as JSON text.
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    next(f)
    for line in f:
        t = json.loads(line)
        seasons = t.pop("seasons", [])
        row = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in t.items()}
        out.write(json.dumps(row) + "\n")
        for s in seasons:
            for e in s["episodes"]:
                e = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in e.items()}
                e["series"] = t["ids"]["tmdb"]; e["season"] = s["number"]
                out.write(json.dumps(e) + "\n")
PY

measure() { # label, then the command; prints "label seconds maxrss_kb"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >"$WORK/out" 2>&1 || { cat "$WORK/out"; exit 1; }
  echo "$label $(cat "$WORK/time")"
}

export MARQUEE_DATA_DIR="$WORK/data"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/data" "$WORK/peer.db"
  measure marquee_first env MARQUEE_LOG__FILTER=warn "$BIN" import catalog "$WORK/feed.jsonl" \
    --no-posters --show-rejected 3 >> "$WORK/results"
  grep -q "$TITLES added" "$WORK/out" || { echo "unexpected import report:"; cat "$WORK/out"; exit 1; }
  measure marquee_again env MARQUEE_LOG__FILTER=warn "$BIN" import catalog "$WORK/feed.jsonl" \
    --no-posters >> "$WORK/results"
  grep -q "$TITLES unchanged" "$WORK/out" || { echo "unexpected re-import report:"; cat "$WORK/out"; exit 1; }
  measure peer_sqlite_utils sqlite-utils insert "$WORK/peer.db" titles "$WORK/flat.jsonl" --nl --alter >> "$WORK/results"
  tail -3 "$WORK/results"
done 2>&1
fi

if [[ " $PARTS " == *" artwork "* ]]; then
echo "drawing $PICTURES source posters (2000x3000)..."
mkdir -p "$WORK/pictures"
python3 - "$WORK/pictures" "$PICTURES" <<'PY'
import random, sys
from PIL import Image, ImageDraw
r = random.Random(7)
for i in range(int(sys.argv[2])):
    img = Image.new("RGB", (2000, 3000), (r.randrange(256), r.randrange(256), r.randrange(256)))
    d = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = r.randrange(2000), r.randrange(3000)
        d.ellipse((x, y, x + r.randrange(50, 900), y + r.randrange(50, 900)),
                  fill=(r.randrange(256), r.randrange(256), r.randrange(256)))
    img.save(f"{sys.argv[1]}/p{i:04d}.jpg", quality=90)
PY
for run in $(seq 1 "$RUNS"); do
  taskset -c 0 "$TARGET/release/examples/resize_dir" "$WORK/pictures" | awk '{print "artwork_marquee", $6}' >> "$WORK/results"
  taskset -c 0 python3 bench/catalog/pillow_resize.py "$WORK/pictures" | awk '{print "artwork_pillow", $6}' >> "$WORK/results"
  tail -2 "$WORK/results"
done
fi

if [[ " $PARTS " == *" home "* ]]; then
for art in off on; do
  echo "home page, artwork $art..."
  SKIP_BUILD=1 BENCH_BIN="$BIN" ARTWORK=$art ENDPOINTS=page RUNS=$RUNS \
    OUT="$WORK/home_$art" bench/home/run.sh | tee "$WORK/home_$art.txt"
  p99=$(grep -E '^page +runs=' "$WORK/home_$art.txt" | sed -E 's/.*p99 median=([0-9.]+) ms.*/\1/')
  rps=$(grep -E '^page +runs=' "$WORK/home_$art.txt" | sed -E 's/.*req\/s median=([0-9.]+) .*/\1/')
  kb=$(grep -E '^home page HTML' "$WORK/home_$art.txt" | sed -E 's/.*median ([0-9.]+) KB.*/\1/')
  ttfb=$(grep -E '^home page HTML' "$WORK/home_$art.txt" | sed -E 's/.*TTFB median=([0-9.]+) ms p99=([0-9.]+) ms.*/\1 \2/')
  echo "home_$art $p99 $rps $kb $ttfb" >> "$WORK/results"
done
fi

python3 - "$WORK/results" "$TITLES" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, *v = line.split()
    rows.setdefault(k, []).append([float(x) for x in v])
n = int(sys.argv[2])
med = lambda k, i: statistics.median(r[i] for r in rows[k])
if "marquee_first" in rows:
    print()
    print(f"{'import of ' + str(n) + ' titles':<34} {'median s':>9} {'titles/s':>10} {'peak RSS MB':>12}")
    for k in ("marquee_first", "marquee_again", "peer_sqlite_utils"):
        s = med(k, 0)
        print(f"{k:<34} {s:>9.2f} {n / s:>10,.0f} {med(k, 1) / 1024:>12.0f}")
    print(f"ratio marquee first import / sqlite-utils insert, titles/s: "
          f"{med('peer_sqlite_utils', 0) / med('marquee_first', 0):.2f}")
if "artwork_marquee" in rows:
    print()
    m, p = med("artwork_marquee", 0), med("artwork_pillow", 0)
    print(f"artwork, pictures/s on one core (card + detail + share each): marquee {m:.2f}, pillow {p:.2f}")
    print(f"ratio marquee / pillow: {m / p:.2f}")
if "home_on" in rows:
    print()
    print(f"{'GET / (HTML home page)':<24} {'p99 ms':>8} {'req/s':>8} {'HTML KB':>8} {'TTFB ms':>8} {'TTFB p99':>9}")
    for k in ("home_off", "home_on"):
        r = rows[k][-1]
        print(f"{'artwork ' + k[5:]:<24} {r[0]:>8.2f} {r[1]:>8.0f} {r[2]:>8.1f} {r[3]:>8.2f} {r[4]:>9.2f}")
    on, off = rows["home_on"][-1], rows["home_off"][-1]
    print(f"ratio artwork on / off: p99 {on[0] / off[0]:.2f}, req/s {on[1] / off[1]:.2f}, "
          f"HTML bytes {on[2] / off[2]:.2f}, TTFB median {on[3] / off[3]:.2f}")
PY

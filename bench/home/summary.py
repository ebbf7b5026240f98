"""Medians over runs of wrk's requests/s and latency percentiles."""
import glob
import re
import statistics
import sys

out = sys.argv[1]


def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


for ep in ["home", "recommendations", "page"]:
    rps, p50, p99, errs = [], [], [], 0
    for f in sorted(glob.glob(f"{out}/wrk_{ep}_*.txt")):
        t = open(f).read()
        rps.append(float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)))
        for pct, acc in (("50", p50), ("99", p99)):
            m = re.search(pct + r"%\s+([\d.]+)(us|ms|s)", t)
            acc.append(ms(m.group(1), m.group(2)))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
        errs += int(m.group(1)) if m else 0
    if rps:
        print(f"{ep:16} runs={len(rps)} req/s median={statistics.median(rps):.0f} "
              f"p50 median={statistics.median(p50):.2f} ms p99 median={statistics.median(p99):.2f} ms "
              f"(p99 runs: {', '.join(f'{x:.2f}' for x in p99)}) non-2xx={errs}")

try:
    rows = [l.split() for l in open(f"{out}/page_weight.txt") if l.strip()]
except FileNotFoundError:
    rows = []
if rows:
    size = [int(r[0]) for r in rows]
    ttfb = sorted(float(r[1]) * 1000 for r in rows)
    imgs = [int(r[2]) for r in rows]
    p99 = ttfb[min(len(ttfb) - 1, int(len(ttfb) * 0.99))]
    print(f"home page HTML: {len(rows)} requests, median {statistics.median(size) / 1024:.1f} KB, "
          f"TTFB median={statistics.median(ttfb):.2f} ms p99={p99:.2f} ms, "
          f"poster images per page median={statistics.median(imgs):.0f}")

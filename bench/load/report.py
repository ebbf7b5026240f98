#!/usr/bin/env python3
"""Summarises bench/load results: per backend and route the requests, error
rate, p50 and p99; the RSS over time as an SVG chart (OUT/rss.svg) and the
table as OUT/report.md. Usage: report.py OUT BACKEND..."""
import re
import sys
from pathlib import Path

out, backends = Path(sys.argv[1]), sys.argv[2:]
ROUTES = ["browse", "progress", "posts", "chat"]
rows, series = [], {}
for b in backends:
    total = errors = 0
    for route in ROUTES:
        f = out / b / f"{route}.txt"
        m = re.search(r"RESULT (.*)", f.read_text()) if f.exists() else None
        if not m:
            rows.append((b, route, None))
            continue
        kv = dict(x.split("=", 1) for x in m.group(1).split())
        n, bad = int(kv["requests"]), int(kv["non2xx"]) + int(kv["sockerr"])
        total, errors = total + n, errors + bad
        rows.append((b, route, (n, bad, float(kv["rps"]), float(kv["p50_ms"]), float(kv["p99_ms"]))))
    rows.append((b, "all", (total, errors, None, None, None)))
    rss = out / b / "rss.txt"
    if rss.exists():
        series[b] = [(int(t), int(k) / 1024) for t, k in (l.split() for l in rss.read_text().splitlines() if len(l.split()) == 2)]

lines = ["| backend | route | requests | req/s | errors | error rate | p50 | p99 |", "|---|---|---|---|---|---|---|---|"]
for b, route, r in rows:
    if r is None:
        lines.append(f"| {b} | {route} | no result | | | | | |")
        continue
    n, bad, rps, p50, p99 = r
    rate = f"{100 * bad / n:.3f} %" if n else "-"
    fmt = lambda v, u="": "" if v is None else f"{v:,.2f}{u}"
    lines.append(f"| {b} | {route} | {n:,} | {fmt(rps)} | {bad} | {rate} | {fmt(p50, ' ms')} | {fmt(p99, ' ms')} |")
for b, s in series.items():
    if s:
        lines.append(f"\nRSS {b}: start {s[0][1]:.0f} MB, max {max(v for _, v in s):.0f} MB, end {s[-1][1]:.0f} MB")
table = "\n".join(lines)
print(table)
(out / "report.md").write_text(table + "\n")

# RSS over time, one line per backend.
W, H, L, B = 720, 360, 60, 40
tmax = max((t for s in series.values() for t, _ in s), default=1) or 1
vmax = max((v for s in series.values() for _, v in s), default=1) * 1.1 or 1
x = lambda t: L + (W - L - 20) * t / tmax
y = lambda v: H - B - (H - B - 20) * v / vmax
colors = ["#1f77b4", "#d62728", "#2ca02c"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W / 2}" y="14" text-anchor="middle">Server RSS during the mixed load (MB)</text>',
       f'<line x1="{L}" y1="{H - B}" x2="{W - 20}" y2="{H - B}" stroke="black"/>',
       f'<line x1="{L}" y1="20" x2="{L}" y2="{H - B}" stroke="black"/>']
for k in range(6):
    v = vmax * k / 5
    svg.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>')
    svg.append(f'<line x1="{L}" y1="{y(v):.1f}" x2="{W - 20}" y2="{y(v):.1f}" stroke="#eee"/>')
for k in range(6):
    t = tmax * k / 5
    svg.append(f'<text x="{x(t):.1f}" y="{H - B + 16}" text-anchor="middle">{t:.0f} s</text>')
for i, (b, s) in enumerate(series.items()):
    c = colors[i % len(colors)]
    pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in s)
    svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{pts}"/>')
    svg.append(f'<text x="{W - 150}" y="{40 + 16 * i}" fill="{c}">{b}</text>')
svg.append("</svg>")
(out / "rss.svg").write_text("\n".join(svg))

#!/usr/bin/env python3
"""Reads the logs bench/compare/run.sh wrote and prints, per figure, every
run's value for binary A and binary B, their medians and the ratio (B/A for
throughput, A/B for latency: above 1 means B is better). usage: summary.py OUT"""
import glob
import json
import os
import re
import statistics
import sys

out = sys.argv[1]


def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def figures(bench, text, path):
    """(figure name, value, higher is better) of one log."""
    if bench == "continuity":
        for m in re.finditer(r"^run \d+: .*?rps=(\d+) p50_ms=([\d.]+) .*?p99_ms=([\d.]+)", text, re.M):
            yield "progress events/s", float(m.group(1)), True
            yield "progress p50 ms", float(m.group(2)), False
            yield "progress p99 ms", float(m.group(3)), False
    elif bench == "listening":
        for m in re.finditer(r"^run \d+: (\{.*\})$", text, re.M):
            yield "ingest posts/s (API)", float(json.loads(m.group(1))["posts_per_s"]), True
        m = re.search(r"marquee ingest posts: (\d+) posts/s", text)
        if m:
            yield "ingest posts/s (CLI)", float(m.group(1)), True
    elif bench == "home":
        label, rnd = os.path.basename(path).split(".")[1:3]
        for f in sorted(glob.glob(f"{out}/home.{label}.{rnd}/wrk_*_*.txt")):
            ep = os.path.basename(f).split("_")[1]
            t = open(f).read()
            yield f"{ep} req/s", float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1)), True
            for pct in ("50", "99"):
                m = re.search(pct + r"%\s+([\d.]+)(us|ms|s)", t)
                yield f"{ep} p{pct} ms", ms(m.group(1), m.group(2)), False


values = {}  # (bench, figure) -> {"A": [...], "B": [...], "higher": bool}
for path in sorted(glob.glob(f"{out}/*.*.*.log")):
    bench, label = os.path.basename(path).split(".")[:2]
    for name, v, higher in figures(bench, open(path).read(), path):
        e = values.setdefault((bench, name), {"A": [], "B": [], "higher": higher})
        e[label].append(v)

print(f"{'benchmark':11} {'figure':24} {'A median':>10} {'B median':>10} {'ratio':>7}  runs")
for (bench, name), e in values.items():
    if not e["A"] or not e["B"]:
        continue
    a, b = statistics.median(e["A"]), statistics.median(e["B"])
    ratio = (b / a if e["higher"] else a / b) if a and b else float("nan")
    print(f"{bench:11} {name:24} {a:10.2f} {b:10.2f} {ratio:7.3f}  "
          f"A={','.join(f'{x:g}' for x in e['A'])} B={','.join(f'{x:g}' for x in e['B'])}")
print("ratio: B relative to A, above 1 = B better (B/A for rates, A/B for latencies)")

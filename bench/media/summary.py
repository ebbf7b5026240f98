"""Medians of bench/media/run.sh's runs, as Markdown, and run.sh's small helpers.
Usage: summary.py OUT (reads OUT/range.jsonl, OUT/firstframe.jsonl, OUT/env.txt)
       summary.py --annotate LINE SERVER RUN CPU_TICKS CLK_TCK  (rangeload's JSON + the run's facts)
       summary.py --line LINE        (one run, one line)
       summary.py --hls-note SETUP   (empty when the HLS title has an HLS source, else why not)"""
import json
import os
import statistics
import sys


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".1f"):
    return "–" if x is None else format(x, spec)


def annotate(line, server, run, ticks, tck):
    d = json.loads(line)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    d.update(server=server, run=int(run), server_cpu_s=round(int(ticks) / int(tck), 2), loadavg=float(load))
    return json.dumps(d)


def one_line(line):
    d = json.loads(line)
    s = (f"run {d['run']} {d['server']:8s} {d['mb_per_s']:8.1f} MB/s  ttfb p50 {d['ttfb_p50_ms']:.2f} "
         f"p99 {d['ttfb_p99_ms']:.2f} ms  full p99 {d['full_p99_ms']:.2f} ms  server cpu {d['server_cpu_s']} s  "
         f"client cpu {d['client_cpu_s']} s  errors {d['errors']}")
    if d["errors"]:
        s += f" ({d['first_error']})"
    return s


def hls_note(setup):
    with open(setup) as f:
        t = json.load(f)["titles"]["hls"]
    if t["hls_url"]:
        return ""
    if t["playback_info_status"] != 200:
        return f"GET /api/v1/titles/{t['id']}/playback-info answers HTTP {t['playback_info_status']} (not there yet)"
    ps = [s.get("protocol") for s in (t["playback_info"] or {}).get("sources", [])]
    return f"playback-info offers the MKV title no HLS source (protocols: {ps})"


def main():
    if sys.argv[1] == "--annotate":
        print(annotate(*sys.argv[2:7]))
        return
    if sys.argv[1] == "--line":
        print(one_line(sys.argv[2]))
        return
    if sys.argv[1] == "--hls-note":
        print(hls_note(sys.argv[2]))
        return
    out = sys.argv[1]
    if os.path.exists(os.path.join(out, "env.txt")):
        print(open(os.path.join(out, "env.txt")).read().strip())
        print()
    runs = lines(os.path.join(out, "range.jsonl"))
    if runs:
        order = []
        for r in runs:  # as run.sh ran them (SERVERS)
            if r["server"] not in order:
                order.append(r["server"])
        by = {s: [r for r in runs if r["server"] == s] for s in order}
        by = {s: rs for s, rs in by.items() if rs}
        print(f"Range serving, {len(by.get('marquee', []))} runs each (medians; per run in brackets):")
        print()
        print("| server | MB/s | / nginx | TTFB p50 | TTFB p99 | full p99 | server CPU s per GB | errors |")
        print("|---|---|---|---|---|---|---|---|")
        m = {s: {"mbps": med([r["mb_per_s"] for r in rs]), "ttfb99": med([r["ttfb_p99_ms"] for r in rs])}
             for s, rs in by.items()}
        base = m.get("nginx", {}).get("mbps")
        for s, rs in by.items():
            cpu_gb = med([r["server_cpu_s"] / (r["bytes"] / 1e9) for r in rs if r["bytes"]])
            rel = f"{m[s]['mbps'] / base:.2f}" if base else "–"
            print(f"| {s} | {fmt(m[s]['mbps'], ',.0f')} ({', '.join(format(r['mb_per_s'], '.0f') for r in rs)}) | {rel} "
                  f"| {fmt(med([r['ttfb_p50_ms'] for r in rs]), '.2f')} ms "
                  f"| {fmt(m[s]['ttfb99'], '.2f')} ms ({', '.join(format(r['ttfb_p99_ms'], '.1f') for r in rs)}) "
                  f"| {fmt(med([r['full_p99_ms'] for r in rs]), '.2f')} ms "
                  f"| {fmt(cpu_gb, '.2f')} | {sum(r['errors'] for r in rs)} |")
        if "marquee" in m and base:
            pairs = [a["mb_per_s"] / b["mb_per_s"] for a in by["marquee"] for b in by["nginx"]
                     if a["run"] == b["run"] and b["mb_per_s"]]
            ratio = m["marquee"]["mbps"] / base
            print()
            print(f"Marquee/nginx throughput: **{ratio:.2f}** (medians; per round "
                  f"{', '.join(format(p, '.2f') for p in pairs)}; goal ≥ 0.80: "
                  f"{'met' if ratio >= 0.8 else 'NOT met'}); "
                  f"TTFB p99 Marquee/nginx {m['marquee']['ttfb99'] / m['nginx']['ttfb99']:.2f}")
        print()
    ff = lines(os.path.join(out, "firstframe.jsonl"))
    if ff:
        print("Play to first frame, headless Chromium (medians; per run in brackets):")
        print()
        print("| path | measurement | first frame | `playing` | errors, notes |")
        print("|---|---|---|---|---|")
        for key in ("direct", "hls"):
            skipped = [r for r in ff if r["key"] == key and "skipped" in r]
            if skipped:
                print(f"| {key} | – | skipped: {skipped[0]['skipped']} | | |")
                continue
            for mode, what in (("click", "Play clicked on a loaded /watch page"),
                               ("open", "/watch/{id}?play=1 opened (from navigation start)")):
                rs = [r for r in ff if r["key"] == key and r.get("mode") == mode]
                if not rs:
                    continue
                errs = [r["error"] for r in rs if r.get("error")]
                ff_file = [r["file_frame_ms"] for r in rs if r.get("file_frame_ms") is not None]
                if ff_file:
                    errs.append(f"before HLS, the page's link to the file showed a frame at "
                                f"{', '.join(format(x, '.0f') for x in ff_file)} ms (not counted)")
                print(f"| {key} | {what} | {fmt(med([r['first_frame_ms'] for r in rs]), '.0f')} ms "
                      f"({', '.join(fmt(r['first_frame_ms'], '.0f') for r in rs)}) "
                      f"| {fmt(med([r['playing_ms'] for r in rs]), '.0f')} ms "
                      f"| {'; '.join(errs) if errs else 0} |")
        print()


if __name__ == "__main__":
    main()

"""Medians of the Lighthouse runs, and what keeps each page below 90.

Usage: summary.py DIR  (DIR holds ROLE__SLUG__FORMFACTOR__RUN.json, as run.sh
writes them, and pages.tsv: slug, role, path). Prints Markdown: the scores
table (performance and accessibility, mobile and desktop), the load metrics,
then per page the failing accessibility audits (with the elements they name)
and the largest performance opportunities and diagnostics.
"""
import collections
import glob
import json
import os
import statistics
import sys
import urllib.parse

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_score(x):
    return "–" if x is None else f"{round(x)}"


def main():
    d = sys.argv[1]
    order = []
    paths = {}
    with open(os.path.join(d, "pages.tsv")) as f:
        for line in f:
            slug, role, path = line.rstrip("\n").split("\t")
            order.append(slug)
            paths[slug] = (role, path)
    runs = collections.defaultdict(list)  # (slug, ff) -> [lhr]
    failed = collections.defaultdict(int)
    for fn in sorted(glob.glob(os.path.join(d, "*__*__*__*.json"))):
        role, slug, ff, _ = os.path.basename(fn)[:-5].split("__")
        try:
            with open(fn) as f:
                lhr = json.load(f)
        except (OSError, ValueError):
            failed[(slug, ff)] += 1
            continue
        if lhr.get("runtimeError"):
            failed[(slug, ff)] += 1
            print(f"<!-- {fn}: {lhr['runtimeError'].get('code')} -->")
        runs[(slug, ff)].append(lhr)

    def score(lhr, cat):
        s = lhr["categories"].get(cat, {}).get("score")
        return None if s is None else s * 100

    n_runs = max((len(v) for v in runs.values()), default=0)
    print(f"Medians of {n_runs} Lighthouse run(s) per page and form factor.\n")
    print("| page | as | perf mobile | perf desktop | a11y mobile | a11y desktop |")
    print("|---|---|---|---|---|---|")
    for slug in order:
        role, path = paths[slug]
        cells = []
        for cat in ("performance", "accessibility"):
            for ff in ("mobile", "desktop"):
                m = med(score(l, cat) for l in runs[(slug, ff)])
                cells.append(m)
        print(f"| `{path}` | {role} | " + " | ".join(fmt_score(c) for c in cells) + " |")
    print()
    print("Load metrics (medians; mobile is Lighthouse's simulated slow 4G and 4x CPU slowdown):\n")
    print("| page | form factor | FCP | LCP | TBT | CLS | Speed Index | HTML bytes | DOM elements |")
    print("|---|---|---|---|---|---|---|---|---|")
    for slug in order:
        for ff in ("mobile", "desktop"):
            ls = runs[(slug, ff)]
            if not ls:
                continue

            def num(aid):
                return med(l["audits"].get(aid, {}).get("numericValue") for l in ls)

            def doc_bytes(l):
                items = (l["audits"].get("network-requests", {}).get("details") or {}).get("items", [])
                for it in items:
                    if it.get("resourceType") == "Document":
                        return it.get("transferSize")
                return None

            fcp, lcp, tbt, cls, si, dom = (num(a) for a in (
                "first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
                "cumulative-layout-shift", "speed-index", "dom-size"))
            html = med(doc_bytes(l) for l in ls)
            print(
                f"| `{paths[slug][1]}` | {ff} | {ms(fcp)} | {ms(lcp)} | {ms(tbt)} | "
                f"{'–' if cls is None else f'{cls:.3f}'} | {ms(si)} | "
                f"{'–' if html is None else f'{html / 1024:.0f} KB'} | {'–' if dom is None else f'{dom:.0f}'} |"
            )
    print()
    for slug in order:
        role, path = paths[slug]
        ls = runs[(slug, "mobile")] + runs[(slug, "desktop")]
        if not ls:
            print(f"### `{path}`: no Lighthouse result\n")
            continue
        print(f"### `{path}` ({role})\n")
        # Accessibility audits that failed in any run, with their elements.
        a11y = {}
        for l in ls:
            for ref in l["categories"]["accessibility"]["auditRefs"]:
                a = l["audits"][ref["id"]]
                if a.get("scoreDisplayMode") == "binary" and a.get("score") == 0:
                    nodes = a11y.setdefault(ref["id"], {"title": a["title"], "weight": ref.get("weight", 0), "nodes": []})["nodes"]
                    for it in (a.get("details") or {}).get("items", []):
                        node = it.get("node") or {}
                        label = node.get("selector") or node.get("snippet") or ""
                        snippet = (node.get("snippet") or "")[:90]
                        entry = f"`{label}`" + (f" {snippet}" if snippet and snippet != label else "")
                        if entry not in nodes:
                            nodes.append(entry)
        if a11y:
            print("Failing accessibility audits:\n")
            for aid, a in sorted(a11y.items(), key=lambda kv: -kv[1]["weight"]):
                shown = "; ".join(a["nodes"][:4]) + (f"; … {len(a['nodes']) - 4} more" if len(a["nodes"]) > 4 else "")
                print(f"- `{aid}` ({'weight ' + str(a['weight']) if a['weight'] else 'not scored'}): {a['title'].rstrip('.')}. {len(a['nodes'])} element(s): {shown}")
            print()
        else:
            print("Accessibility: no failing audit.\n")
        # Performance: opportunities by estimated savings, then the other
        # diagnostics that fail, then the elements behind LCP and CLS.
        for ff in ("mobile", "desktop"):
            lf = runs[(slug, ff)]
            if not lf:
                continue
            opp = collections.defaultdict(list)
            diag = {}
            elements = {}
            for l in lf:
                for ref in l["categories"]["performance"]["auditRefs"]:
                    aid = ref["id"]
                    a = l["audits"][aid]
                    det = a.get("details") or {}
                    if ref.get("group") != "diagnostics" or a.get("score") is None or a["score"] >= 0.9 \
                            or aid == "largest-contentful-paint-element":
                        continue
                    if det.get("type") == "opportunity":
                        opp[aid].append((det.get("overallSavingsMs") or 0, a["title"], det.get("overallSavingsBytes")))
                    else:
                        diag[aid] = (a["title"], a.get("displayValue", ""))
                for aid, name in (("largest-contentful-paint-element", "LCP element"), ("layout-shifts", "layout shift")):
                    for it in ((l["audits"].get(aid) or {}).get("details") or {}).get("items", []):
                        # LCP: a table inside a list; layout shifts: a table.
                        for sub in (it.get("items") or [it]):
                            node = sub.get("node") or {}
                            if node.get("selector") and name not in elements:
                                elements[name] = node["selector"]
            tops = sorted(((statistics.median(s for s, _, _ in v), aid, v[0][1], v[0][2]) for aid, v in opp.items()), reverse=True)[:4]
            parts = [f"`{aid}` {title} (~{sav:.0f} ms" + (f", {b / 1024:.0f} KB" if b else "") + ")" for sav, aid, title, b in tops]
            dparts = [f"`{aid}` {t}" + (f" ({v})" if v else "") for aid, (t, v) in list(diag.items())[:6]]
            eparts = [f"{k}: `{v}`" for k, v in elements.items()]
            if parts or dparts or eparts:
                print(f"Performance, {ff}: " + "; ".join(parts + dparts + eparts) + "\n")
        print()
    if failed:
        print("Runs without a result: " + ", ".join(f"{s} {ff} ×{n}" for (s, ff), n in failed.items()))


def ms(x):
    return "–" if x is None else (f"{x / 1000:.1f} s" if x >= 1000 else f"{x:.0f} ms")


def one(fn, label):
    """One run's line: its scores, and where it ended if not where it went."""
    with open(fn) as f:
        lhr = json.load(f)
    c = lhr["categories"]
    perf, a11y = (c[k]["score"] for k in ("performance", "accessibility"))
    url, final = lhr.get("requestedUrl", ""), lhr.get("finalDisplayedUrl", "")
    ff = lhr.get("configSettings", {}).get("formFactor", "")
    print(f"  {label} {urllib.parse.urlsplit(url).path:<14} {ff:<8}"
          f" performance {fmt_score(None if perf is None else perf * 100):>3}"
          f"  accessibility {fmt_score(None if a11y is None else a11y * 100):>3}"
          + ("" if final == url else f"  (ended at {final})"))


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        one(sys.argv[2], sys.argv[3])
    else:
        main()

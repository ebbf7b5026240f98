#!/usr/bin/env python3
"""Side-by-side quality, medians of repeated timing runs and speed ratios from bench/recs/results.

    compare.py RESULTS_DIR RUNS THREADS...
"""
import glob, json, statistics as st, sys

out, runs, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
med = st.median

PAIRS = [("ease", "ease:lambda=500", "numpy EASE λ=500 vs Marquee EASE λ=500"),
         ("als", "als:factors=64:reg=0.05:alpha=0:iters=15", "implicit ALS alpha 1 vs Marquee ALS alpha 0"),
         ("als10", "als:factors=64:reg=0.05:alpha=9:iters=15", "implicit ALS alpha 10 vs Marquee ALS alpha 9"),
         ("knn", "knn", "implicit cosine kNN vs Marquee cosine kNN"),
         ("bm25", "knn-bm25", "implicit BM25 kNN vs Marquee BM25 kNN")]


def load(kind, t):
    return [json.load(open(f"{out}/{kind}_t{t}_r{r}.json")) for r in range(1, runs + 1)]


for t in dict.fromkeys(threads):
    mq, py = load("marquee", t), load("peers", t)
    for m, p in zip(mq, py):
        assert m["split"] == p["split"] == mq[0]["split"], "splits differ"
    print(f"\n## threads {t}: {runs} runs; train_s = median over runs of each run's median of 3 fits "
          f"(split sha256 train {mq[0]['split']['train_sha256'][:12]}… identical in all)")
    print("| system | model | train_s median [min–max] | P@10 | R@20 | nR@20 | NDCG@10 | Cov@10 |"
          " p99 latency median (best-of-3 p99) | model MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")

    def rows(runs_json, system, key):
        for k, m in enumerate(runs_json[0]["models"]):
            ts = [r["models"][k]["train_s"] for r in runs_json]
            nd = {round(r["models"][k]["ndcg_at_10"], 4) for r in runs_json}
            lat = ""
            if m.get("latency_p99_us") is not None:
                p99 = med([r["models"][k]["latency_p99_us"] for r in runs_json])
                b3 = med([r["models"][k].get("latency_p99_best_of_3_us") or 0 for r in runs_json])
                lat = f"{p99:.0f} us ({b3:.0f} us)"
            mb = f"{m['model_bytes'] / 1e6:.1f}" if "model_bytes" in m else ""
            note = "" if len(nd) == 1 else f" (NDCG varies over runs: {sorted(nd)})"
            print(f"| {system} | {m[key]}{note} | {med(ts):.3f} [{min(ts):.3f}–{max(ts):.3f}] | {m['p_at_10']:.4f} | "
                  f"{m['r_at_20']:.4f} | {m['nr_at_20']:.4f} | {m['ndcg_at_10']:.4f} | {m['cov_at_10']:.3f} | {lat} | {mb} |")

    rows(py, "python", "label")
    rows(mq, "marquee", "spec")
    print(f"\nspeed ratios, threads {t} (peer train_s / Marquee train_s, same configuration; "
          f"median over {runs} runs of the per-run ratio, and [min–max]):")
    for p, m, label in PAIRS:
        ratios = []
        for P, M in zip(py, mq):
            PP = {x["name"]: x for x in P["models"]}
            MM = {x["name"]: x for x in M["models"]}
            if p in PP and m in MM:
                ratios.append(PP[p]["train_s"] / max(MM[m]["train_s"], 1e-9))
        if ratios:
            print(f"  {label}: {med(ratios):.2f}x  [{min(ratios):.2f}–{max(ratios):.2f}]")
    P0 = py[0]["models"]
    best = {k: max(m[k] for m in P0) for k in ("p_at_10", "nr_at_20", "ndcg_at_10")}
    print("best peer:", {k: round(v, 4) for k, v in best.items()})
    for m in mq[0]["models"]:
        if m["name"] in ("wease", "wease:top=0", "ease:top=0", "als"):
            beats = all(m[k] > best[k] for k in best)
            print(f"  marquee {m['name']} = {m['spec']}: P@10 {m['p_at_10']:.4f} nR@20 {m['nr_at_20']:.4f} "
                  f"NDCG@10 {m['ndcg_at_10']:.4f} -> beats best peer on all three: {beats}")

seeds = sorted(glob.glob(f"{out}/als_seed_*_marquee.json"))
if seeds:
    print(f"\n## ALS at identical settings over {len(seeds)} initialisation seeds (NDCG@10)")
    acc = {}
    for f in seeds:
        M = {x["name"]: x for x in json.load(open(f))["models"]}
        P = {x["name"]: x for x in json.load(open(f.replace("_marquee", "_peers")))["models"]}
        for p, m, label in PAIRS[1:3]:
            acc.setdefault(label, ([], []))
            acc[label][0].append(P[p]["ndcg_at_10"])
            acc[label][1].append(M[m]["ndcg_at_10"])
    for label, (a, b) in acc.items():
        print(f"  {label}: implicit mean {st.mean(a):.4f} median {med(a):.4f} | "
              f"marquee mean {st.mean(b):.4f} median {med(b):.4f}  (per seed: implicit "
              f"{[round(x, 4) for x in a]}, marquee {[round(x, 4) for x in b]})")

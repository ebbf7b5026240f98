#!/usr/bin/env python3
"""Side-by-side quality and speed ratios from bench/recs/results/*.json."""
import json, sys

out, threads = sys.argv[1], sys.argv[2:]
for t in dict.fromkeys(threads):
    mq = json.load(open(f"{out}/marquee_t{t}.json"))
    py = json.load(open(f"{out}/peers_t{t}.json"))
    assert mq["split"] == py["split"], "splits differ"
    print(f"\n## threads {t}  (split sha256 train {mq['split']['train_sha256'][:12]}… identical in both)")
    print("| system | model | train_s | P@10 | R@20 | nR@20 | NDCG@10 | Cov@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for m in py["models"]:
        print(f"| python | {m['label']} | {m['train_s']:.3f} | {m['p_at_10']:.4f} | {m['r_at_20']:.4f} | "
              f"{m['nr_at_20']:.4f} | {m['ndcg_at_10']:.4f} | {m['cov_at_10']:.3f} |")
    for m in mq["models"]:
        print(f"| marquee | {m['spec']} | {m['train_s']:.3f} | {m['p_at_10']:.4f} | {m['r_at_20']:.4f} | "
              f"{m['nr_at_20']:.4f} | {m['ndcg_at_10']:.4f} | {m['cov_at_10']:.3f} |")
    P = {m["name"]: m for m in py["models"]}
    M = {m["name"]: m for m in mq["models"]}
    best = {k: max(m[k] for m in py["models"]) for k in ("p_at_10", "nr_at_20", "ndcg_at_10")}
    print("\nspeed ratios (peer train_s / marquee train_s, same configuration):")
    pairs = [("ease", "ease:lambda=500", "numpy EASE λ=500 vs Marquee EASE λ=500"),
             ("als", "als:factors=64:reg=0.05:alpha=0:iters=15", "implicit ALS alpha 1 vs Marquee ALS alpha 0"),
             ("als10", "als:factors=64:reg=0.05:alpha=9:iters=15", "implicit ALS alpha 10 vs Marquee ALS alpha 9"),
             ("knn", "knn", "implicit cosine kNN vs Marquee cosine kNN")]
    for p, m, label in pairs:
        if p in P and m in M:
            r = P[p]["train_s"] / max(M[m]["train_s"], 1e-9)
            print(f"  {label}: {r:.1f}x  (NDCG {P[p]['ndcg_at_10']:.4f} vs {M[m]['ndcg_at_10']:.4f})")
    print("best peer:", {k: round(v, 4) for k, v in best.items()})
    for name in ("wease", "ease", "als"):
        if name in M:
            m = M[name]
            beats = all(m[k] > best[k] for k in best)
            print(f"  marquee {m['spec']}: P@10 {m['p_at_10']:.4f} nR@20 {m['nr_at_20']:.4f} NDCG@10 "
                  f"{m['ndcg_at_10']:.4f} -> beats best peer on all three: {beats}; "
                  f"p99 latency {m['latency_p99_us']:.0f} us; model {m['model_bytes']/1e6:.1f} MB")

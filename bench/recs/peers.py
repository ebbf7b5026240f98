#!/usr/bin/env python3
"""Python peers under protocol recs-holdout-v1: implicit ALS/BPR/item-kNN and numpy EASE.

The split is implemented here independently and its counts and sha256 are checked against
the Marquee CLI's JSON (same protocol, same data) before anything is fitted.
"""
import argparse, hashlib, json, os, sys, time

M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


S42 = splitmix64(42)


def key(u, i):
    return splitmix64(splitmix64(S42 ^ (u & M64)) ^ (i & M64))


def parse(path, fmt):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f):
            line = line.strip()
            if not line:
                continue
            if fmt in ("movielens-csv", "csv"):
                p = line.split(",")
            elif fmt == "ml100k":
                p = line.split()
            else:
                p = line.split("::")
            if n == 0 and fmt in ("movielens-csv", "csv"):
                try:
                    int(p[0])
                except ValueError:
                    continue
            rows.append((int(p[0]), int(p[1]), float(p[2])))
    return rows


def build_split(rows, min_rating):
    pairs = sorted({(u, i) for u, i, r in rows if r >= min_rating})
    per = {}
    for u, i in pairs:
        per.setdefault(u, []).append(i)
    per = {u: l for u, l in per.items() if len(l) >= 5}
    train, test = [], []
    for u in sorted(per):
        items = sorted(per[u], key=lambda i: (key(u, i), i))
        k = (len(items) + 2) // 5
        test += [(u, i) for i in items[:k]]
        train += [(u, i) for i in items[k:]]
    return sorted(per), sorted(train), sorted(test)


def sha(pairs):
    h = hashlib.sha256()
    h.update("".join(f"{u}\t{i}\n" for u, i in pairs).encode())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--format", default="movielens-csv")
    ap.add_argument("--min-rating", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--expect", help="marquee JSON whose split checksums must match")
    ap.add_argument("--models", default="als,als10,bpr,knn,bm25,ease")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42, help="random_state of ALS and BPR")
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    users, train, test = build_split(parse(a.data, a.format), a.min_rating)
    items = sorted({i for _, i in train} | {i for _, i in test})
    split = dict(users=len(users), items=len(items), catalog=len({i for _, i in train}), train=len(train),
                 test=len(test), train_sha256=sha(train), test_sha256=sha(test))
    print("python split:", split, flush=True)
    if a.expect:
        with open(a.expect) as f:
            want = json.load(f)["split"]
        if want != split:
            sys.exit(f"split mismatch with {a.expect}: {want} != {split}")
        print("split identical to marquee's (counts and sha256)", flush=True)

    from threadpoolctl import threadpool_limits
    import numpy as np
    import scipy.sparse as sp
    threadpool_limits(a.threads)
    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import CosineRecommender, BM25Recommender

    uix = {u: k for k, u in enumerate(users)}
    iix = {i: k for k, i in enumerate(items)}
    nu, ni = len(users), len(items)
    X = sp.csr_matrix((np.ones(len(train), dtype=np.float32), ([uix[u] for u, _ in train], [iix[i] for _, i in train])),
                      shape=(nu, ni))
    tests = [[] for _ in range(nu)]
    for u, i in test:
        tests[uix[u]].append(iix[i])
    catalog = np.asarray(X.sum(axis=0)).ravel() > 0

    def evaluate(score_fn):
        t0 = time.perf_counter()
        tops = []
        for u in range(nu):
            s = score_fn(u).astype(np.float64)
            s[~catalog] = -np.inf
            s[X.indices[X.indptr[u]:X.indptr[u + 1]]] = -np.inf
            s = np.nan_to_num(s, nan=-np.inf)
            cand = np.argpartition(-s, 40)[:40] if ni > 40 else np.arange(ni)
            # exact top-20 by (score desc, id asc): widen the cut to include ties at the boundary
            thr = np.sort(s[cand])[::-1][19]
            cand = np.nonzero(s >= thr)[0]
            order = np.lexsort((cand, -s[cand]))
            tops.append(cand[order][:20])
        rank_s = time.perf_counter() - t0
        p = r = nr = nd = 0.0
        cov = set()
        for u in range(nu):
            t = set(tests[u])
            top = tops[u]
            hits = [1 if x in t else 0 for x in top]
            p += sum(hits[:10]) / 10
            r += sum(hits) / len(t)
            nr += sum(hits) / min(20, len(t))
            dcg = sum(h / np.log2(k + 2) for k, h in enumerate(hits[:10]))
            idcg = sum(1 / np.log2(k + 2) for k in range(min(10, len(t))))
            nd += dcg / idcg
            cov.update(top[:10].tolist())
        return dict(p_at_10=p / nu, r_at_20=r / nu, nr_at_20=nr / nu, ndcg_at_10=nd / nu,
                    cov_at_10=len(cov) / catalog.sum(), rank_s=rank_s)

    def ease_fit(lam=500.0):
        G = (X.T @ X).toarray().astype(np.float64)
        G[np.diag_indices(ni)] += lam
        P = np.linalg.inv(G)
        B = P / (-np.diag(P))
        B[np.diag_indices(ni)] = 0.0
        return B

    def mf_scores(m):
        uf, itf = m.user_factors, m.item_factors
        return lambda u: itf @ uf[u]

    def knn_scores(m):
        S = (X @ m.similarity).tocsr()
        return lambda u: np.asarray(S[u].todense()).ravel()

    specs = {
        "als": ("implicit ALS (64 f, reg 0.05, 15 it, alpha 1)",
                lambda: AlternatingLeastSquares(factors=64, regularization=0.05, iterations=15, alpha=1.0,
                                                num_threads=a.threads, random_state=a.seed), mf_scores),
        "als10": ("implicit ALS, alpha 10",
                  lambda: AlternatingLeastSquares(factors=64, regularization=0.05, iterations=15, alpha=10.0,
                                                  num_threads=a.threads, random_state=a.seed), mf_scores),
        "bpr": ("implicit BPR (64 f, 100 epochs)",
                lambda: BayesianPersonalizedRanking(factors=64, iterations=100, num_threads=a.threads,
                                                    random_state=a.seed), mf_scores),
        "knn": ("implicit item-kNN cosine, K=100", lambda: CosineRecommender(K=100, num_threads=a.threads),
                knn_scores),
        "bm25": ("implicit item-kNN BM25 (K1 1.2, B 0.75), K=100", lambda: BM25Recommender(K=100, num_threads=a.threads),
                 knn_scores),
    }
    out = dict(protocol="recs-holdout-v1", threads=a.threads, seed=a.seed, split=split, implicit=implicit.__version__,
               numpy=np.__version__, models=[])
    for name in a.models.split(","):
        times = []
        if name == "ease":
            label = "numpy EASE lambda=500 (float64)"
            for _ in range(a.repeats):
                t0 = time.perf_counter(); B = ease_fit(); times.append(time.perf_counter() - t0)
            XB = X @ B
            fn = lambda u: np.asarray(XB[u]).ravel()
        else:
            label, make, scorer = specs[name]
            for _ in range(a.repeats):
                m = make()
                t0 = time.perf_counter(); m.fit(X, show_progress=False); times.append(time.perf_counter() - t0)
            fn = scorer(m)
        res = evaluate(fn)
        res.update(name=name, label=label, train_s=float(np.median(times)), train_s_all=times)
        print(f"{label:<48} train_s {res['train_s']:.3f}  P@10 {res['p_at_10']:.4f}  nR@20 {res['nr_at_20']:.4f}  "
              f"NDCG@10 {res['ndcg_at_10']:.4f}", flush=True)
        out["models"].append(res)
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()

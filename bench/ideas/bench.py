#!/usr/bin/env python3
"""Idea box benchmark: runs a release `marquee serve` on a fresh data dir and
measures, over HTTP on 127.0.0.1 (stdlib only):

  seed      POST /api/v1/ideas, sequential, N ideas (staff account: no rate limit)
  similar   GET /api/v1/ideas/similar?q=<typed prefix>  (FTS5 BM25), latency
  list      GET /api/v1/ideas?sort=trending|top|new&limit=20, latency
  votes     V voters PUT /api/v1/ideas/{id}/vote at once (C threads, each
            voter twice), throughput, and checks the final count == V

Usage: bench.py MARQUEE_BIN [--ideas N] [--voters V] [--threads C] [--runs R]
Prints one JSON line per run and a median summary.
"""

import argparse
import concurrent.futures as cf
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

WORDS = (
    "offline download episode kids profile dark mode subtitle audio language skip intro "
    "recap watchlist playlist shuffle parental control pin family share screen cast tv "
    "remote speed playback quality hdr dolby atmos queue continue watching resume season "
    "trailer autoplay notification reminder calendar release friends party sync rating "
    "review recommendation genre filter search voice assistant accessibility caption"
).split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Api:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, token=None, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, parse(r.read())
        except urllib.error.HTTPError as e:
            return e.code, parse(e.read())


def parse(raw):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def title(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))).capitalize()


def one_run(binary, n_ideas, n_voters, threads, seed):
    rng = random.Random(seed)
    data = tempfile.mkdtemp(prefix="marquee-ideas-bench-")
    port = free_port()
    pw = "bench-admin-password"
    env = dict(os.environ, MARQUEE_LOG__FILTER="warn")
    proc = subprocess.Popen(
        [binary, "serve", "--no-demo", "--data-dir", data, "--addr", f"127.0.0.1:{port}",
         "--admin-password", pw],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    api = Api(f"http://127.0.0.1:{port}")
    try:
        for _ in range(300):
            try:
                if api.call("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        s, v = api.call("POST", "/api/v1/auth/login", body={"email": "admin@marquee.local", "password": pw})
        assert s == 200, v
        admin = v["token"]

        t = time.perf_counter()
        ids = []
        for i in range(n_ideas):
            s, v = api.call("POST", "/api/v1/ideas", admin, {
                "title": title(rng), "description": " ".join(rng.choice(WORDS) for _ in range(30)),
                "tags": [rng.choice(WORDS[:12])]})
            assert s == 201, v
            ids.append(v["id"])
        seed_s = time.perf_counter() - t

        voters = []
        for i in range(n_voters):
            s, v = api.call("POST", "/api/v1/auth/signup", body={"email": f"v{i}@bench.example", "password": "bench-password"})
            assert s == 201, v
            voters.append(v["token"])
        # Background votes so that trending/top have something to order.
        for tok in voters:
            for iid in rng.sample(ids, 5):
                api.call("PUT", f"/api/v1/ideas/{iid}/vote", tok)

        queries = []
        for _ in range(200):
            words = title(rng).split()
            typed = " ".join(words[:-1] + [words[-1][: rng.randint(2, len(words[-1]))]])
            queries.append(urllib.request.quote(typed))
        qi = iter(queries * 2)
        similar = timed(lambda: api.call("GET", f"/api/v1/ideas/similar?q={next(qi)}"), 200)
        lists = {}
        for sort in ("trending", "top", "new"):
            lists[sort] = timed(lambda: api.call("GET", f"/api/v1/ideas?sort={sort}&limit=20"), 50)

        target = ids[0]
        before = api.call("GET", f"/api/v1/ideas/{target}")[1]["votes"]
        jobs = [tok for tok in voters for _ in range(2)]
        rng.shuffle(jobs)
        t = time.perf_counter()
        with cf.ThreadPoolExecutor(threads) as ex:
            codes = list(ex.map(lambda tok: api.call("PUT", f"/api/v1/ideas/{target}/vote", tok)[0], jobs))
        vote_s = time.perf_counter() - t
        after = api.call("GET", f"/api/v1/ideas/{target}")[1]["votes"]
        assert all(c == 200 for c in codes), codes
        assert after == n_voters, (before, after, n_voters)
        return {
            "ideas": n_ideas, "voters": n_voters, "threads": threads,
            "seed_ideas_per_s": round(n_ideas / seed_s, 1),
            "similar_p50_ms": round(pct(similar, 50), 2), "similar_p95_ms": round(pct(similar, 95), 2),
            **{f"list_{k}_p50_ms": round(pct(v, 50), 2) for k, v in lists.items()},
            "concurrent_vote_requests": len(jobs), "votes_per_s": round(len(jobs) / vote_s, 1),
            "final_count_ok": after == n_voters,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--ideas", type=int, default=5000)
    ap.add_argument("--voters", type=int, default=200)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    runs = []
    for r in range(a.runs):
        res = one_run(a.binary, a.ideas, a.voters, a.threads, seed=1000 + r)
        print(json.dumps(res), flush=True)
        runs.append(res)
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    print("median:", json.dumps({k: statistics.median(r[k] for r in runs) for k in keys}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

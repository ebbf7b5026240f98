#!/usr/bin/env python3
"""Slow clients beside normal traffic (issue: hardening, connection hygiene).

Runs one marquee server on a small catalog and measures normal traffic
(wrk on a public JSON route) twice in one run: without an attack, and while
an attacker holds connections open in three ways:

* idle: connects and sends nothing;
* slow headers: sends a request line, then one header byte every few seconds;
* slow bodies: sends complete headers with a large Content-Length, then trickles the body.

Prints the normal traffic's p50/p99 and requests/s in each phase, their
ratios (attack / baseline), and how many attack sockets the server had
closed by the end (a server that never closes them keeps them all).

The server starts with an open-file soft limit of 1,024 (`--nofile`), the
common default, and the attack holds 1,200 sockets, past it, all from
127.0.0.2 (one attacker); the normal traffic comes from 127.0.0.1.

Usage: bench/hostile/slow_clients.py [--bin PATH] [--idle N] [--slow-headers N]
       [--slow-bodies N] [--seconds S] [--runs R] [--nofile N]
The binary defaults to $BENCH_BIN, else $CARGO_TARGET_DIR/release/marquee.
"""

import argparse
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ATTACKER_ADDR = "127.0.0.2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_wrk(out):
    """Successful (2xx/3xx) requests/s, p50 ms, p99 ms from `wrk --latency`
    output: a refused request (503) is fast and must not count as served."""
    def ms(v, unit):
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if total and bad:
        rps *= 1 - int(bad.group(1)) / total
    lat = dict(
        (p, ms(v, u))
        for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    )
    return rps, lat["50"], lat["99"]


def wrk(addr, seconds, path):
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", "--timeout", "10s", f"http://{addr}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps, p50, p99 = parse_wrk(out)
    if rps == 0:  # nothing answered: no latency to speak of
        return 0.0, float("inf"), float("inf")
    return rps, p50, p99


class Attacker:
    """Holds sockets open slowly until stopped; counts those the server closed."""

    def __init__(self, host, port, idle, slow_headers, slow_bodies):
        self.host, self.port = host, port
        self.plan = [("idle", idle), ("headers", slow_headers), ("body", slow_bodies)]
        self.socks = []
        self.closed = 0
        self.refused = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def open_all(self):
        for kind, n in self.plan:
            for _ in range(n):
                try:
                    # From another loopback address than the normal traffic's
                    # 127.0.0.1: one attacker, many sockets.
                    s = socket.create_connection((self.host, self.port), timeout=5,
                                                 source_address=(ATTACKER_ADDR, 0))
                    s.setblocking(False)
                except OSError:
                    self.refused += 1
                    continue
                try:
                    if kind == "headers":
                        s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    elif kind == "body":
                        s.send(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
                except OSError:
                    pass
                self.socks.append((kind, s))

    def trickle(self):
        """Every 2 s, one more byte on each slow socket; notices closed ones."""
        while not self.stop.wait(2.0):
            alive = []
            for kind, s in self.socks:
                gone = False
                try:
                    data = s.recv(4096)
                    gone = data == b"" or data.startswith(b"HTTP/1.1 408") or data.startswith(b"HTTP/1.1 503")
                except BlockingIOError:
                    pass
                except OSError:
                    gone = True
                if not gone and kind != "idle":
                    try:
                        s.send(b"X" if kind == "headers" else b" ")
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone = True
                if gone:
                    self.closed += 1
                    s.close()
                else:
                    alive.append((kind, s))
            self.socks = alive

    def close(self):
        self.stop.set()
        for _, s in self.socks:
            s.close()


def main():
    ap = argparse.ArgumentParser()
    default_bin = os.environ.get("BENCH_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "marquee")
    ap.add_argument("--bin", default=default_bin)
    ap.add_argument("--idle", type=int, default=400)
    ap.add_argument("--slow-headers", type=int, default=400)
    ap.add_argument("--slow-bodies", type=int, default=400)
    ap.add_argument("--nofile", type=int, default=1024,
                    help="the server's open-file soft limit at start (the common default)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--path", default="/api/v1/titles?limit=5")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed (Debian package `wrk`)")
    work = tempfile.mkdtemp(prefix="marquee-slow-")
    ml = os.path.join(work, "ml")
    os.makedirs(ml)
    with open(os.path.join(ml, "movies.csv"), "w") as f:
        f.write("movieId,title,genres\n")
        for i in range(1, 201):
            f.write(f"{i},Film {i} (2000),Drama\n")
    with open(os.path.join(ml, "ratings.csv"), "w") as f:
        f.write("userId,movieId,rating,timestamp\n1,1,4.0,1\n")
    env = dict(os.environ, MARQUEE_DATA_DIR=os.path.join(work, "data"), MARQUEE_LOG__FILTER="warn")
    env.pop("BENCH_BIN", None)
    subprocess.run([a.bin, "import", "movielens", ml], env=env, check=True, stdout=subprocess.DEVNULL)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"127.0.0.1:{port}"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the attacker's own sockets

    def server_limits():
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(a.nofile, hard), hard))

    server = subprocess.Popen(
        [a.bin, "serve", "--addr", addr, "--no-demo", "--admin-password", "bench-admin-pass"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"),
        preexec_fn=server_limits)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://{addr}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        base, attack = [], []
        closed = refused = total = 0
        for r in range(a.runs):
            base.append(wrk(addr, a.seconds, a.path))
            att = Attacker("127.0.0.1", port, a.idle, a.slow_headers, a.slow_bodies)
            att.open_all()
            t = threading.Thread(target=att.trickle, daemon=True)
            t.start()
            time.sleep(2)
            try:
                attack.append(wrk(addr, a.seconds, a.path))
            except subprocess.CalledProcessError as e:
                attack.append((0.0, float("inf"), float("inf")))
                print(f"run {r + 1}: normal traffic failed under attack: {e}", file=sys.stderr)
            att.stop.set()
            t.join()
            closed += att.closed
            refused += att.refused
            total += a.idle + a.slow_headers + a.slow_bodies
            att.close()
            print(f"run {r + 1}: baseline rps={base[-1][0]:.0f} p50={base[-1][1]:.2f} ms p99={base[-1][2]:.2f} ms | "
                  f"attack rps={attack[-1][0]:.0f} p50={attack[-1][1]:.2f} ms p99={attack[-1][2]:.2f} ms | "
                  f"attack sockets closed by the server {att.closed}, refused {att.refused}")
            time.sleep(2)
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        b_rps, b50, b99 = med(base, 0), med(base, 1), med(base, 2)
        a_rps, a50, a99 = med(attack, 0), med(attack, 1), med(attack, 2)
        print(f"medians of {a.runs} runs, {a.seconds} s each, wrk -t1 -c16 {a.path}")
        print(f"  baseline: {b_rps:.0f} req/s, p50 {b50:.2f} ms, p99 {b99:.2f} ms")
        print(f"  attack ({a.idle} idle, {a.slow_headers} slow-header, {a.slow_bodies} slow-body sockets): "
              f"{a_rps:.0f} req/s, p50 {a50:.2f} ms, p99 {a99:.2f} ms")
        print(f"  ratio attack/baseline: req/s {a_rps / b_rps:.3f}, p99 {a99 / b99:.3f}"
              + ("  (normal traffic got no answers under attack)" if a_rps == 0 else ""))
        print(f"  attack sockets closed or refused by the server: {closed + refused} of {total}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Live-sync latency: one device posts progress, another device of the same
profile listens on /api/v1/events; measures POST-sent -> SSE-received.
Usage: sse_latency.py ADDR [N]"""
import http.client
import json
import statistics
import sys
import threading
import time

addr, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
host, port = addr.split(":")


def call(path, body, token=None):
    c = http.client.HTTPConnection(host, int(port))
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    c.request("POST", path, body=json.dumps(body), headers=h)
    return json.loads(c.getresponse().read())


# A fresh viewer: the tablet plays, the phone (same profile) listens.
token = call("/api/v1/auth/signup", {"email": f"sse-{int(time.time())}@example.com", "password": "bench-password-1"})["token"]
tablet = call("/api/v1/devices", {"name": "Tablet", "kind": "tablet"}, token)["id"]
sid = call("/api/v1/playback/start", {"title_id": 1, "device_id": tablet}, token)["play_session_id"]
sent = {}
got = {}
ready = threading.Event()


def listen():
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", "/api/v1/events", headers={"Authorization": f"Bearer {token}"})
    r = c.getresponse()
    ready.set()
    event = None
    while len(got) < n:
        line = r.readline().decode().rstrip("\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event == "playback":
            e = json.loads(line[5:])
            got.setdefault(e["position_ms"], time.perf_counter())


t = threading.Thread(target=listen, daemon=True)
t.start()
ready.wait()
time.sleep(0.2)
c = http.client.HTTPConnection(host, int(port))
base = int(time.time() * 1000)
for i in range(n):
    pos = 700_000 + i * 1000
    body = json.dumps({"play_session_id": int(sid), "position_ms": pos, "paused": False, "sent_at": base + 10 * n + i})
    sent[pos] = time.perf_counter()
    c.request("POST", "/api/v1/playback/progress", body=body,
              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    c.getresponse().read()
    time.sleep(0.01)
t.join(timeout=10)
lat = sorted((got[p] - sent[p]) * 1000 for p in sent if p in got)
print(f"SSE delivery over {len(lat)}/{n} events: p50 {statistics.median(lat):.2f} ms, "
      f"p99 {lat[int(len(lat) * 0.99) - 1]:.2f} ms, max {lat[-1]:.2f} ms")

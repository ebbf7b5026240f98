#!/usr/bin/env python3
"""Signs up VIEWERS viewers on a running Marquee, registers a TV for each and
starts one stream each; writes "token session_id" lines to sessions.txt.
Usage: setup.py ADDR VIEWERS TITLES OUT"""
import json
import time
import sys
import urllib.request

addr, viewers, titles, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
stamp = int(time.time())


def call(path, body, token=None):
    req = urllib.request.Request(
        f"http://{addr}{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


with open(out, "w") as f:
    for i in range(viewers):
        s = call("/api/v1/auth/signup", {"email": f"bench{i}-{stamp}@example.com", "password": "bench-password-1"})
        token = s["token"]
        dev = call("/api/v1/devices", {"name": "Living-room TV", "kind": "tv"}, token)
        st = call("/api/v1/playback/start", {"title_id": 1 + i % titles, "device_id": dev["id"]}, token)
        f.write(f"{token} {st['play_session_id']}\n")
print(f"{viewers} streams ready in {out}")

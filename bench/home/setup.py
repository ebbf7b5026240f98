"""Logs in N demo viewers and writes [{token, profile_id}] for rotate.lua.
Usage: setup.py BASE N OUT. bench/load/setup.py reuses call() and login_viewers()."""
import json
import sys
import urllib.request


def call(base, path, body=None, token=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def login_viewers(base, n, out):
    """Logs in demo viewers 1..n; writes OUT (JSON) and OUT.txt ("token profile_id" lines,
    as wrk's Lua has no JSON parser)."""
    viewers = []
    for i in range(1, n + 1):
        tok = call(base, "/api/v1/auth/login", {"email": f"viewer{i}@demo.marquee", "password": "marquee-demo"})["token"]
        pid = call(base, "/api/v1/profiles", token=tok)[0]["id"]
        viewers.append({"token": tok, "profile_id": pid})
    with open(out, "w") as f:
        json.dump(viewers, f)
    with open(out + ".txt", "w") as f:
        for v in viewers:
            f.write(f"{v['token']} {v['profile_id']}\n")
    return viewers


if __name__ == "__main__":
    viewers = login_viewers(sys.argv[1], int(sys.argv[2]), sys.argv[3])
    print(f"{len(viewers)} viewers logged in")

"""Gives titles their media files and logs in viewers, for bench/media/run.sh.

Usage: setup.py BASE ADMIN_EMAIL ADMIN_PASSWORD VIEWERS OUT FILE:KEY [FILE:KEY ...]

Each FILE (inside the server's media directory, relative to it) goes to one
of the most popular demo movies, as an admin would set it
(PUT /api/v1/staff/titles/{id}/media). VIEWERS demo viewers log in and
select their first profile (as bench/home/setup.py, which this reuses). For
each title, the first viewer's signed media URL is read from the watch page
(`<video id="video" src="/media/{id}?sub=…&exp=…&sig=…">`), the URL the
player fetches and a CDN would, and GET /api/v1/titles/{id}/playback-info
is asked (absent before issue 23's playback info: recorded as such), until
ffprobe has read the file (up to a minute: before that it offers the file
as it is).
Writes OUT (JSON): {"viewers": [{token, profile_id}], "titles": {KEY: {id,
file, media_url, playback_info_status, playback_info, hls_url}}}.
"""
import html
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "home"))
from setup import call, login_viewers  # noqa: E402  (bench/home/setup.py)

PROBE_WAIT_S = 60


def get(base, path, token):
    """(status, body text) of a GET with a bearer token."""
    req = urllib.request.Request(base + path)
    req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def put(base, path, body, token):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="PUT")
    req.add_header("content-type", "application/json")
    req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def main():
    base, admin_email, admin_password, n, out = sys.argv[1:6]
    files = [a.split(":", 1) for a in sys.argv[6:]]
    admin = call(base, "/api/v1/auth/login", {"email": admin_email, "password": admin_password})["token"]
    movies = call(base, f"/api/v1/titles?kind=movie&limit={len(files)}")["items"]
    viewers = login_viewers(base, int(n), out + ".viewers")
    for v in viewers:
        call(base, f"/api/v1/profiles/{v['profile_id']}/select", {}, token=v["token"])
    titles = {}
    for (file, key), movie in zip(files, movies):
        tid = movie["id"]
        put(base, f"/api/v1/staff/titles/{tid}/media", {"path": file}, admin)
        status, page = get(base, f"/watch/{tid}", viewers[0]["token"])
        m = re.search(r'<video id="video" src="([^"]+)"', page)
        if status != 200 or not m:
            sys.exit(f"/watch/{tid}: HTTP {status}, no <video id=\"video\" src=…> in the page")
        media_url = html.unescape(m.group(1))
        # Until ffprobe has read the file (a background worker, woken by the
        # first ask), playback-info offers the file as it is: wait for it.
        deadline = time.time() + PROBE_WAIT_S
        while True:
            pi_status, pi_text = get(base, f"/api/v1/titles/{tid}/playback-info", viewers[0]["token"])
            try:
                pi = json.loads(pi_text) if pi_status == 200 else None
            except ValueError:
                pi = None
            probed = pi is not None and (pi.get("problem") or any(
                s.get("container") or s.get("protocol") == "hls" for s in pi.get("sources", [])))
            if pi is None or probed or time.time() > deadline:
                break
            time.sleep(0.5)
        hls = None
        for s in (pi or {}).get("sources", []):
            if s.get("protocol") == "hls":
                hls = s.get("url")
                break
        titles[key] = {
            "id": tid,
            "name": movie["name"],
            "file": file,
            "media_url": media_url,
            "playback_info_status": pi_status,
            "playback_info": pi,
            "hls_url": hls,
        }
        srcs = ", ".join(f"{s.get('method')}/{s.get('protocol')}" for s in (pi or {}).get("sources", []))
        print(f"{key}: {file} -> title {tid} ({movie['name']}); watch page src {media_url[:40]}…; "
              f"playback-info HTTP {pi_status}" + (f": {srcs}" if pi else "")
              + (f", problem: {pi['problem']}" if pi and pi.get("problem") else ""))
    with open(out, "w") as f:
        json.dump({"viewers": viewers, "titles": titles}, f, indent=1)


if __name__ == "__main__":
    main()

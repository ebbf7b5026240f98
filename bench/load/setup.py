#!/usr/bin/env python3
"""Prepares a running Marquee for the load scenario; writes into OUT:
viewers.json(.txt) (demo viewers' tokens and profiles, for browse.lua),
sessions.txt ("token play_session_id", one started stream per new viewer),
ingest_token.txt, conversations.txt ("token conversation_id", one open
conversation per new customer). Usage: setup.py BASE OUT VIEWERS STREAMS CUSTOMERS"""
import importlib.util
import os
import sys
import time

# The HTTP helper and the viewer log-in are bench/home's.
_spec = importlib.util.spec_from_file_location(
    "home_setup", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "home", "setup.py"))
home = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(home)

base, out = sys.argv[1], sys.argv[2]
viewers, streams, customers = (int(x) for x in sys.argv[3:6])
stamp = int(time.time())
os.makedirs(out, exist_ok=True)


def call(path, body=None, token=None):
    return home.call(base, path, body, token)


home.login_viewers(base, viewers, f"{out}/viewers.json")

with open(f"{out}/sessions.txt", "w") as f:
    for i in range(streams):
        tok = call("/api/v1/auth/signup", {"email": f"load{i}-{stamp}@example.com", "password": "load-password-1"})["token"]
        dev = call("/api/v1/devices", {"name": "Living-room TV", "kind": "tv"}, tok)
        st = call("/api/v1/playback/start", {"title_id": 1 + i % 300, "device_id": dev["id"]}, tok)
        f.write(f"{tok} {st['play_session_id']}\n")

admin = call("/api/v1/auth/login", {"email": "admin@marquee.local", "password": os.environ["ADMIN_PASSWORD"]})["token"]
with open(f"{out}/ingest_token.txt", "w") as f:
    f.write(call("/api/v1/listening/tokens", {"name": "load"}, admin)["token"])

with open(f"{out}/conversations.txt", "w") as f:
    for i in range(customers):
        tok = call("/api/v1/auth/signup", {"email": f"chat{i}-{stamp}@example.com", "password": "load-password-1"})["token"]
        c = call("/api/v1/support/conversations", {"body": "My stream keeps stopping"}, tok)
        f.write(f"{tok} {c['conversation']['id']}\n")
print(f"{viewers} viewers, {streams} streams, {customers} conversations ready in {out}")

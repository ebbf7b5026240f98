#!/usr/bin/env python3
"""Ingest load generator: POSTs a JSONL file to /api/v1/posts in batches
over C concurrent keep-alive connections and reports posts/s from the first
request to the last acknowledgement (every post classified and committed).

Bodies are serialised before the clock starts, so the generator spends its
time waiting on the server. Stdlib only.

usage: load.py FILE.jsonl HOST:PORT TOKEN [BATCH=2000] [CONCURRENCY=2]"""
import http.client, json, sys, threading, time

path, hostport, token = sys.argv[1], sys.argv[2], sys.argv[3]
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
conc = int(sys.argv[5]) if len(sys.argv) > 5 else 2
lines = [l for l in open(path, encoding="utf-8") if l.strip()]
bodies = ["[" + ",".join(l.strip() for l in lines[i:i + batch]) + "]" for i in range(0, len(lines), batch)]
bodies = [b.encode() for b in bodies]
host, port = hostport.rsplit(":", 1)
lock = threading.Lock()
queue = list(range(len(bodies)))
acked = [0]
errors = []

def worker():
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    while True:
        with lock:
            if not queue:
                break
            i = queue.pop(0)
        conn.request("POST", "/api/v1/posts", body=bodies[i],
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            errors.append((r.status, data[:200]))
            break
        with lock:
            acked[0] += json.loads(data)["received"]

t0 = time.perf_counter()
threads = [threading.Thread(target=worker) for _ in range(conc)]
for t in threads: t.start()
for t in threads: t.join()
dt = time.perf_counter() - t0
if errors:
    print("errors:", errors[:3]); sys.exit(1)
print(json.dumps({"posts": acked[0], "seconds": round(dt, 3), "posts_per_s": round(acked[0] / dt),
                  "batch": batch, "concurrency": conc}))

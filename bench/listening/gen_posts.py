#!/usr/bin/env python3
"""Writes N posts as JSON Lines for the ingest benchmark.

Texts are TweetEval validation tweets (../shared/data/sentiment/tweeteval)
with a Marquee tag, mixed with topic templates, so classification and topic
matching do real work. Times fall within the last hour; ids are unique per
run (prefix)."""
import json, os, random, sys, time

n = int(sys.argv[1]); out = sys.argv[2]; prefix = sys.argv[3] if len(sys.argv) > 3 else "b"
here = os.path.dirname(os.path.abspath(__file__))
val = os.path.join(here, "../../../shared/data/sentiment/tweeteval/val_text.txt")
texts = [t.strip() for t in open(val, encoding="utf-8") if t.strip()] if os.path.exists(val) else []
templates = [
    "Marquee just raised the price again, cancelling #MarqueePriceHike",
    "Watching Heat on Marquee tonight, love it",
    "The Marquee app keeps crashing on my TV",
    "Marquee support fixed my billing issue fast, great service",
    "Buffering all evening on Marquee, streaming quality is awful",
]
rng = random.Random(42)
now = int(time.time() * 1000)
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        t = rng.choice(texts) + " #Marquee" if texts and rng.random() < 0.6 else rng.choice(templates)
        f.write(json.dumps({"source": "bench", "external_id": f"{prefix}-{i}",
                            "author": f"@user{rng.randrange(100000)}@bench.invalid", "text": t,
                            "created_at": now - 3_600_000 + (i * 3_600_000) // n, "lang": "en"}) + "\n")

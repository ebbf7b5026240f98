#!/usr/bin/env python3
"""Writes a catalog feed (docs/catalog-feed.md) of N titles for the import
benchmark: movies, and series of ten episodes each (every series and every
episode counts as a title), with synopses, cast, crew, genres, tags, ratings
and ids. Deterministic for a given N and seed.

    python3 bench/catalog/gen_feed.py 100000 > feed.jsonl
"""
import json
import random
import sys

GENRES = ["Drama", "Comedy", "Thriller", "Action", "Romance", "Documentary",
          "Horror", "Sci-Fi", "Animation", "Crime", "Mystery", "Fantasy"]
WORDS = ("harbor night train winter light river glass echo paper garden "
         "silent red north last city road storm letter orchard bridge").split()
RATINGS = ["G", "PG", "PG-13", "R", "TV-Y7", "TV-PG", "TV-14", "TV-MA"]


def name(r):
    return " ".join(w.capitalize() for w in r.sample(WORDS, r.randint(1, 4)))


def people(r, n):
    return [{"name": f"{name(r)} {r.choice(WORDS).capitalize()}son",
             "character": name(r)} for _ in range(n)]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    r = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
    out = sys.stdout
    out.write(json.dumps({"format": "marquee-catalog", "version": 1,
                          "source": "bench"}) + "\n")
    made, i = 0, 0
    while made < n:
        i += 1
        common = {
            "name": f"{name(r)} {i}",
            "year": r.randint(1950, 2026),
            "synopsis": " ".join(r.choice(WORDS) for _ in range(40)),
            "maturity": r.choice(RATINGS),
            "genres": r.sample(GENRES, 2),
            "tags": r.sample(WORDS, 3),
            "cast": people(r, 5),
            "crew": [{"name": f"{name(r)} Director", "role": "director"}],
            "languages": ["en"],
            "ids": {"tmdb": str(i)},
        }
        if i % 91 == 0 and n - made >= 11:
            common["type"] = "series"
            common["seasons"] = [{"number": s, "episodes": [
                {"number": e, "name": name(r), "runtime_min": r.randint(20, 60),
                 "synopsis": " ".join(r.choice(WORDS) for _ in range(20))}
                for e in range(1, 6)]} for s in (1, 2)]
            made += 11
        else:
            common["type"] = "movie"
            common["runtime_min"] = r.randint(70, 180)
            made += 1
        out.write(json.dumps(common) + "\n")


if __name__ == "__main__":
    main()

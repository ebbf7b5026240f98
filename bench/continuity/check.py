#!/usr/bin/env python3
"""Durability check after a bench: every acknowledged report must be in the
play-event log. Usage: check.py DB ACKED (the sum of acked= over the runs)."""
import sqlite3
import sys

db, acked = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
n = con.execute("SELECT COUNT(*) FROM play_events WHERE kind = 'progress'").fetchone()[0]
print(f"progress events in the log: {n}; acknowledged by the server: {acked}")
sys.exit(0 if n >= acked else 1)

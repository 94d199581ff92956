"""The one-year benchmark database is seeded: the same seed and scale give the same rows, another seed
other rows (so figures measured on it can be reproduced by rebuilding it)."""

from __future__ import annotations

import hashlib
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from year_db import build  # noqa: E402  (bench/ is a folder of scripts, not a package)

SCALE = 0.005
"""1.8 simulated days: some ten thousand rows, scores among them, built in seconds."""
TABLES = ("account_snapshots", "proposals", "positions", "orders", "events", "cycles", "analyses", "scores")


def digest(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row, in id order, of the tables the builder writes."""
    conn = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLES:
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()  # noqa: S608 (names above)
            out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        conn.close()


def test_the_same_seed_builds_the_same_rows_and_another_seed_other_rows(tmp_path: Path) -> None:
    counts = [
        build(tmp_path / f"{name}.db", scale=SCALE, seed=seed)
        for name, seed in (("a", 24), ("b", 24), ("c", 25))
    ]
    assert counts[0] == counts[1]
    a, b, c = (digest(tmp_path / f"{name}.db") for name in "abc")
    assert a == b
    assert all(a[t][0] > 0 for t in TABLES), a
    assert a["scores"][0] == counts[0]["scores"]
    differing = {t for t in TABLES if a[t][1] != c[t][1]}
    assert {"account_snapshots", "positions", "orders", "scores"} <= differing

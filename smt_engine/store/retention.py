"""Retention for the fast-growing tables, and how big each table is and how fast it grows (`smt db size`).

Account snapshots arrive every monitor tick (5,760 a day at 15 s). After a day only the last snapshot of
each hour is kept: the equity curve beyond the console's 24 h window, each loss day's opening equity (the
last snapshot before midnight is the last of its hour) and the kept peaks (``account_peaks``, never
deleted) read the same. The whale history cache and the scorecard's bars have their own retention
(``whales.history_retention_days``, 45 days of bars); see docs/operator-guide.md.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from smt_engine.store.codec import parse_ts, ts
from smt_engine.store.db import Store

FULL_DETAIL = timedelta(days=1)
"""Snapshots younger than this are all kept."""
THIN_STEP = timedelta(days=7)
"""At most this much history is thinned per pass, so a first pass over a long history never holds the
database for long; later passes continue where it stopped (the watermark in ``meta``)."""
_WATERMARK = "retention.snapshots_thinned_to"

GROWTH_COLUMNS: dict[str, str] = {
    "account_snapshots": "at",
    "events": "at",
    "orders": "created_at",
    "positions": "opened_at",
    "proposals": "created_at",
    "analyses": "created_at",
    "cycles": "started_at",
    "whale_signals": "at",
    "whale_transfers": "at",
    "prices": "at",
    "candles": "seen_at",
    "scores": "scored_at",
    "ai_logs": "created_at",
    "notifications": "created_at",
    "commands": "created_at",
    "analyst_usage": "at",
    "exchange_flows": "at",
    "scorecard_reports": "at",
    "whale_history": "at",
}
"""The time each table's rows are written at, for the growth per day (the whale history cache: the
transfers' own chain time, so its figure is transfers cached per day of chain time)."""


class Retention:
    """The engine's housekeeping calls this every monitor tick; it works at most hourly once caught up."""

    EVERY = timedelta(hours=1)

    def __init__(self, store: Store) -> None:
        self.store = store
        self._next: datetime | None = None

    def __call__(self, now: datetime) -> int:
        if self._next is not None and now < self._next:
            return 0
        removed, caught_up = thin_snapshots(self.store, now)
        self._next = now + self.EVERY if caught_up else now  # a long first history: a step per tick
        return removed


def thin_snapshots(store: Store, now: datetime) -> tuple[int, bool]:
    """Keep the last snapshot of each hour older than ``FULL_DETAIL``, at most ``THIN_STEP`` of history
    per call; returns how many went and whether everything old enough is thinned now."""
    cutoff = ts(now - FULL_DETAIL)[:13]
    with store.lock, store.db.atomic():
        row = store.conn.execute("SELECT value FROM meta WHERE key = ?", [_WATERMARK]).fetchone()
        if row is not None:
            lo = str(row[0])
        else:
            first = store.conn.execute("SELECT min(at) FROM account_snapshots").fetchone()[0]
            if first is None:
                return 0, True
            lo = str(first)[:13]  # the start of the first snapshot's hour
        hi = min(cutoff, _hour_after(lo, THIN_STEP))  # whole hours only
        if hi <= lo:
            return 0, True
        removed = store.conn.execute(
            """
            DELETE FROM account_snapshots WHERE at >= :lo AND at < :hi
            AND id NOT IN (
                SELECT max(id) FROM account_snapshots WHERE at >= :lo AND at < :hi GROUP BY substr(at, 1, 13)
            )
            AND id NOT IN (SELECT snapshot_id FROM account_peaks WHERE snapshot_id IS NOT NULL)
            """,
            {"lo": lo, "hi": hi},
        ).rowcount
        store.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [_WATERMARK, hi])
    return int(removed), hi >= cutoff


def _hour_after(hour: str, step: timedelta) -> str:
    """``hour`` (stored-time text cut to the hour) plus ``step``, cut to the hour."""
    return ts(parse_ts(f"{hour}:00:00.000000Z") + step)[:13]


@dataclass(frozen=True, slots=True)
class TableSize:
    table: str
    rows: int
    bytes: int | None
    """Pages of the table and its indexes (None when this SQLite has no ``dbstat``)."""
    per_day: float | None
    """Rows written per day over the last 7 days of the table's writes, ending at its newest row (so a
    database no engine writes any more, a demo's, still shows how it grew); None: no write time."""


def table_sizes(store: Store, now: datetime, days: int = 7) -> list[TableSize]:
    """Every table, largest first: rows, bytes on disk and rows per day over the last ``days`` of its
    writes (over its life when that is shorter, but at least a day)."""
    with store.lock:
        tables = [
            str(r[0])
            for r in store.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        pages: dict[str, int] | None
        try:
            pages = {
                str(name): int(size)
                for name, size in store.conn.execute(
                    "SELECT coalesce(m.tbl_name, s.name), sum(s.pgsize) FROM dbstat s "
                    "LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1"
                )
            }
        except sqlite3.OperationalError:  # built without the dbstat virtual table
            pages = None
        out = []
        for table in tables:
            rows = int(store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            column = GROWTH_COLUMNS.get(table)
            per_day = None
            if column is not None:
                newest = store.conn.execute(f"SELECT max({column}) FROM {table}").fetchone()[0]
                end = parse_ts(newest) if newest else now
                start = end - timedelta(days=days)
                recent = int(
                    store.conn.execute(
                        f"SELECT count(*) FROM {table} WHERE {column} > ?", [ts(start)]
                    ).fetchone()[0]
                )
                oldest = store.conn.execute(f"SELECT min({column}) FROM {table}").fetchone()[0]
                lived = (end - parse_ts(oldest)) / timedelta(days=1) if oldest else float(days)
                if lived >= days:
                    per_day = round(recent / days, 1)
                elif lived >= 1:
                    # Younger than the window: its n rows span n - 1 intervals of its own life, so a
                    # two-day-old file is not reported growing at two sevenths of its pace.
                    per_day = round((recent - 1) / lived, 1)
                else:
                    per_day = float(recent)  # under a day old: what it wrote so far
            out.append(TableSize(table, rows, pages.get(table) if pages is not None else None, per_day))
    return sorted(out, key=lambda t: (-(t.bytes or 0), -t.rows, t.table))

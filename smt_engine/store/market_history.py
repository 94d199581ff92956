"""Market history for backtests: closed bars fetched from WEEX or imported from files.

Kept apart from ``candles`` (the bars the engine itself saw, pruned, used to score live decisions): a
backtest must never be mistaken for what the engine observed, and history must survive the pruning.
Reads and writes go straight through SQL (not the generic codec) because a backtest reads hundreds of
thousands of bars at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.domain import Candle
from smt_engine.store.base import Repo
from smt_engine.store.codec import dec, parse_ts, ts


@dataclass(frozen=True, slots=True)
class HistorySpan:
    """What is stored for one symbol and interval."""

    symbol: str
    interval: str
    bars: int
    first: datetime
    last: datetime
    sources: tuple[str, ...]


class MarketHistoryRepo(Repo[HistorySpan]):
    table = "market_history"
    record = HistorySpan

    def write(self, symbol: str, interval: str, bars: Sequence[Candle], source: str, at: datetime) -> int:
        """Store ``bars`` in one transaction (a bar already stored is replaced); returns how many."""
        rows = [
            (
                symbol,
                interval,
                ts(b.open_time),
                dec(b.open),
                dec(b.high),
                dec(b.low),
                dec(b.close),
                dec(b.volume),
                source,
                ts(at),
            )
            for b in bars
        ]
        with self.lock, self.db.atomic():
            self.db.conn.executemany(
                f"INSERT OR REPLACE INTO {self.table} (symbol, interval, open_time, open, high, low, close, "
                "volume, source, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def bars(
        self, symbol: str, interval: str, start: datetime | None = None, end: datetime | None = None
    ) -> list[Candle]:
        """Bars of one series that opened in ``[start, end)``, oldest first."""
        sql = (
            f"SELECT open_time, open, high, low, close, volume FROM {self.table} "
            "WHERE symbol = ? AND interval = ?"
        )
        params: list[str] = [symbol, interval]
        if start is not None:
            sql += " AND open_time >= ?"
            params.append(ts(start))
        if end is not None:
            sql += " AND open_time < ?"
            params.append(ts(end))
        with self.lock:
            cursor: sqlite3.Cursor = self.db.conn.execute(sql + " ORDER BY open_time", params)
            rows = cursor.fetchall()
        # Stored times are fixed-width UTC ISO text ending in Z (``codec.ts``); fromisoformat reads them
        # several times faster than ``parse_ts``'s strptime, which matters at a few hundred thousand bars.
        return [
            Candle(
                datetime.fromisoformat(r[0]),
                Decimal(r[1]),
                Decimal(r[2]),
                Decimal(r[3]),
                Decimal(r[4]),
                Decimal(r[5]),
            )
            for r in rows
        ]

    def last_open(self, symbol: str, interval: str, start: datetime, end: datetime) -> datetime | None:
        """The latest stored bar's open time in ``[start, end)`` (where an interrupted fetch resumes)."""
        with self.lock:
            row = self.db.conn.execute(
                f"SELECT max(open_time) FROM {self.table} WHERE symbol = ? AND interval = ? "
                "AND open_time >= ? AND open_time < ?",
                [symbol, interval, ts(start), ts(end)],
            ).fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    def spans(self) -> list[HistorySpan]:
        """One line per stored series: how many bars, from when to when, from which sources."""
        with self.lock:
            rows = self.db.conn.execute(
                f"SELECT symbol, interval, count(*), min(open_time), max(open_time), "
                f"group_concat(DISTINCT source) FROM {self.table} GROUP BY symbol, interval "
                "ORDER BY symbol, interval"
            ).fetchall()
        return [
            HistorySpan(r[0], r[1], int(r[2]), parse_ts(r[3]), parse_ts(r[4]), tuple(sorted(r[5].split(","))))
            for r in rows
        ]

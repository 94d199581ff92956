"""Market prices the engine saw: closed candles and last prices, kept so decisions can be scored.

Only closed bars are stored (a bar whose ``close_time`` is after the moment it was seen is still
forming and would leak a later price into an earlier score). Reads take a moment ``at`` and return
only what was known by then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.store.base import Repo
from smt_engine.store.codec import ts


@dataclass(slots=True, kw_only=True)
class StoredCandle:
    symbol: str
    interval: str
    open_time: datetime
    close_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    seen_at: datetime


@dataclass(slots=True, kw_only=True)
class PricePoint:
    symbol: str
    at: datetime
    price: Decimal
    cycle_id: str | None = None
    id: int | None = None


class CandlesRepo(Repo[StoredCandle]):
    table = "candles"
    record = StoredCandle
    pk = "open_time"

    def record_closed(self, candles: list[StoredCandle]) -> int:
        """Store the closed bars among ``candles`` (a later sighting replaces a bar); returns how many."""
        closed = [c for c in candles if c.close_time <= c.seen_at]
        self.write_many(closed, "INSERT OR REPLACE")
        return len(closed)

    def prune(self, before: datetime) -> int:
        """Forget bars that closed before ``before``; returns how many."""
        with self.lock, self.db.atomic():
            cursor = self.db.execute(f"DELETE FROM {self.table} WHERE close_time < ?", [ts(before)])
        return int(cursor.rowcount)

    def between(self, symbol: str, start: datetime, end: datetime) -> list[StoredCandle]:
        """Bars of ``symbol`` that opened at or after ``start`` and closed by ``end``, oldest first."""
        return self.select(
            "symbol = ? AND open_time >= ? AND close_time <= ?",
            [symbol, ts(start), ts(end)],
            order_by="open_time, interval",
        )

    def last_close(self, symbol: str, at: datetime, within: timedelta) -> tuple[datetime, Decimal] | None:
        """The close of the latest bar that had closed by ``at`` (and not more than ``within`` before)."""
        rows = self.select(
            "symbol = ? AND close_time <= ? AND close_time >= ?",
            [symbol, ts(at), ts(at - within)],
            order_by="close_time DESC",
            limit=1,
        )
        return (rows[0].close_time, rows[0].close) if rows else None


class PricesRepo(Repo[PricePoint]):
    table = "prices"
    record = PricePoint

    def at_or_before(self, symbol: str, at: datetime, within: timedelta) -> PricePoint | None:
        rows = self.select(
            "symbol = ? AND at <= ? AND at >= ?",
            [symbol, ts(at), ts(at - within)],
            order_by="at DESC",
            limit=1,
        )
        return rows[0] if rows else None

    def latest_before(self, at: datetime) -> datetime | None:
        """When prices were last recorded before ``at`` (the previous cycle), if ever."""
        rows = self.select("at < ?", [ts(at)], order_by="at DESC", limit=1)
        return rows[0].at if rows else None

    def for_cycle(self, cycle_id: str) -> dict[str, Decimal]:
        return {p.symbol: p.price for p in self.select("cycle_id = ?", [cycle_id], order_by="id")}

"""Exchange flows per cycle: one row per (window, asset), kept as a history the signal is scored against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row, ts


@dataclass(slots=True, kw_only=True)
class ExchangeFlow:
    """Net movement of ``asset`` into labelled exchange wallets over the ``window_hours`` before ``at``.

    Amounts are in the asset's own units (ETH for ETH, WETH and stETH; dollars for USDT and USDC);
    ``net`` = inflow - outflow, so positive means coins went onto exchanges.
    """

    cycle_id: str
    at: datetime
    window_hours: int
    asset: str
    inflow: Decimal
    outflow: Decimal
    net: Decimal
    transfers: int
    wallets: int
    id: int | None = None


class ExchangeFlowsRepo(Repo[ExchangeFlow]):
    table = "exchange_flows"
    record = ExchangeFlow

    def add_cycle(self, flows: list[ExchangeFlow]) -> None:
        """Record one cycle's flows (a re-run of the same cycle replaces its rows)."""
        with self.lock, self.db.atomic():
            for flow in flows:
                self.write_row(to_row(flow), "INSERT OR REPLACE")

    def for_cycle(self, cycle_id: str) -> list[ExchangeFlow]:
        return self.select("cycle_id = ?", [cycle_id], order_by="window_hours, asset")

    def series(self, asset: str, window_hours: int, before: datetime, limit: int) -> list[ExchangeFlow]:
        """The newest ``limit`` earlier values of one series, newest first."""
        return self.select(
            "asset = ? AND window_hours = ? AND at < ?",
            [asset, window_hours, ts(before)],
            order_by="at DESC",
            limit=limit,
        )

    def recent(self, window_hours: int, limit: int) -> list[ExchangeFlow]:
        """The newest ``limit`` rows of one window, every asset, newest first."""
        return self.select("window_hours = ?", [window_hours], order_by="at DESC, id DESC", limit=limit)

    def most_wallets_since(self, start: datetime) -> int:
        """The most watched wallets any flow since ``start`` was read from (what a whole read counts)."""
        with self.lock:
            row = self.db.execute(
                f"SELECT MAX(wallets) FROM {self.table} WHERE at >= ?", [ts(start)]
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

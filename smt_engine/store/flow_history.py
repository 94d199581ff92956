"""Hourly exchange net flows over history (``smt whales backfill``), for backtests of the flow signal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row, ts


@dataclass(slots=True, kw_only=True)
class FlowHour:
    """Net movement of ``asset`` into the watched exchange wallets in the hour ending at ``hour``.

    Amounts in the asset's own units; ``net`` = inflow - outflow (positive: onto exchanges), exchange to
    exchange moves left out, as in ``exchange_flows``. ``wallets``: the wallets read whole for the hour.
    """

    hour: datetime
    asset: str
    inflow: Decimal
    outflow: Decimal
    net: Decimal
    transfers: int
    wallets: int
    recorded_at: datetime


class FlowHistoryRepo(Repo[FlowHour]):
    table = "flow_history"
    record = FlowHour

    def save(self, hours: Sequence[FlowHour]) -> int:
        """Write (or rewrite) the given hours; returns how many rows."""
        with self.lock, self.db.atomic():
            for row in hours:
                self.write_row(to_row(row), "INSERT OR REPLACE")
        return len(hours)

    def between(self, start: datetime, end: datetime, asset: str | None = None) -> list[FlowHour]:
        """Hours ending after ``start`` and at or before ``end``, oldest first."""
        where, params = "hour > ? AND hour <= ?", [ts(start), ts(end)]
        if asset is not None:
            where, params = where + " AND asset = ?", [*params, asset]
        return self.select(where, params, order_by="hour, asset")

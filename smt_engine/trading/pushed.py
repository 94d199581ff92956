"""Closes the private stream has already told of: a take-profit or stop-loss leg pushed ``FILLED``.

WEEX's ``orders`` push carries, per order, its id, symbol, position side, type and status and the
cumulative fill: ``cumFillSize``, ``cumFillValue``, ``cumFillFee``, ``cumRealizePnl`` and
``updatedTime`` (WEEX's websocket page, orders channel, "Push Data Parameters"; ccxt pro's
``handle_orders`` recording). That is all a close record needs (reason, closing order, exit price,
realised PnL net of the fee, time), so the monitor settles such a close once one read confirms it (the
venue no longer lists the position) instead of asking order history and fills for it. A row missing any
of it is not kept here, and a close the venue contradicts is left to the REST path (``reconcile``).
Measured in docs/benchmarks.md, "At internet distance".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from smt_engine.domain import Side
from smt_engine.exchange.market import from_ms
from smt_engine.exchange.weex.parsing import decimal_or, leg_kind


@dataclass(frozen=True, slots=True)
class PushedLegFill:
    """A TP/SL leg the venue pushed as filled, with its whole fill."""

    order_id: str
    symbol: str
    side: Side
    kind: Literal["tp", "sl"]
    size: Decimal
    exit_price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    """The venue's realised PnL of the fill, before the fee (``cumRealizePnl``)."""
    at: datetime

    @property
    def net_pnl(self) -> Decimal:
        """Realised PnL net of the fee, as the REST path computes it from the fills."""
        return self.realized_pnl - self.fee


def pushed_leg_fill(row: dict[str, Any]) -> PushedLegFill | None:
    """The filled leg in an ``orders`` push row, or None (not a leg, not filled, or a field missing)."""
    kind = leg_kind(row)
    if kind is None or str(row.get("status") or "").upper() != "FILLED":
        return None
    try:
        order_id, symbol = str(row["id"]), str(row["symbol"])
        side = Side(str(row["positionSide"]))
        size = decimal_or(row.get("cumFillSize"))
        value = decimal_or(row.get("cumFillValue"))
        fee = abs(decimal_or(row.get("cumFillFee")))
        pnl = decimal_or(row.get("cumRealizePnl"))
        updated = int(str(row["updatedTime"]))
    except (KeyError, ValueError, TypeError):
        return None
    if not order_id or order_id == "0" or size <= 0 or value <= 0 or updated <= 0:
        return None
    return PushedLegFill(order_id, symbol, side, kind, size, value / size, fee, pnl, from_ms(updated))


class PushedFills:
    """Filled legs pushed since the monitor last took them (the stream fills it, the monitor empties it)."""

    def __init__(self) -> None:
        self._fills: dict[str, PushedLegFill] = {}

    def note(self, row: dict[str, Any]) -> bool:
        """Keep the row's filled leg, if it is one; True when kept."""
        fill = pushed_leg_fill(row)
        if fill is None:
            return False
        self._fills[fill.order_id] = fill
        return True

    def take(self) -> list[PushedLegFill]:
        fills, self._fills = list(self._fills.values()), {}
        return fills

    def restore(self, fills: list[PushedLegFill]) -> None:
        """Give back fills a tick took but could not check (its read failed); a newer push wins."""
        for fill in fills:
            self._fills.setdefault(fill.order_id, fill)


__all__ = ["PushedFills", "PushedLegFill", "pushed_leg_fill"]

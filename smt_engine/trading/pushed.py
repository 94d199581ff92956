"""Closes the private stream has already told of: a take-profit or stop-loss leg pushed ``FILLED``, and
a position pushed flat.

WEEX's ``orders`` push carries, per order, its id, symbol, position side, type and status and the
cumulative fill: ``cumFillSize``, ``cumFillValue``, ``cumFillFee``, ``cumRealizePnl`` and
``updatedTime`` (WEEX's websocket page, orders channel, "Push Data Parameters"; ccxt pro's
``handle_orders`` recording). That is all a close record needs (reason, closing order, exit price,
realised PnL net of the fee, time), so the monitor settles such a close once one read confirms it (the
venue no longer lists the position) instead of asking order history and fills for it. A row missing any
of it is not kept here, and a close the venue contradicts is left to the REST path (``reconcile``).

WEEX's ``positions`` push (same page, positions channel; ccxt pro's ``handle_positions`` recording)
carries the position's ``symbol``, ``side``, ``size`` held now and ``updatedTime``. A row with size 0 is
the venue's own word that the side is flat: with a pushed fill of the whole position it is reason
enough to cancel the sibling leg before the confirming read returns, which saves a round trip
(``pushed_closes``). The books still wait for that read. Measured in docs/benchmarks.md, "At internet
distance".
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


def pushed_flat(row: dict[str, Any]) -> tuple[str, Side, datetime] | None:
    """(symbol, side, when) of a ``positions`` push row that says the side is flat, else None.

    A demo account's rows name ``coinId`` instead of ``symbol`` (ccxt issue #28576): no symbol, no word.
    """
    try:
        symbol, side = str(row["symbol"]), Side(str(row["side"]))
        size = decimal_or(row.get("size"), Decimal(-1))
        updated = int(str(row["updatedTime"]))
    except (KeyError, ValueError, TypeError):
        return None
    if not symbol or size != 0 or updated <= 0:
        return None
    return symbol, side, from_ms(updated)


class PushedFills:
    """Filled legs pushed since the monitor last took them (the stream fills it, the monitor empties it),
    and the latest pushed word on which sides are flat."""

    def __init__(self) -> None:
        self._fills: dict[str, PushedLegFill] = {}
        self._flat: dict[tuple[str, Side], datetime] = {}

    def note(self, row: dict[str, Any]) -> bool:
        """Keep the row's filled leg, if it is one; True when kept."""
        fill = pushed_leg_fill(row)
        if fill is None:
            return False
        self._fills[fill.order_id] = fill
        return True

    def note_position(self, row: dict[str, Any]) -> None:
        """Keep the side's latest pushed state: flat (with when), or held again (the flat word dropped)."""
        flat = pushed_flat(row)
        if flat is not None:
            self._flat[flat[0], flat[1]] = flat[2]
            return
        try:
            self._flat.pop((str(row["symbol"]), Side(str(row["side"]))), None)
        except (KeyError, ValueError):
            return

    def flat_since(self, symbol: str, side: Side) -> datetime | None:
        """When the venue last pushed this side flat, if that is still its latest word."""
        return self._flat.get((symbol, side))

    def forget_positions(self) -> None:
        """A reconnect: what was pushed before the gap may be stale, so only new pushes count."""
        self._flat.clear()

    def take(self) -> list[PushedLegFill]:
        fills, self._fills = list(self._fills.values()), {}
        return fills

    def restore(self, fills: list[PushedLegFill]) -> None:
        """Give back fills a tick took but could not check (its read failed); a newer push wins."""
        for fill in fills:
            self._fills.setdefault(fill.order_id, fill)


__all__ = ["PushedFills", "PushedLegFill", "pushed_flat", "pushed_leg_fill"]

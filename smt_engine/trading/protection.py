"""Protection: a new position's take-profit and stop-loss are confirmed resting, or placed.

WEEX attaches the TP/SL legs to the entry order and lists them with a delay, so they are polled for
until ``protection_timeout``; a leg that never shows is placed as its own reduce-only trigger. The
monitor uses the same ``place_leg`` to re-place a stop that went missing later.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, Literal

from smt_engine.domain import EventLevel, OrderKind, OrderState, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    AmbiguousOutcome,
    ExchangeError,
    ExchangeOrder,
    PlacedOrder,
)
from smt_engine.exchange.precision import PrecisionError, plain
from smt_engine.store.records import Position, Proposal
from smt_engine.trading.order_desk import OrderDesk, error_text

log = logging.getLogger(__name__)


class Protection:
    def __init__(self, desk: OrderDesk) -> None:
        self.desk = desk
        self.exchange = desk.exchange
        self.store = desk.store
        self.clock = desk.clock
        self.settings = desk.settings

    async def protect(
        self, proposal: Proposal, position: Position, entry_id: str
    ) -> tuple[Position, bool, str]:
        """Confirm (or re-place) the legs; ``False`` means the stop-loss could not be made to rest."""
        assert position.id is not None
        tp, sl = await self._find_legs(position.symbol, position.side, entry_id)
        for leg in (tp, sl):
            if leg is not None:
                self._record_leg(proposal, position, leg)
        tp_id = tp.order_id if tp else None
        sl_id = sl.order_id if sl else None
        if tp_id is None and position.tp_price is not None:
            tp_id = await self.place_leg(position, "tp", position.tp_price)
        if sl_id is None and position.sl_price is not None:
            self.desk.event(
                EventLevel.WARNING,
                "protection.sl_missing",
                f"{position.symbol} {position.side.value}: attached stop-loss not found within "
                f"{self.settings.trading.protection_timeout}; placing one",
                proposal_id=proposal.id,
                position_id=position.id,
            )
            sl_id = await self.place_leg(position, "sl", position.sl_price)
        self.store.positions.update(
            position.id, tp_order_id=tp_id, sl_order_id=sl_id, updated_at=self.clock.now()
        )
        refreshed = self.store.positions.get(position.id)
        assert refreshed is not None
        if sl_id is None:
            return refreshed, False, "stop-loss could not be confirmed or placed"
        return refreshed, True, ""

    async def place_leg(
        self,
        position: Position,
        kind: Literal["tp", "sl"],
        price: Decimal,
        *,
        leg: str | None = None,
        request: dict[str, Any] | None = None,
        raise_precision: bool = False,
    ) -> str | None:
        """Place one reduce-only trigger on ``position``; its order id, or None (with the reason logged).

        Used at entry (legs that did not appear) and by the monitor (a stop that went missing, also on
        adopted positions, whose client ids then derive from the position id). ``raise_precision``
        re-raises a precision refusal (after recording it) so the caller can correct and re-send once.
        """
        assert position.id is not None
        ref = position.proposal_id if position.proposal_id is not None else position.id
        cid = self.desk.cid(ref, leg or f"{kind}2")
        order = self.desk.new_order(
            cid,
            position.symbol,
            position.side,
            OrderKind(kind),
            position.size,
            proposal_id=position.proposal_id,
            position_id=position.id,
            trigger_price=price,
            request=request,
        )
        placed: PlacedOrder | ExchangeOrder | None
        try:
            placed = await self.exchange.place_tp_sl(
                position.symbol, position.side, kind, price, position.size, cid
            )
        except AmbiguousOutcome as exc:
            self.desk.update(order, state=OrderState.UNKNOWN, error=error_text(exc))
            placed = await self.desk.lookup(position.symbol, cid)
            if placed is None or not placed.status.is_open:
                return None
        except (ExchangeError, PrecisionError) as exc:
            self.desk.update(order, state=OrderState.REJECTED, error=error_text(exc))
            if raise_precision and isinstance(exc, PrecisionError):
                raise
            self.desk.event(
                EventLevel.ERROR,
                f"protection.{kind}_failed",
                f"{position.symbol} {position.side.value}: placing {kind.upper()} at {plain(price)} "
                f"failed: {error_text(exc)}",
                proposal_id=position.proposal_id,
                position_id=position.id,
            )
            return None
        self.desk.update(order, state=OrderState.SUBMITTED, exchange_order_id=placed.order_id)
        return placed.order_id

    async def _find_legs(
        self, symbol: str, side: Side, entry_order_id: str
    ) -> tuple[AlgoOrder | None, AlgoOrder | None]:
        """Poll until both legs rest or the deadline passes (WEEX lists attached legs with a delay)."""
        trading = self.settings.trading
        deadline = self.clock.now() + trading.protection_timeout
        tp = sl = None
        while True:
            try:
                legs = [
                    a
                    for a in await self.exchange.open_algo_orders(symbol)
                    if a.position_side is side
                    and a.status.is_open
                    and (a.parent_order_id is None or a.parent_order_id == entry_order_id)
                ]
                tp = next((a for a in legs if a.kind == "tp"), None)
                sl = next((a for a in legs if a.kind == "sl"), None)
            except ExchangeError as exc:
                log.warning("%s: reading TP/SL orders failed: %s", symbol, error_text(exc))
            if (tp is not None and sl is not None) or self.clock.now() >= deadline:
                return tp, sl
            await self.clock.sleep(trading.poll_interval.total_seconds())

    def _record_leg(self, proposal: Proposal, position: Position, leg: AlgoOrder) -> None:
        assert proposal.id is not None
        cid = leg.client_order_id or self.desk.cid(proposal.id, leg.kind)
        if self.store.orders.by_client_id(cid) is not None:
            cid = self.desk.cid(proposal.id, f"{leg.kind}x{leg.order_id[-6:]}")
        order = self.desk.new_order(
            cid,
            leg.symbol,
            leg.position_side,
            OrderKind(leg.kind),
            leg.size,
            proposal_id=proposal.id,
            position_id=position.id,
            trigger_price=leg.trigger_price,
        )
        self.desk.update(order, state=OrderState.SUBMITTED, exchange_order_id=leg.order_id)


__all__ = ["Protection"]

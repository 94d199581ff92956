"""Closing at market: the one way the engine closes a position it holds, allowed in every engine state.

Used for an entry that could not be protected, by the monitor (a stop that cannot be re-placed, max
hold) and by the operator. The position's TP/SL are cancelled first, then a reduce-only market close
is sent once; the position is closed in the store only when the venue reports the order filled,
otherwise it stays ``closing`` and the monitor finishes it from order history.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from smt_engine.domain import (
    CloseReason,
    EventLevel,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import AmbiguousOutcome, ExchangeError, ExchangeOrder, OrderStatus
from smt_engine.exchange.precision import PrecisionError
from smt_engine.store.records import Order, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.order_desk import STATUS_TO_STATE, OrderDesk, error_text
from smt_engine.trading.orders import move_position
from smt_engine.trading.proposals import transition

log = logging.getLogger(__name__)


class Closer:
    def __init__(self, desk: OrderDesk, ailog: AiLogOutbox | None) -> None:
        self.desk = desk
        self.exchange = desk.exchange
        self.store = desk.store
        self.clock = desk.clock
        self.ailog = ailog

    async def close_position(
        self, position: Position, reason: CloseReason, *, actor: str, why: str = ""
    ) -> Position:
        """Close at market: cancel its TP/SL first, then a reduce-only close.

        On failure the position stays open and a critical event says so; the monitor retries.
        """
        assert position.id is not None
        symbol, side = position.symbol, position.side
        ref = position.proposal_id if position.proposal_id is not None else position.id
        prefix = "close" if position.proposal_id is not None else "pclose"
        attempt = sum(1 for o in self.store.orders.for_position(position.id) if o.kind is OrderKind.CLOSE) + 1
        cid = self.desk.cid(ref, f"{prefix}{attempt}")
        try:
            algos = [a for a in await self.exchange.open_algo_orders(symbol) if a.position_side is side]
            for a in algos:
                await self.exchange.cancel_algo_order(symbol, a.order_id)
                self._cancelled(a.order_id)
        except ExchangeError as exc:
            log.warning("%s: cancelling TP/SL before close failed: %s", symbol, error_text(exc))
        order = self.desk.new_order(
            cid,
            symbol,
            side,
            OrderKind.CLOSE,
            position.size,
            proposal_id=position.proposal_id,
            position_id=position.id,
            request={"type": "MARKET", "reduce_only": True, "reason": reason.value},
        )
        close_id: str | None
        try:
            placed = await self.exchange.close_position(symbol, side, cid)
            close_id = placed.order_id
            order = self.desk.update(order, state=OrderState.SUBMITTED, exchange_order_id=close_id)
        except AmbiguousOutcome as exc:
            order = self.desk.update(order, state=OrderState.UNKNOWN, error=error_text(exc))
            found = await self.desk.lookup(symbol, cid)
            close_id = found.order_id if found is not None else None
            if found is not None:
                order = self._resolved(order, found)
        except (ExchangeError, PrecisionError) as exc:
            self.desk.update(order, state=OrderState.REJECTED, error=error_text(exc))
            close_id = None
            why = f"{why}; close failed: {error_text(exc)}" if why else f"close failed: {error_text(exc)}"
        if close_id is None:
            self.desk.event(
                EventLevel.CRITICAL,
                "position.close_failed",
                f"{symbol} {side.value}: could not close ({reason.value}): {why or 'no order at the venue'}",
                proposal_id=position.proposal_id,
                position_id=position.id,
            )
            refreshed = self.store.positions.get(position.id)
            assert refreshed is not None
            return refreshed
        done: ExchangeOrder | None
        try:
            done = await self.exchange.order(symbol, close_id)
        except ExchangeError as exc:
            log.info("%s: close order %s not readable yet: %s", symbol, close_id, error_text(exc))
            done = None
        else:
            self._resolved(order, done)
        now = self.clock.now()
        if done is None or done.status is not OrderStatus.FILLED:
            # Closed only when the exchange says so: the monitor finishes this from order history.
            current_pos = self.store.positions.get(position.id)
            if current_pos is not None and current_pos.state is PositionState.OPEN:
                move_position(
                    self.store,
                    position.id,
                    PositionState.CLOSING,
                    actor=actor,
                    message=f"{symbol} {side.value}: close order {close_id} sent by {actor} ({reason.value})",
                    at=now,
                    data={"close_order_id": close_id, "reason": reason.value},
                )
            refreshed = self.store.positions.get(position.id)
            assert refreshed is not None
            return refreshed
        exit_price = done.avg_price
        realized = await self._realized_pnl(symbol, side, close_id, position.opened_at)
        move_position(
            self.store,
            position.id,
            PositionState.CLOSED,
            actor=actor,
            message=f"{symbol} {side.value} closed at market by {actor} ({reason.value})"
            + (f": {why}" if why else ""),
            at=now,
            level=EventLevel.CRITICAL if reason is CloseReason.UNPROTECTED else EventLevel.INFO,
            data={"close_order_id": close_id, "reason": reason.value},
            close_reason=reason,
            close_order_id=close_id,
            closed_at=now,
            exit_price=exit_price,
            realized_pnl=realized,
            unrealized_pnl=Decimal(0),
        )
        if position.proposal_id is not None:
            current = self.store.proposals.get(position.proposal_id)
            if current is not None and current.state is ProposalState.OPEN:
                transition(
                    self.store,
                    position.proposal_id,
                    ProposalState.CLOSED,
                    actor=actor,
                    reason=reason.value,
                    at=now,
                )
        if self.ailog is not None:
            self.ailog.close(
                close_id,
                {
                    "symbol": symbol,
                    "side": side.value,
                    "size": position.size,
                    "entry_price": position.entry_price,
                },
                {"reason": reason.value, "close_order_id": close_id, "exit_price": exit_price},
                f"{symbol} {side.value} closed ({reason.value}). {why}".strip(),
            )
        refreshed = self.store.positions.get(position.id)
        assert refreshed is not None
        return refreshed

    def _cancelled(self, order_id: str) -> None:
        """A TP/SL the venue confirmed cancelled: so in the books (unconfirmed ones are settled later)."""
        order = self.store.orders.by_exchange_id(order_id)
        if order is not None and not order.state.is_terminal:
            self.desk.update(order, state=OrderState.CANCELLED, why="cancelled before the close at market")

    async def _realized_pnl(self, symbol: str, side: Side, order_id: str, since: datetime) -> Decimal | None:
        """Realised PnL of one closing order, net of its fees; None when the fills are not readable."""
        try:
            fills = await self.exchange.fills(symbol, since=since)
        except ExchangeError:
            return None
        own = [f for f in fills if f.order_id == order_id and f.position_side is side]
        if not own:
            return None
        return sum((f.realized_pnl - abs(f.fee) for f in own), Decimal(0))

    def _resolved(self, order: Order, found: ExchangeOrder) -> Order:
        return self.desk.update(
            order,
            state=STATUS_TO_STATE[found.status],
            exchange_order_id=found.order_id,
            price=found.avg_price,
        )


__all__ = ["Closer"]

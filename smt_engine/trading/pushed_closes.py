"""Settling the closes the private stream pushed: one confirming read, and the siblings' cancels.

A pushed TP/SL fill (``pushed``) closes the stored position it belongs to only when all of it agrees:
the leg is that position's own (its TP or SL id, or an order row of the position of the same kind),
it filled the whole stored size after the position opened, and the venue's position list, read in the
same tick, no longer has the position. Then the close is recorded from the push
(``PositionReconciler.close_from_push``) and the position's other legs are cancelled at once, each
recorded cancelled only when the venue confirms. Anything else (the position still listed, a partial
fill, a leg the store does not know) is left to the REST path, which reads order history and fills:
the venue's word wins over the push.

When the venue has also pushed the side flat since the position opened (``early``), two of its own
words agree, and the siblings' cancels go out together with the confirming read instead of after it:
the close is then done one round trip after the push arrives. Should the read still list the position,
nothing is booked, a WARNING says so, and the stop guard re-places the stop in the same tick.
"""

from __future__ import annotations

import asyncio
import logging

from smt_engine.clock import Clock
from smt_engine.domain import CloseReason, OrderKind, OrderState
from smt_engine.exchange.base import Exchange, ExchangeError, ExchangePosition
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_engine.trading.orders import advance_order
from smt_engine.trading.pushed import PushedFills, PushedLegFill
from smt_engine.trading.reconcile import PositionReconciler

log = logging.getLogger(__name__)

_KIND = {"tp": OrderKind.TP, "sl": OrderKind.SL}
_REASON = {"tp": CloseReason.TAKE_PROFIT, "sl": CloseReason.STOP_LOSS}


class PushedCloses:
    def __init__(
        self, store: Store, clock: Clock, exchange: Exchange, reconciler: PositionReconciler
    ) -> None:
        self.store = store
        self.clock = clock
        self.exchange = exchange
        self.reconciler = reconciler

    def settle(
        self, pushed: list[PushedLegFill], positions: list[ExchangePosition]
    ) -> list[tuple[Position, CloseReason, PushedLegFill]]:
        """Record every pushed close the venue's ``positions`` confirm; the rest is left to REST.

        Each fill's position is looked up again rather than taken from ``early``: an operator's close
        may have booked it while the list was being read.
        """
        live = {(p.symbol, p.side) for p in positions if p.size > 0}
        settled: list[tuple[Position, CloseReason, PushedLegFill]] = []
        for fill in pushed:
            pos = self._position_of(fill)
            if pos is None:
                continue
            if (fill.symbol, fill.side) in live:
                log.info(
                    "pushed fill of %s %s leg %s: the venue still lists the position; REST decides",
                    fill.symbol,
                    fill.side,
                    fill.order_id,
                )
                continue
            settled.append((pos, self.reconciler.close_from_push(pos, fill), fill))
        return settled

    def early(self, pushed: list[PushedLegFill], inbox: PushedFills) -> list[tuple[Position, PushedLegFill]]:
        """The pushed closes the venue has also pushed flat since the position opened: their siblings
        may go before the confirming read returns."""
        closing: list[tuple[Position, PushedLegFill]] = []
        for fill in pushed:
            flat = inbox.flat_since(fill.symbol, fill.side)
            pos = self._position_of(fill) if flat is not None else None
            if pos is not None and flat is not None and flat >= pos.opened_at:
                closing.append((pos, fill))
        return closing

    def _position_of(self, fill: PushedLegFill) -> Position | None:
        """The open position this fill closed in full, or None when anything disagrees."""
        pos = self.store.positions.open_for(fill.symbol, fill.side)
        if pos is None or pos.id is None:
            return None
        row = self.store.orders.by_exchange_id(fill.order_id)
        own = fill.order_id == (pos.tp_order_id if fill.kind == "tp" else pos.sl_order_id) or (
            row is not None and row.position_id == pos.id and row.kind is _KIND[fill.kind]
        )
        if not own or fill.size != pos.size or fill.at < pos.opened_at:
            log.info(
                "pushed fill of %s %s leg %s does not close position #%s in full; REST decides",
                fill.symbol,
                fill.side,
                fill.order_id,
                pos.id,
            )
            return None
        return pos

    async def cancel_siblings(self, closing: list[tuple[Position, PushedLegFill]]) -> set[str]:
        """Cancel the other legs of each position the pushed fill closed, together; the ids the venue
        confirmed cancelled."""
        legs = [(pos, fill, order_id) for pos, fill in closing for order_id in self._siblings(pos, fill)]
        done = await asyncio.gather(*(self._cancel(pos, fill, order_id) for pos, fill, order_id in legs))
        return {order_id for (_, _, order_id), ok in zip(legs, done, strict=True) if ok}

    def _siblings(self, pos: Position, fill: PushedLegFill) -> list[str]:
        """The position's other legs the books do not already know ended (a cancel of an ended leg could
        only be refused: a retried tick sends none)."""
        legs = [
            o for o in self.store.orders.for_position(pos.id or 0) if o.kind in (OrderKind.TP, OrderKind.SL)
        ]
        ended = {o.exchange_order_id for o in legs if o.state.is_terminal}
        ids = {pos.tp_order_id, pos.sl_order_id} | {o.exchange_order_id for o in legs}
        return sorted(i for i in ids if i and i != fill.order_id and i not in ended)

    async def _cancel(self, pos: Position, fill: PushedLegFill, order_id: str) -> bool:
        try:
            await self.exchange.cancel_algo_order(pos.symbol, order_id)
        except ExchangeError as exc:
            # Left to the next steps of the tick: the orphan sweep and the in-flight tracker retry it.
            log.warning(
                "%s %s: sibling leg %s of the closed position not cancelled yet: %s",
                pos.symbol,
                pos.side,
                order_id,
                exc,
            )
            return False
        row = self.store.orders.by_exchange_id(order_id)
        if row is not None and not row.state.is_terminal:
            advance_order(
                self.store,
                row,
                OrderState.CANCELLED,
                actor="monitor",
                reason=f"sibling of the pushed {_REASON[fill.kind].value} {fill.order_id} that closed "
                f"position #{pos.id}: cancelled, the venue confirmed it",
                at=self.clock.now(),
            )
        return True


__all__ = ["PushedCloses"]

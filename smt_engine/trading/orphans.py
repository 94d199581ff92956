"""Orphan orders: orders at the venue that protect or belong to no position.

WEEX leaves a position's TP/SL triggers resting after it closes. On a regular tick such a trigger is
cancelled; on the start-up tick (and when a cancel fails) it is only flagged, so the operator sees it.
A regular order the store knows nothing of is flagged, never cancelled by the tick: ``cleanup`` (the
operator's command) cancels every orphan.
"""

from __future__ import annotations

import logging
from collections.abc import Container
from decimal import Decimal
from typing import Any

from smt_engine.clock import Clock
from smt_engine.domain import OrderKind, OrderState, Side
from smt_engine.exchange.base import AlgoOrder, Exchange, ExchangeError, ExchangeOrder
from smt_engine.store import Store
from smt_engine.trading.orders import advance_order, create_order, update_order
from smt_engine.trading.tick_report import TickReport

log = logging.getLogger(__name__)


class OrphanSweep:
    def __init__(self, store: Store, clock: Clock, exchange: Exchange) -> None:
        self.store = store
        self.clock = clock
        self.exchange = exchange

    async def sweep(
        self,
        held: Container[tuple[str, Side]],
        algos: list[AlgoOrder],
        regular: list[ExchangeOrder],
        report: TickReport,
        *,
        cancel: bool,
    ) -> None:
        for algo in algos:
            if (algo.symbol, algo.position_side) in held or not algo.status.is_open:
                continue
            if not cancel:
                self._flag(
                    algo.order_id,
                    algo.symbol,
                    algo.position_side,
                    algo.kind,
                    algo.size,
                    algo.trigger_price,
                    client_order_id=algo.client_order_id,
                )
                report.orphans_flagged.append(algo.order_id)
                continue
            try:
                await self.exchange.cancel_algo_order(algo.symbol, algo.order_id)
            except ExchangeError as exc:
                log.warning("could not cancel orphan %s %s: %s", algo.symbol, algo.order_id, exc)
                self._flag(
                    algo.order_id,
                    algo.symbol,
                    algo.position_side,
                    algo.kind,
                    algo.size,
                    algo.trigger_price,
                    client_order_id=algo.client_order_id,
                )
                continue
            self._mark_cancelled(algo.order_id)
            report.orphans_cancelled.append(algo.order_id)
            log.info(
                "cancelled orphan %s order %s on %s (no %s position)",
                algo.kind,
                algo.order_id,
                algo.symbol,
                algo.position_side,
                extra={"event": "order.orphan_cancelled"},
            )
        for order in regular:
            known = self.store.orders.by_exchange_id(order.order_id)
            if known is None and order.client_order_id:
                known = self.store.orders.by_client_id(order.client_order_id)
            if known is None:
                self._flag(order.order_id, order.symbol, order.position_side, "close", order.size)
                report.orphans_flagged.append(order.order_id)

    async def cleanup(self) -> dict[str, Any]:
        """Operator cleanup: cancel every orphan the store flagged or the venue shows."""
        report = TickReport()
        try:
            held = {(p.symbol, p.side) for p in await self.exchange.positions() if p.size > 0}
            algos = await self.exchange.open_algo_orders()
            regular = await self.exchange.open_orders()
        except ExchangeError as exc:
            raise RuntimeError(f"exchange read failed, nothing cancelled: {exc}") from exc
        # A position the books still hold protects its orders even while the venue's list misses it.
        held |= {(p.symbol, p.side) for p in self.store.positions.open_positions()}
        await self.sweep(held, algos, regular, report, cancel=True)
        cancelled = list(report.orphans_cancelled)
        for orphan in self.store.orders.orphans():
            if orphan.exchange_order_id is None or orphan.kind in (OrderKind.TP, OrderKind.SL):
                continue
            try:
                await self.exchange.cancel_order(orphan.symbol, order_id=orphan.exchange_order_id)
            except ExchangeError as exc:
                log.warning("could not cancel orphan order %s: %s", orphan.exchange_order_id, exc)
                continue
            self._mark_cancelled(orphan.exchange_order_id)
            cancelled.append(orphan.exchange_order_id)
        return {"cancelled": cancelled}

    def _flag(
        self,
        order_id: str,
        symbol: str,
        side: Side,
        kind: str,
        size: Decimal,
        trigger_price: Decimal | None = None,
        *,
        client_order_id: str | None = None,
    ) -> None:
        existing = self.store.orders.by_exchange_id(order_id)
        now = self.clock.now()
        if existing is None and client_order_id:
            sent = self.store.orders.by_client_id(client_order_id)
            if sent is not None and sent.exchange_order_id is None:
                # Our own request whose answer was lost: that row is this order, not a second one.
                existing = update_order(self.store, sent, now, exchange_order_id=order_id)
        if existing is not None:
            if not existing.orphan:
                assert existing.id is not None
                self.store.orders.update(existing.id, orphan=True, updated_at=now)
            return
        order_kind = {"tp": OrderKind.TP, "sl": OrderKind.SL}.get(kind, OrderKind.CLOSE)
        create_order(
            self.store,
            now,
            exchange_order_id=order_id,
            symbol=symbol,
            side=side,
            kind=order_kind,
            size=size,
            trigger_price=trigger_price,
            orphan=True,
        )
        log.warning(
            "order %s on %s belongs to no position (orphan)",
            order_id,
            symbol,
            extra={"event": "order.orphan"},
        )

    def _mark_cancelled(self, order_id: str) -> None:
        existing = self.store.orders.by_exchange_id(order_id)
        if existing is not None and not existing.state.is_terminal:
            advance_order(
                self.store,
                existing,
                OrderState.CANCELLED,
                actor="monitor",
                reason="cancelled: it protected no position",
                at=self.clock.now(),
            )


__all__ = ["OrphanSweep"]

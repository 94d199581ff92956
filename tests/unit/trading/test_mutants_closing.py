"""Closing at market, value by value (README "No unprotected position": when a position closes, its
TP/SL are recorded cancelled only once WEEX confirms; docs/benchmarks.md, mutation testing)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, EngineState, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import AlgoOrder, OrderStatus, PlacedOrder
from smt_engine.store import Store
from smt_engine.trading.execution import Executor
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive
from tests.unit.trading.scripted import OPENED_AT, ScriptedExchange
from tests.unit.trading.test_execution import setup


class _CloseRests(ScriptedExchange):
    """The close at market is accepted but not yet filled when read back."""

    async def close_position(self, symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        placed = await super().close_position(symbol, side, client_order_id)
        self.orders[client_order_id] = replace(self.orders[client_order_id], status=OrderStatus.NEW)
        return placed


async def test_legs_the_venue_confirmed_cancelled_are_recorded_so_before_the_close_fills(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _CloseRests(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    opened = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert opened.outcome == "open" and opened.position is not None
    legs = [
        o
        for o in store.orders.for_position(opened.position.id or 0)
        if o.kind in (OrderKind.TP, OrderKind.SL)
    ]
    assert len(legs) == 2 and all(o.state is OrderState.SUBMITTED for o in legs)
    # A leg the venue lists with no row of ours: cancelled there, nothing to record here.
    ex.algos.append(
        AlgoOrder(
            "stranger",
            None,
            "ETHUSDT",
            Side.LONG,
            "sl",
            Decimal(1),
            Decimal(1),
            OrderStatus.UNTRIGGERED,
            OPENED_AT,
        )
    )
    closing = await drive(
        clock, executor.closer.close_position(opened.position, CloseReason.MANUAL, actor="alice")
    )
    assert closing.state is PositionState.CLOSING  # the close is not filled yet: nothing settled
    assert ex.algos == []
    for leg in legs:
        row = store.orders.get(leg.id or 0)
        assert row is not None and row.state is OrderState.CANCELLED
        (event,) = [e for e in store.events.of_kind("order.cancelled") if e.order_id == leg.id]
        assert event.data["reason"] == "cancelled before the close at market"

"""The monitor's read of a tick (``Monitor._read``), value by value (docs/benchmarks.md, mutation
testing): pushed closes confirmed over two looks at the venue's list are each booked and settled, and a
read failing after the list answered ends the tick on its own error with the push kept.
"""

from __future__ import annotations

from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import ExchangeOrder, ExchangePosition, ExchangeUnavailable
from smt_engine.exchange.market import to_ms
from smt_engine.store import Store
from smt_engine.store.records import Order
from smt_engine.trading.pushed import PushedFills, PushedLegFill
from tests.unit.trading.conftest import NOW
from tests.unit.trading.test_mutants_monitor import OPENED, monitor_on, stored, venue_position


async def test_a_close_the_list_confirms_at_once_and_one_it_confirms_on_the_second_look_are_both_settled(
    store: Store, clock: SimulatedClock
) -> None:
    """Both sides pushed closed and flat; the first list still holds the short (a moment behind its push),
    the second holds neither: both closes are booked, the long is not taken for contradicted by the second
    look, and each position's stop row is filled, not only the one the second look confirmed."""
    mon, ex = monitor_on(store, clock)
    mon.pushed = PushedFills()
    ids: list[int] = []
    legs: list[int] = []
    fills: list[PushedLegFill] = []
    for side, oid in ((Side.LONG, "s1"), (Side.SHORT, "s2")):
        pos = stored(store, side)
        ids.append(pos.id or 0)
        store.positions.update(pos.id or 0, sl_order_id=oid)
        leg = store.orders.insert(
            Order(
                client_order_id=f"sl-{oid}",
                symbol="ETHUSDT",
                side=side,
                kind=OrderKind.SL,
                size=Decimal("1.5"),
                state=OrderState.SUBMITTED,
                created_at=OPENED,
                updated_at=OPENED,
                exchange_order_id=oid,
                position_id=pos.id,
            )
        )
        legs.append(leg.id or 0)
        fills.append(
            PushedLegFill(
                oid, "ETHUSDT", side, "sl", Decimal("1.5"), Decimal(1960), Decimal("0.5"), Decimal(-60), NOW
            )
        )
        mon.pushed.note_position(
            {"symbol": "ETHUSDT", "side": side.value, "size": "0", "updatedTime": str(to_ms(NOW))}
        )
    mon.pushed.restore(fills)
    answers = [[], [venue_position(Side.SHORT)]]

    async def lagging() -> list[ExchangePosition]:
        return answers.pop() if answers else []

    ex.positions = lagging  # type: ignore[method-assign]
    report = await mon.tick()
    assert report.ok
    assert answers == []
    assert report.closed == [(ids[0], CloseReason.STOP_LOSS), (ids[1], CloseReason.STOP_LOSS)]
    assert report.stops_placed == []
    assert store.events.of_kind("push.contradicted") == []
    for pid, leg_id in zip(ids, legs, strict=True):
        after = store.positions.get(pid)
        assert after is not None
        assert after.state is PositionState.CLOSED
        row = store.orders.get(leg_id)
        assert row is not None, (pid, row)
        assert row.state is OrderState.FILLED, (pid, row)


async def test_open_orders_failing_after_the_list_was_read_aborts_the_tick_and_keeps_the_push(
    store: Store, clock: SimulatedClock
) -> None:
    """The list answered and the open-order read failed: the tick ends on that exchange error (nothing
    else surfaces in its place) and the pushed fill is kept for the next tick."""
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    store.positions.update(pos.id or 0, sl_order_id="s1")
    mon.pushed = PushedFills()
    fill = PushedLegFill(
        "s1", "ETHUSDT", Side.LONG, "sl", Decimal("1.5"), Decimal(1960), Decimal("0.5"), Decimal(-60), NOW
    )
    mon.pushed.restore([fill])

    async def down(symbol: str | None = None) -> list[ExchangeOrder]:
        raise ExchangeUnavailable("open orders endpoint 502")

    ex.open_orders = down  # type: ignore[method-assign]
    report = await mon.tick()
    assert report.ok is False
    assert report.error == "ExchangeUnavailable: open orders endpoint 502"
    assert mon.pushed.take() == [fill]
    assert not mon.recheck_soon

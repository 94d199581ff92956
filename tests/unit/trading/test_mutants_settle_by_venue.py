"""Settling by the venue's word, value by value (README "The exchange is the source of truth";
docs/benchmarks.md, mutation testing, "The venue's word"): a position missing from one position list with
nothing to explain it waits ``trading.order_visibility`` before it is booked closed, each position on its
own clock, said once and loudly.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import ExchangeOrder, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Order, Position
from smt_engine.trading.legs import track_legs
from smt_engine.trading.reconcile import PositionReconciler
from smt_engine.trading.settle import settle_orders
from tests.unit.trading.conftest import NOW
from tests.unit.trading.inflight_support import an_order, tracker_on
from tests.unit.trading.reconcile_support import AiLogs, Venue, position, venue_order
from tests.unit.trading.test_mutants_legs import (
    AT,
    HELD,
    a_position,
    held_position,
    held_stop_row,
    leg,
    newer_stop,
    record_cancels,
    rows,
)
from tests.unit.trading.test_mutants_monitor import monitor_on, stored
from tests.unit.trading.test_mutants_reconcile import at_venue
from tests.unit.trading.test_mutants_settle import closed_position, order

WAIT = timedelta(seconds=30)


def waiting_reconciler(store: Store, clock: SimulatedClock) -> PositionReconciler:
    return PositionReconciler(store, clock, Venue(), AiLogs(), unexplained_wait=WAIT)  # type: ignore[arg-type]


async def test_each_unexplained_absence_waits_on_its_own_clock_and_is_said_once(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    rec = waiting_reconciler(store, clock)
    long = position(store, Side.LONG)
    short = position(store, Side.SHORT)
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.reconcile"):
        assert await rec.close_out(long) is None
        await clock.advance(20)
        assert await rec.close_out(long) is None
        assert await rec.close_out(short) is None  # missing since now, not since the long went missing
        await clock.advance(10)
        assert await rec.close_out(long) == CloseReason.UNKNOWN  # 30 s: booked
        assert await rec.close_out(short) is None  # 10 s: still waiting
        await clock.advance(20)
        assert await rec.close_out(short) == CloseReason.UNKNOWN
    said = [r for r in caplog.records if getattr(r, "event", None) == "position.unexplained"]
    assert [(r.levelno, r.getMessage(), r.__dict__["position_id"]) for r in said] == [
        (
            logging.WARNING,
            f"ETHUSDT {side} is missing from the venue's position list and no order or fill explains it: "
            "not booked closed for up to 0:00:30 (its orders are left alone meanwhile)",
            pos.id,
        )
        for side, pos in ((Side.LONG, long), (Side.SHORT, short))
    ]


async def test_a_position_listed_again_waits_anew_the_next_time_it_is_missing(
    store: Store, clock: SimulatedClock
) -> None:
    """One empty answer, then the venue lists it again: an hour later another single empty answer is
    not a close either (the earlier absence ended when the position was listed)."""
    rec = waiting_reconciler(store, clock)
    pos = position(store, Side.LONG)
    assert await rec.close_out(pos) is None
    await clock.advance(2)
    rec.refresh(pos, at_venue(), [])
    await clock.advance(3600)
    assert await rec.close_out(pos) is None
    await clock.advance(30)
    assert await rec.close_out(pos) == CloseReason.UNKNOWN


@pytest.mark.parametrize("kind", [OrderKind.ENTRY, OrderKind.CLOSE])
async def test_a_closed_positions_regular_order_stays_though_the_newer_position_has_its_own_stop(
    store: Store, clock: SimulatedClock, kind: OrderKind
) -> None:
    """Only a TP/SL leg is cancelled off a newer position: an entry or a close is the venue's to answer."""
    tracker, ex, _ = tracker_on(store, clock)
    gone = a_position(store, PositionState.CLOSED)
    order = an_order(store, kind=kind, position_id=gone.id, exchange_id="77", cid="regular")
    own = held_stop_row(store)  # the newer position's stop, in the books: a leftover stop would go
    cancels = record_cancels(ex)
    report = await tracker.resolve({"77", "new-sl"}, HELD, [newer_stop()])
    assert cancels == []
    assert report.cancelled == []
    assert report.orders_resolved == [order.id, own.id]
    after = store.orders.get(order.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED


@pytest.mark.parametrize("final", [OrderState.FILLED, OrderState.CANCELLED])
def test_a_closer_already_final_is_left_as_it_is(store: Store, final: OrderState) -> None:
    pid = closed_position(store, CloseReason.STOP_LOSS, close_order_id="x9")
    closer = order(store, pid, OrderKind.SL, "x9", "cid-sl")
    store.orders.update(closer, state=final)
    before = store.orders.get(closer)
    assert settle_orders(store, NOW, pid, resting=set()) == []
    assert store.orders.get(closer) == before
    assert store.events.of_kind("order.filled") == []


async def test_a_leg_under_the_client_id_of_our_row_without_a_venue_id_is_that_row(
    store: Store, clock: SimulatedClock
) -> None:
    """The answer that carried the leg's id was lost: the row learns the id, and no second row is made."""
    pos = held_position(store, clock)
    sent = an_order(store, kind=OrderKind.SL, state=OrderState.PENDING_SUBMIT, cid="smt-lost-sl")
    after = leg("t1", "tp", cid=None)  # the next leg is still tracked
    created = track_legs(store, AT, pos, [leg("s1", "sl", cid="smt-lost-sl"), after])
    assert [(o.exchange_order_id, o.client_order_id) for o in created] == [("t1", "exchange:t1")]
    assert rows(store) == [replace(sent, exchange_order_id="s1", updated_at=AT), *created]


def closer_of(store: Store, pos: Position) -> Order:
    return store.orders.insert(
        Order(
            client_order_id="smt-close",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.CLOSE,
            size=Decimal("1.5"),
            state=OrderState.SUBMITTED,
            created_at=NOW - timedelta(minutes=20),
            updated_at=NOW - timedelta(minutes=20),
            exchange_order_id="c1",
            position_id=pos.id,
        )
    )


async def test_the_closer_the_venue_named_is_filled_at_the_close_by_settling(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    closer = closer_of(store, pos)
    ex.orders["smt-close"] = venue_order("c1", cid="smt-close")
    report = await mon.tick()
    assert report.closed == [(pos.id, CloseReason.MANUAL)]
    after = store.orders.get(closer.id or 0)
    assert after is not None
    assert after.state is OrderState.FILLED
    (filled,) = store.events.of_kind("order.filled")
    assert (filled.data["actor"], filled.data["reason"]) == ("settle", f"position #{pos.id} closed (manual)")


async def test_a_closer_the_venue_still_lists_open_is_not_filled_at_the_close(
    store: Store, clock: SimulatedClock
) -> None:
    """The order history names the closer while the open-order list still shows it (the venue's lag):
    the close is booked, and the closer is left for the venue to answer, never filled on the history's
    word alone."""
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    closer = closer_of(store, pos)
    ex.orders["smt-close"] = venue_order("c1", cid="smt-close")

    async def open_orders(symbol: str | None = None) -> list[ExchangeOrder]:
        return [venue_order("c1", cid="smt-close", status=OrderStatus.NEW, avg=None)]

    ex.open_orders = open_orders  # type: ignore[method-assign]
    report = await mon.tick()
    assert report.closed == [(pos.id, CloseReason.MANUAL)]
    after = store.orders.get(closer.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED
    assert store.events.of_kind("order.filled") == []

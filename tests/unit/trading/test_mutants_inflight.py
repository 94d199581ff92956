"""The in-flight tracker's orders, value by value (README "Nothing is left half-done"; docs/benchmarks.md,
mutation testing): found means its real state, not found after ``trading.order_visibility`` means
never placed, an order the venue reports open is recorded cancelled only after a confirmed cancel.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import ExchangeOrder, ExchangeUnavailable, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Position
from tests.unit.trading.conftest import NOW, eth_position
from tests.unit.trading.inflight_support import (
    WINDOW,
    an_order,
    approved,
    at_venue,
    reasons,
    state_of,
    tracker_on,
)
from tests.unit.trading.scripted import ScriptedExchange

# ---------------------------------------------------------------------------------------------- orders


async def test_an_order_resting_at_the_venue_is_submitted_without_a_look_up(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    pending = an_order(store, state=OrderState.PENDING_SUBMIT, exchange_id="7", cid="c1")
    unknown = an_order(store, state=OrderState.UNKNOWN, exchange_id="8", cid="c2")
    submitted = an_order(store, state=OrderState.SUBMITTED, exchange_id="9", cid="c3")
    report = await tracker.resolve({"7", "8", "9"}, set())
    assert report.orders_resolved == [pending.id, unknown.id, submitted.id]
    assert report.unresolved == []
    assert [state_of(store, o) for o in (pending, unknown, submitted)] == [OrderState.SUBMITTED] * 3
    assert reasons(store, "order.submitted") == ["resting at the venue"] * 2
    assert [e.data["actor"] for e in store.events.of_kind("order.submitted")] == ["reconciler"] * 2
    assert ex.count("find_order") == 0


async def test_an_order_without_a_venue_id_is_looked_up_even_if_ids_rest(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    order = an_order(store, age=timedelta(seconds=5))
    report = await tracker.resolve({"9"}, set())
    assert report.unresolved == [order.id]
    assert ex.calls == [("find_order", "smt-test-entry")]


async def test_an_order_the_executor_is_working_on_is_left_to_it(store: Store, clock: SimulatedClock) -> None:
    tracker, ex, executor = tracker_on(store, clock)
    p = approved(store, clock, tracker)
    order = an_order(store, proposal_id=p.id)
    executor.claimed.add(p.id or 0)
    report = await tracker.resolve(set(), set())
    assert report.unresolved == [order.id]
    assert report.orders_resolved == []
    assert ex.calls == []
    assert state_of(store, order) is OrderState.SUBMITTED


@pytest.mark.parametrize(
    ("state", "what"),
    [
        (OrderState.PENDING_SUBMIT, "never placed"),
        (OrderState.UNKNOWN, "never placed"),
        (OrderState.SUBMITTED, "no longer at the venue"),
        (OrderState.PARTIALLY_FILLED, "no longer at the venue"),
    ],
)
async def test_an_order_not_found_is_cancelled_once_the_visibility_window_passed(
    store: Store, clock: SimulatedClock, state: OrderState, what: str
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    young = an_order(store, state=state, age=WINDOW - timedelta(seconds=1), cid="young")
    due = an_order(store, state=state, age=WINDOW, cid="due")  # exactly the window: gone
    report = await tracker.resolve(set(), set())
    assert report.orders_resolved == [due.id]
    assert report.unresolved == [young.id]
    assert state_of(store, young) is state
    assert state_of(store, due) is OrderState.CANCELLED
    assert reasons(store, "order.cancelled") == [f"not found at the venue after 0:00:30: {what}"]
    assert [e.data["actor"] for e in store.events.of_kind("order.cancelled")] == ["reconciler"]
    assert ex.count("cancel_order") == 0
    assert ex.count("cancel_algo_order") == 0


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (OrderStatus.FILLED, OrderState.FILLED),
        (OrderStatus.CANCELLED, OrderState.CANCELLED),
        (OrderStatus.REJECTED, OrderState.REJECTED),
        (OrderStatus.EXPIRED, OrderState.CANCELLED),
    ],
)
async def test_an_order_found_finished_takes_the_venues_state_and_id(
    store: Store, clock: SimulatedClock, status: OrderStatus, state: OrderState
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    order = an_order(store, state=OrderState.UNKNOWN, age=timedelta(seconds=1))
    ex.orders[order.client_order_id] = at_venue(order.client_order_id, status)
    report = await tracker.resolve(set(), set())
    assert report.orders_resolved == [order.id]
    after = store.orders.get(order.id or 0)
    assert after is not None
    assert after.state is state
    assert after.exchange_order_id == "9001"
    assert reasons(store, f"order.{state.value}") == [f"the venue reports it {status.value}"]
    assert [e.data["actor"] for e in store.events.of_kind(f"order.{state.value}")] == ["reconciler"]
    assert ex.count("cancel_order") == 0


async def test_a_pending_order_found_open_is_recorded_submitted_with_its_venue_id(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    order = an_order(store, state=OrderState.PENDING_SUBMIT, age=timedelta(seconds=1))
    ex.orders[order.client_order_id] = at_venue(order.client_order_id, OrderStatus.NEW)
    report = await tracker.resolve(set(), set())
    assert report.unresolved == [order.id]  # open, young: decided on a later tick
    after = store.orders.get(order.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED
    assert after.exchange_order_id == "9001"
    assert ex.count("cancel_order") == 0


async def test_an_entry_the_venue_reports_open_is_cancelled_there_before_the_books_say_so(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    young = an_order(store, age=WINDOW - timedelta(seconds=1), cid="young")
    due = an_order(store, age=WINDOW, cid="due")
    ex.orders["young"] = at_venue("young", OrderStatus.NEW, oid="1")
    ex.orders["due"] = at_venue("due", OrderStatus.NEW, oid="2")
    cancels = record_cancels(ex)
    report = await tracker.resolve(set(), set())
    assert report.orders_resolved == [due.id]
    assert report.unresolved == [young.id]
    assert cancels == [("cancel_order", "ETHUSDT", "2")]
    assert state_of(store, young) is OrderState.SUBMITTED
    assert state_of(store, due) is OrderState.CANCELLED
    assert reasons(store, "order.cancelled") == [
        "open at the venue but belonging to no open work: cancelled, the venue confirmed it"
    ]
    assert [e.data["actor"] for e in store.events.of_kind("order.cancelled")] == ["reconciler"]


async def test_an_unconfirmed_cancel_leaves_the_order_open_in_the_books(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    order = an_order(store, age=WINDOW)
    ex.orders[order.client_order_id] = at_venue(order.client_order_id, OrderStatus.NEW)

    async def refused(
        symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        ex.calls.append(("cancel_order", order_id))
        raise ExchangeUnavailable("cancel timed out")

    ex.cancel_order = refused  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO):
        report = await tracker.resolve(set(), set())
    logged = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if getattr(r, "event", None) == "order.cancel_unconfirmed"
    ]
    assert logged == [
        (
            logging.WARNING,
            "entry order 9001 is open at the venue and its cancel was not confirmed: cancel timed out",
        )
    ]
    assert report.unresolved == [order.id]
    assert report.orders_resolved == []
    assert ex.count("cancel_order") == 1
    assert state_of(store, order) is OrderState.SUBMITTED
    assert store.events.of_kind("order.cancelled") == []


def record_cancels(ex: ScriptedExchange) -> list[tuple[str, str, str | None]]:
    """Every cancel the venue was asked for, with its symbol (a cancel names the pair on WEEX)."""
    asked: list[tuple[str, str, str | None]] = []

    async def cancel_order(
        symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        asked.append(("cancel_order", symbol, order_id))

    async def cancel_algo_order(symbol: str, order_id: str) -> None:
        asked.append(("cancel_algo_order", symbol, order_id))

    ex.cancel_order = cancel_order  # type: ignore[method-assign]
    ex.cancel_algo_order = cancel_algo_order  # type: ignore[method-assign]
    return asked


def _position(store: Store, state: PositionState = PositionState.OPEN) -> Position:
    return store.positions.insert(
        eth_position(
            opened_at=NOW - timedelta(hours=1),
            state=state,
        )
    )


@pytest.mark.parametrize("kind", [OrderKind.TP, OrderKind.SL])
async def test_a_leg_open_at_the_venue_for_a_held_open_position_stays(
    store: Store, clock: SimulatedClock, kind: OrderKind
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    pos = _position(store)
    leg = an_order(store, kind=kind, position_id=pos.id, exchange_id="77", cid="leg")
    loose = an_order(store, kind=kind, exchange_id="78", cid="loose")  # no position recorded: kept
    ex.orders["leg"] = at_venue("leg", OrderStatus.UNTRIGGERED, oid="77", kind=kind.value)
    ex.orders["loose"] = at_venue("loose", OrderStatus.UNTRIGGERED, oid="78", kind=kind.value)
    report = await tracker.resolve(set(), {("ETHUSDT", Side.LONG)})
    assert report.orders_resolved == [leg.id, loose.id]
    assert ex.count("cancel_algo_order") == 0
    assert ex.count("cancel_order") == 0
    assert state_of(store, leg) is OrderState.SUBMITTED


async def test_a_leg_of_a_position_closed_in_the_books_or_not_held_is_cancelled_at_the_venue(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    closed = _position(store, PositionState.CLOSED)
    of_closed = an_order(store, kind=OrderKind.TP, position_id=closed.id, exchange_id="77", cid="a")
    of_short = an_order(
        store, kind=OrderKind.SL, side=Side.SHORT, exchange_id="78", cid="b", age=timedelta(0)
    )
    ex.orders["a"] = at_venue("a", OrderStatus.UNTRIGGERED, oid="77", kind="tp")
    ex.orders["b"] = at_venue("b", OrderStatus.UNTRIGGERED, oid="78", kind="sl")
    cancels = record_cancels(ex)
    report = await tracker.resolve(set(), {("ETHUSDT", Side.LONG)})
    assert report.orders_resolved == [of_closed.id, of_short.id]  # a leg is not given the window
    assert cancels == [("cancel_algo_order", "ETHUSDT", "77"), ("cancel_algo_order", "ETHUSDT", "78")]
    assert state_of(store, of_closed) is OrderState.CANCELLED
    assert state_of(store, of_short) is OrderState.CANCELLED


async def test_a_look_up_goes_by_venue_id_first_then_by_client_id(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    by_id = an_order(store, exchange_id="9001", cid="by-id")
    ex.orders["other-key"] = at_venue("other-key", OrderStatus.FILLED, oid="9001")
    stale_id = an_order(store, exchange_id="404", cid="stale")
    ex.orders["stale"] = at_venue("stale", OrderStatus.FILLED, oid="9002")
    report = await tracker.resolve(set(), set())
    assert report.orders_resolved == [by_id.id, stale_id.id]
    assert [a for c, a in ex.calls if c == "find_order"] == ["stale"]  # only where the id was unknown
    after = store.orders.get(stale_id.id or 0)
    assert after is not None
    assert after.state is OrderState.FILLED
    assert after.exchange_order_id == "9002"


async def test_a_leg_the_venue_named_is_never_looked_up_by_a_client_id(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    leg = an_order(store, kind=OrderKind.TP, cid="exchange:555", age=WINDOW)
    report = await tracker.resolve(set(), set())
    assert report.orders_resolved == [leg.id]
    assert ex.count("find_order") == 0
    assert state_of(store, leg) is OrderState.CANCELLED


async def test_an_unreadable_venue_leaves_the_order_for_the_next_tick(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    first = an_order(store, cid="first", age=WINDOW)
    second = an_order(store, cid="second", age=WINDOW)

    async def down(symbol: str, client_order_id: str) -> ExchangeOrder | None:
        ex.calls.append(("find_order", client_order_id))
        raise ExchangeUnavailable("502")

    ex.find_order = down  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.inflight"):
        report = await tracker.resolve(set(), set())
    assert caplog.messages == [f"order {cid} not resolved this tick: 502" for cid in ("first", "second")]
    assert report.unresolved == [first.id, second.id]  # one failure does not stop the others
    assert [a for c, a in ex.calls if c == "find_order"] == ["first", "second"]
    assert state_of(store, first) is OrderState.SUBMITTED

"""An operator's partial close, value by value (README "Never an order twice": the reduce-only order is
written before it is sent, sent once, a lost answer looked up; "No unprotected position": the rest keeps
its legs, resized; "Money is Decimal": the part's size on the step, its margin and realised PnL;
docs/benchmarks.md, mutation testing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, EventLevel, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import (
    ExchangeUnavailable,
    InvalidOrder,
    OrderRequest,
    OrderStatus,
)
from smt_engine.exchange.precision import PrecisionError
from smt_engine.store import Store
from smt_engine.trading.adjust import AdjustCode, AdjustRefused
from tests.unit.trading.adjust_support import ENTRY, current, events, ready
from tests.unit.trading.closing_support import client_id, close_rows, fill
from tests.unit.trading.conftest import drive
from tests.unit.trading.scripted import OPENED_AT


async def test_half_closed_the_part_is_booked_and_the_rest_stays_open_with_resized_legs(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    store.positions.update(position.id or 0, unrealized_pnl=Decimal(7))
    position = current(store, position.id)
    await clock.advance(60)  # the part is booked at a later time than the position was last updated
    part_id = venue.next_id()
    venue.fill_rows = [
        fill(part_id, Side.LONG, "-0.25", "10"),
        fill(part_id, Side.LONG, "0.5", "5"),
        fill("another", Side.LONG, "0", "100"),
        fill(part_id, Side.SHORT, "0", "1000"),
    ]
    reduced = await drive(clock, adjuster.reduce(position, None, Decimal("0.5"), "bob"))

    (request,) = [a for name, a in venue.calls if name == "place_order"]
    cid = client_id(store, 1, "part1")
    assert request == OrderRequest("ETHUSDT", Side.LONG, Decimal("0.75"), cid, reduce_only=True)
    assert ("fills", ("ETHUSDT", OPENED_AT)) in venue.sent
    assert ("order", ("ETHUSDT", part_id)) in venue.sent  # the fill is read back on its own symbol
    (order,) = close_rows(store, 3)
    assert order.client_order_id == cid
    assert (order.state, order.exchange_order_id, order.price) == (OrderState.FILLED, part_id, ENTRY)
    assert (order.size, order.proposal_id, order.position_id) == (Decimal("0.75"), 1, 3)
    assert order.request == {"type": "MARKET", "reduce_only": True, "reason": "partial", "actor": "bob"}
    entry = store.orders.by_client_id(client_id(store, 1, "entry"))
    assert entry is not None
    assert entry.position_id == position.id  # only the close's row names the part

    (booked,) = events(store, "position.partial_close")
    now = booked.at
    part = current(store, 3)
    assert part == replace(
        position,
        id=3,
        size=Decimal("0.75"),
        margin=Decimal("75.00"),
        state=PositionState.CLOSED,
        tp_order_id=None,
        sl_order_id=None,
        unrealized_pnl=Decimal(0),
        close_reason=CloseReason.MANUAL,
        close_order_id=part_id,
        closed_at=now,
        exit_price=ENTRY,
        realized_pnl=Decimal("14.25"),  # 10 - 0.25 + 5 - 0.5: this order's long fills, net of fees
        updated_at=now,
    )
    rest = current(store, position.id)
    assert (rest.state, rest.size, rest.margin) == (PositionState.OPEN, Decimal("0.75"), Decimal("75.00"))
    assert booked.level is EventLevel.INFO
    assert booked.message == (
        "ETHUSDT LONG: 0.75 of 1.5 closed at market by bob at 2000, realised PnL 14.25 USDT; 0.75 stays open"
    )
    assert (booked.proposal_id, booked.position_id) == (1, position.id)
    assert booked.data == {"actor": "bob", "closed": "0.75", "remaining": "0.75", "part_position_id": 3}

    assert reduced == {
        "message": "ETHUSDT LONG: closed 0.75 at 2000, 0.75 stays open",
        "position_id": position.id,
        "closed_size": "0.75",
        "remaining_size": "0.75",
        "realized_pnl": "14.25",
        "part_position_id": 3,
        "legs_resized": ["sl", "tp"],
    }
    resized = [(a.kind, a.trigger_price, a.size) for a in venue.algos]
    assert resized == [
        ("sl", Decimal("1960.00"), Decimal("0.75")),
        ("tp", Decimal("2100.00"), Decimal("0.75")),
    ]
    rest = current(store, position.id)
    assert (rest.sl_order_id, rest.tp_order_id) == (venue.algos[0].order_id, venue.algos[1].order_id)
    assert rest.updated_at == clock.now()
    for leg, old in (("osl2", "1003"), ("otp2", "1002")):
        row = store.orders.by_client_id(client_id(store, 1, leg))
        assert row is not None
        assert row.request == {"reason": "resized by bob", "actor": "bob"}
        gone = store.orders.by_exchange_id(old)
        assert gone is not None
        assert gone.state is OrderState.CANCELLED


async def test_a_part_given_by_size_is_floored_to_the_step(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    reduced = await drive(clock, adjuster.reduce(position, Decimal("0.509"), None, "bob"))
    (request,) = [a for name, a in venue.calls if name == "place_order"]
    assert request.size == Decimal("0.50")
    assert (reduced["closed_size"], reduced["remaining_size"]) == ("0.5", "1")
    assert current(store, 3).margin == Decimal(50)


async def test_a_part_neither_sized_nor_a_fraction_closes_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.reduce(position, None, None, "bob"))
    assert info.value.code is AdjustCode.MIN_SIZE
    assert venue.count("place_order") == 0
    assert close_rows(store, position.id or 0) == []


async def test_a_second_part_gets_the_next_client_id(store: Store, clock: SimulatedClock) -> None:
    adjuster, _, _, position = await ready(store, clock)
    await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    await drive(clock, adjuster.reduce(current(store, position.id), Decimal("0.5"), None, "bob"))
    parts = [o.client_order_id for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert parts == [client_id(store, 1, "part1"), client_id(store, 1, "part2")]
    assert current(store, position.id).size == Decimal("0.50")


async def test_an_adopted_positions_part_is_named_after_the_position(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, _, _, position = await ready(store, clock)
    store.positions.update(position.id or 0, proposal_id=None, adopted=True)
    adopted = current(store, position.id)
    await drive(clock, adjuster.reduce(adopted, Decimal("0.5"), None, "bob"))
    (order,) = close_rows(store, 3)
    assert order.client_order_id == client_id(store, position.id or 0, "part1")
    assert order.proposal_id is None
    part = current(store, 3)
    assert (part.adopted, part.proposal_id) == (False, None)
    assert current(store, position.id).adopted is True


async def test_a_refused_partial_close_is_recorded_rejected_with_the_venues_words(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.script.reject_entry = InvalidOrder("reduce size too large", code="40017")
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert info.value.code is AdjustCode.VENUE
    assert str(info.value) == (
        "venue_refused: the venue refused the partial close: InvalidOrder: reduce size too large"
    )
    (order,) = [o for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert (order.state, order.error) == (OrderState.REJECTED, "InvalidOrder: reduce size too large")
    assert current(store, position.id).size == Decimal("1.50")


async def test_a_precision_refusal_is_recorded_rejected_too(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock)

    def refuse(request: OrderRequest) -> None:
        raise PrecisionError("step", "size 0.5 is not on the step")

    venue.script.on_place = refuse
    with pytest.raises(
        AdjustRefused, match=r"^venue_refused: the venue refused the partial close: Precision"
    ):
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    (order,) = [o for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert order.state is OrderState.REJECTED


async def test_a_lost_answer_is_looked_up_by_client_id_and_the_found_fill_booked(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.script.lose_entry_response = True
    part_id = venue.next_id()
    reduced = await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert venue.count("place_order") == 1
    assert [args for name, args in venue.sent if name == "find_order"] == [
        ("ETHUSDT", client_id(store, 1, "part1"))
    ]
    (order,) = close_rows(store, 3)
    assert (order.state, order.exchange_order_id) == (OrderState.FILLED, part_id)
    trail = [e.data["to"] for e in store.events.select("order_id = ?", [order.id], order_by="id")]
    assert trail == ["unknown", "filled"]
    unknown = store.events.select("order_id = ?", [order.id], order_by="id")[0]
    assert unknown.data["reason"] == "AmbiguousOutcome: connection dropped after send"
    assert reduced["closed_size"] == "0.5"


async def test_a_lost_answer_the_venue_never_saw_is_not_sent_again_and_not_booked(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.script.never_saw_entry = True
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert str(info.value) == "venue_refused: partial close of 0.5 sent, fill not confirmed"
    assert venue.count("place_order") == 1
    (order,) = [o for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert (order.state, order.error) == (OrderState.UNKNOWN, "AmbiguousOutcome: connection reset")
    (warning,) = events(store, "position.partial_unconfirmed")
    assert warning.level is EventLevel.WARNING
    assert warning.message == (
        f"ETHUSDT LONG: partial close {client_id(store, 1, 'part1')} of 0.5 was sent but is not confirmed "
        "filled; the monitor reconciles the size"
    )
    assert warning.position_id == position.id
    assert current(store, position.id) == position
    assert [o for o in store.positions.select() if o.id not in (1, 2)] == []


async def test_a_close_read_open_until_the_fill_timeout_is_not_booked(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, executor, position = await ready(store, clock)
    venue.reads = [OrderStatus.NEW] * 50
    start = clock.now()
    with pytest.raises(AdjustRefused, match="fill not confirmed"):
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    trading = executor.settings.trading
    reads = 50 - len(venue.reads)
    assert (trading.fill_timeout, trading.poll_interval) == (timedelta(seconds=15), timedelta(seconds=2))
    assert reads == 9  # at 0, 2, ..., 14 s, and once more at 16 s, past the deadline
    assert clock.now() - start < timedelta(seconds=17)
    (order,) = [o for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert order.state is OrderState.SUBMITTED
    assert len(events(store, "position.partial_unconfirmed")) == 1
    assert current(store, position.id).size == Decimal("1.50")


async def test_a_read_on_the_deadline_is_the_last(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, executor, position = await ready(store, clock)
    executor.settings.trading.fill_timeout = timedelta(seconds=4)
    venue.reads = [OrderStatus.NEW] * 10
    with pytest.raises(AdjustRefused, match="fill not confirmed"):
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"), step=2)
    assert 10 - len(venue.reads) == 3  # at 0, 2 and 4 s


async def test_a_close_read_open_then_filled_is_booked_and_a_failed_read_retried(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.reads = [OrderStatus.NEW, ExchangeUnavailable("upstream 502"), OrderStatus.PARTIALLY_FILLED]
    reduced = await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert venue.reads == []
    assert reduced["remaining_size"] == "1"


async def test_a_close_never_readable_is_not_booked(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.reads = [ExchangeUnavailable("upstream 502")] * 50
    part_id = venue.next_id()
    with pytest.raises(AdjustRefused, match="fill not confirmed"):
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    (order,) = [o for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert (order.state, order.price) == (OrderState.SUBMITTED, None)
    assert order.exchange_order_id == part_id  # what the venue answered the send with
    assert current(store, position.id).size == Decimal("1.50")


async def test_a_close_that_ended_unfilled_is_not_booked(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock, part_filled=Decimal(0))
    venue.reads = [OrderStatus.CANCELLED]
    with pytest.raises(AdjustRefused, match="fill not confirmed"):
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    (order,) = [o for o in store.orders.select() if o.kind is OrderKind.CLOSE]
    assert order.state is OrderState.CANCELLED
    assert current(store, position.id).size == Decimal("1.50")


async def test_a_close_that_ended_part_filled_books_what_filled(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock, part_filled=Decimal("0.3"), no_avg=True)
    venue.reads = [OrderStatus.CANCELLED]
    reduced = await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert reduced == {
        "message": "ETHUSDT LONG: closed 0.3 at ?, 1.2 stays open",
        "position_id": position.id,
        "closed_size": "0.3",
        "remaining_size": "1.2",
        "realized_pnl": None,
        "part_position_id": 3,
        "legs_resized": ["sl", "tp"],
    }
    part = current(store, 3)
    assert (part.size, part.margin, part.exit_price, part.realized_pnl) == (
        Decimal("0.3"), Decimal(30), None, None,
    )  # fmt: skip
    (booked,) = events(store, "position.partial_close")
    assert booked.message == (
        "ETHUSDT LONG: 0.3 of 1.5 closed at market by bob at ?, realised PnL ? USDT; 1.2 stays open"
    )


async def test_a_fill_larger_than_the_position_books_only_the_position(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, _, _, position = await ready(store, clock, part_filled=Decimal(2))
    await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert (current(store, 3).size, current(store, 3).margin) == (Decimal("1.50"), Decimal("150.00"))
    assert current(store, position.id).size == Decimal(0)


async def test_unreadable_fills_leave_the_parts_pnl_unknown(store: Store, clock: SimulatedClock) -> None:
    adjuster, _, _, position = await ready(store, clock, fills_error=ExchangeUnavailable("upstream 502"))
    reduced = await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert reduced["realized_pnl"] is None
    assert current(store, 3).realized_pnl is None


async def test_a_leg_that_cannot_be_resized_leaves_the_old_one_and_says_so(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.script.fail_place_tp_sl = InvalidOrder("trigger price out of range")
    await clock.advance(60)
    reduced = await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    assert reduced["legs_resized"] == []
    assert current(store, position.id).updated_at == events(store, "position.partial_close")[0].at
    warnings = events(store, "protection.resize_failed")
    assert [(w.level, w.position_id) for w in warnings] == [(EventLevel.WARNING, position.id)] * 2
    assert [w.message for w in warnings] == [
        f"ETHUSDT LONG: {kind} not resized to 1 (venue_refused: the venue did not accept the new {kind} "
        "(see the events); nothing changed); the old reduce-only leg still rests"
        for kind in ("SL", "TP")
    ]
    assert [a.order_id for a in venue.algos] == ["1002", "1003"]
    rest = current(store, position.id)
    assert (rest.sl_order_id, rest.tp_order_id, rest.size) == ("1003", "1002", Decimal("1.00"))


async def test_each_resized_leg_stamps_the_rest_when_the_venue_took_it(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, _, _, position = await ready(store, clock, slow=clock)
    await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "bob"))
    (booked,) = events(store, "position.partial_close")
    tp = store.orders.by_client_id(client_id(store, 1, "otp2"))
    assert tp is not None
    assert current(store, position.id).updated_at == tp.updated_at > booked.at


async def test_a_rest_without_a_take_profit_resizes_its_stop_only(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    store.positions.update(position.id or 0, tp_price=None)
    reduced = await drive(clock, adjuster.reduce(current(store, position.id), Decimal("0.5"), None, "bob"))
    assert reduced["legs_resized"] == ["sl"]
    assert [(a.kind, a.size) for a in venue.algos] == [("tp", Decimal("1.50")), ("sl", Decimal("1.00"))]

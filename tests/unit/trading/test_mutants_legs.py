"""Every TP/SL leg the engine learns of gets an order row, and a closed position's leg resting on a
newer position of the same side is cancelled, value by value (README "Nothing is left half-done";
docs/benchmarks.md, mutation testing): ``track_legs``, the reconciler's three hooks into it, and the
in-flight tracker's ``_left_on_a_newer_position`` and ``_cancel_at_venue``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    OrderStatus,
)
from smt_engine.store import Store
from smt_engine.store.records import Order, Position
from smt_engine.trading.legs import track_legs
from tests.unit.trading.conftest import NOW, eth_position
from tests.unit.trading.inflight_support import an_order, approved, at_venue, tracker_on
from tests.unit.trading.reconcile_support import OPENED, Venue, position, reconciler, venue_order
from tests.unit.trading.scripted import ScriptedExchange, listed_position

AT = NOW + timedelta(seconds=7)  # not the clock's instant: the row must take the time it is given


def leg(
    oid: str,
    kind: str = "tp",
    *,
    cid: str | None = None,
    symbol: str = "ETHUSDT",
    side: Side = Side.LONG,
    status: OrderStatus = OrderStatus.UNTRIGGERED,
    trigger: str = "2200",
    size: str = "1.5",
) -> AlgoOrder:
    return AlgoOrder(
        order_id=oid,
        client_order_id=cid,
        symbol=symbol,
        position_side=side,
        kind=kind,  # type: ignore[arg-type]
        trigger_price=Decimal(trigger),
        size=Decimal(size),
        status=status,
        created_at=NOW - timedelta(minutes=1),
    )


def expected_row(
    row_id: int | None,
    venue_leg: AlgoOrder,
    cid: str,
    pos: Position,
    at: object = AT,
) -> Order:
    return Order(
        client_order_id=cid,
        exchange_order_id=venue_leg.order_id,
        symbol=venue_leg.symbol,
        side=venue_leg.position_side,
        kind=OrderKind(venue_leg.kind),
        size=venue_leg.size,
        trigger_price=venue_leg.trigger_price,
        state=OrderState.SUBMITTED,
        created_at=at,  # type: ignore[arg-type]
        updated_at=at,  # type: ignore[arg-type]
        proposal_id=pos.proposal_id,
        position_id=pos.id,
        id=row_id,
    )


def held_position(store: Store, clock: SimulatedClock, side: Side = Side.LONG) -> Position:
    tracker, _, _ = tracker_on(store, clock)
    proposal = approved(store, clock, tracker)
    return position(store, side=side, proposal_id=proposal.id)


def rows(store: Store) -> list[Order]:
    return store.orders.select("1 = 1", [], order_by="id")


# ------------------------------------------------------------------------------------------ track_legs


async def test_only_open_tp_and_sl_legs_of_the_positions_symbol_and_side_that_no_row_knows_get_a_row(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    pos = held_position(store, clock)
    known = an_order(store, kind=OrderKind.TP, exchange_id="known", cid="smt-known", position_id=None)
    tp = leg("t1", "tp", cid="smt-tp-1", trigger="2200.50", size="0.75")
    sl = leg("s1", "sl", cid="smt-sl-1", trigger="1900", size="1.5")
    listed = [
        leg("x1", symbol="BTCUSDT"),  # another symbol
        tp,
        leg("x2", side=Side.SHORT),  # another side
        leg("x3", status=OrderStatus.FILLED),  # no longer open
        leg("x4", status=OrderStatus.CANCELLED),
        leg("x5", "close"),  # not a TP/SL leg
        leg("known", "tp", cid="smt-other"),  # a row knows it already
        sl,
    ]
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.legs"):
        created = track_legs(store, AT, pos, listed)
    assert [o.exchange_order_id for o in created] == ["t1", "s1"]
    assert created == [
        expected_row(created[0].id, tp, "smt-tp-1", pos),
        expected_row(created[1].id, sl, "smt-sl-1", pos),
    ]
    assert rows(store) == [known, *created], "stored exactly as returned, nothing else written"
    assert store.orders.by_exchange_id("known") == known, "a leg already in the books keeps its row"
    tracked = [
        (r.levelno, r.getMessage(), getattr(r, "event", None), getattr(r, "position_id", None))
        for r in caplog.records
    ]
    assert tracked == [
        (
            logging.INFO,
            f"tp leg t1 on ETHUSDT {Side.LONG} at 2200.5 is now tracked (position #{pos.id})",
            "order.leg_tracked",
            pos.id,
        ),
        (
            logging.INFO,
            f"sl leg s1 on ETHUSDT {Side.LONG} at 1900 is now tracked (position #{pos.id})",
            "order.leg_tracked",
            pos.id,
        ),
    ]


@pytest.mark.parametrize("status", [OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNTRIGGERED])
async def test_every_open_status_counts_as_open(
    store: Store, clock: SimulatedClock, status: OrderStatus
) -> None:
    pos = held_position(store, clock)
    created = track_legs(store, AT, pos, [leg("t1", status=status)])
    assert [o.exchange_order_id for o in created] == ["t1"]


async def test_a_short_positions_legs_are_matched_by_its_own_side(
    store: Store, clock: SimulatedClock
) -> None:
    pos = held_position(store, clock, side=Side.SHORT)
    short = leg("s1", "sl", side=Side.SHORT, cid="smt-s")
    created = track_legs(store, AT, pos, [leg("l1", "sl", side=Side.LONG), short])
    assert created == [expected_row(created[0].id, short, "smt-s", pos)]


async def test_a_leg_without_a_client_id_or_with_one_a_row_uses_is_named_by_its_venue_id(
    store: Store, clock: SimulatedClock
) -> None:
    pos = held_position(store, clock)
    taken = an_order(store, cid="smt-taken", exchange_id="other")
    none, empty, reused, own = (
        leg("n1", cid=None),
        leg("e1", "sl", cid=""),
        leg("r1", cid="smt-taken"),
        leg("o1", "sl", cid="smt-own"),
    )
    created = track_legs(store, AT, pos, [none, empty, reused, own])
    assert created == [
        expected_row(created[0].id, none, "exchange:n1", pos),
        expected_row(created[1].id, empty, "exchange:e1", pos),
        expected_row(created[2].id, reused, "exchange:r1", pos),
        expected_row(created[3].id, own, "smt-own", pos),
    ]
    assert rows(store) == [taken, *created]


async def test_a_leg_listed_twice_gets_one_row(store: Store, clock: SimulatedClock) -> None:
    pos = held_position(store, clock)
    created = track_legs(store, AT, pos, [leg("t1", cid="smt-a"), leg("t1", cid="smt-a")])
    assert len(created) == 1
    assert len(rows(store)) == 1


# ------------------------------------------------------------------------------- the reconciler's hooks


def exchange_position(side: Side = Side.LONG) -> ExchangePosition:
    return listed_position(side=side, opened_at=OPENED, updated_at=NOW, unrealized_pnl=Decimal(3))


def listing() -> list[AlgoOrder]:
    """Two take-profits and two stops of the long (one of each is chosen as its TP/SL), and a short's."""
    return [
        leg("t1", "tp", trigger="2200"),
        leg("t2", "tp", trigger="2300", cid="smt-t2"),
        leg("s1", "sl", trigger="1900"),
        leg("s2", "sl", trigger="1950"),
        leg("short", "sl", side=Side.SHORT, trigger="2100"),
    ]


def tracked(store: Store) -> list[tuple[str | None, OrderKind, str, int | None, OrderState]]:
    return [(o.exchange_order_id, o.kind, o.client_order_id, o.position_id, o.state) for o in rows(store)]


async def test_refresh_tracks_every_listed_leg_of_the_position_not_only_the_chosen_tp_and_sl(
    store: Store, clock: SimulatedClock
) -> None:
    rec, _ = reconciler(store, clock, Venue())
    pos = held_position(store, clock)
    await clock.advance(5)
    rec.refresh(pos, exchange_position(), listing())
    sub = OrderState.SUBMITTED
    assert tracked(store) == [
        ("t1", OrderKind.TP, "exchange:t1", pos.id, sub),
        ("t2", OrderKind.TP, "smt-t2", pos.id, sub),
        ("s1", OrderKind.SL, "exchange:s1", pos.id, sub),
        ("s2", OrderKind.SL, "exchange:s2", pos.id, sub),
    ]
    assert {o.created_at for o in rows(store)} == {clock.now()} == {o.updated_at for o in rows(store)}
    assert {o.proposal_id for o in rows(store)} == {pos.proposal_id}


async def test_adopt_tracks_every_listed_leg_under_the_adopted_position(
    store: Store, clock: SimulatedClock
) -> None:
    rec, _ = reconciler(store, clock, Venue())
    await clock.advance(5)
    pos = rec.adopt(exchange_position(), listing())
    assert pos.id is not None
    sub = OrderState.SUBMITTED
    assert tracked(store) == [
        ("t1", OrderKind.TP, "exchange:t1", pos.id, sub),
        ("t2", OrderKind.TP, "smt-t2", pos.id, sub),
        ("s1", OrderKind.SL, "exchange:s1", pos.id, sub),
        ("s2", OrderKind.SL, "exchange:s2", pos.id, sub),
    ]
    assert {o.created_at for o in rows(store)} == {clock.now()} == {o.updated_at for o in rows(store)}
    assert {o.proposal_id for o in rows(store)} == {None}


async def test_close_out_tracks_the_open_legs_of_the_positions_side_in_the_order_history(
    store: Store, clock: SimulatedClock
) -> None:
    def with_trigger(oid: str, kind: str, **kw: Any) -> ExchangeOrder:
        return replace(venue_order(oid, kind=kind, **kw), trigger_price=Decimal(2200))

    venue = Venue(
        history=[
            venue_order("close1", at=NOW - timedelta(minutes=5)),
            with_trigger("tp-open", "tp", status=OrderStatus.UNTRIGGERED, cid="smt-tp"),
            with_trigger("sl-open", "sl", status=OrderStatus.NEW),
            with_trigger("tp-done", "tp", status=OrderStatus.FILLED),
            with_trigger("short-tp", "tp", status=OrderStatus.UNTRIGGERED, side=Side.SHORT),
            venue_order("entry-open", kind="entry", status=OrderStatus.NEW, reduce_only=False),
        ]
    )
    rec, _ = reconciler(store, clock, venue)
    pos = held_position(store, clock)
    await clock.advance(5)
    await rec.close_out(pos)
    sub = OrderState.SUBMITTED
    assert tracked(store) == [
        ("tp-open", OrderKind.TP, "smt-tp", pos.id, sub),
        ("sl-open", OrderKind.SL, "exchange:sl-open", pos.id, sub),
    ]
    assert {o.created_at for o in rows(store)} == {clock.now()}
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert after.close_order_id == "close1"


# ------------------------------------------------------ a closed position's leg on a newer position


def a_position(store: Store, state: PositionState) -> Position:
    return store.positions.insert(
        eth_position(
            opened_at=NOW - timedelta(hours=1),
            state=state,
        )
    )


HELD = {("ETHUSDT", Side.LONG)}


def record_cancels(ex: ScriptedExchange) -> list[tuple[str, str, str | None]]:
    asked: list[tuple[str, str, str | None]] = []

    async def cancel_order(
        symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        asked.append(("cancel_order", symbol, order_id or client_order_id))

    async def cancel_algo_order(symbol: str, order_id: str) -> None:
        asked.append(("cancel_algo_order", symbol, order_id))

    ex.cancel_order = cancel_order  # type: ignore[method-assign]
    ex.cancel_algo_order = cancel_algo_order  # type: ignore[method-assign]
    return asked


def newer_stop(oid: str = "new-sl", **kw: object) -> AlgoOrder:
    return leg(oid, "sl", trigger="1800", **kw)  # type: ignore[arg-type]


def held_stop_row(store: Store, state: PositionState = PositionState.OPEN, oid: str = "new-sl") -> Order:
    """The books' row of the newer position's own stop (``state``: that position's)."""
    holder = a_position(store, state)
    return an_order(store, kind=OrderKind.SL, position_id=holder.id, exchange_id=oid, cid=f"row-{oid}")


CONFIRMED = "open at the venue but belonging to no open work: cancelled, the venue confirmed it"


async def cancelled_as_confirmed(store: Store, order: Order) -> None:
    after = store.orders.get(order.id or 0)
    assert after is not None
    assert after.state is OrderState.CANCELLED
    assert after.updated_at == NOW
    events = store.events.of_kind("order.cancelled")
    assert [(e.data.get("reason"), e.data.get("actor")) for e in events] == [(CONFIRMED, "reconciler")]


@pytest.mark.parametrize("state", [OrderState.SUBMITTED, OrderState.PENDING_SUBMIT, OrderState.UNKNOWN])
async def test_a_closed_positions_take_profit_resting_while_a_newer_one_is_held_is_cancelled(
    store: Store, clock: SimulatedClock, state: OrderState
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    gone = a_position(store, PositionState.CLOSED)
    tp = an_order(store, kind=OrderKind.TP, state=state, position_id=gone.id, exchange_id="77", cid="tp")
    cancels = record_cancels(ex)
    report = await tracker.resolve({"77"}, HELD, ())  # no other leg listed: a take-profit goes anyway
    assert cancels == [("cancel_algo_order", "ETHUSDT", "77")]
    assert report.orders_resolved == [tp.id]
    assert report.unresolved == []
    await cancelled_as_confirmed(store, tp)
    assert store.events.of_kind("order.submitted") == []


async def test_a_closed_positions_stop_is_cancelled_when_the_newer_position_has_a_stop_of_its_own(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    gone = a_position(store, PositionState.CLOSED)
    sl = an_order(store, kind=OrderKind.SL, position_id=gone.id, exchange_id="78", cid="sl")
    own = held_stop_row(store)
    cancels = record_cancels(ex)
    listed = [leg("78", "sl", trigger="1900"), newer_stop(status=OrderStatus.NEW)]
    report = await tracker.resolve({"78", "new-sl"}, HELD, listed)
    assert cancels == [("cancel_algo_order", "ETHUSDT", "78")]
    assert report.orders_resolved == [sl.id, own.id]
    assert report.cancelled == ["78"]
    await cancelled_as_confirmed(store, sl)


@pytest.mark.parametrize("holder", [PositionState.CLOSED, None], ids=["another-leftover", "no-row"])
async def test_a_closed_positions_stop_stays_when_the_other_stop_is_no_open_positions(
    store: Store, clock: SimulatedClock, holder: PositionState | None
) -> None:
    """Two leftovers never count as each other's reason to go: the held position could lose every stop."""
    tracker, ex, _ = tracker_on(store, clock)
    gone = a_position(store, PositionState.CLOSED)
    sl = an_order(store, kind=OrderKind.SL, position_id=gone.id, exchange_id="78", cid="sl")
    if holder is not None:
        held_stop_row(store, holder)
    cancels = record_cancels(ex)
    await tracker.resolve({"78", "new-sl"}, HELD, [leg("78", "sl", trigger="1900"), newer_stop()])
    assert cancels == []
    after = store.orders.get(sl.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED


@pytest.mark.parametrize(
    "other",
    [
        newer_stop(side=Side.SHORT),
        newer_stop(symbol="BTCUSDT"),
        newer_stop(status=OrderStatus.FILLED),
        newer_stop(status=OrderStatus.CANCELLED),
        newer_stop("78"),  # its own listing
        leg("new-tp", "tp"),  # a take-profit is no stop
    ],
    ids=["other-side", "other-symbol", "filled", "cancelled", "same-id", "take-profit"],
)
async def test_a_closed_positions_stop_stays_while_the_newer_position_has_no_other_open_stop(
    store: Store, clock: SimulatedClock, other: AlgoOrder
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    gone = a_position(store, PositionState.CLOSED)
    sl = an_order(store, kind=OrderKind.SL, position_id=gone.id, exchange_id="78", cid="sl")
    cancels = record_cancels(ex)
    report = await tracker.resolve({"78"}, HELD, [leg("78", "sl", trigger="1900"), other])
    assert cancels == []
    assert report.orders_resolved == [sl.id]
    after = store.orders.get(sl.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED
    assert store.events.of_kind("order.cancelled") == []


def kept_cases() -> list[tuple[str, OrderKind, bool, PositionState | None, set[tuple[str, Side]]]]:
    """(name, kind, has a position id, that position's state, held): each is left resting."""
    return [
        ("entry", OrderKind.ENTRY, True, PositionState.CLOSED, HELD),
        ("close", OrderKind.CLOSE, True, PositionState.CLOSED, HELD),
        ("no-position", OrderKind.TP, False, None, HELD),
        ("not-held", OrderKind.TP, True, PositionState.CLOSED, set()),
        ("other-side-held", OrderKind.TP, True, PositionState.CLOSED, {("ETHUSDT", Side.SHORT)}),
        ("other-symbol-held", OrderKind.TP, True, PositionState.CLOSED, {("BTCUSDT", Side.LONG)}),
        ("own-open", OrderKind.TP, True, PositionState.OPEN, HELD),
        ("own-closing", OrderKind.SL, True, PositionState.CLOSING, HELD),
    ]


@pytest.mark.parametrize(("name", "kind", "linked", "pos_state", "held"), kept_cases(), ids=lambda v: "")
async def test_a_resting_order_that_is_no_closed_positions_leg_on_a_held_side_stays(
    store: Store,
    clock: SimulatedClock,
    name: str,
    kind: OrderKind,
    linked: bool,
    pos_state: PositionState | None,
    held: set[tuple[str, Side]],
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    pos = a_position(store, pos_state) if pos_state is not None else None
    order = an_order(
        store,
        kind=kind,
        state=OrderState.PENDING_SUBMIT,
        position_id=pos.id if linked and pos else None,
        exchange_id="77",
        cid=name,
    )
    cancels = record_cancels(ex)
    report = await tracker.resolve({"77", "new-sl"}, held, [newer_stop()])  # another stop is listed
    assert cancels == [], name
    assert report.orders_resolved == [order.id]
    after = store.orders.get(order.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED
    assert store.events.of_kind("order.cancelled") == []


# --------------------------------------------------------------------------------- _cancel_at_venue


@pytest.mark.parametrize(
    ("kind", "call"),
    [
        (OrderKind.TP, "cancel_algo_order"),
        (OrderKind.SL, "cancel_algo_order"),
        (OrderKind.ENTRY, "cancel_order"),
        (OrderKind.CLOSE, "cancel_order"),
    ],
)
async def test_a_leg_is_cancelled_as_an_algo_order_anything_else_as_an_order(
    store: Store, clock: SimulatedClock, kind: OrderKind, call: str
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    order = an_order(store, kind=kind, exchange_id="55", cid="o", age=timedelta(minutes=5))
    # found open by its venue id, listed nowhere, past the visibility window: cancelled at the venue
    ex.orders["o"] = at_venue("o", OrderStatus.UNTRIGGERED, oid="55", kind=kind.value)
    cancels = record_cancels(ex)
    report = await tracker.resolve(set(), set())
    assert cancels == [(call, "ETHUSDT", "55")]
    assert report.orders_resolved == [order.id]
    await cancelled_as_confirmed(store, order)


@pytest.mark.parametrize("kind", [OrderKind.TP, OrderKind.SL])
async def test_an_unconfirmed_cancel_of_a_leg_left_on_a_newer_position_leaves_its_row_open(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture, kind: OrderKind
) -> None:
    tracker, ex, _ = tracker_on(store, clock)
    gone = a_position(store, PositionState.CLOSED)
    order = an_order(store, kind=kind, position_id=gone.id, exchange_id="77", cid="leg")
    asked: list[tuple[str, str]] = []

    async def refused(symbol: str, order_id: str) -> None:
        asked.append((symbol, order_id))
        raise ExchangeUnavailable("cancel timed out")

    ex.cancel_algo_order = refused  # type: ignore[method-assign]
    own = held_stop_row(store)
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.inflight"):
        report = await tracker.resolve({"77", "new-sl"}, HELD, [newer_stop()])
    assert asked == [("ETHUSDT", "77")]
    assert report.unresolved == [order.id]
    assert report.orders_resolved == [own.id]
    assert report.cancelled == []
    logged = [(r.levelno, r.getMessage(), getattr(r, "event", None)) for r in caplog.records]
    assert logged == [
        (
            logging.WARNING,
            f"{kind.value} order 77 is open at the venue and its cancel was not confirmed: cancel timed out",
            "order.cancel_unconfirmed",
        )
    ]
    after = store.orders.get(order.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED
    assert store.events.of_kind("order.cancelled") == []


async def test_a_take_profit_flagged_orphan_is_cancelled_once_a_newer_position_holds_its_side(
    store: Store, clock: SimulatedClock
) -> None:
    """Flagged on a start-up tick while no position held its side (only flagged then), the leg would
    act on a position opened there before the next regular tick: a take-profit goes at once."""
    tracker, ex, _ = tracker_on(store, clock)
    tp = an_order(store, kind=OrderKind.TP, exchange_id="79", cid="exchange:79")
    store.orders.update(tp.id, orphan=True)
    cancels = record_cancels(ex)
    report = await tracker.resolve({"79"}, HELD, [leg("79", "tp")])
    assert cancels == [("cancel_algo_order", "ETHUSDT", "79")]
    assert report.cancelled == ["79"]
    quiet = an_order(store, kind=OrderKind.TP, exchange_id="80", cid="plain-80")  # not flagged: not ours
    await tracker.resolve({"80"}, HELD, [leg("80", "tp")])
    assert ("cancel_algo_order", "ETHUSDT", "80") not in cancels
    assert store.orders.get(quiet.id or 0).state is OrderState.SUBMITTED  # type: ignore[union-attr]

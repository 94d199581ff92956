"""Position reconciliation in process, value by value (README "The exchange is the source of truth" and
"Nothing is left half-done"; docs/benchmarks.md, mutation testing): how a close is explained (reason,
closing order, exit, realised PnL from the fills), adoption keeps the venue's open time, a read failure
changes nothing, and a trade that opened and closed between two looks is rebuilt from the fills.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import (
    CloseReason,
    EventLevel,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import (
    AlgoOrder,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    OrderStatus,
)
from smt_engine.store import Store
from smt_engine.store.records import Order, Position
from smt_engine.trading.proposals import transition
from smt_engine.trading.pushed import PushedLegFill
from smt_engine.trading.reconcile import PositionReconciler
from tests.unit.trading.conftest import NOW
from tests.unit.trading.inflight_support import approved, tracker_on
from tests.unit.trading.reconcile_support import (
    OPENED,
    Venue,
    closed,
    closed_by,
    fill,
    position,
    reconciler,
    venue_order,
)
from tests.unit.trading.scripted import listed_position

# ------------------------------------------------------------------------------------------- close_out


async def test_a_failed_read_explains_nothing_and_changes_nothing(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    rec, logs = reconciler(store, clock, Venue(failure=ExchangeUnavailable("502")))
    pos = position(store)
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.reconcile"):
        assert await rec.close_out(pos) is None
    assert caplog.messages == ["close of ETHUSDT LONG not yet explained (502); retrying next tick"]
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN
    assert logs.closes == []
    assert store.events.of_kind("position.closed") == []


async def test_a_take_profit_close_is_recorded_from_its_order_and_its_own_fills(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker, _, _ = tracker_on(store, clock)
    p = approved(store, clock, tracker)
    for state in (ProposalState.SUBMITTING, ProposalState.OPEN):
        transition(store, p.id or 0, state, actor="executor", reason="t", at=NOW)
    venue = Venue(
        history=[
            venue_order("older", kind="tp", at=NOW - timedelta(minutes=20), avg="2050"),
            venue_order("tp1", kind="tp", reduce_only=False, at=NOW - timedelta(minutes=10), avg="2110"),
        ],
        fill_list=[
            fill("tp1", "150", fee="-0.5"),
            fill("tp1", "15", fee="0.25"),  # a fee is a cost whatever its sign
            fill("older", "99"),  # another order's fill: not this close's when its own are known
            fill("tp1", "500", side=Side.SHORT),  # the other side
            fill("tp1", "700", at=OPENED - timedelta(seconds=1)),  # before the position opened
        ],
    )
    rec, logs = reconciler(store, clock, venue)
    pos = position(store, proposal_id=p.id)
    await clock.advance(20 * 60 + 43)  # held 3 h 20 min 43 s: 3.345 h
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.reconcile"):
        assert await rec.close_out(pos) is CloseReason.TAKE_PROFIT
    assert caplog.messages == ["ETHUSDT LONG closed at the venue: take-profit, realised PnL 164.25 USDT"]
    assert sorted(venue.asked) == [("fills", "ETHUSDT", OPENED), ("order_history", "ETHUSDT", OPENED)]
    after = closed(store, pos)
    assert after.close_reason is CloseReason.TAKE_PROFIT
    assert after.close_order_id == "tp1"
    assert after.realized_pnl == Decimal("164.25")
    assert after.exit_price == Decimal(2110)  # the closing order's average, not a fill's price
    assert after.closed_at == NOW - timedelta(minutes=10)
    assert after.unrealized_pnl == Decimal(0)
    event = store.events.of_kind("position.closed")[0]
    assert event.message == "ETHUSDT LONG closed: take-profit, order tp1, realised PnL 164.25 USDT"
    assert event.data["close_order_id"] == "tp1"
    assert event.data["reason"] == "take-profit"
    assert event.data["actor"] == "monitor"
    current = store.proposals.get(p.id or 0)
    assert current is not None
    assert current.state is ProposalState.CLOSED
    reason = store.events.of_kind("proposal.closed")[0].data["reason"]
    assert reason == "position closed at the venue (take-profit)"
    assert store.events.of_kind("proposal.closed")[0].data["actor"] == "monitor"
    assert logs.closes == [
        (
            "tp1",
            {"symbol": "ETHUSDT", "side": "LONG", "entry_price": "2000"},
            {
                "reason": "take-profit",
                "exit_price": "2110",
                "realized_pnl_usdt": "164.25",
                "hours_held": 3.35,
            },
            "LONG ETHUSDT closed by take-profit after 3.3 h; realised PnL 164.25 USDT",
        )
    ]


async def test_a_close_with_no_order_found_takes_the_close_fills_and_says_unknown(
    store: Store, clock: SimulatedClock
) -> None:
    venue = Venue(
        history=[
            venue_order("open-still", status=OrderStatus.NEW),
            venue_order("short", side=Side.SHORT),
            venue_order("entry", reduce_only=False, kind="entry"),
            venue_order("before", at=OPENED - timedelta(seconds=1)),
        ],
        fill_list=[
            fill("a", "10", price="2090"),
            fill("b", "0", price="2000"),
            fill("c", "-4", price="2080"),
        ],
    )
    rec, logs = reconciler(store, clock, venue)
    pos = position(store)
    assert await rec.close_out(pos) is CloseReason.UNKNOWN
    after = closed(store, pos)
    assert after.close_order_id is None
    assert after.realized_pnl == Decimal(5)  # 10 - 0.5 + (-4) - 0.5; a fill with no PnL is no close
    assert after.exit_price == Decimal(2080)  # the last close fill's price
    assert after.closed_at == NOW
    assert (
        "closed: unknown, order ?, realised PnL 5.0 USDT"
        in store.events.of_kind("position.closed")[0].message
    )
    assert logs.closes[0][0] is None


async def test_a_close_with_nothing_to_read_records_no_pnl_and_no_exit(
    store: Store, clock: SimulatedClock
) -> None:
    rec, logs = reconciler(store, clock, Venue())
    pos = position(store)
    assert await rec.close_out(pos) is CloseReason.UNKNOWN
    after = closed(store, pos)
    assert after.realized_pnl is None
    assert after.exit_price is None
    assert logs.closes[0][2] == {
        "reason": "unknown",
        "exit_price": None,
        "realized_pnl_usdt": None,
        "hours_held": 3.0,
    }
    assert logs.closes[0][3] == "LONG ETHUSDT closed by unknown after 3.0 h"


async def test_a_closing_order_without_a_price_takes_the_fills_price(
    store: Store, clock: SimulatedClock
) -> None:
    venue = Venue(history=[venue_order("c1", avg=None)], fill_list=[fill("c1", "3", price="2111")])
    rec, _ = reconciler(store, clock, venue)
    pos = position(store)
    await rec.close_out(pos)
    assert closed(store, pos).exit_price == Decimal(2111)


async def test_our_close_order_closes_even_when_not_flagged_reduce_only(
    store: Store, clock: SimulatedClock
) -> None:
    venue = Venue(history=[venue_order("c1", kind="close", reduce_only=False)])
    rec, _ = reconciler(store, clock, venue)
    pos = position(store)
    await rec.close_out(pos)
    assert closed(store, pos).close_order_id == "c1"


async def test_the_newest_reducing_order_is_the_closing_one(store: Store, clock: SimulatedClock) -> None:
    venue = Venue(
        history=[
            venue_order("first", at=NOW - timedelta(minutes=30)),
            venue_order("newest", at=NOW - timedelta(minutes=5)),
            venue_order("middle", at=NOW - timedelta(minutes=20)),
        ]
    )
    rec, _ = reconciler(store, clock, venue)
    pos = position(store)
    await rec.close_out(pos)
    assert closed(store, pos).close_order_id == "newest"


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (
            venue_order("l", kind="entry", reduce_only=False, order_type="liquidation"),
            CloseReason.LIQUIDATION,
        ),
        (venue_order("s", kind="sl"), CloseReason.STOP_LOSS),
        (venue_order("t", kind="tp"), CloseReason.TAKE_PROFIT),
        (venue_order("m", cid=None), CloseReason.MANUAL),
        (venue_order("m", cid="someone-else"), CloseReason.MANUAL),
        (venue_order("f", cid="ours-forced"), CloseReason.FORCED),
        (venue_order("u", cid="ours-unprotected"), CloseReason.UNPROTECTED),
        (venue_order("b", cid="ours-bogus"), CloseReason.MANUAL),
        (venue_order("e", cid="ours-entry"), CloseReason.MANUAL),
    ],
)
async def test_the_close_reason_comes_from_the_closing_order(
    store: Store, clock: SimulatedClock, order: ExchangeOrder, reason: CloseReason
) -> None:
    for cid, kind, why in (
        ("ours-forced", OrderKind.CLOSE, "forced"),
        ("ours-unprotected", OrderKind.CLOSE, "unprotected"),
        ("ours-bogus", OrderKind.CLOSE, "because"),
        ("ours-entry", OrderKind.ENTRY, "forced"),
    ):
        store.orders.insert(
            Order(
                client_order_id=cid,
                symbol="ETHUSDT",
                side=Side.LONG,
                kind=kind,
                size=Decimal(1),
                state=OrderState.FILLED,
                created_at=NOW,
                updated_at=NOW,
                request={"reason": why},
            )
        )
    rec, _ = reconciler(store, clock, Venue(history=[order]))
    pos = position(store)
    assert await rec.close_out(pos) is reason
    assert closed(store, pos).close_reason is reason


async def test_a_proposal_not_open_is_not_closed_again(store: Store, clock: SimulatedClock) -> None:
    tracker, _, _ = tracker_on(store, clock)
    p = approved(store, clock, tracker)
    rec, _ = reconciler(store, clock, Venue())
    await rec.close_out(position(store, proposal_id=p.id))
    current = store.proposals.get(p.id or 0)
    assert current is not None
    assert current.state is ProposalState.APPROVED


# ---------------------------------------------------------------------------------- refresh and adopt


def at_venue(side: Side = Side.LONG, upnl: str = "30") -> ExchangePosition:
    return listed_position(side=side, opened_at=OPENED, updated_at=NOW, unrealized_pnl=Decimal(upnl))


def algo(
    oid: str,
    kind: str,
    price: str,
    *,
    side: Side = Side.LONG,
    symbol: str = "ETHUSDT",
    status: OrderStatus = OrderStatus.UNTRIGGERED,
) -> AlgoOrder:
    return AlgoOrder(oid, None, symbol, side, kind, Decimal(price), Decimal("1.5"), status, NOW)  # type: ignore[arg-type]


def noise(side: Side = Side.LONG) -> list[AlgoOrder]:
    """Stops that are not this position's: the other side's, another pair's, a cancelled one."""
    other = Side.SHORT if side is Side.LONG else Side.LONG
    return [
        algo("x1", "sl", "1", side=other),
        algo("x2", "sl", "2", symbol="BTCUSDT", side=side),
        algo("x3", "sl", "3", status=OrderStatus.CANCELLED, side=side),
    ]


@pytest.mark.parametrize(("side", "mark"), [(Side.LONG, Decimal(2025)), (Side.SHORT, Decimal(1975))])
async def test_a_refresh_takes_size_pnl_mark_and_the_positions_own_legs(
    store: Store, clock: SimulatedClock, side: Side, mark: Decimal
) -> None:
    rec, _ = reconciler(store, clock, Venue())
    pos = position(store, side=side)
    legs = [*noise(side), algo("t1", "tp", "2300", side=side), algo("s1", "sl", "1900", side=side)]
    rec.refresh(pos, replace(at_venue(side), size=Decimal("1.2")), legs)
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert (after.size, after.unrealized_pnl, after.mark_price) == (Decimal("1.2"), Decimal(30), mark)
    assert (after.tp_order_id, after.tp_price, after.sl_order_id, after.sl_price) == (
        "t1",
        Decimal(2300),
        "s1",
        Decimal(1900),
    )
    assert after.updated_at == NOW
    assert pos.mark_price == mark
    assert pos.sl_order_id == "s1"


async def test_a_refresh_without_legs_keeps_the_recorded_ones(store: Store, clock: SimulatedClock) -> None:
    rec, _ = reconciler(store, clock, Venue())
    pos = position(store)
    store.positions.update(pos.id or 0, sl_order_id="old", sl_price=Decimal(1950))
    rec.refresh(pos, at_venue(), noise())
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert (after.sl_order_id, after.sl_price) == ("old", Decimal(1950))


async def test_an_adopted_position_keeps_the_venues_open_time_and_legs(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    rec, _ = reconciler(store, clock, Venue())
    with caplog.at_level(logging.INFO):
        pos = rec.adopt(at_venue(), [*noise(), algo("s1", "sl", "1900"), algo("t1", "tp", "2300")])
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "position.adopted"]
    assert record.levelno == logging.WARNING
    assert record.position_id == pos.id
    assert (
        record.getMessage() == f"adopted ETHUSDT LONG 1.5 opened {OPENED.isoformat()} (unknown to the store)"
    )
    got = store.positions.get(pos.id or 0)
    assert got is not None
    assert got.adopted is True
    assert got.state is PositionState.OPEN
    assert got.opened_at == OPENED
    assert got.updated_at == NOW
    assert (got.size, got.entry_price, got.leverage, got.margin) == (
        Decimal("1.5"),
        Decimal(2000),
        20,
        Decimal(150),
    )
    assert (got.sl_order_id, got.sl_price, got.tp_order_id, got.tp_price) == (
        "s1",
        Decimal(1900),
        "t1",
        Decimal(2300),
    )
    bare = rec.adopt(at_venue(Side.SHORT), noise(Side.SHORT))
    assert (bare.sl_order_id, bare.sl_price, bare.tp_order_id, bare.tp_price) == (None, None, None, None)
    assert got.unrealized_pnl == Decimal(30)
    (event,) = [e for e in store.events.of_kind("position.open") if e.position_id == pos.id]
    assert event.level is EventLevel.WARNING
    assert event.data["actor"] == "monitor"
    assert event.message == "ETHUSDT LONG 1.5 @ 2000 adopted from the venue (unknown to the store)"


# ------------------------------------------------------------------------------- a close that ended


def close_order(store: Store, pos: Position, cid: str, state: OrderState) -> None:
    store.orders.insert(
        Order(
            client_order_id=cid,
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.CLOSE,
            size=Decimal(1),
            state=state,
            created_at=NOW,
            updated_at=NOW,
            position_id=pos.id,
        )
    )


async def test_a_closing_position_whose_closes_all_ended_unfilled_is_open_again(
    store: Store, clock: SimulatedClock
) -> None:
    rec, _ = reconciler(store, clock, Venue())
    pos = position(store)
    store.positions.update(pos.id or 0, state=PositionState.CLOSING)
    close_order(store, pos, "c1", OrderState.REJECTED)
    close_order(store, pos, "c2", OrderState.CANCELLED)
    again = rec.reopen_if_close_ended(pos)
    assert again is not None
    assert again.state is PositionState.OPEN
    event = store.events.of_kind("position.open")[0]
    assert event.level is EventLevel.WARNING
    assert event.message == "ETHUSDT LONG: close order c2 ended cancelled; the position is still open"
    assert event.data["actor"] == "monitor"


@pytest.mark.parametrize(
    "states",
    [[], [OrderState.REJECTED, OrderState.FILLED], [OrderState.CANCELLED, OrderState.SUBMITTED]],
)
async def test_a_closing_position_stays_closing_while_a_close_may_fill(
    store: Store, clock: SimulatedClock, states: list[OrderState]
) -> None:
    rec, _ = reconciler(store, clock, Venue())
    pos = position(store)
    store.positions.update(pos.id or 0, state=PositionState.CLOSING)
    for i, state in enumerate(states):
        close_order(store, pos, f"c{i}", state)
    same = rec.reopen_if_close_ended(pos)
    assert same is not None
    assert same.state is PositionState.CLOSING


async def test_an_open_position_is_returned_as_stored(store: Store, clock: SimulatedClock) -> None:
    rec, _ = reconciler(store, clock, Venue())
    pos = position(store)
    close_order(store, pos, "c1", OrderState.REJECTED)
    same = rec.reopen_if_close_ended(pos)
    assert same is not None
    assert same.state is PositionState.OPEN
    assert same.id == pos.id
    assert store.events.of_kind("position.open") == []


# ------------------------------------------------------------------------------ close_from_push, booked once


def pushed(kind: str, *, realized: str = "120", fee: str = "0.6", exit_price: str = "2080") -> PushedLegFill:
    return PushedLegFill(
        "leg-7", "ETHUSDT", Side.LONG, kind, Decimal("1.5"), Decimal(exit_price), Decimal(fee),  # type: ignore[arg-type]
        Decimal(realized), NOW - timedelta(minutes=2),
    )  # fmt: skip


async def test_a_pushed_take_profit_is_booked_from_the_push_alone(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, _ = tracker_on(store, clock)
    p = approved(store, clock, tracker)
    for state in (ProposalState.SUBMITTING, ProposalState.OPEN):
        transition(store, p.id or 0, state, actor="executor", reason="t", at=NOW)
    venue = Venue()
    rec, logs = reconciler(store, clock, venue)
    pos = position(store, proposal_id=p.id)
    store.positions.update(pos.id or 0, unrealized_pnl=Decimal(42))  # the last mark's: none once closed
    await clock.advance(90 * 60)  # held 4.5 h
    assert rec.close_from_push(pos, pushed("tp")) is CloseReason.TAKE_PROFIT
    assert venue.asked == []  # no history or fills read: the push says it all
    after = closed(store, pos)
    assert (after.close_reason, after.close_order_id, after.closed_at) == (
        CloseReason.TAKE_PROFIT,
        "leg-7",
        NOW - timedelta(minutes=2),
    )
    assert (after.exit_price, after.realized_pnl, after.unrealized_pnl) == (
        Decimal(2080),
        Decimal("119.4"),
        Decimal(0),
    )
    assert after.updated_at == clock.now()
    [event] = store.events.of_kind("position.closed")
    assert (event.at, event.level) == (clock.now(), EventLevel.INFO)
    assert event.message == "ETHUSDT LONG closed: take-profit, order leg-7, realised PnL 119.4 USDT"
    assert event.data == {
        "from": "open",
        "to": "closed",
        "actor": "monitor",
        "close_order_id": "leg-7",
        "reason": "take-profit",
        "source": "pushed fill, position gone at the venue",
    }
    current = store.proposals.get(p.id or 0)
    assert current is not None
    assert current.state is ProposalState.CLOSED
    assert logs.closes == [
        (
            "leg-7",
            {"symbol": "ETHUSDT", "side": "LONG", "entry_price": "2000"},
            {"reason": "take-profit", "exit_price": "2080", "realized_pnl_usdt": "119.4", "hours_held": 4.5},
            "LONG ETHUSDT closed by take-profit after 4.5 h; realised PnL 119.4 USDT",
        )
    ]


async def test_a_pushed_stop_loss_is_booked_a_stop_loss(store: Store, clock: SimulatedClock) -> None:
    rec, logs = reconciler(store, clock, Venue())
    pos = position(store)
    assert rec.close_from_push(pos, pushed("sl", realized="-30", fee="0.5", exit_price="1980")) is (
        CloseReason.STOP_LOSS
    )
    after = closed(store, pos)
    assert (after.close_reason, after.realized_pnl) == (CloseReason.STOP_LOSS, Decimal("-30.5"))
    assert store.events.of_kind("position.closed")[0].data["reason"] == "stop-loss"
    assert logs.closes[0][2]["reason"] == "stop-loss"


async def test_a_close_read_from_the_venue_says_so_and_needs_no_ai_log(
    store: Store, clock: SimulatedClock
) -> None:
    rec = PositionReconciler(store, clock, Venue(), None)  # type: ignore[arg-type]
    pos = position(store)
    assert await rec.close_out(pos) is CloseReason.UNKNOWN
    event = store.events.of_kind("position.closed")[0]
    assert event.message == "ETHUSDT LONG closed: unknown, order ?, realised PnL None USDT"
    assert event.data["source"] == "order history and fills"
    assert event.data["close_order_id"] is None
    assert closed(store, pos).closed_at == clock.now()


async def test_an_order_that_closed_another_position_since_this_one_opened_is_not_its_close(
    store: Store, clock: SimulatedClock
) -> None:
    venue = Venue(
        history=[
            venue_order("mine", at=NOW - timedelta(minutes=10), avg="2100"),
            venue_order("part", at=NOW - timedelta(minutes=5), avg="2050"),
        ],
        fill_list=[fill("mine", "150"), fill("part", "75", at=NOW - timedelta(minutes=5))],
    )
    rec, _ = reconciler(store, clock, venue)
    closed_by(store, "part", OPENED)  # a part of this side closed earlier, opened with it: booked there
    pos = position(store)
    await rec.close_out(pos)
    after = closed(store, pos)
    assert (after.close_order_id, after.exit_price, after.realized_pnl) == (
        "mine",
        Decimal(2100),
        Decimal("149.5"),
    )


async def test_an_order_booked_to_an_older_or_other_position_can_still_close_this_one(
    store: Store, clock: SimulatedClock
) -> None:
    venue = Venue(
        history=[
            venue_order("mine", at=NOW - timedelta(minutes=10), avg="2100"),
            venue_order("part", at=NOW - timedelta(minutes=5), avg="2050"),
        ],
        fill_list=[fill("mine", "150"), fill("part", "75", at=NOW - timedelta(minutes=5))],
    )
    rec, _ = reconciler(store, clock, venue)
    closed_by(store, "part", OPENED - timedelta(seconds=1))  # opened before this one
    closed_by(store, "part", OPENED, side=Side.SHORT)  # the other side
    closed_by(store, "part", OPENED, symbol="BTCUSDT")  # another symbol
    pos = position(store)
    await rec.close_out(pos)
    after = closed(store, pos)
    assert (after.close_order_id, after.exit_price, after.realized_pnl) == (
        "part",
        Decimal(2050),
        Decimal("74.5"),
    )

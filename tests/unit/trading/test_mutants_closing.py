"""Closing at market, value by value (README "No unprotected position": closed at market, its TP/SL
recorded cancelled only once WEEX confirms; "Never an order twice": a lost close answer is looked up;
"Nothing is left half-done": the realised PnL of a close; docs/benchmarks.md, mutation testing)."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, EventLevel, OrderState, PositionState, ProposalState, Side
from smt_engine.exchange.base import ExchangeUnavailable, InvalidOrder, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_engine.trading.order_desk import STATUS_TO_STATE
from tests.unit.trading.closing_support import (
    EXIT,
    algo,
    client_id,
    close_rows,
    fill,
    leg_rows,
    opened,
    trail,
    venue_position,
)
from tests.unit.trading.conftest import drive
from tests.unit.trading.scripted import OPENED_AT


async def test_legs_the_venue_confirmed_cancelled_are_recorded_so_before_the_close_fills(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, _, position = await opened(store, clock, close_rests=True)
    legs = leg_rows(store, position.id or 0)
    assert len(legs) == 2
    assert all(o.state is OrderState.SUBMITTED for o in legs)
    # A leg the venue lists with no row of ours: cancelled there, nothing to record here.
    venue.algos.append(algo("stranger", "ETHUSDT", Side.LONG))
    closing = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))
    assert closing.state is PositionState.CLOSING  # the close is not filled yet: nothing settled
    assert venue.algos == []
    for leg in legs:
        row = store.orders.get(leg.id or 0)
        assert row is not None
        assert row.state is OrderState.CANCELLED
        (event,) = [e for e in store.events.of_kind("order.cancelled") if e.order_id == leg.id]
        assert event.data["reason"] == "cancelled before the close at market"


async def test_a_close_at_market_stores_its_fill_its_net_pnl_and_closes_the_proposal(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, proposal, position = await opened(store, clock)
    pid = position.id or 0
    store.positions.update(pid, unrealized_pnl=Decimal("7"))
    legs = [a.order_id for a in venue.algos]
    other_symbol, other_side = (
        algo("btc-sl", "BTCUSDT", Side.LONG),
        algo("eth-short", "ETHUSDT", Side.SHORT),
    )
    venue.algos += [other_symbol, other_side]
    close_id = venue.next_id()
    venue.fill_rows = [
        fill(close_id, Side.LONG, "-0.75", "12.5"),
        fill(close_id, Side.LONG, "0.5", "3.25"),
        fill("another", Side.LONG, "0", "100"),
        fill(close_id, Side.SHORT, "0", "1000"),
    ]
    cid = client_id(store, proposal.id or 0, "close1")

    closed = await drive(
        clock,
        executor.closer.close_position(position, CloseReason.MANUAL, actor="alice", why="operator asked"),
    )

    now = clock.now()
    assert closed == store.positions.get(pid)
    assert closed.state is PositionState.CLOSED
    assert closed.close_reason is CloseReason.MANUAL
    assert (closed.close_order_id, closed.closed_at, closed.updated_at) == (close_id, now, now)
    assert closed.exit_price == EXIT
    assert closed.realized_pnl == Decimal("14.50")  # 12.5 - 0.75 + 3.25 - 0.5: this order, this side only
    assert closed.unrealized_pnl == Decimal(0)
    assert venue.sent == [
        ("open_algo_orders", ("ETHUSDT",)),
        *[("cancel_algo_order", ("ETHUSDT", leg)) for leg in legs],
        ("close_position", ("ETHUSDT", Side.LONG, cid)),
        ("order", ("ETHUSDT", close_id)),
        ("fills", ("ETHUSDT", position.opened_at)),
    ]
    assert venue.algos == [other_symbol, other_side]  # another symbol's and the other side's legs stay
    (row,) = close_rows(store, pid)
    assert (row.client_order_id, row.symbol, row.side, row.size) == (cid, "ETHUSDT", Side.LONG, position.size)
    assert (row.state, row.exchange_order_id, row.price, row.error) == (
        OrderState.FILLED,
        close_id,
        EXIT,
        None,
    )
    assert (row.proposal_id, row.position_id) == (proposal.id, pid)
    assert row.request == {"type": "MARKET", "reduce_only": True, "reason": "manual"}
    assert trail(store, row.id) == [
        ("order.submitted", "pending_submit", ""),
        ("order.filled", "submitted", ""),
    ]
    (event,) = store.events.of_kind("position.closed")
    assert (event.level, event.at, event.proposal_id, event.position_id) == (
        EventLevel.INFO,
        now,
        proposal.id,
        pid,
    )
    assert event.message == "ETHUSDT LONG closed at market by alice (manual): operator asked"
    assert event.data == {
        "from": "open", "to": "closed", "actor": "alice", "close_order_id": close_id, "reason": "manual"
    }  # fmt: skip
    after = store.proposals.get(proposal.id or 0)
    assert after is not None
    assert after.state is ProposalState.CLOSED
    (moved,) = store.events.of_kind("proposal.closed")
    assert (moved.data["actor"], moved.data["reason"], moved.at) == ("alice", "manual", now)
    (ailog,) = [r for r in store.ailogs.recent() if r.stage == "Position Closed"]
    assert ailog.order_id == close_id
    assert ailog.input == {
        "symbol": "ETHUSDT",
        "side": "LONG",
        "size": str(position.size),
        "entry_price": "2000",
    }
    assert ailog.output == {"reason": "manual", "close_order_id": close_id, "exit_price": "2100"}
    assert ailog.explanation == "ETHUSDT LONG closed (manual). operator asked"


async def test_an_adopted_position_closes_under_its_own_id_with_no_proposal_to_move(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, proposal, _ = await opened(store, clock)
    adopted = store.positions.insert(
        Position(
            symbol="SOLUSDT", side=Side.SHORT, size=Decimal("3"), entry_price=Decimal(150),
            opened_at=OPENED_AT, state=PositionState.OPEN, leverage=20, updated_at=OPENED_AT, adopted=True,
        )
    )  # fmt: skip
    venue.positions_[("SOLUSDT", Side.SHORT)] = replace(
        venue_position("SOLUSDT", Side.SHORT), size=Decimal(3)
    )
    assert adopted.id is not None
    assert adopted.id != proposal.id
    close_id = venue.next_id()

    closed = await drive(clock, executor.closer.close_position(adopted, CloseReason.FORCED, actor="monitor"))

    cid = client_id(store, adopted.id, "pclose1")
    assert venue.sent[1] == ("close_position", ("SOLUSDT", Side.SHORT, cid))
    (row,) = close_rows(store, adopted.id)
    assert (row.client_order_id, row.proposal_id, row.state) == (cid, None, OrderState.FILLED)
    assert closed.state is PositionState.CLOSED
    assert closed.close_order_id == close_id
    assert closed.realized_pnl is None  # no fill of this order readable
    (event,) = store.events.of_kind("position.closed")
    assert (event.level, event.proposal_id) == (EventLevel.INFO, None)
    assert event.message == "SOLUSDT SHORT closed at market by monitor (forced)"
    after = store.proposals.get(proposal.id or 0)
    assert after is not None
    assert after.state is ProposalState.OPEN
    (ailog,) = [r for r in store.ailogs.recent() if r.stage == "Position Closed"]
    assert ailog.explanation == "SOLUSDT SHORT closed (forced)."


async def test_a_refused_close_keeps_the_position_open_and_each_retry_is_a_new_order(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, proposal, position = await opened(store, clock)
    pid = position.id or 0
    venue.close_error = InvalidOrder("reduce-only close refused", code="40762")
    why = "stop could not be re-placed"

    first = await drive(
        clock, executor.closer.close_position(position, CloseReason.UNPROTECTED, actor="x", why=why)
    )
    venue.close_error = InvalidOrder("still refused")
    second = await drive(clock, executor.closer.close_position(first, CloseReason.UNPROTECTED, actor="x"))

    assert first.state is PositionState.OPEN
    assert second == store.positions.get(pid)
    assert second.state is PositionState.OPEN
    failed = [e for e in reversed(store.events.of_kind("position.close_failed"))]
    assert [(e.level, e.proposal_id, e.position_id) for e in failed] == [
        (EventLevel.CRITICAL, proposal.id, pid)
    ] * 2
    assert [e.message for e in failed] == [
        "ETHUSDT LONG: could not close (unprotected): stop could not be re-placed; "
        "close failed: InvalidOrder: reduce-only close refused",
        "ETHUSDT LONG: could not close (unprotected): close failed: InvalidOrder: still refused",
    ]
    rows = close_rows(store, pid)
    assert [(o.client_order_id, o.state, o.exchange_order_id) for o in rows] == [
        (client_id(store, proposal.id or 0, "close1"), OrderState.REJECTED, None),
        (client_id(store, proposal.id or 0, "close2"), OrderState.REJECTED, None),
    ]
    assert [o.error for o in rows] == [
        "InvalidOrder: reduce-only close refused",
        "InvalidOrder: still refused",
    ]
    assert trail(store, rows[0].id) == [
        ("order.rejected", "pending_submit", "InvalidOrder: reduce-only close refused")
    ]
    assert "order" not in [name for name, _ in venue.sent]  # nothing to read back, no fills asked

    venue.close_error = None
    closed = await drive(clock, executor.closer.close_position(second, CloseReason.UNPROTECTED, actor="x"))
    assert closed.state is PositionState.CLOSED
    assert venue.sent[-3] == (
        "close_position",
        ("ETHUSDT", Side.LONG, client_id(store, proposal.id or 0, "close3")),
    )
    (event,) = store.events.of_kind("position.closed")
    assert event.level is EventLevel.CRITICAL  # an unprotected position closed is the operator's to see
    assert event.message == "ETHUSDT LONG closed at market by x (unprotected)"


async def test_a_lost_close_answer_is_looked_up_never_sent_twice(store: Store, clock: SimulatedClock) -> None:
    executor, venue, proposal, position = await opened(store, clock, lose_close_answer=True)
    pid = position.id or 0
    close_id = venue.next_id()
    cid = client_id(store, proposal.id or 0, "close1")

    closed = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))

    assert [s for s in venue.sent if s[0] in ("close_position", "find_order", "order")] == [
        ("close_position", ("ETHUSDT", Side.LONG, cid)),
        ("find_order", ("ETHUSDT", cid)),
        ("order", ("ETHUSDT", close_id)),
    ]
    assert closed.state is PositionState.CLOSED
    assert closed.close_order_id == close_id
    (row,) = close_rows(store, pid)
    lost = "AmbiguousOutcome: connection dropped after send"
    assert (row.state, row.exchange_order_id, row.price, row.error) == (
        OrderState.FILLED,
        close_id,
        EXIT,
        lost,
    )
    assert trail(store, row.id) == [
        ("order.unknown", "pending_submit", lost),
        ("order.filled", "unknown", ""),
    ]


async def test_a_found_close_is_recorded_even_when_it_cannot_be_read_back(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    executor, venue, _, position = await opened(
        store, clock, lose_close_answer=True, close_rests=True, unreadable=True
    )
    pid = position.id or 0
    close_id = venue.next_id()
    caplog.set_level(logging.INFO, logger="smt_engine.trading.closing")

    closing = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))

    assert closing.state is PositionState.CLOSING
    assert closing.close_order_id is None
    (row,) = close_rows(store, pid)
    assert (row.state, row.exchange_order_id) == (OrderState.SUBMITTED, close_id)
    assert [r.getMessage() for r in caplog.records if r.name == "smt_engine.trading.closing"] == [
        f"ETHUSDT: close order {close_id} not readable yet: ExchangeUnavailable: upstream 502"
    ]


async def test_a_close_that_cannot_be_read_back_keeps_its_venue_id_for_the_monitor(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, _, position = await opened(store, clock, unreadable=True)
    pid = position.id or 0
    close_id = venue.next_id()

    closing = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))

    assert closing.state is PositionState.CLOSING
    (row,) = close_rows(store, pid)
    assert (row.state, row.exchange_order_id, row.price) == (OrderState.SUBMITTED, close_id, None)
    (event,) = store.events.of_kind("position.closing")
    assert event.data["close_order_id"] == close_id


async def test_a_close_the_venue_never_saw_leaves_the_position_open_and_says_so(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, proposal, position = await opened(store, clock, close_never_seen=True)
    pid = position.id or 0
    cid = client_id(store, proposal.id or 0, "close1")

    after = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))

    assert after.state is PositionState.OPEN
    assert [s for s in venue.sent if s[0] == "find_order"] == [("find_order", ("ETHUSDT", cid))] * 3
    (row,) = close_rows(store, pid)
    assert (row.state, row.exchange_order_id, row.error) == (
        OrderState.UNKNOWN, None, "AmbiguousOutcome: connection reset"
    )  # fmt: skip
    (event,) = store.events.of_kind("position.close_failed")
    assert (event.level, event.proposal_id, event.position_id) == (EventLevel.CRITICAL, proposal.id, pid)
    assert event.message == "ETHUSDT LONG: could not close (manual): no order at the venue"


async def test_a_resting_close_marks_the_position_closing_once_and_books_no_result(
    store: Store, clock: SimulatedClock
) -> None:
    executor, venue, proposal, position = await opened(store, clock, close_rests=True)
    pid = position.id or 0
    first_id = venue.next_id()

    closing = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))
    now = clock.now()
    again = await drive(clock, executor.closer.close_position(closing, CloseReason.MANUAL, actor="monitor"))

    assert closing.state is PositionState.CLOSING
    assert (closing.updated_at, closing.realized_pnl) == (
        now,
        None,
    )
    assert again.state is PositionState.CLOSING
    assert again == store.positions.get(pid)
    (event,) = store.events.of_kind("position.closing")  # the retry finds it closing: no second move
    assert (event.level, event.at, event.position_id) == (EventLevel.INFO, now, pid)
    assert event.message == f"ETHUSDT LONG: close order {first_id} sent by alice (manual)"
    assert event.data == {
        "from": "open", "to": "closing", "actor": "alice", "close_order_id": first_id, "reason": "manual"
    }  # fmt: skip
    rows = close_rows(store, pid)
    assert [(o.state, o.exchange_order_id) for o in rows] == [
        (OrderState.SUBMITTED, first_id),
        (OrderState.SUBMITTED, str(int(first_id) + 1)),
    ]
    assert "fills" not in [name for name, _ in venue.sent]
    assert store.events.of_kind("position.closed") == []
    current = store.proposals.get(proposal.id or 0)
    assert current is not None
    assert current.state is ProposalState.OPEN
    assert [r for r in store.ailogs.recent() if r.stage == "Position Closed"] == []


async def test_legs_whose_cancel_failed_stay_live_in_the_books_and_the_close_still_goes_out(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    executor, venue, _, position = await opened(store, clock)
    pid = position.id or 0
    tp, sl = sorted(leg_rows(store, pid), key=lambda o: o.id or 0)
    venue.cancel_error[sl.exchange_order_id or ""] = ExchangeUnavailable("upstream 502")
    caplog.set_level(logging.INFO, logger="smt_engine.trading.closing")

    closed = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))

    assert closed.state is PositionState.CLOSED
    states = {o.id: o.state for o in leg_rows(store, pid)}
    assert states == {tp.id: OrderState.CANCELLED, sl.id: OrderState.SUBMITTED}  # unconfirmed: not booked
    assert [r.getMessage() for r in caplog.records if r.name == "smt_engine.trading.closing"] == [
        "ETHUSDT: cancelling TP/SL before close failed: ExchangeUnavailable: upstream 502"
    ]
    assert [r.levelno for r in caplog.records if r.name == "smt_engine.trading.closing"] == [logging.WARNING]


async def test_a_close_goes_out_even_when_the_legs_cannot_be_listed(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, _, position = await opened(store, clock, algos_error=ExchangeUnavailable("down"))
    closed = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))
    assert closed.state is PositionState.CLOSED
    assert [o.state for o in leg_rows(store, position.id or 0)] == [OrderState.SUBMITTED] * 2


async def test_unreadable_fills_leave_the_realised_pnl_unknown_not_zero(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, _, position = await opened(store, clock, fills_error=ExchangeUnavailable("down"))
    closed = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))
    assert closed.state is PositionState.CLOSED
    assert closed.realized_pnl is None


async def test_a_proposal_already_closed_is_left_as_it_is_when_its_position_closes(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal, position = await opened(store, clock)
    store.proposals.update(proposal.id or 0, state=ProposalState.CLOSED)
    closed = await drive(clock, executor.closer.close_position(position, CloseReason.MANUAL, actor="alice"))
    assert closed.state is PositionState.CLOSED
    assert store.events.of_kind("proposal.closed") == []


def test_every_venue_status_has_a_state_in_the_books() -> None:
    """A close read back always maps to a state of ours: the SUBMITTED default is never used."""
    assert set(STATUS_TO_STATE) == set(OrderStatus)

"""The in-flight tracker's proposals, value by value (README "Nothing is left half-done";
docs/benchmarks.md, mutation testing): every proposal left in flight is finished from its entry order
(failed, linked to the adopted position with its TP restored, or rebuilt when the position is gone).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, OrderKind, OrderState, PositionState, ProposalState, Side
from smt_engine.exchange.base import OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Order, Proposal
from smt_engine.trading.execution import Executor
from smt_engine.trading.inflight import InFlightTracker
from smt_engine.trading.proposals import transition
from tests.unit.trading.conftest import NOW, eth_position
from tests.unit.trading.inflight_support import (
    WINDOW,
    an_order,
    approved,
    at_venue,
    tracker_on,
)

# ------------------------------------------------------------------------------------------- proposals


def submitting(store: Store, clock: SimulatedClock, tracker: InFlightTracker) -> Proposal:
    p = approved(store, clock, tracker)
    return transition(store, p.id or 0, ProposalState.SUBMITTING, actor="executor", reason="t", at=NOW)


def proposal_state(store: Store, p: Proposal) -> ProposalState:
    current = store.proposals.get(p.id or 0)
    assert current is not None
    return current.state


def proposal_reason(store: Store, p: Proposal) -> str:
    events = [e for e in store.events.recent(200) if e.proposal_id == p.id and e.kind.startswith("proposal.")]
    return str(events[0].data.get("reason"))


async def test_an_approved_proposal_never_sent_fails_unless_the_executor_holds_it(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, executor = tracker_on(store, clock)
    p = approved(store, clock, tracker)
    executor.claimed.add(p.id or 0)
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == []
    assert proposal_state(store, p) is ProposalState.APPROVED
    executor.claimed.clear()
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [p.id]
    assert report.linked == []
    assert proposal_state(store, p) is ProposalState.FAILED
    assert proposal_reason(store, p) == "approved but never sent: the engine stopped before sending it"
    assert store.events.of_kind("proposal.failed")[0].data["actor"] == "reconciler"


async def test_a_proposal_the_executor_holds_does_not_stop_the_next_from_being_finished(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, executor = tracker_on(store, clock)
    held = approved(store, clock, tracker)
    stale = store.proposals.insert(replace(held, id=None, cycle_id="c2"))
    executor.claimed.add(held.id or 0)
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [stale.id]
    assert proposal_state(store, held) is ProposalState.APPROVED
    assert proposal_state(store, stale) is ProposalState.FAILED


async def test_a_submitting_proposal_without_an_entry_row_fails(store: Store, clock: SimulatedClock) -> None:
    tracker, _, _ = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [p.id]
    assert proposal_state(store, p) is ProposalState.FAILED
    assert proposal_reason(store, p) == "the engine stopped before the entry was written: nothing was sent"


@pytest.mark.parametrize("state", [OrderState.CANCELLED, OrderState.REJECTED])
async def test_a_proposal_whose_entry_ended_unfilled_fails_naming_it(
    store: Store, clock: SimulatedClock, state: OrderState
) -> None:
    tracker, _, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    cid = executor.desk.entry_cid(p.id or 0)
    entry = an_order(store, cid=cid, proposal_id=p.id)
    store.orders.update(entry.id or 0, state=state, error="margin" if state is OrderState.REJECTED else None)
    await tracker.resolve(set(), set())
    assert proposal_state(store, p) is ProposalState.FAILED
    detail = "margin" if state is OrderState.REJECTED else "see its events"
    assert proposal_reason(store, p) == f"entry {cid} {state.value}: {detail}"


async def test_a_proposal_whose_entry_is_still_open_waits(store: Store, clock: SimulatedClock) -> None:
    tracker, _ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    cid = executor.desk.entry_cid(p.id or 0)
    an_order(store, cid=cid, proposal_id=p.id, exchange_id="5")
    report = await tracker.resolve({"5"}, set())
    assert report.proposals_resolved == []
    assert proposal_state(store, p) is ProposalState.SUBMITTING


def filled_entry(store: Store, executor: Executor, p: Proposal, age: timedelta) -> Order:
    entry = an_order(
        store, cid=executor.desk.entry_cid(p.id or 0), proposal_id=p.id, age=age, exchange_id="9001"
    )
    store.orders.update(entry.id or 0, state=OrderState.FILLED)
    got = store.orders.get(entry.id or 0)
    assert got is not None
    return got


async def test_a_filled_entry_is_linked_to_the_adopted_position_and_its_tp_restored(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    tracker, ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, timedelta(seconds=1))
    pos = store.positions.insert(
        eth_position(
            adopted=True,
            sl_price=Decimal(1900),
        )
    )
    await clock.advance(5)
    with caplog.at_level(logging.INFO):
        report = await tracker.resolve(set(), {("ETHUSDT", Side.LONG)})
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "position.linked"]
    assert store.events.of_kind("proposal.open")[0].data["actor"] == "reconciler"
    assert record.getMessage() == f"proposal #{p.id}: position #{pos.id} linked after restart"
    assert (record.proposal_id, record.position_id) == (p.id, pos.id)  # type: ignore[attr-defined]
    assert report.linked == [p.id]
    assert report.proposals_resolved == [p.id]
    assert proposal_state(store, p) is ProposalState.OPEN
    assert proposal_reason(store, p) == f"entry {entry.client_order_id} filled; position #{pos.id} linked"
    linked = store.positions.get(pos.id or 0)
    assert linked is not None
    assert linked.proposal_id == p.id
    assert linked.adopted is False
    assert linked.sl_price == Decimal(1900)  # the venue's stop stays
    assert linked.tp_price == p.tp_price
    tp = [a for c, a in ex.calls if c == "place_tp_sl"]
    assert tp == [("ETHUSDT", Side.LONG, "tp", p.tp_price, Decimal("1.5"))]
    assert linked.tp_order_id == ex.algos[0].order_id
    tp_row = [o for o in store.orders.for_position(pos.id or 0) if o.kind is OrderKind.TP]
    assert len(tp_row) == 1
    assert tp_row[0].client_order_id.endswith("tp3")
    assert tp_row[0].request == {"reason": "restored after restart"}
    after_entry = store.orders.get(entry.id or 0)
    assert after_entry is not None
    assert after_entry.position_id == pos.id
    assert after_entry.updated_at == NOW + timedelta(seconds=5)


async def test_a_linked_position_that_has_its_tp_gets_no_second_one(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    filled_entry(store, executor, p, timedelta(seconds=1))
    pos = store.positions.insert(
        eth_position(
            adopted=True,
            tp_price=Decimal(2300),
            tp_order_id="t1",
        )
    )
    await clock.advance(5)
    await tracker.resolve(set(), {("ETHUSDT", Side.LONG)})
    linked = store.positions.get(pos.id or 0)
    assert linked is not None
    assert linked.tp_price == Decimal(2300)
    assert linked.tp_order_id == "t1"
    assert linked.sl_price == p.sl_price
    assert linked.updated_at == NOW + timedelta(seconds=5)
    assert ex.count("place_tp_sl") == 0


async def test_a_filled_entry_without_its_position_waits_the_window_then_is_rebuilt(
    store: Store, clock: SimulatedClock
) -> None:
    """Another proposal's position is not this one's; within the window the position may not be listed
    yet; after it, a position the monitor adopted and closed meanwhile is linked, not doubled."""
    tracker, ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, WINDOW - timedelta(seconds=1))
    other = store.proposals.insert(replace(p, id=None, state=ProposalState.OPEN))
    store.positions.insert(
        eth_position(
            proposal_id=other.id,
        )
    )
    adopted = store.positions.insert(
        eth_position(
            opened_at=entry.created_at,
            state=PositionState.CLOSED,
            adopted=True,
        )
    )
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == []
    assert proposal_state(store, p) is ProposalState.SUBMITTING
    await clock.advance(1)
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [p.id]
    assert report.linked == []
    assert proposal_state(store, p) is ProposalState.CLOSED
    assert proposal_reason(store, p) == f"position #{adopted.id} closed at the venue"
    again = store.positions.get(adopted.id or 0)
    assert again is not None
    assert again.proposal_id == p.id
    assert again.adopted is False
    after_entry = store.orders.get(entry.id or 0)
    assert after_entry is not None
    assert after_entry.position_id == adopted.id
    assert ex.count("find_order") == 0


async def test_an_adopted_position_opened_before_the_entry_is_not_taken_for_it(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, WINDOW)
    older = store.positions.insert(
        eth_position(
            opened_at=entry.created_at - timedelta(seconds=1),
            state=PositionState.CLOSED,
            adopted=True,
        )
    )
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == []  # the venue shows no closing order: asked again next tick
    assert proposal_state(store, p) is ProposalState.SUBMITTING
    kept = store.positions.get(older.id or 0)
    assert kept is not None
    assert kept.proposal_id is None


async def test_of_two_adopted_positions_after_the_entry_the_first_opened_is_the_entrys(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, WINDOW)
    later, first = (
        store.positions.insert(
            eth_position(
                opened_at=entry.created_at + timedelta(seconds=offset),
                state=PositionState.CLOSED,
                adopted=True,
            )
        )
        for offset in (20, 10)  # the later one is written first
    )
    await tracker.resolve(set(), set())
    linked = store.positions.get(first.id or 0)
    untouched = store.positions.get(later.id or 0)
    assert linked is not None
    assert linked.proposal_id == p.id
    assert untouched is not None
    assert untouched.proposal_id is None
    assert untouched.adopted is True


async def test_a_filled_entry_whose_position_is_gone_is_rebuilt_from_the_venue(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, WINDOW)
    ex.orders[entry.client_order_id] = at_venue(entry.client_order_id, OrderStatus.FILLED, oid="9001")
    stop = at_venue("venue-sl", OrderStatus.FILLED, oid="9002", kind="sl")
    ex.orders["venue-sl"] = replace(stop, reduce_only=True, updated_at=NOW - timedelta(minutes=1))
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [p.id]
    assert report.linked == []
    assert proposal_state(store, p) is ProposalState.CLOSED
    (pos,) = store.positions.recent_closed()
    assert pos.proposal_id == p.id
    assert pos.close_reason is CloseReason.STOP_LOSS
    assert (pos.size, pos.entry_price) == (Decimal("1.5"), Decimal(2000))
    opened = [e for e in store.events.of_kind("position.open") if e.position_id == pos.id]
    assert opened[0].data["actor"] == "reconciler"
    after_entry = store.orders.get(entry.id or 0)
    assert after_entry is not None
    assert after_entry.position_id == pos.id


async def test_a_filled_entry_whose_position_is_gone_waits_while_no_close_is_shown(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, WINDOW)
    ex.orders[entry.client_order_id] = at_venue(entry.client_order_id, OrderStatus.FILLED, oid="9001")
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == []
    assert proposal_state(store, p) is ProposalState.SUBMITTING
    after_entry = store.orders.get(entry.id or 0)
    assert after_entry is not None
    assert after_entry.position_id is None


async def test_an_entry_already_tied_to_a_position_keeps_it_when_linked(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, timedelta(seconds=1))
    earlier = store.positions.insert(
        eth_position(
            side=Side.SHORT,
            state=PositionState.CLOSED,
        )
    )
    store.orders.update(entry.id or 0, position_id=earlier.id)
    store.positions.insert(
        eth_position(
            adopted=True,
        )
    )
    report = await tracker.resolve(set(), {("ETHUSDT", Side.LONG)})
    assert report.linked == [p.id]
    after_entry = store.orders.get(entry.id or 0)
    assert after_entry is not None
    assert after_entry.position_id == earlier.id


async def test_an_entry_gone_with_no_closing_order_is_booked_unknown_from_twice_the_window(
    store: Store, clock: SimulatedClock
) -> None:
    """No order of its own closed it (an auto-deleverage): a second short of twice the order-visibility
    window it waits; at twice the window exactly it is rebuilt and booked closed, reason unknown."""
    tracker, ex, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, 2 * WINDOW - timedelta(seconds=1))
    ex.orders[entry.client_order_id] = at_venue(entry.client_order_id, OrderStatus.FILLED, oid="9001")
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == []
    assert proposal_state(store, p) is ProposalState.SUBMITTING
    assert store.positions.recent_closed() == []
    await clock.advance(1)
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [p.id]
    assert proposal_state(store, p) is ProposalState.CLOSED
    (pos,) = store.positions.recent_closed()
    assert pos.proposal_id == p.id
    assert pos.close_reason is CloseReason.UNKNOWN
    assert (pos.size, pos.entry_price) == (Decimal("1.5"), Decimal(2000))


async def test_linking_an_adopted_round_trip_stamps_the_position_the_entry_and_the_proposal_now(
    store: Store, clock: SimulatedClock
) -> None:
    """The adopted position, the entry row and the proposal's two steps carry the time of the link and
    the reconciler's name, not the adoption's."""
    tracker, _, executor = tracker_on(store, clock)
    p = submitting(store, clock, tracker)
    entry = filled_entry(store, executor, p, WINDOW)
    adopted = store.positions.insert(
        eth_position(
            opened_at=entry.created_at,
            state=PositionState.CLOSED,
            updated_at=entry.created_at,
            adopted=True,
        )
    )
    await clock.advance(5)
    report = await tracker.resolve(set(), set())
    assert report.proposals_resolved == [p.id]
    linked = store.positions.get(adopted.id or 0)
    assert linked is not None
    assert linked.proposal_id == p.id
    assert linked.updated_at == clock.now()
    after_entry = store.orders.get(entry.id or 0)
    assert after_entry is not None
    assert after_entry.position_id == adopted.id
    assert after_entry.updated_at == clock.now()
    steps = [
        (e.data["to"], e.data["actor"], e.at)
        for e in store.events.recent(200)
        if e.proposal_id == p.id and e.kind in ("proposal.open", "proposal.closed")
    ]
    assert sorted(steps) == [("closed", "reconciler", clock.now()), ("open", "reconciler", clock.now())]

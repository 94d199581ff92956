"""Venue truth wins (issue 21): over HTTP against the fake WEEX with the real client.

An order the venue reports open is recorded cancelled only after a cancel the venue confirmed; an
entry whose position opened and closed before any look saw it is rebuilt from the fills; the stop
guard acts only on positions the venue reports.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from smt_engine.domain import (
    CloseReason,
    EngineState,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.exchange.base import OrderRequest, OrderStatus
from tests.integration.venue_bench import ETH, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported


def _order_state(bench: Bench, exchange_id: str) -> OrderState:
    order = bench.store.orders.by_exchange_id(exchange_id)
    assert order is not None
    return order.state


async def _stop_out_after_a_kill(bench: Bench) -> tuple[int, str]:
    """An open long whose stop fires while the engine is away; the kill had landed before the position
    row learned its TP's id, so no listing a restarted client reads shows the live TP (WEEX lists an
    attached take-profit on no open-order endpoint)."""
    pid, tp_id, _ = await open_long(bench)
    bench.store.positions.update(pid, tp_order_id=None)
    await bench.client.aclose()
    bench.fake.set_price(ETH, Decimal("2940"), low=Decimal("2930"))  # through the stop at 2955
    bench.restart()
    await bench.clock.advance(1)
    return pid, tp_id


async def test_a_take_profit_the_venue_still_reports_open_is_cancelled_there_before_the_books_say_so(
    bench: Bench,
) -> None:
    pid, tp_id = await _stop_out_after_a_kill(bench)
    assert bench.venue_status(tp_id) is OrderStatus.UNTRIGGERED  # WEEX leaves the sibling resting
    report = await bench.run(bench.monitor.tick())
    assert report.ok
    assert report.closed == [(pid, CloseReason.STOP_LOSS)]
    assert bench.venue_status(tp_id) is OrderStatus.CANCELLED
    assert _order_state(bench, tp_id) is OrderState.CANCELLED
    events = [e for e in bench.store.events.recent(50) if e.kind == "order.cancelled"]
    assert any("the venue confirmed" in e.data["reason"] for e in events)


async def test_an_unconfirmed_cancel_leaves_the_order_open_in_the_books_until_the_venue_confirms(
    bench: Bench,
) -> None:
    pid, tp_id = await _stop_out_after_a_kill(bench)
    bench.fake.faults.paths = {"/capi/v3/algoOrder"}
    bench.fake.faults.next_5xx = 10
    report = await bench.run(bench.monitor.tick())
    assert report.closed == [(pid, CloseReason.STOP_LOSS)]
    assert bench.venue_status(tp_id) is OrderStatus.UNTRIGGERED
    assert _order_state(bench, tp_id) is OrderState.SUBMITTED  # live at the venue: never "cancelled"
    assert bench.store.orders.by_exchange_id(tp_id).id in report.inflight.unresolved  # type: ignore[union-attr]
    bench.fake.faults.next_5xx = 0
    await bench.clock.advance(1)
    await bench.run(bench.monitor.tick())
    assert bench.venue_status(tp_id) is OrderStatus.CANCELLED
    assert _order_state(bench, tp_id) is OrderState.CANCELLED


async def test_a_leg_the_venue_reports_open_for_a_held_position_is_left_resting(bench: Bench) -> None:
    pid, tp_id, sl_id = await open_long(bench)
    bench.store.positions.update(pid, tp_order_id=None)
    bench.restart()
    await bench.clock.advance(10)  # well past the visibility window
    await bench.run(bench.monitor.tick())
    assert bench.venue_status(tp_id) is OrderStatus.UNTRIGGERED
    assert _order_state(bench, tp_id) is OrderState.SUBMITTED
    assert _order_state(bench, sl_id) is OrderState.SUBMITTED


async def test_an_entry_filled_and_closed_inside_the_fill_timeout_is_recorded_with_its_pnl(
    bench: Bench,
) -> None:
    async def take_profit_at_once() -> None:
        # The move comes strictly after the fill, on the clock the test drives: the entry filled at the
        # venue's now, and a tick at that very instant precedes the venue's cursor (no timing luck).
        await bench.clock.advance(0.1)
        bench.fake.set_price(ETH, Decimal("3100"), high=Decimal("3110"))  # through the TP at 3090
        await bench.clock.advance(0.1)

    bench.client.after_entry = take_profit_at_once
    proposal = await bench.approved()
    result = await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    pos = result.position
    assert pos is not None
    assert pos.state is PositionState.CLOSED
    assert pos.proposal_id == proposal.id
    assert pos.close_reason is CloseReason.TAKE_PROFIT
    fills = await bench.client.fills(ETH)
    entry_fill = next(f for f in fills if f.order_id == result.entry_order.exchange_order_id)  # type: ignore[union-attr]
    exit_fills = [f for f in fills if f.realized_pnl]
    assert pos.size == entry_fill.size
    assert pos.entry_price == entry_fill.price
    assert pos.realized_pnl == sum((f.realized_pnl - abs(f.fee) for f in exit_fills), Decimal(0))
    assert pos.realized_pnl is not None
    assert pos.realized_pnl > 0
    final = bench.store.proposals.get(proposal.id or 0)
    assert final is not None
    assert final.state is ProposalState.CLOSED
    entry = bench.store.orders.by_client_id(bench.executor.desk.entry_cid(proposal.id or 0))
    assert entry is not None
    assert entry.state is OrderState.FILLED
    assert entry.position_id == pos.id
    assert bench.store.positions.recent_closed() == [pos]


async def test_a_round_trip_unreadable_at_the_fill_timeout_is_rebuilt_once_the_venue_answers(
    bench: Bench,
) -> None:
    """The entry fills and its take-profit closes it inside the fill timeout, and the order history
    answers 503 when the executor looks: the proposal is left for reconciliation, never failed (a failed
    proposal is never looked at again), and the next ticks rebuild the trade from the fills."""

    async def take_profit_then_history_down() -> None:
        await bench.clock.advance(0.1)
        bench.fake.set_price(ETH, Decimal("3100"), high=Decimal("3110"))  # through the TP at 3090
        await bench.clock.advance(0.1)
        bench.fake.faults.paths = {"/capi/v3/order/history"}
        bench.fake.faults.next_5xx = 1000

    bench.client.after_entry = take_profit_then_history_down
    proposal = await bench.approved()
    assert proposal.id is not None
    result = await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "pending", result.detail
    assert bench.store.proposals.get(proposal.id).state is ProposalState.SUBMITTING  # type: ignore[union-attr]
    bench.fake.faults.next_5xx = 0
    for _ in range(3):
        await bench.clock.advance(bench.settings.trading.order_visibility.total_seconds())
        await bench.run(bench.monitor.tick())
    (closed,) = bench.store.positions.recent_closed()
    assert closed.proposal_id == proposal.id
    assert closed.close_reason is CloseReason.TAKE_PROFIT
    assert closed.realized_pnl is not None
    assert closed.realized_pnl > 0
    final = bench.store.proposals.get(proposal.id)
    assert final is not None
    assert final.state is ProposalState.CLOSED


async def test_a_fill_closed_by_the_venue_with_no_order_of_its_own_is_booked_not_left_as_exposure(
    bench: Bench,
) -> None:
    """The entry fills and the venue takes the position away with no closing order (an auto-deleverage)
    while the order history cannot be read: once a listing's wait and as long again have passed, the
    trade is rebuilt and booked closed (reason unknown), so its proposal stops counting as exposure."""

    async def position_taken_then_history_down() -> None:
        await bench.clock.advance(0.1)
        acct = bench.fake.venue._acct
        acct.positions.clear()  # gone at the venue, no order of ours closed it
        bench.fake.faults.paths = {"/capi/v3/order/history"}
        bench.fake.faults.next_5xx = 1000

    bench.client.after_entry = position_taken_then_history_down
    proposal = await bench.approved()
    assert proposal.id is not None
    result = await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "pending", result.detail
    bench.fake.faults.next_5xx = 0
    window = bench.settings.trading.order_visibility.total_seconds()
    await bench.clock.advance(window)
    await bench.run(bench.monitor.tick())
    waiting = bench.store.proposals.get(proposal.id)
    assert waiting is not None, "one wait is a listing's"
    assert waiting.state is ProposalState.SUBMITTING, "one wait is a listing's"
    for _ in range(3):
        await bench.clock.advance(window)
        await bench.run(bench.monitor.tick())
    (closed,) = bench.store.positions.recent_closed()
    assert closed.proposal_id == proposal.id
    assert closed.close_reason is CloseReason.UNKNOWN
    final = bench.store.proposals.get(proposal.id)
    assert final is not None
    assert final.state is ProposalState.CLOSED


async def test_an_entry_that_filled_and_closed_while_the_engine_was_away_is_rebuilt_on_restart(
    bench: Bench,
) -> None:
    proposal = await bench.approved()
    assert proposal.id is not None

    async def killed() -> None:
        raise asyncio.CancelledError  # the engine dies right after the venue accepted the entry

    bench.client.after_entry = killed
    with pytest.raises(asyncio.CancelledError):
        await bench.run(bench.executor.execute(proposal, EngineState.RUNNING))
    # Time passes while the engine is away, on the clock the test drives (not by how long the requests
    # above took): the stop-out comes strictly after the entry's fill.
    await bench.clock.advance(1)
    bench.fake.set_price(ETH, Decimal("2940"), low=Decimal("2930"))  # stopped out while away
    bench.restart()
    await bench.clock.advance(10)
    # The first look learns the entry filled; its position may just not be listed yet, so the proposal
    # waits out the venue's visibility window (measured from that look, on the clock the test drives).
    first = await asyncio.wait_for(bench.monitor.tick(), 30)
    entry = bench.store.orders.by_client_id(bench.executor.desk.entry_cid(proposal.id))
    assert entry is not None
    assert entry.state is OrderState.FILLED
    assert first.inflight.proposals_resolved == []
    assert bench.store.positions.recent_closed() == []
    await bench.clock.advance(bench.settings.trading.order_visibility.total_seconds())
    report = await asyncio.wait_for(bench.monitor.tick(), 30)
    assert report.inflight.proposals_resolved == [proposal.id]
    closed = bench.store.positions.recent_closed()
    assert len(closed) == 1
    assert closed[0].proposal_id == proposal.id
    assert closed[0].close_reason is CloseReason.STOP_LOSS
    assert closed[0].realized_pnl is not None
    assert closed[0].realized_pnl < 0
    final = bench.store.proposals.get(proposal.id)
    assert final is not None
    assert final.state is ProposalState.CLOSED


async def test_the_stop_guard_leaves_alone_a_position_the_venue_no_longer_reports(bench: Bench) -> None:
    pid, _, sl_id = await open_long(bench)
    # Closed outside the engine with its stop stripped; how it closed is not readable yet.
    await bench.client.cancel_algo_order(ETH, sl_id)
    await bench.client.close_position(ETH, Side.LONG, "outside-close-1")
    bench.fake.faults.paths = {"/capi/v3/order/history"}
    bench.fake.faults.next_5xx = 10
    stops, orders = bench.posts("/capi/v3/placeTpSlOrder"), bench.posts("/capi/v3/order")
    report = await bench.run(bench.monitor.tick())
    assert report.ok
    assert report.closed == []
    assert report.stops_placed == []
    assert bench.posts("/capi/v3/placeTpSlOrder") == stops
    assert bench.posts("/capi/v3/order") == orders, "no market close"
    kinds = {e.kind for e in bench.store.events.recent(100)}
    assert "position.close_failed" not in kinds
    assert "protection.sl_failed" not in kinds
    bench.fake.faults.next_5xx = 0
    report = await bench.run(bench.monitor.tick())
    assert report.closed == [(pid, CloseReason.MANUAL)]
    assert [o for o in bench.store.orders.for_position(pid) if o.kind is OrderKind.CLOSE] == []


def _forget_order(bench: Bench, exchange_id: str) -> None:
    """The books lose a leg's row, as a kill between the venue attaching it and the row being written
    leaves them."""
    row = bench.store.orders.by_exchange_id(exchange_id)
    assert row is not None
    bench.store.db.execute("DELETE FROM orders WHERE id = ?", [row.id])
    assert bench.store.orders.by_exchange_id(exchange_id) is None


async def test_an_attached_take_profit_no_row_knows_is_cancelled_after_its_position_closed_while_away(
    bench: Bench,
) -> None:
    """WEEX lists an attached take-profit on no open-order endpoint once its symbol holds no position:
    the order history that explains the close is where the restarted engine learns of it."""
    pid, tp_id = await _stop_out_after_a_kill(bench)
    _forget_order(bench, tp_id)
    report = await bench.run(bench.monitor.tick())
    assert report.closed == [(pid, CloseReason.STOP_LOSS)]
    assert bench.venue_status(tp_id) is OrderStatus.CANCELLED
    row = bench.store.orders.by_exchange_id(tp_id)
    assert row is not None
    assert row.position_id == pid
    assert row.kind is OrderKind.TP
    assert row.state is OrderState.CANCELLED


async def test_every_leg_a_listing_shows_for_a_held_position_gets_a_row(bench: Bench) -> None:
    pid, tp_id, sl_id = await open_long(bench)
    _forget_order(bench, tp_id)
    _forget_order(bench, sl_id)
    bench.restart()
    await bench.run(bench.monitor.tick())
    for leg_id, kind in ((tp_id, OrderKind.TP), (sl_id, OrderKind.SL)):
        row = bench.store.orders.by_exchange_id(leg_id)
        assert row is not None
        assert row.position_id == pid
        assert row.kind is kind
        assert row.state is OrderState.SUBMITTED
        assert bench.venue_status(leg_id) is OrderStatus.UNTRIGGERED  # a held position's: left resting


async def _closed_with_legs_left_then_reopened_outside(bench: Bench) -> tuple[int, str, str]:
    """A long closed outside the engine with both legs left resting (WEEX leaves them), booked closed by
    a start-up tick (which only flags orphans), then a new long of the same side opened outside the
    engine (the WEEX app) with a stop of its own. (The engine's own entries cancel a symbol's stale
    orders first.)"""
    old_pid, old_tp, old_sl = await open_long(bench)
    await bench.client.close_position(ETH, Side.LONG, "outside-close-2")
    bench.restart()
    report = await bench.run(bench.monitor.tick(startup=True))
    assert [pid for pid, _ in report.closed] == [old_pid]
    assert bench.venue_status(old_tp) is OrderStatus.UNTRIGGERED
    assert bench.venue_status(old_sl) is OrderStatus.UNTRIGGERED
    await bench.client.place_order(
        OrderRequest(ETH, Side.LONG, Decimal("0.05"), "app-entry-1", sl_price=Decimal("2900.00"))
    )
    await bench.clock.advance(1)
    return old_pid, old_tp, old_sl


async def test_a_closed_positions_legs_left_on_a_newer_position_of_the_same_side_are_cancelled(
    bench: Bench,
) -> None:
    old_pid, old_tp, old_sl = await _closed_with_legs_left_then_reopened_outside(bench)
    report = await bench.run(bench.monitor.tick())
    assert len(report.adopted) == 1
    assert report.adopted[0] != old_pid
    assert bench.venue_status(old_tp) is OrderStatus.CANCELLED
    assert bench.venue_status(old_sl) is OrderStatus.CANCELLED
    assert _order_state(bench, old_tp) is OrderState.CANCELLED
    assert _order_state(bench, old_sl) is OrderState.CANCELLED
    stops = [a for a in await bench.client.open_algo_orders(ETH) if a.kind == "sl"]
    assert [a.trigger_price for a in stops] == [Decimal("2900.00")], "the newer position keeps its own stop"


async def test_a_closed_positions_stop_stays_while_it_is_the_only_stop_a_newer_position_has(
    bench: Bench,
) -> None:
    _, old_tp, old_sl = await _closed_with_legs_left_then_reopened_outside(bench)
    own = [a for a in await bench.client.open_algo_orders(ETH) if a.kind == "sl" and a.order_id != old_sl]
    assert len(own) == 1
    await bench.client.cancel_algo_order(ETH, own[0].order_id)  # the newer position's own stop is gone
    await bench.run(bench.monitor.tick())
    assert bench.venue_status(old_tp) is OrderStatus.CANCELLED
    assert bench.venue_status(old_sl) is OrderStatus.UNTRIGGERED, "never strip a held position's only stop"


async def test_a_stop_whose_answer_was_lost_is_tracked_by_its_own_row_not_a_second_one(bench: Bench) -> None:
    """A kill between the venue taking a re-placed stop and the engine reading the answer leaves its row
    ``pending_submit`` without the venue's id; the listing shows the leg under our client id."""
    pid, _, sl_id = await open_long(bench)
    await bench.client.cancel_algo_order(ETH, sl_id)
    pos = bench.store.positions.get(pid)
    assert pos is not None
    cid = "smt-lost-answer-msl2"
    row = bench.executor.desk.new_order(
        cid, ETH, Side.LONG, OrderKind.SL, pos.size, proposal_id=pos.proposal_id, position_id=pid
    )
    placed = await bench.client.place_tp_sl(ETH, Side.LONG, "sl", Decimal("2955.00"), pos.size, cid)
    bench.restart()
    await bench.clock.advance(1)
    report = await bench.run(bench.monitor.tick())
    assert report.stops_placed == [], "the stop rests: none placed again"
    rows = [o for o in bench.store.orders.select() if o.exchange_order_id == placed.order_id]
    assert [o.id for o in rows] == [row.id]
    assert rows[0].state is OrderState.SUBMITTED
    assert rows[0].position_id == pid


async def test_of_two_take_profits_the_one_that_did_not_fire_is_cancelled_at_the_venue(bench: Bench) -> None:
    """A position carrying its attached take-profit and a second one placed while the first was not seen:
    the second fires while the engine is away; the first is live at the venue and must end there, not be
    booked filled on its kind."""
    pid, attached_tp, _ = await open_long(bench)
    pos = bench.store.positions.get(pid)
    assert pos is not None
    cid = "smt-second-tp-tp2"
    row = bench.executor.desk.new_order(
        cid, ETH, Side.LONG, OrderKind.TP, pos.size, proposal_id=pos.proposal_id, position_id=pid
    )
    placed = await bench.client.place_tp_sl(ETH, Side.LONG, "tp", Decimal("3050.00"), pos.size, cid)
    bench.executor.desk.update(row, state=OrderState.SUBMITTED, exchange_order_id=placed.order_id)
    bench.store.positions.update(pid, tp_order_id=placed.order_id)  # the one the position row knows
    await bench.client.aclose()
    bench.fake.set_price(ETH, Decimal("3060"), high=Decimal("3065"))  # through 3050, short of 3090
    bench.restart()
    await bench.clock.advance(1)
    report = await bench.run(bench.monitor.tick())
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert _order_state(bench, placed.order_id) is OrderState.FILLED
    assert bench.venue_status(attached_tp) is OrderStatus.CANCELLED
    assert _order_state(bench, attached_tp) is OrderState.CANCELLED


async def test_two_leftover_stops_never_count_as_each_others_reason_to_go(bench: Bench) -> None:
    """A closed position left two stops; a newer long of the same side, opened outside the engine, has
    none of its own. Neither leftover may be cancelled on the word of the other (both are leftovers):
    the newer position is never left without a stop at the venue."""
    old_pid, _, old_sl = await open_long(bench)
    pos = bench.store.positions.get(old_pid)
    assert pos is not None
    cid = "smt-second-stop-msl2"
    row = bench.executor.desk.new_order(
        cid, ETH, Side.LONG, OrderKind.SL, pos.size, proposal_id=pos.proposal_id, position_id=old_pid
    )
    second = await bench.client.place_tp_sl(ETH, Side.LONG, "sl", Decimal("2950.00"), pos.size, cid)
    bench.executor.desk.update(row, state=OrderState.SUBMITTED, exchange_order_id=second.order_id)
    await bench.client.close_position(ETH, Side.LONG, "outside-close-3")
    bench.restart()
    report = await bench.run(bench.monitor.tick(startup=True))
    assert [p for p, _ in report.closed] == [old_pid]
    await bench.client.place_order(OrderRequest(ETH, Side.LONG, Decimal("0.05"), "app-entry-2"))
    await bench.clock.advance(1)
    await bench.run(bench.monitor.tick())
    stops = [a for a in await bench.client.open_algo_orders(ETH) if a.kind == "sl"]
    assert {a.order_id for a in stops} == {old_sl, second.order_id}, "the held position lost its stops"


async def test_one_answer_that_misses_a_position_books_no_close_and_strips_no_stop(bench: Bench) -> None:
    """A successful position list that misses a held position, with no order or fill that explains a
    close: the position stays open in the books for the venue's visibility window, and neither its stop
    nor its take-profit is cancelled (the orphan sweep and the in-flight tracker leave them)."""
    pid, tp_id, sl_id = await open_long(bench)
    bench.fake.faults.empty_positions = 1
    report = await bench.run(bench.monitor.tick())
    assert report.closed == []
    assert report.adopted == []
    assert bench.venue_status(sl_id) is OrderStatus.UNTRIGGERED
    assert bench.venue_status(tp_id) is OrderStatus.UNTRIGGERED
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.OPEN
    report = await bench.run(bench.monitor.tick())  # the list shows it again
    assert report.closed == []
    assert report.adopted == []
    assert report.stops_placed == []
    assert _order_state(bench, sl_id) is OrderState.SUBMITTED

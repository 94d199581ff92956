"""A pushed close costs one round trip, or two (issue 24): counted on the fake's requests, never timed.

The take-profit fires on the fake WEEX; the monitor gets the ``orders`` push row the fake's websocket
sends for it (``tests/fakes/weex_ws.order_row``) and runs one tick while every request waits at a
lockstep gate (``lockstep``): the close is in the books after the first round (the three reads, no order
history or fills), the sibling stop's cancel goes out in the second. When the venue has also pushed the
position flat (``closed_position_row``), the cancel goes out in the first round, beside the reads. A push
the venue contradicts, or one without the fill, is left to the REST path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from smt_engine.domain import CloseReason, EventLevel, OrderState, PositionState, Side
from smt_engine.exchange.base import ExchangePosition, OrderStatus
from smt_engine.exchange.market import to_ms
from smt_engine.exchange.weex import WeexClient
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.orders import advance_order
from smt_engine.trading.pushed import PushedFills, pushed_flat, pushed_leg_fill
from tests.fakes.weex_ws import closed_position_row, order_row
from tests.integration.lockstep import LockstepTransport, rounds_until_done
from tests.integration.venue_bench import ETH, Bench, bench, open_long

__all__ = ["bench"]  # the fixture, imported

READS = {
    "GET /capi/v3/account/position/allPosition",
    "GET /capi/v3/openAlgoOrders",
    "GET /capi/v3/openOrders",
}
EXPLAINING = {"GET /capi/v3/order/history", "GET /capi/v3/userTrades"}


def gated_monitor(bench: Bench) -> tuple[Monitor, LockstepTransport, WeexClient]:
    """The engine's monitor over a client whose every request waits for the test to answer a round."""
    gate = LockstepTransport()
    client = WeexClient(
        api_key=bench.fake.api_key,
        api_secret=bench.fake.secret,
        passphrase=bench.fake.passphrase,
        base_url=bench.fake.base_url,
        store=bench.store,
        clock=bench.clock,
        read_retries=1,
        backoff=0.01,
        transport=gate,
    )
    monitor = Monitor(bench.settings, bench.store, bench.clock, client, bench.executor, None)
    monitor.pushed = PushedFills()
    return monitor, gate, client


class Watched(NamedTuple):
    """A long open on the fake with its TP and SL, watched by a gated monitor that has run one tick."""

    bench: Bench
    pid: int
    tp_id: str
    sl_id: str
    monitor: Monitor
    gate: LockstepTransport
    client: WeexClient


def pushed(monitor: Monitor) -> PushedFills:
    assert monitor.pushed is not None
    return monitor.pushed


def held(bench: Bench) -> ExchangePosition:
    """The venue's position, as its push would show it."""
    (position,) = bench.fake.call(bench.fake.venue.positions())
    assert isinstance(position, ExchangePosition)
    return position


@pytest.fixture
async def watched(bench: Bench) -> AsyncIterator[Watched]:
    pid, tp_id, sl_id = await open_long(bench)
    monitor, gate, client = gated_monitor(bench)
    await bench.run(monitor.tick())  # the legs as the running engine knows them (listed, by endpoint)
    return Watched(bench, pid, tp_id, sl_id, monitor, gate, client)


async def take_profit(bench: Bench, tp_id: str) -> dict[str, Any]:
    """Through the TP at 3090, after the entry (the clock driven by the test); the push row of its fill."""
    await bench.clock.advance(1)
    bench.fake.set_price(ETH, Decimal("3100"), high=Decimal("3110"))
    await bench.clock.advance(1)
    bench.fake.call(bench.fake.venue.positions())  # the venue walks its price path: the TP fills
    assert bench.venue_status(tp_id) is OrderStatus.FILLED
    return order_row(bench.fake._find(tp_id))


async def test_a_pushed_take_profit_is_closed_after_one_round_trip_and_its_stop_cancelled_in_the_second(
    watched: Watched,
) -> None:
    bench, pid, tp_id, sl_id, monitor, gate, client = watched
    assert pushed(monitor).note(await take_profit(bench, tp_id))
    closed_after: list[int] = []

    def look(round_no: int) -> None:
        pos = bench.store.positions.get(pid)
        if pos is not None and pos.state is PositionState.CLOSED and not closed_after:
            closed_after.append(round_no)

    report = await rounds_until_done(gate, monitor.tick(), look)
    assert report.ok
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert closed_after == [1], gate.rounds
    assert set(gate.rounds[0]) >= READS
    assert not EXPLAINING & set(gate.rounds[0])
    assert "DELETE /capi/v3/algoOrder" in gate.rounds[1], gate.rounds
    assert not any(EXPLAINING & set(r) for r in gate.rounds), "settled from the push, not from history"
    assert bench.venue_status(sl_id) is OrderStatus.CANCELLED
    # What the push said is what the venue's fills say.
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.close_order_id == tp_id
    assert pos.exit_price == Decimal("3090")
    fills = [f for f in await client.fills(ETH) if f.order_id == tp_id]
    assert fills
    assert pos.realized_pnl == sum((f.realized_pnl - abs(f.fee) for f in fills), Decimal(0))
    assert pos.realized_pnl is not None
    assert pos.realized_pnl > 0
    legs = {o.exchange_order_id: o.state for o in bench.store.orders.for_position(pid)}
    assert legs[tp_id] is OrderState.FILLED
    assert legs[sl_id] is OrderState.CANCELLED


async def test_with_the_side_pushed_flat_too_the_close_and_its_stops_cancel_take_one_round_trip(
    watched: Watched,
) -> None:
    bench, pid, tp_id, sl_id, monitor, gate, _ = watched
    position = held(bench)
    assert pushed(monitor).note(await take_profit(bench, tp_id))
    pushed(monitor).note_position(closed_position_row(position, to_ms(bench.clock.now())))
    done_after: list[int] = []

    def look(round_no: int) -> None:
        pos = bench.store.positions.get(pid)
        stop = bench.store.orders.by_exchange_id(sl_id)
        closed = pos is not None and pos.state is PositionState.CLOSED
        if closed and stop is not None and stop.state is OrderState.CANCELLED and not done_after:
            done_after.append(round_no)

    report = await rounds_until_done(gate, monitor.tick(), look)
    assert report.ok
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert done_after == [1], gate.rounds
    assert set(gate.rounds[0]) >= READS | {"DELETE /capi/v3/algoOrder"}, gate.rounds
    assert not any(EXPLAINING & set(r) for r in gate.rounds), "settled from the push, not from history"
    assert bench.venue_status(sl_id) is OrderStatus.CANCELLED
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.close_order_id == tp_id
    assert pos.exit_price == Decimal("3090")


async def test_a_sibling_the_books_know_ended_is_not_cancelled_again(watched: Watched) -> None:
    """A tick retried after its read failed, its sibling cancelled the first time: no second cancel."""
    bench, pid, tp_id, sl_id, monitor, gate, client = watched
    position = held(bench)
    await bench.run(client.cancel_algo_order(ETH, sl_id))
    stop = bench.store.orders.by_exchange_id(sl_id)
    assert stop is not None
    advance_order(
        bench.store, stop, OrderState.CANCELLED, actor="test", reason="cancelled before", at=bench.clock.now()
    )
    assert pushed(monitor).note(await take_profit(bench, tp_id))
    pushed(monitor).note_position(closed_position_row(position, to_ms(bench.clock.now())))
    report = await rounds_until_done(gate, monitor.tick())
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert not any(name.startswith("DELETE") for r in gate.rounds for name in r), gate.rounds


async def test_a_flat_push_from_before_the_position_opened_sends_no_cancel_before_the_list_confirms(
    watched: Watched,
) -> None:
    bench, pid, tp_id, _, monitor, gate, _ = watched
    position = held(bench)
    assert pushed(monitor).note(await take_profit(bench, tp_id))
    pushed(monitor).note_position(
        closed_position_row(position, to_ms(position.opened_at) - 1)
    )  # an older position's
    report = await rounds_until_done(gate, monitor.tick())
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert "DELETE /capi/v3/algoOrder" not in gate.rounds[0]
    assert "DELETE /capi/v3/algoOrder" in gate.rounds[1]


def claimed_take_profit(bench: Bench, tp_id: str) -> dict[str, Any]:
    """A push row saying the TP filled in full, while the venue still holds the position."""
    return order_row(bench.fake._find(tp_id)) | {
        "status": "FILLED",
        "cumFillSize": "0.333",
        "cumFillValue": "1029.297",
        "cumFillFee": "0.62",
        "cumRealizePnl": "29.97",
    }


async def test_a_flat_push_the_venues_list_contradicts_books_nothing_and_the_stop_is_back_in_the_same_tick(
    watched: Watched,
) -> None:
    bench, pid, tp_id, sl_id, monitor, _, _ = watched
    position = held(bench)
    # the TP pushed filled and the side pushed flat; the venue still holds the position
    assert pushed(monitor).note(claimed_take_profit(bench, tp_id))
    pushed(monitor).note_position(closed_position_row(position, to_ms(bench.clock.now())))
    report = await bench.run(monitor.tick())  # the guard places through the bench's own client
    assert report.ok
    assert report.closed == []
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.OPEN
    assert bench.venue_status(sl_id) is OrderStatus.CANCELLED  # cancelled on the venue's two pushes
    stops = [a for a in bench.fake.call(bench.fake.venue.open_algo_orders(ETH)) if a.kind == "sl"]
    assert len(stops) == 1, "the guard re-placed the stop in the same tick"
    assert stops[0].order_id != sl_id, "the guard re-placed the stop in the same tick"
    warned = bench.store.events.of_kind("push.contradicted")
    assert len(warned) == 1
    assert warned[0].level is EventLevel.WARNING


async def test_a_list_a_moment_behind_its_push_is_read_again_and_the_close_booked_without_alarm(
    watched: Watched,
) -> None:
    bench, pid, tp_id, sl_id, monitor, gate, client = watched
    position = held(bench)
    stale = await bench.run(client.positions())  # the list as it stood just before the take-profit
    assert pushed(monitor).note(await take_profit(bench, tp_id))
    pushed(monitor).note_position(closed_position_row(position, to_ms(bench.clock.now())))
    real = client.positions
    answers = [stale]

    async def lagging() -> list[ExchangePosition]:
        return answers.pop() if answers else await real()

    client.positions = lagging  # type: ignore[method-assign]
    report = await rounds_until_done(gate, monitor.tick())
    assert report.ok
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert report.stops_placed == []
    looks = [name for r in gate.rounds for name in r if name == "GET /capi/v3/account/position/allPosition"]
    assert len(looks) == 1, "the stale answer, then one second look at the venue"
    assert answers == [], "the stale answer, then one second look at the venue"
    assert bench.venue_status(sl_id) is OrderStatus.CANCELLED
    assert not bench.store.events.of_kind("push.contradicted")
    loud = bench.store.events.recent(min_level=EventLevel.ERROR)
    assert not loud, [(e.kind, e.message) for e in loud]
    assert not monitor.recheck_soon


async def test_a_tick_stopped_after_a_pushed_cancel_asks_for_the_next_soon_and_that_one_restores_the_stop(
    watched: Watched,
) -> None:
    bench, pid, tp_id, sl_id, monitor, _, _ = watched
    position = held(bench)
    assert pushed(monitor).note(claimed_take_profit(bench, tp_id))
    pushed(monitor).note_position(closed_position_row(position, to_ms(bench.clock.now())))
    bench.fake.faults.paths = {"/capi/v3/account/position/allPosition"}
    bench.fake.faults.rate_5xx = 1.0
    failed = await bench.run(monitor.tick())
    assert not failed.ok
    assert bench.venue_status(sl_id) is OrderStatus.CANCELLED
    assert monitor.recheck_soon, "a stop went on the pushed word and nothing confirmed the close"
    bench.fake.faults.rate_5xx = 0.0
    report = await bench.run(monitor.tick())
    assert report.ok
    assert report.closed == []
    assert report.stops_placed == [pid]
    assert not monitor.recheck_soon
    assert len(bench.store.events.of_kind("push.contradicted")) == 1


async def test_a_pushed_fill_the_venue_contradicts_closes_nothing_and_cancels_no_stop(
    watched: Watched,
) -> None:
    bench, pid, tp_id, sl_id, monitor, gate, _ = watched
    # a push claiming the TP filled; the venue still holds the position
    assert pushed(monitor).note(claimed_take_profit(bench, tp_id))
    report = await rounds_until_done(gate, monitor.tick())
    assert report.ok
    assert report.closed == []
    pos = bench.store.positions.get(pid)
    assert pos is not None
    assert pos.state is PositionState.OPEN
    assert not any("DELETE" in name for r in gate.rounds for name in r), gate.rounds
    assert bench.venue_status(sl_id) is OrderStatus.UNTRIGGERED


async def test_a_push_without_the_fill_is_closed_from_order_history_and_fills(watched: Watched) -> None:
    bench, pid, tp_id, _, monitor, gate, _ = watched
    row = await take_profit(bench, tp_id)
    del row["cumFillValue"]
    assert monitor.pushed is not None, "an incomplete push is not kept"
    assert not monitor.pushed.note(row), "an incomplete push is not kept"
    report = await rounds_until_done(gate, monitor.tick())
    assert report.closed == [(pid, CloseReason.TAKE_PROFIT)]
    assert any(set(r) >= EXPLAINING for r in gate.rounds), gate.rounds


def test_a_push_row_is_a_filled_leg_only_when_it_says_all_a_close_needs() -> None:
    row = {
        "id": "7001",
        "symbol": ETH,
        "positionSide": "LONG",
        "type": "TAKE_PROFIT_MARKET",
        "status": "FILLED",
        "cumFillSize": "0.5",
        "cumFillValue": "1545",
        "cumFillFee": "-0.93",
        "cumRealizePnl": "45",
        "updatedTime": "1768377600000",
    }
    fill = pushed_leg_fill(row)
    assert fill is not None
    assert fill.kind == "tp"
    assert fill.exit_price == Decimal(3090)
    assert fill.fee == Decimal("0.93")
    assert fill.net_pnl == Decimal("44.07")
    assert pushed_leg_fill(row | {"type": "STOP_MARKET"}).kind == "sl"  # type: ignore[union-attr]
    for broken in (
        {"status": "PARTIALLY_FILLED"},
        {"type": "MARKET"},
        {"cumFillSize": "0"},
        {"cumRealizePnl": None},
        {"cumFillFee": "n/a"},
        {"updatedTime": "0"},
        {"positionSide": "BOTH"},
    ):
        assert pushed_leg_fill(row | broken) is None, broken


def test_a_push_row_names_a_real_order_and_a_fill_worth_something_however_small() -> None:
    """WEEX's id "0" (or none) names no order, and a fill of no value has no exit price; a leg of a
    cheap coin filled for half a USDT is a fill all the same."""
    row = {
        "id": "7003",
        "symbol": "DOGEUSDT",
        "positionSide": "LONG",
        "type": "STOP_MARKET",
        "status": "FILLED",
        "cumFillSize": "5",
        "cumFillValue": "0.5",
        "cumFillFee": "0.0003",
        "cumRealizePnl": "-0.01",
        "updatedTime": "1768377600000",
    }
    fill = pushed_leg_fill(row)
    assert fill is not None
    assert (fill.order_id, fill.size, fill.exit_price) == (
        "7003",
        Decimal(5),
        Decimal("0.1"),
    )
    for broken in ({"id": "0"}, {"id": ""}, {"cumFillValue": "0"}):
        assert pushed_leg_fill(row | broken) is None, broken


def test_fills_a_failed_read_could_not_check_are_looked_at_again_and_a_newer_push_wins() -> None:
    row = {
        "id": "7002",
        "symbol": ETH,
        "positionSide": "SHORT",
        "type": "STOP_MARKET",
        "status": "FILLED",
        "cumFillSize": "1",
        "cumFillValue": "3100",
        "cumFillFee": "1.86",
        "cumRealizePnl": "-100",
        "updatedTime": "1768377600000",
    }
    inbox = PushedFills()
    assert inbox.note(row)
    taken = inbox.take()
    assert inbox.take() == []
    assert inbox.note(row | {"updatedTime": "1768377601000"})
    inbox.restore(taken)
    again = inbox.take()
    assert len(again) == 1
    assert again[0].at.timestamp() == 1768377601
    inbox.restore(again)
    assert [f.net_pnl for f in inbox.take()] == [Decimal("-101.86")]


def test_a_positions_push_row_says_flat_only_with_size_zero_a_symbol_and_a_time() -> None:
    """The recorded row's fields (ccxt pro's handle_positions); a demo row names ``coinId``, no symbol."""
    row = {
        "id": "739004481374519656",
        "symbol": "DOGEUSDT",
        "side": "LONG",
        "size": "0",
        "updatedTime": "1776192398399",
    }
    flat = pushed_flat(row)
    assert flat is not None
    assert flat[:2] == ("DOGEUSDT", Side.LONG)
    assert to_ms(flat[2]) == 1776192398399
    for broken in ({"size": "100"}, {"size": None}, {"updatedTime": "0"}, {"side": "BOTH"}, {"symbol": ""}):
        assert pushed_flat(row | broken) is None, broken
    demo = {k: v for k, v in row.items() if k != "symbol"} | {"coinId": "SUSDT"}
    assert pushed_flat(demo) is None


def test_the_flat_word_lasts_until_the_side_is_pushed_held_again_or_the_stream_reconnects() -> None:
    row = {"symbol": ETH, "side": "SHORT", "size": "0", "updatedTime": "1768377600000"}
    inbox = PushedFills()
    inbox.note_position(row)
    assert inbox.flat_since(ETH, Side.SHORT) is not None
    assert inbox.flat_since(ETH, Side.LONG) is None
    inbox.note_position(row | {"size": "0.5", "updatedTime": "1768377601000"})
    assert inbox.flat_since(ETH, Side.SHORT) is None, "held again: the flat word is gone"
    inbox.note_position(row)
    inbox.forget_positions()
    assert inbox.flat_since(ETH, Side.SHORT) is None, "a reconnect drops what was pushed before the gap"

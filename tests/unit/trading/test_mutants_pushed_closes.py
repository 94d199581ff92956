"""Pushed closes in process, value by value (README: a sibling stop is cancelled only on the venue's word;
docs/benchmarks.md, mutation testing): which pushed fill closes which stored position, which other legs
are cancelled and what the books say of each, and the WARNING when the venue's list contradicts its
pushes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, EventLevel, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import AlgoOrder, ExchangePosition, ExchangeUnavailable, OrderStatus
from smt_engine.exchange.market import to_ms
from smt_engine.store import Store
from smt_engine.store.records import Order, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.pushed import PushedFills, PushedLegFill
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, eth_position, make_settings
from tests.unit.trading.scripted import ScriptedExchange, listed_position

OPENED = NOW - timedelta(hours=1)


def monitor_on(store: Store, clock: SimulatedClock) -> tuple[Monitor, ScriptedExchange]:
    settings = make_settings(pairs={"tier1": ["ETH"], "tier2": []})
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.now = clock.now
    executor = Executor(ex, store, clock, settings, AiLogOutbox(store, clock, settings))
    return Monitor(settings, store, clock, ex, executor, None), ex


def held(store: Store, *, tp: str | None = "t1", sl: str | None = "s1", side: Side = Side.LONG) -> Position:
    return store.positions.insert(
        eth_position(
            side=side,
            opened_at=OPENED,
            updated_at=OPENED,
            tp_price=Decimal(2100),
            sl_price=Decimal(1960),
            tp_order_id=tp,
            sl_order_id=sl,
        )
    )


def leg(
    store: Store, pos: Position, venue_id: str, kind: OrderKind, state: OrderState = OrderState.SUBMITTED
) -> Order:
    return store.orders.insert(
        Order(
            client_order_id=f"cid-{venue_id}",
            symbol=pos.symbol,
            side=pos.side,
            kind=kind,
            size=pos.size,
            state=state,
            created_at=OPENED,
            updated_at=OPENED,
            exchange_order_id=venue_id,
            position_id=pos.id,
        )
    )


def filled(
    venue_id: str,
    kind: str = "sl",
    size: str = "1.5",
    at: object = NOW,
    side: Side = Side.LONG,
    symbol: str = "ETHUSDT",
) -> PushedLegFill:
    return PushedLegFill(
        venue_id,
        symbol,
        side,
        kind,  # type: ignore[arg-type]
        Decimal(size),
        Decimal(1960),
        Decimal("0.5"),
        Decimal(-60),
        at,  # type: ignore[arg-type]
    )


def said(caplog: pytest.LogCaptureFixture, *, levels: bool = False) -> list[Any]:
    """What ``pushed_closes`` logged (other modules' lines depend on the logging set up before)."""
    mine = [r for r in caplog.records if r.name == "smt_engine.trading.pushed_closes"]
    return [(r.levelno, r.getMessage()) if levels else r.getMessage() for r in mine]


def listed_tp(pos: Position) -> AlgoOrder:
    """The venue's listing of the position's TP leg ``t1``."""
    return AlgoOrder(
        "t1", None, pos.symbol, pos.side, "tp", Decimal(2100), pos.size, OrderStatus.UNTRIGGERED, NOW
    )


def listed(pos: Position, size: str = "1.5") -> ExchangePosition:
    return listed_position(
        pos.symbol, pos.side, size, opened_at=OPENED, updated_at=NOW, entry_price=pos.entry_price
    )


async def test_a_take_profit_pushed_under_the_positions_own_tp_id_closes_it_without_an_order_row(
    store: Store, clock: SimulatedClock
) -> None:
    """An adopted position knows its legs by id only: the TP id is the TP's, not the stop's."""
    mon, _ = monitor_on(store, clock)
    pos = held(store)
    fill = filled("t1", "tp")
    assert mon.settler.settle([fill], []) == [(pos, CloseReason.TAKE_PROFIT, fill)]
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert after.close_order_id == "t1"


async def test_a_re_placed_stop_known_by_its_order_row_closes_its_position(
    store: Store, clock: SimulatedClock
) -> None:
    """The position still names its first stop; the guard's re-placed stop is an order row of it."""
    mon, _ = monitor_on(store, clock)
    pos = held(store, sl="s-first")
    leg(store, pos, "s-again", OrderKind.SL)
    fill = filled("s-again")
    assert mon.settler.settle([fill], []) == [(pos, CloseReason.STOP_LOSS, fill)]


@pytest.mark.parametrize(
    ("why", "fill", "row"),
    [
        ("a leg of another position", filled("s9"), ("other", OrderKind.SL)),
        ("a row of the position of the other kind", filled("t9", "tp"), ("own", OrderKind.SL)),
        ("a leg no row and no id names", filled("s9"), None),
        ("part of the position", filled("s1", size="0.5"), None),
        ("a fill before the position opened", filled("s1", at=OPENED - timedelta(seconds=1)), None),
    ],
)
async def test_a_pushed_fill_that_is_not_the_whole_of_the_positions_own_leg_closes_nothing(
    store: Store,
    clock: SimulatedClock,
    caplog: pytest.LogCaptureFixture,
    why: str,
    fill: PushedLegFill,
    row: tuple[str, OrderKind] | None,
) -> None:
    mon, _ = monitor_on(store, clock)
    pos = held(store)
    if row is not None:
        owner = pos if row[0] == "own" else held(store, tp=None, sl=None, side=Side.SHORT)
        leg(store, owner, fill.order_id, row[1])
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.pushed_closes"):
        assert mon.settler.early([fill], PushedFills()) == []  # no flat word: not even looked at
        assert mon.settler.settle([fill], []) == [], why
    assert said(caplog) == [
        f"pushed fill of ETHUSDT LONG leg {fill.order_id} does not close position #{pos.id} in full; "
        "REST decides"
    ]
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN


async def test_a_pushed_fill_of_a_side_the_books_do_not_hold_is_left_to_rest(
    store: Store, clock: SimulatedClock
) -> None:
    mon, _ = monitor_on(store, clock)
    held(store, side=Side.SHORT)
    assert mon.settler.settle([filled("s1")], []) == []
    assert mon.settler.early([filled("s1")], PushedFills()) == []


async def test_the_siblings_cancelled_are_the_positions_other_open_legs_each_booked_on_the_venues_word(
    store: Store, clock: SimulatedClock
) -> None:
    """The stop the position names (no row: adopted), a re-placed stop's row; never the fill itself, a
    leg already final, a regular order, or another position's leg. The cancel names the symbol."""
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl="s1")
    again = leg(store, pos, "s2", OrderKind.SL)
    leg(store, pos, "s0", OrderKind.SL, OrderState.CANCELLED)
    leg(store, pos, "c1", OrderKind.CLOSE)
    other = held(store, tp="t7", sl=None, side=Side.SHORT)
    leg(store, other, "t7", OrderKind.TP)
    sent: list[tuple[str, str]] = []

    async def cancel(symbol: str, order_id: str) -> None:
        sent.append((symbol, order_id))

    ex.cancel_algo_order = cancel  # type: ignore[method-assign]
    fill = filled("t1", "tp")
    assert await mon.settler.cancel_siblings([(pos, fill)]) == {"s1", "s2"}
    assert sent == [("ETHUSDT", "s1"), ("ETHUSDT", "s2")]
    rows = {o.exchange_order_id: o.state for o in store.orders.for_position(pos.id or 0)}
    assert rows == {"s2": OrderState.CANCELLED, "s0": OrderState.CANCELLED, "c1": OrderState.SUBMITTED}
    (event,) = store.events.of_kind("order.cancelled")
    assert event.order_id == again.id
    assert event.data["actor"] == "monitor"
    assert event.data["reason"] == (
        f"sibling of the pushed take-profit t1 that closed position #{pos.id}: cancelled, the venue "
        "confirmed it"
    )


async def test_the_take_profit_left_by_a_pushed_stop_loss_is_booked_cancelled_naming_the_stop(
    store: Store, clock: SimulatedClock
) -> None:
    """The audit row of a sibling cancelled after a stop-loss names the stop-loss, not a take-profit."""
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl="s1")
    take = leg(store, pos, "t1", OrderKind.TP)
    sent: list[tuple[str, str]] = []

    async def cancel(symbol: str, order_id: str) -> None:
        sent.append((symbol, order_id))

    ex.cancel_algo_order = cancel  # type: ignore[method-assign]
    assert await mon.settler.cancel_siblings([(pos, filled("s1", "sl"))]) == {"t1"}
    assert sent == [("ETHUSDT", "t1")]
    (event,) = store.events.of_kind("order.cancelled")
    assert event.order_id == take.id
    assert event.data["reason"] == (
        f"sibling of the pushed stop-loss s1 that closed position #{pos.id}: cancelled, the venue "
        "confirmed it"
    )


async def test_a_sibling_the_venue_refuses_to_cancel_stays_open_and_is_said(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl="s1")
    stop = leg(store, pos, "s1", OrderKind.SL)

    async def refuse(symbol: str, order_id: str) -> None:
        raise ExchangeUnavailable("algo cancel 502")

    ex.cancel_algo_order = refuse  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.pushed_closes"):
        assert await mon.settler.cancel_siblings([(pos, filled("t1", "tp"))]) == set()
    assert said(caplog, levels=True) == [
        (
            logging.WARNING,
            "ETHUSDT LONG: sibling leg s1 of the closed position not cancelled yet: algo cancel 502",
        )
    ]
    after = store.orders.get(stop.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED


async def test_a_flat_push_the_venues_list_contradicts_is_a_warning_naming_the_position_and_the_leg(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl="s1")
    live = listed(pos)
    ex.positions_[(pos.symbol, pos.side)] = live
    ex.algos.append(listed_tp(pos))
    mon.pushed = PushedFills()
    mon.pushed.restore([filled("t1", "tp")])
    mon.pushed.note_position({"symbol": "ETHUSDT", "side": "LONG", "size": "0", "updatedTime": to_ms(NOW)})
    report = await mon.tick()
    assert report.ok
    assert report.closed == []
    (warned,) = store.events.of_kind("push.contradicted")
    assert warned.level is EventLevel.WARNING
    assert warned.message == (
        f"ETHUSDT LONG: the stream pushed leg t1 filled and the side flat, but the venue still lists "
        f"position #{pos.id} after a second look; nothing booked, its other legs were cancelled and the stop "
        "guard re-places its stop now"
    )
    assert warned.data == {"position_id": pos.id, "order_id": "t1"}
    assert ("cancel_algo_order", "s1") in ex.calls
    assert ex.count("positions") == 2, "the list read a second time before the push was called contradicted"
    assert report.stops_placed == [pos.id], "the stop is back in the same tick"


async def test_each_pushed_fill_is_judged_on_its_own_and_a_zero_size_row_is_no_position(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A fill of no stored position and one whose position the venue still lists stop neither the
    other fills nor each other; WEEX's row of size 0 for a side is no position."""
    mon, _ = monitor_on(store, clock)
    gone = held(store, tp="t1", sl="s1")
    still = held(store, tp=None, sl="s2", side=Side.SHORT)
    nobody = filled("b1", symbol="BTCUSDT")
    listed_fill = filled("s2", side=Side.SHORT)
    fill = filled("s1")
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.pushed_closes"):
        settled = mon.settler.settle([nobody, listed_fill, fill], [listed(still), listed(gone, size="0")])
    assert settled == [(gone, CloseReason.STOP_LOSS, fill)]
    assert said(caplog) == [
        "pushed fill of ETHUSDT SHORT leg s2: the venue still lists the position; REST decides"
    ]
    after = store.positions.get(still.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN


async def test_a_flat_word_stamped_the_instant_the_position_opened_counts_and_one_before_does_not(
    store: Store, clock: SimulatedClock
) -> None:
    mon, _ = monitor_on(store, clock)
    pos = held(store)
    fill = filled("s1")
    inbox = PushedFills()
    row = {"symbol": "ETHUSDT", "side": "LONG", "size": "0", "updatedTime": to_ms(OPENED)}
    inbox.note_position(row)
    assert mon.settler.early([fill], inbox) == [(pos, fill)]
    inbox.note_position(row | {"updatedTime": to_ms(OPENED) - 1})
    assert mon.settler.early([fill], inbox) == []


async def test_a_closer_the_venue_still_lists_open_is_not_filled_at_a_pushed_close(
    store: Store, clock: SimulatedClock
) -> None:
    """The push says the TP filled and the position is gone, but openAlgoOrders still lists the TP (the
    venue's lag): the close is booked, and the TP row is not filled on the push's word; the listed leg
    of a closed position is the orphan sweep's, which cancels it at the venue."""
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl=None)
    tp = leg(store, pos, "t1", OrderKind.TP)
    ex.algos.append(listed_tp(pos))
    mon.pushed = PushedFills()
    mon.pushed.restore([filled("t1", "tp")])
    report = await mon.tick()
    assert report.closed == [(pos.id, CloseReason.TAKE_PROFIT)]
    after = store.orders.get(tp.id or 0)
    assert after is not None
    assert after.state is OrderState.CANCELLED
    assert store.events.of_kind("order.filled") == []
    assert ("cancel_algo_order", "t1") in ex.calls


def failing_once(ex: ScriptedExchange) -> None:
    """The position read fails once, after the tick's other reads are under way."""
    fail = [True]
    positions = ex.positions

    async def positions_once_down() -> list[ExchangePosition]:
        if fail.pop() if fail else False:
            await asyncio.sleep(0)
            raise ExchangeUnavailable("positions endpoint 502")
        return await positions()

    ex.positions = positions_once_down  # type: ignore[method-assign]


async def test_a_failed_position_read_ends_the_other_reads_within_the_tick_and_keeps_its_push(
    store: Store, clock: SimulatedClock
) -> None:
    """Ticks and commands are serialised: no read of a tick is still running when it returns. The pushed
    fill the failed read could not check closes the position on the next tick."""
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl="s1")
    mon.pushed = PushedFills()
    mon.pushed.restore([filled("t1", "tp")])
    failing_once(ex)
    ended: list[str] = []
    algos = ex.open_algo_orders

    async def algos_hanging(symbol: str | None = None) -> list[AlgoOrder]:
        try:
            await asyncio.Event().wait()
        finally:
            for _ in range(5):  # a read's clean-up takes loop turns (httpx closes its stream)
                await asyncio.sleep(0)
            ended.append("open_algo_orders")
        return []

    ex.open_algo_orders = algos_hanging  # type: ignore[method-assign]
    report = await mon.tick()
    assert report.ok is False
    assert report.closed == []
    assert ended == ["open_algo_orders"]
    ex.open_algo_orders = algos  # type: ignore[method-assign]
    report = await mon.tick()
    assert report.ok
    assert report.closed == [(pos.id, CloseReason.TAKE_PROFIT)]


async def test_a_failed_position_read_still_books_the_sibling_cancels_sent_on_the_venues_two_pushes(
    store: Store, clock: SimulatedClock
) -> None:
    """The cancel went out with the reads (the fill and the side flat pushed); the tick returns only when
    the venue has answered it and the books say so."""
    mon, ex = monitor_on(store, clock)
    pos = held(store, tp="t1", sl="s1")
    stop = leg(store, pos, "s1", OrderKind.SL)
    mon.pushed = PushedFills()
    mon.pushed.restore([filled("t1", "tp")])
    mon.pushed.note_position({"symbol": "ETHUSDT", "side": "LONG", "size": "0", "updatedTime": to_ms(NOW)})
    failing_once(ex)

    async def slow_cancel(symbol: str, order_id: str) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    ex.cancel_algo_order = slow_cancel  # type: ignore[method-assign]
    report = await mon.tick()
    assert report.ok is False
    assert report.closed == []
    after = store.orders.get(stop.id or 0)
    assert after is not None
    assert after.state is OrderState.CANCELLED

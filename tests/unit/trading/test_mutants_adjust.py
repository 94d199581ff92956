"""An operator's stop-loss or take-profit move, value by value (README "No unprotected position": the
new leg rests before the old one is cancelled, the position row takes the new price only once the venue
accepted it; "Risk gates live outside the analyst": a moved stop is held to the stop limit and the
price's side; docs/benchmarks.md, mutation testing)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, OrderKind, OrderState, Side
from smt_engine.exchange.base import ExchangeUnavailable, InvalidOrder, OrderStatus
from smt_engine.store import Store
from smt_engine.trading.adjust import AdjustCode, AdjustRefused
from tests.unit.trading.adjust_support import current, events, ready
from tests.unit.trading.closing_support import algo, client_id
from tests.unit.trading.conftest import CONTRACTS, drive


def legs(venue: object, kind: str) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (a.order_id, a.trigger_price, a.size)
        for a in venue.algos  # type: ignore[attr-defined]
        if a.kind == kind and a.position_side is Side.LONG and a.symbol == "ETHUSDT"
    ]


async def test_a_moved_stop_rests_on_the_tick_before_the_old_one_is_cancelled(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    old = store.orders.by_exchange_id("1003")
    assert old is not None
    new_id = venue.next_id()
    await clock.advance(60)  # the move comes later than the position's last update
    moved = await drive(clock, adjuster.move(position, "sl", Decimal("1980.004"), "alice"))

    assert moved == {
        "message": "ETHUSDT LONG stop-loss now 1980.01",  # rounded up: the tighter side of a long
        "position_id": position.id,
        "leg": "sl",
        "price": "1980.01",
        "order_id": new_id,
    }
    assert legs(venue, "sl") == [(new_id, Decimal("1980.01"), Decimal("1.50"))]
    assert [a.order_id for a in venue.algos if a.kind == "tp"] == ["1002"]  # the other leg is untouched
    sent = [name for name, _ in venue.sent]
    assert sent.index("open_algo_orders") < sent.index("cancel_algo_order")
    assert ("cancel_algo_order", ("ETHUSDT", "1003")) in venue.sent
    assert venue.calls.index(
        ("place_tp_sl", ("ETHUSDT", Side.LONG, "sl", Decimal("1980.01"), Decimal("1.50")))
    ) < (venue.calls.index(("cancel_algo_order", "1003")))
    row = current(store, position.id)
    (event,) = events(store, "position.protection_moved")
    assert (row.sl_price, row.sl_order_id, row.updated_at) == (Decimal("1980.01"), new_id, event.at)
    assert row.updated_at > position.updated_at
    assert (row.tp_price, row.tp_order_id) == (Decimal("2100.00"), "1002")
    assert event.level is EventLevel.INFO
    assert event.message == "ETHUSDT LONG: stop-loss moved by alice from 1960 to 1980.01"
    assert (event.proposal_id, event.position_id) == (1, position.id)
    assert event.data == {
        "actor": "alice", "leg": "sl", "from": "1960.00", "to": "1980.01", "order_id": new_id, "left": [],
    }  # fmt: skip
    placed = store.orders.by_client_id(client_id(store, 1, "osl2"))
    assert placed is not None
    assert (placed.exchange_order_id, placed.kind, placed.state) == (
        new_id,
        OrderKind.SL,
        OrderState.SUBMITTED,
    )
    assert (placed.trigger_price, placed.size, placed.position_id) == (Decimal("1980.01"), Decimal("1.50"), 2)
    assert placed.request == {"reason": "moved by alice", "actor": "alice"}
    cancelled = store.orders.get(old.id or 0)
    assert cancelled is not None
    assert cancelled.state is OrderState.CANCELLED
    [trail] = [e for e in events(store, "order.cancelled") if e.order_id == old.id]
    assert trail.data["reason"] == "replaced (moved by alice)"
    assert store.contracts.load("ETHUSDT") == (CONTRACTS["ETHUSDT"], event.at)
    assert ("contracts", ["ETHUSDT"]) in venue.calls  # the one contract, not the venue's whole list


async def test_a_moved_take_profit_is_rounded_to_the_nearest_tick_and_replaces_the_old_one(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    new_id = venue.next_id()
    moved = await drive(clock, adjuster.move(position, "tp", Decimal("2150.004"), "bob"))
    assert moved == {
        "message": "ETHUSDT LONG take-profit now 2150",
        "position_id": position.id,
        "leg": "tp",
        "price": "2150",
        "order_id": new_id,
    }
    assert legs(venue, "tp") == [(new_id, Decimal("2150.00"), Decimal("1.50"))]
    assert [a.order_id for a in venue.algos if a.kind == "sl"] == ["1003"]
    row = current(store, position.id)
    assert (row.tp_price, row.tp_order_id, row.sl_price, row.sl_order_id) == (
        Decimal("2150.00"), new_id, Decimal("1960.00"), "1003",
    )  # fmt: skip
    (event,) = events(store, "position.protection_moved")
    assert event.message == "ETHUSDT LONG: take-profit moved by bob from 2100 to 2150"
    assert event.data == {
        "actor": "bob", "leg": "tp", "from": "2100.00", "to": "2150.00", "order_id": new_id, "left": [],
    }  # fmt: skip
    placed = store.orders.by_client_id(client_id(store, 1, "otp2"))
    assert placed is not None
    assert placed.exchange_order_id == new_id


async def test_a_first_stop_on_a_position_without_one_says_from_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, _, _, position = await ready(store, clock)
    bare = replace(position, sl_price=None)
    await drive(clock, adjuster.move(bare, "sl", Decimal(1950), "alice"))
    (event,) = events(store, "position.protection_moved")
    assert event.message == "ETHUSDT LONG: stop-loss moved by alice from - to 1950"
    assert event.data["from"] is None


async def test_a_stop_past_the_limit_or_on_the_wrong_side_sends_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "sl", Decimal(1800), "alice"))
    assert str(info.value) == (
        "max_stop_distance: ETHUSDT LONG stop 1800 is 10.00% from the entry 2000, past the limit 8% "
        "(analyst.max_sl_pct); the current stop 1960 stays"
    )
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "sl", Decimal("2000.001"), "alice"))
    assert str(info.value) == "stop_wrong_side: a LONG stop must be below the price 2000; 2000.01 is not"
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "tp", Decimal("1999.996"), "alice"))
    assert str(info.value) == (
        "take_profit_wrong_side: a LONG take-profit must be above the price 2000; 2000 is not"
    )
    assert venue.count("place_tp_sl") == 0
    assert venue.count("cancel_algo_order") == 0
    assert current(store, position.id) == position
    assert events(store, "position.protection_moved") == []


async def test_in_the_final_days_a_moved_stop_is_held_to_the_phases_distance(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, executor, position = await ready(store, clock)
    window = {"competition": {"start": "2026-01-10", "end": "2026-01-20"}}  # NOW is its last day
    executor.settings.competition = Settings.model_validate(window).competition
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "sl", Decimal(1950), "alice"))
    assert str(info.value) == (
        "max_stop_distance: ETHUSDT LONG stop 1950 is 2.50% from the entry 2000, past the limit 1.5% "
        "(the final days' stop distance); the current stop 1960 stays"
    )
    assert venue.count("place_tp_sl") == 0


async def test_a_take_profit_is_not_held_to_the_stop_limit(store: Store, clock: SimulatedClock) -> None:
    adjuster, _, _, position = await ready(store, clock)
    await drive(clock, adjuster.move(position, "tp", Decimal(2400), "alice"))  # 20 % away
    assert current(store, position.id).tp_price == Decimal("2400.00")


async def test_the_venue_price_judges_the_side_not_the_entry(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.prices["ETHUSDT"] = Decimal(1970)
    with pytest.raises(
        AdjustRefused, match=r"^stop_wrong_side: a LONG stop must be below the price 1970; 1975 is"
    ):
        await drive(clock, adjuster.move(position, "sl", Decimal(1975), "alice"))


async def test_an_unreadable_or_unknown_contract_is_refused_before_anything_is_sent(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(
        store, clock, contracts_error=ExchangeUnavailable("upstream 502")
    )
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    assert info.value.code is AdjustCode.NO_CONTRACT
    assert str(info.value) == "no_contract: ETHUSDT precision unreadable: ExchangeUnavailable: upstream 502"
    venue.contracts_error = None
    del venue.contract_map["ETHUSDT"]
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.reduce(position, Decimal("0.5"), None, "alice"))
    assert str(info.value) == "no_contract: ETHUSDT: the venue lists no such contract"
    assert store.contracts.load("ETHUSDT") is None
    assert venue.count("place_tp_sl") + venue.count("place_order") == 0


async def test_an_unreadable_or_implausible_price_is_refused_before_anything_is_sent(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock, ticker_error=ExchangeUnavailable("upstream 502"))
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    assert info.value.code is AdjustCode.NO_PRICE
    assert str(info.value) == "no_price: ETHUSDT price unreadable: ExchangeUnavailable: upstream 502"
    venue.ticker_error = None
    venue.prices["ETHUSDT"] = Decimal(0)
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "tp", Decimal(2150), "alice"))
    assert info.value.code is AdjustCode.NO_PRICE
    assert str(info.value) == (
        "no_price: ETHUSDT: price 0 refused (not positive; reference 0): the pair waits this cycle"
    )
    assert venue.count("place_tp_sl") == 0


async def test_unreadable_resting_legs_change_nothing(store: Store, clock: SimulatedClock) -> None:
    adjuster, venue, _, position = await ready(store, clock, algos_error=ExchangeUnavailable("upstream 502"))
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    assert info.value.code is AdjustCode.VENUE
    assert str(info.value) == (
        "venue_refused: the resting TP/SL could not be read (ExchangeUnavailable: upstream 502); "
        "nothing changed"
    )
    assert venue.count("place_tp_sl") == 0
    assert current(store, position.id) == position


async def test_a_new_leg_the_venue_refuses_leaves_the_old_one_and_the_row(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    venue.script.fail_place_tp_sl = InvalidOrder("trigger price out of range")
    with pytest.raises(AdjustRefused) as info:
        await drive(clock, adjuster.move(position, "tp", Decimal(2150), "alice"))
    assert info.value.code is AdjustCode.VENUE
    assert str(info.value) == (
        "venue_refused: the venue did not accept the new TP (see the events); nothing changed"
    )
    assert [a.order_id for a in venue.algos] == ["1002", "1003"]
    assert venue.count("cancel_algo_order") == 0
    assert current(store, position.id) == position
    assert events(store, "position.protection_moved") == []


async def test_only_this_positions_open_legs_of_the_kind_are_replaced(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(store, clock)
    second = algo("stray-sl", "ETHUSDT", Side.LONG)  # a second stop of ours, no row knows it
    others = [
        algo("short-sl", "ETHUSDT", Side.SHORT),
        replace(algo("done-sl", "ETHUSDT", Side.LONG), status=OrderStatus.TRIGGERED),
        algo("btc-sl", "BTCUSDT", Side.LONG),
    ]
    venue.algos += [second, *others]
    await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    cancelled = [args for name, args in venue.sent if name == "cancel_algo_order"]
    assert cancelled == [("ETHUSDT", "1003"), ("ETHUSDT", "stray-sl")]
    assert all(o in venue.algos for o in others)


async def test_an_old_leg_the_venue_does_not_cancel_is_reported_and_stays_open_in_the_books(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, venue, _, position = await ready(
        store, clock, cancel_error={"1003": ExchangeUnavailable("upstream 502")}
    )
    venue.algos.append(algo("stray-sl", "ETHUSDT", Side.LONG))
    new_id = venue.next_id()
    await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    (warning,) = events(store, "protection.cancel_failed")
    assert warning.level is EventLevel.WARNING
    assert warning.message == (
        "ETHUSDT LONG: the old SL 1003 was not cancelled (ExchangeUnavailable: upstream 502); it still rests "
        "beside the new one"
    )
    assert warning.position_id == position.id
    assert ("cancel_algo_order", ("ETHUSDT", "stray-sl")) in venue.sent  # the next one is still cancelled
    old = store.orders.by_exchange_id("1003")
    assert old is not None
    assert old.state is OrderState.SUBMITTED
    (moved,) = events(store, "position.protection_moved")
    assert moved.data["left"] == ["1003"]
    assert current(store, position.id).sl_order_id == new_id


async def test_the_leg_the_venue_answers_with_is_never_cancelled_as_an_old_one(
    store: Store, clock: SimulatedClock
) -> None:
    """A venue that keeps the order it already has under a client id answers with that order's id."""
    adjuster, venue, _, position = await ready(store, clock, leg_id="1003")
    venue.algos.append(algo("stray-sl", "ETHUSDT", Side.LONG))
    moved = await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    assert moved["order_id"] == "1003"
    assert [args for name, args in venue.sent if name == "cancel_algo_order"] == [("ETHUSDT", "stray-sl")]
    kept = store.orders.by_exchange_id("1003")
    assert kept is not None
    assert kept.state is OrderState.SUBMITTED


async def test_a_cancelled_leg_whose_row_already_ended_keeps_its_record(
    store: Store, clock: SimulatedClock
) -> None:
    adjuster, _, executor, position = await ready(store, clock)
    old = store.orders.by_exchange_id("1003")
    assert old is not None
    executor.desk.update(old, state=OrderState.REJECTED, why="test")
    await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    ended = store.orders.get(old.id or 0)
    assert ended is not None
    assert ended.state is OrderState.REJECTED
    assert [e for e in events(store, "order.cancelled") if e.order_id == old.id] == []


async def test_each_move_gets_the_next_leg_number(store: Store, clock: SimulatedClock) -> None:
    adjuster, _, _, position = await ready(store, clock)
    await drive(clock, adjuster.move(position, "sl", Decimal(1980), "alice"))
    await drive(clock, adjuster.move(current(store, position.id), "sl", Decimal(1985), "alice"))
    await drive(clock, adjuster.move(current(store, position.id), "tp", Decimal(2150), "alice"))
    cids = [o.client_order_id for o in store.orders.for_position(position.id or 0)]
    assert cids[-3:] == [client_id(store, 1, leg) for leg in ("osl2", "osl3", "otp2")]

"""The orphan sweep, value by value (README "Nothing is left half-done"; docs/benchmarks.md, mutation
testing): a TP/SL leg of no held position is flagged (at startup) or cancelled at the venue, a regular
order no row knows is flagged, and ``smt cleanup`` cancels what the books flagged, leaving the orders of
every position the venue or the books still hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import OrderKind, OrderState, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    Exchange,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    OrderStatus,
)
from smt_engine.store import Store
from smt_engine.store.records import Order
from smt_engine.trading.orphans import OrphanSweep
from smt_engine.trading.tick_report import TickReport
from tests.unit.trading.conftest import NOW
from tests.unit.trading.inflight_support import reasons
from tests.unit.trading.reconcile_support import position
from tests.unit.trading.scripted import listed_position

EARLIER = NOW - timedelta(minutes=3)


@dataclass
class Venue:
    """What the sweep reads and cancels; a cancel of an id in ``refuse`` fails as the venue would."""

    held: list[ExchangePosition] = field(default_factory=list)
    algos: list[AlgoOrder] = field(default_factory=list)
    regular: list[ExchangeOrder] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    unreadable: bool = False
    calls: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def positions(self) -> list[ExchangePosition]:
        if self.unreadable:
            raise ExchangeUnavailable("positions answered 503")
        return list(self.held)

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        return list(self.algos)

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        return list(self.regular)

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None:
        self.calls.append(("cancel_algo_order", symbol, order_id))
        if order_id in self.refuse:
            raise ExchangeUnavailable(f"cancel {order_id} answered 503")

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        self.calls.append(("cancel_order", symbol, order_id))
        if order_id in self.refuse:
            raise ExchangeUnavailable(f"cancel {order_id} answered 503")


def sweep_on(store: Store, clock: SimulatedClock, venue: Venue) -> OrphanSweep:
    return OrphanSweep(store, clock, cast(Exchange, venue))


def leg(
    oid: str,
    kind: str = "sl",
    *,
    cid: str | None = None,
    symbol: str = "ETHUSDT",
    side: Side = Side.LONG,
    status: OrderStatus = OrderStatus.UNTRIGGERED,
    trigger: str | None = "1950",
    size: str = "1.5",
) -> AlgoOrder:
    return AlgoOrder(
        order_id=oid,
        client_order_id=cid,
        symbol=symbol,
        position_side=side,
        kind=kind,  # type: ignore[arg-type]
        trigger_price=Decimal(trigger) if trigger is not None else None,
        size=Decimal(size),
        status=status,
        created_at=EARLIER,
    )


def resting(
    oid: str, *, cid: str | None = None, symbol: str = "BTCUSDT", side: Side = Side.SHORT
) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=oid,
        client_order_id=cid,
        symbol=symbol,
        position_side=side,
        reduce_only=True,
        order_type="LIMIT",
        status=OrderStatus.NEW,
        size=Decimal("0.25"),
        filled_size=Decimal(0),
        price=Decimal(99000),
        avg_price=None,
        created_at=EARLIER,
        updated_at=EARLIER,
        kind="close",
    )


def held(symbol: str, side: Side, size: str = "1.5") -> ExchangePosition:
    return listed_position(symbol, side, size, opened_at=EARLIER, margin=Decimal(100))


def row(
    store: Store,
    cid: str,
    *,
    venue_id: str | None = None,
    kind: OrderKind = OrderKind.SL,
    state: OrderState = OrderState.SUBMITTED,
    orphan: bool = False,
    symbol: str = "ETHUSDT",
) -> Order:
    return store.orders.insert(
        Order(
            client_order_id=cid,
            exchange_order_id=venue_id,
            symbol=symbol,
            side=Side.LONG,
            kind=kind,
            size=Decimal("1.5"),
            state=state,
            created_at=EARLIER,
            updated_at=EARLIER,
            orphan=orphan,
        )
    )


def flagged_row(oid: str, symbol: str, side: Side, kind: OrderKind, size: str, trigger: str | None) -> Order:
    return Order(
        client_order_id=f"exchange:{oid}",
        exchange_order_id=oid,
        symbol=symbol,
        side=side,
        kind=kind,
        size=Decimal(size),
        trigger_price=Decimal(trigger) if trigger is not None else None,
        state=OrderState.SUBMITTED,
        created_at=NOW,
        updated_at=NOW,
        orphan=True,
    )


def rows_of(store: Store, *oids: str) -> list[Order]:
    out = []
    for oid in oids:
        found = store.orders.by_exchange_id(oid)
        assert found is not None, oid
        out.append(found)
    return out


def without_id(order: Order) -> Order:
    return replace(order, id=None)


def replace_times(order: Order, at: object) -> Order:
    return replace(order, created_at=at, updated_at=at)


def sweep_records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, Any]]:
    return [
        (r.levelno, r.getMessage(), r.__dict__.get("event"))
        for r in caplog.records
        if r.name == "smt_engine.trading.orphans"
    ]


async def test_at_startup_each_leg_of_no_held_position_is_flagged_with_its_values(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    venue = Venue()
    legs = [
        leg("1", "tp", trigger="2200", size="0.5"),
        leg("2", "sl", symbol="SOLUSDT", side=Side.SHORT, trigger="160", size="3"),
        leg("3", "trailing", trigger=None),  # a kind that is neither: booked as a close
        leg("4", "sl", symbol="BTCUSDT"),  # its position is held: left alone
        leg("5", "sl", status=OrderStatus.TRIGGERED),  # no longer open: left alone
        leg("6", "sl", symbol="BTCUSDT", side=Side.SHORT),  # the same symbol, the other side: flagged
    ]
    report = TickReport()
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.orphans"):
        await sweep_on(store, clock, venue).sweep({("BTCUSDT", Side.LONG)}, legs, [], report, cancel=False)
    assert report.orphans_flagged == ["1", "2", "3", "6"]
    assert report.orphans_cancelled == []
    assert venue.calls == []  # at startup nothing is cancelled
    assert [without_id(o) for o in rows_of(store, "1", "2", "3", "6")] == [
        flagged_row("1", "ETHUSDT", Side.LONG, OrderKind.TP, "0.5", "2200"),
        flagged_row("2", "SOLUSDT", Side.SHORT, OrderKind.SL, "3", "160"),
        flagged_row("3", "ETHUSDT", Side.LONG, OrderKind.CLOSE, "1.5", None),
        flagged_row("6", "BTCUSDT", Side.SHORT, OrderKind.SL, "1.5", "1950"),
    ]
    assert store.orders.by_exchange_id("4") is None
    assert store.orders.by_exchange_id("5") is None
    assert sweep_records(caplog) == [
        (logging.WARNING, f"order {oid} on {sym} belongs to no position (orphan)", "order.orphan")
        for oid, sym in (("1", "ETHUSDT"), ("2", "SOLUSDT"), ("3", "ETHUSDT"), ("6", "BTCUSDT"))
    ]


async def test_a_known_leg_is_flagged_on_its_row_once(store: Store, clock: SimulatedClock) -> None:
    plain = row(store, "smt-a-sl", venue_id="1")
    already = row(store, "smt-b-sl", venue_id="2", orphan=True)
    sent = row(store, "smt-c-sl", state=OrderState.PENDING_SUBMIT)  # its answer, with the id, was lost
    other = row(store, "smt-z-sl", state=OrderState.PENDING_SUBMIT)  # not leg 1: that one has its row
    await clock.advance(9)
    report = TickReport()
    await sweep_on(store, clock, Venue()).sweep(
        set(), [leg("1", cid="smt-z-sl"), leg("2"), leg("3", cid="smt-c-sl")], [], report, cancel=False
    )
    at = NOW + timedelta(seconds=9)
    assert report.orphans_flagged == ["1", "2", "3"]
    assert store.orders.get(plain.id or 0) == replace(plain, orphan=True, updated_at=at)
    assert store.orders.get(already.id or 0) == already  # nothing to write: not even its time
    assert store.orders.get(sent.id or 0) == replace(sent, exchange_order_id="3", orphan=True, updated_at=at)
    assert store.orders.get(other.id or 0) == other
    assert len(store.orders.select()) == 4  # no second row for any of them


async def test_a_leg_with_another_rows_client_id_gets_its_own_row(
    store: Store, clock: SimulatedClock
) -> None:
    placed = row(store, "smt-d-sl", venue_id="8")  # that client id's row already knows its own order
    await sweep_on(store, clock, Venue()).sweep(
        set(), [leg("9", cid="smt-d-sl")], [], TickReport(), cancel=False
    )
    assert store.orders.get(placed.id or 0) == placed
    assert without_id(rows_of(store, "9")[0]) == flagged_row(
        "9", "ETHUSDT", Side.LONG, OrderKind.SL, "1.5", "1950"
    )


async def test_on_the_tick_each_leg_of_no_held_position_is_cancelled_at_the_venue(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    known = row(store, "smt-e-sl", venue_id="1")
    done = row(store, "smt-f-tp", venue_id="4", kind=OrderKind.TP, state=OrderState.CANCELLED)
    venue = Venue(refuse={"2"})
    legs = [
        leg("1"),
        leg("2", "tp", cid="smt-g-tp", trigger="2300", size="0.75"),  # the venue refuses: flagged instead
        leg("3", symbol="SOLUSDT", side=Side.SHORT),  # after a refused one: still cancelled
        leg("4", "tp"),
        leg("5", symbol="BTCUSDT"),  # held
    ]
    report = TickReport()
    await clock.advance(4)
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.orphans"):
        await sweep_on(store, clock, venue).sweep({("BTCUSDT", Side.LONG)}, legs, [], report, cancel=True)
    assert venue.calls == [
        ("cancel_algo_order", "ETHUSDT", "1"),
        ("cancel_algo_order", "ETHUSDT", "2"),
        ("cancel_algo_order", "SOLUSDT", "3"),
        ("cancel_algo_order", "ETHUSDT", "4"),
    ]
    assert report.orphans_cancelled == ["1", "3", "4"]
    assert report.orphans_flagged == []
    cancelled = store.orders.get(known.id or 0)
    assert cancelled is not None
    assert cancelled.state is OrderState.CANCELLED
    assert cancelled.updated_at == NOW + timedelta(seconds=4)
    assert reasons(store, "order.cancelled") == ["cancelled: it protected no position"]
    (event,) = store.events.of_kind("order.cancelled")
    assert event.data["actor"] == "monitor"
    assert event.order_id == known.id
    assert store.orders.get(done.id or 0) == done  # already final: left as it was
    assert store.orders.by_exchange_id("3") is None  # cancelled at once: no row to keep
    assert without_id(rows_of(store, "2")[0]) == replace_times(
        flagged_row("2", "ETHUSDT", Side.LONG, OrderKind.TP, "0.75", "2300"), NOW + timedelta(seconds=4)
    )
    assert sweep_records(caplog) == [
        (logging.INFO, "cancelled orphan sl order 1 on ETHUSDT (no LONG position)", "order.orphan_cancelled"),
        (logging.WARNING, "could not cancel orphan ETHUSDT 2: cancel 2 answered 503", None),
        (logging.WARNING, "order 2 on ETHUSDT belongs to no position (orphan)", "order.orphan"),
        (
            logging.INFO,
            "cancelled orphan sl order 3 on SOLUSDT (no SHORT position)",
            "order.orphan_cancelled",
        ),
        (logging.INFO, "cancelled orphan tp order 4 on ETHUSDT (no LONG position)", "order.orphan_cancelled"),
    ]


async def test_a_refused_cancel_of_a_leg_with_our_client_id_flags_its_own_row(
    store: Store, clock: SimulatedClock
) -> None:
    sent = row(store, "smt-h-sl", state=OrderState.PENDING_SUBMIT)
    venue = Venue(refuse={"7"})
    await sweep_on(store, clock, venue).sweep(
        set(), [leg("7", cid="smt-h-sl")], [], TickReport(), cancel=True
    )
    assert [o.id for o in store.orders.select()] == [sent.id]
    adopted = store.orders.get(sent.id or 0)
    assert adopted is not None
    assert adopted.exchange_order_id == "7"
    assert adopted.orphan


async def test_a_regular_order_no_row_knows_is_flagged_as_a_close(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    by_id = row(store, "smt-i-close", venue_id="11", kind=OrderKind.CLOSE, symbol="BTCUSDT")
    by_cid = row(store, "smt-j-close", kind=OrderKind.CLOSE, symbol="BTCUSDT")
    # known by its venue id, under a client id no row has (as the venue may name it): still known
    renamed = row(store, "smt-l-close", venue_id="16", kind=OrderKind.CLOSE, symbol="BTCUSDT")
    regular = [
        resting("11"),
        resting("12", cid="smt-j-close"),
        resting("13", cid="smt-unknown"),
        resting("14"),
        resting("15", cid=""),
        resting("16", cid="venue-made"),
    ]
    report = TickReport()
    venue = Venue()
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.orphans"):
        await sweep_on(store, clock, venue).sweep(set(), [], regular, report, cancel=True)
    assert report.orphans_flagged == ["13", "14", "15"]
    assert report.orphans_cancelled == []
    assert venue.calls == []  # a regular order is flagged only: `smt cleanup` cancels it
    assert store.orders.get(by_id.id or 0) == by_id
    assert store.orders.get(by_cid.id or 0) == by_cid
    assert store.orders.get(renamed.id or 0) == renamed
    assert [without_id(o) for o in rows_of(store, "13", "14", "15")] == [
        flagged_row(oid, "BTCUSDT", Side.SHORT, OrderKind.CLOSE, "0.25", None) for oid in ("13", "14", "15")
    ]
    assert [m for _, m, _ in sweep_records(caplog)] == [
        f"order {oid} on BTCUSDT belongs to no position (orphan)" for oid in ("13", "14", "15")
    ]


async def test_cleanup_cancels_the_flagged_and_the_unheld_and_leaves_what_a_position_holds(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    position(store)  # the books hold ETHUSDT long though the venue's list misses it
    venue = Venue(
        held=[held("BTCUSDT", Side.LONG, size="0.5"), held("SOLUSDT", Side.LONG, size="0")],
        algos=[
            leg("1", symbol="BTCUSDT"),  # the venue holds its position
            leg("2"),  # the books hold its position
            leg("3", symbol="SOLUSDT"),  # a position of size 0 holds nothing
            leg("4", symbol="DOGEUSDT", side=Side.SHORT),
        ],
    )
    regular_orphan = row(store, "exchange:21", venue_id="21", kind=OrderKind.CLOSE, orphan=True)
    refused = row(store, "exchange:22", venue_id="22", kind=OrderKind.CLOSE, orphan=True, symbol="BTCUSDT")
    row(store, "exchange:23", venue_id="23", kind=OrderKind.TP, orphan=True)  # a leg: the sweep's
    row(store, "exchange:24", venue_id="24", kind=OrderKind.SL, orphan=True)
    row(store, "smt-k-close", kind=OrderKind.CLOSE, orphan=True)  # no venue id: nothing to cancel
    later = row(store, "exchange:25", venue_id="25", kind=OrderKind.CLOSE, orphan=True, symbol="SOLUSDT")
    venue.refuse = {"22"}
    with caplog.at_level(logging.INFO, logger="smt_engine.trading.orphans"):
        result = await sweep_on(store, clock, venue).cleanup()
    assert result == {"cancelled": ["3", "4", "21", "25"]}
    assert venue.calls == [
        ("cancel_algo_order", "SOLUSDT", "3"),
        ("cancel_algo_order", "DOGEUSDT", "4"),
        ("cancel_order", "ETHUSDT", "21"),
        ("cancel_order", "BTCUSDT", "22"),
        ("cancel_order", "SOLUSDT", "25"),
    ]
    states = {o.exchange_order_id: o.state for o in store.orders.select()}
    assert states == {
        "21": OrderState.CANCELLED,
        "22": OrderState.SUBMITTED,
        "23": OrderState.SUBMITTED,
        "24": OrderState.SUBMITTED,
        None: OrderState.SUBMITTED,
        "25": OrderState.CANCELLED,
    }
    assert store.orders.get(regular_orphan.id or 0) is not None
    assert store.orders.get(later.id or 0) is not None
    assert store.orders.get(refused.id or 0) == refused
    assert (
        logging.WARNING,
        "could not cancel orphan order 22: cancel 22 answered 503",
        None,
    ) in sweep_records(caplog)


async def test_cleanup_cancels_nothing_when_the_venue_cannot_be_read(
    store: Store, clock: SimulatedClock
) -> None:
    row(store, "exchange:21", venue_id="21", kind=OrderKind.CLOSE, orphan=True)
    venue = Venue(unreadable=True, algos=[leg("1")])
    with pytest.raises(RuntimeError) as refused:
        await sweep_on(store, clock, venue).cleanup()
    assert str(refused.value) == "exchange read failed, nothing cancelled: positions answered 503"
    assert isinstance(refused.value.__cause__, ExchangeUnavailable)
    assert venue.calls == []

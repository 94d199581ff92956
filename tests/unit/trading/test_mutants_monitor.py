"""One monitor tick in process, value by value (README "The exchange is the source of truth", "No
unprotected position", "A kill switch that watches"; docs/benchmarks.md, mutation testing): a failed
read changes nothing, the venue's positions are adopted or refreshed and the ones it no longer has
closed out, the stop guard acts only on positions the venue reports, and every tick snapshots equity
for the kill switch.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, HealthStatus, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    Balance,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    OrderStatus,
)
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot, Order, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import RECONCILE, Monitor
from smt_engine.trading.pushed import PushedFills, PushedLegFill
from smt_engine.trading.risk import ReasonCode
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, eth_position, make_settings
from tests.unit.trading.inflight_support import at_venue
from tests.unit.trading.scripted import ScriptedExchange, listed_position

OPENED = NOW - timedelta(hours=1)


def monitor_on(store: Store, clock: SimulatedClock) -> tuple[Monitor, ScriptedExchange]:
    settings = make_settings(pairs={"tier1": ["ETH"], "tier2": []})
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.now = clock.now
    executor = Executor(ex, store, clock, settings, AiLogOutbox(store, clock, settings))
    return Monitor(settings, store, clock, ex, executor, None), ex


def venue_position(side: Side = Side.LONG, size: str = "1.5", symbol: str = "ETHUSDT") -> ExchangePosition:
    return listed_position(symbol, side, size, opened_at=OPENED, updated_at=NOW)


def sl_of(pos: ExchangePosition, oid: str = "s1") -> AlgoOrder:
    return AlgoOrder(
        oid, None, pos.symbol, pos.side, "sl", Decimal(1900), pos.size, OrderStatus.UNTRIGGERED, NOW
    )


def stored(store: Store, side: Side = Side.LONG, state: PositionState = PositionState.OPEN) -> Position:
    return store.positions.insert(
        eth_position(
            side=side,
            opened_at=OPENED,
            state=state,
            updated_at=OPENED,
            sl_price=Decimal(1960),
        )
    )


def health(store: Store) -> tuple[HealthStatus, str, dict[str, object]]:
    row = next(h for h in store.health.all() if h.component == RECONCILE)
    return row.status, row.detail, row.data


async def test_a_failed_read_aborts_the_tick_and_changes_nothing(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store)

    async def down() -> list[ExchangePosition]:
        raise ExchangeUnavailable("positions endpoint 502")

    ex.positions = down  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO):
        report = await mon.tick()
    logged = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if getattr(r, "event", None) == "monitor.read_failed"
    ]
    assert logged == [
        (
            logging.WARNING,
            "monitor: exchange read failed, the rest of the tick skipped: "
            "ExchangeUnavailable: positions endpoint 502",
        )
    ]
    assert report.ok is False
    assert report.error == "ExchangeUnavailable: positions endpoint 502"
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN
    assert ex.count("place_tp_sl") == 0
    assert ex.count("balance") == 0
    status, detail, _ = health(store)
    assert status is HealthStatus.DOWN
    assert detail == "ExchangeUnavailable: positions endpoint 502"


async def test_a_position_only_the_venue_has_is_adopted_and_protected(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    ex.positions_[("ETHUSDT", Side.LONG)] = venue_position()
    ex.positions_[("ETHUSDT", Side.SHORT)] = venue_position(Side.SHORT, size="0")  # no position at all
    report = await mon.tick()
    assert report.ok is True
    assert report.error is None
    adopted = store.positions.open_positions()
    assert [(p.side, p.opened_at, p.adopted) for p in adopted] == [(Side.LONG, OPENED, True)]
    assert report.adopted == [adopted[0].id]
    assert report.stops_placed == [adopted[0].id]  # adopted without a stop: one is placed at once
    assert [a[2] for c, a in ex.calls if c == "place_tp_sl"] == ["sl"]
    status, detail, data = health(store)
    assert status is HealthStatus.OK
    assert detail == "1 position(s), 0 order(s) still being resolved"
    assert data == {"positions": 1, "unresolved_orders": 0}


async def test_a_known_position_is_refreshed_and_a_resting_stop_left_alone(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    live = venue_position(size="1.2")
    ex.positions_[("ETHUSDT", Side.LONG)] = live
    ex.algos.append(sl_of(live))
    report = await mon.tick()
    assert report.adopted == []
    assert report.stops_placed == []
    assert report.closed == []
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.size == Decimal("1.2")
    assert after.sl_order_id == "s1"
    assert ex.count("place_tp_sl") == 0
    assert ex.count("close_position") == 0


async def test_a_stop_the_venue_lists_open_stays_open_in_the_books_and_at_the_venue(
    store: Store, clock: SimulatedClock
) -> None:
    """Venue truth (issue 21): the tick hands the in-flight tracker every order id the venue lists as
    open; a stop row it lists stays submitted and is never cancelled, however long it has rested."""
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    live = venue_position()
    ex.positions_[("ETHUSDT", Side.LONG)] = live
    ex.algos.append(sl_of(live))
    row = store.orders.insert(
        Order(
            client_order_id="sl-resting",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.SL,
            size=Decimal("1.5"),
            state=OrderState.SUBMITTED,
            created_at=OPENED,
            updated_at=OPENED,
            exchange_order_id="s1",
            position_id=pos.id,
        )
    )
    await clock.advance(3600)  # far past the visibility window
    report = await mon.tick()
    assert report.inflight.unresolved == []
    after = store.orders.get(row.id or 0)
    assert after is not None
    assert after.state is OrderState.SUBMITTED
    assert ex.count("cancel_algo_order") == 0
    assert [a.order_id for a in ex.algos] == ["s1"]


async def test_a_position_the_venue_no_longer_has_is_closed_out_and_its_orders_settled(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    leftover = store.orders.insert(
        Order(
            client_order_id="tp-left",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.TP,
            size=Decimal("1.5"),
            state=OrderState.SUBMITTED,
            created_at=OPENED,
            updated_at=OPENED,
            exchange_order_id="gone",
            position_id=pos.id,
        )
    )
    # Missing with nothing that explains it: not booked closed on one answer, its orders left alone.
    with caplog.at_level(logging.WARNING):
        first = await mon.tick()
    assert first.closed == []
    assert ex.count("cancel_algo_order") == 0
    (warning,) = [r for r in caplog.records if getattr(r, "event", None) == "position.unexplained"]
    assert warning.position_id == pos.id
    assert warning.levelno == logging.WARNING
    await clock.advance(mon.settings.trading.order_visibility.total_seconds())
    report = await mon.tick()
    assert report.closed == [(pos.id, CloseReason.UNKNOWN)]
    said = [r for r in caplog.records if getattr(r, "event", None) == "position.unexplained"]
    assert len(said) == 1  # said once
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    settled = store.orders.get(leftover.id or 0)
    assert settled is not None
    assert settled.state.is_terminal
    assert ex.count("place_tp_sl") == 0
    assert ex.count("close_position") == 0


async def test_a_close_not_yet_explained_gets_no_stop_and_no_market_close(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    store.positions.update(pos.id or 0, opened_at=NOW - timedelta(days=5))  # past max hold, too

    async def unreadable(symbol: str, since: object = None, limit: int = 100) -> list[object]:
        raise ExchangeUnavailable("history 502")

    ex.order_history = unreadable  # type: ignore[method-assign,assignment]
    report = await mon.tick()
    assert report.ok is True
    assert report.closed == []
    assert report.stops_placed == []
    assert report.forced == []
    assert ex.count("place_tp_sl") == 0
    assert ex.count("close_position") == 0
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN


async def test_a_held_position_past_max_hold_is_force_closed(store: Store, clock: SimulatedClock) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    store.positions.update(pos.id or 0, opened_at=NOW - timedelta(days=5))
    live = venue_position()
    ex.positions_[("ETHUSDT", Side.LONG)] = live
    ex.algos.append(sl_of(live))
    report = await mon.tick()
    assert report.forced == [pos.id]
    assert ex.calls.count(("close_position", ("ETHUSDT", Side.LONG))) == 1


async def test_a_closing_position_whose_close_ended_is_guarded_again(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    pos = stored(store, state=PositionState.CLOSING)
    store.orders.insert(
        Order(
            client_order_id="c1",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.CLOSE,
            size=Decimal("1.5"),
            state=OrderState.REJECTED,
            created_at=OPENED,
            updated_at=OPENED,
            position_id=pos.id,
        )
    )
    store.positions.update(pos.id or 0, opened_at=NOW - timedelta(days=5))
    ex.positions_[("ETHUSDT", Side.LONG)] = venue_position()
    report = await mon.tick()
    assert report.stops_placed == [pos.id]  # open again: its missing stop is re-placed ...
    assert report.forced == [pos.id]  # ... and max hold applies to it once more


async def test_the_start_up_tick_loads_every_listed_contract_and_cancels_no_orphan(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)
    btc = store.positions.insert(
        eth_position(
            symbol="BTCUSDT",
            side=Side.SHORT,
            size=Decimal("0.01"),
            entry_price=Decimal(100000),
            opened_at=OPENED,
            updated_at=OPENED,
        )
    )
    ex.positions_[("BTCUSDT", Side.SHORT)] = venue_position(Side.SHORT, "0.01", "BTCUSDT")
    orphan = AlgoOrder(
        "o1", None, "SOLUSDT", Side.LONG, "tp", Decimal(200), Decimal(1), OrderStatus.UNTRIGGERED, NOW
    )
    ex.algos.append(orphan)
    await mon.tick(startup=True)
    # every listed contract (None: the venue itself, past any cache), whether or not configured
    assert [args for name, args in ex.calls if name == "contracts"] == [None]
    assert {s: store.contracts.load(s) for s in CONTRACTS} == {s: (c, NOW) for s, c in CONTRACTS.items()}
    assert ex.count("cancel_algo_order") == 0  # at start-up an orphan is flagged, not cancelled
    assert btc.id is not None
    report = await mon.tick()
    assert report.orphans_cancelled == ["o1"]
    assert ("cancel_algo_order", "o1") in ex.calls


async def test_a_position_adopted_at_start_up_in_an_unconfigured_symbol_is_stopped_on_todays_tick(
    store: Store, clock: SimulatedClock
) -> None:
    """Only ETH is configured and the books know no SOL position, but a month-old SOL row (tick 7) is
    stored: the start-up load replaces it with the venue's, so the adopted position's stop is on 0.01."""
    mon, ex = monitor_on(store, clock)
    store.contracts.save(replace(CONTRACTS["SOLUSDT"], tick_size=Decimal(7)), NOW - timedelta(days=30))
    ex.positions_[("SOLUSDT", Side.LONG)] = venue_position(Side.LONG, "1.5", "SOLUSDT")
    report = await mon.tick(startup=True)
    assert report.ok, report.error
    assert store.contracts.load("SOLUSDT") == (CONTRACTS["SOLUSDT"], NOW)
    (stop,) = [a.trigger_price for a in ex.algos if a.symbol == "SOLUSDT" and a.kind == "sl"]
    assert stop % Decimal("0.01") == 0
    assert stop % 7 != 0, stop


async def test_every_tick_snapshots_equity_and_a_breach_halts(store: Store, clock: SimulatedClock) -> None:
    mon, ex = monitor_on(store, clock)
    halts: list[tuple[str, ReasonCode]] = []
    store.account.insert(
        AccountSnapshot(
            at=NOW - timedelta(hours=1),
            balance=Decimal(1000),
            equity=Decimal(1000),
            available=Decimal(1000),
            unrealized_pnl=Decimal(0),
            margin_used=Decimal(0),
        )
    )
    ex.available = Decimal(950)
    report = await mon.tick()  # 5 % down: within the 10 % daily limit
    assert report.halted is None
    latest = store.account.latest()
    assert latest is not None
    assert latest.at == NOW
    assert latest.equity == Decimal(950)
    mon.on_halt = lambda reason, code: halts.append((reason, code))
    ex.available = Decimal(900)
    report = await mon.tick()
    assert report.halted is ReasonCode.DAILY_LOSS
    assert len(halts) == 1
    assert halts[0][1] is ReasonCode.DAILY_LOSS
    assert "daily loss 10.00%" in halts[0][0]


async def test_a_breach_without_a_halt_handler_is_still_reported(store: Store, clock: SimulatedClock) -> None:
    mon, ex = monitor_on(store, clock)
    store.account.insert(
        AccountSnapshot(
            at=NOW - timedelta(hours=1),
            balance=Decimal(1000),
            equity=Decimal(1000),
            available=Decimal(1000),
            unrealized_pnl=Decimal(0),
            margin_used=Decimal(0),
        )
    )
    ex.available = Decimal(800)
    report = await mon.tick()
    assert report.halted is ReasonCode.DAILY_LOSS


async def test_an_unreadable_balance_skips_the_snapshot_not_the_tick(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    mon, ex = monitor_on(store, clock)
    ex.script.balance_error = ExchangeUnavailable("balance 502")
    ex.positions_[("ETHUSDT", Side.LONG)] = venue_position()
    with caplog.at_level(logging.DEBUG, logger="smt_engine.trading.monitor"):
        report = await mon.tick()
    assert "no equity snapshot this tick: balance 502" in caplog.messages
    assert report.ok is True
    assert report.halted is None
    assert len(report.adopted) == 1
    assert store.account.latest() is None


async def test_the_equity_point_keeps_every_figure_of_the_balance(
    store: Store, clock: SimulatedClock
) -> None:
    mon, ex = monitor_on(store, clock)

    async def balance() -> Balance:
        return Balance("USDT", Decimal(1000), Decimal(900), Decimal(0), Decimal(12))

    ex.balance = balance  # type: ignore[method-assign]
    await mon.tick()
    point = store.account.latest()
    assert point is not None
    assert point.at == NOW
    assert (point.balance, point.equity, point.available) == (Decimal(1000), Decimal(1012), Decimal(900))
    assert (point.unrealized_pnl, point.margin_used) == (Decimal(12), Decimal(100))


async def test_a_closed_positions_stop_left_on_a_newer_position_with_its_own_stop_is_cancelled(
    store: Store, clock: SimulatedClock
) -> None:
    """The tick hands the in-flight tracker the legs the venue lists: the newer position's own stop is
    what lets the old one go (never strip the only stop a held position has)."""
    mon, ex = monitor_on(store, clock)
    old = stored(store, state=PositionState.CLOSED)
    newer = stored(store)
    live = venue_position()
    ex.positions_[("ETHUSDT", Side.LONG)] = live
    ex.algos.extend([sl_of(live, "old-sl"), sl_of(live, "new-sl")])
    row = store.orders.insert(
        Order(
            client_order_id="old-sl",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.SL,
            size=Decimal("1.5"),
            state=OrderState.SUBMITTED,
            created_at=OPENED,
            updated_at=OPENED,
            exchange_order_id="old-sl",
            position_id=old.id,
        )
    )
    report = await mon.tick()
    assert report.inflight.unresolved == []
    assert ("cancel_algo_order", "old-sl") in ex.calls
    assert [a.order_id for a in ex.algos] == ["new-sl"]
    after = store.orders.get(row.id or 0)
    assert after is not None
    assert after.state is OrderState.CANCELLED
    own = store.orders.by_exchange_id("new-sl")  # tracked for the newer position, and kept
    assert own is not None
    assert own.position_id == newer.id
    assert own.state is OrderState.SUBMITTED


async def test_a_position_of_less_than_one_unit_is_held_not_closed_out(
    store: Store, clock: SimulatedClock
) -> None:
    """Any size above zero is a position (a size of one contract unit is no threshold)."""
    mon, ex = monitor_on(store, clock)
    pos = stored(store)
    live = venue_position(size="0.5")
    ex.positions_[("ETHUSDT", Side.LONG)] = live
    ex.algos.append(sl_of(live))
    report = await mon.tick()
    assert report.closed == []
    assert report.adopted == []
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN
    assert after.size == Decimal("0.5")


async def test_a_stop_the_stream_pushed_filled_closes_its_position_from_the_push(
    store: Store, clock: SimulatedClock
) -> None:
    mon, _ = monitor_on(store, clock)
    pos = stored(store)
    store.positions.update(pos.id or 0, sl_order_id="s1")
    mon.pushed = PushedFills()
    fill = PushedLegFill(
        "s1", "ETHUSDT", Side.LONG, "sl", Decimal("1.5"), Decimal(1960), Decimal("0.5"), Decimal(-60), NOW
    )
    mon.pushed.restore([fill])
    report = await mon.tick()
    assert report.closed == [(pos.id, CloseReason.STOP_LOSS)]  # the REST path would find no order: unknown
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert after.close_order_id == "s1"
    assert (after.exit_price, after.realized_pnl) == (Decimal(1960), Decimal("-60.5"))


async def test_a_closed_positions_orders_are_answered_by_the_venue_and_a_listed_one_stays_open(
    store: Store, clock: SimulatedClock
) -> None:
    """No closing order explains the close: nothing is filled on a guess; an order the venue does not
    know is recorded gone on the venue's word (the in-flight tracker's look-up), and one the venue still
    lists open is never called cancelled."""
    mon, ex = monitor_on(store, clock)
    pos = stored(store)

    def row(cid: str, exchange_id: str | None) -> Order:
        return store.orders.insert(
            Order(
                client_order_id=cid,
                symbol="ETHUSDT",
                side=Side.LONG,
                kind=OrderKind.CLOSE,
                size=Decimal("1.5"),
                state=OrderState.SUBMITTED,
                created_at=OPENED,
                updated_at=OPENED,
                exchange_order_id=exchange_id,
                position_id=pos.id,
            )
        )

    unsent, listed = row("close-unsent", None), row("close-listed", "r1")

    async def open_orders(symbol: str | None = None) -> list[ExchangeOrder]:
        return [at_venue("close-listed", OrderStatus.NEW, oid="r1", kind="close")]

    ex.open_orders = open_orders  # type: ignore[method-assign]
    assert (await mon.tick()).closed == []  # nothing explains it yet: the venue's window first
    await clock.advance(mon.settings.trading.order_visibility.total_seconds())
    report = await mon.tick()
    assert report.closed == [(pos.id, CloseReason.UNKNOWN)]
    assert store.events.of_kind("order.filled") == []
    events = store.events.of_kind("order.cancelled")
    assert [e.data["actor"] for e in events] == ["reconciler"]
    assert events[0].data["reason"].startswith("not found at the venue after")
    after = store.orders.get(unsent.id or 0)
    assert after is not None
    assert after.state is OrderState.CANCELLED
    still = store.orders.get(listed.id or 0)
    assert still is not None
    assert still.state is OrderState.SUBMITTED

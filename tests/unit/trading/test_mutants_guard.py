"""The stop guard in process, value by value (README "No unprotected position"; docs/benchmarks.md,
mutation testing): a stop that is missing is re-placed on the tick toward the entry, a precision
refusal is corrected and re-sent once, a stop that cannot be placed closes at market, max hold
force-closes. Fast tests, so mutation testing reaches ``ensure_stop`` and ``enforce_max_hold``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, Contract, EventLevel, OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import AlgoOrder, ExchangePosition, ExchangeUnavailable, OrderStatus
from smt_engine.exchange.precision import PrecisionError
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot, Position
from smt_engine.trading.ailog import AiLogOutbox
from smt_engine.trading.execution import Executor
from smt_engine.trading.position_guard import PositionGuard
from smt_engine.trading.tick_report import TickReport
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, eth_position, make_settings
from tests.unit.trading.inflight_support import approved, tracker_on
from tests.unit.trading.scripted import Script, ScriptedExchange, listed_position


def guard_on(
    store: Store, clock: SimulatedClock, script: Script | None = None, **settings: dict[str, object]
) -> tuple[PositionGuard, ScriptedExchange]:
    cfg = make_settings(**settings)
    ex = ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS), script=script or Script())
    ex.now = clock.now
    executor = Executor(ex, store, clock, cfg, AiLogOutbox(store, clock, cfg))
    return PositionGuard(cfg, store, clock, ex, executor), ex


def held(
    store: Store,
    *,
    side: Side = Side.LONG,
    sl: str | None = None,
    entry: str = "2000",
    opened: timedelta = timedelta(hours=1),
    symbol: str = "ETHUSDT",
    state: PositionState = PositionState.OPEN,
    proposal_id: int | None = None,
) -> Position:
    return store.positions.insert(
        eth_position(
            symbol=symbol,
            side=side,
            entry_price=Decimal(entry),
            opened_at=NOW - opened,
            state=state,
            sl_price=Decimal(sl) if sl is not None else None,
            proposal_id=proposal_id,
        )
    )


def stop(
    pos: Position,
    *,
    kind: str = "sl",
    side: Side | None = None,
    symbol: str | None = None,
    status: OrderStatus = OrderStatus.UNTRIGGERED,
) -> AlgoOrder:
    return AlgoOrder(
        "a1",
        None,
        symbol or pos.symbol,
        side or pos.side,
        kind,  # type: ignore[arg-type]
        Decimal(1900),
        pos.size,
        status,
        NOW,
    )


def logged(caplog: pytest.LogCaptureFixture, event: str) -> list[tuple[int, str, object]]:
    """The guard's log records that carry ``event`` (the events table mirrors them): level, text, position."""
    return [
        (r.levelno, r.getMessage(), getattr(r, "position_id", None))
        for r in caplog.records
        if getattr(r, "event", None) == event
    ]


def placed_stops(ex: ScriptedExchange) -> list[tuple[object, ...]]:
    return [args for name, args in ex.calls if name == "place_tp_sl"]


async def test_a_resting_stop_of_the_same_position_is_left_alone(store: Store, clock: SimulatedClock) -> None:
    guard, ex = guard_on(store, clock)
    pos = held(store, sl="1960")
    report = TickReport()
    await guard.ensure_stop(pos, [stop(pos)], report)
    assert placed_stops(ex) == []
    assert report.stops_placed == []
    assert ex.count("close_position") == 0


@pytest.mark.parametrize(
    "other",
    [{"kind": "tp"}, {"side": Side.SHORT}, {"symbol": "BTCUSDT"}, {"status": OrderStatus.CANCELLED}],
)
async def test_only_an_open_stop_of_this_symbol_and_side_counts(
    store: Store, clock: SimulatedClock, other: dict[str, object]
) -> None:
    """A take-profit, the other side's stop, another pair's stop or a cancelled one protect nothing."""
    guard, ex = guard_on(store, clock)
    pos = held(store, sl="1960")
    report = TickReport()
    await guard.ensure_stop(pos, [stop(pos, **other)], report)  # type: ignore[arg-type]
    assert len(placed_stops(ex)) == 1
    assert report.stops_placed == [pos.id]


async def test_a_missing_stop_is_re_placed_at_the_recorded_price_and_recorded(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard, ex = guard_on(store, clock)
    pos = held(store, sl="1960")
    report = TickReport()
    await clock.advance(5)
    with caplog.at_level(logging.INFO):
        await guard.ensure_stop(pos, [], report)
    assert logged(caplog, "position.stop_replaced") == [
        (logging.WARNING, "ETHUSDT LONG had no stop-loss resting: placed one at 1960.00", pos.id)
    ]
    assert logged(caplog, "position.unprotected") == []
    assert placed_stops(ex) == [("ETHUSDT", Side.LONG, "sl", Decimal(1960), Decimal("1.5"))]
    assert report.stops_placed == [pos.id]
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.sl_price == Decimal(1960)
    assert after.updated_at == NOW + timedelta(seconds=5)
    assert after.sl_order_id == ex.algos[0].order_id
    assert after.sl_order_id is not None
    orders = store.orders.for_position(pos.id or 0)
    assert [(o.kind, o.state, o.trigger_price) for o in orders] == [
        (OrderKind.SL, OrderState.SUBMITTED, Decimal(1960))
    ]
    assert orders[0].client_order_id.endswith("msl1")
    assert orders[0].request == {"reason": "stop-loss missing on the exchange"}
    assert ex.count("close_position") == 0


async def test_the_second_missing_stop_of_a_position_gets_the_next_attempt_number(
    store: Store, clock: SimulatedClock
) -> None:
    guard, _ex = guard_on(store, clock)
    pos = held(store, sl="1960")
    await guard.ensure_stop(pos, [], TickReport())
    await guard.ensure_stop(pos, [], TickReport())
    cids = [o.client_order_id for o in store.orders.for_position(pos.id or 0)]
    assert [c[-4:] for c in cids] == ["msl1", "msl2"]
    assert len(set(cids)) == 2  # never the same client id twice


async def test_a_stop_off_the_tick_is_rounded_toward_the_entry_for_either_side(
    store: Store, clock: SimulatedClock
) -> None:
    guard, ex = guard_on(store, clock)
    long = held(store, sl="1960.004")
    short = held(store, side=Side.SHORT, sl="2040.006")
    await guard.ensure_stop(long, [], TickReport())
    await guard.ensure_stop(short, [], TickReport())
    assert [args[3] for args in placed_stops(ex)] == [Decimal("1960.01"), Decimal("2040.00")]
    assert store.positions.get(long.id or 0).sl_price == Decimal("1960.01")  # type: ignore[union-attr]


async def test_without_a_stored_contract_the_venues_precision_is_fetched_and_kept(
    store: Store, clock: SimulatedClock
) -> None:
    guard, ex = guard_on(store, clock)
    assert store.contracts.load("ETHUSDT") is None
    pos = held(store, sl="1960.004")
    await guard.ensure_stop(pos, [], TickReport())
    assert ("contracts", ["ETHUSDT"]) in ex.calls
    assert placed_stops(ex)[0][3] == Decimal("1960.01")
    saved = store.contracts.load("ETHUSDT")
    assert saved is not None
    assert saved[0].tick_size == Decimal("0.01")


async def test_a_stored_contract_is_used_without_asking_the_venue(
    store: Store, clock: SimulatedClock
) -> None:
    guard, ex = guard_on(store, clock)
    store.contracts.save(Contract("ETHUSDT", Decimal("0.01"), Decimal("0.5"), Decimal("0.01")), NOW)
    pos = held(store, sl="1960.1")
    await guard.ensure_stop(pos, [], TickReport())
    assert ex.count("contracts") == 0
    assert placed_stops(ex)[0][3] == Decimal("1960.5")  # the stored (coarser) tick, toward the entry


async def test_an_unreadable_precision_sends_the_stop_as_recorded(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard, ex = guard_on(store, clock)

    async def unreadable(symbols: list[str] | None = None) -> dict[str, Contract]:
        raise ExchangeUnavailable("contracts endpoint 502")

    ex.contracts = unreadable  # type: ignore[method-assign]
    pos = held(store, sl="1960.004")
    report = TickReport()
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.position_guard"):
        await guard.ensure_stop(pos, [], report)
    assert "ETHUSDT: contract precision unreadable: contracts endpoint 502" in caplog.messages
    assert placed_stops(ex)[0][3] == Decimal("1960.004")
    assert report.stops_placed == [pos.id]
    assert store.contracts.load("ETHUSDT") is None


async def test_a_position_without_a_stop_price_gets_the_default_distance(
    store: Store, clock: SimulatedClock
) -> None:
    """The continuous phase's default stop is 2.5 % from the entry, on the losing side."""
    guard, ex = guard_on(store, clock)
    long = held(store)
    short = held(store, side=Side.SHORT)
    assert guard.default_stop(long) == Decimal(1950)
    assert guard.default_stop(short) == Decimal(2050)
    await guard.ensure_stop(long, [], TickReport())
    await guard.ensure_stop(short, [], TickReport())
    assert [args[3] for args in placed_stops(ex)] == [Decimal(1950), Decimal(2050)]


async def test_a_precision_refusal_reloads_the_precision_and_re_sends_once(
    store: Store, clock: SimulatedClock
) -> None:
    guard, ex = guard_on(store, clock)
    # Our stored tick is wrong (0.001); the venue's is 0.5: the first stop is refused for precision.
    store.contracts.save(Contract("ETHUSDT", Decimal("0.01"), Decimal("0.001"), Decimal("0.01")), NOW)
    ex.contract_map["ETHUSDT"] = Contract("ETHUSDT", Decimal("0.01"), Decimal("0.5"), Decimal("0.01"))
    sent: list[Decimal] = []
    real = ex.place_tp_sl

    async def strict(symbol, position_side, kind, trigger_price, size, client_order_id):  # type: ignore[no-untyped-def]
        sent.append(trigger_price)
        if trigger_price % Decimal("0.5"):
            raise PrecisionError("tick", f"trigger {trigger_price} not on the 0.5 tick")
        return await real(symbol, position_side, kind, trigger_price, size, client_order_id)

    ex.place_tp_sl = strict  # type: ignore[method-assign]
    tracker, _, _ = tracker_on(store, clock)
    proposal = approved(store, clock, tracker)
    pos = held(store, sl="1960.1", proposal_id=proposal.id)
    report = TickReport()
    await guard.ensure_stop(pos, [], report)
    assert sent == [Decimal("1960.100"), Decimal("1960.5")]
    assert report.stops_placed == [pos.id]
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.sl_price == Decimal("1960.5")
    assert after.state is PositionState.OPEN
    orders = store.orders.for_position(pos.id or 0)
    assert [(o.client_order_id[-4:], o.state) for o in orders] == [
        ("msl1", OrderState.REJECTED),
        ("msl2", OrderState.SUBMITTED),
    ]
    warning = [e for e in store.events.recent(50) if e.kind == "protection.sl_corrected"]
    assert len(warning) == 1
    assert warning[0].level is EventLevel.WARNING
    assert warning[0].position_id == pos.id
    assert warning[0].proposal_id == proposal.id
    assert "ETHUSDT LONG: stop refused for precision" in warning[0].message
    assert "re-sending once at 1960.5" in warning[0].message
    assert ex.count("close_position") == 0


async def test_a_stop_refused_twice_for_precision_closes_the_position_at_market(
    store: Store, clock: SimulatedClock
) -> None:
    guard, ex = guard_on(store, clock, Script(fail_place_tp_sl=None))

    async def never(*args: object) -> object:
        raise PrecisionError("tick", "trigger not on the tick")

    ex.place_tp_sl = never  # type: ignore[method-assign,assignment]
    ex.positions_[("ETHUSDT", Side.LONG)] = _venue_position()
    pos = held(store, sl="1960")
    report = TickReport()
    await guard.ensure_stop(pos, [], report)
    assert report.stops_placed == []
    assert ex.calls.count(("close_position", ("ETHUSDT", Side.LONG))) == 1
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert after.close_reason is CloseReason.UNPROTECTED
    kinds = [o.kind for o in store.orders.for_position(pos.id or 0)]
    assert kinds == [OrderKind.SL, OrderKind.SL, OrderKind.CLOSE]  # tried, corrected once, then closed
    assert len(store.events.of_kind("protection.sl_corrected")) == 1  # re-sent once, not twice
    (failed,) = store.events.of_kind("protection.sl_failed")  # the corrected stop's refusal, loud
    assert failed.level is EventLevel.ERROR
    assert failed.position_id == pos.id


async def test_a_stop_the_venue_refuses_closes_the_position_at_market(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard, ex = guard_on(store, clock, Script(fail_place_tp_sl=ExchangeUnavailable("502")))
    ex.positions_[("ETHUSDT", Side.LONG)] = _venue_position()
    pos = held(store, sl="1960")
    report = TickReport()
    with caplog.at_level(logging.INFO):
        await guard.ensure_stop(pos, [], report)
    assert logged(caplog, "position.unprotected") == [
        (logging.ERROR, "ETHUSDT LONG has no stop-loss and re-placing it failed: closing at market", pos.id)
    ]
    assert logged(caplog, "position.stop_replaced") == []
    assert report.stops_placed == []
    assert report.forced == []
    after = store.positions.get(pos.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert after.close_reason is CloseReason.UNPROTECTED
    assert after.sl_order_id is None
    closes = [o for o in store.orders.for_position(pos.id or 0) if o.kind is OrderKind.CLOSE]
    assert len(closes) == 1
    assert closes[0].request["reason"] == CloseReason.UNPROTECTED.value
    opened = [e for e in store.events.recent(50) if e.kind == "position.closed" and e.position_id == pos.id]
    assert opened
    assert opened[0].data["actor"] == "monitor"


def _venue_position() -> ExchangePosition:
    return listed_position(opened_at=NOW - timedelta(hours=1), updated_at=NOW)


async def test_max_hold_force_closes_at_the_limit_and_not_before(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    guard, ex = guard_on(store, clock)
    due = held(store, opened=timedelta(hours=48, minutes=3, seconds=36))  # past the continuous phase's 48 h
    young = held(store, side=Side.SHORT, opened=timedelta(days=2) - timedelta(seconds=1))
    ex.positions_[("ETHUSDT", Side.LONG)] = _venue_position()
    report = TickReport()
    with caplog.at_level(logging.INFO):
        await guard.enforce_max_hold([due, young], report)
    assert logged(caplog, "position.max_hold") == [
        (logging.WARNING, "ETHUSDT LONG held 48.1 h >= max hold 48.0 h: force-closing", due.id)
    ]
    assert report.forced == [due.id]
    assert ex.calls.count(("close_position", ("ETHUSDT", Side.LONG))) == 1
    assert ex.count("close_position") == 1
    after = store.positions.get(due.id or 0)
    assert after is not None
    assert after.state is PositionState.CLOSED
    assert after.close_reason is CloseReason.FORCED
    events = [e for e in store.events.recent(50) if e.kind == "position.closed" and e.position_id == due.id]
    assert events
    assert events[0].data["actor"] == "monitor"


async def test_max_hold_skips_a_position_already_closing(store: Store, clock: SimulatedClock) -> None:
    guard, ex = guard_on(store, clock)
    closing = held(store, opened=timedelta(days=3), state=PositionState.CLOSING)
    report = TickReport()
    await guard.enforce_max_hold([closing], report)
    assert report.forced == []
    assert ex.count("close_position") == 0


async def test_a_max_hold_close_the_venue_refuses_is_not_reported_forced(
    store: Store, clock: SimulatedClock
) -> None:
    guard, ex = guard_on(store, clock)  # the venue has no such position: its close raises
    due = held(store, opened=timedelta(days=3))

    async def refused(symbol: str, side: Side, client_order_id: str) -> object:
        ex.calls.append(("close_position", (symbol, side)))
        raise ExchangeUnavailable("502")

    ex.close_position = refused  # type: ignore[method-assign,assignment]
    report = TickReport()
    await guard.enforce_max_hold([due], report)
    assert report.forced == []
    assert ex.count("close_position") == 1
    after = store.positions.get(due.id or 0)
    assert after is not None
    assert after.state is PositionState.OPEN


async def test_max_hold_is_exactly_inclusive(store: Store, clock: SimulatedClock) -> None:
    guard, ex = guard_on(store, clock)
    due = held(store, opened=timedelta(days=2))
    ex.positions_[("ETHUSDT", Side.LONG)] = _venue_position()
    report = TickReport()
    await guard.enforce_max_hold([due], report)
    assert report.forced == [due.id]


async def test_max_hold_follows_the_phase_of_the_latest_balance(store: Store, clock: SimulatedClock) -> None:
    """Max hold comes from the competition phase: in the final days its own shorter limit."""
    guard, ex = guard_on(
        store,
        clock,
        competition={
            "start": (NOW - timedelta(days=20)).date().isoformat(),
            "end": (NOW + timedelta(days=1)).date().isoformat(),
        },
    )
    status_hold = guard.settings.risk.final_days_max_hold
    assert status_hold < timedelta(days=2)
    store.account.insert(
        AccountSnapshot(
            at=NOW,
            balance=Decimal(1000),
            equity=Decimal(1000),
            available=Decimal(1000),
            unrealized_pnl=Decimal(0),
            margin_used=Decimal(0),
        )
    )
    due = held(store, opened=status_hold)
    ex.positions_[("ETHUSDT", Side.LONG)] = _venue_position()
    report = TickReport()
    await guard.enforce_max_hold([due], report)
    assert report.forced == [due.id]


async def test_in_the_final_days_the_default_stop_is_the_phases_tighter_one(
    store: Store, clock: SimulatedClock
) -> None:
    """The default distance follows the competition phase at this moment: 1.5 % on the last day."""
    guard, _ = guard_on(
        store,
        clock,
        competition={
            "start": (NOW - timedelta(days=20)).date().isoformat(),
            "end": (NOW + timedelta(days=1)).date().isoformat(),
        },
    )
    assert guard.default_stop(held(store)) == Decimal(1970)
    assert guard.default_stop(held(store, side=Side.SHORT)) == Decimal(2030)

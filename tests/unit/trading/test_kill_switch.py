"""The kill switch's references: the loss day's start, its opening equity, the peak, and a resume."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, HealthStatus
from smt_engine.exchange.base import Balance
from smt_engine.store import Store
from smt_engine.store import limits as names
from smt_engine.store.kill_switch import KillSwitchReset
from smt_engine.store.records import AccountSnapshot
from smt_engine.trading.account_reader import snapshot_account
from smt_engine.trading.kill_switch import KillSwitch, day_start, loss_references
from smt_engine.trading.limits import enforced_limits
from smt_engine.trading.loss_limits import daily_loss
from smt_engine.trading.risk import ReasonCode
from tests.unit.trading.conftest import NOW, make_settings


def snap(store: Store, at: datetime, equity: str) -> None:
    value = Decimal(equity)
    store.account.insert(AccountSnapshot(at=at, balance=value, equity=value, available=value))


def test_the_loss_day_starts_at_midnight_utc_by_default_or_in_the_configured_zone() -> None:
    now = datetime(2026, 1, 20, 23, 30, tzinfo=UTC)
    assert day_start(make_settings(), now) == datetime(2026, 1, 20, tzinfo=UTC)
    berlin = make_settings(risk={"loss_day_timezone": "Europe/Berlin"})
    # 23:30 UTC is already 00:30 on the 21st in Berlin (UTC+1 in winter).
    assert day_start(berlin, now) == datetime(2026, 1, 20, 23, 0, tzinfo=UTC)


def test_opening_equity_is_the_last_snapshot_before_the_day_began_and_peak_is_the_highest(
    store: Store,
) -> None:
    snap(store, datetime(2026, 1, 19, 22, tzinfo=UTC), "1200")
    snap(store, datetime(2026, 1, 19, 23, 59, tzinfo=UTC), "1100")
    snap(store, datetime(2026, 1, 20, 9, tzinfo=UTC), "1050")
    refs = loss_references(store, make_settings(), datetime(2026, 1, 20, 12, tzinfo=UTC))
    assert refs.opening_equity == Decimal(1100)
    assert refs.peak_equity == Decimal(1200)


async def test_a_breach_is_reported_with_its_code_and_a_reset_counts_from_then(store: Store) -> None:
    clock = SimulatedClock(datetime(2026, 1, 20, 12, tzinfo=UTC))
    settings = make_settings(risk={"daily_loss_limit_pct": "5", "max_drawdown_pct": "50"})
    switch = KillSwitch(settings, store, clock)
    snap(store, datetime(2026, 1, 20, 0, 5, tzinfo=UTC), "1000")
    assert switch.check(Decimal(960)) is None
    breach = switch.check(Decimal(940))
    assert breach is not None
    assert breach.code is ReasonCode.DAILY_LOSS
    assert "6.00%" in breach.reason
    assert {h.component: h.status for h in store.health.all()}["risk.kill_switch"] is HealthStatus.DOWN
    switch.reset("operator", breach.reason, Decimal(940))
    await clock.advance(60)
    assert switch.check(Decimal(930)) is None, "1.1 % below the equity at resume"
    again = switch.check(Decimal(890))
    assert again is not None
    assert again.code is ReasonCode.DAILY_LOSS


async def test_the_kill_switch_the_entry_gate_and_the_limits_table_read_one_daily_loss(store: Store) -> None:
    """A realised loss, an unrealised one, and a resume: all three parts report the same figure."""
    now = datetime(2026, 1, 20, 12, tzinfo=UTC)
    clock = SimulatedClock(now)
    settings = make_settings(risk={"daily_loss_limit_pct": "50", "max_drawdown_pct": "90"})
    switch = KillSwitch(settings, store, clock)
    snap(store, datetime(2026, 1, 19, 23, 50, tzinfo=UTC), "1000")
    for equity in ("1000", "930", "880.5"):  # flat, then a loss, then more of it (open or closed alike)
        balance = Balance("USDT", Decimal(equity), Decimal(equity), Decimal(0), Decimal(0))
        account = snapshot_account(store, settings, clock.now(), balance, [], EngineState.RUNNING)
        assert switch.check(Decimal(equity)) is None
        shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
        measure = daily_loss(account)
        gate_pct = measure.pct if measure is not None else Decimal(0)
        assert Decimal(shown.data["daily_loss_pct"]) == gate_pct.quantize(Decimal("0.01"))
        row = next(r for r in enforced_limits(settings, account, clock.now()) if r.name == names.DAILY_LOSS)
        assert row.used == gate_pct.quantize(Decimal("0.01"))
    assert gate_pct == Decimal("11.95")
    switch.reset("operator", "test", Decimal("880.5"))
    await clock.advance(60)
    balance = Balance("USDT", Decimal(870), Decimal(870), Decimal(0), Decimal(0))
    account = snapshot_account(store, settings, clock.now(), balance, [], EngineState.RUNNING)
    measure = daily_loss(account)
    assert measure is not None, "counts from the resume"
    assert measure.reference == Decimal("880.5"), "counts from the resume"


async def test_a_drawdown_from_the_peak_halts_with_its_own_code_and_figures(store: Store) -> None:
    """Mutation testing found no test of the drawdown limit: equity 25 % below the peak crosses 20 %,
    although the day's own loss (from its opening equity) stays under its limit."""
    clock = SimulatedClock(datetime(2026, 1, 20, 12, tzinfo=UTC))
    settings = make_settings(risk={"daily_loss_limit_pct": "50", "max_drawdown_pct": "20"})
    switch = KillSwitch(settings, store, clock)
    snap(store, datetime(2026, 1, 18, 12, tzinfo=UTC), "1600")  # the peak, two days ago
    snap(store, datetime(2026, 1, 19, 23, 50, tzinfo=UTC), "1300")  # the day's opening equity
    assert switch.check(Decimal(1290)) is None  # 19.38 % below the peak
    shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
    assert shown.status is HealthStatus.OK
    assert shown.detail == "daily loss 0.77%, drawdown 19.38%"
    assert shown.data == {
        "equity": "1290",
        "opening_equity": "1300",
        "peak_equity": "1600",
        "daily_loss_pct": "0.77",
        "drawdown_pct": "19.38",
    }
    breach = switch.check(Decimal(1200))
    assert breach is not None
    assert breach.code is ReasonCode.MAX_DRAWDOWN
    assert breach.reason == "drawdown 25.00% from peak equity 1600 (now 1200) >= limit 20%"
    shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
    assert (shown.status, shown.detail) == (HealthStatus.DOWN, breach.reason)
    assert (shown.data["drawdown_pct"], shown.data["daily_loss_pct"]) == ("25", "7.69")


async def test_a_new_high_is_no_drawdown_and_a_fresh_store_measures_from_the_equity_itself(
    store: Store,
) -> None:
    clock = SimulatedClock(datetime(2026, 1, 20, 12, tzinfo=UTC))
    settings = make_settings(risk={"daily_loss_limit_pct": "5", "max_drawdown_pct": "5"})
    switch = KillSwitch(settings, store, clock)
    assert switch.check(Decimal(1000)) is None  # no snapshot yet: nothing to lose from
    shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
    assert shown.data["opening_equity"] is None
    assert shown.data["peak_equity"] is None
    assert (shown.data["daily_loss_pct"], shown.data["drawdown_pct"]) == ("0", "0")
    snap(store, datetime(2026, 1, 19, 23, 50, tzinfo=UTC), "1000")
    assert switch.check(Decimal(1100)) is None  # above the peak: no drawdown, no daily loss
    shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
    assert (shown.data["daily_loss_pct"], shown.data["drawdown_pct"]) == ("0", "0")


async def test_a_reset_is_recorded_with_who_what_and_the_equity_and_reported_healthy(store: Store) -> None:
    clock = SimulatedClock(datetime(2026, 1, 20, 12, tzinfo=UTC))
    switch = KillSwitch(make_settings(), store, clock)
    switch.reset("alice", "daily loss 6.00%", Decimal(940))
    latest = store.kill_switch.latest()
    assert latest is not None
    assert (latest.at, latest.actor, latest.cleared, latest.equity) == (
        clock.now(),
        "alice",
        "daily loss 6.00%",
        Decimal(940),
    )
    shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
    assert (shown.status, shown.detail) == (HealthStatus.OK, "cleared by alice: daily loss 6.00%")


@pytest.fixture
def machine_in_tokyo() -> Iterator[None]:
    """The machine's own zone set far from UTC, so a time told in it would show."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Tokyo"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.usefixtures("machine_in_tokyo")
def test_the_loss_day_start_is_a_utc_time_whatever_the_machines_zone() -> None:
    start = day_start(make_settings(risk={"loss_day_timezone": "Europe/Berlin"}), NOW)
    assert start.utcoffset() == timedelta(0)
    assert f"{start:%Y-%m-%d %H:%M}" == "2026-01-19 23:00"


@pytest.mark.usefixtures("machine_in_tokyo")
def test_a_daily_loss_halt_names_the_day_start_in_utc_and_the_opening_equity(store: Store) -> None:
    """The operator reads the halt's reason: the loss, since when (UTC), from what equity, to what."""
    clock = SimulatedClock(NOW)
    settings = make_settings(
        risk={"daily_loss_limit_pct": "5", "max_drawdown_pct": "50", "loss_day_timezone": "Europe/Berlin"}
    )
    switch = KillSwitch(settings, store, clock)
    snap(store, datetime(2026, 1, 19, 22, 30, tzinfo=UTC), "1000")  # before Berlin's midnight
    snap(store, datetime(2026, 1, 19, 23, 30, tzinfo=UTC), "990")  # after it: not the opening
    breach = switch.check(Decimal(940))
    assert breach is not None
    assert breach.code is ReasonCode.DAILY_LOSS
    assert breach.reason == (
        "daily loss 6.00% since 2026-01-19 23:00 UTC (opening equity 1000, now 940) >= limit 5%"
    )
    shown = {h.component: h for h in store.health.all()}["risk.kill_switch"]
    assert (shown.status, shown.detail) == (HealthStatus.DOWN, breach.reason)
    assert shown.data == {
        "equity": "940",
        "opening_equity": "1000",
        "peak_equity": "1000",
        "daily_loss_pct": "6",
        "drawdown_pct": "6",
    }


def test_each_limit_halts_when_the_loss_reaches_it_exactly(store: Store) -> None:
    clock = SimulatedClock(NOW)
    snap(store, datetime(2026, 1, 18, 12, tzinfo=UTC), "1250")  # the peak
    snap(store, datetime(2026, 1, 19, 23, 50, tzinfo=UTC), "1000")  # the day's opening equity
    daily = KillSwitch(
        make_settings(risk={"daily_loss_limit_pct": "5", "max_drawdown_pct": "90"}), store, clock
    )
    breach = daily.check(Decimal(950))
    assert breach is not None
    assert breach.code is ReasonCode.DAILY_LOSS
    drawdown = KillSwitch(
        make_settings(risk={"daily_loss_limit_pct": "50", "max_drawdown_pct": "20"}), store, clock
    )
    breach = drawdown.check(Decimal(1000))
    assert breach is not None
    assert breach.code is ReasonCode.MAX_DRAWDOWN
    assert breach.reason == "drawdown 20.00% from peak equity 1250 (now 1000) >= limit 20%"


def test_a_resume_at_the_very_start_of_the_day_is_the_days_opening_equity(store: Store) -> None:
    midnight = datetime(2026, 1, 20, tzinfo=UTC)
    snap(store, datetime(2026, 1, 19, 23, 50, tzinfo=UTC), "1000")
    store.kill_switch.insert(KillSwitchReset(at=midnight, actor="alice", cleared="x", equity=Decimal(900)))
    refs = loss_references(store, make_settings(), NOW)
    assert (refs.day_start, refs.opening_equity) == (midnight, Decimal(900))


def test_after_a_resume_the_peak_counts_from_the_resume_and_includes_its_equity(store: Store) -> None:
    """A peak before the resume no longer counts; the equity at the resume does, even above later ones."""
    snap(store, datetime(2026, 1, 18, 12, tzinfo=UTC), "1600")
    at = datetime(2026, 1, 19, 12, tzinfo=UTC)
    store.kill_switch.insert(KillSwitchReset(at=at, actor="alice", cleared="x", equity=Decimal(1000)))
    snap(store, datetime(2026, 1, 19, 18, tzinfo=UTC), "980")
    assert loss_references(store, make_settings(), NOW).peak_equity == Decimal(1000)
    snap(store, datetime(2026, 1, 20, 9, tzinfo=UTC), "1050")
    assert loss_references(store, make_settings(), NOW).peak_equity == Decimal(1050)

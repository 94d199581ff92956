from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.competition import Phase, StrategyMode, competition_status
from smt_engine.config import Settings
from smt_engine.domain import Action, MarginUsdt, Side, Sizing

SEED = Settings.model_validate({"competition": {"start": "2026-01-12", "end": "2026-02-02"}})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "phase", "days_left", "hold_h", "tp", "sl", "final"),
    [
        ("2026-01-08T12:00", Phase.PRE_COMPETITION, 22, 48, "5.0", "2.5", False),
        ("2026-01-12T00:00", Phase.ACTIVE, 22, 48, "5.0", "2.5", False),
        ("2026-01-25T00:00", Phase.ACTIVE, 9, 48, "4.0", "2.0", False),
        ("2026-01-28T00:00", Phase.ACTIVE, 6, 24, "3.0", "2.0", False),
        ("2026-01-31T00:00", Phase.ACTIVE, 3, 6, "2.0", "1.5", True),
        ("2026-02-02T23:00", Phase.ACTIVE, 0, 6, "2.0", "1.5", True),
        ("2026-02-03T00:00", Phase.ENDED, 0, 6, "2.0", "1.5", False),
    ],
)
def test_phase_table(
    now: str, phase: Phase, days_left: int, hold_h: int, tp: str, sl: str, final: bool
) -> None:
    status = competition_status(SEED, at(now), Decimal(1000))
    assert status.phase is phase
    assert status.days_left == days_left
    assert status.max_hold == timedelta(hours=hold_h)
    assert (status.default_tp_pct, status.default_sl_pct) == (Decimal(tp), Decimal(sl))
    assert status.final_days is final


def test_entries_window() -> None:
    pre = competition_status(SEED, at("2026-01-08T00:00"), Decimal(1000))
    assert pre.entries_allowed(practice=False) == (False, "competition_not_started")
    assert pre.entries_allowed(practice=True) == (True, "")
    assert pre.entries_allowed(practice=False, force=True) == (True, "")
    ended = competition_status(SEED, at("2026-02-05T00:00"), Decimal(1000))
    assert ended.entries_allowed(practice=True, force=True) == (False, "competition_ended")


def test_no_dates_means_continuous_trading_with_configured_hold() -> None:
    status = competition_status(Settings(), at("2026-06-01T00:00"), Decimal(1000))
    assert status.phase is Phase.CONTINUOUS
    assert status.days_left is None
    assert status.max_hold == timedelta(hours=48)
    assert status.entries_allowed(practice=False) == (True, "")


@pytest.mark.parametrize(
    ("balance", "mode", "pnl_pct"),
    [
        ("1250", StrategyMode.CONSERVATIVE, "25.00"),
        ("850", StrategyMode.AGGRESSIVE, "-15.00"),
        ("1000", StrategyMode.MODERATE, "0.00"),
        ("1200", StrategyMode.MODERATE, "20.00"),
    ],
)
def test_strategy_mode_from_balance(balance: str, mode: StrategyMode, pnl_pct: str) -> None:
    status = competition_status(SEED, at("2026-01-20T00:00"), Decimal(balance))
    assert status.strategy is mode
    assert status.pnl_pct == Decimal(pnl_pct)


def test_sizing_states_margin_and_notional() -> None:
    sizing = Sizing(MarginUsdt(Decimal("4.73")), 20)
    assert sizing.notional == Decimal("94.60")
    assert Side.LONG.sign == 1
    assert Side.SHORT.opposite is Side.LONG
    assert Action.WAIT.side is None
    assert Action.SHORT.side is Side.SHORT


def test_the_window_closes_at_the_end_of_its_last_trading_day() -> None:
    assert competition_status(SEED, at("2026-01-20T00:00"), Decimal(1000)).ends_at == at("2026-02-03T00:00")
    assert competition_status(Settings(), at("2026-01-20T00:00"), Decimal(1000)).ends_at is None


def test_a_start_date_alone_opens_a_window_that_never_ends() -> None:
    settings = Settings.model_validate({"competition": {"start": "2026-01-12"}})
    before = competition_status(settings, at("2026-01-11T23:59"), Decimal(1000))
    assert (before.phase, before.days_left, before.ends_at) == (Phase.PRE_COMPETITION, None, None)
    assert before.entries_allowed(practice=False) == (False, "competition_not_started")
    during = competition_status(settings, at("2026-01-12T00:00"), Decimal(1000))
    assert (during.phase, during.days_left, during.final_days) == (Phase.ACTIVE, None, False)
    assert during.max_hold == timedelta(hours=48)


def test_an_end_date_alone_is_a_window_open_until_it_ends() -> None:
    settings = Settings.model_validate({"competition": {"end": "2026-02-02"}})
    during = competition_status(settings, at("2026-01-31T00:00"), Decimal(1000))
    assert (during.phase, during.days_left, during.final_days) == (Phase.ACTIVE, 3, True)
    assert during.max_hold == timedelta(hours=6)
    ended = competition_status(settings, at("2026-02-03T00:00"), Decimal(1000))
    assert (ended.phase, ended.days_left) == (Phase.ENDED, 0)
    assert ended.entries_allowed(practice=True, force=True) == (False, "competition_ended")

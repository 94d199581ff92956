"""The stop-loss cooldown, value by value: which stops the gate still sees after a clearance, when a
cooldown ends, the order and rows the console shows, and what a clearance records and says."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import CloseReason, EngineState, EventLevel, PositionState
from smt_engine.store import Store
from smt_engine.store.cooldowns import CooldownClearance
from smt_engine.store.limits import Limit
from smt_engine.trading.cooldowns import (
    Cooldown,
    CooldownError,
    active_cooldowns,
    clear_cooldown,
    cooldown_limits,
    gate_stop_losses,
)
from smt_engine.trading.limits import LimitsPublisher
from tests.unit.trading.conftest import NOW, eth_position, make_settings

SETTINGS = make_settings(risk={"stop_loss_cooldown": "4h"})
FOUR_HOURS = timedelta(hours=4)


def _stop_loss(store: Store, symbol: str, at: datetime) -> None:
    """A position of ``symbol`` closed at its stop loss at ``at``."""
    store.positions.insert(
        eth_position(
            symbol=symbol,
            state=PositionState.CLOSED,
            opened_at=at - timedelta(hours=1),
            updated_at=at,
            closed_at=at,
            close_reason=CloseReason.STOP_LOSS,
        )
    )


def test_a_clearance_of_that_very_stop_takes_it_out_of_the_gate_and_an_older_one_does_not(
    store: Store,
) -> None:
    _stop_loss(store, "ETHUSDT", NOW)
    _stop_loss(store, "SOLUSDT", NOW)
    store.cooldown_clearances.insert(
        CooldownClearance(symbol="ETHUSDT", stop_at=NOW, cleared_at=NOW, actor="cli")
    )
    store.cooldown_clearances.insert(
        CooldownClearance(symbol="SOLUSDT", stop_at=NOW - timedelta(seconds=1), cleared_at=NOW, actor="cli")
    )
    assert gate_stop_losses(store) == {"SOLUSDT": NOW}


def test_a_cooldown_runs_from_the_stop_to_the_stop_plus_its_span_and_not_a_moment_longer(
    store: Store,
) -> None:
    _stop_loss(store, "ETHUSDT", NOW)
    assert active_cooldowns(store, SETTINGS, NOW + FOUR_HOURS - timedelta(seconds=1)) == [
        Cooldown("ETHUSDT", NOW, NOW + FOUR_HOURS)
    ]
    assert active_cooldowns(store, SETTINGS, NOW + FOUR_HOURS) == []


def test_cooldowns_are_listed_soonest_to_end_first_then_by_symbol(store: Store) -> None:
    _stop_loss(store, "BTCUSDT", NOW)
    _stop_loss(store, "DOGEUSDT", NOW - timedelta(hours=1))
    _stop_loss(store, "ETHUSDT", NOW - timedelta(hours=2))
    _stop_loss(store, "AVAXUSDT", NOW - timedelta(hours=1))
    found = active_cooldowns(store, SETTINGS, NOW)
    assert [(c.symbol, c.until) for c in found] == [
        ("ETHUSDT", NOW + timedelta(hours=2)),
        ("AVAXUSDT", NOW + timedelta(hours=3)),
        ("DOGEUSDT", NOW + timedelta(hours=3)),
        ("BTCUSDT", NOW + FOUR_HOURS),
    ]


def test_each_cooldown_is_published_with_its_length_end_and_stop(store: Store) -> None:
    _stop_loss(store, "ETHUSDT", NOW - timedelta(minutes=30))
    _stop_loss(store, "SOLUSDT", NOW - timedelta(hours=5))  # over: not published
    now = NOW + timedelta(minutes=1)
    assert cooldown_limits(store, SETTINGS, now) == [
        Limit(
            name="cooldown.ETHUSDT",
            value=Decimal(14400),
            unit="s",
            detail="until 2026-01-20 15:30 UTC (stop-loss at 2026-01-20 11:30 UTC)",
            updated_at=now,
        )
    ]


def test_clearing_a_cooldown_records_who_cleared_which_stop_and_says_so(store: Store) -> None:
    stop = NOW - timedelta(minutes=30)
    _stop_loss(store, "ETHUSDT", stop)
    _stop_loss(store, "SOLUSDT", NOW)
    cleared = clear_cooldown(store, SETTINGS, "ETHUSDT", "console:ops", NOW)
    assert cleared == Cooldown("ETHUSDT", stop, stop + FOUR_HOURS)
    [row] = store.cooldown_clearances.select()
    assert (row.symbol, row.stop_at, row.cleared_at, row.actor) == ("ETHUSDT", stop, NOW, "console:ops")
    [event] = store.events.of_kind("cooldown.cleared")
    assert (event.at, event.level) == (NOW, EventLevel.WARNING)
    assert event.message == (
        "ETHUSDT: stop-loss cooldown until 2026-01-20 15:30 UTC cleared by console:ops "
        "(stop-loss at 2026-01-20 11:30 UTC); new entries on ETHUSDT are allowed again"
    )
    assert event.data == {
        "symbol": "ETHUSDT",
        "actor": "console:ops",
        "stop_at": stop.isoformat(),
        "until": (stop + FOUR_HOURS).isoformat(),
    }
    assert [c.symbol for c in active_cooldowns(store, SETTINGS, NOW)] == ["SOLUSDT"]


def test_clearing_a_pair_without_a_cooldown_is_refused_naming_the_ones_in_force(store: Store) -> None:
    with pytest.raises(CooldownError) as none:
        clear_cooldown(store, SETTINGS, "ETHUSDT", "cli", NOW)
    assert str(none.value) == "ETHUSDT has no active stop-loss cooldown (active: none)"
    _stop_loss(store, "SOLUSDT", NOW - timedelta(hours=1))  # ends first, listed by name all the same
    _stop_loss(store, "BTCUSDT", NOW)
    with pytest.raises(CooldownError) as some:
        clear_cooldown(store, SETTINGS, "ETHUSDT", "cli", NOW)
    assert str(some.value) == "ETHUSDT has no active stop-loss cooldown (active: BTCUSDT, SOLUSDT)"
    assert store.cooldown_clearances.select() == []
    assert store.events.of_kind("cooldown.cleared") == []


async def test_the_limits_table_shows_the_cooldowns_in_force(store: Store, clock: SimulatedClock) -> None:
    _stop_loss(store, "ETHUSDT", NOW - timedelta(hours=1))
    await LimitsPublisher(SETTINGS, store, clock, None).publish(EngineState.RUNNING)
    row = store.limits.by_name()["cooldown.ETHUSDT"]
    assert (row.value, row.unit, row.detail) == (
        Decimal(14400),
        "s",
        "until 2026-01-20 15:00 UTC (stop-loss at 2026-01-20 11:00 UTC)",
    )

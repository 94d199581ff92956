"""The rules of the operator's adjustments, value by value (the venue paths are in
tests/integration/test_operator_adjust.py): the stop limit, the sides of the price, the part sizes, and
cooldown clearances that end one cooldown but not the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.config import Settings
from smt_engine.domain import CloseReason, Contract, PositionState, Side
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_engine.trading.adjust import (
    AdjustCode,
    AdjustRefused,
    check_side,
    check_sizes,
    check_stop_limit,
    stop_limit,
)
from smt_engine.trading.cooldowns import (
    CooldownError,
    active_cooldowns,
    clear_cooldown,
    cooldown_limits,
    gate_stop_losses,
)

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)


def pos(side: Side = Side.LONG, sl: str | None = "95", size: str = "1") -> Position:
    return Position(
        symbol="ETHUSDT",
        side=side,
        size=Decimal(size),
        entry_price=Decimal(100),
        opened_at=T0,
        state=PositionState.OPEN,
        leverage=10,
        updated_at=T0,
        sl_price=Decimal(sl) if sl is not None else None,
    )


def refused(code: AdjustCode) -> pytest.RaisesExc[AdjustRefused]:
    return pytest.raises(AdjustRefused, match=f"^{code.value}:")


def test_a_stop_loosened_past_the_limit_is_refused_naming_the_limit_and_the_value() -> None:
    with refused(AdjustCode.MAX_STOP_DISTANCE) as info:
        check_stop_limit(pos(), Decimal("91.9"), Decimal(8), "analyst.max_sl_pct")
    said = str(info.value)
    assert "8.10% from the entry 100" in said
    assert "limit 8% (analyst.max_sl_pct)" in said
    check_stop_limit(pos(), Decimal(92), Decimal(8), "analyst.max_sl_pct")  # loosened, within the limit
    with refused(AdjustCode.MAX_STOP_DISTANCE):
        check_stop_limit(pos(Side.SHORT, sl="105"), Decimal("108.5"), Decimal(8), "x")


def test_a_tightened_stop_passes_even_when_still_past_the_limit() -> None:
    adopted = pos(sl="80")  # an adopted position whose stop is 20 % away
    check_stop_limit(adopted, Decimal(85), Decimal(8), "analyst.max_sl_pct")
    with refused(AdjustCode.MAX_STOP_DISTANCE):
        check_stop_limit(adopted, Decimal(79), Decimal(8), "analyst.max_sl_pct")


def test_stop_and_take_profit_sides_of_the_price() -> None:
    check_side(pos(), "sl", Decimal(99), Decimal(100))
    with refused(AdjustCode.STOP_WRONG_SIDE):
        check_side(pos(), "sl", Decimal(100), Decimal(100))
    with refused(AdjustCode.STOP_WRONG_SIDE):
        check_side(pos(Side.SHORT), "sl", Decimal(99), Decimal(100))
    check_side(pos(Side.SHORT), "tp", Decimal(90), Decimal(100))
    with refused(AdjustCode.TP_WRONG_SIDE):
        check_side(pos(Side.SHORT), "tp", Decimal(101), Decimal(100))


def test_a_part_leaving_less_than_the_venue_minimum_is_refused() -> None:
    contract = Contract("ETHUSDT", Decimal("0.001"), Decimal("0.01"), Decimal("0.01"))
    check_sizes(pos(size="0.05"), contract, Decimal("0.04"), Decimal("0.04"))
    with refused(AdjustCode.REMAINDER_BELOW_MIN) as info:
        check_sizes(pos(size="0.05"), contract, Decimal("0.045"), Decimal("0.045"))
    assert "leaves 0.005, below the venue minimum 0.01" in str(info.value)
    with refused(AdjustCode.MIN_SIZE):
        check_sizes(pos(size="0.05"), contract, Decimal("0.009"), Decimal("0.009"))


def _stop(store: Store, at: datetime) -> None:
    store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.LONG,
            size=Decimal(1),
            entry_price=Decimal(100),
            opened_at=at - timedelta(hours=1),
            state=PositionState.CLOSED,
            leverage=10,
            updated_at=at,
            close_reason=CloseReason.STOP_LOSS,
            closed_at=at,
        )
    )


def test_a_cleared_cooldown_ends_that_cooldown_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    settings = Settings.model_validate({"risk": {"stop_loss_cooldown": "4h"}})
    _stop(store, T0)
    now = T0 + timedelta(hours=1)
    [cooling] = active_cooldowns(store, settings, now)
    assert (cooling.symbol, cooling.until) == ("ETHUSDT", T0 + timedelta(hours=4))
    assert [row.name for row in cooldown_limits(store, settings, now)] == ["cooldown.ETHUSDT"]
    clear_cooldown(store, settings, "ETHUSDT", "console:ops", now)
    assert gate_stop_losses(store) == {}
    assert active_cooldowns(store, settings, now) == []
    with pytest.raises(CooldownError, match="no active stop-loss cooldown"):
        clear_cooldown(store, settings, "ETHUSDT", "console:ops", now)
    _stop(store, T0 + timedelta(hours=2))  # a later stop-loss starts a new cooldown
    assert gate_stop_losses(store) == {"ETHUSDT": T0 + timedelta(hours=2)}
    assert active_cooldowns(store, settings, T0 + timedelta(hours=6, seconds=1)) == []
    store.close()


def test_in_the_final_days_the_stop_limit_is_the_phase_default() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    final = Settings.model_validate({"competition": {"start": "2026-03-01", "end": "2026-03-11"}})
    assert stop_limit(final, now) == (Decimal("1.5"), "the final days' stop distance")
    assert stop_limit(Settings(), now) == (Decimal(8), "analyst.max_sl_pct")

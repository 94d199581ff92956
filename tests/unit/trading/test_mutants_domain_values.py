"""The small values every trade leans on, value by value (docs/benchmarks.md, mutation testing): the
direction a side multiplies a move by and its opposite (PnL, protective orders), the side an analyst's
action opens, a sizing's notional (the risk gates' exposure), a notification's level, and a confidence
rounded the one way both the analyst's reader and the risk gates compare it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from smt_engine.domain import (
    Action,
    EventLevel,
    MarginUsdt,
    NotificationKind,
    Side,
    Sizing,
    round_confidence,
)


def test_a_long_gains_when_the_price_rises_and_a_short_when_it_falls() -> None:
    assert Side.LONG.sign == 1
    assert Side.SHORT.sign == -1


def test_each_side_is_the_others_opposite() -> None:
    assert Side.LONG.opposite is Side.SHORT
    assert Side.SHORT.opposite is Side.LONG


def test_a_long_or_short_action_opens_its_side_and_wait_opens_nothing() -> None:
    assert Action.LONG.side is Side.LONG
    assert Action.SHORT.side is Side.SHORT
    assert Action.WAIT.side is None


def test_a_sizings_notional_is_its_margin_times_its_leverage() -> None:
    assert Sizing(margin=MarginUsdt(Decimal("12.5")), leverage=4).notional == Decimal("50.0")
    assert Sizing(margin=MarginUsdt(Decimal("20")), leverage=1).notional == Decimal("20")


def test_each_notification_has_the_level_an_operator_must_see() -> None:
    """A halt or a lost database is critical; a crash, a dead model or stream an error; a waiting
    proposal, a stop or a spent budget a warning; the rest information."""
    expected = {
        NotificationKind.PROPOSAL_WAITING: EventLevel.WARNING,
        NotificationKind.ENTRY_FILLED: EventLevel.INFO,
        NotificationKind.POSITION_CLOSED: EventLevel.INFO,
        NotificationKind.HALTED: EventLevel.CRITICAL,
        NotificationKind.RESUMED: EventLevel.INFO,
        NotificationKind.STARTED: EventLevel.INFO,
        NotificationKind.STOPPED: EventLevel.WARNING,
        NotificationKind.CRASH_RESTART: EventLevel.ERROR,
        NotificationKind.MODEL_UNAVAILABLE: EventLevel.ERROR,
        NotificationKind.BUDGET_REACHED: EventLevel.WARNING,
        NotificationKind.STREAM_DOWN: EventLevel.ERROR,
        NotificationKind.DATABASE_LOST: EventLevel.CRITICAL,
    }
    assert {kind: kind.level for kind in NotificationKind} == expected


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (0.85 - 0.05, Decimal("0.8000")),
        (0.00005, Decimal("0.0001")),
        (0.12344, Decimal("0.1234")),
        (Decimal("0.65"), Decimal("0.6500")),
        (Decimal("0.00005"), Decimal("0.0001")),
        (1.0, Decimal("1.0000")),
    ],
)
def test_a_confidence_is_rounded_half_up_on_the_four_place_step(
    value: float | Decimal, rounded: Decimal
) -> None:
    result = round_confidence(value)
    assert result == rounded
    assert str(result) == str(rounded)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")],
)
def test_nan_or_an_infinity_is_minus_one_below_every_threshold(value: float | Decimal) -> None:
    result = round_confidence(value)
    assert result == Decimal(-1)
    assert str(result) == "-1"


def test_a_decimal_nan_is_minus_one_too_not_a_nan_that_no_gate_can_compare() -> None:
    """A calibrated confidence arrives as a Decimal (``Decimal(str(round(c, 4)))``): a NaN there must be
    -1 as a float NaN is, not a quiet NaN whose comparison with a threshold raises."""
    assert str(round_confidence(Decimal("NaN"))) == "-1"
    assert str(round_confidence(Decimal(str(round(float("nan"), 4))))) == "-1"


@pytest.mark.parametrize("value", [Decimal("1e30"), 1e30])
def test_a_number_too_large_to_round_is_minus_one(value: float | Decimal) -> None:
    assert str(round_confidence(value)) == "-1"

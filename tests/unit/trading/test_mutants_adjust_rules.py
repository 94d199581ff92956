"""The rules an operator's adjustment is held to, value by value, word by word (README "Risk gates live
outside the analyst": a moved stop is held to the risk engine's stop distance; "No unprotected
position": a stop stays on the loss side; docs/benchmarks.md, mutation testing). The refusal's words are
what the operator reads back, so they are pinned whole."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from smt_engine.config import Settings
from smt_engine.domain import Contract, Side
from smt_engine.store.records import Position
from smt_engine.trading.adjust import (
    AdjustCode,
    AdjustRefused,
    check_side,
    check_sizes,
    check_stop_limit,
    stop_limit,
)
from tests.unit.trading.conftest import eth_position

LIMIT = Decimal(8)
MID_WINDOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)  # six days left of a 1 to 10 March competition
FINAL_DAY = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # one day left


def refusal(call: object, *args: object) -> AdjustRefused:
    with pytest.raises(AdjustRefused) as info:
        call(*args)  # type: ignore[operator]
    return info.value


def long_at(sl: str | None = "1960") -> Position:
    return eth_position(sl_price=Decimal(sl) if sl is not None else None)


def short_at(sl: str | None = "2040") -> Position:
    return eth_position(side=Side.SHORT, sl_price=Decimal(sl) if sl is not None else None)


def test_a_long_stop_loosened_past_the_limit_is_refused_in_the_operators_words() -> None:
    refused = refusal(check_stop_limit, long_at(), Decimal(1838), LIMIT, "analyst.max_sl_pct")
    assert refused.code is AdjustCode.MAX_STOP_DISTANCE
    assert str(refused) == (
        "max_stop_distance: ETHUSDT LONG stop 1838 is 8.10% from the entry 2000, past the limit 8% "
        "(analyst.max_sl_pct); the current stop 1960 stays"
    )


def test_a_stop_exactly_at_the_limit_passes_and_one_tick_further_does_not() -> None:
    check_stop_limit(long_at(), Decimal(1840), LIMIT, "x")
    check_stop_limit(short_at(), Decimal(2160), LIMIT, "x")
    assert (
        refusal(check_stop_limit, long_at(), Decimal("1839.99"), LIMIT, "x").code
        is AdjustCode.MAX_STOP_DISTANCE
    )
    assert (
        refusal(check_stop_limit, short_at(), Decimal("2160.01"), LIMIT, "x").code
        is AdjustCode.MAX_STOP_DISTANCE
    )


def test_a_short_stop_is_measured_above_the_entry() -> None:
    refused = refusal(check_stop_limit, short_at(), Decimal(2170), LIMIT, "the final days' stop distance")
    assert str(refused) == (
        "max_stop_distance: ETHUSDT SHORT stop 2170 is 8.50% from the entry 2000, past the limit 8% "
        "(the final days' stop distance); the current stop 2040 stays"
    )
    check_stop_limit(short_at(), Decimal(2100), LIMIT, "x")  # loosened 5 %: within


def test_a_position_without_a_stop_may_get_one_only_within_the_limit() -> None:
    check_stop_limit(long_at(None), Decimal(1900), LIMIT, "x")
    refused = refusal(check_stop_limit, long_at(None), Decimal(1800), LIMIT, "x")
    assert str(refused) == (
        "max_stop_distance: ETHUSDT LONG stop 1800 is 10.00% from the entry 2000, past the limit 8% (x); "
        "the current stop - stays"
    )


def test_a_tightened_or_unchanged_stop_passes_even_past_the_limit() -> None:
    far = long_at("1700")  # an adopted position whose stop is 15 % away
    check_stop_limit(far, Decimal(1750), LIMIT, "x")  # tighter
    check_stop_limit(far, Decimal(1700), LIMIT, "x")  # the same stop again
    assert refusal(check_stop_limit, far, Decimal(1699), LIMIT, "x").code is AdjustCode.MAX_STOP_DISTANCE
    far_short = short_at("2300")
    check_stop_limit(far_short, Decimal(2250), LIMIT, "x")
    check_stop_limit(far_short, Decimal(2300), LIMIT, "x")
    assert (
        refusal(check_stop_limit, far_short, Decimal(2301), LIMIT, "x").code is AdjustCode.MAX_STOP_DISTANCE
    )


@pytest.mark.parametrize(
    ("position", "kind", "price", "words"),
    [
        (long_at(), "sl", "2000", "stop_wrong_side: a LONG stop must be below the price 2000; 2000 is not"),
        (long_at(), "sl", "2001", "stop_wrong_side: a LONG stop must be below the price 2000; 2001 is not"),
        (short_at(), "sl", "2000", "stop_wrong_side: a SHORT stop must be above the price 2000; 2000 is not"),
        (short_at(), "sl", "1999", "stop_wrong_side: a SHORT stop must be above the price 2000; 1999 is not"),
        (
            long_at(),
            "tp",
            "2000",
            "take_profit_wrong_side: a LONG take-profit must be above the price 2000; 2000 is not",
        ),
        (
            long_at(),
            "tp",
            "1999",
            "take_profit_wrong_side: a LONG take-profit must be above the price 2000; 1999 is not",
        ),
        (
            short_at(),
            "tp",
            "2000",
            "take_profit_wrong_side: a SHORT take-profit must be below the price 2000; 2000 is not",
        ),
        (
            short_at(),
            "tp",
            "2001",
            "take_profit_wrong_side: a SHORT take-profit must be below the price 2000; 2001 is not",
        ),
    ],
)
def test_a_leg_on_the_wrong_side_of_the_price_or_at_it_is_refused(
    position: Position, kind: str, price: str, words: str
) -> None:
    refused = refusal(check_side, position, kind, Decimal(price), Decimal(2000))
    assert str(refused) == words
    assert refused.code is (AdjustCode.STOP_WRONG_SIDE if kind == "sl" else AdjustCode.TP_WRONG_SIDE)


def test_a_leg_on_its_own_side_of_the_price_passes() -> None:
    check_side(long_at(), "sl", Decimal("1999.99"), Decimal(2000))
    check_side(long_at(), "tp", Decimal("2000.01"), Decimal(2000))
    check_side(short_at(), "sl", Decimal("2000.01"), Decimal(2000))
    check_side(short_at(), "tp", Decimal("1999.99"), Decimal(2000))


ETH = Contract("ETHUSDT", Decimal("0.01"), Decimal("0.01"), Decimal("0.05"))


def test_a_part_below_the_venue_minimum_is_refused_naming_the_step_and_the_minimum() -> None:
    refused = refusal(check_sizes, long_at(), ETH, Decimal("0.049"), Decimal("0.04"))
    assert refused.code is AdjustCode.MIN_SIZE
    assert str(refused) == "min_order_size: 0.049 on the step 0.01 is 0.04, below the venue minimum 0.05"
    check_sizes(long_at(), ETH, Decimal("0.05"), Decimal("0.05"))  # the minimum itself


def test_a_part_floored_to_nothing_is_refused_even_where_the_venue_has_no_minimum() -> None:
    free = Contract("ETHUSDT", Decimal("0.01"), Decimal("0.01"), Decimal(0))
    refused = refusal(check_sizes, long_at(), free, Decimal("0.004"), Decimal(0))
    assert str(refused) == "min_order_size: 0.004 on the step 0.01 is 0, below the venue minimum 0"


def test_a_part_that_is_the_whole_position_is_refused() -> None:
    for qty in ("1.5", "1.6"):
        refused = refusal(check_sizes, long_at(), ETH, Decimal(qty), Decimal(qty))
        assert refused.code is AdjustCode.WHOLE_POSITION
        assert str(refused) == (f"whole_position: {qty} is the whole position (1.5): close it without a size")


def test_a_part_leaving_less_than_the_minimum_is_refused_and_one_leaving_the_minimum_passes() -> None:
    refused = refusal(check_sizes, long_at(), ETH, Decimal("1.46"), Decimal("1.46"))
    assert refused.code is AdjustCode.REMAINDER_BELOW_MIN
    assert str(refused) == (
        "remainder_below_min_size: closing 1.46 of 1.5 leaves 0.04, below the venue minimum 0.05: close "
        "less, or the whole position"
    )
    check_sizes(long_at(), ETH, Decimal("1.45"), Decimal("1.45"))


def competition() -> Settings:
    return Settings.model_validate({"competition": {"start": "2026-03-01", "end": "2026-03-10"}})


def test_the_stop_limit_is_the_analysts_outside_the_final_days() -> None:
    assert stop_limit(Settings(), FINAL_DAY) == (LIMIT, "analyst.max_sl_pct")  # no window
    assert stop_limit(competition(), MID_WINDOW) == (LIMIT, "analyst.max_sl_pct")  # 2 % default


def test_in_the_final_days_the_stop_limit_is_the_phases_smaller_default() -> None:
    assert stop_limit(competition(), FINAL_DAY) == (Decimal("1.5"), "the final days' stop distance")


def test_a_final_days_default_no_smaller_than_the_analysts_limit_leaves_the_analysts() -> None:
    same = Settings.model_validate(
        {
            "competition": {"start": "2026-03-01", "end": "2026-03-10"},
            "analyst": {"max_sl_pct": "1.5", "min_sl_pct": "0.5"},
        }
    )
    assert stop_limit(same, FINAL_DAY) == (Decimal("1.5"), "analyst.max_sl_pct")

"""Price plausibility at its edges (README "No price sizes money unchecked"; docs/benchmarks.md, mutation
testing): the band, the age limit both ways and the reference's own age are inclusive limits, and the
refusal's message names the pair, the price, the reference and the reason.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker
from smt_engine.exchange.market.plausibility import (
    REFERENCE_BARS,
    REFERENCE_INTERVAL,
    ImplausiblePrice,
    PriceRule,
    implausibility,
    number_problem,
    plausible_price,
    reference_of,
)

T0 = datetime(2026, 1, 20, 8, 0, 30, tzinfo=UTC)
RULE = PriceRule(band_pct=D(1), max_age=timedelta(seconds=10))


def bar(open_time: datetime, close: str) -> Candle:
    return Candle(open_time, D(close), D(close), D(close), D(close), D(0))


def test_the_defaults_are_a_one_percent_band_and_ten_seconds() -> None:
    assert PriceRule() == PriceRule(D(1), timedelta(seconds=10))
    assert (REFERENCE_INTERVAL, REFERENCE_BARS) == ("1m", 2)


@pytest.mark.parametrize("price", ["2970", "3030"])
def test_a_price_exactly_on_the_band_passes_and_one_step_past_is_refused(price: str) -> None:
    assert implausibility(D(price), T0, D(3000), T0, RULE) is None
    past = D(price) + (D("-0.03") if price == "2970" else D("0.03"))
    assert implausibility(past, T0, D(3000), T0, RULE) == "1.00 % away from the reference (band 1 %)"


def test_a_price_exactly_at_the_age_limit_either_way_passes() -> None:
    assert implausibility(D(3000), T0 - timedelta(seconds=10), D(3000), T0, RULE) is None
    assert implausibility(D(3000), T0 + timedelta(seconds=10), D(3000), T0, RULE) is None
    assert (
        implausibility(D(3000), T0 - timedelta(seconds=10, milliseconds=1), D(3000), T0, RULE)
        == "10s old by its own timestamp (limit 10s)"
    )
    assert (
        implausibility(D(3000), T0 + timedelta(seconds=11), D(3000), T0, RULE) == "stamped 11s in the future"
    )


def test_the_age_limit_is_shown_as_configured() -> None:
    rule = PriceRule(D(1), timedelta(milliseconds=2500))
    assert implausibility(D(3000), T0 - timedelta(seconds=3), D(3000), T0, rule) == (
        "3s old by its own timestamp (limit 2.5s)"
    )


def test_the_deviation_is_measured_against_the_reference() -> None:
    # 10 away from 1000 is 1 %, from 1010 it is 0.99 %: the reference is the divisor.
    assert implausibility(D(1010), T0, D(1000), T0, RULE) is None
    assert implausibility(D(1000), T0, D(1010), T0, RULE) is None
    assert implausibility(D(1021), T0, D(1000), T0, RULE) == "2.10 % away from the reference (band 1 %)"
    assert implausibility(D(979), T0, D(1000), T0, RULE) == "2.10 % away from the reference (band 1 %)"


def test_a_deviation_just_under_ten_thousand_percent_is_plain() -> None:
    assert (
        implausibility(D("300"), T0, D("0.003"), T0, RULE) == "1.00E+7 % away from the reference (band 1 %)"
    )
    assert (
        implausibility(D("0.3009"), T0, D("0.003"), T0, RULE)
        == "9930.00 % away from the reference (band 1 %)"
    )
    assert (
        implausibility(D("0.303"), T0, D("0.003"), T0, RULE) == "1.00E+4 % away from the reference (band 1 %)"
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (D("NaN"), "not a finite number"),
        (D("-Infinity"), "not a finite number"),
        (D("0"), "not positive"),
        (D("-0.0001"), "not positive"),
        (D("0.0001"), None),
    ],
)
def test_a_number_problem_is_named(value: D, problem: str | None) -> None:
    assert number_problem(value) == problem


def test_a_non_positive_reference_is_no_reference() -> None:
    assert implausibility(D(3000), T0, D(-3000), T0, RULE) == "no usable reference price to check it against"


def test_the_reference_is_the_newest_bars_close_up_to_five_minutes_old() -> None:
    bars = [bar(T0 - timedelta(minutes=6), "2900"), bar(T0 - timedelta(minutes=5), "3000")]
    assert reference_of(bars, T0) == D(3000)  # exactly five minutes: still vouches
    assert reference_of(bars, T0 + timedelta(milliseconds=1)) is None
    assert reference_of(bars[:1], T0) is None


def test_the_refusal_names_pair_price_reference_and_reason() -> None:
    refused = ImplausiblePrice("ETHUSDT", D("300.50"), D("3000"), "90 % away")
    assert str(refused) == (
        "ETHUSDT: price 300.5 refused (90 % away; reference 3000): the pair waits this cycle"
    )
    assert refused.reason == "90 % away"
    assert str(ImplausiblePrice("ETHUSDT", D("NaN"), None, "x")) == (
        "ETHUSDT: price NaN refused (x; reference none): the pair waits this cycle"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (D("1e-11"), "0.00000000001"),
        (D("1e-12"), "1E-12"),
        (D("1e19"), "10000000000000000000"),
        (D("1e20"), "1E+20"),
        (D("Infinity"), "Infinity"),
    ],
)
def test_a_price_in_a_message_is_plain_unless_absurdly_long(value: D, shown: str) -> None:
    assert str(ImplausiblePrice("X", value, None, "r")).startswith(f"X: price {shown} refused")


class _Market:
    """A venue whose ticker says 300 while its newest 1-minute bar closed at 3000."""

    async def ticker(self, symbol: str) -> Ticker:
        return Ticker(symbol, D(300), D(300), T0)

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        return [bar(T0 - timedelta(seconds=30), "3000")]


async def test_the_warning_event_says_what_was_refused(caplog: pytest.LogCaptureFixture) -> None:
    """The events table mirrors this record: its text is what `smt status` and the console show."""
    clock = SimulatedClock(T0)
    with caplog.at_level(logging.WARNING), pytest.raises(ImplausiblePrice) as refused:
        await plausible_price(_Market(), "ETHUSDT", clock, RULE)  # type: ignore[arg-type]
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "price.implausible"]
    assert record.getMessage() == str(refused.value)
    assert record.getMessage() == (
        "ETHUSDT: price 300 refused (90.00 % away from the reference (band 1 %); reference 3000): "
        "the pair waits this cycle"
    )

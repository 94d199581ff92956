"""The precision rules' exact answers: the refusal codes and words an operator reads, and each boundary."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import pytest

from smt_engine.domain import Contract, Side
from smt_engine.exchange.precision import (
    PrecisionError,
    check_price,
    check_size,
    check_tp_sl,
    floor_to_step,
    plain,
    quoted_increment,
    quoted_step,
    round_to_tick,
    step_from_decimals,
)

ETH = Contract("ETHUSDT", D("0.01"), D("0.1"), D("0.05"), D("100"), D("5"))


def refusal(call: Callable[..., None], *args: object) -> tuple[str, str]:
    with pytest.raises(PrecisionError) as caught:
        call(*args)
    return caught.value.code, str(caught.value)


def test_a_step_of_zero_is_refused_by_name_not_divided_by() -> None:
    with pytest.raises(ValueError, match=r"^step must be positive, got 0$"):
        floor_to_step(D("1.5"), D(0))


def test_a_step_of_ten_keeps_a_plain_integer_form() -> None:
    """A step given as a negative decimal count (1E+1) still yields "120", not "1.2E+2"."""
    assert str(floor_to_step(D("123.7"), step_from_decimals(-1))) == "120"
    assert str(floor_to_step(D("0.739"), D("0.01"))) == "0.73"


def test_a_price_halfway_between_ticks_rounds_up() -> None:
    assert str(round_to_tick(D("0.25"), D("0.1"))) == "0.3"
    assert str(round_to_tick(D("2.5"), D("1"))) == "3"


def test_plain_drops_trailing_zeros_and_a_bare_point() -> None:
    assert plain(D("1.000")) == "1"
    assert plain(D("0.70")) == "0.7"
    assert plain(D("1E+2")) == "100"
    assert plain(D("0E-8")) == "0"


def test_a_size_that_rounds_to_zero_is_refused_with_the_step() -> None:
    assert refusal(check_size, ETH, D(0), None) == ("size_zero", "ETHUSDT: size rounds to 0 at step 0.01")


def test_a_size_off_the_step_is_refused_with_both_numbers() -> None:
    assert refusal(check_size, ETH, D("0.055"), None) == (
        "size_step",
        "ETHUSDT: size 0.055 is not a multiple of step 0.01",
    )


def test_a_size_below_the_minimum_is_refused_never_inflated() -> None:
    assert refusal(check_size, ETH, D("0.04"), None) == (
        "below_min_size",
        "ETHUSDT: size 0.04 is below the minimum 0.05",
    )


def test_a_size_above_the_maximum_is_refused() -> None:
    assert refusal(check_size, ETH, D("100.01"), None) == (
        "above_max_size",
        "ETHUSDT: size 100.01 is above the maximum 100",
    )


def test_sizes_at_the_minimum_and_maximum_and_a_notional_at_the_floor_are_accepted() -> None:
    check_size(ETH, D("0.05"), D("100"))  # notional 5 USDT: exactly the floor
    check_size(ETH, D("100"), D("2000"))


def test_a_notional_below_the_floor_is_refused_with_its_value() -> None:
    """Size times price (0.05 x 99.8 = 4.99) is the notional, not size over price."""
    assert refusal(check_size, ETH, D("0.05"), D("99.8")) == (
        "below_min_notional",
        "ETHUSDT: notional 4.99 USDT is below the minimum 5",
    )
    check_size(ETH, D("0.1"), D("100"))  # 10 USDT by the product, 0.001 by the quotient


@pytest.mark.parametrize("price", [D(0), D("2000.05")])
def test_a_price_off_the_tick_or_not_positive_is_refused(price: D) -> None:
    assert refusal(check_price, ETH, price, "stop-loss") == (
        "price_tick",
        f"ETHUSDT: stop-loss {plain(price)} is not a positive multiple of tick 0.1",
    )


def test_a_price_of_one_on_the_tick_is_accepted() -> None:
    check_price(ETH, D("1"), "price")
    check_price(ETH, D("0.3"), "price")


@pytest.mark.parametrize(
    ("side", "tp", "where"),
    [(Side.LONG, D("1999.9"), "above"), (Side.LONG, D("2000"), "above"), (Side.SHORT, D("2000.1"), "below")],
)
def test_a_take_profit_on_the_losing_side_or_at_the_price_is_refused(side: Side, tp: D, where: str) -> None:
    assert refusal(check_tp_sl, side, D("2000.0"), tp, None) == (
        "tp_wrong_side",
        f"{side} take-profit {plain(tp)} must be {where} the order price 2000",
    )


@pytest.mark.parametrize(
    ("side", "sl", "where"),
    [(Side.LONG, D("2000.1"), "below"), (Side.SHORT, D("2000"), "above"), (Side.SHORT, D("1999.9"), "above")],
)
def test_a_stop_loss_on_the_winning_side_or_at_the_price_is_refused(side: Side, sl: D, where: str) -> None:
    assert refusal(check_tp_sl, side, D("2000.0"), None, sl) == (
        "sl_wrong_side",
        f"{side} stop-loss {plain(sl)} must be {where} the order price 2000",
    )


def test_targets_a_fraction_of_a_unit_away_on_the_right_side_are_accepted() -> None:
    check_tp_sl(Side.LONG, D("2000"), D("2000.5"), D("1999.5"))
    check_tp_sl(Side.SHORT, D("2000"), D("1999.5"), D("2000.5"))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("price tick size 0.01", ("price", D("0.01"))),
        ("quantity must match step size 0.5", ("size", D("0.5"))),
        ("stepSize: 0", None),
    ],
)
def test_a_spaced_name_is_read_and_a_zero_increment_is_no_increment(message: str, expected: object) -> None:
    assert quoted_increment(message) == expected


def test_quoted_step_is_none_when_the_text_quotes_nothing() -> None:
    assert quoted_step("Decimal precision incorrect") is None
    assert quoted_step("stepSize '10'") == D(10)

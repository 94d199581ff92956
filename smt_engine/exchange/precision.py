"""Precision rules: the seed system had 9 of its first 10 live orders rejected for step/tick errors.

Sizes are floored to the step (never more than intended), prices rounded to the tick, stop-loss
triggers rounded to the tighter side (toward the entry), and anything too small is refused with a
reason, never inflated to the minimum.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal

from smt_engine.domain import Contract, Side


class PrecisionError(Exception):
    """An order that the exchange would reject for its size, price or TP/SL placement."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


def step_from_decimals(decimals: int) -> Decimal:
    """WEEX gives decimal counts (``quantityPrecision: 3``); negative counts mean steps of 10, 100..."""
    return Decimal(1).scaleb(-decimals)


def _to_multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    units = (value / step).to_integral_value(rounding=rounding)
    result = units * step
    # Keep the step's exponent so "0.70" prints as the exchange expects ("0.7" for step 0.1).
    exponent = step.as_tuple().exponent
    return (
        result.quantize(step) if isinstance(exponent, int) and exponent < 0 else result.quantize(Decimal(1))
    )


def floor_to_step(size: Decimal, step: Decimal) -> Decimal:
    return _to_multiple(size, step, ROUND_FLOOR)


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    return _to_multiple(price, tick, ROUND_HALF_UP)


def round_stop(price: Decimal, tick: Decimal, position_side: Side) -> Decimal:
    """A stop-loss rounds toward the entry: up for a long's stop, down for a short's."""
    return _to_multiple(price, tick, ROUND_CEILING if position_side is Side.LONG else ROUND_FLOOR)


def plain(value: Decimal) -> str:
    """A decimal as the exchange wants it on the wire: no exponent, no trailing noise."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")  # "0.000" stops at its point: "0", never ""
    return text


def check_size(contract: Contract, size: Decimal, price: Decimal | None) -> None:
    """Refuse (never inflate) an order below the contract's minimum size or notional; with no ``price``
    to value it at, the notional is left to the venue."""
    if size <= 0:
        raise PrecisionError(
            "size_zero", f"{contract.symbol}: size rounds to 0 at step {plain(contract.step_size)}"
        )
    if size % contract.step_size != 0:
        raise PrecisionError(
            "size_step",
            f"{contract.symbol}: size {plain(size)} is not a multiple of step {plain(contract.step_size)}",
        )
    if size < contract.min_size:
        raise PrecisionError(
            "below_min_size",
            f"{contract.symbol}: size {plain(size)} is below the minimum {plain(contract.min_size)}",
        )
    if contract.max_size is not None and size > contract.max_size:
        raise PrecisionError(
            "above_max_size",
            f"{contract.symbol}: size {plain(size)} is above the maximum {plain(contract.max_size)}",
        )
    if price is None:
        return
    notional = size * price
    if contract.min_notional and notional < contract.min_notional:
        raise PrecisionError(
            "below_min_notional",
            f"{contract.symbol}: notional {plain(notional)} USDT is below the minimum "
            f"{plain(contract.min_notional)}",
        )


def check_price(contract: Contract, price: Decimal, what: str) -> None:
    if price <= 0 or price % contract.tick_size != 0:
        raise PrecisionError(
            "price_tick",
            f"{contract.symbol}: {what} {plain(price)} is not a positive multiple of tick "
            f"{plain(contract.tick_size)}",
        )


def check_tp_sl(side: Side, order_price: Decimal, tp: Decimal | None, sl: Decimal | None) -> None:
    """TP beyond the order price on the profitable side, SL on the losing side (checked before sending)."""
    px = plain(order_price)
    if tp is not None and (tp - order_price) * side.sign <= 0:
        where = "above" if side is Side.LONG else "below"
        raise PrecisionError(
            "tp_wrong_side", f"{side} take-profit {plain(tp)} must be {where} the order price {px}"
        )
    if sl is not None and (order_price - sl) * side.sign <= 0:
        where = "below" if side is Side.LONG else "above"
        raise PrecisionError(
            "sl_wrong_side", f"{side} stop-loss {plain(sl)} must be {where} the order price {px}"
        )


# v2 quoted ``stepSize '10'``; v3 names the fields ``stepSize``/``tickSize`` or, like exchangeInfo, gives a
# decimal count (``quantityPrecision``/``pricePrecision``), with ``:``/``=``/quotes around the value.
_QUOTED = re.compile(
    r"(?P<name>stepSize|step size|tickSize|tick size|quantityPrecision|pricePrecision)"
    r"\W{0,4}?(?:is|of|=|:)?\W{0,3}(?P<value>-?[0-9]+(?:\.[0-9]+)?)",
    re.IGNORECASE,
)


def quoted_increment(message: str) -> tuple[Literal["size", "price"], Decimal] | None:
    """What a precision rejection quotes: the size step or the price tick (v2 and v3 texts).

    A v2 text (``tp param triggerPrice ... matches the stepSize '0.1'``) calls a price tick "stepSize",
    so a ``stepSize`` quoted after a mention of a price is the tick.
    """
    match = _QUOTED.search(message)
    if match is None:
        return None
    name = match.group("name").lower().replace(" ", "")
    raw = Decimal(match.group("value"))
    value = step_from_decimals(int(raw)) if name.endswith("precision") else raw
    if value <= 0:
        return None
    before = message[: match.start()].lower()
    about_price = name in ("ticksize", "priceprecision") or (name == "stepsize" and "price" in before)
    return ("price" if about_price else "size"), value


def quoted_step(message: str) -> Decimal | None:
    """The increment an exchange rejection quotes (safety net for steps that changed since we loaded them)."""
    found = quoted_increment(message)
    return found[1] if found else None

"""When the guard may wait instead of closing a position whose stop could not be re-placed.

Only while the refusal may rest on a glitch of our own feed: the position's price is implausible and
the independent reference (the venue's REST 1-minute bar) still has the stop on its valid side. A stop
at or through the reference, no reference, or a price that cannot be read at all: close at market.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import Candle, PositionState, Side
from smt_engine.exchange.base import ExchangeUnavailable, Ticker
from smt_engine.store.records import Position
from smt_engine.trading.position_guard import PositionGuard

T0 = datetime(2026, 1, 14, 8, 0, 30, tzinfo=UTC)
MINUTE = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)


class Venue:
    """The two reads the plausibility check makes: the (pushed) ticker and the REST 1-minute bars."""

    def __init__(self, last: str, reference: str | None, *, klines_fail: bool = False) -> None:
        self.last = D(last)
        self.reference = reference
        self.klines_fail = klines_fail

    async def ticker(self, symbol: str) -> Ticker:
        return Ticker(symbol, self.last, self.last, T0)

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        if self.klines_fail:
            raise ExchangeUnavailable("klines BTCUSDT: bad response")
        if self.reference is None:
            return []
        ref = D(self.reference)
        return [Candle(MINUTE, ref, ref, ref, ref, D(1))]


def position(side: Side, stop: str) -> Position:
    return Position(
        symbol="BTCUSDT",
        side=side,
        size=D("0.01"),
        entry_price=D(95000),
        opened_at=T0,
        state=PositionState.OPEN,
        leverage=10,
        updated_at=T0,
        sl_price=D(stop),
        id=1,
    )


async def may_wait(venue: Venue, pos: Position) -> bool:
    guard = PositionGuard(Settings(), None, SimulatedClock(T0), venue, None)  # type: ignore[arg-type]
    assert pos.sl_price is not None
    result: Any = await guard._refusal_may_rest_on_a_glitch(pos, pos.sl_price)
    return bool(result)


@pytest.mark.parametrize(
    ("side", "stop", "pushed", "reference", "wait"),
    [
        # A 10x-low push, the market near the entry: the stop is good, the refusal is the glitch's.
        (Side.LONG, "93000", "9500", "95000", True),
        (Side.SHORT, "97000", "950000", "95000", True),
        # Less than one price unit on the valid side is still valid.
        (Side.LONG, "94999.5", "9500", "95000", True),
        (Side.SHORT, "95000.5", "950000", "95000", True),
        # The market went through the stop by the reference: no price the venue accepts holds it.
        (Side.LONG, "93000", "9500", "92000", False),
        (Side.SHORT, "97000", "950000", "98000", False),
        # Exactly at the stop is through it: a stop must lie strictly beyond the price.
        (Side.LONG, "93000", "9500", "93000", False),
        (Side.SHORT, "97000", "950000", "97000", False),
        # A plausible price: the refusal is real.
        (Side.LONG, "93000", "92000", "92000", False),
    ],
)
async def test_the_guard_waits_only_when_the_reference_still_has_the_stop_valid(
    side: Side, stop: str, pushed: str, reference: str, wait: bool
) -> None:
    assert await may_wait(Venue(pushed, reference), position(side, stop)) is wait


async def test_without_a_reference_the_guard_does_not_wait() -> None:
    """Nothing independent says the refusal is a glitch: closing at market stays the rule."""
    assert await may_wait(Venue("9500", None), position(Side.LONG, "93000")) is False


async def test_a_price_that_cannot_be_read_does_not_make_the_guard_wait() -> None:
    assert await may_wait(Venue("9500", "95000", klines_fail=True), position(Side.LONG, "93000")) is False

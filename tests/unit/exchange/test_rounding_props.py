"""Property tests for the precision rules the seed system got wrong."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from smt_engine.domain import Side
from smt_engine.exchange.precision import floor_to_step, plain, round_stop, round_to_tick

STEPS = [Decimal(s) for s in ("0.0001", "0.001", "0.01", "0.1", "1", "10", "100", "0.00001", "0.5", "0.25")]
amounts = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("10000000"), places=8, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(size=amounts, step=st.sampled_from(STEPS))
def test_floor_never_exceeds_and_is_a_multiple(size: Decimal, step: Decimal) -> None:
    floored = floor_to_step(size, step)
    assert floored <= size
    assert floored % step == 0
    assert size - floored < step
    assert "E" not in plain(floored)


@settings(max_examples=300, deadline=None)
@given(price=amounts, tick=st.sampled_from(STEPS))
def test_prices_land_on_the_tick_within_half_a_tick(price: Decimal, tick: Decimal) -> None:
    rounded = round_to_tick(price, tick)
    assert rounded % tick == 0
    assert abs(rounded - price) <= tick / 2


@settings(max_examples=300, deadline=None)
@given(
    entry=amounts,
    pct=st.decimals(min_value=Decimal("0.1"), max_value=Decimal(50), places=2),
    tick=st.sampled_from(STEPS),
)
def test_stops_round_to_the_tighter_side(entry: Decimal, pct: Decimal, tick: Decimal) -> None:
    long_raw = entry * (1 - pct / 100)
    short_raw = entry * (1 + pct / 100)
    long_stop = round_stop(long_raw, tick, Side.LONG)
    short_stop = round_stop(short_raw, tick, Side.SHORT)
    assert long_stop % tick == 0
    assert short_stop % tick == 0
    assert long_raw <= long_stop < long_raw + tick  # up, toward a long's entry: never a larger loss
    assert short_raw - tick < short_stop <= short_raw  # down, toward a short's entry

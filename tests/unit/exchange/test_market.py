"""Synthetic and manual markets: determinism, candle shapes, ticks."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.market import DEFAULT_MODELS, ManualMarket, SyntheticMarket

T0 = datetime(2026, 3, 5, 14, 37, 20, tzinfo=UTC)


async def test_synthetic_is_deterministic_for_seed_and_time() -> None:
    a = SyntheticMarket(SimulatedClock(T0), seed=3)
    clock_b = SimulatedClock(datetime(2026, 1, 2, tzinfo=UTC))
    b = SyntheticMarket(clock_b, seed=3)
    await b.last_price("ETHUSDT")  # b has lived through other times first
    await clock_b.advance((T0 - clock_b.now()).total_seconds())
    for symbol in DEFAULT_MODELS:
        assert await a.last_price(symbol) == await b.last_price(symbol)
    other = SyntheticMarket(SimulatedClock(T0), seed=4)
    assert await other.last_price("BTCUSDT") != await a.last_price("BTCUSDT")


async def test_synthetic_candles_are_consistent_and_on_tick() -> None:
    market = SyntheticMarket(SimulatedClock(T0), seed=1)
    for symbol, model in DEFAULT_MODELS.items():
        bars = await market.candles(symbol, "4h", 50)
        assert len(bars) == 50
        assert all(b.open_time + timedelta(hours=4) == n.open_time for b, n in itertools.pairwise(bars))
        assert bars[-1].open_time <= T0 < bars[-1].open_time + timedelta(hours=4)
        for bar in bars:
            assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
            assert bar.close % model.tick == 0
        assert bars[-1].close == await market.last_price(symbol)
        # Realistic: within a factor of two of the starting level two months later.
        assert model.start / 2 < bars[-1].close < model.start * 2


async def test_synthetic_bars_between_match_minute_path() -> None:
    clock = SimulatedClock(T0)
    market = SyntheticMarket(clock, seed=1)
    bars = await market.bars_between("SOLUSDT", T0 - timedelta(minutes=10), T0)
    assert len(bars) == 10
    assert bars[-1].close == await market.last_price("SOLUSDT")
    ones = await market.candles("SOLUSDT", "1m", 10)
    assert [b.close for b in ones] == [b.close for b in bars]
    # Volatility is realistic: one-minute BTC moves well under 1 % on average.
    minute = await market.candles("BTCUSDT", "1m", 500)
    moves = [abs(b.close - b.open) / b.open for b in minute]
    assert Decimal(0) < sum(moves) / len(moves) < Decimal("0.003")


async def test_manual_market_ticks_and_candles() -> None:
    clock = SimulatedClock(T0)
    market = ManualMarket(clock, {"BTCUSDT": Decimal(100)})
    await clock.advance(60)
    market.set_price("BTCUSDT", Decimal(101), high=Decimal(110))
    bars = await market.bars_between("BTCUSDT", T0, clock.now())
    assert [(b.high, b.close) for b in bars] == [(Decimal(110), Decimal(101))]
    candles = await market.candles("BTCUSDT", "1h", 2)
    assert candles[-1].high == Decimal(110)
    assert candles[-1].close == Decimal(101)


async def test_a_tick_set_at_the_instant_a_venue_read_the_price_is_not_lost() -> None:
    """A paper venue fills a market entry at ``last_price`` and moves its cursor to now; a TP spike set at
    that same instant must still be in its next ``(cursor, now]``, or the TP never fires (this lost the
    pushed-TP close in tests/integration/exchange/test_streams.py once the fake answered fast)."""
    clock = SimulatedClock(datetime(2026, 1, 14, 8, tzinfo=UTC))
    market = ManualMarket(clock, {"ETHUSDT": Decimal(3000)})
    await clock.advance(1)
    cursor = clock.now()
    assert await market.last_price("ETHUSDT") == Decimal(3000)  # the entry's fill price, read at cursor
    market.set_price("ETHUSDT", Decimal(3095), high=Decimal(3100))
    await clock.advance(0.05)
    bars = await market.bars_between("ETHUSDT", cursor, clock.now())
    assert [(b.high, b.close) for b in bars] == [(Decimal(3100), Decimal(3095))]

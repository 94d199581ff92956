"""Paper mode's prices: a fresh public-stream ticker wins, a stale or missing one falls back to REST."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.market import ManualMarket
from smt_engine.exchange.market.streamed import StreamedMarket, StreamPrices

T0 = datetime(2026, 1, 20, 8, 0, tzinfo=UTC)


async def test_fresh_stream_price_wins_and_stale_one_falls_back_to_rest() -> None:
    clock = SimulatedClock(T0)
    rest = ManualMarket(clock, {"ETHUSDT": D("3000")})
    prices = StreamPrices()
    market = StreamedMarket(rest, prices, clock)
    assert await market.last_price("ETHUSDT") == D("3000")  # nothing pushed yet
    prices.update("ETHUSDT", D("3012.5"), D("3012.1"), clock.now())
    ticker = await market.ticker("ETHUSDT")
    assert (ticker.last, ticker.mark, ticker.at) == (D("3012.5"), D("3012.1"), T0)
    await clock.advance(11)  # older than the 10 s freshness bound
    assert await market.last_price("ETHUSDT") == D("3000")
    rest.set_price("ETHUSDT", D("2990"))
    assert await market.last_price("ETHUSDT") == D("2990")
    # The trigger path stays on the REST bars, which carry every wick (the tick lands just after the
    # instant the price was read at, so it is read on the next look).
    await clock.advance(1)
    assert [b.close for b in await market.bars_between("ETHUSDT", T0, clock.now())] == [D("2990")]

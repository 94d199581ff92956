"""Paper mode's prices: a fresh public-stream ticker wins, a stale or missing one falls back to REST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker
from smt_engine.exchange.market import ManualMarket
from smt_engine.exchange.market.streamed import StreamedMarket, StreamPrices, fresh_ticker

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


def test_a_price_stored_without_its_arrival_arrived_at_its_own_stamp() -> None:
    prices = StreamPrices()
    prices.update("ETHUSDT", D("3000"), D("2999"), T0)
    prices.update("BTCUSDT", D("60000"), D("59990"), T0, T0 + timedelta(seconds=4))
    assert prices.get("ETHUSDT") == (D("3000"), D("2999"), T0)
    assert prices.arrived("ETHUSDT") == T0
    assert prices.get("BTCUSDT") == (D("60000"), D("59990"), T0)
    assert prices.arrived("BTCUSDT") == T0 + timedelta(seconds=4)


def test_forgetting_a_pairs_pushed_price_drops_it_and_leaves_the_others() -> None:
    prices = StreamPrices()
    prices.update("ETHUSDT", D("3000"), D("2999"), T0)
    prices.update("BTCUSDT", D("60000"), D("59990"), T0)
    prices.forget("ETHUSDT")
    prices.forget("SOLUSDT")  # never pushed: nothing to drop, no error
    assert (prices.get("ETHUSDT"), prices.arrived("ETHUSDT")) == (None, None)
    assert (prices.get("BTCUSDT"), prices.arrived("BTCUSDT")) == ((D("60000"), D("59990"), T0), T0)


async def test_a_push_is_fresh_up_to_max_age_after_its_arrival_and_carries_the_venues_stamp() -> None:
    clock = SimulatedClock(T0)
    prices = StreamPrices()
    stamp = T0 - timedelta(
        seconds=30
    )  # arrived old: handed on with its own old time, for the check to refuse
    prices.update("ETHUSDT", D("3000"), D("2999"), stamp, T0)
    age = timedelta(seconds=5)
    await clock.advance(5)
    assert fresh_ticker(prices, "ETHUSDT", clock, age) == Ticker("ETHUSDT", D("3000"), D("2999"), stamp)
    await clock.advance(0.000001)
    assert fresh_ticker(prices, "ETHUSDT", clock, age) is None
    assert fresh_ticker(prices, "BTCUSDT", clock, age) is None


class OneSided:
    """Latest prices that know a price but not its arrival, or an arrival but no price."""

    def __init__(self, price: bool) -> None:
        self.price = price

    def get(self, symbol: str) -> tuple[D, D, datetime] | None:
        return (D("3000"), D("3000"), T0) if self.price else None

    def arrived(self, symbol: str) -> datetime | None:
        return None if self.price else T0


def test_a_push_without_its_price_or_without_its_arrival_is_no_ticker() -> None:
    clock = SimulatedClock(T0)
    for prices in (OneSided(price=True), OneSided(price=False)):
        assert fresh_ticker(prices, "ETHUSDT", clock, timedelta(seconds=10)) is None


class Rest:
    """A REST source that answers fixed values and keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.bar = Candle(T0, D("1"), D("2"), D("0.5"), D("1.5"), D("10"))

    async def last_price(self, symbol: str) -> D:
        raise AssertionError("StreamedMarket reads the REST ticker, not its last price")

    async def ticker(self, symbol: str) -> Ticker:
        self.calls.append(("ticker", symbol))
        return Ticker(symbol, D("2900"), D("2901"), T0 - timedelta(seconds=1))

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        self.calls.append(("candles", symbol, interval, limit))
        return [self.bar]

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        self.calls.append(("bars_between", symbol, start, end))
        return [self.bar, self.bar]

    async def aclose(self) -> None:
        self.calls.append(("aclose",))


async def test_the_market_takes_a_push_up_to_ten_seconds_old_then_the_rest_ticker() -> None:
    clock = SimulatedClock(T0)
    rest, prices = Rest(), StreamPrices()
    market = StreamedMarket(rest, prices, clock)
    prices.update("ETHUSDT", D("3000"), D("2999"), T0)
    await clock.advance(10)
    assert await market.ticker("ETHUSDT") == Ticker("ETHUSDT", D("3000"), D("2999"), T0)
    assert await market.last_price("ETHUSDT") == D("3000"), "the last price, not the mark"
    assert rest.calls == []
    await clock.advance(0.000001)
    assert await market.ticker("ETHUSDT") == Ticker(
        "ETHUSDT", D("2900"), D("2901"), T0 - timedelta(seconds=1)
    )
    assert await market.last_price("ETHUSDT") == D("2900")
    assert rest.calls == [("ticker", "ETHUSDT"), ("ticker", "ETHUSDT")]


async def test_the_markets_own_max_age_is_the_one_it_keeps_to() -> None:
    clock = SimulatedClock(T0)
    rest, prices = Rest(), StreamPrices()
    market = StreamedMarket(rest, prices, clock, max_age=timedelta(seconds=2))
    prices.update("ETHUSDT", D("3000"), D("2999"), T0)
    await clock.advance(3)
    assert (await market.ticker("ETHUSDT")).last == D("2900")


async def test_candles_bars_and_closing_are_the_rest_sources() -> None:
    clock = SimulatedClock(T0)
    rest = Rest()
    market = StreamedMarket(rest, StreamPrices(), clock)
    end = T0 + timedelta(minutes=3)
    assert await market.candles("ETHUSDT", "1m", 7) == [rest.bar]
    assert await market.bars_between("BTCUSDT", T0, end) == [rest.bar, rest.bar]
    await market.aclose()
    assert rest.calls == [("candles", "ETHUSDT", "1m", 7), ("bars_between", "BTCUSDT", T0, end), ("aclose",)]

"""Live prices for paper and live mode: the public websocket's latest ticker when it is fresh, REST otherwise.

The trigger path (``bars_between``) and candles stay on WEEX's REST klines, which carry every wick of the
minute; the stream makes the price the engine sees (tickers, entries, unrealised PnL) live instead of one
poll old. A stale or missing stream price falls back to REST, so a dead stream never freezes a price.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from smt_engine.clock import Clock
from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker
from smt_engine.exchange.market.base import PriceSource


class LatestPrices(Protocol):
    def get(self, symbol: str) -> tuple[Decimal, Decimal, datetime] | None:
        """Last, mark and the venue's own time of the newest push."""
        ...

    def arrived(self, symbol: str) -> datetime | None:
        """When that push arrived (on the engine's clock)."""
        ...


STREAM_PRICE_MAX_AGE = timedelta(seconds=10)


class StreamPrices:
    """The latest public-stream price per symbol (last and mark), stamped with the venue's time of the
    push, and when it arrived."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[Decimal, Decimal, datetime]] = {}
        self._arrived: dict[str, datetime] = {}

    def update(
        self, symbol: str, last: Decimal, mark: Decimal, at: datetime, arrived: datetime | None = None
    ) -> None:
        self._latest[symbol] = (last, mark, at)
        self._arrived[symbol] = arrived if arrived is not None else at

    def forget(self, symbol: str) -> None:
        """Drop the symbol's pushed price: readers fall back to REST until the next good push."""
        self._latest.pop(symbol, None)
        self._arrived.pop(symbol, None)

    def get(self, symbol: str) -> tuple[Decimal, Decimal, datetime] | None:
        return self._latest.get(symbol)

    def arrived(self, symbol: str) -> datetime | None:
        return self._arrived.get(symbol)


def fresh_ticker(prices: LatestPrices, symbol: str, clock: Clock, max_age: timedelta) -> Ticker | None:
    """The pushed ticker for ``symbol`` if it arrived within ``max_age`` (paper and live read prices this
    way), stamped with the venue's own time: a stream gone quiet falls back to REST, while a frame that
    arrives already old is handed on with its old stamp, for the price plausibility check to refuse
    (``exchange/market/plausibility.py``)."""
    latest = prices.get(symbol)
    arrived = prices.arrived(symbol)
    if latest is None or arrived is None or clock.now() - arrived > max_age:
        return None
    last, mark, at = latest
    return Ticker(symbol=symbol, last=last, mark=mark, at=at)


class StreamedMarket:
    """A ``PriceSource`` that prefers pushed prices younger than ``max_age``."""

    def __init__(
        self,
        rest: PriceSource,
        prices: LatestPrices,
        clock: Clock,
        max_age: timedelta = STREAM_PRICE_MAX_AGE,
    ) -> None:
        self.rest = rest
        self.prices = prices
        self.clock = clock
        self.max_age = max_age

    async def ticker(self, symbol: str) -> Ticker:
        pushed = fresh_ticker(self.prices, symbol, self.clock, self.max_age)
        return pushed if pushed is not None else await self.rest.ticker(symbol)

    async def last_price(self, symbol: str) -> Decimal:
        return (await self.ticker(symbol)).last

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        return await self.rest.candles(symbol, interval, limit)

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        return await self.rest.bars_between(symbol, start, end)

    async def aclose(self) -> None:
        await self.rest.aclose()

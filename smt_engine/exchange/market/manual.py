"""Prices set by hand: tests and the fake WEEX drive triggers with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smt_engine.clock import Clock
from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker
from smt_engine.exchange.market.base import (
    floor_time,
    interval_seconds,
)


class ManualMarket:
    """Prices set by hand (``set_price``), each a tick at the clock's time: tests use it to make a TP fire.

    ``set_price(..., low=..., high=...)`` records a spike inside one tick, which is how a test models a
    wick that touched a trigger between two polls.
    """

    def __init__(self, clock: Clock, prices: dict[str, Decimal] | None = None) -> None:
        self.clock = clock
        self._ticks: dict[str, list[Candle]] = {}
        self._read_until = datetime.min.replace(tzinfo=UTC)
        for symbol, price in (prices or {}).items():
            self._ticks[symbol] = [Candle(clock.now(), price, price, price, price, Decimal(0))]

    def set_price(
        self, symbol: str, price: Decimal, *, low: Decimal | None = None, high: Decimal | None = None
    ) -> None:
        ticks = self._ticks.setdefault(symbol, [])
        # A tick never lands at or before a time a reader has already consumed, or it would be lost to
        # a venue that evaluates (cursor, now] and already moved its cursor to this same instant.
        at = max(self.clock.now(), self._read_until + timedelta(microseconds=1))
        if ticks and at <= ticks[-1].open_time:
            at = ticks[-1].open_time + timedelta(microseconds=1)
        prev = ticks[-1].close if ticks else price
        lo = min(prev, price, low if low is not None else price)
        hi = max(prev, price, high if high is not None else price)
        ticks.append(Candle(at, prev, hi, lo, price, Decimal(0)))

    def price_now(self, symbol: str) -> Decimal:
        ticks = self._ticks.get(symbol)
        if not ticks:
            raise ValueError(f"manual market has no price for {symbol}")
        return ticks[-1].close

    def _consumed_now(self) -> None:
        """A venue that read the price now (a market fill at it) has consumed now: a tick set later at
        this same instant would fall inside neither its past nor its next ``(cursor, now]``, and be lost."""
        self._read_until = max(self._read_until, self.clock.now())

    async def last_price(self, symbol: str) -> Decimal:
        self._consumed_now()
        return self.price_now(symbol)

    async def ticker(self, symbol: str) -> Ticker:
        self._consumed_now()
        last = self.price_now(symbol)
        return Ticker(symbol=symbol, last=last, mark=last, at=self.clock.now())

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        self._read_until = max(self._read_until, end)
        return [t for t in self._ticks.get(symbol, []) if start < t.open_time <= end]

    async def aclose(self) -> None:
        return None  # holds no connection

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        secs = interval_seconds(interval)
        now = self.clock.now()
        ticks = self._ticks.get(symbol, [])
        if not ticks:
            return []
        last_open = floor_time(now, secs)
        out: list[Candle] = []
        price = ticks[0].open
        i = 0
        for b in range(limit - 1, -1, -1):
            start = last_open - timedelta(seconds=secs * b)
            end = start + timedelta(seconds=secs)
            while i < len(ticks) and ticks[i].open_time < start:
                price = ticks[i].close
                i += 1
            inside = []
            while i < len(ticks) and ticks[i].open_time < end:
                inside.append(ticks[i])
                i += 1
            if inside:
                out.append(
                    Candle(
                        start,
                        price,
                        max(t.high for t in inside),
                        min(t.low for t in inside),
                        inside[-1].close,
                        Decimal(0),
                    )
                )
                price = inside[-1].close
            else:
                out.append(Candle(start, price, price, price, price, Decimal(0)))
        return out

"""Stored history as a price source: what the paper venue and the analyst see at the clock's moment.

Only bars that had *closed* by the clock's time exist here: the last price is the latest closed bar's
close, ``candles`` are the latest closed bars, and ``bars_between`` hands the paper venue each bar once
it has closed. A bar still forming at a decision time is never visible to it (no look-ahead).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker


class HistoryClock:
    """The backtest's time: it jumps to the moment being simulated, forward only."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        if at < self._now:
            raise ValueError(f"a backtest never goes back in time ({at} < {self._now})")
        self._now = at

    async def sleep(self, seconds: float) -> None:
        return None


class NoHistory(LookupError):
    """No closed bar of the symbol at the moment asked: a gap the caller must treat as no price."""


@dataclass(frozen=True, slots=True)
class Series:
    """One symbol's bars of one interval, oldest first, with their close times for bisection."""

    bars: tuple[Candle, ...]
    closes: tuple[datetime, ...]
    length: timedelta

    @classmethod
    def of(cls, bars: list[Candle], length: timedelta) -> Series:
        ordered = tuple(sorted(bars, key=lambda b: b.open_time))
        return cls(ordered, tuple(b.open_time + length for b in ordered), length)

    def closed_by(self, at: datetime) -> int:
        """How many bars had closed by ``at`` (the index one past the last of them)."""
        return bisect.bisect_right(self.closes, at)

    def last(self, at: datetime, count: int) -> list[Candle]:
        end = self.closed_by(at)
        return list(self.bars[max(0, end - count) : end])


class HistoryMarket:
    """``PriceSource`` over in-memory history (the backtest loads it once from the store).

    ``path``, where given for a symbol, is the finer price path the venue walks for TP/SL (5-minute bars
    where they are stored); prices and candles come from ``series`` (the 1 h bars decisions read).
    """

    def __init__(
        self, series: dict[str, Series], clock: HistoryClock, path: dict[str, Series] | None = None
    ) -> None:
        self.series = series
        self.clock = clock
        self.path = path or {}

    def _series(self, symbol: str) -> Series:
        try:
            return self.series[symbol]
        except KeyError:
            raise NoHistory(f"{symbol}: no stored history") from None

    def last_bar(self, symbol: str, at: datetime) -> Candle:
        s = self._series(symbol)
        i = s.closed_by(at)
        if i == 0:
            raise NoHistory(f"{symbol}: no bar closed by {at:%Y-%m-%d %H:%M}")
        return s.bars[i - 1]

    async def last_price(self, symbol: str) -> Decimal:
        return self.last_bar(symbol, self.clock.now()).close

    async def ticker(self, symbol: str) -> Ticker:
        now = self.clock.now()
        price = self.last_bar(symbol, now).close
        return Ticker(symbol=symbol, last=price, mark=price, at=now)

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        return self._series(symbol).last(self.clock.now(), limit)

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        """Bars that closed in ``(start, end]``: each reaches the venue once, when it has closed."""
        s = self.path.get(symbol) or self._series(symbol)
        return list(s.bars[s.closed_by(start) : s.closed_by(end)])

    async def aclose(self) -> None:
        return None  # holds no connection


def finer_path(hours: Series, fine: list[Candle], length: timedelta) -> tuple[Series, int]:
    """The hours' path with every hour whose finer bars are all stored replaced by them.

    Returns the path and how many hours were replaced; an hour with a missing finer bar keeps its
    1 h bar (a partial hour would hide part of its range from the triggers).
    """
    by_open = {b.open_time: b for b in fine}
    per_hour = int(hours.length / length)
    bars: list[Candle] = []
    closes: list[datetime] = []
    replaced = 0
    for bar in hours.bars:
        parts = [by_open.get(bar.open_time + k * length) for k in range(per_hour)]
        if all(p is not None for p in parts):
            for p in parts:
                assert p is not None
                bars.append(p)
                closes.append(p.open_time + length)
            replaced += 1
        else:
            bars.append(bar)
            closes.append(bar.open_time + hours.length)
    return Series(tuple(bars), tuple(closes), length), replaced

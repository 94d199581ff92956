"""Time helpers for bars and the ``PriceSource`` protocol every price source implements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker

INTERVAL_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "12h": 43200,
    "1d": 86400,
    "1w": 604800,
}
"""WEEX v3 contract kline intervals."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def interval_seconds(interval: str) -> int:
    try:
        return INTERVAL_SECONDS[interval]
    except KeyError:
        raise ValueError(f"unknown interval {interval!r}; use one of {', '.join(INTERVAL_SECONDS)}") from None


def floor_time(at: datetime, seconds: int) -> datetime:
    # Weekly bars align to Monday like exchanges do; the epoch was a Thursday.
    offset = 4 * 86400 if seconds == 604800 else 0
    total = int((at - EPOCH).total_seconds()) - offset
    return EPOCH + timedelta(seconds=total - total % seconds + offset)


def to_ms(at: datetime) -> int:
    return int((at - EPOCH).total_seconds() * 1000)


def from_ms(ms: int | str) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))


class PriceSource(Protocol):
    """``MarketData`` plus the price path the paper venue walks to fire triggers."""

    async def last_price(self, symbol: str) -> Decimal: ...

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]: ...

    async def ticker(self, symbol: str) -> Ticker: ...

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        """1-minute bars (or ticks) with ``start < open_time <= end``, oldest first."""
        ...

    async def aclose(self) -> None:
        """Release connections (a no-op for a source that holds none)."""
        ...

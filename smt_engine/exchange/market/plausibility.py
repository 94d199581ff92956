"""Price plausibility: the one check every price that sizes money or places a trigger passes first.

A pushed ticker is one frame from one socket: a glitch (a price 10x low, ``1e-30``, a frame replayed a
minute late) would otherwise size an entry and place its take-profit and stop-loss (docs/design.md,
"Money is Decimal"; "Every external input is recorded"). So a price is used only when it is

- a finite, positive number;
- younger than ``risk.price_max_age`` by its own timestamp (a pushed ticker carries the venue's event
  time; a REST answer is as old as the request), never by when it arrived;
- within ``risk.price_band_pct`` of an independent reference: the close of the newest 1-minute bar of
  the venue's REST klines, a different endpoint (and, for a pushed price, a different connection) from
  the ticker being judged.

Otherwise the pair waits this cycle: ``ImplausiblePrice`` is an ``ExchangeError`` (what every caller
already treats as "this pair's market data is unreadable"), and a WARNING event ``price.implausible``
names the pair, the price, the reference and the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, DecimalException
from typing import Protocol

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import Candle
from smt_engine.exchange.base import ExchangeError, Ticker
from smt_engine.exchange.precision import plain

log = logging.getLogger(__name__)

REFERENCE_INTERVAL = "1m"
REFERENCE_BARS = 2
REFERENCE_MAX_AGE = timedelta(minutes=5)
"""A reference bar older than this (klines that stopped moving) cannot vouch for a price."""


class PricedMarket(Protocol):
    """What the check reads: the venue's ticker and its REST klines."""

    async def ticker(self, symbol: str) -> Ticker: ...

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]: ...


@dataclass(frozen=True, slots=True)
class PriceRule:
    """``risk.price_band_pct`` and ``risk.price_max_age``."""

    band_pct: Decimal = Decimal(1)
    max_age: timedelta = timedelta(seconds=10)

    @classmethod
    def of(cls, settings: Settings) -> PriceRule:
        return cls(settings.risk.price_band_pct, settings.risk.price_max_age)


class ImplausiblePrice(ExchangeError):
    """A price no money may be sized on; the pair waits this cycle."""

    def __init__(self, symbol: str, price: Decimal, reference: Decimal | None, reason: str) -> None:
        super().__init__(
            f"{symbol}: price {_show(price)} refused ({reason}; reference {_show(reference)}): "
            "the pair waits this cycle"
        )
        self.symbol = symbol
        self.price = price
        self.reference = reference
        self.reason = reason


def number_problem(price: Decimal) -> str | None:
    """Why ``price`` is no price at all (NaN, infinite, zero or negative), or ``None``."""
    if not price.is_finite():
        return "not a finite number"
    if price <= 0:
        return "not positive"
    return None


def implausibility(
    price: Decimal, at: datetime, reference: Decimal | None, now: datetime, rule: PriceRule
) -> str | None:
    """Why ``price`` (stamped ``at``) may not size money at ``now``, or ``None`` when it may."""
    problem = number_problem(price)
    if problem is not None:
        return problem
    age = now - at
    if age > rule.max_age:
        return (
            f"{age.total_seconds():.0f}s old by its own timestamp (limit {rule.max_age.total_seconds():g}s)"
        )
    if -age > rule.max_age:
        return f"stamped {-age.total_seconds():.0f}s in the future"
    if reference is None or number_problem(reference) is not None:
        return "no usable reference price to check it against"
    try:
        deviation = abs(price - reference) / reference * 100
    except DecimalException:
        return "not comparable with the reference"
    if deviation > rule.band_pct:
        shown = f"{deviation:.2f}" if deviation < 10_000 else f"{deviation:.2E}"
        return f"{shown} % away from the reference (band {plain(rule.band_pct)} %)"
    return None


def reference_of(bars: list[Candle], now: datetime) -> Decimal | None:
    """The newest bar's close, if that bar is recent enough to vouch for a price."""
    if not bars or now - bars[-1].open_time > REFERENCE_MAX_AGE:
        return None
    return bars[-1].close


async def judged_ticker(
    market: PricedMarket, symbol: str, clock: Clock, rule: PriceRule
) -> tuple[Ticker, Decimal | None, str | None]:
    """The ticker of ``symbol``, the reference it was judged against, and why it may not size money
    (``None`` when it may). Unreadable data raises the venue's own ``ExchangeError``."""
    ticker = await market.ticker(symbol)
    bars = await market.candles(symbol, REFERENCE_INTERVAL, REFERENCE_BARS)
    now = clock.now()
    reference = reference_of(bars, now)
    return ticker, reference, implausibility(ticker.last, ticker.at, reference, now, rule)


async def plausible_price(
    market: PricedMarket, symbol: str, clock: Clock, rule: PriceRule, *, cycle_id: str | None = None
) -> Decimal:
    """The price of ``symbol`` to size money or place a trigger on; ``ImplausiblePrice`` when it is not
    one (recorded as a WARNING event). Unreadable data raises the venue's own ``ExchangeError``."""
    ticker, reference, reason = await judged_ticker(market, symbol, clock, rule)
    if reason is None:
        return ticker.last
    refused = ImplausiblePrice(symbol, ticker.last, reference, reason)
    log.warning(
        "%s",
        refused,
        extra={
            "event": "price.implausible",
            "cycle_id": cycle_id,
            "data": {
                "pair": symbol,
                "price": _show(ticker.last),
                "reference": _show(reference),
                "reason": reason,
                "stamped": ticker.at.isoformat(),
            },
        },
    )
    raise refused


def _show(value: Decimal | None) -> str:
    """A price for a message: plain digits, or the exponent form when plain would be absurdly long."""
    if value is None:
        return "none"
    return plain(value) if value.is_finite() and -12 < value.adjusted() < 20 else str(value)


__all__ = [
    "ImplausiblePrice",
    "PriceRule",
    "implausibility",
    "number_problem",
    "plausible_price",
    "reference_of",
]

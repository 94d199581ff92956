"""The price the paper venue fills, marks and judges triggers at.

WEEX fills, marks and judges a trigger on its own book, which never sees a glitch of our websocket feed.
The paper venue reads the pushed price (``StreamedMarket``) to stay live, so a pushed price the
plausibility check refuses (``exchange/market/plausibility.py``: 10x low, or old by its own timestamp)
would fill a close at a price no venue ever quoted, fake a drawdown through the marks, or refuse a good
stop as wrong-sided. Such a price is replaced by the REST one the stream stands in for, and named once
per pushed frame as a WARNING (``price.implausible``), as the live client names it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from smt_engine.clock import Clock
from smt_engine.exchange.base import ExchangeError
from smt_engine.exchange.market import PriceSource
from smt_engine.exchange.market.plausibility import PriceRule, judged_ticker
from smt_engine.exchange.market.streamed import StreamedMarket
from smt_engine.exchange.precision import plain

log = logging.getLogger(__name__)


class BookPrice:
    """``rule`` is ``risk.price_band_pct`` and ``risk.price_max_age``, as for the engine's own checks."""

    def __init__(self, market: PriceSource, clock: Clock, rule: PriceRule) -> None:
        self.market = market
        self.clock = clock
        self.rule = rule
        self._named: dict[str, datetime] = {}
        """The stamp of the last refused push per symbol: one warning per frame, not per read."""

    async def __call__(self, symbol: str) -> Decimal:
        """The market's price of ``symbol``, or the REST one when a pushed price is implausible."""
        market = self.market
        if not isinstance(market, StreamedMarket):
            return await market.last_price(symbol)  # no push to doubt: synthetic (demo) or REST prices
        try:
            ticker, reference, reason = await judged_ticker(market, symbol, self.clock, self.rule)
        except ExchangeError:
            # No reference to judge the push by (klines unreadable): the venue's own REST price, as WEEX
            # would use its own; a paper close must not fail for want of a chart.
            return await market.rest.last_price(symbol)
        if reason is None:
            return ticker.last
        rest = await market.rest.last_price(symbol)
        if self._named.get(symbol) != ticker.at:
            self._named[symbol] = ticker.at
            log.warning(
                "%s: pushed price %s refused (%s); the paper venue uses the REST price %s",
                symbol,
                plain(ticker.last),
                reason,
                plain(rest),
                extra={
                    "event": "price.implausible",
                    "data": {
                        "pair": symbol,
                        "price": str(ticker.last),
                        "reference": str(reference),
                        "reason": reason,
                        "stamped": ticker.at.isoformat(),
                    },
                },
            )
        return rest


__all__ = ["BookPrice"]

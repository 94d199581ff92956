"""The price the paper venue fills a market order at.

WEEX fills on its own book, which never sees a glitch of our websocket feed. The paper venue reads the
pushed price (``StreamedMarket``) to stay live, so a pushed price the plausibility check refuses
(``exchange/market/plausibility.py``: 10x low, or old by its own timestamp) would fill a close at a
price no venue ever quoted, and book a loss larger than the position's margin. Such a price is replaced
by the REST one the stream stands in for.
"""

from __future__ import annotations

from decimal import Decimal

from smt_engine.clock import Clock
from smt_engine.exchange.market import PriceSource
from smt_engine.exchange.market.plausibility import (
    REFERENCE_BARS,
    REFERENCE_INTERVAL,
    PriceRule,
    implausibility,
    reference_of,
)
from smt_engine.exchange.market.streamed import StreamedMarket


async def book_price(market: PriceSource, symbol: str, clock: Clock) -> Decimal:
    """The market's price of ``symbol``, or the REST one when a pushed price is implausible."""
    ticker = await market.ticker(symbol)
    if not isinstance(market, StreamedMarket):
        return ticker.last  # no push to doubt: synthetic (demo) or REST prices
    now = clock.now()
    bars = await market.candles(symbol, REFERENCE_INTERVAL, REFERENCE_BARS)
    if implausibility(ticker.last, ticker.at, reference_of(bars, now), now, PriceRule()) is None:
        return ticker.last
    return await market.rest.last_price(symbol)

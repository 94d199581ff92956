"""Price sources: live WEEX public data, a seeded synthetic market, and a hand-driven one for tests.

Every source implements ``domain.MarketData`` plus what the paper venue needs to evaluate triggers on
the price *path* rather than on the price it happens to see when polled: ``bars_between`` returns the
1-minute bars (or, for ``ManualMarket``, the individual ticks) whose open time lies in ``(start, end]``.
"""

from smt_engine.exchange.market.base import (
    EPOCH,
    INTERVAL_SECONDS,
    PriceSource,
    floor_time,
    from_ms,
    interval_seconds,
    to_ms,
)
from smt_engine.exchange.market.live import LiveMarket, candles_from_answer, ticker_from_answer
from smt_engine.exchange.market.manual import ManualMarket
from smt_engine.exchange.market.synthetic import DEFAULT_MODELS, PairModel, SyntheticMarket

__all__ = [
    "DEFAULT_MODELS",
    "EPOCH",
    "INTERVAL_SECONDS",
    "LiveMarket",
    "ManualMarket",
    "PairModel",
    "PriceSource",
    "SyntheticMarket",
    "candles_from_answer",
    "floor_time",
    "from_ms",
    "interval_seconds",
    "ticker_from_answer",
    "to_ms",
]

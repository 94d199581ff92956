"""The fake WEEX's history klines: ``startTime``/``endTime`` pages over a seeded past.

WEEX's ``GET /capi/v3/market/historyKlines`` takes ``symbol``, ``interval``, ``startTime``, ``endTime``
and ``limit`` (ccxt caps it at 100: ``fetch_contract_ohlcv``) and answers the same rows as ``/klines``:
``[openTime ms, open, high, low, close, volume, closeTime ms, quoteVolume, tradeCount, takerBuyBase,
takerBuyQuote]``, decimals as strings, oldest first, closeTime = the next bar's open, the last row
still forming when the range reaches now (reference weex-v3-contract-api.md §3.1, §3.1.2, from ccxt's
recorded fetchOHLCV answers and Weex.Net's WeexKline).

The past is ``candle_history.random_walk`` from ``LISTED`` on (nothing before: as before a listing);
a test may set ``FakeHistory.series`` entries (to cut gaps) or count ``calls``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from smt_engine.domain import Candle
from smt_engine.exchange.market import from_ms, interval_seconds, to_ms
from smt_engine.exchange.precision import plain
from tests.fakes.candle_history import random_walk

LISTED = datetime(2024, 1, 1, tzinfo=UTC)
MAX_LIMIT = 100


class FakeHistory:
    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.series: dict[tuple[str, str], list[Candle]] = {}
        self.calls = 0

    def bars(self, symbol: str, interval: str, until: datetime) -> list[Candle]:
        """The series, generated once up to ``until`` (a test's edited series is kept as it is)."""
        if (symbol, interval) not in self.series:
            length = timedelta(seconds=interval_seconds(interval))
            count = max(0, int((until - LISTED) / length) + 1)
            self.series[(symbol, interval)] = random_walk(symbol, LISTED, count, self.seed, length)
        return self.series[(symbol, interval)]

    def answer(self, symbol: str, q: dict[str, str], now: datetime) -> list[list[Any]]:
        self.calls += 1
        interval = q.get("interval", "1m")
        secs = interval_seconds(interval)
        start = from_ms(int(q["startTime"]))
        end = from_ms(int(q["endTime"])) if "endTime" in q else now
        limit = min(int(q.get("limit", MAX_LIMIT)), MAX_LIMIT)
        rows = [
            b for b in self.bars(symbol, interval, now) if start <= b.open_time <= end and b.open_time <= now
        ][:limit]
        return [
            [
                to_ms(b.open_time),
                plain(b.open),
                plain(b.high),
                plain(b.low),
                plain(b.close),
                plain(b.volume),
                to_ms(b.open_time) + secs * 1000,
                plain(b.volume * b.close),
                100,
                plain(b.volume / 2),
                plain(b.volume * b.close / 2),
            ]
            for b in rows
        ]

"""Fetching closed candles from WEEX's public history klines, page by page, resumable.

``GET /capi/v3/market/historyKlines`` takes ``symbol``, ``interval``, ``startTime``, ``endTime`` and
``limit`` (at most 100 per ccxt) and answers the kline rows of ``/klines`` (reference §3.1,
weex-v3-contract-api.md: ``[openTime ms, open, high, low, close, volume, closeTime, ...]``, oldest
first). Every request waits for the weight budget of a ``WeightLimiter`` (historyKlines weighs 5); a
fetch uses half of ``exchange.rate_limit_weight`` so an engine on the same IP keeps the rest. A 429
blocks the limiter for ten seconds (WEEX's ban); 5xx and broken connections are retried with backoff.

Each page is checked and written in its own transaction, so an interrupted fetch keeps every whole
page and ``smt data fetch`` started again resumes after the last stored bar. Bars still forming at
the moment of the request are never stored.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from smt_engine.clock import Clock
from smt_engine.exchange.base import ExchangeUnavailable
from smt_engine.exchange.market import EPOCH, interval_seconds, to_ms
from smt_engine.exchange.market.live import parse_kline_rows
from smt_engine.exchange.weex.limiter import WEIGHTS, WeightLimiter
from smt_engine.history.validate import validate
from smt_engine.store import Store

PATH = "/capi/v3/market/historyKlines"
PAGE = 100
"""Bars per request (ccxt's maximum for history klines)."""
BAN_SECONDS = 10.0


@dataclass
class SeriesReport:
    """What one symbol and interval fetch did."""

    symbol: str
    interval: str
    resumed_from: datetime | None = None
    stored: int = 0
    requests: int = 0
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a fetch is, for the progress bar: pages done of all pages, seconds so far."""

    done: int
    total: int
    elapsed: float
    label: str

    @property
    def eta(self) -> float | None:
        if self.done == 0:
            return None
        return self.elapsed / self.done * (self.total - self.done)


class HistoryFetcher:
    def __init__(
        self,
        base_url: str,
        store: Store,
        clock: Clock,
        limiter: WeightLimiter,
        *,
        timeout: float = 15.0,
        retries: int = 4,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.store = store
        self.clock = clock
        self.limiter = limiter
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._monotonic = monotonic

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _page(self, params: dict[str, Any]) -> Any:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await self.clock.sleep(self.backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            await self.limiter.acquire(WEIGHTS[PATH])
            try:
                resp = await self._http.get(self.base_url + PATH, params=params)
            except httpx.HTTPError as exc:
                last = exc
                continue
            if resp.status_code == 429:
                self.limiter.block(BAN_SECONDS)
                last = ExchangeUnavailable(f"GET {PATH}: HTTP 429 (rate limited)")
                continue
            if resp.status_code >= 500:
                last = ExchangeUnavailable(f"GET {PATH}: HTTP {resp.status_code}")
                continue
            try:
                body = resp.json()
            except ValueError as exc:
                last = exc
                continue
            if isinstance(body, dict):
                raise ExchangeUnavailable(f"GET {PATH}: {body.get('code')} {body.get('msg')}", raw=body)
            return body
        raise ExchangeUnavailable(f"GET {PATH} failed after {self.retries + 1} tries: {last}")

    @staticmethod
    def pages(start: datetime, end: datetime, interval: str) -> int:
        step = timedelta(seconds=interval_seconds(interval)) * PAGE
        return max(0, -(-int((end - start) / timedelta(seconds=1)) // int(step.total_seconds())))

    async def fetch(
        self,
        symbols: Sequence[str],
        intervals: Sequence[str],
        start: datetime,
        end: datetime,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> list[SeriesReport]:
        """Fetch ``[start, end)`` of every symbol and interval, resuming after what is stored."""
        plan = []
        for interval in intervals:
            for symbol in symbols:
                last = self.store.market_history.last_open(symbol, interval, start, end)
                length = timedelta(seconds=interval_seconds(interval))
                begin = last + length if last is not None else start
                plan.append((symbol, interval, begin, last))
        total = sum(self.pages(b, end, i) for _, i, b, _ in plan)
        done, t0 = 0, self._monotonic()
        reports = []
        for symbol, interval, begin, last in plan:
            report = SeriesReport(symbol, interval, resumed_from=begin if last is not None else None)
            length = timedelta(seconds=interval_seconds(interval))
            cursor = begin
            while cursor < end:
                page_end = min(end, cursor + length * PAGE)
                body = await self._page(
                    {
                        "symbol": symbol,
                        "interval": interval,
                        "startTime": to_ms(cursor),
                        "endTime": to_ms(page_end) - 1,
                        "limit": PAGE,
                    }
                )
                report.requests += 1
                try:
                    rows = parse_kline_rows(body)
                except ValueError as exc:
                    raise ExchangeUnavailable(f"historyKlines {symbol}: {exc}", raw=body) from exc
                now = self.clock.now()
                bars = [b for b in rows if cursor <= b.open_time < page_end and b.open_time + length <= now]
                checked = validate(bars, length, ordered=False)
                if not checked.ok:
                    raise ExchangeUnavailable(
                        f"historyKlines {symbol} {interval} from {cursor:%Y-%m-%d %H:%M}: "
                        + "; ".join(checked.summary())
                    )
                if checked.bars:
                    self.store.market_history.write(symbol, interval, checked.bars, "weex", now)
                    report.stored += len(checked.bars)
                cursor = page_end
                done += 1
                if on_progress is not None:
                    on_progress(Progress(done, total, self._monotonic() - t0, f"{symbol} {interval}"))
            report.gaps = stored_gaps(self.store, symbol, interval, start, min(end, self.clock.now()))
            reports.append(report)
        return reports


def stored_gaps(
    store: Store, symbol: str, interval: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Missing bars of the stored series in ``[start, end)``, its head and tail included."""
    length = timedelta(seconds=interval_seconds(interval))
    bars = store.market_history.bars(symbol, interval, start, end)
    if not bars:
        return [(start, end)] if end - start >= length else []
    gaps = validate(bars, length).gaps
    if bars[0].open_time > start:
        gaps.insert(0, (start, bars[0].open_time))
    last_closed = end - (end - EPOCH) % length - length  # the last bar that could have closed by ``end``
    if bars[-1].open_time < last_closed:
        gaps.append((bars[-1].open_time + length, last_closed + length))
    return gaps


def progress_line(p: Progress, width: int = 30) -> str:
    filled = int(width * p.done / p.total) if p.total else width
    eta = f"ETA {int(p.eta) // 60}m{int(p.eta) % 60:02d}s" if p.eta is not None else "ETA --"
    return f"[{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total} pages  {eta}  {p.label}"


async def run_fetch(fetcher: HistoryFetcher, *args: Any, **kwargs: Any) -> list[SeriesReport]:
    try:
        return await fetcher.fetch(*args, **kwargs)
    finally:
        await asyncio.shield(fetcher.aclose())

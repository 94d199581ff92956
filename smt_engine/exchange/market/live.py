"""WEEX public market data over REST (no keys): tickers and klines for the paper venue's price path."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from smt_engine.clock import Clock
from smt_engine.domain import Candle
from smt_engine.exchange.base import ExchangeUnavailable, Ticker
from smt_engine.exchange.market.base import (
    floor_time,
    from_ms,
    interval_seconds,
    to_ms,
)


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc


def parse_kline_rows(rows: Any) -> list[Candle]:
    """WEEX kline rows ``[openTime, open, high, low, close, volume, ...]`` → candles, oldest first.

    A malformed row is skipped rather than trusted; a non-list body is an error.
    """
    if not isinstance(rows, list):
        raise ValueError(f"klines: expected a list, got {type(rows).__name__}")
    out: list[Candle] = []
    for row in rows:
        try:
            out.append(
                Candle(
                    open_time=from_ms(row[0]),
                    open=_dec(row[1]),
                    high=_dec(row[2]),
                    low=_dec(row[3]),
                    close=_dec(row[4]),
                    volume=_dec(row[5]),
                )
            )
        except (ValueError, IndexError, TypeError):
            continue
    out.sort(key=lambda c: c.open_time)
    return out


def parse_ticker(symbol: str, body: Any, at: datetime) -> Ticker:
    """``ticker/24hr`` answers an array even for one symbol."""
    rows = body if isinstance(body, list) else [body]
    for row in rows:
        if isinstance(row, dict) and row.get("symbol") == symbol:
            last = _dec(row["lastPrice"])
            mark = _dec(row.get("markPrice") or row["lastPrice"])
            return Ticker(symbol=symbol, last=last, mark=mark, at=at)
    raise ValueError(f"ticker: no row for {symbol}")


def ticker_from_answer(symbol: str, body: Any, at: datetime) -> Ticker:
    """The ticker in a ``ticker/24hr`` answer; an unreadable answer means the venue is unavailable."""
    try:
        return parse_ticker(symbol, body, at)
    except (ValueError, KeyError) as exc:
        raise ExchangeUnavailable(f"ticker {symbol}: bad response ({exc})", raw=body) from exc


def candles_from_answer(symbol: str, body: Any, limit: int) -> list[Candle]:
    """The newest ``limit`` candles of a klines answer; an unreadable one means the venue is unavailable."""
    try:
        return parse_kline_rows(body)[-limit:]
    except ValueError as exc:
        raise ExchangeUnavailable(f"klines {symbol}: {exc}", raw=body) from exc


class LiveMarket:
    """WEEX public market data (no keys): ticker, klines and history klines for the trigger path."""

    def __init__(
        self,
        base_url: str,
        clock: Clock,
        *,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._own_client = client is None
        self._retries = retries
        self._backoff = backoff

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        last_error: Exception | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1) * (0.5 + random.random()))
            try:
                resp = await self._client.get(self.base_url + path, params=params)
            except httpx.HTTPError as exc:
                last_error = exc
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last_error = ExchangeUnavailable(f"GET {path}: HTTP {resp.status_code}")
                continue
            try:
                body = resp.json()
            except ValueError as exc:
                last_error = exc
                continue
            if isinstance(body, dict) and "msg" in body and body.get("code") not in (None, "200", 200):
                raise ExchangeUnavailable(f"GET {path}: {body.get('code')} {body.get('msg')}", raw=body)
            return body
        raise ExchangeUnavailable(f"GET {path} failed: {type(last_error).__name__}: {last_error}")

    async def ticker(self, symbol: str) -> Ticker:
        body = await self._get("/capi/v3/market/ticker/24hr", {"symbol": symbol})
        return ticker_from_answer(symbol, body, self.clock.now())

    async def last_price(self, symbol: str) -> Decimal:
        return (await self.ticker(symbol)).last

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        interval_seconds(interval)
        body = await self._get(
            "/capi/v3/market/klines", {"symbol": symbol, "interval": interval, "limit": min(limit, 1000)}
        )
        return candles_from_answer(symbol, body, limit)

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        out: list[Candle] = []
        cursor = floor_time(start, 60) + timedelta(minutes=1)
        while cursor <= end:
            chunk_end = min(end, cursor + timedelta(minutes=99))
            body = await self._get(
                "/capi/v3/market/historyKlines",
                {
                    "symbol": symbol,
                    "interval": "1m",
                    "startTime": to_ms(cursor),
                    "endTime": to_ms(chunk_end),
                    "limit": 100,
                },
            )
            try:
                rows = parse_kline_rows(body)
            except ValueError as exc:
                raise ExchangeUnavailable(f"historyKlines {symbol}: {exc}", raw=body) from exc
            out.extend(c for c in rows if start < c.open_time <= end)
            cursor = chunk_end + timedelta(minutes=1)
        seen: set[datetime] = set()
        return [c for c in out if not (c.open_time in seen or seen.add(c.open_time))]  # type: ignore[func-returns-value]

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

"""Price sources: live WEEX public data, a seeded synthetic market, and a hand-driven one for tests.

Every source implements ``domain.MarketData`` plus what the paper venue needs to evaluate triggers on
the price *path* rather than on the price it happens to see when polled: ``bars_between`` returns the
1-minute bars (or, for ``ManualMarket``, the individual ticks) whose open time lies in ``(start, end]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx
import numpy as np

from smt_engine.clock import Clock
from smt_engine.domain import Candle
from smt_engine.exchange.base import ExchangeUnavailable, Ticker

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


# --------------------------------------------------------------------------- synthetic


@dataclass(frozen=True, slots=True)
class PairModel:
    """Starting price (early January 2026 levels), annualised volatility and display tick."""

    start: Decimal
    annual_vol: float
    tick: Decimal
    volume: float


DEFAULT_MODELS: dict[str, PairModel] = {
    "BTCUSDT": PairModel(Decimal("92850"), 0.50, Decimal("0.1"), 12.0),
    "ETHUSDT": PairModel(Decimal("3150"), 0.65, Decimal("0.01"), 180.0),
    "SOLUSDT": PairModel(Decimal("137.7"), 0.85, Decimal("0.01"), 2500.0),
    "DOGEUSDT": PairModel(Decimal("0.147"), 0.95, Decimal("0.00001"), 2_000_000.0),
    "XRPUSDT": PairModel(Decimal("2.19"), 0.80, Decimal("0.0001"), 150_000.0),
    "ADAUSDT": PairModel(Decimal("0.405"), 0.80, Decimal("0.0001"), 400_000.0),
    "BNBUSDT": PairModel(Decimal("905"), 0.55, Decimal("0.01"), 300.0),
    "LTCUSDT": PairModel(Decimal("81.5"), 0.70, Decimal("0.01"), 3000.0),
}

# Regimes: (drift in units of per-minute sigma, volatility multiplier).
_REGIMES: tuple[tuple[float, float], ...] = (
    (0.0, 0.6),  # calm
    (0.0, 1.0),  # normal
    (0.05, 1.1),  # trending up
    (-0.05, 1.1),  # trending down
    (0.0, 2.4),  # volatile
)
_STAY = 0.92  # chance the regime persists into the next hour
_CHUNK = 1440  # minutes generated per deterministic chunk (one UTC day)
_ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


class SyntheticMarket:
    """Seeded regime-switching random walk per pair at 1-minute resolution, driven by the ``Clock``.

    The path is a pure function of (seed, symbol, minute): it is generated in one-day chunks chained
    from a fixed anchor (2026-01-01 at the pair's starting price), so any two instances with the same
    seed agree at every time, whatever their clocks did before. Floats are used only to draw the
    random walk; every price leaving this class is a ``Decimal`` on the pair's tick.
    """

    def __init__(
        self,
        clock: Clock,
        seed: int = 0,
        *,
        models: dict[str, PairModel] | None = None,
        cache_chunks: int = 96,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.models = dict(DEFAULT_MODELS if models is None else models)
        self._starts: dict[str, dict[int, float]] = {}
        self._chunks: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._cache_chunks = cache_chunks

    def _model(self, symbol: str) -> PairModel:
        try:
            return self.models[symbol]
        except KeyError:
            raise ValueError(f"synthetic market has no pair {symbol}") from None

    def _rng(self, symbol: str, chunk: int) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.seed}:{symbol}:{chunk}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "big"))

    def _returns(self, symbol: str, chunk: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
        model = self._model(symbol)
        rng = self._rng(symbol, chunk)
        sigma = model.annual_vol / math.sqrt(525_600)
        hours = _CHUNK // 60
        regime = int(rng.integers(len(_REGIMES)))
        drift = np.empty(hours)
        vol = np.empty(hours)
        switches = rng.random(hours)
        picks = rng.integers(len(_REGIMES), size=hours)
        for h in range(hours):
            if switches[h] > _STAY:
                regime = int(picks[h])
            drift[h], vol[h] = _REGIMES[regime]
        drift_m = np.repeat(drift, 60) * sigma
        vol_m = np.repeat(vol, 60) * sigma
        returns = drift_m + vol_m * rng.standard_normal(_CHUNK)
        return returns, vol_m, rng

    def _start(self, symbol: str, chunk: int) -> float:
        starts = self._starts.setdefault(symbol, {0: float(self._model(symbol).start)})
        if chunk in starts:
            return starts[chunk]
        if chunk > 0:
            k = max(c for c in starts if c < chunk)
            while k < chunk:
                returns, _, _ = self._returns(symbol, k)
                starts[k + 1] = starts[k] * math.exp(float(returns.sum()))
                k += 1
        else:
            k = min(c for c in starts if c > chunk)
            while k > chunk:
                returns, _, _ = self._returns(symbol, k - 1)
                starts[k - 1] = starts[k] * math.exp(-float(returns.sum()))
                k -= 1
        return starts[chunk]

    def _chunk(self, symbol: str, chunk: int) -> np.ndarray:
        """Rows of (open, high, low, close, volume) for the chunk's 1440 minutes."""
        key = (symbol, chunk)
        cached = self._chunks.get(key)
        if cached is not None:
            self._chunks.move_to_end(key)
            return cached
        start = self._start(symbol, chunk)
        returns, vol_m, rng = self._returns(symbol, chunk)
        closes = start * np.exp(np.cumsum(returns))
        opens = np.concatenate(([start], closes[:-1]))
        wick_up = np.exp(np.abs(rng.standard_normal(_CHUNK)) * vol_m * 0.6)
        wick_dn = np.exp(-np.abs(rng.standard_normal(_CHUNK)) * vol_m * 0.6)
        highs = np.maximum(opens, closes) * wick_up
        lows = np.minimum(opens, closes) * wick_dn
        volume = self._model(symbol).volume / 1440 * (0.3 + np.abs(rng.standard_normal(_CHUNK))) * vol_m
        volume = volume / vol_m.mean()
        rows = np.stack([opens, highs, lows, closes, volume], axis=1)
        self._chunks[key] = rows
        while len(self._chunks) > self._cache_chunks:
            self._chunks.popitem(last=False)
        return rows

    def _minute_index(self, at: datetime) -> int:
        return int((floor_time(at, 60) - _ANCHOR).total_seconds()) // 60

    def _minutes(self, symbol: str, first: int, last: int) -> np.ndarray:
        """Rows for minute indexes ``first..last`` inclusive."""
        parts = []
        m = first
        while m <= last:
            chunk, offset = divmod(m, _CHUNK)
            take = min(_CHUNK - offset, last - m + 1)
            parts.append(self._chunk(symbol, chunk)[offset : offset + take])
            m += take
        return np.concatenate(parts) if parts else np.empty((0, 5))

    def _dec(self, symbol: str, value: float) -> Decimal:
        tick = self._model(symbol).tick
        return Decimal(repr(float(value))).quantize(tick)

    def _candle(self, symbol: str, at: datetime, row: np.ndarray) -> Candle:
        o, h, lo, c = (self._dec(symbol, row[i]) for i in range(4))
        return Candle(
            open_time=at,
            open=o,
            high=max(o, h, c),
            low=min(o, lo, c),
            close=c,
            volume=Decimal(repr(float(row[4]))).quantize(Decimal("0.001")),
        )

    def price_at(self, symbol: str, at: datetime) -> Decimal:
        """Close of the minute bar containing ``at``."""
        m = self._minute_index(at)
        return self._dec(symbol, self._minutes(symbol, m, m)[0][3])

    async def last_price(self, symbol: str) -> Decimal:
        return self.price_at(symbol, self.clock.now())

    async def ticker(self, symbol: str) -> Ticker:
        last = await self.last_price(symbol)
        return Ticker(symbol=symbol, last=last, mark=last, at=self.clock.now())

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        first = self._minute_index(start) + 1
        last = self._minute_index(end)
        rows = self._minutes(symbol, first, last)
        return [
            self._candle(symbol, _ANCHOR + timedelta(minutes=first + i), row) for i, row in enumerate(rows)
        ]

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        secs = interval_seconds(interval)
        now = self.clock.now()
        last_open = floor_time(now, secs)
        first_open = last_open - timedelta(seconds=secs * (limit - 1))
        m0 = self._minute_index(first_open)
        m1 = self._minute_index(now)
        rows = self._minutes(symbol, m0, m1)
        per = secs // 60
        out: list[Candle] = []
        for b in range(limit):
            group = rows[b * per : (b + 1) * per]
            if len(group) == 0:
                break
            agg = np.array(
                [group[0, 0], group[:, 1].max(), group[:, 2].min(), group[-1, 3], group[:, 4].sum()]
            )
            out.append(self._candle(symbol, first_open + timedelta(seconds=secs * b), agg))
        return out


# --------------------------------------------------------------------------- manual (tests, fake server)


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

    async def last_price(self, symbol: str) -> Decimal:
        return self.price_now(symbol)

    async def ticker(self, symbol: str) -> Ticker:
        last = self.price_now(symbol)
        return Ticker(symbol=symbol, last=last, mark=last, at=self.clock.now())

    async def bars_between(self, symbol: str, start: datetime, end: datetime) -> list[Candle]:
        self._read_until = max(self._read_until, end)
        return [t for t in self._ticks.get(symbol, []) if start < t.open_time <= end]

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


# --------------------------------------------------------------------------- live


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
        try:
            return parse_ticker(symbol, body, self.clock.now())
        except (ValueError, KeyError) as exc:
            raise ExchangeUnavailable(f"ticker {symbol}: bad response ({exc})", raw=body) from exc

    async def last_price(self, symbol: str) -> Decimal:
        return (await self.ticker(symbol)).last

    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
        interval_seconds(interval)
        body = await self._get(
            "/capi/v3/market/klines", {"symbol": symbol, "interval": interval, "limit": min(limit, 1000)}
        )
        try:
            return parse_kline_rows(body)[-limit:]
        except ValueError as exc:
            raise ExchangeUnavailable(f"klines {symbol}: {exc}", raw=body) from exc

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

"""A seeded synthetic market: deterministic regime-switching 1-minute bars driven by the clock (demo)."""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np

from smt_engine.clock import Clock
from smt_engine.domain import Candle
from smt_engine.exchange.base import Ticker
from smt_engine.exchange.market.base import (
    floor_time,
    interval_seconds,
)


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

    async def aclose(self) -> None:
        return None  # holds no connection

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

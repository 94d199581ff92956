"""Seeded synthetic candle history for tests, the fake WEEX's history klines and the backtest benchmark.

Each hour's log return is Student-t (fat tails, 4 degrees of freedom) scaled by a GARCH(1,1)-like
volatility, so calm and wild stretches alternate as in real crypto markets; highs and lows reach past
the open/close by a random fraction of the bar's volatility. There is no drift: the market is a random
walk, so no decision rule has an edge on it beyond luck (what the backtest acceptance relies on).
Prices are rounded to the WEEX tick of the symbol.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta
from decimal import Decimal

from smt_engine.domain import Candle
from smt_engine.exchange.paper.contracts import WEEX_CONTRACTS_2026_01
from smt_engine.exchange.precision import round_to_tick

START_PRICE_AND_HOURLY_VOL: dict[str, tuple[float, float]] = {
    "BTCUSDT": (60000.0, 0.006),
    "ETHUSDT": (3000.0, 0.008),
    "SOLUSDT": (150.0, 0.011),
    "DOGEUSDT": (0.15, 0.012),
    "XRPUSDT": (0.6, 0.010),
    "ADAUSDT": (0.5, 0.010),
    "BNBUSDT": (550.0, 0.007),
    "LTCUSDT": (80.0, 0.009),
}


def random_walk(
    symbol: str, start: datetime, count: int, seed: int, interval: timedelta = timedelta(hours=1)
) -> list[Candle]:
    """``count`` bars of ``symbol`` from ``start``, the same for the same arguments."""
    rng = random.Random(f"{seed}:{symbol}")
    price, base_vol = START_PRICE_AND_HOURLY_VOL.get(symbol, (100.0, 0.01))
    scale = math.sqrt(interval / timedelta(hours=1))
    base_vol *= scale
    tick = WEEX_CONTRACTS_2026_01[symbol].tick_size if symbol in WEEX_CONTRACTS_2026_01 else Decimal("0.01")
    var = base_vol**2
    t_scale = math.sqrt(2 / 4)  # a Student-t with 4 dof has variance 2
    out = []
    for i in range(count):
        vol = math.sqrt(var)
        z = rng.gauss(0, 1) / math.sqrt(rng.gammavariate(2, 2) / 4) * t_scale
        z = max(-8.0, min(8.0, z))
        r = vol * z
        var = 0.05 * base_vol**2 + 0.10 * r * r + 0.85 * var
        close = price * math.exp(r)
        high = max(price, close) * math.exp(abs(rng.gauss(0, 0.5)) * vol)
        low = min(price, close) * math.exp(-abs(rng.gauss(0, 0.5)) * vol)
        o, h, lo, c = (round_to_tick(Decimal(repr(v)), tick) for v in (price, high, low, close))
        out.append(
            Candle(
                open_time=start + interval * i,
                open=o,
                high=max(h, o, c),
                low=max(min(lo, o, c), tick),
                close=c,
                volume=Decimal(rng.randint(100, 10000)),
            )
        )
        price = close
    return out

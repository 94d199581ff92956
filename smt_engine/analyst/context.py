"""Everything the analyst sees about one pair in one cycle, and the bounds its answer must respect.

The context is built once by the pipeline (or ``smt analyse``) from settings, account, market and
whale data; the prompt, the heuristic and the validator all read the same object, so the numbers the
model is told are the numbers its answer is checked against.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from smt_engine.analyst.exact_stats import pstdev
from smt_engine.competition import CompetitionStatus, competition_status
from smt_engine.config import Settings
from smt_engine.domain import Candle, Pair, Tier
from smt_engine.store.records import Position, WhaleSignal
from smt_engine.whales.flows import FlowSignal

SIZE_FRACTIONS_PCT: tuple[Decimal, ...] = (Decimal(5), Decimal(10), Decimal(20))
"""Illustrative margin fractions of the balance the prompt shows (the seed's 5/10/20 %)."""


@dataclass(frozen=True, slots=True)
class DecisionBounds:
    """What a valid answer may contain; LONG/SHORT outside these is rejected, never clamped."""

    min_tp_pct: Decimal
    max_tp_pct: Decimal
    min_sl_pct: Decimal
    max_sl_pct: Decimal
    max_hold_hours: float
    ungrounded_confidence_cap: float

    @classmethod
    def from_settings(cls, settings: Settings, status: CompetitionStatus) -> DecisionBounds:
        a = settings.analyst
        return cls(
            min_tp_pct=a.min_tp_pct,
            max_tp_pct=a.max_tp_pct,
            min_sl_pct=a.min_sl_pct,
            max_sl_pct=a.max_sl_pct,
            max_hold_hours=status.max_hold.total_seconds() / 3600,
            ungrounded_confidence_cap=float(a.ungrounded_confidence_cap),
        )


@dataclass(frozen=True, slots=True)
class PairContext:
    """One pair's inputs for one analysis. ``candles`` are 1h bars, oldest first."""

    cycle_id: str | None
    now: datetime
    pair: Pair
    price: Decimal
    candles: list[Candle]
    balance: Decimal
    available: Decimal
    equity: Decimal
    open_positions: int
    status: CompetitionStatus
    leverage: int
    bounds: DecisionBounds
    taker_fee_pct: Decimal
    max_single_position_pct: Decimal
    starting_balance: Decimal
    whale_signal: WhaleSignal | None = None
    exchange_flows: FlowSignal | None = None
    open_position: Position | None = None
    size_fractions_pct: tuple[Decimal, ...] = field(default=SIZE_FRACTIONS_PCT)

    @property
    def round_trip_fee_pct(self) -> Decimal:
        """Taker fee paid on entry and exit, as a % of notional."""
        return self.taker_fee_pct * 2


def build_context(
    settings: Settings,
    *,
    cycle_id: str | None,
    now: datetime,
    pair: Pair,
    price: Decimal,
    candles: list[Candle],
    balance: Decimal,
    available: Decimal,
    equity: Decimal,
    open_positions: int = 0,
    whale_signal: WhaleSignal | None = None,
    exchange_flows: FlowSignal | None = None,
    open_position: Position | None = None,
) -> PairContext:
    """Derive competition status, leverage, fee and bounds from settings; whale data only for tier 1."""
    status = competition_status(settings, now, balance)
    fractions = tuple(f for f in SIZE_FRACTIONS_PCT if f <= settings.risk.max_single_position_pct) or (
        settings.risk.max_single_position_pct,
    )
    return PairContext(
        cycle_id=cycle_id,
        now=now,
        pair=pair,
        price=price,
        candles=sorted(candles, key=lambda c: c.open_time),
        balance=balance,
        available=available,
        equity=equity,
        open_positions=open_positions,
        status=status,
        leverage=settings.risk.leverage,
        bounds=DecisionBounds.from_settings(settings, status),
        taker_fee_pct=settings.exchange.taker_fee_pct,
        max_single_position_pct=settings.risk.max_single_position_pct,
        starting_balance=settings.competition.starting_balance,
        whale_signal=whale_signal if pair.tier is Tier.ONE else None,
        exchange_flows=exchange_flows if pair.tier is Tier.ONE else None,
        open_position=open_position,
        size_fractions_pct=fractions,
    )


# --------------------------------------------------------------------------- candle statistics


@dataclass(frozen=True, slots=True)
class CandleSummary:
    """Trend and volatility of recent bars; floats, since these are statistics, not money."""

    bars: int
    change_pct: float  # first open to last close over the window
    change_24h_pct: float
    sma_fast: float
    sma_slow: float
    trend: str  # UP, DOWN or FLAT
    volatility_pct: float  # stdev of bar-to-bar close returns, %
    atr_pct: float  # mean true range over the window, % of last close
    high: float
    low: float


FAST, SLOW = 6, 24


def summarise(candles: list[Candle]) -> CandleSummary | None:
    """``None`` when there are too few bars to say anything (fewer than 3)."""
    if len(candles) < 3:
        return None
    closes = [float(c.close) for c in candles]
    last = closes[-1]
    if last <= 0 or any(c <= 0 for c in closes):
        return None
    returns = [(b / a - 1) * 100 for a, b in itertools.pairwise(closes)]
    volatility = pstdev(returns) if len(returns) > 1 else abs(returns[0])
    true_ranges = []
    for prev, bar in itertools.pairwise(candles):
        hi, lo, pc = float(bar.high), float(bar.low), float(prev.close)
        true_ranges.append(max(hi - lo, abs(hi - pc), abs(lo - pc)))
    atr_pct = statistics.fmean(true_ranges) / last * 100
    day_ago = closes[-25] if len(closes) >= 25 else closes[0]
    sma_fast = statistics.fmean(closes[-FAST:])
    sma_slow = statistics.fmean(closes[-SLOW:])
    # A trend must beat the noise: the fast/slow gap has to exceed a fraction of one bar's volatility.
    gap_pct = (sma_fast / sma_slow - 1) * 100
    threshold = max(0.05, 0.25 * volatility)
    trend = "UP" if gap_pct > threshold else "DOWN" if gap_pct < -threshold else "FLAT"
    return CandleSummary(
        bars=len(candles),
        change_pct=(last / float(candles[0].open) - 1) * 100 if candles[0].open > 0 else 0.0,
        change_24h_pct=(last / day_ago - 1) * 100,
        sma_fast=sma_fast,
        sma_slow=sma_slow,
        trend=trend,
        volatility_pct=volatility if math.isfinite(volatility) else 0.0,
        atr_pct=atr_pct,
        high=max(float(c.high) for c in candles),
        low=min(float(c.low) for c in candles),
    )

"""Keeping the market prices the engine sees, so every decision can be scored later without look-ahead.

Each cycle stores the last price of every pair (the reference a decision is measured from) and the
closed bars of the candles it fetched. Between cycles the scorer also fetches fine bars
(``SCORE_INTERVAL``) covering the time since the previous cycle, so a 1 h horizon and a proposal's
TP/SL path are measured on 5-minute bars, not on a 4-hourly snapshot. This works the same in demo,
paper and live: the prices come from whatever market data source the engine uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from smt_engine.config import Settings
from smt_engine.domain import Candle, Contract
from smt_engine.exchange.base import ExchangeError
from smt_engine.store import Store
from smt_engine.store.prices import PricePoint, StoredCandle
from smt_engine.store.scores import ScorecardReport

log = logging.getLogger(__name__)

CANDLE_RETENTION = timedelta(days=45)
"""Bars are kept this long: scoring looks back 30 days plus the longest horizon and maximum hold."""
SCORE_INTERVAL = "5m"
SCORE_INTERVAL_LENGTH = timedelta(minutes=5)
MAX_SCORE_BARS = 1000
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def interval_length(interval: str) -> timedelta:
    """``"5m"`` -> 5 minutes; ``"1h"`` -> 1 hour (the market data sources' interval names)."""
    try:
        return timedelta(seconds=int(interval[:-1]) * _UNITS[interval[-1]])
    except (KeyError, ValueError):
        raise ValueError(f"unknown candle interval {interval!r}") from None


def record_market(
    store: Store,
    now: datetime,
    prices: Mapping[str, Decimal],
    candles: Mapping[str, Sequence[Candle]],
    interval: str,
    *,
    cycle_id: str | None = None,
    read_at: Mapping[str, datetime] | None = None,
) -> int:
    """Store the cycle's last prices and the closed bars among ``candles``; returns the bars stored.

    ``read_at`` stamps each symbol's price and bars with the moment they were read (else ``now``): a
    price read after a long step is not the cycle's start price, and an exit must not pass for earlier.
    """
    length = interval_length(interval)
    stamp = read_at or {}
    with store.transaction():
        for symbol, price in prices.items():
            at = stamp.get(symbol, now)
            store.prices.insert(PricePoint(symbol=symbol, at=at, price=price, cycle_id=cycle_id))
        stored = 0
        for symbol, bars in candles.items():
            stored += store.candles.record_closed(
                [
                    StoredCandle(
                        symbol=symbol,
                        interval=interval,
                        open_time=b.open_time,
                        close_time=b.open_time + length,
                        open=b.open,
                        high=b.high,
                        low=b.low,
                        close=b.close,
                        volume=b.volume,
                        seen_at=stamp.get(symbol, now),
                    )
                    for b in bars
                ]
            )
    return stored


def bars_needed(last_seen: datetime | None, now: datetime) -> int:
    """How many fine bars cover the time since ``last_seen`` (plus one of overlap), capped."""
    if last_seen is None:
        return 48
    span = max(timedelta(0), now - last_seen)
    return max(2, min(MAX_SCORE_BARS, int(span / SCORE_INTERVAL_LENGTH) + 2))


class CandleSource(Protocol):
    async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]: ...


async def record_and_score(
    settings: Settings,
    store: Store,
    market: CandleSource,
    now: datetime,
    cycle_id: str,
    prices: Mapping[str, Decimal],
    candles: Mapping[str, Sequence[Candle]],
    interval: str,
    contracts: Mapping[str, Contract],
    read_at: Mapping[str, datetime] | None = None,
) -> dict[str, int]:
    """The pipeline's scorecard step: keep what the cycle saw, fetch fine bars since the last cycle, score.

    The contracts' precision is kept too, so `smt replay` sizes a past cycle as the engine did.
    """
    from smt_engine.scorecard.scoring import score_due

    for contract in contracts.values():
        store.contracts.save(contract, now)
    previous = store.prices.latest_before(now)
    bars = record_market(store, now, prices, candles, interval, cycle_id=cycle_id, read_at=read_at)
    limit = bars_needed(previous, now)
    for symbol in prices:
        try:
            fine = await market.candles(symbol, SCORE_INTERVAL, limit)
        except ExchangeError as exc:
            log.warning("%s: %s bars unreadable for the scorecard (%s)", symbol, SCORE_INTERVAL, exc)
            continue
        bars += record_market(store, now, {}, {symbol: fine}, SCORE_INTERVAL)
    store.candles.prune(now - CANDLE_RETENTION)
    # Off the event loop: a catch-up after downtime can take seconds; the store serialises access.
    scored = await asyncio.to_thread(score_due, settings, store, now)
    await asyncio.to_thread(publish_report, store, now, settings)
    return {"bars": bars, "scored": scored}


def publish_report(store: Store, now: datetime, settings: Settings | None = None) -> None:
    """The last 30 days' scorecard, computed by the engine and stored for the console to show.

    Kept up to date per store (``window.ReportWindow``): a publish reads what changed, not the window.

    With ``settings``, it carries the calibration maps sizing uses (stated vs calibrated).
    """
    from smt_engine.scorecard.calibration import calibration_section
    from smt_engine.scorecard.window import report_window

    report = report_window(store).report(store, now)
    if settings is not None:
        risk = settings.risk
        report["calibrated"] = calibration_section(
            store.scores.lines_of("analysis", risk.evidence_horizon),
            risk.evidence_horizon,
            risk.calibration_prior,
        )
    store.scorecard_reports.save(ScorecardReport(at=now, report=report))

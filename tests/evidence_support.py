"""Constructed records for the calibration and edge-gate tests: scores as the scorecard writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from smt_engine.store import Store
from smt_engine.store.scores import Score, ScoreLine

START = datetime(2025, 12, 1, tzinfo=UTC)


def record_scores(
    store: Store,
    source: str,
    pair: str,
    returns: Sequence[float],
    *,
    confidence: float = 0.8,
    horizon: str = "4h",
    first_id: int = 1,
    start: datetime = START,
) -> int:
    """One scored LONG analysis per return (after fees, %), 4 h apart; a hit when it paid the fees."""
    scores = []
    for i, ret in enumerate(returns):
        decided = start + timedelta(hours=4 * i)
        scores.append(
            Score(
                subject="analysis",
                subject_id=first_id + i,
                horizon=horizon,
                pair=pair,
                tier="1",
                analyst=source,
                model=source,
                direction="LONG",
                confidence=confidence,
                signal_agrees="none",
                decided_at=decided,
                due_at=decided + timedelta(hours=4),
                ref_price=Decimal(100),
                exit_price=Decimal(str(round(100 * (1 + (ret + 0.16) / 100), 6))),
                move_pct=ret + 0.16,
                return_pct=ret,
                hit=ret > 0,
                scored_at=decided + timedelta(hours=4),
            )
        )
    return store.scores.add(scores)


def winning(n: int = 120) -> list[float]:
    """Mean +0.25 % after fees with a spread that keeps the 95 % lower bound well above zero."""
    return [0.5 if i % 4 else -0.5 for i in range(n)]


def losing(n: int = 120) -> list[float]:
    """Mean -0.15 % after fees: about what the heuristic showed on real 2024-2026 candles."""
    return [0.4 if i % 2 else -0.7 for i in range(n)]


def score_line(
    confidence: float = 0.8,
    hit: bool = True,
    *,
    return_pct: float | None = 0.1,
    analyst: str = "heuristic",
    pair: str = "ETH",
    direction: str = "LONG",
    subject: str = "analysis",
    horizon: str = "4h",
) -> ScoreLine:
    """One score as the scorecard reads it back, for the record and calibration built from lines."""
    return ScoreLine(
        subject, horizon, pair, "1", analyst, analyst, direction, confidence, "none", hit, return_pct
    )

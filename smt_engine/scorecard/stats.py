"""Figures for a set of scores: hit rate (Wilson interval), mean return after fees (normal interval),
calibration of the stated confidence by bin, and the Brier score, always with the sample sizes.

Confidence applies to directional calls (LONG/SHORT): "0.78" claims a 78 % chance of being right, so
calibration compares each bin's mean stated confidence with its realised hit rate. WAITs count in
the hit rate of their own group (a WAIT is right when the move could not pay the fees).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol


class Scored(Protocol):
    """What the figures read of a score (``Score`` and the lighter ``ScoreLine`` both have it)."""

    @property
    def direction(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def hit(self) -> bool: ...
    @property
    def return_pct(self) -> float | None: ...


Z95 = 1.959963984540054
BIN_WIDTH = 0.1


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """95 % Wilson score interval of a proportion (sound at small n and at 0 % or 100 %)."""
    if n == 0:
        return None
    p = hits / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float, float] | None:
    """Mean +- z standard errors; None below two values (no spread to estimate)."""
    n = len(values)
    if n < 2:
        return None
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = z * math.sqrt(var / n)
    return (round(mean - half, 4), round(mean + half, 4))


def _bin(confidence: float) -> int:
    return min(int(confidence / BIN_WIDTH + 1e-9), int(1 / BIN_WIDTH) - 1)


def calibration(scores: Sequence[Scored]) -> list[dict[str, Any]]:
    """Per confidence bin of directional calls: count, mean stated confidence, realised hit rate."""
    bins: dict[int, list[Scored]] = {}
    for s in scores:
        if s.direction != "WAIT":
            bins.setdefault(_bin(s.confidence), []).append(s)
    out = []
    for b in sorted(bins):
        group = bins[b]
        hits = sum(1 for s in group if s.hit)
        out.append(
            {
                "bin": f"{b * BIN_WIDTH:.1f}-{(b + 1) * BIN_WIDTH:.1f}",
                "n": len(group),
                "stated": round(sum(s.confidence for s in group) / len(group), 4),
                "realised": round(hits / len(group), 4),
                "realised_ci": wilson(hits, len(group)),
            }
        )
    return out


def figures(scores: Sequence[Scored]) -> dict[str, Any]:
    """Every figure of one group, with its counts."""
    n = len(scores)
    hits = sum(1 for s in scores if s.hit)
    directional = [s for s in scores if s.direction != "WAIT"]
    returns = [s.return_pct for s in directional if s.return_pct is not None]
    d_hits = sum(1 for s in directional if s.hit)
    waits = n - len(directional)
    return {
        "n": n,
        "hits": hits,
        "hit_rate": round(hits / n, 4) if n else None,
        "hit_rate_ci": wilson(hits, n),
        "directional": len(directional),
        "directional_hit_rate": round(d_hits / len(directional), 4) if directional else None,
        "directional_hit_rate_ci": wilson(d_hits, len(directional)),
        "waits": waits,
        "avg_return_pct": round(sum(returns) / len(returns), 4) if returns else None,
        "avg_return_ci": mean_interval(returns),
        "brier": (
            round(
                sum((s.confidence - (1.0 if s.hit else 0.0)) ** 2 for s in directional) / len(directional), 4
            )
            if directional
            else None
        ),
        "calibration": calibration(scores),
    }

"""Figures for a set of scores: hit rate (Wilson interval), mean return after fees (normal interval),
calibration of the stated confidence by bin, and the Brier score, always with the sample sizes.

Confidence applies to directional calls (LONG/SHORT): "0.78" claims a 78 % chance of being right, so
calibration compares each bin's mean stated confidence with its realised hit rate. WAITs count in
the hit rate of their own group (a WAIT is right when the move could not pay the fees).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
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


_SCALE = 1074
"""Every float is an integer multiple of 2**-1074, so sums kept at that scale are exact integers."""


def _fixed(value: float) -> int:
    """``value`` as an exact integer at scale ``2**_SCALE``."""
    num, den = value.as_integer_ratio()
    return num << (_SCALE - den.bit_length() + 1)


def _exact(scaled: int, count: int, power: int = 1) -> float:
    """``scaled / count`` back at scale 1, from sums kept at scale ``2**(_SCALE * power)``."""
    return float(Fraction(scaled, count << (_SCALE * power)))


@dataclass(slots=True)
class Tally:
    """The sums a group's figures are made of, kept exactly (integers), so adding the scores that became
    due and taking away those that left a window gives the same figures as counting the window afresh,
    whatever the order."""

    n: int = 0
    hits: int = 0
    directional: int = 0
    directional_hits: int = 0
    returns: int = 0
    return_sum: int = 0
    return_squares: int = 0
    """At scale ``2**(2 * _SCALE)``."""
    confidence_squares: int = 0
    """Of directional calls, at scale ``2**(2 * _SCALE)`` (the Brier score's first term)."""
    hit_confidence: int = 0
    """Of directional calls that were right (the Brier score's cross term)."""
    bins: dict[int, list[int]] = field(default_factory=dict)
    """Confidence bin of directional calls -> [count, hits, sum of confidence]."""

    @classmethod
    def of(cls, scores: Iterable[Scored]) -> Tally:
        tally = cls()
        for s in scores:
            tally.add(s)
        return tally

    def add(self, s: Scored, sign: int = 1) -> None:
        """Count ``s`` in (``sign`` 1) or out again (``sign`` -1)."""
        self.n += sign
        self.hits += sign * s.hit
        if s.direction == "WAIT":
            return
        self.directional += sign
        self.directional_hits += sign * s.hit
        if s.return_pct is not None:
            r = _fixed(s.return_pct)
            self.returns += sign
            self.return_sum += sign * r
            self.return_squares += sign * r * r
        c = _fixed(s.confidence)
        self.confidence_squares += sign * c * c
        self.hit_confidence += sign * s.hit * c
        cell = self.bins.setdefault(_bin(s.confidence), [0, 0, 0])
        cell[0] += sign
        cell[1] += sign * s.hit
        cell[2] += sign * c
        if not cell[0]:
            del self.bins[_bin(s.confidence)]

    def merge(self, other: Tally) -> None:
        """Add the sums of ``other`` (a group is the union of its cells)."""
        self.n += other.n
        self.hits += other.hits
        self.directional += other.directional
        self.directional_hits += other.directional_hits
        self.returns += other.returns
        self.return_sum += other.return_sum
        self.return_squares += other.return_squares
        self.confidence_squares += other.confidence_squares
        self.hit_confidence += other.hit_confidence
        for b, (n, hits, confidence) in other.bins.items():
            cell = self.bins.setdefault(b, [0, 0, 0])
            cell[0] += n
            cell[1] += hits
            cell[2] += confidence

    def _mean_interval(self, z: float = Z95) -> tuple[float, float] | None:
        n = self.returns
        if n < 2:
            return None
        var = float(Fraction(self.return_squares * n - self.return_sum**2, (n * (n - 1)) << (2 * _SCALE)))
        mean = _exact(self.return_sum, n)
        half = z * math.sqrt(var / n)
        return (round(mean - half, 4), round(mean + half, 4))

    def _brier(self) -> float | None:
        d = self.directional
        if not d:
            return None
        total = (
            self.confidence_squares
            - (self.hit_confidence << (_SCALE + 1))
            + (self.directional_hits << (2 * _SCALE))
        )
        return round(_exact(total, d, 2), 4)

    def _calibration(self) -> list[dict[str, Any]]:
        out = []
        for b in sorted(self.bins):
            n, hits, confidence = self.bins[b]
            out.append(
                {
                    "bin": f"{b * BIN_WIDTH:.1f}-{(b + 1) * BIN_WIDTH:.1f}",
                    "n": n,
                    "stated": round(_exact(confidence, n), 4),
                    "realised": round(hits / n, 4),
                    "realised_ci": wilson(hits, n),
                }
            )
        return out

    def figures(self) -> dict[str, Any]:
        """Every figure of the group, with its counts."""
        n, d, hits, d_hits = self.n, self.directional, self.hits, self.directional_hits
        return {
            "n": n,
            "hits": hits,
            "hit_rate": round(hits / n, 4) if n else None,
            "hit_rate_ci": wilson(hits, n),
            "directional": d,
            "directional_hit_rate": round(d_hits / d, 4) if d else None,
            "directional_hit_rate_ci": wilson(d_hits, d),
            "waits": n - d,
            "avg_return_pct": round(_exact(self.return_sum, self.returns), 4) if self.returns else None,
            "avg_return_ci": self._mean_interval(),
            "brier": self._brier(),
            "calibration": self._calibration(),
        }


def figures(scores: Iterable[Scored]) -> dict[str, Any]:
    """Every figure of one group, with its counts."""
    return Tally.of(scores).figures()

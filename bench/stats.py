"""One percentile for every benchmark, so a "p95" in docs/benchmarks.md means the same in every table."""

from __future__ import annotations

import math
from collections.abc import Iterable


def nearest_rank(samples: Iterable[float], q: float) -> float:
    """The nearest-rank percentile: the smallest sample with at least ``q`` of them at or below it.

    It is always a measured value (no interpolation), and of few samples it is the largest, never one
    below the true percentile as an ``int(n * q) - 1`` index gives.
    """
    if not 0 < q <= 1:
        raise ValueError(f"percentile {q!r} is not in (0, 1]")
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    return ordered[max(0, math.ceil(len(ordered) * q) - 1)]

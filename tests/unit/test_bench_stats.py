"""Every benchmark's percentile is the nearest rank (bench/stats.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from stats import nearest_rank  # noqa: E402


def test_the_p95_of_twenty_samples_is_the_nineteenth_and_of_five_the_largest() -> None:
    twenty = [float(i) for i in range(20, 0, -1)]  # unsorted on purpose
    assert nearest_rank(twenty, 0.95) == 19.0
    assert nearest_rank([5.0, 1.0, 4.0, 2.0, 3.0], 0.95) == 5.0
    assert nearest_rank([float(i) for i in range(1, 101)], 0.95) == 95.0
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0


def test_no_samples_or_a_percentile_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        nearest_rank([], 0.95)
    with pytest.raises(ValueError, match="not in"):
        nearest_rank([1.0], 95)


def test_no_bench_computes_a_percentile_of_its_own() -> None:
    for script in sorted((ROOT / "bench").glob("*.py")):
        if script.name == "stats.py":
            continue
        text = script.read_text()
        for own in ("def p95", "def pct", "quantiles(", "* 0.95)", "* 95 //"):
            assert own not in text, (
                f"{script.name} computes its own percentile ({own!r}): use stats.nearest_rank"
            )

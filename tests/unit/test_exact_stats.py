"""The heuristic's fast standard deviation equals ``statistics.pstdev`` bit for bit, so the engine's
decisions are unchanged by it."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smt_engine.analyst.exact_stats import pstdev

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@settings(max_examples=500)
@given(st.lists(finite, min_size=1, max_size=60))
def test_equals_statistics_pstdev(values: list[float]) -> None:
    assert pstdev(values) == statistics.pstdev(values)


@given(st.lists(st.floats(min_value=-50, max_value=50, allow_subnormal=True), min_size=2, max_size=48))
def test_equals_on_return_sized_values(values: list[float]) -> None:
    assert pstdev(values) == statistics.pstdev(values)


def test_known_values_and_non_finite_input() -> None:
    assert pstdev([1.5, 2.5, 2.5, 2.75, 3.25, 4.75]) == 0.986893273527251
    assert pstdev([2.0, 2.0, 2.0]) == 0.0
    # Non-finite input goes to statistics unchanged: the same answer or the same error.
    for values in ([1.0, math.nan], [1.0, math.inf]):
        try:
            expected: object = statistics.pstdev(values)
        except Exception as exc:  # whatever statistics raises, ours raises too
            with pytest.raises(type(exc)):
                pstdev(values)
        else:
            got = pstdev(values)
            assert got == expected or (math.isnan(got) and math.isnan(expected))  # type: ignore[arg-type]

"""A call's cost is rounded up to the micro-dollar whatever the process-wide decimal context says."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, localcontext

import pytest

from smt_engine.analyst.budget import call_cost
from smt_engine.config.analyst import AnalystSettings

USAGE = {"prompt_tokens": 812, "output_tokens": 143, "thoughts_tokens": 400, "search_queries": 1}


@pytest.mark.parametrize("ambient", [ROUND_DOWN, ROUND_HALF_EVEN])
def test_cost_rounds_up_whatever_the_ambient_rounding(ambient: str) -> None:
    with localcontext() as ctx:
        ctx.rounding = ambient
        cost = call_cost(AnalystSettings(), "gemini-3.8-flash", USAGE)
    # 812 x $1.50/M + 543 x $7.50/M + $0.014 = $0.0192905
    assert cost.priced
    assert cost.usd == Decimal("0.019291")

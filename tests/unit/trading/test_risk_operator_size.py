"""The operator's own size (``OperatorSize``): it replaces the sizing table, never a limit."""

from __future__ import annotations

from decimal import Decimal

from smt_engine.domain import Pair, Side, Tier
from smt_engine.trading.account import OpenExposure
from smt_engine.trading.risk import Assessment, OperatorSize, ReasonCode, RiskEngine
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, decision, make_settings

ETH = Pair("ETH", Tier.ONE)


def assess(size: OperatorSize, **risk: object) -> Assessment:
    settings = make_settings(risk=dict(risk)) if risk else make_settings()
    return RiskEngine(settings).assess(
        ETH,
        decision(confidence=0.0),
        account(settings, open_positions=(OpenExposure("BTCUSDT", Side.LONG, Decimal(100)),)),
        CONTRACTS["ETHUSDT"],
        PRICES["ETHUSDT"],
        NOW,
        requested=size,
    )


def failed(assessment: Assessment) -> list[str]:
    return assessment.reason_codes


def test_a_margin_is_turned_into_a_size_floored_to_the_step_never_more() -> None:
    a = assess(OperatorSize(margin=Decimal("50.5")))
    # 50.5 USDT x 20 / 2000 = 0.505 -> 0.50 at step 0.01: margin 50, never the 50.5 asked or more.
    assert a.size == Decimal("0.50")
    assert a.margin == Decimal(50)
    assert failed(a) == []


def test_the_confidence_floor_is_not_applied_and_says_so() -> None:
    a = assess(OperatorSize(size=Decimal("0.5")))
    (gate,) = [g for g in a.gates if g.code is ReasonCode.MIN_CONFIDENCE]
    assert gate.passed
    assert "not applied" in gate.detail


def test_past_the_single_position_cap_it_is_refused_not_reduced() -> None:
    # base: 1000 available + 100 in use; cap 25 % = 275 USDT.
    a = assess(OperatorSize(margin=Decimal(300)))
    assert failed(a) == [ReasonCode.SINGLE_EXPOSURE.value]
    assert a.margin == Decimal(300)


def test_past_the_total_exposure_cap_it_is_refused() -> None:
    a = assess(OperatorSize(margin=Decimal(250)), max_total_exposure_pct=30)  # 100 + 250 > 330
    assert failed(a) == [ReasonCode.TOTAL_EXPOSURE.value]


def test_below_the_step_it_is_refused_never_raised_to_the_minimum() -> None:
    a = assess(OperatorSize(size=Decimal("0.004")))
    assert a.size == 0
    assert ReasonCode.MIN_SIZE.value in failed(a)


def test_without_an_operator_size_the_table_and_the_floor_still_apply() -> None:
    settings = make_settings()
    a = RiskEngine(settings).assess(
        ETH, decision(confidence=0.0), account(settings), CONTRACTS["ETHUSDT"], PRICES["ETHUSDT"], NOW
    )
    assert ReasonCode.MIN_CONFIDENCE.value in a.reason_codes

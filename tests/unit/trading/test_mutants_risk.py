"""The risk gates at their limits: every verdict's code, pass/fail, detail and halt flag, to the number.

The verdicts are stored with each proposal and shown to the operator, so the detail is part of the
claim: a gate that judges right but says the wrong number is not the gate the console explains.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from smt_engine.competition import StrategyMode
from smt_engine.domain import Action, Contract, EngineState, Pair, Side, Tier
from smt_engine.trading.account import OpenExposure
from smt_engine.trading.risk import (
    Assessment,
    DecisionEvidence,
    GateResult,
    OperatorSize,
    ReasonCode,
    RiskEngine,
    drift_pct,
    effective_leverage,
    size_pct,
    tp_sl_prices,
)
from tests.unit.trading.conftest import CONTRACTS, NOW, PRICES, account, contract, decision, make_settings

ETH = Pair("ETH", Tier.ONE)
DOGE = Pair("DOGE", Tier.TWO)
BTC_IN_USE = (OpenExposure("BTCUSDT", Side.LONG, Decimal(100)),)
"""100 USDT of margin already in use: exposure base 1100, single cap 275, total cap 660."""


def assess_eth(
    *,
    settings: dict[str, dict[str, Any]] | None = None,
    acct: dict[str, Any] | None = None,
    dec: dict[str, Any] | None = None,
    eth: Contract | None = None,
    price: Decimal | None = PRICES["ETHUSDT"],
    requested: OperatorSize | None = None,
    evidence: DecisionEvidence | None = None,
) -> Assessment:
    s = make_settings(**(settings or {}))
    return RiskEngine(s).assess(
        ETH,
        decision(**(dec or {})),
        account(s, **(acct or {})),
        CONTRACTS["ETHUSDT"] if eth is None else eth,
        price,
        NOW,
        requested=requested,
        evidence=evidence,
    )


def verdict(a: Assessment, code: ReasonCode) -> GateResult:
    (found,) = [g for g in a.gates if g.code is code]
    return found


def passed(code: ReasonCode, detail: str = "") -> GateResult:
    return GateResult(code, True, detail)


def refused(code: ReasonCode, detail: str, halt: bool = False) -> GateResult:
    return GateResult(code, False, detail, halt)


# --------------------------------------------------------------------------- whole assessments


def test_a_passing_trade_keeps_every_gates_verdict_with_its_numbers() -> None:
    a = assess_eth(acct={"open_positions": BTC_IN_USE})
    assert a.gates == (
        passed(ReasonCode.ENGINE_STATE, "engine is running"),
        passed(ReasonCode.BALANCE_UNKNOWN, "available 1000 USDT"),
        passed(ReasonCode.COMPETITION_WINDOW, "phase CONTINUOUS"),
        passed(ReasonCode.DAILY_LOSS),
        passed(ReasonCode.MAX_DRAWDOWN),
        passed(ReasonCode.NOT_A_TRADE, "action LONG"),
        passed(ReasonCode.INVALID_DECISION),
        passed(ReasonCode.MIN_CONFIDENCE, "confidence 0.8000 vs minimum 0.60"),
        passed(ReasonCode.DUPLICATE_POSITION),
        passed(ReasonCode.MAX_OPEN_POSITIONS, "1 open, limit 5"),
        passed(ReasonCode.COOLDOWN),
        passed(ReasonCode.NO_PRICE),
        passed(ReasonCode.NO_CONTRACT),
        passed(ReasonCode.MAX_LEVERAGE, "20x (caps: config 20x, contract 125x)"),
        passed(ReasonCode.SINGLE_EXPOSURE, "margin 150 USDT (notional 3000), cap 275"),
        passed(ReasonCode.TOTAL_EXPOSURE, "margin in use 250 USDT with this trade, cap 660"),
        passed(ReasonCode.MIN_SIZE, "size 1.5 (step 0.01, min 0.01)"),
        passed(ReasonCode.MAX_SIZE),
        passed(ReasonCode.MIN_NOTIONAL, "notional 3000 USDT (min 0)"),
        passed(ReasonCode.TP_SL_INVALID, "TP 2100, SL 1960"),
        passed(ReasonCode.REWARD_RISK, "TP 5.000% - fees 0.16% = 4.840% vs SL 2.000% x 1.2 = 2.400%"),
    )
    assert (a.passed, a.reason_codes, a.halt_reason, a.halt_code) == (True, [], None, None)
    assert (a.pair, a.side, a.confidence, a.sizing_confidence) == (
        ETH,
        Side.LONG,
        Decimal("0.8"),
        Decimal("0.8"),
    )
    assert (a.size, a.margin, a.sizing.leverage, a.notional, a.size_pct) == (
        Decimal("1.5"),
        Decimal(150),
        20,
        Decimal(3000),
        Decimal(15),
    )
    assert (a.entry_ref, a.tp_price, a.sl_price, a.tp_pct, a.sl_pct) == (
        Decimal(2000),
        Decimal(2100),
        Decimal(1960),
        Decimal(5),
        Decimal(2),
    )
    assert a.max_hold == timedelta(hours=48)


def test_a_trade_refused_before_sizing_states_every_reason_and_sizes_nothing() -> None:
    s = make_settings()
    acct = account(
        s,
        available=None,
        equity=Decimal(900),
        opening=Decimal(1000),
        peak=Decimal(1000),
        last_stop_loss={"ETHUSDT": NOW - timedelta(hours=1)},
        engine_state=EngineState.PAUSED,
    )
    wait = decision(action=Action.WAIT, confidence=0.0, tp="0", sl="0")
    a = RiskEngine(s).assess(ETH, wait, acct, None, None, NOW)
    daily = "loss today 100 USDT = 10.00% of opening equity 1000 (limit 10%)"
    assert a.gates == (
        refused(ReasonCode.ENGINE_STATE, "engine is paused"),
        refused(ReasonCode.BALANCE_UNKNOWN, "available balance could not be read"),
        passed(ReasonCode.COMPETITION_WINDOW, "phase CONTINUOUS"),
        refused(ReasonCode.DAILY_LOSS, daily, halt=True),
        passed(ReasonCode.MAX_DRAWDOWN, "drawdown 10.00% from peak 1000 (limit 25%)"),
        refused(ReasonCode.NOT_A_TRADE, "action WAIT"),
        refused(ReasonCode.INVALID_DECISION, "TP 0% outside [0.5, 15]%"),
        refused(ReasonCode.MIN_CONFIDENCE, "confidence 0.0000 vs minimum 0.60"),
        passed(ReasonCode.MAX_OPEN_POSITIONS, "0 open, limit 5"),
        refused(ReasonCode.COOLDOWN, "stop-loss at 2026-01-20 11:00 UTC, cooldown 4:00:00"),
        refused(ReasonCode.NO_PRICE, "no live price"),
        refused(ReasonCode.NO_CONTRACT, "contract precision unknown"),
    )
    assert a.halt_reason == f"daily_loss_limit: {daily}"
    assert a.halt_code is ReasonCode.DAILY_LOSS
    assert a.side is None
    assert (a.size, a.margin, a.sizing.leverage, a.size_pct) == (0, 0, 20, 0)
    assert (a.entry_ref, a.tp_price, a.sl_price) == (0, 0, 0)


def test_size_and_precision_refusals_state_the_size_and_the_contracts_limits() -> None:
    c = contract("ETHUSDT", max_size=Decimal(1), min_size=Decimal(2), min_notional=Decimal(10**6))
    a = assess_eth(
        acct={"open_positions": (OpenExposure("ETHUSDT", Side.SHORT, Decimal(100)),)},
        dec={"action": Action.SHORT, "tp": "15", "sl": "8"},
        eth=c,
    )
    assert a.reason_codes == ["duplicate_position", "min_order_size", "max_order_size", "min_notional"]
    assert verdict(a, ReasonCode.DUPLICATE_POSITION) == refused(
        ReasonCode.DUPLICATE_POSITION, "ETHUSDT SHORT already open"
    )
    assert a.gates[-7:] == (
        passed(ReasonCode.SINGLE_EXPOSURE, "margin 150 USDT (notional 3000), cap 275"),
        passed(ReasonCode.TOTAL_EXPOSURE, "margin in use 250 USDT with this trade, cap 660"),
        refused(ReasonCode.MIN_SIZE, "size 1.5 (step 0.01, min 2)"),
        refused(ReasonCode.MAX_SIZE, "size 1.5 above max 1"),
        refused(ReasonCode.MIN_NOTIONAL, "notional 3000 USDT (min 1000000)"),
        passed(ReasonCode.TP_SL_INVALID, "TP 1700, SL 2160"),
        passed(ReasonCode.REWARD_RISK, "TP 15.000% - fees 0.16% = 14.840% vs SL 8.000% x 1.2 = 9.600%"),
    )
    assert a.halt_reason is None
    assert a.halt_code is None


def test_only_a_loss_limit_halts_and_the_halt_names_every_limit_hit() -> None:
    a = assess_eth(
        acct={"equity": Decimal(700), "opening": Decimal(1000), "peak": Decimal(1000)},
        dec={"confidence": 0.5},
    )
    assert a.reason_codes == ["daily_loss_limit", "max_drawdown", "min_confidence"]
    assert a.halt_reason == (
        "daily_loss_limit: loss today 300 USDT = 30.00% of opening equity 1000 (limit 10%); "
        "max_drawdown: drawdown 30.00% from peak 1000 (limit 25%)"
    )
    assert a.halt_code is ReasonCode.DAILY_LOSS
    assert verdict(a, ReasonCode.MIN_CONFIDENCE).halt is False


def test_a_gate_result_as_a_record_names_the_gate_its_verdict_detail_and_halt() -> None:
    assert GateResult(ReasonCode.MAX_DRAWDOWN, False, "drawdown 30%", True).as_dict() == {
        "gate": "max_drawdown",
        "passed": False,
        "detail": "drawdown 30%",
        "halt": True,
    }
    assert GateResult(ReasonCode.COOLDOWN, True, "").as_dict() == {
        "gate": "stop_loss_cooldown",
        "passed": True,
        "detail": "",
        "halt": False,
    }


# --------------------------------------------------------------------------- each gate at its limit


def open_positions(count: int) -> dict[str, Any]:
    """Inputs with ``count`` positions already open (1 USDT of margin each, on symbols of their own)."""
    return {
        "acct": {
            "open_positions": tuple(OpenExposure(f"X{i}USDT", Side.LONG, Decimal(1)) for i in range(count))
        }
    }


def beside_btc(margin: int, total_cap_pct: int | None = None) -> dict[str, Any]:
    """Inputs for an operator's entry of ``margin`` USDT beside ``BTC_IN_USE``, with the total exposure cap
    set to ``total_cap_pct`` when given."""
    inputs: dict[str, Any] = {
        "acct": {"open_positions": BTC_IN_USE},
        "requested": OperatorSize(margin=Decimal(margin)),
    }
    if total_cap_pct is not None:
        inputs["settings"] = {"risk": {"max_total_exposure_pct": Decimal(total_cap_pct)}}
    return inputs


LIMIT_ROWS: list[tuple[str, dict[str, Any], GateResult]] = [
    (
        "daily loss at the limit halts",
        {"acct": {"equity": Decimal(900), "opening": Decimal(1000)}},
        refused(
            ReasonCode.DAILY_LOSS,
            "loss today 100 USDT = 10.00% of opening equity 1000 (limit 10%)",
            halt=True,
        ),
    ),
    (
        "daily loss just under the limit passes",
        {"acct": {"equity": Decimal(901), "opening": Decimal(1000)}},
        passed(ReasonCode.DAILY_LOSS, "loss today 99 USDT = 9.90% of opening equity 1000 (limit 10%)"),
    ),
    (
        "drawdown at the limit halts",
        {"acct": {"equity": Decimal(750), "peak": Decimal(1000)}},
        refused(ReasonCode.MAX_DRAWDOWN, "drawdown 25.00% from peak 1000 (limit 25%)", halt=True),
    ),
    (
        "drawdown just under the limit passes",
        {"acct": {"equity": Decimal(751), "peak": Decimal(1000)}},
        passed(ReasonCode.MAX_DRAWDOWN, "drawdown 24.90% from peak 1000 (limit 25%)"),
    ),
    (
        "confidence at the minimum passes",
        {"dec": {"confidence": 0.6}},
        passed(ReasonCode.MIN_CONFIDENCE, "confidence 0.6000 vs minimum 0.60"),
    ),
    (
        "confidence one step under the minimum is refused",
        {"dec": {"confidence": 0.5999}},
        refused(ReasonCode.MIN_CONFIDENCE, "confidence 0.5999 vs minimum 0.60"),
    ),
    (
        "a minimum finer than the step is compared on the step",
        {"settings": {"risk": {"min_confidence": Decimal("0.60004")}}, "dec": {"confidence": 0.6}},
        passed(ReasonCode.MIN_CONFIDENCE, "confidence 0.6000 vs minimum 0.60004"),
    ),
    (
        "a stop-loss exactly one cooldown ago no longer blocks",
        {"acct": {"last_stop_loss": {"ETHUSDT": NOW - timedelta(hours=4)}}},
        passed(ReasonCode.COOLDOWN),
    ),
    (
        "a stop-loss a minute inside the cooldown blocks",
        {"acct": {"last_stop_loss": {"ETHUSDT": NOW - timedelta(hours=4) + timedelta(minutes=1)}}},
        refused(ReasonCode.COOLDOWN, "stop-loss at 2026-01-20 08:01 UTC, cooldown 4:00:00"),
    ),
    (
        "one under the open positions limit passes",
        open_positions(4),
        passed(ReasonCode.MAX_OPEN_POSITIONS, "4 open, limit 5"),
    ),
    (
        "at the open positions limit is refused",
        open_positions(5),
        refused(ReasonCode.MAX_OPEN_POSITIONS, "5 open, limit 5"),
    ),
    (
        "a margin exactly at the single position cap passes",
        beside_btc(275),
        passed(ReasonCode.SINGLE_EXPOSURE, "margin 275 USDT (notional 5500), cap 275"),
    ),
    (
        "one contract step past the single position cap is refused",
        beside_btc(276),
        refused(ReasonCode.SINGLE_EXPOSURE, "margin 276 USDT (notional 5520), cap 275"),
    ),
    (
        "margin in use exactly at the total cap passes",
        beside_btc(230, total_cap_pct=30),
        passed(ReasonCode.TOTAL_EXPOSURE, "margin in use 330 USDT with this trade, cap 330"),
    ),
    (
        "one contract step past the total cap is refused",
        beside_btc(231, total_cap_pct=30),
        refused(ReasonCode.TOTAL_EXPOSURE, "margin in use 331 USDT with this trade, cap 330"),
    ),
    (
        "a size exactly at the minimum passes",
        {"eth": contract("ETHUSDT", min_size=Decimal("1.5"))},
        passed(ReasonCode.MIN_SIZE, "size 1.5 (step 0.01, min 1.5)"),
    ),
    (
        "a size one step under the minimum is refused, not raised",
        {"eth": contract("ETHUSDT", min_size=Decimal("1.51"))},
        refused(ReasonCode.MIN_SIZE, "size 1.5 (step 0.01, min 1.51)"),
    ),
    (
        "a size floored to zero is refused even with no minimum",
        {"acct": {"available": Decimal(1)}, "eth": contract("ETHUSDT", min_size=Decimal(0))},
        refused(ReasonCode.MIN_SIZE, "size 0 (step 0.01, min 0)"),
    ),
    (
        "a size exactly at the maximum passes and says nothing",
        {"eth": contract("ETHUSDT", max_size=Decimal("1.5"))},
        passed(ReasonCode.MAX_SIZE),
    ),
    (
        "a size one step over the maximum is refused",
        {"eth": contract("ETHUSDT", max_size=Decimal("1.49"))},
        refused(ReasonCode.MAX_SIZE, "size 1.5 above max 1.49"),
    ),
    (
        "a notional exactly at the minimum passes",
        {"eth": contract("ETHUSDT", min_notional=Decimal(3000))},
        passed(ReasonCode.MIN_NOTIONAL, "notional 3000 USDT (min 3000)"),
    ),
    (
        "a notional a cent under the minimum is refused",
        {"eth": contract("ETHUSDT", min_notional=Decimal("3000.01"))},
        refused(ReasonCode.MIN_NOTIONAL, "notional 3000 USDT (min 3000.01)"),
    ),
    (
        "a reward net of fees exactly equal to the risk is refused",
        {"dec": {"tp": "2.56", "sl": "2"}},
        refused(ReasonCode.REWARD_RISK, "TP 2.560% - fees 0.16% = 2.400% vs SL 2.000% x 1.2 = 2.400%"),
    ),
    (
        "a reward net of fees just above the risk passes",
        {"dec": {"tp": "2.57", "sl": "2"}},
        passed(ReasonCode.REWARD_RISK, "TP 2.570% - fees 0.16% = 2.410% vs SL 2.000% x 1.2 = 2.400%"),
    ),
    (
        "a short's reward and risk are distances from the entry",
        {"dec": {"action": Action.SHORT, "tp": "3", "sl": "1"}},
        passed(ReasonCode.REWARD_RISK, "TP 3.000% - fees 0.16% = 2.840% vs SL 1.000% x 1.2 = 1.200%"),
    ),
    (
        "a contract capping leverage below the configuration is obeyed and said",
        {"eth": contract("ETHUSDT", max_leverage=10)},
        passed(ReasonCode.MAX_LEVERAGE, "10x (caps: config 20x, contract 10x)"),
    ),
    (
        "a contract allowing no leverage refuses even the lowest",
        {"eth": contract("ETHUSDT", max_leverage=0)},
        refused(ReasonCode.MAX_LEVERAGE, "1x (caps: config 20x, contract 0x)"),
    ),
    (
        "the competition window passes outside a competition and names the phase",
        {},
        passed(ReasonCode.COMPETITION_WINDOW, "phase CONTINUOUS"),
    ),
    (
        "before the competition an entry without --force is refused and says why",
        {"settings": {"competition": {"start": date(2026, 2, 1), "end": date(2026, 2, 20)}}},
        refused(ReasonCode.COMPETITION_WINDOW, "competition_not_started"),
    ),
    (
        "after the competition an entry is refused and says why",
        {"settings": {"competition": {"start": date(2026, 1, 1), "end": date(2026, 1, 10)}}},
        refused(ReasonCode.COMPETITION_WINDOW, "competition_ended"),
    ),
]


@pytest.mark.parametrize(("name", "inputs", "expected"), LIMIT_ROWS, ids=[r[0] for r in LIMIT_ROWS])
def test_each_gate_at_just_under_and_over_its_limit(
    name: str, inputs: dict[str, Any], expected: GateResult
) -> None:
    a = assess_eth(**inputs)
    assert verdict(a, expected.code) == expected
    assert a.reason_codes == ([] if expected.passed else [expected.code.value])


DECISION_ROWS: list[tuple[float, str, str, GateResult]] = [
    (1.0, "15", "8", passed(ReasonCode.INVALID_DECISION)),
    (0.0, "0.5", "0.3", passed(ReasonCode.INVALID_DECISION)),
    (1.00005, "5", "2", refused(ReasonCode.INVALID_DECISION, "confidence 1.00005 outside [0, 1]")),
    (-0.0001, "5", "2", refused(ReasonCode.INVALID_DECISION, "confidence -0.0001 outside [0, 1]")),
    (0.8, "0.49", "2", refused(ReasonCode.INVALID_DECISION, "TP 0.49% outside [0.5, 15]%")),
    (0.8, "15.01", "2", refused(ReasonCode.INVALID_DECISION, "TP 15.01% outside [0.5, 15]%")),
    (0.8, "5", "0.29", refused(ReasonCode.INVALID_DECISION, "SL 0.29% outside [0.3, 8]%")),
    (0.8, "5", "8.01", refused(ReasonCode.INVALID_DECISION, "SL 8.01% outside [0.3, 8]%")),
    (0.8, "NaN", "2", refused(ReasonCode.INVALID_DECISION, "TP/SL percentages are not finite")),
    (0.8, "5", "Infinity", refused(ReasonCode.INVALID_DECISION, "TP/SL percentages are not finite")),
]


@pytest.mark.parametrize(("confidence", "tp", "sl", "expected"), DECISION_ROWS)
def test_analyst_output_at_and_past_its_bounds_is_refused_not_clamped(
    confidence: float, tp: str, sl: str, expected: GateResult
) -> None:
    a = assess_eth(dec={"confidence": confidence, "tp": tp, "sl": sl})
    assert verdict(a, ReasonCode.INVALID_DECISION) == expected
    if not expected.passed:
        assert (a.size, a.margin, a.tp_price, a.sl_price) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("action", "tp", "sl", "detail"),
    [
        (Action.SHORT, "100", "2", "TP 0 / SL 2040 must be positive"),
        (Action.LONG, "5", "100", "TP 2100 / SL 0 must be positive"),
    ],
)
def test_a_tp_or_sl_at_price_zero_is_refused_and_nothing_further_is_judged(
    action: Action, tp: str, sl: str, detail: str
) -> None:
    a = assess_eth(
        settings={"analyst": {"max_tp_pct": Decimal(100), "max_sl_pct": Decimal(100)}},
        dec={"action": action, "tp": tp, "sl": sl},
    )
    assert a.gates[-1] == refused(ReasonCode.TP_SL_INVALID, detail)
    assert ReasonCode.REWARD_RISK not in {g.code for g in a.gates}
    assert (a.size, a.margin) == (Decimal("1.5"), Decimal(150))


def test_a_tp_rounded_onto_the_entry_is_refused_with_the_venues_reason() -> None:
    a = assess_eth(dec={"tp": "0.5"}, eth=contract("ETHUSDT", tick_size=Decimal(100)))
    assert a.gates[-1] == refused(
        ReasonCode.TP_SL_INVALID, "LONG take-profit 2000 must be above the order price 2000"
    )
    assert (a.tp_price, a.sl_price) == (Decimal(2000), Decimal(2000))  # both rounded onto the entry
    assert (a.size, a.margin, a.size_pct) == (Decimal("1.5"), Decimal(150), Decimal(15))


# --------------------------------------------------------------------------- sizing and leverage


@pytest.mark.parametrize(
    ("tier", "confidence", "strategy", "pct"),
    [
        (Tier.ONE, "0.85", StrategyMode.MODERATE, 20),
        (Tier.ONE, "0.8499", StrategyMode.MODERATE, 15),
        (Tier.ONE, "0.75", StrategyMode.MODERATE, 15),
        (Tier.ONE, "0.7499", StrategyMode.MODERATE, 10),
        (Tier.ONE, "0.65", StrategyMode.MODERATE, 10),
        (Tier.ONE, "0.6499", StrategyMode.MODERATE, 5),
        (Tier.ONE, "0", StrategyMode.MODERATE, 5),
        (Tier.TWO, "0.85", StrategyMode.MODERATE, 10),
        (Tier.TWO, "0.8499", StrategyMode.MODERATE, 7),
        (Tier.TWO, "0.75", StrategyMode.MODERATE, 7),
        (Tier.TWO, "0.7499", StrategyMode.MODERATE, 5),
        (Tier.ONE, "0.75", StrategyMode.AGGRESSIVE, "22.5"),
        (Tier.ONE, "0.85", StrategyMode.AGGRESSIVE, 24),
        (Tier.ONE, "0.85", StrategyMode.CONSERVATIVE, 14),
    ],
)
def test_the_table_share_of_the_balance_at_each_confidence_step(
    tier: Tier, confidence: str, strategy: StrategyMode, pct: Any
) -> None:
    assert size_pct(tier, Decimal(confidence), strategy, Decimal(24)) == Decimal(pct)


def test_the_table_margin_is_rounded_down_so_the_size_never_crosses_a_step_upward() -> None:
    # 5 % of 1019.98 is 50.999 USDT: 50.99 x 20 / 2000 = 0.5099 -> 0.50; rounding up would give 0.51.
    a = assess_eth(acct={"available": Decimal("1019.98")}, dec={"confidence": 0.6})
    assert (a.size, a.margin, a.size_pct) == (Decimal("0.50"), Decimal(50), Decimal(5))
    assert a.passed


def test_the_margin_keeps_eight_places_rounded_half_up() -> None:
    # 1 contract at 0.12345677 with leverage 2: 0.061728385 USDT, a tie at the ninth place -> up.
    s = make_settings(risk={"leverage": 2})
    a = RiskEngine(s).assess(
        DOGE,
        decision(),
        account(s),
        contract("DOGEUSDT", step_size=Decimal(1), min_size=Decimal(1)),
        Decimal("0.12345677"),
        NOW,
        requested=OperatorSize(size=Decimal(1)),
    )
    assert a.margin == Decimal("0.06172839")
    assert a.entry_ref == Decimal("0.12345677")


def test_an_operators_entry_states_its_share_of_the_balance_rounded_half_up_and_no_confidence_floor() -> None:
    # 0.3 ETH x 2000 / 20 = 30 USDT of 1000.7 available: 2.99790...% -> 3.00.
    a = assess_eth(acct={"available": Decimal("1000.7")}, requested=OperatorSize(size=Decimal("0.3")))
    assert (a.size, a.margin, a.size_pct) == (Decimal("0.3"), Decimal(30), Decimal("3.00"))
    # 0.34 ETH = 34 USDT of 1600: 2.125 % exactly, a tie at the cent -> 2.13.
    a = assess_eth(acct={"available": Decimal(1600)}, requested=OperatorSize(size=Decimal("0.34")))
    assert (a.margin, a.size_pct) == (Decimal(34), Decimal("2.13"))
    assert verdict(a, ReasonCode.MIN_CONFIDENCE) == passed(
        ReasonCode.MIN_CONFIDENCE, "not applied: an operator's entry, sized by the operator"
    )


def test_a_calibrated_confidence_sizes_the_trade_and_is_kept_beside_the_stated_one() -> None:
    a = assess_eth(dec={"confidence": 0.9}, evidence=DecisionEvidence(calibrated=Decimal("0.65004")))
    assert (a.confidence, a.sizing_confidence) == (Decimal("0.9"), Decimal("0.6500"))
    assert (a.size_pct, a.margin) == (Decimal(10), Decimal(100))
    edge = refused(ReasonCode.NO_PROVEN_EDGE, "n=3")
    a = assess_eth(evidence=DecisionEvidence(edge=edge))
    assert a.reason_codes == ["no_proven_edge"]
    assert a.gates[8] == edge


@pytest.mark.parametrize(
    ("risk", "cap", "leverage"),
    [
        ({"leverage": 5, "max_leverage": 10}, 125, 5),
        ({"leverage": 10, "max_leverage": 10}, 125, 10),
        ({}, 10, 10),
        ({}, 1, 1),
        ({}, 0, 1),
        ({}, None, 20),
    ],
)
def test_leverage_is_the_lowest_of_the_configuration_and_the_contract_and_at_least_one(
    risk: dict[str, Any], cap: int | None, leverage: int
) -> None:
    s = make_settings(risk=risk)
    c = None if cap is None else contract("ETHUSDT", max_leverage=cap)
    assert effective_leverage(s, c) == leverage


def test_the_leverage_in_use_sizes_the_trade_and_its_margin() -> None:
    a = assess_eth(settings={"risk": {"leverage": 4}})
    # 15 % of 1000 = 150 USDT x 4 / 2000 = 0.3 ETH
    assert (a.size, a.margin, a.sizing.leverage, a.notional) == (
        Decimal("0.3"),
        Decimal(150),
        4,
        Decimal(600),
    )


# --------------------------------------------------------------------------- prices and holds


@pytest.mark.parametrize(
    ("side", "price", "tp_pct", "sl_pct", "tick", "tp", "sl"),
    [
        (Side.LONG, "2000", "5", "2", "0.01", "2100", "1960"),
        (Side.SHORT, "2000", "5", "2", "0.01", "1900", "2040"),
        (Side.LONG, "100", "2.5", "1.25", "1", "103", "99"),  # 102.5 half up, 98.75 toward the entry
        (Side.SHORT, "100", "2.5", "1.25", "1", "98", "101"),  # 97.5 half up, 101.25 toward the entry
    ],
)
def test_tp_and_sl_are_their_distances_from_the_entry_on_the_tick(
    side: Side, price: str, tp_pct: str, sl_pct: str, tick: str, tp: str, sl: str
) -> None:
    got = tp_sl_prices(side, Decimal(price), Decimal(tp_pct), Decimal(sl_pct), Decimal(tick))
    assert got == (Decimal(tp), Decimal(sl))


@pytest.mark.parametrize(
    ("reference", "live", "pct"),
    [("2000", "2010", "0.5"), ("2000", "1990", "0.5"), ("200", "250", "25"), ("200", "200", "0")],
)
def test_drift_is_the_move_as_a_share_of_the_price_at_proposal_time(
    reference: str, live: str, pct: str
) -> None:
    assert drift_pct(Decimal(reference), Decimal(live)) == Decimal(pct)


@pytest.mark.parametrize(
    ("hold_hours", "max_hold"),
    [(0.0, 48), (5.0, 5), (0.5, 0.5), (47.5, 47.5), (48.0, 48), (49.0, 48), (-3.0, 48)],
)
def test_the_analysts_hold_only_shortens_the_phases_max_hold(hold_hours: float, max_hold: float) -> None:
    a = assess_eth(dec={"hold_hours": hold_hours})
    assert a.max_hold == timedelta(hours=max_hold)


def test_the_exposure_base_counts_locked_margin_even_when_the_balance_is_unread() -> None:
    s = make_settings()
    engine = RiskEngine(s)
    assert engine.exposure_base(account(s, available=None, open_positions=BTC_IN_USE)) == Decimal(100)
    assert engine.exposure_base(account(s, available=Decimal(900), open_positions=BTC_IN_USE)) == Decimal(
        1000
    )


def test_a_price_below_one_is_kept_as_the_entry_reference() -> None:
    s = make_settings()
    a = RiskEngine(s).assess(DOGE, decision(), account(s), CONTRACTS["DOGEUSDT"], PRICES["DOGEUSDT"], NOW)
    assert a.entry_ref == Decimal("0.1")
    assert a.passed


def test_a_non_positive_price_sizes_nothing() -> None:
    a = assess_eth(price=Decimal(-1))
    assert verdict(a, ReasonCode.NO_PRICE) == refused(ReasonCode.NO_PRICE, "no live price")
    assert (a.entry_ref, a.size, a.margin) == (0, 0, 0)
    assert ReasonCode.MAX_LEVERAGE not in {g.code for g in a.gates}


def test_a_zero_balance_sizes_nothing() -> None:
    a = assess_eth(acct={"available": Decimal(0)})
    assert verdict(a, ReasonCode.BALANCE_UNKNOWN) == refused(ReasonCode.BALANCE_UNKNOWN, "available 0 USDT")
    assert (a.size, a.margin) == (0, 0)
    assert a.gates[-1].code is ReasonCode.NO_CONTRACT

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from smt_engine.analyst.heuristic import MODEL, HeuristicAnalyst, heuristic_answer
from smt_engine.domain import Action, AnalystKind, Bias
from tests.analyst_support import BTC, SOL, candles, context, open_store, whale


def test_trend_decides_direction(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        h = HeuristicAnalyst(store)
        up = h.decide(context(pair=SOL, bars=candles(step_pct=0.4)))
        down = h.decide(context(pair=SOL, bars=candles(step_pct=-0.4)))
        flat = h.decide(context(pair=SOL, bars=candles(step_pct=0.0)))
    assert up.action is Action.LONG
    assert down.action is Action.SHORT
    assert flat.action is Action.WAIT
    assert 0.64 <= up.confidence <= 0.80
    for d in (up, down):
        assert d.analyst is AnalystKind.HEURISTIC
        assert not d.grounded
        assert Decimal("0.3") <= d.sl_pct <= Decimal(8)
        assert Decimal("0.5") <= d.tp_pct <= Decimal(15)
        # The take-profit clears twice the stop plus round-trip fees (0.16 %).
        assert d.tp_pct >= 2 * d.sl_pct + Decimal("0.16") or d.tp_pct == Decimal(15)
        assert d.hold_hours == 24.0
        assert d.reasoning.startswith("Heuristic:")


def test_whale_signal_counts_on_tier_one_only(tmp_path: Path) -> None:
    flat = candles(step_pct=0.0)
    with open_store(tmp_path) as store:
        h = HeuristicAnalyst(store)
        bull = h.decide(context(pair=BTC, bars=flat, whale_signal=whale(Bias.BULLISH, 0.9)))
        bear = h.decide(context(pair=BTC, bars=flat, whale_signal=whale(Bias.BEARISH, 0.9)))
        weak = h.decide(context(pair=BTC, bars=flat, whale_signal=whale(Bias.BULLISH, 0.3)))
        tier2 = h.decide(context(pair=SOL, bars=flat, whale_signal=whale(Bias.BULLISH, 0.9)))
        avoid = h.decide(context(pair=BTC, bars=candles(step_pct=0.4), whale_signal=whale(Bias.AVOID, 0.9)))
    assert bull.action is Action.LONG
    assert "whale signal BULLISH" in bull.reasoning
    assert bear.action is Action.SHORT
    assert weak.action is Action.WAIT
    assert tier2.action is Action.WAIT  # the whale signal is dropped for tier 2 when the context is built
    assert avoid.action is Action.WAIT
    assert "AVOID" in avoid.reasoning


def test_deterministic_and_waits_without_data() -> None:
    ctx = context(bars=candles(step_pct=0.25), whale_signal=whale())
    assert heuristic_answer(ctx) == heuristic_answer(ctx)
    assert heuristic_answer(context(bars=candles(n=2)))["decision"] == "WAIT"


async def test_recorded_and_labelled_heuristic(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        outcome = await HeuristicAnalyst(store).analyse(context(pair=SOL, bars=candles(step_pct=0.4)))
        assert outcome.record.id is not None
        assert not outcome.failed
        row = store.analyses.get(outcome.record.id)
    assert row is not None
    assert row.analyst is AnalystKind.HEURISTIC
    assert row.model == MODEL
    assert row.action is Action.LONG
    assert row.confidence == outcome.decision.confidence
    assert row.grounded is False
    assert row.raw_response is None
    assert row.error is None
    assert row.decision is not None
    assert row.decision["decision"] == "LONG"
    assert row.prompt.startswith("(heuristic")
    assert row.cycle_id == "cycle-1"
    assert row.pair == "SOL"

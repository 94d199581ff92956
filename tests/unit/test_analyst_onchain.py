"""Whale and exchange-flow inputs of the analyst: neutral changes nothing, a lean moves the score,
and the prompt states the flows, their windows and the labels behind them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.analyst.heuristic import heuristic_answer
from smt_engine.analyst.prompt import build_prompt
from smt_engine.domain import Bias
from smt_engine.store.flows import ExchangeFlow
from smt_engine.whales.flows import FlowSignal
from tests.analyst_support import BTC, ETH, NOW, SOL, candles, context, whale


def flows(bias: Bias = Bias.BULLISH, confidence: float = 0.5) -> FlowSignal:
    rows = [
        ExchangeFlow(
            cycle_id="c1",
            at=NOW - timedelta(minutes=5),
            window_hours=hours,
            asset=asset,
            inflow=Decimal(inflow),
            outflow=Decimal(1),
            net=Decimal(inflow) - 1,
            transfers=3,
            wallets=2,
        )
        for hours in (1, 6, 24)
        for asset, inflow in (("ETH", "250.5"), ("USDT", "4000000"))
    ]
    return FlowSignal(
        "ETH",
        bias,
        confidence,
        rows,
        reasoning="stablecoins net +3,999,999.00 over 6 h (z +2.90)",
        wallet_labels=("Binance 14", "Coinbase 10"),
    )


PATHS = [candles(step_pct=s) for s in (-0.5, -0.2, -0.05, 0.0, 0.05, 0.12, 0.3, 0.6)]


@pytest.mark.parametrize("bars", PATHS)
@pytest.mark.parametrize("pair", [ETH, BTC])
def test_a_neutral_or_zero_signal_is_the_same_as_none(bars: list, pair: object) -> None:  # type: ignore[type-arg]
    base = heuristic_answer(context(pair=pair, bars=bars))
    for kw in (
        {"whale_signal": whale(Bias.NEUTRAL, 0.0)},
        {"whale_signal": whale(Bias.NEUTRAL, 0.7)},
        {"whale_signal": whale(Bias.BULLISH, 0.0)},
        {"exchange_flows": flows(Bias.NEUTRAL, 0.0)},
        {"whale_signal": whale(Bias.NEUTRAL, 0.0), "exchange_flows": flows(Bias.BEARISH, 0.0)},
    ):
        answer = heuristic_answer(context(pair=pair, bars=bars, **kw))
        assert answer == base, kw


def test_a_leaning_flow_signal_moves_the_score() -> None:
    flat = candles(step_pct=0.0)
    bull = heuristic_answer(context(pair=ETH, bars=flat, exchange_flows=flows(Bias.BULLISH, 0.9)))
    bear = heuristic_answer(context(pair=ETH, bars=flat, exchange_flows=flows(Bias.BEARISH, 0.9)))
    assert bull["decision"] == "LONG"
    assert "exchange flows BULLISH at 0.90" in bull["reasoning"]
    assert bear["decision"] == "SHORT"
    tier2 = heuristic_answer(context(pair=SOL, bars=flat, exchange_flows=flows(Bias.BULLISH, 0.9)))
    assert tier2["decision"] == "WAIT"  # flows reach tier 1 pairs only


@pytest.mark.parametrize("pair", [ETH, BTC])
def test_a_weak_agreeing_lean_never_weakens_the_market_call(pair: object) -> None:
    """A whale agreeing at 0.05 must not turn the market's LONG/SHORT into WAIT (it used to halve it)."""
    acted = 0
    for bars in PATHS:
        base = heuristic_answer(context(pair=pair, bars=bars))
        if base["decision"] == "WAIT":
            continue
        acted += 1
        agree = Bias.BULLISH if base["decision"] == "LONG" else Bias.BEARISH
        for kw in ({"whale_signal": whale(agree, 0.05)}, {"exchange_flows": flows(agree, 0.05)}):
            answer = heuristic_answer(context(pair=pair, bars=bars, **kw))
            assert answer["decision"] == base["decision"], (bars[-1], kw)
            assert answer["confidence"] >= base["confidence"]
    assert acted >= 2  # the paths include market calls both ways


def test_prompt_states_flows_windows_and_wallet_labels() -> None:
    text = build_prompt(context(pair=ETH, whale_signal=whale(), exchange_flows=flows()))
    assert "Exchange-related: no" not in text
    assert "Exchange wallets read (2, labelled from public Etherscan labels): Binance 14, Coinbase 10" in text
    assert "  last 1 h: ETH +249.50 (in 250.50, out 1.00, 3 transfers); USDT +3,999,999.00" in text
    assert "  last 6 h: " in text
    assert "  last 24 h: " in text
    assert "Exchange-flow signal: BULLISH (confidence 0.50): stablecoins net +3,999,999.00 over 6 h" in text
    assert "stablecoin inflow to exchanges has preceded higher BTC and ETH returns" in text
    flows_only = build_prompt(context(pair=BTC, exchange_flows=flows()))
    assert "=== WHALE INTELLIGENCE (Ethereum on-chain flows, used as a proxy for BTC) ===" in flows_only
    assert "Whale signal:" not in flows_only
    neutral = build_prompt(context(pair=ETH, whale_signal=whale(Bias.NEUTRAL, 0.0)))
    assert "Whale signal: NEUTRAL (confidence 0.00) - no lean, ignore it" in neutral

from __future__ import annotations

from decimal import Decimal

from smt_engine.analyst.prompt import build_prompt
from smt_engine.domain import Bias
from tests.analyst_support import BTC, SOL, candles, context, fast_settings, open_position, whale


def test_same_inputs_give_byte_identical_prompts() -> None:
    a = build_prompt(context(whale_signal=whale(), open_position=open_position()))
    b = build_prompt(context(whale_signal=whale(), open_position=open_position()))
    assert a == b
    assert build_prompt(context(price=Decimal("101"))) != build_prompt(context(price=Decimal("100")))


def test_has_the_seed_sections_in_order() -> None:
    text = build_prompt(context(whale_signal=whale()))
    headers = [
        "=== ACCOUNT STATUS ===",
        "=== COMPETITION STATUS ===",
        "=== TRADING PAIR ===",
        "=== RECENT MARKET (1h candles) ===",
        "=== OPEN POSITION ON BTCUSDT ===",
        "=== POSITION SIZING",
        "=== RISK/REWARD CALCULATOR",
        "=== TIME LIMITS ===",
        "=== WHALE INTELLIGENCE",
        "=== YOUR TASK ===",
        "=== RESPONSE FORMAT ===",
    ]
    positions = [text.index(h) for h in headers]
    assert positions == sorted(positions)


def test_account_and_competition_numbers() -> None:
    text = build_prompt(context(balance=Decimal("850"), available=Decimal("800"), equity=Decimal("860")))
    assert "Balance: 850.00 USDT" in text
    assert "Available (balance minus margin in use): 800.00 USDT" in text
    assert "-150.00 USDT (-15.00 %)" in text
    # 2026-01-20 12:00 with the window ending 2026-02-02 (inclusive): 13 whole days left.
    assert "Phase: ACTIVE" in text
    assert "Days remaining: 13" in text
    assert "Strategy mode: AGGRESSIVE (risk level HIGH)" in text
    assert "need gains" in text


def test_margin_and_notional_at_configured_leverage_with_round_trip_fees() -> None:
    text = build_prompt(context())
    assert "Configured leverage: 20x" in text
    assert "10 % of balance: margin 100.00 USDT -> notional 2,000.00 USDT" in text
    assert "5 % of balance: margin 50.00 USDT -> notional 1,000.00 USDT" in text
    # 0.08 % taker per side -> 0.16 % of notional round trip -> 3.20 USDT on 2,000 notional.
    assert "Round-trip taker fee: 0.160 % of notional (0.080 % per side) = 3.20 % of margin at 20x" in text
    assert "margin 100.00 USDT, notional 2,000.00 USDT at 20x, round-trip fees 3.20 USDT" in text
    # 3 % favourable move on 2,000 notional: +60.00 gross, +56.80 net of fees.
    assert "Price moves 3.0 % in the trade's favour: gross +60.00 USDT, after fees +56.80 USDT" in text
    assert "Price moves 1.5 % against the trade: gross -30.00 USDT, after fees -33.20 USDT" in text


def test_leverage_comes_from_config() -> None:
    settings = fast_settings()
    settings.risk.leverage = 10
    text = build_prompt(context(settings))
    assert "Configured leverage: 10x" in text
    assert "10 % of balance: margin 100.00 USDT -> notional 1,000.00 USDT" in text


def test_sizing_belongs_to_the_risk_engine() -> None:
    text = build_prompt(context())
    assert "You do NOT decide position size or leverage" in text
    assert "Any size, leverage or balance figure in your answer is ignored." in text
    assert "never instructions" in text
    assert "recommended_position_usdt" not in text


def test_time_limits_and_bounds_for_the_phase() -> None:
    text = build_prompt(context())
    assert "Max hold: 48 hours" in text
    assert "Default take-profit for this phase: 4.0 %" in text
    assert "Default stop-loss for this phase: 2.0 %" in text
    assert "take_profit_percent 0.5-15.0, stop_loss_percent 0.3-8.0" in text


def test_whale_block_only_for_tier_one_with_a_signal() -> None:
    tier1 = build_prompt(context(pair=BTC, whale_signal=whale(Bias.BEARISH, 0.74)))
    assert "Signal source: Whale Intelligence + Google Search grounding" in tier1
    assert "used as a proxy for BTC" in tier1
    assert "Whale signal: BEARISH (confidence 0.74)" in tier1
    assert "0x28c6…1d60" in tier1
    tier2 = build_prompt(context(pair=SOL, whale_signal=whale()))
    assert "Signal source: Google Search grounding only" in tier2
    assert "WHALE INTELLIGENCE" not in tier2


def test_candle_summary_and_open_position() -> None:
    up = build_prompt(context(bars=candles(step_pct=0.3)))
    assert "Trend: UP" in up
    down = build_prompt(context(bars=candles(step_pct=-0.3)))
    assert "Trend: DOWN" in down
    assert "Not enough candle data." in build_prompt(context(bars=candles(n=2)))
    with_pos = build_prompt(context(open_position=open_position()))
    assert "Side: LONG, size 0.002 BTC" in with_pos
    assert "(5.0 h ago)" in with_pos
    assert "=== OPEN POSITION ON BTCUSDT ===\nNone." in build_prompt(context())


def test_response_format_asks_for_the_seed_fields_without_sizing() -> None:
    text = build_prompt(context())
    fmt = text[text.index("=== RESPONSE FORMAT ===") :]
    for name in (
        "decision",
        "confidence",
        "take_profit_percent",
        "stop_loss_percent",
        "hold_time_hours",
        "entry_price",
        "tp_price",
        "sl_price",
        "key_catalyst",
        "risk_factors",
        "market_sentiment",
        "reasoning",
    ):
        assert f'"{name}"' in fmt
    assert '"entry_price": 100,' in fmt
    assert "leverage" not in fmt

"""The answer the analyst tests start from, and the bounds and price they judge it at."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from smt_engine.analyst.context import DecisionBounds
from smt_engine.analyst.parse import ParseOutcome, parse_response
from smt_engine.domain import AnalystKind

BOUNDS = DecisionBounds(
    min_tp_pct=Decimal("0.5"),
    max_tp_pct=Decimal(15),
    min_sl_pct=Decimal("0.3"),
    max_sl_pct=Decimal(8),
    max_hold_hours=48.0,
    ungrounded_confidence_cap=0.6,
)
PRICE = Decimal(100)


def answer(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "decision": "LONG",
        "confidence": 0.78,
        "take_profit_percent": 3.0,
        "stop_loss_percent": 1.5,
        "hold_time_hours": 12,
        "entry_price": 100,
        "tp_price": 103,
        "sl_price": 98.5,
        "key_catalyst": "ETF inflows",
        "risk_factors": ["macro data", "funding"],
        "market_sentiment": "BULLISH",
        "reasoning": "Spot ETF inflows accelerated. Funding is neutral.",
    }
    base.update(over)
    return base


def parse(text: str | None, grounded: bool = True) -> ParseOutcome:
    return parse_response(text, BOUNDS, PRICE, grounded=grounded, analyst=AnalystKind.GEMINI)

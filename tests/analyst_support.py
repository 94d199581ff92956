"""Shared builders for analyst tests: settings with fast limits, candle paths, contexts, a store, and the
model answer the parser tests start from with the bounds and price they judge it at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from smt_engine.analyst.context import DecisionBounds, PairContext, build_context
from smt_engine.analyst.parse import ParseOutcome, parse_response
from smt_engine.config import Settings
from smt_engine.config.analyst import DEFAULT_FALLBACK_MODELS, DEFAULT_MODEL, AnalystSettings
from smt_engine.domain import AnalystKind, Bias, Candle, Flow, Pair, PositionState, Side, Tier
from smt_engine.store import Store
from smt_engine.store.records import Position, WhaleSignal

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
BTC = Pair("BTC", Tier.ONE)
ETH = Pair("ETH", Tier.ONE)
SOL = Pair("SOL", Tier.TWO)
TEST_PRICE = {"input_per_mtok": "1.50", "output_per_mtok": "7.50", "search_per_kquery": "14"}


def fast_settings(base_url: str | None = None, **analyst: Any) -> Settings:
    """Default settings with a competition window and limits short enough for a quick suite.

    Made-up model names that the default price table does not cover get a test price row, since a gemini
    config refuses an unpriced model.
    """
    values: dict[str, Any] = {
        "base_url": base_url,
        "timeout": 2,
        "min_spacing": 0,
        "requests_per_minute": 600,
        "max_attempts": 3,
        "backoff_initial": 0.02,
        "backoff_max": 2,
        "cache_ttl": "15m",
    }
    values.update(analyst)
    listed = [values.get("model", DEFAULT_MODEL), *values.get("fallback_models", DEFAULT_FALLBACK_MODELS)]
    defaults = AnalystSettings().prices
    unpriced = [m for m in listed if not any(m.startswith(name) for name in defaults)]
    if unpriced and "prices" not in values:
        values["prices"] = {m: TEST_PRICE for m in unpriced}
    return Settings.model_validate(
        {
            "analyst": values,
            "competition": {"start": date(2026, 1, 12), "end": date(2026, 2, 2)},
        }
    )


def candles(
    start_price: float = 100.0, step_pct: float = 0.0, n: int = 48, wiggle_pct: float = 0.1
) -> list[Candle]:
    """Hourly bars oldest first: a geometric drift of ``step_pct`` per bar with a small alternating wiggle."""
    out = []
    price = start_price
    for i in range(n):
        open_ = price
        drift = price * (1 + step_pct / 100)
        close = drift * (1 + (wiggle_pct / 100 if i % 2 else -wiggle_pct / 100))
        hi, lo = max(open_, close) * 1.001, min(open_, close) * 0.999
        out.append(
            Candle(
                open_time=NOW - timedelta(hours=n - i),
                open=Decimal(f"{open_:.4f}"),
                high=Decimal(f"{hi:.4f}"),
                low=Decimal(f"{lo:.4f}"),
                close=Decimal(f"{close:.4f}"),
                volume=Decimal(1000 + i),
            )
        )
        price = drift
    return out


def whale(bias: Bias = Bias.BULLISH, confidence: float = 0.8) -> WhaleSignal:
    return WhaleSignal(
        cycle_id="c1",
        at=NOW - timedelta(minutes=30),
        bias=bias,
        confidence=confidence,
        address="0x28c6c06298d514db089934071355e5743bf21d60",
        whale_class="Large_Holder",
        flow=Flow.OUTFLOW,
        net_eth=Decimal("-2500.5"),
        inflow_eth=Decimal("100"),
        outflow_eth=Decimal("2600.5"),
        reasoning="Large holder moved ETH off exchanges",
        is_aggregate=True,
    )


def open_position(symbol: str = "BTCUSDT") -> Position:
    return Position(
        symbol=symbol,
        side=Side.LONG,
        size=Decimal("0.002"),
        entry_price=Decimal("95000"),
        opened_at=NOW - timedelta(hours=5),
        state=PositionState.OPEN,
        leverage=20,
        updated_at=NOW,
        margin=Decimal("9.5"),
        tp_price=Decimal("98000"),
        sl_price=Decimal("93000"),
        unrealized_pnl=Decimal("4.1"),
    )


def context(
    settings: Settings | None = None,
    pair: Pair = BTC,
    price: Decimal = Decimal("100"),
    bars: list[Candle] | None = None,
    **kw: Any,
) -> PairContext:
    settings = settings or fast_settings()
    values: dict[str, Any] = {
        "cycle_id": "cycle-1",
        "now": NOW,
        "pair": pair,
        "price": price,
        "candles": bars if bars is not None else candles(),
        "balance": Decimal("1000"),
        "available": Decimal("900"),
        "equity": Decimal("1004.5"),
        "open_positions": 1,
    }
    values.update(kw)
    return build_context(settings, **values)


@contextmanager
def open_store(path: Path) -> Iterator[Store]:
    s = Store.open(path / "smt.db")
    try:
        yield s
    finally:
        s.close()


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

"""The offline analyst: trend and volatility from 1h candles, plus whale and exchange-flow signals on tier 1.

Deterministic (same context, same answer), needs no network or key, and is labelled ``heuristic`` in
every record, so nobody mistakes it for a grounded opinion. It is used when no Gemini credentials
exist, in the demo, and as the configured fallback when a Gemini call fails. Its answer goes through
the same validator as the model's, so it obeys the same bounds.

On-chain signals only move the score when they lean: a NEUTRAL or zero-confidence whale or flow signal
is treated exactly like no signal (the seed halved the market score whenever any whale signal existed,
so a neutral zero flipped decisions). A lean is added to the market score (half weight, clamped to
±1), never averaged with it: a weak signal that agrees can only strengthen the market's call.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from smt_engine.analyst.base import AnalysisOutcome, CallTrace, record_analysis
from smt_engine.analyst.context import PairContext, summarise
from smt_engine.analyst.parse import ParseOutcome, validate_answer
from smt_engine.domain import AnalystKind, Bias, Decision, Tier
from smt_engine.store import Store
from smt_engine.store.records import Analysis

MODEL = "heuristic-v1"
ENTRY_SCORE = 0.35
ONCHAIN_WEIGHT = 0.5  # a full-confidence lean moves the score by half its range
"""|score| needed to act; below it the heuristic says WAIT."""
MAX_CONFIDENCE = 0.80
DEFAULT_HOLD_HOURS = 24.0

_BIAS_SIGN = {Bias.BULLISH: 1, Bias.BEARISH: -1, Bias.NEUTRAL: 0, Bias.AVOID: 0}


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def _leans(bias: Bias, confidence: float) -> bool:
    """A signal moves the score only with a direction and some confidence."""
    return _BIAS_SIGN[bias] != 0 and confidence > 0


def _dec(value: float | Decimal, lo: Decimal, hi: Decimal) -> Decimal:
    d = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return max(lo, min(hi, d))


def heuristic_answer(ctx: PairContext) -> dict[str, Any]:
    """The answer object, in the same shape the model is asked for."""
    summary = summarise(ctx.candles)
    whale = ctx.whale_signal if ctx.pair.tier is Tier.ONE else None
    flows = ctx.exchange_flows if ctx.pair.tier is Tier.ONE else None
    if summary is None:
        return {
            "decision": "WAIT",
            "confidence": 0.0,
            "reasoning": f"Heuristic: only {len(ctx.candles)} candle(s) available; too few to judge a trend.",
            "market_sentiment": "NEUTRAL",
        }
    vol = max(summary.volatility_pct, 0.05)
    trend_sign = {"UP": 1, "DOWN": -1}.get(summary.trend, 0)
    momentum = _clamp(summary.change_24h_pct / (vol * math.sqrt(24)), -3, 3) / 3
    market = 0.6 * trend_sign + 0.4 * momentum
    parts = [
        f"1h trend {summary.trend} (6-bar vs 24-bar average)",
        f"24h change {summary.change_24h_pct:+.2f} % vs hourly volatility {summary.volatility_pct:.2f} %",
    ]
    if whale is not None and whale.bias is Bias.AVOID:
        return {
            "decision": "WAIT",
            "confidence": 0.0,
            "reasoning": "Heuristic: the whale signal says AVOID (" + (whale.reasoning or "no detail") + ").",
            "market_sentiment": "NEUTRAL",
        }
    leans: list[tuple[str, Bias, float]] = []
    if whale is not None and _leans(whale.bias, whale.confidence):
        leans.append(("whale signal", whale.bias, whale.confidence))
    if flows is not None and _leans(flows.bias, flows.confidence):
        leans.append(("exchange flows", flows.bias, flows.confidence))
    score = market
    if leans:
        onchain = sum(_BIAS_SIGN[b] * _clamp(c, 0, 1) for _, b, c in leans) / len(leans)
        score = _clamp(market + ONCHAIN_WEIGHT * onchain, -1, 1)
        parts += [f"{name} {b.value} at {c:.2f}" for name, b, c in leans]
    score = round(score, 4)
    sentiment = "BULLISH" if score > 0.1 else "BEARISH" if score < -0.1 else "NEUTRAL"
    reasoning = "Heuristic: " + "; ".join(parts) + f". Score {score:+.2f} (acts beyond ±{ENTRY_SCORE:.2f})."
    if abs(score) < ENTRY_SCORE:
        return {
            "decision": "WAIT",
            "confidence": round(abs(score), 4),
            "reasoning": reasoning,
            "market_sentiment": sentiment,
        }
    b = ctx.bounds
    sl = _dec(max(float(ctx.status.default_sl_pct), 1.5 * summary.atr_pct), b.min_sl_pct, b.max_sl_pct)
    tp = _dec(
        max(float(ctx.status.default_tp_pct), 2 * float(sl) + float(ctx.round_trip_fee_pct)),
        b.min_tp_pct,
        b.max_tp_pct,
    )
    long = score > 0
    price = ctx.price
    return {
        "decision": "LONG" if long else "SHORT",
        "confidence": round(min(MAX_CONFIDENCE, 0.5 + 0.4 * abs(score)), 4),
        "take_profit_percent": float(tp),
        "stop_loss_percent": float(sl),
        "hold_time_hours": min(DEFAULT_HOLD_HOURS, b.max_hold_hours),
        "entry_price": float(price),
        "tp_price": float(price * (1 + tp / 100 if long else 1 - tp / 100)),
        "sl_price": float(price * (1 - sl / 100 if long else 1 + sl / 100)),
        "key_catalyst": f"1h trend {summary.trend}" + "".join(f" and {n} {b.value}" for n, b, _ in leans),
        "risk_factors": ["no news grounding", f"hourly volatility {summary.volatility_pct:.2f} %"],
        "market_sentiment": sentiment,
        "reasoning": reasoning,
    }


class HeuristicAnalyst:
    """Offline analyst; ``analyse`` records its answer like any other."""

    kind = AnalystKind.HEURISTIC
    model = MODEL

    def __init__(self, store: Store) -> None:
        self.store = store

    async def analyse(
        self,
        ctx: PairContext,
        *,
        fallback_for: Analysis | None = None,
        note: dict[str, Any] | None = None,
    ) -> AnalysisOutcome:
        """``note`` says why the heuristic answers in Gemini's place (e.g. ``over_budget``); it is stored."""
        answer = heuristic_answer(ctx)
        parsed = validate_answer(
            answer, ctx.bounds, ctx.price, grounded=False, analyst=self.kind, cap_ungrounded=False
        )
        if fallback_for is not None and parsed.payload is not None:
            parsed.payload["fallback_for"] = {"analysis_id": fallback_for.id, "error": fallback_for.error}
        if note and parsed.payload is not None:
            parsed.payload.update(note)
        onchain = [
            name
            for name, present in (("whale signal", ctx.whale_signal), ("exchange flows", ctx.exchange_flows))
            if ctx.pair.tier is Tier.ONE and present is not None
        ]
        prompt = "(heuristic: no prompt; inputs are the candles" + "".join(f", {n}" for n in onchain) + ")"
        trace = CallTrace(raw_response=None, grounded=False, attempts=0, latency_ms=0)
        return record_analysis(
            self.store, ctx, kind=self.kind, model=MODEL, prompt=prompt, parsed=parsed, trace=trace
        )

    def decide(self, ctx: PairContext) -> Decision:
        """The decision alone, unrecorded (for previews and tests)."""
        return _parse(ctx).decision

    async def aclose(self) -> None:
        return None


def _parse(ctx: PairContext) -> ParseOutcome:
    return validate_answer(
        heuristic_answer(ctx),
        ctx.bounds,
        ctx.price,
        grounded=False,
        analyst=AnalystKind.HEURISTIC,
        cap_ungrounded=False,
    )


__all__ = ["MODEL", "HeuristicAnalyst", "heuristic_answer"]

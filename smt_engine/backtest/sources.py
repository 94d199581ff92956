"""The decision sources a backtest runs, each from the engine's own code, and the baselines beside them.

* ``heuristic``: the heuristic analyst's market part (``heuristic_answer`` on the candles alone).
* ``flow`` and ``whale``: the exchange-flow signal and the aggregate whale signal on their own (a lean
  is a LONG or SHORT at the signal's confidence), only where stored history exists.
* ``flow <asset> <window>h``: each exchange-flow asset and window from the hourly history on its own
  (``backtest.flow_hours``), scored but not traded.
* ``combined``: the heuristic with the flow and whale signals, as the engine runs it on tier-1 pairs.
* baselines: ``always_long``, ``always_short``, ``random`` (entries at the heuristic's frequency so
  far on each pair, random side, seeded) and ``no_trade``.

Every answer goes through the analyst validator (``validate_answer``), so a source's decision obeys the
same bounds a live one does. Signals and baselines take the configured default TP/SL and the
heuristic's hold, and baselines state ``risk.min_confidence``: the least confidence that trades.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from smt_engine.analyst.context import PairContext
from smt_engine.analyst.heuristic import DEFAULT_HOLD_HOURS, heuristic_answer
from smt_engine.analyst.parse import validate_answer
from smt_engine.domain import Action, AnalystKind, Bias, Decision
from smt_engine.scorecard.flow_subjects import FLOW_CONFIDENCE, flow_direction
from smt_engine.store.flows import ExchangeFlow

HEURISTIC = "heuristic"
FLOW = "flow"
WHALE = "whale"
COMBINED = "combined"
ALWAYS_LONG = "always_long"
ALWAYS_SHORT = "always_short"
RANDOM = "random"
NO_TRADE = "no_trade"

DETERMINISTIC = (HEURISTIC, FLOW, WHALE, COMBINED)
"""Sources whose backtest record may stand for a live record (same inputs, same answer)."""
BASELINES = (ALWAYS_LONG, ALWAYS_SHORT, RANDOM, NO_TRADE)

_SIDE_OF_BIAS = {Bias.BULLISH: Action.LONG, Bias.BEARISH: Action.SHORT}


def _validated(answer: dict[str, Any], ctx: PairContext) -> Decision:
    return validate_answer(
        answer, ctx.bounds, ctx.price, grounded=False, analyst=AnalystKind.HEURISTIC, cap_ungrounded=False
    ).decision


def market_part(ctx: PairContext) -> Decision:
    """The heuristic on the candles alone: no whale or flow signal in its context."""
    return _validated(heuristic_answer(dataclasses.replace(ctx, whale_signal=None, exchange_flows=None)), ctx)


def combined(ctx: PairContext) -> Decision:
    """The heuristic with whatever flow and whale signal the context carries (tier 1 only)."""
    return _validated(heuristic_answer(ctx), ctx)


class FixedCalls:
    """Decisions with the default TP/SL and hold: one validation per distinct call, then reused."""

    def __init__(self) -> None:
        self._cache: dict[tuple[Action, float, Decimal, Decimal, float], Decision] = {}

    def decide(self, action: Action, confidence: float, ctx: PairContext, why: str) -> Decision:
        if action is Action.WAIT:
            return Decision.wait(why, AnalystKind.HEURISTIC)
        tp, sl = ctx.status.default_tp_pct, ctx.status.default_sl_pct
        hold = min(DEFAULT_HOLD_HOURS, ctx.bounds.max_hold_hours)
        key = (action, round(confidence, 4), tp, sl, hold)
        if key not in self._cache:
            answer = {
                "decision": action.value,
                "confidence": round(confidence, 4),
                "take_profit_percent": float(tp),
                "stop_loss_percent": float(sl),
                "hold_time_hours": hold,
                "market_sentiment": "BULLISH" if action is Action.LONG else "BEARISH",
                "reasoning": why,
            }
            self._cache[key] = _validated(answer, ctx)
        return self._cache[key]


def signal_call(
    calls: FixedCalls, bias: Bias | None, confidence: float, ctx: PairContext, name: str
) -> Decision:
    """A flow or whale signal on its own: its lean at its confidence, else WAIT."""
    action = _SIDE_OF_BIAS.get(bias, Action.WAIT) if bias is not None and confidence > 0 else Action.WAIT
    return calls.decide(action, confidence, ctx, f"{name} signal {bias.value if bias else 'absent'}")


def flow_call(calls: FixedCalls, flow: ExchangeFlow | None, ctx: PairContext) -> Decision:
    """One flow asset and window on its own: the forward scoring's direction at its confidence."""
    direction = flow_direction(flow) if flow is not None else None
    if flow is None or direction is None:
        return calls.decide(Action.WAIT, 0.0, ctx, "flow: no call")
    return calls.decide(Action(direction), FLOW_CONFIDENCE, ctx, f"flow {flow.asset} {flow.window_hours}h")


def random_baseline(seed: int, pair: str) -> Callable[[float], Action]:
    """Each call enters with the given probability, LONG or SHORT evenly; seeded per pair."""
    rng = random.Random(f"{seed}:{pair}")

    def draw(frequency: float) -> Action:
        enter = rng.random() < frequency
        side = Action.LONG if rng.random() < 0.5 else Action.SHORT
        return side if enter else Action.WAIT

    return draw

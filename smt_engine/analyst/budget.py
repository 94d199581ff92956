"""What Gemini calls cost, and the daily caps the analyst respects.

Cost comes from the response's usage metadata and the price table in ``analyst.prices`` (input and
tool-use prompt tokens at the input rate; output and thinking tokens at the output rate; each Google
Search query the model ran at the search rate). Every call is a row in ``analyst_usage``; the day's
sum decides whether the next call may go out. Over a cap the analysis is a recorded WAIT, or the
heuristic's answer when ``analyst.fallback = "heuristic"``, and ``analyst.budget`` turns WARN, so a spent
budget is never a silent stream of WAITs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config.analyst import AnalystSettings
from smt_engine.domain import HealthStatus
from smt_engine.health import report_health
from smt_engine.store import Store
from smt_engine.store.analyst_usage import AnalystUsage, DaySpend

COMPONENT = "analyst.budget"
MTOK = Decimal(1_000_000)
KQUERY = Decimal(1000)


@dataclass(frozen=True, slots=True)
class CallCost:
    usd: Decimal
    priced: bool


def call_cost(settings: AnalystSettings, model: str, usage: dict[str, Any]) -> CallCost:
    """USD for one answered call from its usage fields (see ``GeminiAnalyst._read_response``)."""
    price = settings.price_for(model)
    if price is None:
        return CallCost(Decimal(0), False)
    tokens_in = int(usage.get("prompt_tokens", 0)) + int(usage.get("tool_use_prompt_tokens", 0))
    tokens_out = int(usage.get("output_tokens", 0)) + int(usage.get("thoughts_tokens", 0))
    queries = int(usage.get("search_queries", 0))
    usd = (
        Decimal(tokens_in) * price.input_per_mtok / MTOK
        + Decimal(tokens_out) * price.output_per_mtok / MTOK
        + Decimal(queries) * price.search_per_kquery / KQUERY
    )
    # Rounded up, and explicitly: the ambient decimal context is process-wide and not ours to trust,
    # and a cost that errs high keeps the daily USD cap on the safe side.
    return CallCost(usd.quantize(Decimal("0.000001"), rounding=ROUND_UP), True)


class Budget:
    """The daily caps on Gemini calls and USD, read from ``analyst_usage``."""

    def __init__(self, settings: AnalystSettings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.in_flight = 0
        """Analyses allowed to call that have not recorded their usage yet (each counts as a call)."""

    def today(self) -> DaySpend:
        return self.store.analyst_usage.day_spend(self.clock.now().date())

    def exceeded(self) -> str | None:
        """Why no Gemini call may go out now (a cap is reached), or None; reports ``analyst.budget``."""
        spend = self.today()
        cfg = self.settings
        reason = None
        calls = spend.requests + self.in_flight
        if calls >= cfg.daily_max_calls:
            reason = f"daily call cap reached: {calls} of {cfg.daily_max_calls} calls"
        elif spend.cost_usd >= cfg.daily_max_usd:
            reason = f"daily USD cap reached: ${spend.cost_usd:.4f} of ${cfg.daily_max_usd}"
        self._report(spend, reason)
        return reason

    def record(self, usage: AnalystUsage) -> DaySpend:
        self.store.analyst_usage.insert(usage)
        spend = self.today()
        cfg = self.settings
        over = spend.requests >= cfg.daily_max_calls or spend.cost_usd >= cfg.daily_max_usd
        self._report(spend, "daily cap reached: no further Gemini calls today" if over else None)
        return spend

    def _report(self, spend: DaySpend, reason: str | None) -> None:
        cfg = self.settings
        detail = (
            f"today {spend.requests}/{cfg.daily_max_calls} calls, "
            f"${spend.cost_usd:.4f}/${cfg.daily_max_usd}"
            + (f" ({spend.unpriced} call(s) of unpriced models)" if spend.unpriced else "")
        )
        report_health(
            self.store,
            self.clock,
            COMPONENT,
            HealthStatus.WARN if reason else HealthStatus.OK,
            f"{reason}; {detail}" if reason else detail,
            {
                "day": spend.day,
                "calls": spend.requests,
                "max_calls": cfg.daily_max_calls,
                "usd": str(spend.cost_usd),
                "max_usd": str(cfg.daily_max_usd),
            },
        )

"""What each Gemini call cost: tokens, search queries and USD, summed per UTC day for the budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from smt_engine.store.base import Repo


@dataclass(slots=True, kw_only=True)
class AnalystUsage:
    at: datetime
    day: str
    """UTC date (YYYY-MM-DD) the call counts against."""
    model: str
    requests: int
    """HTTP requests sent for this analysis (retries and model fallbacks included)."""
    answered: bool
    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    search_queries: int = 0
    cost_usd: Decimal = Decimal(0)
    priced: bool = True
    """False when the model has no row in the price table (cost shown as 0, flagged)."""
    analysis_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class DaySpend:
    day: str
    requests: int
    cost_usd: Decimal
    unpriced: int


class AnalystUsageRepo(Repo[AnalystUsage]):
    table = "analyst_usage"
    record = AnalystUsage

    def day_spend(self, day: date) -> DaySpend:
        """Requests and USD for one UTC day (cost is summed exactly, as Decimal)."""
        key = day.isoformat()
        rows = self.select("day = ?", [key])
        return DaySpend(
            day=key,
            requests=sum(r.requests for r in rows),
            cost_usd=sum((r.cost_usd for r in rows), Decimal(0)),
            unpriced=sum(1 for r in rows if not r.priced),
        )

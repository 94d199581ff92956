"""Competition phase and the rules that follow from it (the seed system's table, made explicit).

Shared by the analyst prompt (what the model is told) and the risk engine (what is enforced).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from smt_engine.config import Settings


class Phase(StrEnum):
    CONTINUOUS = "CONTINUOUS"  # no competition dates configured
    PRE_COMPETITION = "PRE_COMPETITION"
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


class StrategyMode(StrEnum):
    AGGRESSIVE = "AGGRESSIVE"
    MODERATE = "MODERATE"
    CONSERVATIVE = "CONSERVATIVE"


# (days left at most, default max hold h, default TP %, default SL %), first match wins.
_PHASE_DEFAULTS: tuple[tuple[float, int, Decimal, Decimal], ...] = (
    (3, 6, Decimal("2.0"), Decimal("1.5")),
    (7, 24, Decimal("3.0"), Decimal("2.0")),
    (15, 48, Decimal("4.0"), Decimal("2.0")),
    (math.inf, 48, Decimal("5.0"), Decimal("2.5")),
)


@dataclass(frozen=True, slots=True)
class CompetitionStatus:
    phase: Phase
    days_left: int | None
    strategy: StrategyMode
    pnl: Decimal
    pnl_pct: Decimal
    max_hold: timedelta
    default_tp_pct: Decimal
    default_sl_pct: Decimal
    final_days: bool
    ends_at: datetime | None

    def entries_allowed(self, practice: bool, force: bool = False) -> tuple[bool, str]:
        """Whether new entries may open now, with the reason when not."""
        if self.phase is Phase.ENDED:
            return False, "competition_ended"
        if self.phase is Phase.PRE_COMPETITION and not (practice or force):
            return False, "competition_not_started"
        return True, ""


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def competition_status(settings: Settings, now: datetime, balance: Decimal) -> CompetitionStatus:
    comp = settings.competition
    start = _start_of(comp.start) if comp.start else None
    # The end date is a trading day: the window closes at the end of it.
    end = _start_of(comp.end) + timedelta(days=1) if comp.end else None
    if start is None and end is None:
        phase, days_left = Phase.CONTINUOUS, None
    elif start is not None and now < start:
        phase = Phase.PRE_COMPETITION
        days_left = (end - start).days if end else None
    elif end is not None and now >= end:
        phase, days_left = Phase.ENDED, 0
    else:
        phase = Phase.ACTIVE
        days_left = (end - now).days if end else None

    ratio = balance / comp.starting_balance
    if ratio > Decimal("1.2"):
        strategy = StrategyMode.CONSERVATIVE
    elif ratio < Decimal("0.9"):
        strategy = StrategyMode.AGGRESSIVE
    else:
        strategy = StrategyMode.MODERATE

    remaining = math.inf if days_left is None else days_left
    _, hold_h, tp, sl = next(row for row in _PHASE_DEFAULTS if remaining <= row[0])
    final = phase is Phase.ACTIVE and days_left is not None and days_left <= settings.risk.final_days
    max_hold = (
        settings.risk.final_days_max_hold if final else min(settings.risk.max_hold, timedelta(hours=hold_h))
    )
    if phase is Phase.CONTINUOUS:
        max_hold = settings.risk.max_hold
    pnl = balance - comp.starting_balance
    return CompetitionStatus(
        phase=phase,
        days_left=days_left,
        strategy=strategy,
        pnl=pnl,
        pnl_pct=(pnl / comp.starting_balance * 100).quantize(Decimal("0.01")),
        max_hold=max_hold,
        default_tp_pct=tp,
        default_sl_pct=sl,
        final_days=final,
        ends_at=end,
    )

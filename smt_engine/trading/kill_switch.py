"""The kill switch: daily loss and drawdown computed from equity snapshots on every monitor tick.

The daily loss counts from the day's opening equity (the last snapshot before midnight in
``risk.loss_day_timezone``, UTC by default); the drawdown from the peak equity. An operator's resume
after a halt restarts both references at the equity of that moment (``kill_switch_resets``), so a
resume clears the halt instead of tripping it again on the next tick; the entry gates use the same
references. Crossing a limit halts the engine: entries are refused, closes and protection continue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import HealthStatus
from smt_engine.exchange.precision import plain
from smt_engine.health import report_health
from smt_engine.store import Store
from smt_engine.store.kill_switch import KillSwitchReset
from smt_engine.trading.loss_limits import loss_from
from smt_engine.trading.risk import ReasonCode

COMPONENT = "risk.kill_switch"
_PCT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class LossReferences:
    """What the loss limits measure against at one moment."""

    day_start: datetime
    """Start of the loss day in UTC (or the last resume, when later)."""
    opening_equity: Decimal | None
    peak_equity: Decimal | None


@dataclass(frozen=True, slots=True)
class Breach:
    code: ReasonCode
    reason: str


def day_start(settings: Settings, now: datetime) -> datetime:
    """The midnight in ``risk.loss_day_timezone`` that began ``now``'s day, in UTC (as the halt says)."""
    zone = ZoneInfo(settings.risk.loss_day_timezone)
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), time.min, tzinfo=zone)
    return midnight.astimezone(UTC)


def loss_references(store: Store, settings: Settings, now: datetime) -> LossReferences:
    start = day_start(settings, now)
    reset = store.kill_switch.latest()
    if reset is not None and reset.at >= start:
        start = reset.at
        opening = reset.equity
    else:
        before = store.account.last_before(start)
        first = before or store.account.first_since(start)
        opening = first.equity if first is not None else None
    since = reset.at if reset is not None else None
    peak_row = store.account.peak_equity(since)
    peaks = [v for v in (peak_row.equity if peak_row else None, reset.equity if reset else None) if v]
    return LossReferences(start, opening, max(peaks) if peaks else None)


class KillSwitch:
    def __init__(self, settings: Settings, store: Store, clock: Clock) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock

    def check(self, equity: Decimal) -> Breach | None:
        """Evaluate both limits against ``equity`` (just snapshotted) and report the component's health."""
        now = self.clock.now()
        refs = loss_references(self.store, self.settings, now)
        risk = self.settings.risk
        # The same measure the entry gates and the limits table use (loss_limits), from the same references.
        daily_measure = loss_from(refs.opening_equity, equity)
        drawdown_measure = loss_from(max(refs.peak_equity or equity, equity), equity)
        daily = daily_measure.pct if daily_measure is not None else Decimal(0)
        drawdown = drawdown_measure.pct if drawdown_measure is not None else Decimal(0)
        data = {
            "equity": plain(equity),
            "opening_equity": plain(refs.opening_equity) if refs.opening_equity is not None else None,
            "peak_equity": plain(refs.peak_equity) if refs.peak_equity is not None else None,
            "daily_loss_pct": plain(daily.quantize(_PCT)),
            "drawdown_pct": plain(drawdown.quantize(_PCT)),
        }
        breach: Breach | None = None
        # A limit is reached only by a loss, so a breach always has the measure's reference to name.
        if daily_measure is not None and daily >= risk.daily_loss_limit_pct:
            breach = Breach(
                ReasonCode.DAILY_LOSS,
                f"daily loss {daily:.2f}% since {refs.day_start:%Y-%m-%d %H:%M} UTC "
                f"(opening equity {plain(daily_measure.reference)}, now {plain(equity)}) "
                f">= limit {risk.daily_loss_limit_pct}%",
            )
        elif drawdown_measure is not None and drawdown >= risk.max_drawdown_pct:
            breach = Breach(
                ReasonCode.MAX_DRAWDOWN,
                f"drawdown {drawdown:.2f}% from peak equity {plain(drawdown_measure.reference)} "
                f"(now {plain(equity)}) >= limit {risk.max_drawdown_pct}%",
            )
        if breach is None:
            detail = f"daily loss {daily:.2f}%, drawdown {drawdown:.2f}%"
            report_health(self.store, self.clock, COMPONENT, HealthStatus.OK, detail, data)
        else:
            report_health(self.store, self.clock, COMPONENT, HealthStatus.DOWN, breach.reason, data)
        return breach

    def reset(self, actor: str, cleared: str, equity: Decimal | None) -> None:
        """An operator resumed: the limits count from now and from ``equity``."""
        self.store.kill_switch.insert(
            KillSwitchReset(at=self.clock.now(), actor=actor, cleared=cleared, equity=equity)
        )
        report_health(self.store, self.clock, COMPONENT, HealthStatus.OK, f"cleared by {actor}: {cleared}")


__all__ = ["Breach", "KillSwitch", "LossReferences", "day_start", "loss_references"]

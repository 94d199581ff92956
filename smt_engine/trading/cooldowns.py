"""Stop-loss cooldowns: which pairs wait after a stop-loss, until when, and the operator's clearance.

The cooldown gate (``trading/risk.py``, ``ReasonCode.COOLDOWN``) denies a new entry on a pair for
``risk.stop_loss_cooldown`` after its last stop-loss. An operator may clear one (``clear_cooldown``): the
clearance names the stop it clears, so ``gate_stop_losses`` leaves that stop out of the gate's input and a
later stop-loss starts a new cooldown. Both the console and `smt status` show ``active_cooldowns``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.config import Settings
from smt_engine.domain import EventLevel
from smt_engine.store import Store
from smt_engine.store.cooldowns import CooldownClearance
from smt_engine.store.limits import COOLDOWN_PREFIX, Limit


@dataclass(frozen=True, slots=True)
class Cooldown:
    symbol: str
    stop_at: datetime
    until: datetime

    @property
    def why(self) -> str:
        return f"stop-loss at {self.stop_at:%Y-%m-%d %H:%M} UTC"


class CooldownError(Exception):
    """A clearance that cannot be made (no active cooldown on the symbol)."""


def gate_stop_losses(store: Store) -> dict[str, datetime]:
    """The last stop-loss per symbol, without the ones an operator cleared: the cooldown gate's input."""
    cleared = store.cooldown_clearances.cleared()
    return {
        symbol: at
        for symbol, at in store.positions.last_stop_losses().items()
        if symbol not in cleared or cleared[symbol] < at
    }


def active_cooldowns(store: Store, settings: Settings, now: datetime) -> list[Cooldown]:
    """Cooldowns the gate enforces at ``now``, soonest to end first."""
    span = settings.risk.stop_loss_cooldown
    found = [
        Cooldown(symbol, at, at + span) for symbol, at in gate_stop_losses(store).items() if now < at + span
    ]
    return sorted(found, key=lambda c: (c.until, c.symbol))


def cooldown_limits(store: Store, settings: Settings, now: datetime) -> list[Limit]:
    """The cooldowns as published limits, for the console (a row changes only when a cooldown does)."""
    span = Decimal(int(settings.risk.stop_loss_cooldown.total_seconds()))
    return [
        Limit(
            name=f"{COOLDOWN_PREFIX}{c.symbol}",
            value=span,
            unit="s",
            detail=f"until {c.until:%Y-%m-%d %H:%M} UTC ({c.why})",
            updated_at=now,
        )
        for c in active_cooldowns(store, settings, now)
    ]


def clear_cooldown(store: Store, settings: Settings, symbol: str, actor: str, now: datetime) -> Cooldown:
    """Record the clearance of ``symbol``'s active cooldown, with an audit event naming ``actor``."""
    active = {c.symbol: c for c in active_cooldowns(store, settings, now)}
    cooldown = active.get(symbol)
    if cooldown is None:
        listed = ", ".join(sorted(active)) or "none"
        raise CooldownError(f"{symbol} has no active stop-loss cooldown (active: {listed})")
    store.cooldown_clearances.insert(
        CooldownClearance(symbol=symbol, stop_at=cooldown.stop_at, cleared_at=now, actor=actor)
    )
    store.events.append(
        now,
        EventLevel.WARNING,
        "cooldown.cleared",
        f"{symbol}: stop-loss cooldown until {cooldown.until:%Y-%m-%d %H:%M} UTC cleared by {actor} "
        f"({cooldown.why}); new entries on {symbol} are allowed again",
        data={
            "symbol": symbol,
            "actor": actor,
            "stop_at": cooldown.stop_at.isoformat(),
            "until": cooldown.until.isoformat(),
        },
    )
    return cooldown


__all__ = [
    "Cooldown",
    "CooldownError",
    "active_cooldowns",
    "clear_cooldown",
    "cooldown_limits",
    "gate_stop_losses",
]

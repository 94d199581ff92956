"""Stop-loss cooldowns the operator cleared: the gate skips a symbol's cooldown whose stop was cleared."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smt_engine.store.base import Repo
from smt_engine.store.codec import parse_ts


@dataclass(slots=True, kw_only=True)
class CooldownClearance:
    """``stop_at`` is the stop-loss whose cooldown was cleared: a later stop starts a new cooldown."""

    symbol: str
    stop_at: datetime
    cleared_at: datetime
    actor: str
    id: int | None = None


class CooldownClearancesRepo(Repo[CooldownClearance]):
    table = "cooldown_clearances"
    record = CooldownClearance

    def cleared(self) -> dict[str, datetime]:
        """The newest cleared stop-loss time per symbol."""
        with self.lock:
            rows = self.db.execute(
                "SELECT symbol, max(stop_at) FROM cooldown_clearances GROUP BY symbol"
            ).fetchall()
        return {symbol: parse_ts(at) for symbol, at in rows}

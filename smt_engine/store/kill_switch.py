"""Kill-switch resets: when an operator resumed after a halt, and the equity the limits restart from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.store.base import Repo


@dataclass(slots=True, kw_only=True)
class KillSwitchReset:
    at: datetime
    actor: str
    cleared: str
    equity: Decimal | None = None
    id: int | None = None


class KillSwitchRepo(Repo[KillSwitchReset]):
    table = "kill_switch_resets"
    record = KillSwitchReset

    def latest(self) -> KillSwitchReset | None:
        rows = self.select(order_by="id DESC", limit=1)
        return rows[0] if rows else None

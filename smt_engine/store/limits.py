"""The ``limits`` table: what the engine enforces right now, so the console shows the engine's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row

# The names the engine publishes (smt_engine.trading.limits) and the console reads.
MAX_HOLD = "max_hold"
MAX_OPEN_POSITIONS = "max_open_positions"
SINGLE_EXPOSURE = "max_single_position"
TOTAL_EXPOSURE = "max_total_exposure"
DAILY_LOSS = "daily_loss"
DRAWDOWN = "max_drawdown"
MAX_DRIFT = "max_drift"
PROPOSAL_TTL = "proposal_ttl"
EDGE_GATE = "edge_gate"
"""Live mode only: the record a source needs on a pair before it may enter (``trading.edge_gate``)."""
EDGE_OVERRIDES = "edge_overrides"
"""Live mode only, when set: the source:PAIR entries allowed without a proven record (the header shows)."""
DRIFT_PREFIX = "drift.proposal."
"""``drift.proposal.<id>``: the live drift of a waiting proposal (used) against the limit (value)."""


COOLDOWN_PREFIX = "cooldown."
"""``cooldown.<SYMBOL>``: a stop-loss cooldown in force (value its length, s; detail until when and why)."""


def drift_name(proposal_id: int) -> str:
    return f"{DRIFT_PREFIX}{proposal_id}"


@dataclass(slots=True, kw_only=True)
class Limit:
    """One enforced limit: ``value`` in ``unit`` (``s``, ``%``, ``USDT``, ``count``), ``used`` how much of
    it is taken now (when the engine measures that), ``detail`` how it is measured, in the engine's words.
    ``updated_at`` is when the row last changed, not when it was last checked."""

    name: str
    value: Decimal
    unit: str
    used: Decimal | None = None
    detail: str = ""
    updated_at: datetime


class LimitsRepo(Repo[Limit]):
    table = "limits"
    record = Limit
    pk = "name"

    def replace_all(self, limits: Sequence[Limit]) -> bool:
        """Make the table exactly ``limits``; writes nothing (and wakes no reader) when nothing changed.

        A row whose value, use and detail are unchanged keeps its old ``updated_at``. True when written.
        """
        with self.lock:
            before = {row.name: row for row in self.select()}
            wanted = {limit.name: limit for limit in limits}
            changed = [limit for limit in limits if _content(before.get(limit.name)) != _content(limit)]
            gone = [name for name in before if name not in wanted]
            if not changed and not gone:
                return False
            with self.db.atomic():
                for name in gone:
                    self.db.execute(f"DELETE FROM {self.table} WHERE name = ?", [name])
                for limit in changed:
                    row = to_row(limit)
                    self.db.execute(
                        f"INSERT OR REPLACE INTO {self.table} ({', '.join(row)}) "
                        f"VALUES ({', '.join('?' * len(row))})",
                        list(row.values()),
                    )
            return True

    def all(self) -> list[Limit]:
        return self.select(order_by="name")

    def by_name(self) -> dict[str, Limit]:
        return {limit.name: limit for limit in self.all()}


def _content(limit: Limit | None) -> tuple[object, ...] | None:
    return None if limit is None else (limit.value, limit.unit, limit.used, limit.detail)

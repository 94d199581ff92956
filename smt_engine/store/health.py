"""Component health rows: the engine reports, `smt status` and the console read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smt_engine.domain import HealthStatus
from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row
from smt_engine.store.records import ComponentHealth

_QUIET = (HealthStatus.OK, HealthStatus.OFF)


class HealthRepo(Repo[ComponentHealth]):
    table = "health"
    record = ComponentHealth
    pk = "component"

    def report(
        self,
        component: str,
        status: HealthStatus,
        at: datetime,
        detail: str = "",
        data: dict[str, Any] | None = None,
    ) -> HealthStatus | None:
        """Record the component's status; returns the previous status when this report changed it.

        A first report counts as a change from OK. ``since`` moves only on a change, so "down since
        14:02" stays true across repeated reports.
        """
        with self.lock:
            previous = self.get(component)
            before = previous.status if previous is not None else HealthStatus.OK
            changed = before is not status and not (previous is None and status in _QUIET)
            row = ComponentHealth(
                component=component,
                status=status,
                detail=detail,
                since=at if previous is None or previous.status is not status else previous.since,
                updated_at=at,
                data=data or {},
            )
            self.write_row(to_row(row), "INSERT OR REPLACE")
        return before if changed else None

    def all(self) -> list[ComponentHealth]:
        return self.select(order_by="component")

"""Append-only audit log shown in the console's event pane."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smt_engine.domain import EventLevel
from smt_engine.store.base import Repo
from smt_engine.store.records import Event

_LEVEL_ORDER = list(EventLevel)


class EventsRepo(Repo[Event]):
    table = "events"
    record = Event

    def append(
        self,
        at: datetime,
        level: EventLevel,
        kind: str,
        message: str,
        *,
        cycle_id: str | None = None,
        proposal_id: int | None = None,
        order_id: int | None = None,
        position_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> Event:
        return self.insert(
            Event(
                at=at,
                level=level,
                kind=kind,
                message=message,
                cycle_id=cycle_id,
                proposal_id=proposal_id,
                order_id=order_id,
                position_id=position_id,
                data=data or {},
            )
        )

    def recent(
        self, limit: int = 200, min_level: EventLevel = EventLevel.DEBUG, after_id: int = 0
    ) -> list[Event]:
        """Newest first, at or above ``min_level``."""
        levels = [lv.value for lv in _LEVEL_ORDER[_LEVEL_ORDER.index(min_level) :]]
        marks = ", ".join("?" * len(levels))
        return self.select(
            f"id > ? AND level IN ({marks})", [after_id, *levels], order_by="id DESC", limit=limit
        )

    def of_kind(self, kind: str, limit: int = 100) -> list[Event]:
        return self.select("kind = ?", [kind], order_by="id DESC", limit=limit)

    def after(self, event_id: int, limit: int = 200) -> list[Event]:
        """Oldest first, every event newer than ``event_id``: how a consumer follows the log by cursor."""
        return self.select("id > ?", [event_id], order_by="id", limit=limit)

    def last_id(self) -> int:
        """The newest event's id, 0 when there is none."""
        rows = self.select(order_by="id DESC", limit=1)
        return rows[0].id or 0 if rows else 0

"""The notifications an operator can receive, each with the level it is sent at.

Kept free of engine imports so the settings model can list them for ``notify.events``.
"""

from __future__ import annotations

from enum import StrEnum

from smt_engine.domain import EventLevel


class NotificationKind(StrEnum):
    PROPOSAL_WAITING = "proposal_waiting"
    ENTRY_FILLED = "entry_filled"
    POSITION_CLOSED = "position_closed"
    HALTED = "halted"
    RESUMED = "resumed"
    STARTED = "started"
    STOPPED = "stopped"
    CRASH_RESTART = "crash_restart"
    MODEL_UNAVAILABLE = "model_unavailable"
    BUDGET_REACHED = "budget_reached"
    STREAM_DOWN = "stream_down"
    DATABASE_LOST = "database_lost"

    @property
    def level(self) -> EventLevel:
        return _LEVELS[self]


_LEVELS = {
    NotificationKind.PROPOSAL_WAITING: EventLevel.WARNING,  # needs the operator before it expires
    NotificationKind.ENTRY_FILLED: EventLevel.INFO,
    NotificationKind.POSITION_CLOSED: EventLevel.INFO,
    NotificationKind.HALTED: EventLevel.CRITICAL,
    NotificationKind.RESUMED: EventLevel.INFO,
    NotificationKind.STARTED: EventLevel.INFO,
    NotificationKind.STOPPED: EventLevel.WARNING,
    NotificationKind.CRASH_RESTART: EventLevel.ERROR,
    NotificationKind.MODEL_UNAVAILABLE: EventLevel.ERROR,
    NotificationKind.BUDGET_REACHED: EventLevel.WARNING,
    NotificationKind.STREAM_DOWN: EventLevel.ERROR,
    NotificationKind.DATABASE_LOST: EventLevel.CRITICAL,
}

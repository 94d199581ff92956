"""The notifications outbox and the read cursors that let a consumer of ``events`` resume after a restart.

A notification row is written once per notice and channel (``UNIQUE(dedup_key, channel)``), so deriving
the same event twice after a crash cannot send it twice; rows leave ``pending`` only when sent or given up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from smt_engine.domain import EventLevel
from smt_engine.store.base import Repo
from smt_engine.store.codec import to_row, ts


class NotificationState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # given up after ``notify.give_up_after``; kept with its last error


@dataclass(slots=True, kw_only=True)
class Notification:
    """One notice for one channel. ``channel`` is a label (scheme and a hash), never the URL itself."""

    kind: str
    level: EventLevel
    channel: str
    topic: str
    title: str
    body: str
    dedup_key: str
    created_at: datetime
    state: NotificationState = NotificationState.PENDING
    event_id: int | None = None
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    id: int | None = None


class NotificationsRepo(Repo[Notification]):
    table = "notifications"
    record = Notification

    def enqueue(self, notification: Notification) -> bool:
        """Insert unless this (dedup_key, channel) exists; True when a row was written."""
        cursor = self.write_row(to_row(notification), "INSERT OR IGNORE")
        return cursor.rowcount == 1

    def next_pending(self, channel: str) -> Notification | None:
        """The oldest undelivered row of ``channel``: delivery is strictly in order per channel."""
        rows = self.select(
            "channel = ? AND state = ?", [channel, NotificationState.PENDING.value], order_by="id", limit=1
        )
        return rows[0] if rows else None

    def pending_channels(self) -> list[str]:
        with self.lock:
            rows = self.db.query(
                "SELECT DISTINCT channel FROM notifications WHERE state = ? ORDER BY channel",
                [NotificationState.PENDING.value],
            )
            return [str(r["channel"]) for r in rows]

    def sent_since(self, channel: str, since: datetime) -> int:
        """How many rows ``channel`` delivered since ``since`` (the rate limit's window)."""
        return self.count(
            "channel = ? AND state = ? AND sent_at >= ?",
            [channel, NotificationState.SENT.value, ts(since)],
        )

    def seen_topic(self, channel: str, kind: str, topic: str, since: datetime) -> bool:
        """Whether the same kind of notice about the same thing was queued for ``channel`` since ``since``."""
        return (
            self.count(
                "channel = ? AND kind = ? AND topic = ? AND created_at >= ?",
                [channel, kind, topic, ts(since)],
            )
            > 0
        )

    def recent(self, limit: int = 100) -> list[Notification]:
        return self.select(order_by="id DESC", limit=limit)


class CursorsRepo(Repo[object]):
    """Named positions in an append-only table (e.g. the notifier's last handled event id)."""

    table = "cursors"
    pk = "name"

    def get_position(self, name: str) -> int | None:
        with self.lock:
            rows = list(self.db.query("SELECT position FROM cursors WHERE name = ?", [name]))
        return int(rows[0]["position"]) if rows else None

    def set_position(self, name: str, position: int, at: datetime) -> None:
        self.write_row({"name": name, "position": position, "updated_at": ts(at)}, "INSERT OR REPLACE")

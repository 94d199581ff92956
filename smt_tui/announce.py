"""Telling the operator what changed: a toast per notice (``alerts``), the bell when something waits for
them, the cursor offered the proposal that started waiting, and a forced close told once per position
(docs/design.md, principle 10: the operator is told).

The App composes one ``Announcer`` and calls it on the UI thread, for every snapshot and, for a forced
close (time alone brings it), on the tick.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from textual.notifications import SeverityLevel

from smt_tui import alerts
from smt_tui.state import Snapshot


class AnnounceHost(Protocol):
    """The console's toasts and bell."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None: ...

    def bell(self) -> None: ...


class Announcer:
    """Says each notice once: toasts, the bell, the cursor offered the row, forced closes remembered."""

    def __init__(self, host: AnnounceHost, stale_after: timedelta, follow: Callable[[str], None]) -> None:
        self._host = host
        self._stale_after = stale_after
        self._follow = follow
        self._forced_told: set[int] = set()

    def changes(self, before: Snapshot | None, snap: Snapshot, now: datetime) -> None:
        """Toasts for what changed; the bell when a proposal starts waiting for the operator."""
        running = snap.engine.running(now, self._stale_after)
        self._ring(alerts.notices(before, snap, now, running))
        self.forced(snap, now)

    def forced(self, snap: Snapshot, now: datetime) -> None:
        """A forced close within minutes, once per position (also from the tick: time alone brings it)."""
        if snap.engine.running(now, self._stale_after):
            self._ring(alerts.forced_notices(snap, now, self._forced_told))

    def _ring(self, notices: list[alerts.Notice]) -> None:
        ring = False
        for notice in notices:
            self._host.notify(notice.message, title=notice.title, severity=notice.severity, timeout=12)  # type: ignore[arg-type]
            ring = ring or notice.bell
            if notice.key is not None:
                self._follow(notice.key)
            if notice.position_id is not None:
                self._forced_told.add(notice.position_id)
        if ring:
            self._host.bell()

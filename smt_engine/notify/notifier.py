"""The notifier task: follows the events table by a persisted cursor, fills the outbox, delivers it.

Deriving and delivering are separate steps. Deriving is local and quick: new events become outbox rows
(and the cursor moves) in one transaction, so nothing is lost or doubled across restarts. Delivering works
on all channels concurrently and sends each channel's rows strictly in order, one at a time, in a worker
thread with a time limit; a failing or hanging channel backs off without holding up the other channels,
and nothing here can raise into the engine.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.health import report_health
from smt_engine.notify import sender
from smt_engine.notify.channels import Channel
from smt_engine.notify.rules import Draft, Rules
from smt_engine.store import Store
from smt_engine.store.notifications import Notification, NotificationState
from smt_engine.store.records import Event

log = logging.getLogger(__name__)

CURSOR = "notifier"
COMPONENT = "notify"
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_MAX = timedelta(minutes=5)
_LEVELS = list(EventLevel)


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s, ... capped at 5 min: a webhook that comes back is caught up within minutes.

    Doubled step by step under the cap: a channel down all day fails hundreds of times, and
    ``BACKOFF_BASE * 2 ** attempts`` would overflow ``timedelta`` from the 44th attempt on."""
    delay = BACKOFF_BASE
    for _ in range(attempts - 1):
        delay = min(delay * 2, BACKOFF_MAX)
    return delay


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    failed_attempts: int = 0
    given_up: int = 0


class Notifier:
    """One per engine. ``run`` is its task; ``flush`` gives it a last chance at shutdown."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        channels: list[Channel],
        problem: str | None = None,
        off_reason: str = "no notify_urls secret set",
    ) -> None:
        self.settings = settings
        self.problem = problem
        self.off_reason = off_reason
        self.store = store
        self.clock = clock
        self.channels = {c.label: c for c in channels}
        self.rules = Rules(store, settings)
        self._failing: dict[str, str] = {}
        self._instance: str | None = None
        if self.store.cursors.get_position(CURSOR) is None:
            # First start on this database: history before now is not news.
            self.store.cursors.set_position(CURSOR, self.store.events.last_id(), clock.now())

    @property
    def active(self) -> bool:
        return self.settings.notify.enabled and bool(self.channels)

    # ------------------------------------------------------------------ the task

    async def run(self) -> None:
        """Derive and deliver every ``poll_interval`` until cancelled; never raises anything else."""
        self._report_state()
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the notifier must never take the engine down
                log.exception("notifier tick failed")
                report_health(self.store, self.clock, COMPONENT, HealthStatus.DOWN, f"notifier error: {exc}")
            await self.clock.sleep(self.settings.notify.poll_interval.total_seconds())

    async def tick(self) -> DeliveryReport:
        self.derive()
        self.check_streams()
        if not self.active:
            self._report_state()
            return DeliveryReport()
        return await self.deliver()

    async def flush(self, grace: timedelta) -> None:
        """At shutdown: derive the last events (engine stopped) and try to send them within ``grace``."""
        try:
            await asyncio.wait_for(self.tick(), grace.total_seconds())
        except Exception as exc:  # includes the timeout: what is left is sent at the next start
            log.warning("notifications not all sent before stopping (%s); they go out at the next start", exc)

    # ------------------------------------------------------------------ deriving

    def derive(self, limit: int = 200) -> int:
        """Turn events after the cursor into outbox rows; returns how many rows were written."""
        cursor = self.store.cursors.get_position(CURSOR) or 0
        written = 0
        while True:
            events = self.store.events.after(cursor, limit)
            if not events:
                return written
            now = self.clock.now()
            with self.store.transaction():
                for event in events:
                    assert event.id is not None
                    draft = self._draft(event, now) if self.active else None
                    if draft is not None:
                        written += self._enqueue(draft, f"event:{event.id}", event.at, event.id)
                    cursor = event.id
                self.store.cursors.set_position(CURSOR, cursor, now)

    def _draft(self, event: Event, now: datetime) -> Draft | None:
        """One event's notice; an event that cannot be rendered is logged and skipped, never retried."""
        try:
            return self.rules.draft(event, now)
        except Exception:
            log.exception("event #%s (%s) could not become a notification; skipped", event.id, event.kind)
            return None

    def check_streams(self) -> int:
        """Notify once per outage of an exchange stream down longer than ``notify.stream_down_after``."""
        if not self.active:
            return 0
        now = self.clock.now()
        written = 0
        for row in self.store.health.all():
            draft = self.rules.stream_down(row, now, self.settings.notify.stream_down_after)
            if draft is not None:
                written += self._enqueue(draft, draft.topic, now, None)
        return written

    def _wanted(self, draft: Draft) -> bool:
        cfg = self.settings.notify
        return draft.kind in cfg.events and _LEVELS.index(draft.level) >= _LEVELS.index(
            EventLevel(cfg.min_level)
        )

    def _enqueue(self, draft: Draft, dedup_key: str, at: datetime, event_id: int | None) -> int:
        """Queue ``draft`` for every channel; ``at`` is when it happened (the event's time)."""
        if not self._wanted(draft):
            return 0
        written = 0
        window_start = at - self.settings.notify.dedup_window
        for label in self.channels:
            if self.store.notifications.seen_topic(label, draft.kind.value, draft.topic, window_start):
                continue  # the same notice about the same thing went out moments ago
            row = Notification(
                kind=draft.kind.value,
                level=draft.level,
                channel=label,
                topic=draft.topic,
                title=draft.title,
                body=draft.body,
                dedup_key=dedup_key,
                event_id=event_id,
                created_at=at,
            )
            written += int(self.store.notifications.enqueue(row))
        return written

    # ------------------------------------------------------------------ delivering

    async def deliver(self) -> DeliveryReport:
        """Every channel at once, each in order: a hanging service delays only its own notices."""
        labels = self.store.notifications.pending_channels()
        results = await asyncio.gather(
            *(self._deliver_channel(label) for label in labels), return_exceptions=True
        )
        self._report_state()
        for result in results:
            if isinstance(result, BaseException):
                raise result  # after every channel had its turn; run() logs it and reports the notifier down
        counts = [r for r in results if not isinstance(r, BaseException)]
        return DeliveryReport(sum(c[0] for c in counts), sum(c[1] for c in counts), sum(c[2] for c in counts))

    async def _deliver_channel(self, label: str) -> tuple[int, int, int]:
        cfg = self.settings.notify
        channel = self.channels.get(label)
        sent = given_up = 0
        while True:
            row = self.store.notifications.next_pending(label)
            if row is None:
                return sent, 0, given_up
            assert row.id is not None
            now = self.clock.now()
            if channel is None or now - row.created_at > cfg.give_up_after:
                reason = "channel no longer configured" if channel is None else "undelivered for too long"
                self.store.notifications.update(
                    row.id, state=NotificationState.FAILED, last_error=row.last_error or reason
                )
                given_up += 1
                continue
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                return sent, 0, given_up  # backing off; later rows wait so the order holds
            if self.store.notifications.sent_since(label, now - cfg.rate_window) >= cfg.rate_limit:
                return sent, 0, given_up  # rate limited: they wait, none is dropped
            attempt = asyncio.ensure_future(
                sender.send(channel, row.title, row.body, row.level, cfg.timeout, self._notice_id(row))
            )
            try:
                await asyncio.shield(attempt)
            except asyncio.CancelledError:
                # Stopping mid-send: let this one send finish (it is bounded by the timeout) and record
                # it, so the row is not sent a second time by the flush or the next start.
                await asyncio.wait([attempt])
                self._record(row, attempt)
                raise
            except sender.DeliveryFailed:
                pass
            if not self._record(row, attempt):
                return sent, 1, given_up
            sent += 1

    def _notice_id(self, row: Notification) -> str:
        """The same for a notice on every channel and every retry, and unique across databases."""
        if self._instance is None:
            self._instance = self.store.instance_id()
        return hashlib.sha256(f"{self._instance}\n{row.dedup_key}".encode()).hexdigest()[:24]

    def _record(self, row: Notification, attempt: asyncio.Future[None]) -> bool:
        """Write one send's outcome to its row; True when it was delivered."""
        assert row.id is not None
        error = attempt.exception()
        if error is None:
            self.store.notifications.update(
                row.id, state=NotificationState.SENT, attempts=row.attempts + 1, sent_at=self.clock.now()
            )
            self._failing.pop(row.channel, None)
            return True
        attempts = row.attempts + 1
        self.store.notifications.update(
            row.id,
            attempts=attempts,
            last_error=str(error),
            next_attempt_at=self.clock.now() + backoff(attempts),
        )
        self._failing[row.channel] = (
            f"{row.channel}: {error} (attempt {attempts}, {row.kind} #{row.id} waiting)"
        )
        log.warning(
            "notification #%s to %s not delivered (attempt %d): %s", row.id, row.channel, attempts, error
        )
        return False

    def _report_state(self) -> None:
        if not self.settings.notify.enabled:
            report_health(self.store, self.clock, COMPONENT, HealthStatus.OFF, "disabled by notify.enabled")
        elif self.problem is not None:
            report_health(self.store, self.clock, COMPONENT, HealthStatus.DOWN, self.problem)
        elif not self.channels:
            report_health(self.store, self.clock, COMPONENT, HealthStatus.OFF, self.off_reason)
        elif self._failing:
            detail = "; ".join(self._failing.values())
            status = HealthStatus.DOWN if len(self._failing) == len(self.channels) else HealthStatus.WARN
            report_health(self.store, self.clock, COMPONENT, status, detail)
        else:
            report_health(
                self.store, self.clock, COMPONENT, HealthStatus.OK, f"{len(self.channels)} channel(s)"
            )

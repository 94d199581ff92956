"""The notifier's outbox and delivery asserted to the value: rows, counts, give-up, rate limit, flush and
the notice id, against a local webhook on 127.0.0.1 (apprise's ``json://``) or a stand-in send.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.notify import sender
from smt_engine.notify.channels import Channel, parse_urls
from smt_engine.notify.notifier import CURSOR, DeliveryReport, Notifier, backoff
from smt_engine.notify.rules import Draft
from smt_engine.store import Store
from smt_engine.store.notifications import Notification, NotificationState
from smt_engine.store.records import Event
from tests.fakes.webhook_server import FakeWebhook
from tests.unit.test_notify import T0, StepClock, halt, settings

HANG_GUARD = 30.0  # real seconds; a guard against a hang, never a speed requirement
NOWHERE = Channel("json:aaaaaaaa", "json://127.0.0.1:9/nowhere")  # deriving never sends
ELSEWHERE = Channel("json:bbbbbbbb", "json://127.0.0.1:9/elsewhere")

# --------------------------------------------------------------------------- the outbox


def notifier_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The notifier's own log lines: at WARNING and above they are mirrored to the events table."""
    return [r.getMessage() for r in caplog.records if r.name == "smt_engine.notify.notifier"]


def notifier(store: Store, clock: StepClock, channels: list[Channel], **notify: Any) -> Notifier:
    return Notifier(settings(**notify), store, clock, channels)


def test_each_event_becomes_one_row_per_channel_stamped_with_the_events_time(store: Store) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE, ELSEWHERE])
    halt(store, clock, "first")
    halt(store, clock, "second")
    last = store.events.last_id()
    clock.advance(30)  # derived later than it happened: the row keeps the event's time
    assert n.derive() == 4
    assert store.cursors.get_position(CURSOR) == last
    rows = sorted(store.notifications.recent(), key=lambda r: r.id or 0)
    assert [(r.channel, r.dedup_key) for r in rows] == [
        (NOWHERE.label, f"event:{last - 1}"),
        (ELSEWHERE.label, f"event:{last - 1}"),
        (NOWHERE.label, f"event:{last}"),
        (ELSEWHERE.label, f"event:{last}"),
    ]
    assert rows[0] == Notification(
        kind="halted",
        level=EventLevel.CRITICAL,
        channel=NOWHERE.label,
        topic=f"halt:{last - 1}",
        title="SMT: engine HALTED, entries refused",
        body="engine HALTED: first\nCloses and protection continue. Resume with: smt resume",
        dedup_key=f"event:{last - 1}",
        created_at=T0,
        event_id=last - 1,
        id=rows[0].id,
    )
    assert n.derive() == 0


def test_the_first_event_of_a_new_database_is_news(store: Store) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE])
    assert store.cursors.get_position(CURSOR) == 0
    halt(store, clock)
    assert n.derive() == 1


def test_a_channel_added_inside_the_window_still_gets_the_repeat_the_first_one_skips(store: Store) -> None:
    clock = StepClock()
    notifier(store, clock, [NOWHERE], dedup_window="10m")
    store.events.append(clock.now(), EventLevel.INFO, "engine.starting", "starting")
    assert notifier(store, clock, [NOWHERE]).derive() == 1
    clock.advance(600)  # the window's last instant: still a repeat for the first channel
    store.events.append(clock.now(), EventLevel.INFO, "engine.starting", "starting again")
    both = notifier(store, clock, [NOWHERE, ELSEWHERE], dedup_window="10m")
    assert both.derive() == 1
    (row,) = store.notifications.recent(1)
    assert (row.channel, row.body) == (ELSEWHERE.label, "starting again")


def test_a_notice_not_chosen_or_below_the_level_is_not_queued(store: Store) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE], events=["stopped"], min_level="warning")
    store.events.append(clock.now(), EventLevel.INFO, "engine.starting", "starting")  # not chosen
    halt(store, clock)  # critical, but not chosen either
    store.events.append(clock.now(), EventLevel.INFO, "engine.stopped", "stopped")  # warning: at the level
    assert n.derive() == 1
    assert [r.kind for r in store.notifications.recent()] == ["stopped"]
    n = notifier(store, clock, [NOWHERE], events=["stopped", "started"], min_level="error")
    store.events.append(clock.now(), EventLevel.INFO, "engine.stopped", "stopped again")
    assert n.derive() == 0


def test_an_event_that_cannot_be_rendered_says_which_in_the_log(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE])

    def broken(e: Event, now: datetime) -> Draft | None:
        raise ValueError("cannot render")

    monkeypatch.setattr(n.rules, "draft", broken)
    halt(store, clock)
    with caplog.at_level(logging.ERROR, logger="smt_engine.notify.notifier"):
        assert n.derive() == 0
    assert notifier_lines(caplog) == [
        f"event #{store.events.last_id()} (engine.halted) could not become a notification; skipped"
    ]
    assert store.cursors.get_position(CURSOR) == store.events.last_id()


# --------------------------------------------------------------------------- delivering


async def test_a_failed_send_is_recorded_with_its_error_backoff_and_health_then_sent_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = StepClock()
    with FakeWebhook() as hook:
        (channel,) = parse_urls(hook.json_url())
        n = notifier(store, clock, [channel])
        hook.down = True
        halt(store, clock)
        with caplog.at_level(logging.WARNING, logger="smt_engine.notify.notifier"):
            assert await n.tick() == DeliveryReport(0, 1, 0)
        (row,) = store.notifications.recent()
        assert row.id is not None
        assert row.state is NotificationState.PENDING
        assert (row.attempts, row.next_attempt_at, row.sent_at) == (1, T0 + backoff(1), None)
        assert row.last_error is not None
        assert "503" in row.last_error
        assert notifier_lines(caplog) == [
            f"notification #{row.id} to {channel.label} not delivered (attempt 1): {row.last_error}"
        ]
        health = store.health.get("notify")
        assert health is not None
        assert health.status is HealthStatus.DOWN
        assert health.detail == f"{channel.label}: {row.last_error} (attempt 1, halted #{row.id} waiting)"
        assert await n.tick() == DeliveryReport(0, 0, 0)  # backing off: not tried, not counted
        clock.advance(backoff(1).total_seconds())
        assert await n.tick() == DeliveryReport(0, 1, 0)
        (row,) = store.notifications.recent()
        assert (row.attempts, row.next_attempt_at) == (2, clock.now() + backoff(2))
        hook.down = False
        clock.advance(backoff(2).total_seconds())
        assert await n.tick() == DeliveryReport(1, 0, 0)
        (row,) = store.notifications.recent()
        assert (row.state, row.attempts, row.sent_at) == (NotificationState.SENT, 3, clock.now())
        health = store.health.get("notify")
        assert health is not None
        assert (health.status, health.detail) == (HealthStatus.OK, "1 channel(s)")
        assert len(hook.delivered) == 1


async def test_the_report_counts_sent_failed_and_given_up_across_channels(store: Store) -> None:
    clock = StepClock()
    with FakeWebhook() as ok, FakeWebhook() as broken:
        channels = parse_urls(f"{ok.json_url('/ok')} {broken.json_url('/broken')}")
        n = notifier(store, clock, channels, give_up_after="1h")
        broken.down = True
        halt(store, clock, "one")
        halt(store, clock, "two")
        assert await n.tick() == DeliveryReport(2, 1, 0)
        clock.advance(2 * 3600)
        halt(store, clock, "three")
        assert await n.tick() == DeliveryReport(1, 1, 2)
    assert [d.message.splitlines()[0] for d in ok.delivered] == [
        f"engine HALTED: {w}" for w in ("one", "two", "three")
    ]


async def test_the_rate_limit_counts_what_was_sent_and_fails_nothing(store: Store) -> None:
    clock = StepClock()
    with FakeWebhook() as hook:
        n = notifier(store, clock, parse_urls(hook.json_url()), rate_limit=2, rate_window="10m")
        for word in ("one", "two", "three"):
            halt(store, clock, word)
        assert await n.tick() == DeliveryReport(2, 0, 0)
        assert await n.tick() == DeliveryReport(0, 0, 0)
        clock.advance(600)  # the first two were sent at T0, the window's first instant: still counted
        assert await n.tick() == DeliveryReport(0, 0, 0)
        clock.advance(1)
        assert await n.tick() == DeliveryReport(1, 0, 0)
        assert len(hook.delivered) == 3


async def test_a_notice_is_given_up_only_after_give_up_after_and_says_why(store: Store) -> None:
    clock = StepClock()
    with FakeWebhook() as hook:
        n = notifier(store, clock, parse_urls(hook.json_url()), give_up_after="1h")
        halt(store, clock, "on time")
        n.derive()
        clock.advance(3600)  # exactly give_up_after old: still sent
        assert await n.tick() == DeliveryReport(1, 0, 0)
        halt(store, clock, "too late")
        n.derive()
        clock.advance(3601)
        assert await n.tick() == DeliveryReport(0, 0, 1)
        late = store.notifications.recent(1)[0]
        assert (late.state, late.last_error, late.attempts) == (
            NotificationState.FAILED,
            "undelivered for too long",
            0,
        )
        assert [d.message.splitlines()[0] for d in hook.delivered] == ["engine HALTED: on time"]


async def test_a_disabled_notifier_sends_nothing_already_queued(store: Store) -> None:
    clock = StepClock()
    with FakeWebhook() as hook:
        channels = parse_urls(hook.json_url())
        notifier(store, clock, channels).derive()
        halt(store, clock)
        assert notifier(store, clock, channels).derive() == 1
        off = notifier(store, clock, channels, enabled=False)
        assert await off.tick() == DeliveryReport()
        assert hook.delivered == []
        (row,) = store.notifications.recent()
        assert row.state is NotificationState.PENDING


async def test_a_channel_that_breaks_does_not_cut_short_another_channels_send(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE, ELSEWHERE])
    halt(store, clock)
    n.derive()

    async def send(channel: Channel, *args: Any) -> None:
        if channel is NOWHERE:
            raise RuntimeError("a plugin bug")
        for _ in range(20):
            await asyncio.sleep(0)  # the other channel is still sending when the first one breaks

    monkeypatch.setattr(sender, "send", send)
    with pytest.raises(RuntimeError, match="a plugin bug"):
        await n.deliver()
    states = {r.channel: r.state for r in store.notifications.recent()}
    assert states == {NOWHERE.label: NotificationState.PENDING, ELSEWHERE.label: NotificationState.SENT}
    health = store.health.get("notify")
    assert health is not None
    assert health.status is HealthStatus.OK


async def test_a_flush_that_runs_out_of_grace_still_records_the_send_in_flight(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    clock = StepClock()
    with FakeWebhook() as hook:
        n = notifier(store, clock, parse_urls(hook.json_url()), timeout="1s")
        hook.hang = True
        halt(store, clock)
        n.derive()  # queued before the flush, so its grace is spent on the send alone
        with caplog.at_level(logging.WARNING, logger="smt_engine.notify.notifier"):
            # a grace shorter than the send's own limit: the flush gives up while the send hangs
            await asyncio.wait_for(n.flush(timedelta(seconds=0.2)), HANG_GUARD)
        hook.release()
    assert notifier_lines(caplog)[-1] == (
        "notifications not all sent before stopping (); they go out at the next start"
    )
    (row,) = store.notifications.recent()
    assert (row.state, row.attempts, row.last_error) == (
        NotificationState.PENDING,
        1,
        "no answer within 1s (may still arrive)",
    )


async def test_the_notice_id_is_the_databases_instance_and_the_dedup_key_hashed(
    store: Store, tmp_path: Path
) -> None:
    clock = StepClock()
    other = Store.open(tmp_path / "other.db")
    try:
        with FakeWebhook() as hook:
            for db in (store, other):
                n = notifier(db, clock, parse_urls(hook.json_url()))
                halt(db, clock)
                assert (await n.tick()).sent == 1
            ids = [d.body["notice_id"] for d in hook.delivered]
        expected = [
            hashlib.sha256(f"{db.instance_id()}\nevent:{db.events.last_id()}".encode()).hexdigest()[:24]
            for db in (store, other)
        ]
        assert ids == expected
        assert ids[0] != ids[1]  # the same event number in another database is another notice
    finally:
        other.close()


def test_each_stream_down_longer_than_the_delay_is_queued_once_per_channel(store: Store) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE, ELSEWHERE], stream_down_after="5m")
    for component in ("exchange.stream.private", "exchange.stream.public"):
        store.health.report(component, HealthStatus.DOWN, clock.now(), "reset")
    clock.advance(299)
    assert n.check_streams() == 0
    clock.advance(1)
    off = notifier(store, clock, [NOWHERE, ELSEWHERE], enabled=False)
    assert off.check_streams() == 0
    assert store.notifications.count() == 0
    assert n.check_streams() == 4
    clock.advance(60)
    assert n.check_streams() == 0  # the same outage: its topic is its start
    row = sorted(store.notifications.recent(), key=lambda r: r.id or 0)[0]
    topic = "stream:exchange.stream.private:2026-11-30T12:00:00+00:00"
    assert (row.channel, row.topic, row.dedup_key, row.event_id) == (NOWHERE.label, topic, topic, None)
    assert (row.kind, row.level, row.created_at) == (
        "stream_down",
        EventLevel.ERROR,
        T0 + timedelta(minutes=5),
    )
    assert row.title == "SMT: exchange.stream.private down for 5 min"


async def test_a_delivered_notice_is_marked_sent_and_never_sent_again(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = StepClock()
    n = notifier(store, clock, [NOWHERE])
    sent: list[str] = []

    async def send(channel: Channel, title: str, body: str, *args: Any) -> None:
        if body in sent:
            raise RuntimeError(f"sent twice: {body}")  # fails at once instead of looping
        sent.append(body)

    monkeypatch.setattr(sender, "send", send)
    halt(store, clock, "one")
    halt(store, clock, "two")
    assert await n.tick() == DeliveryReport(2, 0, 0)
    assert [b.splitlines()[0] for b in sent] == ["engine HALTED: one", "engine HALTED: two"]
    assert [r.state for r in store.notifications.recent()] == [NotificationState.SENT] * 2
    assert await n.tick() == DeliveryReport(0, 0, 0)


async def test_a_notice_given_up_is_written_failed_once_and_left_alone(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = StepClock()
    notifier(store, clock, [NOWHERE]).derive()
    halt(store, clock, "one")
    halt(store, clock, "two")
    assert notifier(store, clock, [NOWHERE]).derive() == 2
    real = store.notifications.update
    updated: list[int] = []

    def update(row_id: int, **fields: Any) -> None:
        if row_id in updated:
            raise RuntimeError(f"row #{row_id} written twice")  # fails at once instead of looping
        updated.append(row_id)
        real(row_id, **fields)

    monkeypatch.setattr(store.notifications, "update", update)
    moved = notifier(store, clock, [ELSEWHERE])  # the first channel was removed from the settings
    assert await moved.deliver() == DeliveryReport(0, 0, 2)
    assert [(r.state, r.last_error) for r in store.notifications.recent()] == [
        (NotificationState.FAILED, "channel no longer configured")
    ] * 2
    assert len(updated) == 2


# --------------------------------------------------------------------------- the back-off, the task


def test_the_back_off_stays_at_five_minutes_however_many_attempts_failed() -> None:
    """A channel down all day fails hundreds of times (the default gives up after a day): no overflow."""
    assert [backoff(n).total_seconds() for n in (0, 1, 2, 5, 6, 44, 300, 10_000)] == [
        10,
        10,
        20,
        160,
        300,
        300,
        300,
        300,
    ]


async def test_a_notice_failing_for_hours_is_retried_every_five_minutes_and_the_tick_does_not_fail(
    store: Store,
) -> None:
    clock = StepClock()
    with FakeWebhook() as hook:
        (channel,) = parse_urls(hook.json_url())
        n = notifier(store, clock, [channel])
        hook.down = True
        halt(store, clock)
        n.derive()
        (row,) = store.notifications.recent()
        assert row.id is not None
        store.notifications.update(row.id, attempts=60)
        assert await asyncio.wait_for(n.tick(), HANG_GUARD) == DeliveryReport(0, 1, 0)
        (row,) = store.notifications.recent()
        assert (row.state, row.attempts, row.next_attempt_at) == (
            NotificationState.PENDING,
            61,
            clock.now() + timedelta(minutes=5),
        )


def test_the_notifier_is_active_only_when_enabled_and_given_a_channel(store: Store) -> None:
    clock = StepClock()
    assert notifier(store, clock, [NOWHERE]).active
    assert not notifier(store, clock, [NOWHERE], enabled=False).active
    assert not notifier(store, clock, []).active


def test_a_notifier_keeps_its_settings_channels_by_label_and_why_it_is_off(store: Store) -> None:
    clock = StepClock()
    halt(store, clock)
    cfg = settings()
    n = Notifier(cfg, store, clock, [NOWHERE, ELSEWHERE], problem="bad url", off_reason="demo")
    assert (n.settings, n.store, n.clock, n.problem, n.off_reason) == (cfg, store, clock, "bad url", "demo")
    assert n.channels == {NOWHERE.label: NOWHERE, ELSEWHERE.label: ELSEWHERE}
    assert (n._failing, n._instance) == ({}, None)
    assert n.rules.settings is cfg
    assert store.cursors.get_position(CURSOR) == store.events.last_id()
    default = Notifier(cfg, store, clock, [])
    assert (default.problem, default.off_reason) == (None, "no notify_urls secret set")


class Ticks(StepClock):
    """A clock whose sleeps are recorded; the ``stop_after``-th cancels the task."""

    def __init__(self, stop_after: int) -> None:
        super().__init__()
        self.slept: list[float] = []
        self.stop_after = stop_after

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if len(self.slept) >= self.stop_after:
            raise asyncio.CancelledError
        await super().sleep(seconds)


async def test_the_task_reports_its_state_ticks_every_poll_interval_and_survives_a_failed_tick(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Ticks(stop_after=3)
    n = notifier(store, clock, [NOWHERE], poll_interval="7s")
    ticks: list[datetime] = []

    async def tick() -> DeliveryReport:
        ticks.append(clock.now())
        if len(ticks) == 1:
            raise RuntimeError("boom")
        return DeliveryReport()

    monkeypatch.setattr(n, "tick", tick)
    health: list[tuple[str, HealthStatus, str]] = []
    real = store.health.report

    def report(component: str, status: HealthStatus, *args: Any, **kw: Any) -> Any:
        health.append((component, status, args[1] if len(args) > 1 else kw.get("detail", "")))
        return real(component, status, *args, **kw)

    monkeypatch.setattr(store.health, "report", report)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(n.run(), HANG_GUARD)
    assert clock.slept == [7.0, 7.0, 7.0]
    assert ticks == [T0, T0 + timedelta(seconds=7), T0 + timedelta(seconds=14)]
    assert health == [
        ("notify", HealthStatus.OK, "1 channel(s)"),
        ("notify", HealthStatus.DOWN, "notifier error: boom"),
    ]
    failed = [r for r in caplog.records if r.getMessage() == "notifier tick failed"]
    assert len(failed) == 1
    assert failed[0].exc_info is not None
    assert isinstance(failed[0].exc_info[1], RuntimeError)


async def test_a_cancelled_tick_ends_the_task(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Ticks(stop_after=99)
    n = notifier(store, clock, [NOWHERE])

    async def tick() -> DeliveryReport:
        raise asyncio.CancelledError

    monkeypatch.setattr(n, "tick", tick)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(n.run(), HANG_GUARD)
    assert clock.slept == []

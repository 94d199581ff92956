"""Notification rules and the notifier's outbox, asserted to the character: what the operator reads.

The rules are driven directly (one event in, one draft out); the outbox and delivery through the
notifier against a local webhook on 127.0.0.1 (apprise's ``json://``), with a stepped clock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EventLevel,
    HealthStatus,
    NotificationKind,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.notify import sender
from smt_engine.notify.channels import Channel, parse_urls
from smt_engine.notify.notifier import CURSOR, DeliveryReport, Notifier, backoff
from smt_engine.notify.rules import Draft, Rules
from smt_engine.store import Store
from smt_engine.store.notifications import Notification, NotificationState
from smt_engine.store.records import ComponentHealth, Event, Position
from tests.fakes.webhook_server import FakeWebhook
from tests.unit.test_notify import T0, StepClock, halt, proposal, settings

HANG_GUARD = 30.0  # real seconds; a guard against a hang, never a speed requirement
NOWHERE = Channel("json:aaaaaaaa", "json://127.0.0.1:9/nowhere")  # deriving never sends
ELSEWHERE = Channel("json:bbbbbbbb", "json://127.0.0.1:9/elsewhere")


def event(kind: str, message: str = "m", level: EventLevel = EventLevel.INFO, **fields: Any) -> Event:
    return Event(at=T0, level=level, kind=kind, message=message, id=fields.pop("id", 7), **fields)


def rules(store: Store, **engine: Any) -> Rules:
    return Rules(store, Settings.model_validate({"engine": {"approval": "manual", **engine}}))


def drafted(store: Store, e: Event, now: datetime = T0) -> Draft | None:
    return rules(store).draft(e, now)


def closed_position(store: Store, **fields: Any) -> Position:
    row = Position(
        symbol="ETHUSDT",
        side=Side.SHORT,
        size=Decimal("0.5"),
        entry_price=Decimal("3000"),
        opened_at=T0,
        state=PositionState.CLOSED,
        leverage=5,
        updated_at=T0,
        close_reason=CloseReason.STOP_LOSS,
        exit_price=Decimal("3045.5"),
        realized_pnl=Decimal("-22.754"),
    )
    for name, value in fields.items():
        setattr(row, name, value)
    return store.positions.insert(row)


# --------------------------------------------------------------------------- rules: which events notify


def test_every_notifying_event_kind_has_its_own_rule(store: Store) -> None:
    kinds = {
        "engine.halted": NotificationKind.HALTED,
        "engine.resumed": NotificationKind.RESUMED,
        "engine.starting": NotificationKind.STARTED,
        "engine.stopped": NotificationKind.STOPPED,
        "engine.crash_restart": NotificationKind.CRASH_RESTART,
        "engine.database_lost": NotificationKind.DATABASE_LOST,
    }
    for kind, expected in kinds.items():
        draft = drafted(store, event(kind))
        assert draft is not None, kind
        assert draft.kind is expected
        assert draft.level is expected.level
    assert drafted(store, event("engine.heartbeat")) is None
    assert drafted(store, event("ENGINE.HALTED")) is None


def test_the_engine_notices_read_to_the_character(store: Store) -> None:
    assert drafted(store, event("engine.halted", "engine HALTED: daily loss", id=11)) == Draft(
        NotificationKind.HALTED,
        "halt:11",
        "SMT: engine HALTED, entries refused",
        "engine HALTED: daily loss\nCloses and protection continue. Resume with: smt resume",
        EventLevel.CRITICAL,
    )
    assert drafted(store, event("engine.resumed", "resumed by cli:ops", id=12)) == Draft(
        NotificationKind.RESUMED, "resume:12", "SMT: engine resumed", "resumed by cli:ops", EventLevel.INFO
    )
    assert drafted(store, event("engine.starting", "starting (pid 8)")) == Draft(
        NotificationKind.STARTED, "engine", "SMT: engine starting", "starting (pid 8)", EventLevel.INFO
    )
    assert drafted(store, event("engine.stopped", "stopped")) == Draft(
        NotificationKind.STOPPED, "engine", "SMT: engine stopped", "stopped", EventLevel.WARNING
    )
    assert drafted(store, event("engine.crash_restart", "pid 7 did not stop")) == Draft(
        NotificationKind.CRASH_RESTART,
        "engine",
        "SMT: engine restarted after an unclean stop",
        "pid 7 did not stop",
        EventLevel.ERROR,
    )


# --------------------------------------------------------------------------- rules: trading notices


def test_a_waiting_proposal_reads_to_the_character(store: Store) -> None:
    clock = StepClock()
    p = proposal(store, clock)
    e = event("proposal.proposed", proposal_id=p.id)
    assert drafted(store, e, T0 + timedelta(minutes=2)) == Draft(
        NotificationKind.PROPOSAL_WAITING,
        f"proposal:{p.id}",
        f"SMT: proposal #{p.id} ETH LONG waiting for approval",
        "ETH LONG, confidence 0.80\n"
        "size 0.333 (1000.00 USDT at 10x, margin 100.00 USDT)\n"
        "entry ~3000, TP 3090, SL 2955\n"
        "13 min left (expires 12:15 UTC)\n"
        f"smt approve {p.id}    (or: smt reject {p.id})",
        EventLevel.WARNING,
    )


def test_a_waiting_proposal_with_no_expiry_says_so(store: Store) -> None:
    p = proposal(store, StepClock())
    assert p.id is not None
    store.proposals.update(p.id, expires_at=None)
    draft = drafted(store, event("proposal.proposed", proposal_id=p.id))
    assert draft is not None
    assert draft.body.splitlines()[3] == "no expiry"


def test_no_waiting_notice_without_a_proposal_or_outside_manual_mode(store: Store) -> None:
    p = proposal(store, StepClock())
    assert drafted(store, event("proposal.proposed")) is None  # no proposal named
    assert drafted(store, event("proposal.proposed", proposal_id=999)) is None  # no such proposal
    auto = rules(store, approval="auto")
    assert auto.draft(event("proposal.proposed", proposal_id=p.id), T0) is None
    assert p.id is not None
    for state in (ProposalState.EXPIRED, ProposalState.REJECTED):
        store.proposals.update(p.id, state=state)
        assert drafted(store, event("proposal.proposed", proposal_id=p.id)) is None


def test_an_entry_filled_reads_the_position_it_opened(store: Store) -> None:
    clock = StepClock()
    p = proposal(store, clock)
    e = event("proposal.open", proposal_id=p.id)
    # Before the position is booked: the proposal's own figures.
    assert drafted(store, e) == Draft(
        NotificationKind.ENTRY_FILLED,
        f"proposal:{p.id}",
        f"SMT: entry filled, ETH LONG (proposal #{p.id})",
        "ETHUSDT LONG 0.333 at 3000 (10x)\nTP 3090, SL 2955",
        EventLevel.INFO,
    )
    store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.LONG,
            size=Decimal("0.331"),
            entry_price=Decimal("3001.5"),
            opened_at=T0,
            state=PositionState.OPEN,
            leverage=10,
            updated_at=T0,
            proposal_id=p.id,
        )
    )
    draft = drafted(store, e)
    assert draft is not None
    assert draft.body == "ETHUSDT LONG 0.331 at 3001.5 (10x)\nTP 3090, SL 2955"
    assert drafted(store, event("proposal.open")) is None
    assert drafted(store, event("proposal.open", proposal_id=999)) is None


def test_a_closed_position_reads_to_the_character(store: Store) -> None:
    pos = closed_position(store)
    assert drafted(store, event("position.closed", position_id=pos.id)) == Draft(
        NotificationKind.POSITION_CLOSED,
        f"position:{pos.id}",
        "SMT: ETHUSDT SHORT closed (stop-loss), PnL -22.75 USDT",
        "ETHUSDT SHORT: stop-loss\nentry 3000, exit 3045.5\nrealised PnL -22.75 USDT",
        EventLevel.INFO,
    )


def test_a_closed_position_with_unknown_figures_says_so(store: Store) -> None:
    pos = closed_position(store, close_reason=None, exit_price=None, realized_pnl=None)
    draft = drafted(store, event("position.closed", position_id=pos.id))
    assert draft is not None
    assert draft.title == "SMT: ETHUSDT SHORT closed (closed), PnL unknown"
    assert draft.body == "ETHUSDT SHORT: closed\nentry 3000, exit ?\nrealised PnL unknown"
    even = closed_position(store, realized_pnl=Decimal("0"))
    draft = drafted(store, event("position.closed", position_id=even.id))
    assert draft is not None
    assert draft.title.endswith("PnL 0.00 USDT")  # no sign on a flat result
    small = closed_position(store, realized_pnl=Decimal("0.5"))
    draft = drafted(store, event("position.closed", position_id=small.id))
    assert draft is not None
    assert draft.title.endswith("PnL +0.50 USDT")
    assert drafted(store, event("position.closed")) is None
    assert drafted(store, event("position.closed", position_id=999)) is None


def test_a_position_closed_because_it_was_unprotected_is_a_critical_notice(store: Store) -> None:
    pos = closed_position(store, close_reason=CloseReason.UNPROTECTED)
    e = event("position.closed", level=EventLevel.CRITICAL, position_id=pos.id)
    draft = drafted(store, e)
    assert draft is not None
    assert draft.level is EventLevel.CRITICAL
    assert (draft.kind, draft.topic) == (NotificationKind.POSITION_CLOSED, f"position:{pos.id}")
    assert draft.title == "SMT: ETHUSDT SHORT closed (unprotected), PnL -22.75 USDT"
    assert draft.body == "ETHUSDT SHORT: unprotected\nentry 3000, exit 3045.5\nrealised PnL -22.75 USDT"
    error = drafted(store, event("position.closed", level=EventLevel.ERROR, position_id=pos.id))
    assert error is not None
    assert error.level is EventLevel.INFO


# --------------------------------------------------------------------------- rules: health and streams


def test_model_and_budget_notices_read_to_the_character(store: Store) -> None:
    def degraded(component: str, to: str = "down") -> Draft | None:
        e = event("health.degraded", f"{component} {to}", data={"component": component, "to": to})
        return drafted(store, e)

    assert degraded("analyst.model") == Draft(
        NotificationKind.MODEL_UNAVAILABLE,
        "health:analyst.model",
        "SMT: analyst model unavailable",
        "analyst.model down",
        EventLevel.ERROR,
    )
    assert degraded("analyst.model", "warn") == Draft(
        NotificationKind.MODEL_UNAVAILABLE,
        "health:analyst.model",
        "SMT: analyst model degraded",
        "analyst.model warn",
        EventLevel.ERROR,
    )
    assert degraded("analyst.budget", "warn") == Draft(
        NotificationKind.BUDGET_REACHED,
        "health:analyst.budget",
        "SMT: analyst budget reached",
        "analyst.budget warn",
        EventLevel.WARNING,
    )
    assert degraded("exchange.stream.public") is None  # judged by its delay in stream_down
    assert drafted(store, event("health.degraded")) is None  # no component named


def stream(component: str, status: HealthStatus, since: datetime, detail: str = "reset") -> ComponentHealth:
    return ComponentHealth(component=component, status=status, detail=detail, since=since, updated_at=since)


def test_a_stream_down_notice_reads_to_the_character(store: Store) -> None:
    r = rules(store)
    after = timedelta(minutes=5)
    row = stream("exchange.stream.public", HealthStatus.WARN, T0)
    assert r.stream_down(row, T0 + after - timedelta(seconds=1), after) is None
    assert r.stream_down(row, T0 + after, after) == Draft(
        NotificationKind.STREAM_DOWN,
        "stream:exchange.stream.public:2026-11-30T12:00:00+00:00",
        "SMT: exchange.stream.public warn for 5 min",
        "exchange.stream.public warn since 12:00 UTC: reset\n"
        "REST reconciliation continues as the safety net.",
        EventLevel.ERROR,
    )
    quiet = stream("exchange.stream.private", HealthStatus.DOWN, T0, detail="")
    draft = r.stream_down(quiet, T0 + timedelta(minutes=61, seconds=59), after)
    assert draft is not None
    assert draft.title == "SMT: exchange.stream.private down for 61 min"
    assert draft.body.startswith("exchange.stream.private down since 12:00 UTC: no detail\n")
    later = timedelta(hours=2)
    assert r.stream_down(stream("exchange.stream.private", HealthStatus.OK, T0), T0 + later, after) is None
    assert r.stream_down(stream("analyst.model", HealthStatus.DOWN, T0), T0 + later, after) is None


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
        with caplog.at_level(logging.WARNING, logger="smt_engine.notify.notifier"):
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

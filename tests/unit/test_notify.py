"""The notifier against a local webhook through apprise's json:// URL: rules, outbox, order, retries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from smt_engine.config import Settings
from smt_engine.domain import (
    CloseReason,
    EngineState,
    EventLevel,
    HealthStatus,
    Mode,
    NotificationKind,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.engine import Engine
from smt_engine.health import report_health
from smt_engine.logsetup import EventsHandler
from smt_engine.notify import sender
from smt_engine.notify.channels import Channel, ChannelError, parse_urls
from smt_engine.notify.notifier import CURSOR, Notifier, backoff
from smt_engine.secrets import redact
from smt_engine.store import Store
from smt_engine.store.notifications import NotificationState
from smt_engine.store.records import EngineStatus, Position, Proposal
from tests.fakes.webhook_server import FakeWebhook

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
TOKEN = "hk7Qz2Lm9XwT4pRs"  # the secret part of the webhook URL


class StepClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


# Only the start-up row is exercised: the engine needs no monitor for it, only something with an exchange.
NO_MONITOR = SimpleNamespace(exchange=SimpleNamespace(last_price=None))  # an engine that reads no price


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


def settings(**notify: Any) -> Settings:
    return Settings.model_validate({"engine": {"approval": "manual"}, "notify": notify})


def make(store: Store, clock: StepClock, hook: FakeWebhook, **notify: Any) -> Notifier:
    return Notifier(settings(**notify), store, clock, parse_urls(hook.json_url(f"/hook/{TOKEN}")))


def halt(store: Store, clock: StepClock, reason: str = "daily loss -10.4% (limit -10%)") -> None:
    store.events.append(clock.now(), EventLevel.CRITICAL, "engine.halted", f"engine HALTED: {reason}")


def proposal(store: Store, clock: StepClock) -> Proposal:
    row = Proposal(
        pair="ETH",
        symbol="ETHUSDT",
        side=Side.LONG,
        confidence=0.8,
        margin=Decimal("100"),
        notional=Decimal("1000"),
        leverage=10,
        size=Decimal("0.333"),
        entry_ref=Decimal("3000"),
        tp_price=Decimal("3090"),
        sl_price=Decimal("2955"),
        tp_pct=Decimal("3"),
        sl_pct=Decimal("1.5"),
        state=ProposalState.PROPOSED,
        created_at=clock.now(),
        expires_at=clock.now() + timedelta(minutes=15),
    )
    saved = store.proposals.insert(row)
    store.events.append(
        clock.now(), EventLevel.INFO, "proposal.proposed", "proposal #1", proposal_id=saved.id
    )
    return saved


# --------------------------------------------------------------------------- channels


def test_urls_become_labelled_channels_and_their_tokens_are_masked() -> None:
    channels = parse_urls(f"json://127.0.0.1:9/hook/{TOKEN}, tgram://123456789:AAHfiqksKZ8WmR2zSjiQ7_v4/42")
    assert [c.label.split(":")[0] for c in channels] == ["json", "tgram"]
    assert all(TOKEN not in c.label and len(c.label.split(":")[1]) == 8 for c in channels)
    assert TOKEN not in repr(channels)
    # Libraries echo a token on its own, not the whole URL: each part is masked too.
    text = redact(f"POST /hook/{TOKEN} failed; bot123456789:AAHfiqksKZ8WmR2zSjiQ7_v4 unauthorized")
    assert TOKEN not in text
    assert "AAHfiqksKZ8WmR2zSjiQ7_v4" not in text
    assert "127.0.0.1" in redact("connecting to 127.0.0.1:9")  # a host is not a secret
    parse_urls("json://example.org/smt/notifications")
    assert redact("3 notifications sent") == "3 notifications sent"  # nor a plain word in the path


def test_an_unsupported_url_is_named_by_position_never_by_its_text() -> None:
    with pytest.raises(ChannelError) as err:
        parse_urls(f"json://127.0.0.1:9/a, nosuchservice://{TOKEN}")
    assert "#2 of 2" in str(err.value)
    assert TOKEN not in str(err.value)


# --------------------------------------------------------------------------- deriving


async def test_history_before_the_first_start_is_not_news(
    store: Store, hook: FakeWebhook, tmp_path: Path
) -> None:
    clock = StepClock()
    halt(store, clock, "old halt")
    notifier = make(store, clock, hook)
    halt(store, clock, "new halt")
    clock.advance(3600)  # outside the de-dup window of the first
    assert (await notifier.tick()).sent == 1
    assert [d.message.splitlines()[0] for d in hook.delivered] == ["engine HALTED: new halt"]


async def test_the_cursor_survives_a_restart_and_nothing_is_derived_twice(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    first = make(store, clock, hook)
    halt(store, clock)
    assert first.derive() == 1
    second = make(store, clock, hook)  # a restarted engine
    assert second.derive() == 0
    # Even a lost cursor cannot queue an event twice: (dedup_key, channel) is unique.
    store.cursors.set_position(CURSOR, 0, clock.now())
    assert second.derive() == 0
    assert store.notifications.count() == 1


async def test_per_event_enable_and_minimum_level(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, events=["halted", "stopped"], min_level="warning")
    store.events.append(clock.now(), EventLevel.INFO, "engine.starting", "engine starting")  # not enabled
    store.events.append(clock.now(), EventLevel.INFO, "engine.stopped", "engine stopped")  # warning: sent
    halt(store, clock)
    await notifier.tick()
    assert [d.title for d in hook.delivered] == ["SMT: engine stopped", "SMT: engine HALTED, entries refused"]
    quiet = make(store, clock, hook, min_level="critical")
    store.events.append(clock.now(), EventLevel.INFO, "engine.stopped", "engine stopped again")
    assert quiet.derive() == 0


async def test_the_same_notice_is_sent_once_within_the_dedup_window(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, dedup_window="10m")

    def model_down() -> None:
        report_health(store, clock, "analyst.model", HealthStatus.DOWN, "404")
        clock.advance(60)
        report_health(store, clock, "analyst.model", HealthStatus.OK, "back")

    model_down()
    model_down()
    await notifier.tick()
    clock.advance(11 * 60)
    model_down()
    await notifier.tick()
    assert len(hook.delivered) == 2


def resume(store: Store, clock: StepClock) -> None:
    store.events.append(clock.now(), EventLevel.INFO, "engine.resumed", "engine resumed by cli:ops")


async def test_halt_resume_halt_inside_the_window_is_three_notices_in_order(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, dedup_window="10m")
    halt(store, clock, "first")
    clock.advance(60)
    resume(store, clock)
    clock.advance(60)
    halt(store, clock, "second")
    clock.advance(60)
    resume(store, clock)
    await notifier.tick()
    assert [d.message.splitlines()[0] for d in hook.delivered] == [
        "engine HALTED: first",
        "engine resumed by cli:ops",
        "engine HALTED: second",
        "engine resumed by cli:ops",
    ]


async def test_disabled_notifications_still_move_the_cursor(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    off = make(store, clock, hook, enabled=False)
    halt(store, clock)
    await off.tick()
    assert store.notifications.count() == 0
    assert hook.delivered == []
    assert store.cursors.get_position(CURSOR) == store.events.last_id()
    assert (h := store.health.get("notify")) is not None
    assert h.status is HealthStatus.OFF


# --------------------------------------------------------------------------- texts


async def test_a_waiting_proposal_says_what_how_much_how_long_and_how_to_approve(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook)
    p = proposal(store, clock)
    clock.advance(120)
    await notifier.tick()
    (msg,) = hook.delivered
    assert msg.title == f"SMT: proposal #{p.id} ETH LONG waiting for approval"
    for part in ("ETH LONG", "confidence 0.80", "size 0.333", "1000.00 USDT at 10x", "13 min left"):
        assert part in msg.message
    assert f"smt approve {p.id}" in msg.message
    assert msg.body["type"] == "warning"


async def test_no_waiting_notice_in_auto_mode_or_once_decided(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    auto = Notifier(
        Settings.model_validate({"engine": {"approval": "auto"}}),
        store,
        clock,
        parse_urls(hook.json_url()),
    )
    proposal(store, clock)
    assert auto.derive() == 0
    manual = make(store, clock, hook)
    p = proposal(store, clock)
    assert p.id is not None
    store.proposals.update(p.id, state=ProposalState.APPROVED)
    assert manual.derive() == 0


async def test_entry_filled_and_position_closed_carry_price_reason_and_pnl(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook)
    p = proposal(store, clock)
    await notifier.tick()
    store.proposals.update(p.id, state=ProposalState.OPEN)
    pos = store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=Side.LONG,
            size=Decimal("0.333"),
            entry_price=Decimal("3001.5"),
            opened_at=clock.now(),
            state=PositionState.OPEN,
            leverage=10,
            updated_at=clock.now(),
            proposal_id=p.id,
        )
    )
    store.events.append(clock.now(), EventLevel.INFO, "proposal.open", "open", proposal_id=p.id)
    await notifier.tick()
    store.positions.update(
        pos.id,
        state=PositionState.CLOSED,
        close_reason=CloseReason.TAKE_PROFIT,
        exit_price=Decimal("3090"),
        realized_pnl=Decimal("29.4705"),
    )
    store.events.append(clock.now(), EventLevel.INFO, "position.closed", "closed", position_id=pos.id)
    await notifier.tick()
    _waiting, filled, closed = hook.delivered
    assert filled.title.startswith("SMT: entry filled, ETH LONG")
    assert "0.333 at 3001.5 (10x)" in filled.message
    assert "take-profit" in closed.title
    assert "+29.47 USDT" in closed.title
    assert "exit 3090" in closed.message
    assert "realised PnL +29.47 USDT" in closed.message


async def test_model_and_budget_health_notify_at_once(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook)
    report_health(store, clock, "analyst.model", HealthStatus.DOWN, "gemini-2.5-flash retired (404)")
    report_health(store, clock, "analyst.budget", HealthStatus.WARN, "daily budget of 200 calls reached")
    report_health(store, clock, "whales.etherscan", HealthStatus.DOWN, "401")  # on screen only
    await notifier.tick()
    assert [d.title for d in hook.delivered] == [
        "SMT: analyst model unavailable",
        "SMT: analyst budget reached",
    ]
    assert "retired (404)" in hook.delivered[0].message
    report_health(store, clock, "analyst.model", HealthStatus.OK, "back")
    clock.advance(3600)
    report_health(store, clock, "analyst.model", HealthStatus.WARN, "on fallback gemini-2.0-flash")
    await notifier.tick()
    assert hook.delivered[-1].title == "SMT: analyst model degraded"


async def test_a_stream_is_reported_once_per_outage_after_the_delay(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, stream_down_after="5m")
    report_health(store, clock, "exchange.stream.private", HealthStatus.DOWN, "connection reset")
    clock.advance(4 * 60)
    await notifier.tick()
    assert hook.delivered == []
    clock.advance(61)
    await notifier.tick()
    clock.advance(60)
    await notifier.tick()
    assert [d.title for d in hook.delivered] == ["SMT: exchange.stream.private down for 5 min"]
    report_health(store, clock, "exchange.stream.private", HealthStatus.OK, "reconnected")
    clock.advance(20 * 60)
    await notifier.tick()
    report_health(store, clock, "exchange.stream.private", HealthStatus.DOWN, "again")
    clock.advance(2 * 60)
    await notifier.tick()
    assert len(hook.delivered) == 1  # a short second outage is not news
    clock.advance(4 * 60)
    await notifier.tick()
    assert len(hook.delivered) == 2


# --------------------------------------------------------------------------- delivery


async def test_a_down_webhook_gets_everything_in_order_once_it_is_back(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook)
    hook.down = True
    for n in range(3):
        halt(store, clock, f"reason {n}")
        clock.advance(11 * 60)
    report = await notifier.tick()
    assert report.failed_attempts == 1, "one try per channel and tick, not one per row"
    assert hook.refused == 1, "one try per channel and tick, not one per row"
    first = store.notifications.next_pending(_label(store))
    assert first is not None
    assert first.attempts == 1
    assert first.next_attempt_at == clock.now() + backoff(1)
    assert first.last_error is not None
    assert "503" in first.last_error
    assert (h := store.health.get("notify")) is not None
    assert h.status is HealthStatus.DOWN
    await notifier.tick()
    assert hook.refused == 1, "backing off: no second try before next_attempt_at"
    hook.down = False
    clock.advance(backoff(1).total_seconds())
    await notifier.tick()
    assert [d.message.splitlines()[0] for d in hook.delivered] == [
        f"engine HALTED: reason {n}" for n in range(3)
    ]
    assert store.notifications.count() == 3
    assert all(r.state is NotificationState.SENT for r in store.notifications.recent())
    assert (h := store.health.get("notify")) is not None
    assert h.status is HealthStatus.OK
    await notifier.tick()
    assert len(hook.delivered) == 3


def _label(store: Store) -> str:
    return store.notifications.recent(1)[0].channel


async def test_the_rate_limit_delays_and_never_drops(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, rate_limit=2, rate_window="10m")
    for n, component in enumerate(("analyst.model", "analyst.budget", "analyst.model")):
        clock.advance(11 * 60)  # apart by more than the de-dup window
        store.events.append(
            clock.now(), EventLevel.ERROR, "health.degraded", f"m{n}", data={"component": component}
        )
    await notifier.tick()
    assert len(hook.delivered) == 2
    clock.advance(10 * 60 + 1)
    await notifier.tick()
    assert [d.message for d in hook.delivered] == ["m0", "m1", "m2"]


async def test_a_hanging_webhook_does_not_hold_up_other_work(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, timeout="1s")
    hook.hang = True
    halt(store, clock)
    ticks = 0

    async def other_work() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    worker = asyncio.create_task(other_work())
    report = await notifier.tick()
    worker.cancel()
    assert report.failed_attempts == 1
    assert ticks > 10
    row = store.notifications.recent(1)[0]
    assert row.last_error is not None
    assert "no answer within 1s" in row.last_error
    hook.release()


async def test_a_hanging_send_is_bounded_by_its_limit(hook: FakeWebhook) -> None:
    hook.hang = True
    channel = parse_urls(hook.json_url())[0]
    with pytest.raises(sender.DeliveryFailed, match="no answer within 1s"):
        await sender.send(channel, "t", "b", EventLevel.INFO, timedelta(seconds=1))
    hook.release()


async def test_a_removed_channel_leaves_its_rows_failed_not_pending(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    make(store, clock, hook).derive()
    halt(store, clock)
    make(store, clock, hook).derive()
    other = Notifier(settings(), store, clock, [Channel("json:00000000", hook.json_url("/other"))])
    await other.tick()
    (row,) = store.notifications.recent()
    assert row.state is NotificationState.FAILED
    assert row.last_error == "channel no longer configured"


async def test_the_url_token_never_reaches_the_database_or_the_logs(
    store: Store, hook: FakeWebhook, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = StepClock()
    notifier = make(store, clock, hook)
    hook.down = True
    halt(store, clock, f"an error that echoed {TOKEN}")
    await notifier.tick()
    hook.down = False
    clock.advance(60)
    await notifier.tick()
    assert hook.delivered
    assert TOKEN not in hook.delivered[0].message
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    assert files_holding(tmp_path, TOKEN) == []
    assert TOKEN not in caplog.text


def files_holding(directory: Path, secret: str) -> list[Path]:
    """The database file and its WAL, read as bytes: what a copied smt.db would reveal."""
    paths = sorted(directory.glob("smt.db*"))
    assert paths, "the database files exist"
    return [p for p in paths if secret.encode() in p.read_bytes()]


# --------------------------------------------------------------------------- engine start-up


def test_an_engine_that_never_stopped_cleanly_is_reported_as_crash_restart(store: Store) -> None:
    clock = StepClock()
    store.engine.put(
        EngineStatus(mode=Mode.PAPER, state=EngineState.RUNNING, pid=4242, started_at=T0, heartbeat_at=T0)
    )
    store.events.append(T0, EventLevel.INFO, "engine.starting", "engine starting")
    handler = EventsHandler(store, clock)
    logging.getLogger().addHandler(handler)
    try:
        Engine(Settings(), store, clock, monitor=NO_MONITOR, cycle=None)._start_row()  # type: ignore[arg-type]
        assert [e.data for e in store.events.of_kind("engine.crash_restart")] == [
            {"previous_state": "running", "previous_pid": 4242}
        ]
        store.engine.set(state=EngineState.STOPPED)  # what a clean stop records
        Engine(Settings(), store, clock, monitor=NO_MONITOR, cycle=None)._start_row()  # type: ignore[arg-type]
        assert len(store.events.of_kind("engine.crash_restart")) == 1, "a clean stop is not a crash"
    finally:
        logging.getLogger().removeHandler(handler)


async def test_one_failing_channel_of_two_is_a_warning_and_does_not_hold_up_the_other(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    with FakeWebhook() as broken:
        broken.down = True
        channels = parse_urls(f"{hook.json_url('/ok')} {broken.json_url('/broken')}")
        notifier = Notifier(settings(), store, clock, channels)
        halt(store, clock)
        await notifier.tick()
    assert len(hook.delivered) == 1
    health = store.health.get("notify")
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert channels[1].label in health.detail
    assert channels[0].label not in health.detail


async def test_a_channel_that_accepts_and_never_answers_does_not_hold_up_another(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    with FakeWebhook() as other:
        # rto: apprise's own read timeout (4 s by default) must not end the hang before the test does.
        channels = parse_urls(f"{hook.json_url('/a')}?rto=600 {other.json_url('/b')}?rto=600")
        # Hang the channel delivered first when channels take turns, so taking turns would fail here.
        first = min(channels, key=lambda c: c.label)
        hanging, answering = (hook, other) if first is channels[0] else (other, hook)
        hanging.hang = True
        notifier = Notifier(settings(timeout="10m"), store, clock, channels)
        halt(store, clock)
        delivering = asyncio.ensure_future(notifier.tick())
        # Waits on the delivery itself; the 30 s is only a hang guard.
        await asyncio.to_thread(answering.wait_for, 1, 30.0)
        assert not delivering.done()
        assert hanging.delivered == []
        hanging.release()
        report = await delivering
    assert report.sent == 2
    assert len(hook.delivered) == len(other.delivered) == 1


async def test_a_notice_undelivered_past_give_up_after_is_marked_failed(
    store: Store, hook: FakeWebhook
) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook, give_up_after="1h")
    hook.down = True
    halt(store, clock)
    await notifier.tick()
    clock.advance(3601)
    await notifier.tick()
    (row,) = store.notifications.recent()
    assert row.state is NotificationState.FAILED
    assert row.last_error is not None
    assert "503" in row.last_error
    hook.down = False
    clock.advance(600)
    await notifier.tick()
    assert hook.delivered == []


def test_the_operator_guide_lists_every_notification_at_its_level() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "operator-guide.md").read_text(encoding="utf-8")
    rows = {}
    for line in guide.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and "`" in cells[0][1:]:
            names = [n.strip(" `") for n in cells[0].split(",")]
            levels = [lv.strip() for lv in cells[1].split(",")]
            if all(n in NotificationKind.__members__.values() for n in names):
                rows.update(dict(zip(names, levels, strict=True)))
    assert rows == {kind.value: kind.level.value for kind in NotificationKind}


def test_retries_back_off_from_ten_seconds_to_every_five_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]


async def test_engine_lifecycle_events_each_have_a_notice(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook)
    for kind, message in (
        ("engine.crash_restart", "the previous engine (pid 7) did not stop cleanly"),
        ("engine.starting", "engine starting (pid 8)"),
        ("engine.resumed", "engine resumed by cli:ops (was halted)"),
        ("engine.stopped", "engine stopped"),
    ):
        store.events.append(clock.now(), EventLevel.INFO, kind, message)
        clock.advance(60)
    await notifier.tick()
    assert [(d.title, d.body["type"]) for d in hook.delivered] == [
        ("SMT: engine restarted after an unclean stop", "failure"),
        ("SMT: engine starting", "info"),
        ("SMT: engine resumed", "info"),
        ("SMT: engine stopped", "warning"),
    ]


def test_the_demo_never_notifies_even_with_urls_set(store: Store, hook: FakeWebhook) -> None:
    from smt_engine.runtime import make_notifier
    from smt_engine.secrets import SecretStore

    secrets = SecretStore(env={"NOTIFY_URLS": hook.json_url()}, use_keyring=False)
    demo = make_notifier(Settings.model_validate({"engine": {"mode": "demo"}}), store, StepClock(), secrets)
    paper = make_notifier(Settings(), store, StepClock(), secrets)
    assert not demo.active
    assert demo.off_reason == "demo mode sends no notifications"
    assert paper.active


async def test_a_bad_url_turns_notifications_down_loudly_without_stopping_the_engine(store: Store) -> None:
    from smt_engine.runtime import make_notifier
    from smt_engine.secrets import SecretStore

    secrets = SecretStore(env={"NOTIFY_URLS": "nosuch://abc"}, use_keyring=False)
    notifier = make_notifier(Settings(), store, StepClock(), secrets)
    assert (await notifier.tick()).sent == 0
    health = store.health.get("notify")
    assert health is not None
    assert health.status is HealthStatus.DOWN
    assert "#1 of 1" in health.detail


async def test_an_event_that_cannot_be_rendered_is_skipped_not_retried_forever(
    store: Store, hook: FakeWebhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = StepClock()
    notifier = make(store, clock, hook)
    real = notifier.rules.draft

    def draft(event: Any, now: datetime) -> Any:
        if "poison" in event.message:
            raise ValueError("cannot render")
        return real(event, now)

    monkeypatch.setattr(notifier.rules, "draft", draft)
    halt(store, clock, "poison")
    clock.advance(3600)
    halt(store, clock, "a real one")
    await notifier.tick()
    await notifier.tick()
    assert [d.message.splitlines()[0] for d in hook.delivered] == ["engine HALTED: a real one"]

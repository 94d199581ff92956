"""At-least-once delivery, said honestly: a notice re-sent after a slow answer carries the same stable id
(header and JSON field) so a receiver can drop the repeat; an abandoned send that fails late is read, not
left to asyncio's "Future exception was never retrieved" traceback at ERROR."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from smt_engine.domain import EventLevel
from smt_engine.notify import sender
from smt_engine.notify.channels import parse_urls
from smt_engine.notify.notifier import Notifier
from smt_engine.store import Store
from tests.fakes.webhook_server import FakeWebhook
from tests.unit.test_notify import StepClock, halt, settings

HANG_GUARD = 60.0  # real seconds; a guard against hangs, never a speed requirement


@pytest.fixture
def hook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("json://h:1/p", "json://h:1/p?+X-SMT-Notice-Id=n1&:notice_id=n1"),
        ("jsons://h/p?format=text", "jsons://h/p?format=text&+X-SMT-Notice-Id=n1&:notice_id=n1"),
        ("xml://h/p", "xml://h/p?+X-SMT-Notice-Id=n1"),
        ("form://h/p", "form://h/p?+X-SMT-Notice-Id=n1"),
        ("tgram://123:abc/456", "tgram://123:abc/456"),  # no header or field to carry it
    ],
)
def test_the_notice_id_goes_where_the_channel_has_room(url: str, expected: str) -> None:
    assert sender.with_notice_id(url, "n1") == expected


async def test_a_resent_notice_carries_the_same_id(hook: FakeWebhook) -> None:
    channel = parse_urls(hook.json_url())[0]
    hook.hang = True
    with pytest.raises(sender.DeliveryFailed, match="no answer within 1s"):
        await sender.send(channel, "t", "b", EventLevel.INFO, timedelta(seconds=1), "abc123")
    hook.release()  # the slow answer lands after all...
    await sender.send(channel, "t", "b", EventLevel.INFO, timedelta(seconds=30), "abc123")  # ...and the retry
    first, second = await asyncio.to_thread(hook.wait_for, 2, HANG_GUARD)
    for delivery in (first, second):
        assert delivery.headers.get("X-SMT-Notice-Id") == "abc123"
        assert delivery.body["notice_id"] == "abc123"
        assert delivery.body["message"] == "b"


async def test_an_abandoned_send_that_fails_late_logs_no_traceback(
    hook: FakeWebhook, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=sender.log.name)  # whatever level an engine run left
    channel = parse_urls(hook.json_url())[0]
    hook.hang = True
    with pytest.raises(sender.DeliveryFailed, match="no answer within 1s"):
        await sender.send(channel, "t", "b", EventLevel.INFO, timedelta(seconds=1), "late")
    hook.down = True
    hook.release()  # the held request now ends in a 503: the abandoned send fails in its thread
    async with asyncio.timeout(HANG_GUARD):
        while not any("abandoned send ended late" in r.getMessage() for r in caplog.records):  # noqa: ASYNC110 - log records, not an event
            await asyncio.sleep(0.01)
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "asyncio"]


async def test_the_notifier_gives_one_notice_one_id_on_every_channel(store: Store, hook: FakeWebhook) -> None:
    clock = StepClock()
    channels = parse_urls(f"{hook.json_url('/a')} {hook.json_url('/b')}")
    notifier = Notifier(settings(), store, clock, channels)
    halt(store, clock)
    halt(store, clock, "drawdown -26% (limit -25%)")
    await notifier.tick()
    deliveries = await asyncio.to_thread(hook.wait_for, 4, HANG_GUARD)
    ids = {(d.path, d.body["title"], d.body["message"]): d.headers["X-SMT-Notice-Id"] for d in deliveries}
    by_notice: dict[str, set[str]] = {}
    for (path, _, message), notice in ids.items():
        assert notice == next(
            d.body["notice_id"] for d in deliveries if d.path == path and d.body["message"] == message
        )
        by_notice.setdefault(message, set()).add(notice)
    assert len(by_notice) == 2
    assert all(len(v) == 1 for v in by_notice.values())
    first, second = (next(iter(v)) for v in by_notice.values())
    assert first != second
    assert len(first) == 24

"""Delivery of one message to one channel through apprise, off the event loop and under a hard time limit.

apprise is synchronous; a slow or hanging service must never hold up the engine's loop, so each send runs
in this module's own small thread pool and the caller stops waiting after ``limit``. A send abandoned
that way counts as failed and is retried, so a very slow service can receive a notice twice (never zero
times); apprise's own connect/read timeouts keep such threads short-lived.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from datetime import timedelta

from smt_engine.domain import EventLevel
from smt_engine.notify.channels import Channel
from smt_engine.secrets import redact

_ERROR_MAX = 300
# At DEBUG, apprise logs each URL and urllib3 each request path, both carrying the channel's token. The
# stderr handler masks registered secrets, but a record that is never made cannot leak through any handler.
for _name in ("apprise", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)

_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="smt-notify")


class DeliveryFailed(Exception):
    """The channel did not accept the message; the text is redacted and safe to store."""


class _Capture(logging.Handler):
    """apprise's warnings during one send: they say why it failed (e.g. "error code 503").

    apprise may log from its own worker threads, so this cannot filter by thread; the reason is the last
    line captured, and at worst a concurrent send to another channel (or an abandoned slow one) puts its
    line in this one's error text, never its token: every line is redacted.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _notify_type(level: EventLevel) -> str:
    import apprise

    if level in (EventLevel.ERROR, EventLevel.CRITICAL):
        return str(apprise.NotifyType.FAILURE.value)
    if level is EventLevel.WARNING:
        return str(apprise.NotifyType.WARNING.value)
    return str(apprise.NotifyType.INFO.value)


def send_blocking(channel: Channel, title: str, body: str, level: EventLevel) -> None:
    """Send once (no retry inside: the outbox owns retries); raise ``DeliveryFailed`` with the reason."""
    import apprise

    target = apprise.Apprise()
    if not target.add(channel.url):
        raise DeliveryFailed("apprise does not accept this URL")
    captured = _Capture()
    apprise_log = logging.getLogger("apprise")
    apprise_log.addHandler(captured)
    try:
        ok = bool(target.notify(body=body, title=title, notify_type=_notify_type(level)))
    finally:
        apprise_log.removeHandler(captured)
    if not ok:
        reason = captured.lines[-1] if captured.lines else "the service did not accept the notification"
        raise DeliveryFailed(redact(reason)[:_ERROR_MAX])


async def send(channel: Channel, title: str, body: str, level: EventLevel, limit: timedelta) -> None:
    """``send_blocking`` in a worker thread; raises ``DeliveryFailed`` on failure or after ``limit``."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_POOL, send_blocking, channel, title, body, level)
    try:
        await asyncio.wait_for(asyncio.shield(future), limit.total_seconds())
    except TimeoutError:
        raise DeliveryFailed(f"no answer within {limit.total_seconds():.0f}s (may still arrive)") from None
    except DeliveryFailed:
        raise
    except Exception as exc:  # a plugin bug must look like a failed send, not crash the notifier
        raise DeliveryFailed(redact(f"{type(exc).__name__}: {exc}")[:_ERROR_MAX]) from None

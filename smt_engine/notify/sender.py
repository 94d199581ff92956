"""Delivery of one message to one channel through apprise, off the event loop and under a hard time limit.

apprise is synchronous; a slow or hanging service must never hold up the engine's loop, so each send runs
in this module's own small thread pool and the caller stops waiting after ``limit``. A send abandoned
that way counts as failed and is retried, so delivery is at least once: a slow service can receive a
notice twice (never zero times); apprise's own connect/read timeouts keep such threads short-lived.

Every notice carries a stable id, the same on every retry and every channel, so a receiver can drop
repeats: webhook channels (apprise's ``json``, ``xml`` and ``form``) get it as the ``X-SMT-Notice-Id``
header, and ``json`` also as the ``notice_id`` field of the body (apprise's ``+header`` and ``:field`` URL
parameters); other services have no such field.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from datetime import timedelta

from smt_engine.domain import EventLevel
from smt_engine.notify.channels import Channel
from smt_engine.secrets import redact

log = logging.getLogger(__name__)

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


NOTICE_HEADER = "X-SMT-Notice-Id"
_HEADER_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
_FIELD_SCHEMES = frozenset({"json", "jsons"})


def with_notice_id(url: str, notice_id: str) -> str:
    """``url`` with the notice id as a header (and a JSON body field) where the service supports one."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in _HEADER_SCHEMES:
        return url
    params = [f"+{NOTICE_HEADER}={notice_id}"]
    if scheme in _FIELD_SCHEMES:
        params.append(f":notice_id={notice_id}")
    return url + ("&" if "?" in url else "?") + "&".join(params)


def send_blocking(channel: Channel, title: str, body: str, level: EventLevel, notice_id: str = "") -> None:
    """Send once (no retry inside: the outbox owns retries); raise ``DeliveryFailed`` with the reason."""
    import apprise

    target = apprise.Apprise()
    url = with_notice_id(channel.url, notice_id) if notice_id else channel.url
    if not target.add(url):
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


async def send(
    channel: Channel, title: str, body: str, level: EventLevel, limit: timedelta, notice_id: str = ""
) -> None:
    """``send_blocking`` in a worker thread; raises ``DeliveryFailed`` on failure or after ``limit``."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_POOL, send_blocking, channel, title, body, level, notice_id)
    try:
        await asyncio.wait_for(asyncio.shield(future), limit.total_seconds())
    except TimeoutError:
        # Nobody awaits the abandoned send any more: read its outcome when it ends, or asyncio would log
        # "Future exception was never retrieved" with a traceback at ERROR for a failure already counted.
        future.add_done_callback(_abandoned)
        raise DeliveryFailed(f"no answer within {limit.total_seconds():.0f}s (may still arrive)") from None
    except DeliveryFailed:
        raise
    except Exception as exc:  # a plugin bug must look like a failed send, not crash the notifier
        raise DeliveryFailed(redact(f"{type(exc).__name__}: {exc}")[:_ERROR_MAX]) from None


def _abandoned(future: asyncio.Future[None]) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        log.debug("an abandoned send ended late: %s", redact(str(error))[:_ERROR_MAX])

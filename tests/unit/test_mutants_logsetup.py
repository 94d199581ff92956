"""Log set-up, value by value (docs/safety-claims.md "Secrets never touch disk in clear, logs, the database
or AI logs" and "Everything is recorded"): the stderr handler masks known secrets and puts a SQLite failure
on one line; the root passes INFO on whatever stderr shows, so the events table is complete; a reloaded
``[logging]`` section retunes stderr alone; and a record that names an event lands in the events table at
its level, with its references and data, masked.

Every test here leaves the process's loggers as it found them: the root's handler list is swapped for an
empty one the test owns (``bare_root``), the autouse ``_root_logging`` fixture restores the levels, and the
events handler is attached to one test logger and detached after.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from smt_engine import secrets as smt_secrets
from smt_engine.clock import SimulatedClock
from smt_engine.domain import EventLevel
from smt_engine.logsetup import (
    DatabaseErrorsOneLine,
    EventsHandler,
    JsonFormatter,
    retune_logging,
    setup_logging,
)
from smt_engine.secrets import MASK, RedactingFilter, register_secret
from smt_engine.store import Store

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
NOISY = ("httpx", "httpcore", "google_genai", "asyncio")


def bare_root(monkeypatch: pytest.MonkeyPatch) -> logging.Logger:
    """The root logger with a handler list of the test's own (pytest's is put back after the test)."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    return root


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No known secret but the test's own, whatever an earlier test in the process registered."""
    monkeypatch.setattr(smt_secrets, "_known", ())


def record_of(
    msg: str, *args: object, level: int = logging.INFO, exc_info: Any = None, **extra: Any
) -> logging.LogRecord:
    record = logging.LogRecord("smt_engine.test", level, __file__, 1, msg, args or None, exc_info)
    record.__dict__.update(extra)
    return record


def raised(exc: BaseException) -> Any:
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


# --------------------------------------------------------------------------- the stderr handler


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_stderr_handler_masks_a_known_secret_in_either_format(
    fmt: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_registry: None
) -> None:
    secret = "logsetup-k3y-0987654321"
    register_secret(secret)
    bare_root(monkeypatch)
    setup_logging("info", fmt)
    logging.getLogger("smt_engine.test").warning("venue said %s", secret)
    err = capsys.readouterr().err
    assert secret not in err
    assert f"venue said {MASK}" in err


def test_set_up_leaves_one_handler_on_the_root_the_one_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    root = bare_root(monkeypatch)
    old = logging.NullHandler()
    root.addHandler(old)
    handler = setup_logging("info", "text")
    assert root.handlers == [handler]
    assert isinstance(handler, logging.StreamHandler)
    assert [type(f) for f in handler.filters] == [DatabaseErrorsOneLine, RedactingFilter]


@pytest.mark.parametrize(
    ("level", "root_level", "stderr_level"),
    [
        ("debug", logging.DEBUG, logging.DEBUG),
        ("info", logging.INFO, logging.INFO),
        ("warning", logging.INFO, logging.WARNING),
        ("ERROR", logging.INFO, logging.ERROR),
    ],
)
def test_the_root_passes_info_on_whatever_stderr_shows_and_the_libraries_say_warnings_only(
    level: str, root_level: int, stderr_level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = bare_root(monkeypatch)
    for name in NOISY:  # as a fresh process has them (the autouse fixture puts the levels back)
        logging.getLogger(name).setLevel(logging.NOTSET)
    handler = setup_logging(level, "text")
    assert (root.level, handler.level) == (root_level, stderr_level)
    assert [logging.getLogger(name).level for name in NOISY] == [logging.WARNING] * len(NOISY)


def test_a_text_line_has_its_time_padded_level_logger_and_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare_root(monkeypatch)
    setup_logging("info", "text")
    logging.getLogger("smt_engine.test").info("price %s", "42.5")
    err = capsys.readouterr().err
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO    smt_engine\.test: price 42\.5\n", err), err


def test_a_json_line_from_set_up_is_one_object_per_record(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare_root(monkeypatch)
    setup_logging("info", "json")
    logging.getLogger("smt_engine.test").info("price %s", "42.5", extra={"event": "price.seen"})
    line = json.loads(capsys.readouterr().err)
    assert (line["level"], line["logger"], line["message"], line["event"]) == (
        "info",
        "smt_engine.test",
        "price 42.5",
        "price.seen",
    )


def test_a_sqlite_failure_logs_as_one_line_without_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare_root(monkeypatch)
    setup_logging("info", "text")
    try:
        raise sqlite3.OperationalError("database or disk is full")
    except sqlite3.Error:
        logging.getLogger("smt_engine.test").exception("cycle %s failed", "c1")
    err = capsys.readouterr().err
    assert err.endswith(" smt_engine.test: cycle c1 failed: OperationalError: database or disk is full\n")
    assert err.count("\n") == 1


def test_the_sqlite_filter_rewrites_a_database_failure_and_passes_every_record() -> None:
    record = record_of(
        "cycle %s failed", "c1", exc_info=raised(sqlite3.DatabaseError("file is not a database"))
    )
    record.exc_text = "stale"
    assert DatabaseErrorsOneLine().filter(record) is True
    assert (record.msg, record.args, record.exc_info, record.exc_text) == (
        "cycle c1 failed: DatabaseError: file is not a database",
        None,
        None,
        None,
    )
    other = record_of("cycle %s failed", "c1", exc_info=raised(RuntimeError("boom")))
    assert DatabaseErrorsOneLine().filter(other) is True
    assert (other.msg, other.args, other.exc_info[0]) == ("cycle %s failed", ("c1",), RuntimeError)
    plain = record_of("no exception")
    assert DatabaseErrorsOneLine().filter(plain) is True
    assert plain.getMessage() == "no exception"


# --------------------------------------------------------------------------- the JSON line


def test_a_json_line_keeps_time_level_logger_message_and_every_public_extra() -> None:
    record = record_of(
        "naïve %s",
        "é",
        level=logging.WARNING,
        event="x.y",
        cycle_id="c1",
        count=3,
        ratio=0.5,
        flag=True,
        nothing=None,
        amount=Decimal("1.50"),
        data={"k": "v"},
        _private="hidden",
    )
    record.created = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC).timestamp()
    line = JsonFormatter().format(record)
    assert "naïve é" in line  # written as UTF-8, not escaped
    assert json.loads(line) == {
        "time": "2026-01-01T00:00:00.123+00:00",
        "level": "warning",
        "logger": "smt_engine.test",
        "message": "naïve é",
        "event": "x.y",
        "cycle_id": "c1",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "nothing": None,
        "amount": "1.50",
        "data": "{'k': 'v'}",
    }


def test_a_json_line_carries_the_traceback_or_the_text_already_made_of_it() -> None:
    record = record_of("failed", exc_info=raised(RuntimeError("boom")))
    exception = json.loads(JsonFormatter().format(record))["exception"]
    assert exception.startswith("Traceback (most recent call last):")
    assert exception.endswith("RuntimeError: boom")
    made = record_of("failed", exc_info=raised(RuntimeError("boom")))
    made.exc_text = "masked traceback"
    assert json.loads(JsonFormatter().format(made))["exception"] == "masked traceback"
    assert "exception" not in json.loads(JsonFormatter().format(record_of("fine")))


# --------------------------------------------------------------------------- a reload


def test_a_reload_retunes_the_stderr_handler_and_leaves_the_others_alone(
    monkeypatch: pytest.MonkeyPatch, store: Store
) -> None:
    root = bare_root(monkeypatch)
    stderr = logging.StreamHandler(io.StringIO())
    stderr.setLevel(logging.INFO)
    events = EventsHandler(store, SimulatedClock(T0))
    other = logging.NullHandler()
    other.setLevel(logging.CRITICAL)
    for handler in (stderr, events, other):
        root.addHandler(handler)
    retune_logging("error", "json")
    assert (stderr.level, type(stderr.formatter)) == (logging.ERROR, JsonFormatter)
    assert (events.level, events.formatter) == (logging.DEBUG, None)
    assert (other.level, other.formatter) == (logging.CRITICAL, None)
    assert root.level == logging.INFO
    retune_logging("debug", "text")
    assert stderr.level == logging.DEBUG
    assert stderr.formatter is not None
    assert (stderr.formatter._fmt, stderr.formatter.datefmt) == (TEXT_FORMAT, "%Y-%m-%d %H:%M:%S")
    assert root.level == logging.DEBUG


# --------------------------------------------------------------------------- the events table


@pytest.fixture
def events_log(store: Store) -> Iterator[logging.Logger]:
    """A logger of this test alone with the engine's events handler, as ``Engine.run`` installs it."""
    log = logging.getLogger("smt_engine.test.events")
    handler = EventsHandler(store, SimulatedClock(T0))
    log.addHandler(handler)
    log.setLevel(1)
    log.propagate = False
    try:
        yield log
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
        log.propagate = True


@pytest.mark.parametrize(
    ("level", "stored"),
    [
        (logging.DEBUG, EventLevel.DEBUG),
        (logging.INFO, EventLevel.INFO),
        (logging.WARNING, EventLevel.WARNING),
        (logging.ERROR, EventLevel.ERROR),
        (logging.CRITICAL, EventLevel.CRITICAL),
        (25, EventLevel.INFO),  # a level of no name of ours is kept, as INFO
    ],
)
def test_an_event_is_stored_at_its_level_with_its_references_and_data(
    level: int, stored: EventLevel, events_log: logging.Logger, store: Store
) -> None:
    refs = {"cycle_id": "c1", "proposal_id": 3, "order_id": 4, "position_id": 5}
    events_log.log(level, "leg %s placed", "sl", extra={"event": "order.placed", "data": {"k": "v"}, **refs})
    (event,) = store.events.recent()
    assert (event.at, event.level, event.kind, event.message, event.data) == (
        T0,
        stored,
        "order.placed",
        "leg sl placed",
        {"k": "v"},
    )
    assert (event.cycle_id, event.proposal_id, event.order_id, event.position_id) == (
        "c1",
        3,
        4,
        5,
    )


def test_an_event_without_references_or_data_stores_none_of_them(
    events_log: logging.Logger, store: Store
) -> None:
    events_log.warning("halted", extra={"event": "engine.halted"})
    events_log.warning("paused", extra={"event": "engine.paused", "cycle_id": None, "data": ["x"]})
    assert [(e.kind, e.message, e.data) for e in store.events.recent()] == [
        ("engine.paused", "paused", {}),  # data that is not a mapping is not kept
        ("engine.halted", "halted", {}),
    ]
    for event in store.events.recent():
        assert (event.cycle_id, event.proposal_id, event.order_id, event.position_id) == (None,) * 4


def test_a_record_naming_no_event_is_not_stored(events_log: logging.Logger, store: Store) -> None:
    events_log.critical("plain line")
    events_log.critical("empty kind", extra={"event": ""})
    events_log.log(5, "below debug", extra={"event": "too.low"})
    assert store.events.recent() == []


def test_a_stored_event_has_its_secrets_masked_in_message_and_data(
    events_log: logging.Logger, store: Store, fresh_registry: None
) -> None:
    secret = "events-k3y-1122334455"
    register_secret(secret)
    events_log.error("venue said %s", secret, extra={"event": "exchange.error", "data": {"reason": secret}})
    (event,) = store.events.recent()
    assert (event.message, event.data) == (f"venue said {MASK}", {"reason": MASK})


def test_an_event_the_database_refuses_is_one_line_on_stderr(
    events_log: logging.Logger, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    store.close()
    events_log.critical("halted", extra={"event": "engine.halted"})
    err = capsys.readouterr().err
    assert err.startswith("event engine.halted not recorded in the database: ")
    assert err.count("\n") == 1


class _BrokenClock(SimulatedClock):
    def now(self) -> datetime:
        raise RuntimeError("clock broke")


def test_any_other_failure_to_store_an_event_goes_to_loggings_own_error_path(store: Store) -> None:
    handler = EventsHandler(store, _BrokenClock(T0))
    failed: list[logging.LogRecord] = []
    handler.handleError = failed.append  # type: ignore[method-assign]
    record = record_of("halted", level=logging.CRITICAL, event="engine.halted")
    handler.handle(record)
    assert failed == [record]
    assert store.events.recent() == []

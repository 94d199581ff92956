"""Process logging: readable lines or JSON on stderr, secrets masked, key events mirrored to the store.

Code marks a record as an operator-visible event with ``extra={"event": "kind", ...refs}``; the
``EventsHandler`` then appends it to the ``events`` table too, so the console shows what the journal shows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smt_engine.domain import EventLevel
from smt_engine.secrets import RedactingFilter

if TYPE_CHECKING:
    from smt_engine.clock import Clock
    from smt_engine.store import Store

_REF_KEYS = ("cycle_id", "proposal_id", "order_id", "position_id")
_STD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra`` fields kept as fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                payload[key] = (
                    value if isinstance(value, str | int | float | bool | type(None)) else str(value)
                )
        if record.exc_text or record.exc_info:
            payload["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(payload, ensure_ascii=False)


class DatabaseErrorsOneLine(logging.Filter):
    """A SQLite failure (full disk, damaged file) logs as one line: its traceback tells an operator nothing,
    and the engine stops on it with the one-line reason and its exit code."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, sqlite3.Error):
            record.msg = f"{record.getMessage()}: {type(exc).__name__}: {exc}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")


def retune_logging(level: str, fmt: str) -> None:
    """Apply a reloaded ``[logging]`` section to the running process's stderr handler(s)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, EventsHandler):
            handler.setLevel(level.upper())
            handler.setFormatter(_formatter(fmt))
    root.setLevel(min(logging.getLevelName(level.upper()), logging.INFO))


def setup_logging(level: str, fmt: str) -> logging.Handler:
    """Configure the root logger once for a command; returns the stderr handler."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(DatabaseErrorsOneLine())
    handler.addFilter(RedactingFilter())
    handler.setFormatter(_formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler.setLevel(level.upper())
    root.addHandler(handler)
    # The root passes INFO on so the engine's events table is complete whatever stderr shows.
    root.setLevel(min(logging.getLevelName(level.upper()), logging.INFO))
    for noisy in ("httpx", "httpcore", "google_genai", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler


_LEVELS = {
    logging.DEBUG: EventLevel.DEBUG,
    logging.INFO: EventLevel.INFO,
    logging.WARNING: EventLevel.WARNING,
    logging.ERROR: EventLevel.ERROR,
    logging.CRITICAL: EventLevel.CRITICAL,
}


class EventsHandler(logging.Handler):
    """Mirrors records that carry ``event`` into the events table (message already redacted)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(logging.DEBUG)
        self.store = store
        self.clock = clock
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        kind = getattr(record, "event", None)
        if not kind:
            return
        try:
            refs = {k: getattr(record, k) for k in _REF_KEYS if getattr(record, k, None) is not None}
            data = getattr(record, "data", None)
            self.store.events.append(
                self.clock.now(),
                _LEVELS.get(record.levelno, EventLevel.INFO),
                str(kind),
                record.getMessage(),
                data=data if isinstance(data, dict) else None,
                **refs,
            )
        except sqlite3.Error as exc:
            # Full disk or damaged file: the store remembers it and the engine stops; one line, no traceback.
            sys.stderr.write(f"event {kind} not recorded in the database: {exc}\n")
        except Exception:
            self.handleError(record)

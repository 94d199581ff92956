"""Is the database path still the file the engine has open?

Deleting the database under a running engine (or restoring a backup over it with ``mv``) leaves the
engine writing to an unlinked inode: ``smt status`` and the console read a new, empty file, operator
commands land where the engine never looks, and once the lock file is gone too a second engine could
start. ``DatabaseIdentity`` keeps a descriptor on the inode the engine opened and, on every heartbeat,
compares it with what the path names now (device, inode, link count), so the engine can stop at once
(docs/operator-guide.md, "The safety model").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from smt_engine.store.errors import DatabaseUnusable

log = logging.getLogger(__name__)


class DatabaseSwapped(DatabaseUnusable):
    """The database path no longer names the file the engine has open (exit 4: a restart cannot help
    until an operator decides which file is the real one)."""


class DatabaseIdentity:
    """A descriptor on the database file as it was opened; ``problem()`` says when the path moved on."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = os.open(self.path, os.O_RDONLY)

    def problem(self) -> str | None:
        """Why the path no longer names the open file, or ``None`` while it does."""
        if self._fd is None:
            return None
        held = os.fstat(self._fd)
        if held.st_nlink == 0:
            return f"{self.path} was deleted while the engine had it open"
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return f"{self.path} no longer exists under that name (moved or renamed)"
        except OSError as exc:
            return f"{self.path} cannot be checked ({exc.strerror})"
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            return f"{self.path} is now another file (replaced, e.g. a backup restored over it)"
        return None

    @classmethod
    def watch(cls, path: Path) -> DatabaseIdentity | None:
        """The open database's identity; None (with a warning) when its file cannot be opened again."""
        try:
            return cls(path)
        except OSError as exc:
            log.warning("database %s cannot be watched for replacement (%s)", path, exc.strerror)
            return None

    def ensure(self) -> None:
        """Raise ``DatabaseSwapped`` when the path moved on, after a CRITICAL event ``engine.database_lost``
        (it reaches the events table, so the notifier, through the file still open: the only one the
        engine can write)."""
        problem = self.problem()
        if problem is None:
            return
        message = (
            f"{problem}: the engine stops, as it would otherwise work on a file no operator command or "
            "status reads"
        )
        log.critical(message, extra={"event": "engine.database_lost", "data": {"path": str(self.path)}})
        raise DatabaseSwapped(
            f"{message}; put the right database back at {self.path} (positions stay protected by their "
            "exchange-side stops meanwhile), then start the engine again"
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


__all__ = ["DatabaseIdentity", "DatabaseSwapped"]

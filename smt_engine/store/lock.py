"""Single-writer lock: two engines must never run against one database."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from smt_engine.store.errors import DatabaseUnusable


class AlreadyRunning(Exception):
    """Another engine holds the database."""

    def __init__(self, path: Path, pid: int | None) -> None:
        self.pid = pid
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"another SMT engine ({holder}) is already running on {path}; stop it first")


class EngineLock:
    """An exclusive ``flock`` on ``<database>.lock``; released by the kernel if the process dies.

    The lock file is named after the *resolved* database file, so a symlink or a relative path reaches
    the same lock file; a bind mount reaches the same inode, which ``flock`` locks whatever the path.
    The holder's pid is written into the lock file (and the engine row records pid and host).
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path).expanduser().resolve()
        self.path = self.db_path.with_name(self.db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise DatabaseUnusable(
                f"{self.db_path}: cannot create its lock file {self.path} ({exc.strerror}): set "
                "engine.database to a file path on a writable disk"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = self.holder_pid()
            os.close(fd)
            raise AlreadyRunning(self.db_path, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def holder_pid(self) -> int | None:
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def is_held_elsewhere(self) -> bool:
        """True when some other process holds the lock (the console's "engine running?" check)."""
        return self.probe() is True

    def probe(self) -> bool | None:
        """Held by another process (True), free (False), or unknown (None): the lock file exists but this
        user may not open it (a read-only viewer in another account), so liveness must come from the
        heartbeat instead."""
        if self._fd is not None:
            return False
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except PermissionError:
            return None
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

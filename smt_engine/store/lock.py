"""Single-writer lock: two engines must never run against one database."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import socket
import sys
from collections.abc import Callable
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

    Files can be deleted under a running engine, and a lock on a deleted file locks nothing a newcomer
    can see. So, on Linux, the engine also binds an abstract unix socket named after the resolved
    database path: the name lives in the kernel while the engine lives, whatever happens to the files
    (database deleted, lock file deleted, a backup moved over it), and a second engine's bind fails.

    The lock file is named after the *resolved* database file, so a symlink or a relative path reaches
    the same lock file; a bind mount reaches the same inode, which ``flock`` locks whatever the path.
    The holder's pid is written into the lock file (and the engine row records pid and host).
    A hard link (another name for the same inode) or a deleted lock file would reach a fresh lock file,
    so the database file itself is ``flock``ed too (SQLite's own locks are POSIX ``fcntl`` locks, which
    never conflict with ``flock``).
    """

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path).expanduser().resolve()
        self.path = self.db_path.with_name(self.db_path.name + ".lock")
        self._fd: int | None = None
        self._db_fd: int | None = None
        self._claim: socket.socket | None = None

    def acquire(self) -> None:
        self._claim = _claim_name(self.db_path, self._holder)
        try:
            self._acquire_files()
        except BaseException:
            self._release_name()
            raise

    def _acquire_files(self) -> None:
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
        try:
            db_fd = os.open(self.db_path, os.O_RDONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            os.close(fd)
            raise DatabaseUnusable(
                f"{self.db_path}: cannot open the database file ({exc.strerror}): set engine.database to "
                "a file path on a writable disk"
            ) from None
        try:
            fcntl.flock(db_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = self.holder_pid() or _flock_holder(db_fd)
            os.close(db_fd)
            os.close(fd)
            raise AlreadyRunning(self.db_path, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd, self._db_fd = fd, db_fd

    def _holder(self) -> int | None:
        """The running engine's pid, from whatever is left: the lock file, the database's flock, or the
        process holding the socket name."""
        pid = self.holder_pid()
        if pid is None:
            with contextlib.suppress(OSError):
                st = os.stat(self.db_path)
                pid = _flock_holder_of(st.st_dev, st.st_ino)
        return pid if pid is not None else _name_holder(self.db_path)

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
        if _name_bound(self.db_path):
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except PermissionError:
            return None
        except OSError:
            fd = None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
        # The lock file is free, but an engine reached through a hard link holds the database's inode;
        # read the kernel's lock table rather than lock the file, so a probe never blocks a starting engine.
        try:
            st = os.stat(self.db_path)
        except OSError:
            return False
        return _flock_holder_of(st.st_dev, st.st_ino) not in (None, os.getpid())

    def release(self) -> None:
        if self._db_fd is not None:
            fcntl.flock(self._db_fd, fcntl.LOCK_UN)
            os.close(self._db_fd)
            self._db_fd = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        self._release_name()

    def _release_name(self) -> None:
        if self._claim is not None:
            self._claim.close()
            self._claim = None

    def __enter__(self) -> EngineLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _engine_name(db_path: Path) -> str:
    """The abstract socket name for one database path (hashed: the name has a 107-byte limit)."""
    return "smt-engine:" + hashlib.sha256(str(db_path).encode()).hexdigest()[:32]


def _claim_name(db_path: Path, holder: Callable[[], int | None]) -> socket.socket | None:
    """Bind the database's abstract socket name; ``AlreadyRunning`` when an engine holds it. Elsewhere
    than Linux there is no abstract namespace and the file locks stand alone (None)."""
    if not sys.platform.startswith("linux"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind("\0" + _engine_name(db_path))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AlreadyRunning(db_path, holder()) from None
        return None
    return sock


def _name_inode(db_path: Path) -> str | None:
    """The socket inode bound to the database's abstract name, from Linux's ``/proc/net/unix`` (reading
    it never blocks a starting engine, as binding to test it would); None when nobody holds it."""
    try:
        text = Path("/proc/net/unix").read_text()
    except OSError:
        return None
    wanted = "@" + _engine_name(db_path)
    for line in text.splitlines():
        # "Num RefCount Protocol Flags Type St Inode Path" (the header's "Path" names no socket)
        fields = line.split()
        if len(fields) >= 8 and fields[7] == wanted:
            return fields[6]
    return None


def _name_bound(db_path: Path) -> bool:
    return _name_inode(db_path) is not None


def _name_holder(db_path: Path) -> int | None:
    """The pid whose descriptors include the socket bound to the database's name (None if unreadable)."""
    inode = _name_inode(db_path)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return int(pid)
    return None


def _flock_holder(fd: int) -> int | None:
    st = os.fstat(fd)
    return _flock_holder_of(st.st_dev, st.st_ino)


def _flock_holder_of(dev: int, ino: int) -> int | None:
    """The pid holding an exclusive ``flock`` on this inode, from Linux's ``/proc/locks`` (None elsewhere)."""
    target = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 12345 fe:00:2147649 0 EOF" ("->" marks a waiter: skip it)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == "WRITE" and fields[5] == target:
            return int(fields[4]) if fields[4].isdigit() else None
    return None

"""What can be wrong with the database file, said in one line that names the file and the fix.

SQLite reports a damaged file, a text file in its place, a full disk or a directory as terse
exceptions from whatever statement touched it first. ``database_error`` turns any of them into a
``StoreError`` whose message names the file, what is wrong and what to do, so the CLI can print one
line and exit with the code documented for it instead of showing a traceback.
"""

from __future__ import annotations

import os
import resource
import sqlite3
from pathlib import Path


class StoreError(Exception):
    """The database cannot be opened or used; the message says which file and what to do."""


class DatabaseUnusable(StoreError):
    """The file is damaged, not an SMT database, from a newer SMT, or not a file at all."""


class DatabaseFull(StoreError):
    """SQLite could not write: the disk (or the file system holding the database) is full."""


_FULL = {sqlite3.SQLITE_FULL}
_NOT_A_DB = {sqlite3.SQLITE_NOTADB}
_CORRUPT = {sqlite3.SQLITE_CORRUPT}
_CANT_OPEN = {sqlite3.SQLITE_CANTOPEN}
_READONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH}


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def database_error(path: Path | str, exc: sqlite3.Error) -> StoreError:
    """The operator-facing error for a SQLite failure on ``path``."""
    code = _primary(exc)
    text = str(exc)
    if code in _FULL or "disk is full" in text:
        return DatabaseFull(
            f"{path}: the disk is full, SQLite could not write ({text}): free disk space on the file "
            "system that holds it, then start SMT again"
        )
    if code in _NOT_A_DB or "not a database" in text:
        return DatabaseUnusable(
            f"{path}: not a database file (damaged, truncated, or another file in its place): restore it "
            "from a backup, or move it aside to start a new database"
        )
    if code in _CORRUPT or "malformed" in text:
        return DatabaseUnusable(
            f"{path}: the database is damaged ({text}): stop SMT and restore the file from a backup"
        )
    if code in _CANT_OPEN or "unable to open" in text:
        return DatabaseUnusable(
            f"{path}: cannot open the database file (is it a directory, or on a read-only or virtual file "
            "system?): set engine.database to a file path on a writable disk"
        )
    if code == sqlite3.SQLITE_IOERR and size_limit_reached(path):
        return DatabaseFull(size_limit_message(path, text))
    if code in _READONLY or "readonly" in text:
        return DatabaseUnusable(
            f"{path}: the database cannot be written ({text}): give the SMT account write access to the "
            "file and its directory"
        )
    return StoreError(f"{path}: database error ({text}): see `smt db check`")


SIZE_LIMIT_MARGIN = 1 << 20
"""A write error within this many bytes of the process's file-size limit is that limit (a page or a WAL
frame did not fit), not a damaged disk."""


def size_limit_reached(path: Path | str) -> bool:
    """Whether the database (or its journal) has reached the process's file-size limit (RLIMIT_FSIZE:
    ``ulimit -f``, systemd's ``LimitFSIZE=``), where writes fail with EFBIG."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        return False
    for suffix in ("", "-wal", "-journal"):
        try:
            size = os.stat(f"{path}{suffix}").st_size
        except OSError:
            continue
        if size + SIZE_LIMIT_MARGIN >= soft:
            return True
    return False


def size_limit_message(path: Path | str, detail: str) -> str:
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    limit = "" if soft == resource.RLIM_INFINITY else f" of {soft} bytes"
    return (
        f"{path}: the file-size limit{limit} was reached ({detail}): raise or remove it (`ulimit -f`, "
        "systemd LimitFSIZE=) or move the file to where it may grow, then start SMT again"
    )

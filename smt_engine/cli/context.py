"""What every verb's handler gets: parsed arguments and lazily loaded settings, secrets and store."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from smt_engine.commands.client import CommandClient, actor
from smt_engine.config import ConfigError, Settings, load_settings
from smt_engine.config.paths import default_config_path
from smt_engine.exitcodes import ExitCode
from smt_engine.logsetup import setup_logging
from smt_engine.secrets import SecretStore
from smt_engine.store import (
    AlreadyRunning,
    DatabaseFull,
    DatabaseUnusable,
    EngineLock,
    Store,
    StoreError,
    database_error,
)
from smt_engine.store.errors import size_limit_message


def engine_running(database: Path) -> bool:
    """Whether an engine process holds ``database`` (and would consume a queued command)."""
    return EngineLock(database).is_held_elsewhere()


class VerbError(Exception):
    """A verb cannot do what was asked; the message says why and what to do."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(exc: BaseException) -> ExitCode | None:
    """Exit codes for the errors an operator can fix; None means a bug (let it raise)."""
    if isinstance(exc, ConfigError):
        return ExitCode.CONFIG
    if isinstance(exc, AlreadyRunning):
        return ExitCode.ALREADY_RUNNING
    if isinstance(exc, DatabaseFull):
        return ExitCode.DISK_FULL
    if isinstance(exc, DatabaseUnusable):
        return ExitCode.DATABASE
    if isinstance(exc, VerbError):
        return exc.code
    if isinstance(exc, StoreError):
        return ExitCode.FAILED
    return None


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._settings: Settings | None = None
        self._store: Store | None = None
        self._secrets: SecretStore | None = None

    @property
    def config_path(self) -> Path | None:
        value = getattr(self.args, "config", None)
        return Path(value) if value else None

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
            except ConfigError as exc:
                raise ConfigError(self._located(exc.problems)) from None
        return self._settings

    def _located(self, problems: list[str]) -> list[str]:
        """One problem is one line naming the file; several get the file as a header, one line each."""
        path = self.config_path or default_config_path()
        where = str(path) if path.exists() else "configuration (built-in defaults and SMT_* environment)"
        if len(problems) == 1:
            only = problems[0]
            return [only if only.startswith(str(path)) else f"{where}: {only}"]
        return [f"configuration errors in {where}:", *(f"  {p}" for p in problems)]

    def setup_logging(self) -> None:
        level = getattr(self.args, "log_level", None)
        fmt = getattr(self.args, "log_format", None)
        if level is None or fmt is None:
            try:
                cfg = self.settings().logging
                level, fmt = level or cfg.level, fmt or cfg.format
            except ConfigError:
                level, fmt = level or "info", fmt or "text"
        setup_logging(level, fmt)
        logging.getLogger(__name__).debug("logging configured")

    def secrets(self) -> SecretStore:
        if self._secrets is None:
            self._secrets = SecretStore()
        return self._secrets

    def store(self, *, readonly: bool = False, path: Path | None = None) -> Store:
        if self._store is None:
            self._store = Store.open(path or self.settings().engine.database, readonly=readonly)
        return self._store

    def commands(self) -> CommandClient:
        """The command queue's client, as the CLI's operator: refuses when no engine holds the database."""
        database = self.settings().engine.database
        return CommandClient(
            self.store(), lambda: engine_running(database), lambda: datetime.now(UTC), actor("cli")
        )

    @contextlib.contextmanager
    def engine_lock(self, why: str) -> Iterator[None]:
        """Hold the engine lock for a verb that writes what a running engine owns; refuse if one runs."""
        try:
            lock = EngineLock(self.settings().engine.database)
            lock.acquire()
        except AlreadyRunning as exc:
            raise VerbError(f"{exc}: {why}", ExitCode.ALREADY_RUNNING) from None
        try:
            yield
        finally:
            lock.release()

    def database_path(self) -> Path | None:
        """The database this verb uses (for naming it in an error), when it is known."""
        if self._store is not None:
            return self._store.path
        db = getattr(self.args, "db", None)
        if db:
            return Path(db)
        try:
            return self.settings().engine.database
        except ConfigError:
            return None

    def explain(self, exc: BaseException) -> BaseException:
        """A SQLite failure from anywhere in a verb, as the one-line error that names the file."""
        if isinstance(exc, sqlite3.Error):
            return database_error(self.database_path() or "database", exc)
        if isinstance(exc, OSError) and exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
            # Any file the engine writes (the paper account, a log): a restart cannot make room either.
            where = exc.filename or "a file"
            if exc.errno == errno.EFBIG:
                return DatabaseFull(size_limit_message(where, exc.strerror or "file too large"))
            return DatabaseFull(
                f"{where}: {exc.strerror}: free disk space (or quota) on its file system, then start SMT "
                "again"
            )
        return exc

    def close(self) -> None:
        if self._store is not None:
            store, self._store = self._store, None
            # Closing a damaged or full database can fail again: the error was already reported.
            with contextlib.suppress(sqlite3.Error):
                store.close()


__all__ = ["Context", "StoreError", "VerbError", "exit_code_for"]

"""What every command handler gets: parsed arguments and lazily loaded settings, secrets and store."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from smt_engine.config import ConfigError, Settings, load_settings
from smt_engine.logsetup import setup_logging
from smt_engine.secrets import SecretStore
from smt_engine.store import AlreadyRunning, Store, StoreError


class CommandError(Exception):
    """A command cannot do what was asked; the message says why and what to do."""


def exit_code_for(exc: BaseException) -> int | None:
    """Exit codes for the errors an operator can fix; None means a bug (let it raise)."""
    if isinstance(exc, ConfigError):
        return 2
    if isinstance(exc, AlreadyRunning):
        return 3
    if isinstance(exc, StoreError | CommandError):
        return 1
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
                raise ConfigError(["configuration error:", *(f"  {p}" for p in exc.problems)]) from None
        return self._settings

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

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


__all__ = ["CommandError", "Context", "StoreError", "exit_code_for"]

"""Shared fixtures: an isolated environment per test so no test reads the operator's real config or keys."""

from __future__ import annotations

import concurrent.futures
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from smt_engine import secrets
from smt_engine.notify import sender
from smt_engine.store import Store


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for name in list(__import__("os").environ):
        if name.startswith("SMT_") or name in {
            "WEEX_API_KEY",
            "WEEX_API_SECRET",
            "WEEX_API_PASSPHRASE",
            "ETHERSCAN_API_KEY",
            "GEMINI_API_KEY",
            "NOTIFY_URLS",
            "CREDENTIALS_DIRECTORY",
            "NOTIFY_SOCKET",
        }:
            monkeypatch.delenv(name, raising=False)
    # what a test registers as a secret is forgotten after it, so no later test (nor mutmut's forked
    # parent) masks a value it never registered
    monkeypatch.setattr(secrets, "_known", secrets._known)


_LEVELS_SET_BY_RUNS = ("smt_engine", "httpx", "httpcore", "google_genai", "asyncio")


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A command or engine run in process sets up logging; undo that, so its handler (bound to that test's
    captured stderr) never sees, or rewrites, a later test's records, and no level it set hides them."""
    root = logging.getLogger()
    loggers = [root, *(logging.getLogger(name) for name in _LEVELS_SET_BY_RUNS)]
    levels = [logger.level for logger in loggers]
    yield
    for handler in list(root.handlers):
        if type(handler).__module__ != "_pytest.logging":
            root.removeHandler(handler)
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def _notify_pools_of_this_process() -> None:
    """mutmut forks each mutant's run from the process that ran the clean tests: the fork inherits the
    notifier's send pool and apprise's shared pool but not their threads, so every send would wait in a
    queue until the time limit. A forked process gets pools of its own."""
    sender._POOL = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="smt-notify")
    apprise_core = sys.modules.get("apprise.apprise")
    if apprise_core is not None:
        apprise_core._shared_executor = None  # made again on its next use
        apprise_core._shared_executor_lock = threading.Lock()  # a lock held at the fork stays held


os.register_at_fork(after_in_child=_notify_pools_of_this_process)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "smt.db")
    yield s
    s.close()

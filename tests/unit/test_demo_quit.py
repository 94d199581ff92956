"""Quitting the interactive demo's console (``q``) stops its engine with SIGTERM and waits out the engine's
drain (``engine.shutdown_timeout`` plus room) before it would kill it: an order in flight is finished."""

from __future__ import annotations

import logging
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from smt_engine import demo
from smt_engine.config import Settings


class EngineProcess:
    """The demo engine's process as the console sees it: alive until told, every signal and wait noted."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def poll(self) -> int | None:
        return None if not self.calls else 0

    def send_signal(self, sig: int) -> None:
        self.calls.append(("signal", sig))

    def wait(self, timeout: float | None = None) -> int:
        self.calls.append(("wait", timeout))
        return 0

    def kill(self) -> None:
        self.calls.append(("kill", None))


def test_quitting_the_console_sigterms_the_engine_and_waits_its_whole_drain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smt_tui.app

    engine = EngineProcess()
    console_ran: list[bool] = []
    store = SimpleNamespace(close=lambda: None)

    def console(*_: Any, **__: Any) -> Any:
        return SimpleNamespace(run=lambda: console_ran.append(True), model=SimpleNamespace(store=store))

    monkeypatch.setattr(demo.subprocess, "Popen", lambda *_, **__: engine)
    monkeypatch.setattr("smt_engine.store.EngineLock.is_held_elsewhere", lambda _: True)
    monkeypatch.setattr(smt_tui.app, "open_console", console)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        assert demo.run_interactive(tmp_path / "demo.db", None) == 0
    finally:
        root.handlers[:] = handlers
    assert console_ran == [True], "the console ran and was quit"
    drain = Settings().engine.shutdown_timeout.total_seconds()
    assert engine.calls == [("signal", signal.SIGTERM), ("wait", drain + 10)]

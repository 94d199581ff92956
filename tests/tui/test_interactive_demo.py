"""The interactive demo, driven with Pilot: a real demo engine process, the console attached to it,
approve -> position open -> close (confirmed) -> closed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from smt_engine.clock import AcceleratedClock
from smt_engine.demo import DEMO_FACTOR, DEMO_START, demo_settings
from smt_engine.domain import ApprovalMode, PositionState
from smt_engine.store import EngineLock, Store


async def wait_for(pilot: object, predicate: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.2)  # type: ignore[attr-defined]


async def test_approve_open_close_in_the_interactive_demo(tmp_path: Path) -> None:
    from smt_tui.app import open_console
    from smt_tui.state import ConsoleConfig

    db = tmp_path / "demo.db"
    Store.open(db).close()
    real_start = time.time()
    engine = subprocess.Popen(  # noqa: ASYNC220 - started once, never awaited on the loop
        [
            sys.executable,
            "-m",
            "smt_engine.cli",
            "demo",
            "--engine-process",
            "--db",
            str(db),
            "--real-start",
            repr(real_start),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not EngineLock(db).is_held_elsewhere():
            assert engine.poll() is None and time.monotonic() < deadline, "demo engine did not start"
            await asyncio.sleep(0.1)
        watcher = Store.open(db, readonly=True)
        clock = AcceleratedClock(DEMO_FACTOR, DEMO_START, real_start)
        settings = demo_settings(db, approval=ApprovalMode.MANUAL)
        app = open_console(db, config=ConsoleConfig.from_settings(settings), now=clock.now)
        async with app.run_test(size=(130, 34)) as pilot:
            await wait_for(pilot, lambda: bool(watcher.proposals.pending()), 30)
            await pilot.press("2")
            await pilot.pause(0.5)
            await pilot.press("a")
            await wait_for(pilot, lambda: bool(watcher.positions.open_positions()), 30)
            position = watcher.positions.open_positions()[0]
            assert position.sl_order_id and position.tp_order_id
            await pilot.press("1")
            await pilot.pause(0.5)
            await pilot.press("x")
            await pilot.pause(0.3)
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: (
                    (p := watcher.positions.get(position.id)) is not None and p.state is PositionState.CLOSED
                ),
                30,
            )
        app.model.store.close()
        closed = watcher.positions.get(position.id)
        assert (
            closed is not None and closed.close_reason is not None and closed.close_reason.value == "manual"
        )
        watcher.close()
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
    assert engine.returncode == 0
    assert not EngineLock(db).is_held_elsewhere()

"""The interactive demo, driven with Pilot: a real demo engine process and the console attached to it.

approve -> position open -> close (confirmed) -> closed; a human-paced approval a full real minute after
the proposal appeared; the demo engine dies with the console that started it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from smt_engine.demo import DEMO_FACTOR, DEMO_START, demo_settings
from smt_engine.demo_pace import Anchor, FollowedClock, pace_file
from smt_engine.domain import ApprovalMode, PositionState, ProposalState
from smt_engine.store import EngineLock, Store

HANG_GUARD = 600.0  # only a hang guard: every wait ends on an event first
"""Real seconds before a wait is declared hung (a generous bound, never a speed requirement)."""


async def wait_for(pilot: object, predicate: Callable[[], bool], seconds: float = HANG_GUARD) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.2)  # type: ignore[attr-defined]


def engine_command(db: Path, real_start: float, parent_pid: int | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "smt_engine.cli", "demo", "--engine-process", "--db", str(db)]
    cmd += ["--real-start", repr(real_start)]
    if parent_pid is not None:
        cmd += ["--parent-pid", str(parent_pid)]
    return cmd


@contextmanager
def demo_engine(db: Path) -> Iterator[float]:
    """A demo engine process on ``db``; yields its real start time once it holds the lock."""
    Store.open(db).close()
    real_start = time.time()
    # stderr to a file: a pipe nobody reads would block a chatty engine once its buffer fills.
    log = (db.parent / "engine.log").open("wb")
    engine = subprocess.Popen(
        engine_command(db, real_start, os.getpid()), stdout=subprocess.DEVNULL, stderr=log
    )
    try:
        deadline = time.monotonic() + HANG_GUARD
        while not EngineLock(db).is_held_elsewhere():
            assert engine.poll() is None, "demo engine did not start"
            assert time.monotonic() < deadline, "demo engine did not start"
            time.sleep(0.1)
        yield real_start
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=HANG_GUARD)
        log.close()
    assert engine.returncode == 0
    assert not EngineLock(db).is_held_elsewhere()


def console_for(db: Path, real_start: float) -> object:
    from smt_tui.app import open_console
    from smt_tui.state import ConsoleConfig

    clock = FollowedClock(pace_file(db), Anchor(DEMO_START, real_start, DEMO_FACTOR))
    settings = demo_settings(db, approval=ApprovalMode.MANUAL)
    return open_console(db, config=ConsoleConfig.from_settings(settings), now=clock.now)


async def test_approve_open_close_in_the_interactive_demo(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with demo_engine(db) as real_start:
        watcher = Store.open(db, readonly=True)
        app = console_for(db, real_start)
        async with app.run_test(size=(130, 34)) as pilot:  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: bool(watcher.proposals.pending()))
            await wait_for(pilot, lambda: app.main.active_tab == "proposals")  # type: ignore[attr-defined]
            await pilot.press("a")
            # The entry fills first, then the engine places TP and SL: wait for the protected position.
            await wait_for(
                pilot,
                lambda: any(p.sl_order_id and p.tp_order_id for p in watcher.positions.open_positions()),
            )
            position = watcher.positions.open_positions()[0]
            await pilot.press("1")
            # The demo console reads routine writes at most every 2 s (routine_gap): wait until it shows it.
            await wait_for(pilot, lambda: app.selected_key() == f"position:{position.id}")  # type: ignore[attr-defined]
            await pilot.press("x")
            await pilot.pause(0.3)
            await pilot.press("y")
            await wait_for(
                pilot,
                lambda: (
                    (p := watcher.positions.get(position.id)) is not None and p.state is PositionState.CLOSED
                ),
            )
        app.model.store.close()  # type: ignore[attr-defined]
        closed = watcher.positions.get(position.id)
        assert closed is not None
        assert closed.close_reason is not None
        assert closed.close_reason.value == "manual"
        watcher.close()


@pytest.mark.slow
async def test_a_human_approves_a_full_minute_after_the_proposal_appeared(tmp_path: Path) -> None:
    """The operator reads for 60 real seconds before pressing `a`: the proposal is still there, its drift
    is still within the limit (the demo runs at real time while it waits) and the position opens."""
    db = tmp_path / "demo.db"
    with demo_engine(db) as real_start:
        watcher = Store.open(db, readonly=True)
        app = console_for(db, real_start)
        async with app.run_test(size=(130, 34)) as pilot:  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: bool(watcher.proposals.pending()))
            proposal = watcher.proposals.pending()[0]
            seen = time.monotonic()
            while time.monotonic() - seen < 60.0:  # a human reading: 60 real seconds, not demo ones
                await pilot.pause(0.5)
            assert watcher.proposals.get(proposal.id).state is ProposalState.PROPOSED  # type: ignore[union-attr]
            assert proposal.expires_at is not None
            left = proposal.expires_at - app.now()  # type: ignore[attr-defined]
            assert left.total_seconds() > 120  # still minutes to go on the demo clock
            await pilot.press("w")  # jump to the waiting proposal wherever the cursor was
            await pilot.press("a")
            await wait_for(pilot, lambda: bool(watcher.positions.open_positions()))
        app.model.store.close()  # type: ignore[attr-defined]
        decided = watcher.proposals.get(proposal.id)
        assert decided is not None
        assert decided.state is ProposalState.OPEN
        watcher.close()


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie waiting for init to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def test_the_demo_engine_dies_with_its_console(tmp_path: Path) -> None:
    """The console process is killed outright (as an SSH drop does): its engine stops and frees the lock."""
    db = tmp_path / "demo.db"
    Store.open(db).close()
    real_start = time.time()
    script = (
        "import subprocess, sys, os, time\n"
        f"p = subprocess.Popen({engine_command(db, real_start)!r} + ['--parent-pid', str(os.getpid())])\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    console = subprocess.Popen(  # noqa: ASYNC220 - started once; the test waits on the lock, not on it
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert console.stdout is not None
        engine_pid = int(console.stdout.readline())
        deadline = time.monotonic() + HANG_GUARD
        while not EngineLock(db).is_held_elsewhere():
            assert time.monotonic() < deadline, "demo engine did not start"
            await asyncio.sleep(0.1)
        console.kill()  # no clean-up code of the console runs
        console.wait(timeout=HANG_GUARD)
        while EngineLock(db).is_held_elsewhere():
            assert time.monotonic() < deadline + HANG_GUARD, "the demo engine outlived its console"
            await asyncio.sleep(0.1)
        while not _gone(engine_pid):
            assert time.monotonic() < deadline + 2 * HANG_GUARD, "the demo engine process is still running"
            await asyncio.sleep(0.1)
    finally:
        if console.poll() is None:
            console.kill()

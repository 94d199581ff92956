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
from smt_engine.domain import ApprovalMode, CloseReason, PositionState, ProposalState
from smt_engine.store import EngineLock, Store
from smt_engine.store.records import Position
from smt_tui.widgets.proposals_table import ProposalsTable

# Only against a hang: every wait below ends on an event (a lock taken, a row written, a command done).
HANG_GUARD_S = 600.0
# The demo clock runs 60x real time, so on a loaded machine a proposal can expire (or a stop fill) before
# the console's keystrokes reach the engine: an operator would simply try the next one, and so does this.
ATTEMPTS = 10


async def wait_for(pilot: object, predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    while not predicate():
        assert time.monotonic() < deadline, f"hang guard: {what}"
        await pilot.pause(0.2)  # type: ignore[attr-defined]


OPENED = {ProposalState.OPEN, ProposalState.CLOSED}
IN_FLIGHT = {ProposalState.PROPOSED, ProposalState.APPROVED, ProposalState.SUBMITTING}


def proposals_settled(watcher: Store, ids: list[int]) -> Callable[[], bool]:
    """One of them opened, or each has ended (rejected, denied, expired or failed): nothing in flight."""

    def check() -> bool:
        rows = [watcher.proposals.get(i) for i in ids]
        states = [r.state for r in rows if r is not None]
        return any(s in OPENED for s in states) or not any(s in IN_FLIGHT for s in states)

    return check


def position_of(watcher: Store, ids: list[int]) -> Position | None:
    rows = watcher.positions.recent_closed(limit=50) + watcher.positions.open_positions()
    return next((p for p in rows if p.proposal_id in ids), None)


async def approve_then_close(pilot: object, watcher: Store, notes: list[str]) -> Position | None:
    """One operator round: approve the waiting proposal, close its position by hand. None = try again.

    Every wait ends on its own: a proposal leaves "proposed" within its time to live, and a position
    closes by hand, at its stop or target, or at max hold.
    """
    await wait_for(pilot, lambda: bool(watcher.proposals.pending()), "a proposal waiting for approval")
    waiting = [p.id for p in watcher.proposals.pending() if p.id is not None]
    await pilot.press("2")  # type: ignore[attr-defined]
    # Put the cursor on the newest waiting proposal, as an operator would with the arrow keys: after an
    # earlier round it still rests on that round's (now settled) proposal.
    table = pilot.app.query_one(ProposalsTable)  # type: ignore[attr-defined]
    key = f"proposal:{max(waiting)}"
    await wait_for(pilot, lambda: key in {k.value for k in table.rows}, "the proposal on screen")
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause(0.3)  # type: ignore[attr-defined]
    await pilot.press("a")  # type: ignore[attr-defined]
    await wait_for(pilot, proposals_settled(watcher, waiting), "the waiting proposals to settle")
    position = position_of(watcher, waiting)
    if position is None:  # it expired before the engine saw the approval, or a gate refused it on re-check
        states = [(i, r.state.value) for i in waiting if (r := watcher.proposals.get(i)) is not None]
        commands = [(c.kind.value, c.state.value, c.error) for c in watcher.commands.recent(limit=3)]
        notes.append(f"no position: proposals {states}, commands {commands}")
        return None
    await wait_for(
        pilot,
        lambda: (p := watcher.positions.get(position.id)) is not None and p.sl_order_id is not None,
        "protection on the new position",
    )
    await pilot.press("1")  # type: ignore[attr-defined]
    await pilot.pause(0.5)  # type: ignore[attr-defined]
    await pilot.press("x")  # type: ignore[attr-defined]
    await pilot.pause(0.3)  # type: ignore[attr-defined]
    await pilot.press("y")  # type: ignore[attr-defined]
    await wait_for(
        pilot,
        lambda: (p := watcher.positions.get(position.id)) is not None and p.state is PositionState.CLOSED,
        "the position to be closed",
    )
    closed = watcher.positions.get(position.id)
    assert closed is not None and closed.tp_order_id, "it was protected by a target and a stop"
    if closed.close_reason is not CloseReason.MANUAL:
        notes.append(f"position #{closed.id} closed by {closed.close_reason} before the manual close")
        return None
    return closed


async def test_approve_open_close_in_the_interactive_demo(tmp_path: Path) -> None:
    from smt_tui.app import open_console
    from smt_tui.state import ConsoleConfig

    db = tmp_path / "demo.db"
    Store.open(db).close()
    engine_log = (tmp_path / "engine.log").open("w")  # a file, not a pipe nobody drains
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
        stderr=engine_log,
    )
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        while not EngineLock(db).is_held_elsewhere():
            assert engine.poll() is None and time.monotonic() < deadline, "demo engine did not start"
            await asyncio.sleep(0.1)
        watcher = Store.open(db, readonly=True)
        clock = AcceleratedClock(DEMO_FACTOR, DEMO_START, real_start)
        settings = demo_settings(db, approval=ApprovalMode.MANUAL)
        app = open_console(db, config=ConsoleConfig.from_settings(settings), now=clock.now)
        closed: Position | None = None
        notes: list[str] = []
        async with app.run_test(size=(130, 34)) as pilot:
            for _ in range(ATTEMPTS):
                closed = await approve_then_close(pilot, watcher, notes)
                if closed is not None:
                    break
        app.model.store.close()
        watcher.close()
        assert closed is not None, f"no manual close in {ATTEMPTS} approve/close rounds: {notes}"
        assert closed.close_reason is CloseReason.MANUAL and closed.realized_pnl is not None
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=HANG_GUARD_S)
        engine_log.close()
    assert engine.returncode == 0
    assert not EngineLock(db).is_held_elsewhere()

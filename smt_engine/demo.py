"""The embedded default: paper venue, synthetic market and synthetic whales on an accelerated clock.

Same engine, same risk gates, same console as live: only the venue, the data sources and the clock
differ (docs/design.md, principle 7). The demo runs in a competition's final days so positions use the short
final-phase targets and hold limit, and trades open and close within minutes of demo time.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smt_engine.clock import Clock, SimulatedClock
from smt_engine.config import Settings, load_settings
from smt_engine.demo_pace import Anchor, FollowedClock, PacedClock, pace_by_waiting_proposals, pace_file
from smt_engine.domain import ApprovalMode, Mode, PositionState
from smt_engine.secrets import SecretStore
from smt_engine.store import EngineLock, Store

if TYPE_CHECKING:
    from smt_engine.whales.source import WhaleSource

log = logging.getLogger(__name__)

DEMO_FACTOR = 60.0
"""Interactive demo speed: one real second is one demo minute."""

DEMO_START = datetime(2026, 1, 30, 8, 0, tzinfo=UTC)
"""Demo time starts in the last days of a competition window (final-days rules apply)."""


def default_demo_db() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "smt" / "demo" / f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}.db"


def demo_settings(db: Path, *, approval: ApprovalMode, base: Settings | None = None) -> Settings:
    """The operator's settings (for their keys and analyst choice) with the demo's mode, pace and window."""
    s = (base or Settings()).model_copy(deep=True)
    s.engine.mode = Mode.DEMO
    s.engine.approval = approval
    s.engine.database = db
    s.engine.signal_interval = timedelta(minutes=30)
    s.engine.min_cycle_gap = timedelta(minutes=5)
    s.engine.monitor_interval = timedelta(seconds=30)
    s.engine.heartbeat_interval = timedelta(minutes=1)
    # Two demo seconds: under 0.05 s at full speed, and at most two real seconds to pick up an approval
    # while the clock runs at real time for a waiting proposal.
    s.engine.command_poll_interval = (
        timedelta(seconds=2) if approval is ApprovalMode.MANUAL else timedelta(seconds=1)
    )
    s.competition.start = (DEMO_START - timedelta(days=18)).date()
    s.competition.end = (DEMO_START + timedelta(days=2)).date()
    s.risk.final_days_max_hold = timedelta(hours=1)
    s.trading.proposal_ttl = timedelta(minutes=20)
    s.trading.fill_timeout = timedelta(seconds=30)
    s.trading.protection_timeout = timedelta(seconds=30)
    s.ailog.enabled = False
    return s


@dataclass
class DemoSummary:
    cycles: int
    proposals: int
    trades_opened: int
    trades_closed: int
    closes_by_reason: dict[str, int]
    final_equity: str
    database: str
    simulated_minutes: float
    wall_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def text(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.closes_by_reason.items())) or "none"
        return "\n".join(
            [
                f"demo: {self.simulated_minutes:.0f} simulated minutes in {self.wall_seconds:.1f} s",
                f"cycles           {self.cycles}",
                f"proposals        {self.proposals}",
                f"trades opened    {self.trades_opened}",
                f"trades closed    {self.trades_closed} ({reasons})",
                f"final equity     {self.final_equity} USDT",
                f"database         {self.database}",
                f"look at it:      smt tui --db {self.database}",
            ]
        )


def summarise(store: Store, simulated_minutes: float, wall_seconds: float) -> DemoSummary:
    """Every figure read back from the database, so the summary and the database cannot disagree."""
    positions = store.positions.select()
    closed = [p for p in positions if p.state is PositionState.CLOSED]
    latest = store.account.latest()
    return DemoSummary(
        cycles=store.cycles.count(),
        proposals=store.proposals.count(),
        trades_opened=len(positions),
        trades_closed=len(closed),
        closes_by_reason=dict(Counter(p.close_reason.value if p.close_reason else "unknown" for p in closed)),
        final_equity=str(latest.equity if latest else Decimal(0)),
        database=str(store.path),
        simulated_minutes=simulated_minutes,
        wall_seconds=round(wall_seconds, 2),
    )


async def run_engine(
    settings: Settings,
    store: Store,
    clock: Clock,
    *,
    stop_after: float | None = None,
    whales: WhaleSource | None = None,
    companions: Sequence[Coroutine[Any, Any, None]] = (),
) -> None:
    """Run the real engine on ``clock``; a ``SimulatedClock`` is driven as fast as the machine allows.

    ``whales`` replaces the demo's synthetic whale feed (tests compare decisions with and without it).
    ``companions`` run beside the engine until it stops (the demo's pace keeper and parent watchdog).
    """
    from smt_engine.runtime import build_runtime

    runtime = build_runtime(settings, store, clock, SecretStore(), whales=whales)
    task = asyncio.create_task(runtime.engine.run())
    helpers = [asyncio.create_task(c) for c in companions]
    try:
        if isinstance(clock, SimulatedClock):
            assert stop_after is not None
            end = clock.now() + timedelta(minutes=stop_after)
            step = min(15.0, settings.engine.monitor_interval.total_seconds())
            while clock.now() < end and not task.done():
                await clock.advance(step)
            runtime.engine.stop()
        else:
            runtime.engine.install_signal_handlers()
        await task
    finally:
        for helper in helpers:
            helper.cancel()
        if not task.done():
            runtime.engine.stop()
            await task
        await runtime.aclose()


def run_headless(minutes: float, db: Path, base: Settings | None = None) -> DemoSummary:
    settings = demo_settings(db, approval=ApprovalMode.AUTO, base=base)
    with EngineLock(db):
        store = Store.open(db)
        started = time.perf_counter()
        try:
            asyncio.run(run_engine(settings, store, SimulatedClock(DEMO_START), stop_after=minutes))
            return summarise(store, minutes, time.perf_counter() - started)
        finally:
            store.close()


def _engine_base(config: Path | None) -> Settings:
    return load_settings(config) if config else load_settings()


def engine_stop_wait(settings: Settings) -> float:
    """Seconds the console waits after SIGTERM before SIGKILL: the engine's own drain plus room to finish."""
    return settings.engine.shutdown_timeout.total_seconds() + 10


def engine_process_main(
    db: Path, real_start: float, config: Path | None, parent_pid: int | None = None
) -> None:
    """The interactive demo's engine, in its own process (the console is the operator's foreground).

    It dies with its console (``parent_pid``), SSH drop included, and runs at real time while a proposal
    waits for the operator (``demo_pace``).
    """
    die_with_parent(parent_pid)
    settings = demo_settings(db, approval=ApprovalMode.MANUAL, base=_engine_base(config))
    with EngineLock(db):
        store = Store.open(db)
        clock = PacedClock(pace_file(db), DEMO_FACTOR, DEMO_START, real_start)
        companions = [pace_by_waiting_proposals(clock, store, DEMO_FACTOR)]
        if parent_pid is not None:
            companions.append(watch_parent(parent_pid))
        try:
            asyncio.run(run_engine(settings, store, clock, companions=companions))
        finally:
            store.close()


PR_SET_PDEATHSIG = 1
PARENT_CHECK = 1.0
"""Real seconds between two looks at the parent (where the parent-death signal is not available)."""


def die_with_parent(parent_pid: int | None) -> None:
    """Ask the kernel for SIGTERM when the console dies (Linux), and stop now if it already has."""
    if parent_pid is None:
        return
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError) as exc:  # no prctl: the watchdog still notices
            log.info("parent-death signal not available: %s", exc)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)  # the console died before the signal was armed


async def watch_parent(parent_pid: int) -> None:
    """SIGTERM ourselves (a clean engine stop) once the console that started us is gone."""
    while True:
        if os.getppid() != parent_pid:
            break
        await asyncio.sleep(PARENT_CHECK)
    log.warning("the demo console (pid %d) is gone: stopping the demo engine", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)


def run_interactive(db: Path, config: Path | None) -> int:
    """Start the demo engine in the background, attach the console, stop the engine when it quits."""
    from smt_engine.store import EngineLock
    from smt_tui.app import open_console
    from smt_tui.state import ConsoleConfig

    db.parent.mkdir(parents=True, exist_ok=True)
    Store.open(db).close()
    real_start = time.time()
    cmd = [sys.executable, "-m", "smt_engine.cli", "demo", "--engine-process", "--db", str(db)]
    cmd += ["--real-start", repr(real_start), "--parent-pid", str(os.getpid())]
    if config:
        cmd += ["--config", str(config)]
    # The settings the engine process runs with: its drain sets the stop wait, its pairs and fees the console.
    settings = demo_settings(db, approval=ApprovalMode.MANUAL, base=_engine_base(config))
    stop_wait = engine_stop_wait(settings)
    log_path = db.with_suffix(".engine.log")
    with log_path.open("ab") as engine_log:
        engine = subprocess.Popen(cmd, stdout=engine_log, stderr=engine_log, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not EngineLock(db).is_held_elsewhere():
            if engine.poll() is not None or time.monotonic() > deadline:
                print(f"the demo engine did not start; see {log_path}", file=sys.stderr)
                return 1
            time.sleep(0.1)
        clock = FollowedClock(pace_file(db), Anchor(DEMO_START, real_start, DEMO_FACTOR))
        root = logging.getLogger()
        for h in list(root.handlers):
            root.removeHandler(h)
        root.addHandler(logging.NullHandler())
        app = open_console(db, config=ConsoleConfig.for_demo(settings), now=clock.now)
        try:
            app.run()
        finally:
            app.model.store.close()
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
            try:
                engine.wait(timeout=stop_wait)
            except subprocess.TimeoutExpired:
                engine.kill()
                engine.wait()
    print(f"demo engine stopped; the demo database is {db} (reopen with `smt tui --db {db}`)")
    return 0

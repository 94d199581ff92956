"""The engine with stand-ins around it: a monitor whose ticks answer from a script, a cycle, a notifier,
an uploader, a stream supervisor and systemd, each saying what the engine asked of it and when."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import EngineState
from smt_engine.engine import Engine
from smt_engine.sdnotify import SdNotify
from smt_engine.store import Store
from smt_engine.trading.kill_switch import KillSwitch
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.tick_report import TickReport

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class RecordingNotify(SdNotify):
    """systemd's notify socket, kept in a list (``WATCHDOG_USEC`` as systemd would set it)."""

    def __init__(self, watchdog_usec: str = "") -> None:
        super().__init__({"WATCHDOG_USEC": watchdog_usec})
        self.sent: list[tuple[str, ...]] = []

    def send(self, *fields: str) -> bool:
        self.sent.append(fields)
        return True


class ScriptedMonitor:
    """The monitor as the engine drives it: each tick returns the next scripted report (then healthy ones)
    and is noted with the time and whether it was the start-up reconciliation."""

    def __init__(self, settings: Settings, store: Store, clock: SimulatedClock) -> None:
        self.clock = clock
        self.exchange = SimpleNamespace(last_price=None)
        self.kill_switch = KillSwitch(settings, store, clock)
        self.on_halt: Any = None
        self.pushed: Any = None
        self.recheck_soon = False
        self.reports: list[TickReport] = []
        self.ticks: list[tuple[datetime, bool]] = []

    async def tick(self, *, startup: bool = False) -> TickReport:
        self.ticks.append((self.clock.now(), startup))
        return self.reports.pop(0) if self.reports else TickReport()


class ScriptedCycle:
    """A signal cycle: noted with its trigger; it holds until ``release`` is set when ``hold`` is, and notes
    the engine state recorded when it is cancelled."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.triggers: list[str] = []
        self.hold = False
        self.release = asyncio.Event()
        self.cancelled_in: list[EngineState] = []

    async def run_cycle(self, trigger: str) -> str:
        self.triggers.append(trigger)
        if self.hold:
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled_in.append(self.store.engine.state_or(EngineState.STOPPED))
                raise
        return f"c{len(self.triggers)}"


class StandInNotifier:
    """The operator notifier: notes the engine state it started in and the grace it was flushed with."""

    def __init__(self, engine_state: Callable[[], object]) -> None:
        self.engine_state = engine_state
        self.started_in: list[object] = []
        self.flushed: list[timedelta] = []

    async def run(self) -> None:
        self.started_in.append(self.engine_state())
        await asyncio.Event().wait()

    async def flush(self, grace: timedelta) -> None:
        self.flushed.append(grace)


class StandInUploader:
    def __init__(self) -> None:
        self.rounds = 0

    async def run_once(self) -> object:
        self.rounds += 1
        return None


class StandInStreams:
    """The stream supervisor: ``run`` holds until told to end (or to fail with ``error``)."""

    def __init__(self) -> None:
        self.pushed = object()
        self.private_down = False
        self.wake = asyncio.Event()
        self.end = asyncio.Event()
        self.error: Exception | None = None
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        await self.end.wait()
        if self.error is not None:
            raise self.error


def messages(store: Store, kind: str) -> list[str]:
    """The messages of one event kind, oldest first (what the console's event list shows)."""
    return [e.message for e in reversed(store.events.of_kind(kind))]


def state_row(store: Store) -> tuple[EngineState, str | None]:
    """The engine state and its reason as recorded (what ``smt status`` shows)."""
    row = store.engine.current()
    assert row is not None
    return row.state, row.state_reason


def engine_for(
    store: Store,
    clock: SimulatedClock,
    settings: Settings | None = None,
    *,
    notify: RecordingNotify | None = None,
    **parts: Any,
) -> tuple[Engine, ScriptedMonitor, ScriptedCycle]:
    """An ``Engine`` over the stand-ins (``parts``: notifier, uploader, streams...)."""
    settings = settings or Settings()
    monitor = ScriptedMonitor(settings, store, clock)
    cycle = ScriptedCycle(store)
    engine = Engine(
        settings,
        store,
        clock,
        cast(Monitor, monitor),
        cycle,
        notify=notify or RecordingNotify(),
        **parts,
    )
    return engine, monitor, cycle


async def turns(done: Callable[[], bool], limit: int = 500) -> None:
    """Let the loop run until ``done()`` holds (a number of turns, never a time)."""
    for _ in range(limit):
        if done():
            return
        await asyncio.sleep(0)
    assert done(), "the engine never got there"


async def settle() -> None:
    """Let every task started so far reach its first wait (so a sleep counts from now, not from later)."""
    for _ in range(20):
        await asyncio.sleep(0)

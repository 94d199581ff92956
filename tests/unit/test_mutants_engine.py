"""The engine's own life around its stand-ins: a start that fails what a previous run left running,
reconciles before any entry (retrying at a bounded pace) and then runs; a stop that waits for the work in
flight up to its limit and says what it left (the heartbeat, the monitor's pace and the kill switch are in
``test_mutants_engine_watch.py``)."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from datetime import timedelta

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.commands.results import PauseResult
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, CommandKind, CommandState, EngineState, EventLevel, Mode
from smt_engine.engine import Engine
from smt_engine.store import Store
from smt_engine.store.identity import DatabaseSwapped
from smt_engine.store.records import Command, EngineStatus
from smt_engine.trading.tick_report import TickReport
from tests.unit.engine_support import (
    T0,
    RecordingNotify,
    StandInNotifier,
    StandInStreams,
    StandInUploader,
    engine_for,
    messages,
    settle,
    state_row,
    turns,
)


def failing(error: str, n: int) -> list[TickReport]:
    return [TickReport(ok=False, error=error) for _ in range(n)]


class BlockingCommands:
    """The command service with one command in hand until ``release`` (or never)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.executing = False

    async def execute(self, command: Command) -> PauseResult:
        self.executing = True
        await self.release.wait()
        return PauseResult(state=EngineState.PAUSED)


async def stop_with_work_in_hand(
    engine: Engine, store: Store, run: asyncio.Task[None], release: asyncio.Event
) -> None:
    """Stop while shielded work is held: the engine says it drains and stays running until ``release``."""
    engine.stop()
    await turns(lambda: messages(store, "engine.draining") != [])
    assert not run.done()
    assert state_row(store) == (EngineState.RUNNING, None)  # not stopped while the work runs
    release.set()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run


# --------------------------------------------------------------------------- start and stop


async def test_a_start_fails_what_was_left_running_reconciles_runs_and_stops_saying_each(
    store: Store, clock: SimulatedClock
) -> None:
    left = store.commands.enqueue(CommandKind.CLOSE_ALL, T0, "cli:alice")
    store.commands.claim_next(T0)  # a previous engine took it and died
    notify = RecordingNotify()
    engine, monitor, cycle = engine_for(store, clock, notify=notify)
    monitor.reports = [
        TickReport(
            adopted=[7],
            closed=[(3, CloseReason.TAKE_PROFIT), (4, CloseReason.UNKNOWN)],
            orphans_flagged=["o1"],
        )
    ]
    run = asyncio.create_task(engine.run())
    await turns(lambda: cycle.triggers != [])
    assert left.id is not None
    failed = store.commands.get(left.id)
    assert failed is not None
    assert (failed.state, failed.error) == (CommandState.FAILED, "engine stopped while running this command")
    assert monitor.ticks[0] == (T0, True)  # the start-up reconciliation, before the first cycle
    assert engine.reconciled is True
    assert messages(store, "engine.reconciled") == [
        "start-up reconciliation done: 1 adopted, 2 closed, 1 orphan order(s) flagged"
    ]
    assert messages(store, "engine.running") == ["engine running (paper mode)"]
    assert state_row(store) == (EngineState.RUNNING, None)
    assert notify.sent[notify.sent.index(("READY=1", "STATUS=running, 0 open, next cycle 12:00 UTC"))] == (
        "READY=1",
        "STATUS=running, 0 open, next cycle 12:00 UTC",
    )
    assert [f for f in notify.sent if f[0] == "READY=1"] == [
        ("READY=1", "STATUS=running, 0 open, next cycle 12:00 UTC")
    ]
    assert cycle.triggers == ["schedule"]
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run
    assert state_row(store) == (EngineState.STOPPED, "stopped")
    assert messages(store, "engine.stopped") == ["engine stopped"]
    assert messages(store, "engine.draining") == []  # nothing was in flight
    assert notify.sent[-2:] == [("STOPPING=1",), ("STATUS=stopped, 0 open, next cycle 16:00 UTC",)]


async def test_each_engine_task_is_named_for_what_it_runs(store: Store, clock: SimulatedClock) -> None:
    """A dump of a stuck engine names the loop that is stuck."""
    engine, _, cycle = engine_for(store, clock, uploader=StandInUploader(), streams=StandInStreams())
    engine.notifier = StandInNotifier(lambda: engine.state)
    run = asyncio.create_task(engine.run())
    await turns(lambda: cycle.triggers != [])
    names = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
    assert {
        "heartbeat",
        "notifier",
        "cycle",
        "monitor",
        "commands",
        "limits",
        "ailog",
        "streams",
        "stop",
    } <= names
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run


async def test_the_notifier_starts_before_reconciliation_and_is_flushed_last(
    store: Store, clock: SimulatedClock
) -> None:
    """An engine stuck reconciling still tells the operator; the stop's own news goes out with its grace."""
    engine, monitor, _ = engine_for(
        store, clock, settings=Settings.model_validate({"notify": {"timeout": "7s"}})
    )
    notifier = StandInNotifier(lambda: engine.state)
    engine.notifier = notifier
    monitor.reports = failing("venue down", 100)
    run = asyncio.create_task(engine.run())
    await turns(lambda: notifier.started_in != [])
    assert notifier.started_in == [EngineState.RECONCILING]
    assert notifier.flushed == []
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run
    assert notifier.flushed == [timedelta(seconds=7)]
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_the_uploader_and_the_streams_run_beside_trading(store: Store, clock: SimulatedClock) -> None:
    uploader = StandInUploader()
    streams = StandInStreams()
    engine, monitor, _ = engine_for(store, clock, uploader=uploader, streams=streams)
    assert monitor.pushed is streams.pushed  # the monitor settles the fills the stream pushes
    run = asyncio.create_task(engine.run())
    await turns(lambda: uploader.rounds == 1 and streams.runs == 1)
    await clock.advance(15)
    assert uploader.rounds == 2
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run
    assert streams.runs == 1
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_a_failing_engine_task_stops_the_engine_with_its_error(
    store: Store, clock: SimulatedClock
) -> None:
    streams = StandInStreams()
    streams.error = RuntimeError("stream task broke")
    engine, _, _ = engine_for(store, clock, streams=streams)
    run = asyncio.create_task(engine.run())
    await turns(lambda: streams.runs == 1)
    streams.end.set()
    await turns(run.done)
    with pytest.raises(RuntimeError, match="stream task broke"):
        await run
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_an_engine_task_that_ends_stops_the_engine_cleanly(store: Store, clock: SimulatedClock) -> None:
    """The engine never runs on without one of its tasks (here a stream supervisor with nothing to run)."""
    streams = StandInStreams()
    engine, _, _ = engine_for(store, clock, streams=streams)
    run = asyncio.create_task(engine.run())
    await turns(lambda: streams.runs == 1)
    streams.end.set()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_a_database_deleted_under_a_running_engine_stops_it_within_a_heartbeat(
    store: Store, clock: SimulatedClock
) -> None:
    """One engine per database: the heartbeat watches the file the engine opened, from the start."""
    engine, _, cycle = engine_for(store, clock)
    notifier = StandInNotifier(lambda: engine.state)
    engine.notifier = notifier
    run = asyncio.create_task(engine.run())
    await turns(lambda: cycle.triggers != [])
    watched = engine._identity
    assert watched is not None
    assert watched.path == store.path
    os.unlink(store.path)
    await clock.advance(5)
    await turns(run.done)
    with pytest.raises(DatabaseSwapped):
        await run
    assert len(store.events.of_kind("engine.database_lost")) == 1
    assert state_row(store) == (EngineState.STOPPED, "stopped")
    assert notifier.flushed == [Settings().notify.timeout]
    assert watched._fd is None  # the watch's own handle on the file is let go


# --------------------------------------------------------------------------- start-up reconciliation


async def test_a_failing_start_up_reconciliation_retries_at_doubling_delays_up_to_two_minutes(
    store: Store, clock: SimulatedClock
) -> None:
    engine, monitor, cycle = engine_for(store, clock)
    monitor.reports = failing("venue down", 8)
    run = asyncio.create_task(engine.run())
    await turns(lambda: len(monitor.ticks) == 1)
    await settle()
    assert state_row(store) == (EngineState.RECONCILING, None)
    row = store.engine.current()
    assert row is not None
    assert row.last_error == "venue down"
    for _ in range(600):
        if len(monitor.ticks) == 9:
            break
        assert cycle.triggers == []  # no cycle (so no entry) before the reconciliation succeeded
        assert engine.reconciled is False
        await clock.advance(1)
    await turns(lambda: cycle.triggers != [])
    at = [t for t, _ in monitor.ticks[:9]]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(at)] == [
        5,
        10,
        20,
        40,
        80,
        120,
        120,
        120,
    ]
    assert all(startup for _, startup in monitor.ticks[:9])
    assert messages(store, "engine.reconcile_failed") == [
        f"start-up reconciliation failed (venue down); no entries until it succeeds, retrying in {s} s"
        for s in (5, 10, 20, 40, 80, 120, 120, 120)
    ]
    assert engine.reconciled is True
    assert state_row(store) == (EngineState.RUNNING, None)
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run


async def test_a_halted_engine_reconciles_and_stays_halted(store: Store, clock: SimulatedClock) -> None:
    """A kill switch survives a restart: only an operator's resume clears it."""
    store.engine.put(
        EngineStatus(mode=Mode.PAPER, state=EngineState.HALTED, pid=1, started_at=T0, heartbeat_at=T0)
    )
    engine, monitor, _ = engine_for(store, clock)
    monitor.reports = failing("venue down", 1)
    run = asyncio.create_task(engine.run())
    await turns(lambda: len(monitor.ticks) == 1)
    await settle()
    assert state_row(store) == (EngineState.HALTED, None)
    await clock.advance(5)
    await turns(lambda: engine.reconciled)
    await turns(lambda: "engine.running" in {e.kind for e in store.events.of_kind("engine.running")})
    assert state_row(store) == (EngineState.HALTED, None)
    assert engine.state is EngineState.HALTED
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run


async def test_a_stop_while_reconciling_ends_the_run_without_ever_running(
    store: Store, clock: SimulatedClock
) -> None:
    notify = RecordingNotify()
    engine, monitor, cycle = engine_for(store, clock, notify=notify)
    monitor.reports = failing("venue down", 100)
    run = asyncio.create_task(engine.run())
    await turns(lambda: len(monitor.ticks) == 1)
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run
    assert len(monitor.ticks) == 1
    assert engine.reconciled is False
    assert cycle.triggers == []
    assert messages(store, "engine.running") == []
    assert not [f for f in notify.sent if f[0] == "READY=1"]
    assert state_row(store) == (EngineState.STOPPED, "stopped")


# --------------------------------------------------------------------------- the stop's drain


async def test_stopping_waits_for_a_command_in_flight_then_says_stopped(
    store: Store, clock: SimulatedClock
) -> None:
    engine, _, _ = engine_for(store, clock)
    commands = BlockingCommands()
    engine.commands = commands
    queued = store.commands.enqueue(CommandKind.PAUSE, T0, "cli:alice")
    run = asyncio.create_task(engine.run())
    await turns(lambda: commands.executing)
    await stop_with_work_in_hand(engine, store, run, commands.release)
    assert messages(store, "engine.draining") == [
        "stopping: waiting up to 60 s for 1 order operation(s) in flight"
    ]
    assert queued.id is not None
    done = store.commands.get(queued.id)
    assert done is not None
    assert done.state is CommandState.DONE
    assert messages(store, "engine.drain_timeout") == []
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_stopping_gives_up_past_the_shutdown_timeout_and_says_what_is_left(
    store: Store, clock: SimulatedClock
) -> None:
    settings = Settings()
    settings.engine.shutdown_timeout = timedelta(milliseconds=50)
    engine, _, _ = engine_for(store, clock, settings)
    commands = BlockingCommands()
    engine.commands = commands
    store.commands.enqueue(CommandKind.PAUSE, T0, "cli:alice")
    run = asyncio.create_task(engine.run())
    await turns(lambda: commands.executing)
    engine.stop()
    await asyncio.wait_for(run, 5)  # bounded: a drain that ignored its limit would wait for ever
    assert messages(store, "engine.draining") == [
        "stopping: waiting up to 0 s for 1 order operation(s) in flight"
    ]
    (left,) = store.events.of_kind("engine.drain_timeout")
    assert (left.level, left.message) == (
        EventLevel.CRITICAL,
        "stopped with 1 order operation(s) still in flight; the next start reconciles them",
    )
    assert state_row(store) == (EngineState.STOPPED, "stopped")
    commands.release.set()
    await engine.work.drain(30)


async def test_stopping_mid_cycle_abandons_the_analysis(store: Store, clock: SimulatedClock) -> None:
    engine, _, cycle = engine_for(store, clock)
    cycle.hold = True
    run = asyncio.create_task(engine.run())
    await turns(lambda: engine.cycle_running())
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run
    assert cycle.cancelled_in == [EngineState.RUNNING]  # the stop is recorded once every task has ended
    assert not engine.cycle_running()
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_a_monitor_tick_under_way_finishes_before_the_engine_stops(
    store: Store, clock: SimulatedClock
) -> None:
    """A tick may be placing a stop: a stop request waits for it instead of cancelling it half-way."""
    engine, monitor, _ = engine_for(store, clock)
    release = asyncio.Event()
    finished: list[bool] = []
    scripted_tick = monitor.tick

    async def holding_tick(*, startup: bool = False) -> TickReport:
        report = await scripted_tick(startup=startup)
        if not startup:
            await release.wait()
            finished.append(True)
        return report

    monitor.tick = holding_tick  # type: ignore[method-assign]
    run = asyncio.create_task(engine.run())
    await turns(lambda: len(monitor.ticks) == 1)  # the start-up reconciliation
    await settle()
    await clock.advance(engine._monitor_period())
    await turns(lambda: len(monitor.ticks) == 2)
    await stop_with_work_in_hand(engine, store, run, release)
    assert finished == [True]
    assert state_row(store) == (EngineState.STOPPED, "stopped")


async def test_sigterm_and_sigint_stop_the_engine_and_sighup_queues_an_audited_reload(
    store: Store, clock: SimulatedClock
) -> None:
    engine, _, _ = engine_for(store, clock)
    loop = asyncio.get_running_loop()
    engine.install_signal_handlers()
    try:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            # A signal the engine left to its default would end this test run instead of failing it.
            assert signal.getsignal(sig) not in (signal.SIG_DFL, signal.default_int_handler), sig
        for sig in (signal.SIGTERM, signal.SIGINT):
            engine.stop_event.clear()
            os.kill(os.getpid(), sig)
            await turns(engine.stop_event.is_set)
        os.kill(os.getpid(), signal.SIGHUP)
        await turns(lambda: store.commands.pending() != [])
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    reload = store.commands.claim_next(T0)
    assert reload is not None
    assert (reload.kind, reload.actor) == (CommandKind.RELOAD_CONFIG, "signal:SIGHUP")

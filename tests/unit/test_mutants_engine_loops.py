"""The engine's running loops around its stand-ins: operator commands are picked at their poll and answered
with a result or the reason they failed, a monitor tick that fails is recorded and the next one still runs,
the limits and the AI-log uploads go on past a failed pass, and the signals stop the engine or queue a
reload, each leaving its event (the start, the stop and the heartbeat are in ``test_mutants_engine.py`` and
``test_mutants_engine_watch.py``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import datetime, timedelta

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import PauseResult
from smt_engine.config import Settings
from smt_engine.domain import CommandKind, CommandState, EngineState, EventLevel
from smt_engine.engine import Engine
from smt_engine.logsetup import EventsHandler
from smt_engine.store import Store
from smt_engine.store.records import Command
from smt_engine.trading.tick_report import TickReport
from tests.unit.engine_support import (
    T0,
    StandInUploader,
    engine_for,
    messages,
    settle,
    state_row,
    turns,
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def started(engine: Engine) -> asyncio.Task[None]:
    """The engine running (reconciled, every loop at its first wait)."""
    run = asyncio.create_task(engine.run())
    await turns(lambda: engine.state is EngineState.RUNNING)
    await settle()
    return run


async def stopped(engine: Engine, run: asyncio.Task[None]) -> None:
    engine.stop()
    await turns(run.done)  # never a hang: a stop takes a few turns of the loop
    await run


class ScriptedCommands:
    """The command service: each command answers with the next scripted error (then a pause), and notes
    whether the engine's lock was held while it ran."""

    def __init__(self, engine: Engine, errors: list[Exception] | None = None) -> None:
        self.engine = engine
        self.errors = errors or []
        self.executed: list[tuple[int | None, CommandKind, bool]] = []

    async def execute(self, command: Command) -> PauseResult:
        self.executed.append((command.id, command.kind, self.engine.lock.locked()))
        if self.errors:
            raise self.errors.pop(0)
        return PauseResult(state=EngineState.PAUSED)


# --------------------------------------------------------------------------- operator commands


async def test_a_command_is_taken_at_the_next_poll_run_under_the_lock_and_its_result_written(
    store: Store, clock: SimulatedClock
) -> None:
    settings = Settings.model_validate({"engine": {"command_poll_interval": "3s"}})
    engine, _, _ = engine_for(store, clock, settings)
    commands = ScriptedCommands(engine)
    engine.commands = commands
    run = await started(engine)
    first = store.commands.enqueue(CommandKind.PAUSE, T0, "cli:alice")
    await clock.advance(2.9)
    assert commands.executed == []  # the loop polls at its pace, not at once
    await clock.advance(0.1)
    assert commands.executed == [(first.id, CommandKind.PAUSE, True)]
    assert first.id is not None
    done = store.commands.get(first.id)
    assert done is not None
    assert (done.state, done.claimed_at, done.completed_at, done.result, done.error) == (
        CommandState.DONE,
        at(3),
        at(3),
        {"state": "paused"},
        None,
    )
    assert messages(store, "command.done") == [
        f"command {first.id} pause by cli:alice: done {{'state': 'paused'}}"
    ]
    second = store.commands.enqueue(CommandKind.RESUME, at(3), "tui:bob")
    await clock.advance(3)  # an empty poll and a handled command both leave the loop polling
    assert commands.executed[1:] == [(second.id, CommandKind.RESUME, True)]
    await stopped(engine, run)


@pytest.mark.parametrize(
    ("error", "stored", "said", "level"),
    [
        (
            CommandRejected("XRP-USDT is not a traded pair"),
            "XRP-USDT is not a traded pair",
            "failed: XRP-USDT is not a traded pair",
            EventLevel.WARNING,
        ),
        (
            ValueError("size must be positive"),
            "size must be positive",
            "failed: size must be positive",
            EventLevel.WARNING,
        ),
        (KeyError("no proposal 9"), "no proposal 9", "failed: 'no proposal 9'", EventLevel.WARNING),
        (
            RuntimeError("venue client closed"),
            "RuntimeError: venue client closed",
            "crashed",
            EventLevel.ERROR,
        ),
    ],
    ids=["refused", "bad value", "unknown id", "crash"],
)
async def test_a_failed_command_is_answered_with_its_reason_and_the_loop_goes_on(
    store: Store, clock: SimulatedClock, error: Exception, stored: str, said: str, level: EventLevel
) -> None:
    engine, _, _ = engine_for(store, clock)
    commands = ScriptedCommands(engine, [error])
    engine.commands = commands
    run = await started(engine)
    failed = store.commands.enqueue(CommandKind.CLOSE, T0, "cli:alice")
    after = store.commands.enqueue(CommandKind.PAUSE, T0, "cli:alice")
    await clock.advance(1)
    assert failed.id is not None
    assert after.id is not None
    row = store.commands.get(failed.id)
    assert row is not None
    assert (row.state, row.error, row.completed_at) == (CommandState.FAILED, stored, at(1))
    (event,) = store.events.of_kind("command.failed")
    assert (event.level, event.message) == (level, f"command {failed.id} close {said}")
    done = store.commands.get(after.id)
    assert done is not None
    assert done.state is CommandState.DONE
    await stopped(engine, run)


async def test_an_engine_without_the_command_service_fails_each_command_saying_so(
    store: Store, clock: SimulatedClock
) -> None:
    engine, _, _ = engine_for(store, clock)
    run = await started(engine)
    queued = store.commands.enqueue(CommandKind.RELOAD_CONFIG, T0, "cli:alice")
    await clock.advance(1)
    assert queued.id is not None
    row = store.commands.get(queued.id)
    assert row is not None
    assert (row.state, row.error) == (CommandState.FAILED, "reload_config is not available in this engine")
    await stopped(engine, run)


# --------------------------------------------------------------------------- the monitor's ticks


async def test_a_failed_tick_is_recorded_a_crashed_one_logged_and_the_next_still_runs_under_the_lock(
    store: Store, clock: SimulatedClock
) -> None:
    housekept: list[tuple[datetime, bool]] = []
    engine, monitor, _ = engine_for(store, clock)

    async def housekeeping(now: datetime) -> None:
        housekept.append((now, engine.lock.locked()))

    engine.housekeeping = housekeeping
    monitor.reports = [TickReport(), TickReport(ok=False, error="positions unreadable: venue timeout")]
    run = await started(engine)
    assert housekept == []  # the start-up reconciliation does no housekeeping
    await clock.advance(15)
    assert monitor.ticks[1:] == [(at(15), False)]
    row = store.engine.current()
    assert row is not None
    assert row.last_error == "positions unreadable: venue timeout"
    assert housekept == [(at(15), True)]
    scripted = monitor.tick

    async def crashing(*, startup: bool = False) -> TickReport:
        await scripted(startup=startup)
        raise RuntimeError("reconcile bug")

    monitor.tick = crashing  # type: ignore[method-assign]
    await clock.advance(15)
    (crash,) = store.events.of_kind("monitor.failed")
    assert (crash.level, crash.message) == (EventLevel.ERROR, "monitor tick failed")
    monitor.tick = scripted  # type: ignore[method-assign]
    async with engine.lock:  # an operator command holds the positions
        await clock.advance(15)
        assert len(monitor.ticks) == 3  # the tick waits for the lock
    await turns(lambda: len(monitor.ticks) == 4)
    assert housekept[1:] == [(at(45), True)]
    await stopped(engine, run)


# --------------------------------------------------------------------------- limits and uploads


class FlakyLimits:
    """The limits publisher: its first pass fails; each pass notes the engine state it was given."""

    def __init__(self) -> None:
        self.states: list[EngineState] = []

    async def publish(self, state: EngineState) -> bool:
        self.states.append(state)
        if len(self.states) == 1:
            raise RuntimeError("limits table locked")
        return True

    def interval(self) -> float:
        return 7.0


async def test_the_limits_are_published_with_the_engine_state_and_a_failed_pass_does_not_stop_them(
    store: Store, clock: SimulatedClock
) -> None:
    engine, _, _ = engine_for(store, clock)
    limits = FlakyLimits()
    engine.limits = limits  # type: ignore[assignment]
    run = await started(engine)
    assert limits.states == [EngineState.RUNNING]
    (failed,) = store.events.of_kind("limits.failed")
    assert (failed.level, failed.message) == (EventLevel.ERROR, "publishing limits failed")
    engine.set_state(EngineState.HALTED, reason="daily loss")
    await clock.advance(6.9)
    assert limits.states == [EngineState.RUNNING]
    await clock.advance(0.1)
    assert limits.states == [EngineState.RUNNING, EngineState.HALTED]
    await stopped(engine, run)


class FlakyUploader(StandInUploader):
    async def run_once(self) -> object:
        await super().run_once()
        if self.rounds == 1:
            raise RuntimeError("bucket unreachable")
        return None


async def test_a_failed_upload_pass_is_logged_and_the_next_one_comes_15_s_later(
    store: Store, clock: SimulatedClock
) -> None:
    uploader = FlakyUploader()
    engine, _, _ = engine_for(store, clock, uploader=uploader)
    run = await started(engine)
    assert uploader.rounds == 1
    (failed,) = store.events.of_kind("ailog.failed")
    assert (failed.level, failed.message) == (EventLevel.ERROR, "AI-log upload pass failed")
    await clock.advance(14.9)
    assert uploader.rounds == 1
    await clock.advance(0.1)
    assert uploader.rounds == 2
    await stopped(engine, run)


# --------------------------------------------------------------------------- the engine's logging


async def test_the_events_table_gets_info_without_changing_a_level_that_already_passes_it(
    store: Store, clock: SimulatedClock
) -> None:
    """A later reload to debug must reach the engine's own loggers: the run pins no level it need not."""
    root = logging.getLogger()
    package = logging.getLogger("smt_engine")
    root.setLevel(logging.INFO)  # as ``setup_logging`` leaves it for an "info" stderr
    package.setLevel(logging.NOTSET)
    engine, _, _ = engine_for(store, clock)
    run = await started(engine)
    assert package.level == logging.NOTSET
    root.setLevel(logging.DEBUG)  # what a reload to a debug stderr does
    assert package.isEnabledFor(logging.DEBUG)
    await stopped(engine, run)
    assert not [h for h in root.handlers if isinstance(h, EventsHandler)]  # the run takes its handler away


async def test_a_quiet_stderr_still_leaves_every_info_event_in_the_table(
    store: Store, clock: SimulatedClock
) -> None:
    root = logging.getLogger()
    root.setLevel(logging.WARNING)
    engine, _, _ = engine_for(store, clock)
    run = await started(engine)
    assert messages(store, "engine.running") == ["engine running (paper mode)"]
    assert root.level == logging.WARNING  # third-party INFO stays off stderr
    assert logging.getLogger("smt_engine").level == logging.INFO
    await stopped(engine, run)


# --------------------------------------------------------------------------- signals


async def test_sighup_queues_an_audited_reload_and_sigterm_and_sigint_stop_the_engine_saying_so(
    store: Store, clock: SimulatedClock
) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        engine, _, _ = engine_for(store, clock)
        run = await started(engine)
        engine.install_signal_handlers()
        try:
            for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                # A signal the engine left to its default would end this test run instead of failing it.
                assert signal.getsignal(handled) not in (signal.SIG_DFL, signal.default_int_handler), handled
            if sig is signal.SIGTERM:
                await clock.advance(4)
                os.kill(os.getpid(), signal.SIGHUP)
                await turns(lambda: store.commands.pending() != [])
                (reload,) = store.commands.pending()
                assert (reload.kind, reload.actor, reload.created_at) == (
                    CommandKind.RELOAD_CONFIG,
                    "signal:SIGHUP",
                    at(4),
                )
            os.kill(os.getpid(), sig)
            await turns(run.done)
            await run
        finally:
            for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(handled)
        assert messages(store, "engine.signal")[-1] == f"received {sig.name}: stopping cleanly"
        assert state_row(store) == (EngineState.STOPPED, "stopped")

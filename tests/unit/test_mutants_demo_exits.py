"""The demo's stop paths: a headless run steps its clock to the end and stops its engine; quitting the
console SIGTERMs the engine and waits its whole drain before a kill (README, "Stopping ... `q` in the
demo"); the console runs on the settings its engine runs with. In process, over stand-ins (the smt and
smt engine exit codes are in ``test_mutants_exits.py``)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from smt_engine import demo, demo_pace
from smt_engine.clock import SimulatedClock, WallClock
from smt_engine.config import load_settings
from smt_engine.domain import ApprovalMode
from smt_engine.secrets import SecretStore
from smt_engine.store import Store
from tests.unit.exits_support import Built, StandInEngine
from tests.unit.test_demo_quit import EngineProcess

# --------------------------------------------------------------------------- the demo's engine


class CountingClock(SimulatedClock):
    """A simulated clock that notes each step it is advanced by (and can fail on one)."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__(demo.DEMO_START)
        self.steps: list[float] = []
        self.fail_on = fail_on

    async def advance(self, seconds: float) -> None:
        self.steps.append(seconds)
        assert len(self.steps) <= 100, "the run would step the clock forever"
        if len(self.steps) == self.fail_on:
            raise RuntimeError("the clock broke")
        await super().advance(seconds)


HANG_GUARD = 30.0  # real seconds; a guard against a run that never ends, never a speed requirement


async def run_engine(*args: Any, **kwargs: Any) -> None:
    await asyncio.wait_for(demo.run_engine(*args, **kwargs), HANG_GUARD)


def demo_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, engine: StandInEngine, **changes: Any
) -> tuple[Built, Any, Store]:
    stand_in = Built(engine)
    monkeypatch.setattr("smt_engine.runtime.build_runtime", stand_in)
    settings = demo.demo_settings(tmp_path / "demo.db", approval=ApprovalMode.AUTO)
    for name, value in changes.items():
        setattr(settings.engine, name, value)
    return stand_in, settings, Store.open(tmp_path / "demo.db")


async def test_a_headless_run_steps_its_clock_by_the_monitor_pace_to_the_end_then_stops_the_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = CountingClock()
    engine = StandInEngine(clock)
    whales = object()
    stand_in, settings, store = demo_run(monkeypatch, tmp_path, engine)
    await run_engine(settings, store, clock, stop_after=1, whales=whales)  # type: ignore[arg-type]
    assert clock.steps == [15.0] * 4
    assert clock.now() == demo.DEMO_START + timedelta(minutes=1)
    assert engine.calls == ["run", "stop", "drained", "aclose"], "no signal handlers on a simulated clock"
    assert stand_in.args[:3] == (settings, store, clock)
    assert isinstance(stand_in.args[3], SecretStore)
    assert stand_in.kwargs == {"whales": whales}
    store.close()


async def test_a_monitor_faster_than_15_seconds_sets_the_step(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = CountingClock()
    engine = StandInEngine(clock)
    _, settings, store = demo_run(monkeypatch, tmp_path, engine, monitor_interval=timedelta(seconds=10))
    await run_engine(settings, store, clock, stop_after=1)
    assert clock.steps == [10.0] * 6
    store.close()


async def test_an_engine_that_ends_on_its_own_ends_the_headless_run_there(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = CountingClock()
    engine = StandInEngine(clock, ends_after=30)
    _, settings, store = demo_run(monkeypatch, tmp_path, engine)
    await run_engine(settings, store, clock, stop_after=60)
    assert clock.steps == [15.0] * 3, "started at 15 s, ended at 45 s: no step after that"
    assert engine.calls == ["run", "ended", "stop", "aclose"]
    store.close()


async def test_a_headless_run_that_fails_still_stops_the_engine_waits_its_drain_and_closes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clock = CountingClock(fail_on=3)
    engine = StandInEngine(clock)
    _, settings, store = demo_run(monkeypatch, tmp_path, engine)
    with pytest.raises(RuntimeError, match="the clock broke"):
        await run_engine(settings, store, clock, stop_after=60)
    assert engine.calls == ["run", "stop", "drained", "aclose"]
    store.close()


async def test_the_interactive_engine_stops_on_its_signal_and_its_companions_are_cancelled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = StandInEngine()
    _, settings, store = demo_run(monkeypatch, tmp_path, engine)
    cancelled: list[str] = []

    async def sigterm() -> None:  # SIGTERM, as the console's quit sends it, once the engine runs
        engine.stop()
        await asyncio.Event().wait()

    async def pace_keeper() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("pace")
            raise

    await run_engine(settings, store, WallClock(), companions=[sigterm(), pace_keeper()])
    for _ in range(3):
        await asyncio.sleep(0)
    assert engine.calls == ["signals", "run", "stop", "drained", "aclose"]
    assert cancelled == ["pace"]
    store.close()


# --------------------------------------------------------------------------- the demo's console


class FakeTime:
    """``time`` for the demo console: a fixed Unix time, a monotonic clock moved only by ``sleep``."""

    def __init__(self, step: float = 0.1) -> None:
        self.now = 1_000_000.0
        self.mono = 0.0
        self.step = step
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        assert len(self.sleeps) < 1000, "the console would wait for the engine forever"
        self.mono += self.step


class Console:
    """The console as ``run_interactive`` opens it: its arguments and what it saw while it ran noted."""

    def __init__(self, clock_moves: float = 0.0, fails: BaseException | None = None) -> None:
        self.opened: list[tuple[Any, dict[str, Any]]] = []
        self.handlers: list[type] = []
        self.closed = False
        self.shown_at: Any = None
        self.clock_moves = clock_moves
        self.fails = fails
        self.time: FakeTime | None = None

    def __call__(self, db: Path, **kwargs: Any) -> Any:
        self.opened.append((db, kwargs))

        def run() -> None:
            self.handlers = [type(h) for h in logging.getLogger().handlers]
            if self.time is not None:
                self.time.now += self.clock_moves
            self.shown_at = kwargs["now"]()
            if self.fails is not None:
                raise self.fails

        def close() -> None:
            self.closed = True

        return SimpleNamespace(run=run, model=SimpleNamespace(store=SimpleNamespace(close=close)))


class Started:
    def __init__(self, engine: EngineProcess) -> None:
        self.engine = engine
        self.cmd: list[str] = []
        self.kwargs: dict[str, Any] = {}
        self.db_ready = False

    def __call__(self, cmd: list[str], **kwargs: Any) -> EngineProcess:
        self.cmd, self.kwargs = cmd, kwargs
        db = Path(cmd[cmd.index("--db") + 1])
        store = Store.open(db, readonly=True)  # refused unless a migrated SMT database
        self.db_ready = store.engine.current() is None
        store.close()
        return self.engine


@pytest.fixture
def root_handlers() -> Iterator[None]:
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    root.handlers[:] = handlers


def interactive(
    monkeypatch: pytest.MonkeyPatch,
    engine: EngineProcess,
    *,
    held: bool = True,
    console: Console | None = None,
    fake_time: FakeTime | None = None,
) -> tuple[Started, Console, FakeTime]:
    import smt_tui.app

    started = Started(engine)
    console = console or Console()
    fake_time = fake_time or FakeTime()
    console.time = fake_time
    monkeypatch.setattr(demo.subprocess, "Popen", started)
    monkeypatch.setattr("smt_engine.store.EngineLock.is_held_elsewhere", lambda _: held)
    monkeypatch.setattr(smt_tui.app, "open_console", console)
    monkeypatch.setattr(demo, "time", fake_time)
    monkeypatch.setattr(demo_pace, "time", fake_time)
    return started, console, fake_time


class DeadEngineProcess(EngineProcess):
    """An engine process that has already exited."""

    def poll(self) -> int | None:
        return 1


class StuckEngineProcess(EngineProcess):
    """An engine that outlives its drain: the timed wait runs out."""

    def wait(self, timeout: float | None = None) -> int:
        super().wait(timeout)
        if timeout is not None:
            raise subprocess.TimeoutExpired("smt", timeout)
        return -9


@pytest.mark.usefixtures("root_handlers")
@pytest.mark.parametrize("with_config", [False, True], ids=["defaults", "config"])
def test_the_demo_engine_starts_detached_on_its_database_with_the_start_time_and_the_consoles_pid(
    with_config: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "new" / "dir" / "demo.db"
    config = tmp_path / "smt.toml"
    config.write_text('[engine]\nshutdown_timeout = "30s"\n[exchange]\ntaker_fee_pct = "0.05"\n')
    engine = EngineProcess()
    started, console, fake_time = interactive(monkeypatch, engine, console=Console(clock_moves=2.0))
    assert demo.run_interactive(db, config if with_config else None) == 0
    expected = [sys.executable, "-m", "smt_engine.cli", "demo", "--engine-process", "--db", str(db)]
    expected += ["--real-start", repr(1_000_000.0), "--parent-pid", str(os.getpid())]
    assert started.cmd == expected + (["--config", str(config)] if with_config else [])
    log = started.kwargs["stdout"]
    assert started.kwargs == {"stdout": log, "stderr": log, "start_new_session": True}
    assert (log.name, log.mode, log.closed) == (str(db.with_suffix(".engine.log")), "ab", True)
    assert started.db_ready, "the database exists, migrated, before the engine starts"
    drain = 30.0 if with_config else 60.0
    assert engine.calls == [("signal", signal.SIGTERM), ("wait", drain + 10)]
    assert fake_time.sleeps == []
    ((opened_db, kwargs),) = console.opened
    from smt_tui.state import ConsoleConfig

    assert opened_db == db
    base = load_settings(config) if with_config else None
    assert kwargs["config"] == ConsoleConfig.for_demo(
        demo.demo_settings(db, approval=ApprovalMode.MANUAL, base=base)
    )
    assert console.shown_at == demo.DEMO_START + timedelta(minutes=2), "demo time runs at 60x from the start"
    assert console.handlers == [logging.NullHandler], "no log line draws over the console"
    assert console.closed
    out = capsys.readouterr().out
    assert out == f"demo engine stopped; the demo database is {db} (reopen with `smt tui --db {db}`)\n"


@pytest.mark.usefixtures("root_handlers")
def test_the_demo_console_is_configured_from_the_file_its_engine_runs_with(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "smt.toml"
    config.write_text('[exchange]\ntaker_fee_pct = "0.05"\n[pairs]\ntier1 = ["ETH"]\n')
    _, console, _ = interactive(monkeypatch, EngineProcess())
    assert demo.run_interactive(tmp_path / "demo.db", config) == 0
    ((_, kwargs),) = console.opened
    assert kwargs["config"].taker_fee_pct == Decimal("0.05"), "the Performance screen's fee is the engine's"
    assert kwargs["config"].whale_pairs == frozenset({"ETH"})


@pytest.mark.usefixtures("root_handlers")
def test_the_engine_log_is_appended_to_in_an_existing_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = tmp_path / "demo.db"
    db.with_suffix(".engine.log").write_text("the last run\n")
    interactive(monkeypatch, EngineProcess())
    assert demo.run_interactive(db, None) == 0
    assert db.with_suffix(".engine.log").read_text() == "the last run\n"


@pytest.mark.usefixtures("root_handlers")
def test_an_engine_that_died_before_taking_the_lock_is_reported_at_once_and_not_signalled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    engine = DeadEngineProcess()
    _, console, fake_time = interactive(monkeypatch, engine, held=False)
    assert demo.run_interactive(db, None) == 1
    assert fake_time.sleeps == []
    assert engine.calls == []
    assert console.opened == []
    assert capsys.readouterr() == (
        "",
        f"the demo engine did not start; see {db.with_suffix('.engine.log')}\n",
    )


@pytest.mark.usefixtures("root_handlers")
def test_an_engine_that_never_takes_the_lock_is_given_20_seconds_then_stopped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    engine = EngineProcess()
    _, console, fake_time = interactive(monkeypatch, engine, held=False, fake_time=FakeTime(step=1.0))
    assert demo.run_interactive(db, None) == 1
    assert fake_time.sleeps == [0.1] * 21, "looked every 0.1 s until 20 s had passed"
    assert engine.calls == [("signal", signal.SIGTERM), ("wait", 70.0)]
    assert console.opened == []
    assert capsys.readouterr() == (
        "",
        f"the demo engine did not start; see {db.with_suffix('.engine.log')}\n",
    )


@pytest.mark.usefixtures("root_handlers")
def test_an_engine_that_outlives_its_drain_is_killed_and_reaped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = StuckEngineProcess()
    interactive(monkeypatch, engine)
    assert demo.run_interactive(tmp_path / "demo.db", None) == 0
    assert engine.calls == [("signal", signal.SIGTERM), ("wait", 70.0), ("kill", None), ("wait", None)]


@pytest.mark.usefixtures("root_handlers")
def test_an_engine_already_gone_when_the_console_quits_is_not_signalled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    engine = DeadEngineProcess()
    _, console, _ = interactive(monkeypatch, engine)
    assert demo.run_interactive(tmp_path / "demo.db", None) == 0
    assert console.closed
    assert engine.calls == []


@pytest.mark.usefixtures("root_handlers")
def test_a_console_that_fails_still_closes_its_store_and_stops_the_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = EngineProcess()
    _, console, _ = interactive(monkeypatch, engine, console=Console(fails=RuntimeError("terminal gone")))
    with pytest.raises(RuntimeError, match="terminal gone"):
        demo.run_interactive(tmp_path / "demo.db", None)
    assert console.closed
    assert engine.calls == [("signal", signal.SIGTERM), ("wait", 70.0)]
    assert capsys.readouterr().out == ""

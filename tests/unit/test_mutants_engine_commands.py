"""The commands that steer the engine: pause never hides a halt, resume says what it cleared and makes the
loss limits count from that moment's equity, a cycle is never run twice at once, and a reload applies a
valid file or refuses with the reason."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.commands.args import PauseArgs, ReloadArgs, ResumeArgs, RunCycleArgs
from smt_engine.commands.engine_handlers import EngineCommands
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import PauseResult, ReloadResult, ResumeResult, RunCycleResult
from smt_engine.config import Settings
from smt_engine.domain import EngineState, EventLevel
from smt_engine.engine import Engine
from smt_engine.logsetup import EventsHandler
from smt_engine.store import Store
from smt_engine.store.records import AccountSnapshot
from smt_engine.trading.risk import ReasonCode
from tests.unit.engine_support import T0, engine_for, state_row


@pytest.fixture
def engine(store: Store) -> Iterator[Engine]:
    """A started engine (its row written, reconciled), its WARNING events recorded."""
    clock = SimulatedClock(T0)
    built, _, _ = engine_for(store, clock)
    built._start_row()
    built.reconciled = True
    built.set_state(EngineState.RUNNING)
    handler = EventsHandler(store, clock)
    logging.getLogger().addHandler(handler)
    yield built
    logging.getLogger().removeHandler(handler)


async def test_pause_pauses_once_and_never_hides_a_halt(engine: Engine, store: Store) -> None:
    steer = EngineCommands(engine)
    assert await steer.pause(PauseArgs(), "cli:alice") == PauseResult(state=EngineState.PAUSED)
    assert state_row(store) == (EngineState.PAUSED, "paused by cli:alice")
    again = await steer.pause(PauseArgs(), "cli:bob")
    assert again == PauseResult(state=EngineState.PAUSED, note="already paused")
    assert state_row(store) == (EngineState.PAUSED, "paused by cli:alice")
    engine.set_state(EngineState.HALTED, reason="daily loss")
    with pytest.raises(CommandRejected, match=r"^the engine is halted by a risk limit; resume clears it$"):
        await steer.pause(PauseArgs(), "cli:alice")
    assert state_row(store) == (EngineState.HALTED, "daily loss")


async def test_resume_clears_a_halt_says_what_it_cleared_and_counts_the_limits_from_now(
    engine: Engine, store: Store
) -> None:
    store.account.insert(
        AccountSnapshot(at=T0, balance=Decimal(1000), equity=Decimal("950.5"), available=Decimal(900))
    )
    engine.halt("daily loss 5.2% over the 5% limit", ReasonCode.DAILY_LOSS)
    result = await EngineCommands(engine).resume(ResumeArgs(), "cli:alice")
    cleared = "halted: daily loss 5.2% over the 5% limit"
    assert result == ResumeResult(state=EngineState.RUNNING, was=EngineState.HALTED, cleared=cleared)
    assert state_row(store) == (EngineState.RUNNING, "resumed by cli:alice")
    assert engine.state is EngineState.RUNNING
    reset = store.kill_switch.latest()
    assert reset is not None
    assert (reset.at, reset.actor, reset.cleared, reset.equity) == (
        T0,
        "cli:alice",
        "daily loss 5.2% over the 5% limit",
        Decimal("950.5"),
    )
    (said,) = store.events.of_kind("engine.resumed")
    assert (said.level, said.message, said.data) == (
        EventLevel.WARNING,
        f"engine resumed by cli:alice; cleared {cleared}",
        {"cleared": cleared, "was": "halted"},
    )


async def test_resuming_a_halt_with_no_equity_yet_counts_from_the_next_snapshot(
    engine: Engine, store: Store
) -> None:
    engine.set_state(EngineState.HALTED, reason="drawdown")
    await EngineCommands(engine).resume(ResumeArgs(), "cli:alice")
    reset = store.kill_switch.latest()
    assert reset is not None
    assert (reset.actor, reset.cleared, reset.equity) == ("cli:alice", "drawdown", None)


@pytest.mark.parametrize(
    ("state", "reason", "cleared"),
    [
        (EngineState.PAUSED, "paused by cli:bob", "paused: paused by cli:bob"),
        (EngineState.PAUSED, None, "paused: paused"),
        (EngineState.RUNNING, None, "nothing (was running)"),
    ],
)
async def test_resume_of_a_pause_or_a_running_engine_says_so_and_resets_no_limit(
    engine: Engine, store: Store, state: EngineState, reason: str | None, cleared: str
) -> None:
    engine.set_state(state, reason=reason)
    result = await EngineCommands(engine).resume(ResumeArgs(), "cli:alice")
    assert result == ResumeResult(state=EngineState.RUNNING, was=state, cleared=cleared)
    assert state_row(store) == (EngineState.RUNNING, "resumed by cli:alice")
    assert store.kill_switch.latest() is None
    (said,) = store.events.of_kind("engine.resumed")
    assert said.data == {"cleared": cleared, "was": state.value}


async def test_no_resume_before_the_start_up_reconciliation_succeeded(engine: Engine, store: Store) -> None:
    engine.reconciled = False
    engine.set_state(EngineState.HALTED, reason="drawdown")
    with pytest.raises(CommandRejected, match=r"^start-up reconciliation has not succeeded yet$"):
        await EngineCommands(engine).resume(ResumeArgs(), "cli:alice")
    assert state_row(store) == (EngineState.HALTED, "drawdown")
    assert store.kill_switch.latest() is None


async def test_a_cycle_is_queued_only_when_none_is_running(engine: Engine) -> None:
    steer = EngineCommands(engine)
    assert await steer.run_cycle(RunCycleArgs(), "cli:alice") == RunCycleResult(queued=True)
    assert engine.cycle_requested.is_set()
    engine.cycle_requested.clear()
    engine.cycle_running = lambda: True  # type: ignore[method-assign]
    with pytest.raises(CommandRejected, match=r"^a signal cycle is already running$"):
        await steer.run_cycle(RunCycleArgs(), "cli:alice")
    assert not engine.cycle_requested.is_set()


async def test_reload_applies_a_valid_file_and_rebuilds_what_it_must(
    engine: Engine, store: Store, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[engine]\napproval = "manual"\n\n[risk]\nmax_leverage = 30\n\n[analyst]\ndaily_max_calls = 7\n'
    )
    rebuilt: list[list[str]] = []

    async def rebuild(sections: list[str]) -> dict[str, str]:
        rebuilt.append(sections)
        return {name: "rebuilt" for name in sections}

    engine.config_path = config
    engine.rebuild = rebuild
    result = await EngineCommands(engine).reload(ReloadArgs(), "cli:alice")
    assert result == ReloadResult(
        changed=["risk", "analyst", "engine.approval"],
        applied={
            "risk": "in effect (read at each use)",
            "analyst": "rebuilt",
            "engine.approval": "now manual",
        },
        needs_restart=[],
    )
    assert rebuilt == [["analyst"]]
    assert engine.settings.risk.max_leverage == 30
    row = store.engine.current()
    assert row is not None
    assert row.approval == "manual"


async def test_reload_refuses_a_bad_file_or_no_file_with_the_reason(engine: Engine, tmp_path: Path) -> None:
    steer = EngineCommands(engine)
    with pytest.raises(
        CommandRejected, match=r"^this engine was not started from a configuration file: nothing to reload$"
    ):
        await steer.reload(ReloadArgs(), "cli:alice")
    config = tmp_path / "config.toml"
    config.write_text("[risk]\nmax_leverage = -3\n")
    engine.config_path = config
    with pytest.raises(CommandRejected, match=r"^configuration not reloaded: ") as refused:
        await steer.reload(ReloadArgs(), "cli:alice")
    assert "max_leverage" in str(refused.value)
    assert refused.value.__cause__ is None
    assert engine.settings == Settings()

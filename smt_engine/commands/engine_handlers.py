"""The commands that steer the engine itself: pause, resume, run a cycle now, reload the configuration.

They act on the running engine through ``EngineControl`` (which ``Engine`` satisfies), so the engine keeps
its loops and the command service keeps every handler.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from smt_engine.commands.args import PauseArgs, ReloadArgs, ResumeArgs, RunCycleArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import PauseResult, ReloadResult, ResumeResult, RunCycleResult
from smt_engine.config import Settings
from smt_engine.domain import EngineState
from smt_engine.reload import Rebuilder, ReloadRefused, reload_settings
from smt_engine.store import Store
from smt_engine.trading.monitor import Monitor

log = logging.getLogger(__name__)


class EngineControl(Protocol):
    """What these commands may touch in the running engine."""

    settings: Settings
    store: Store
    monitor: Monitor
    state: EngineState
    reconciled: bool
    config_path: Path | None
    rebuild: Rebuilder | None

    def set_state(self, state: EngineState, reason: str | None = None) -> None: ...

    def cycle_running(self) -> bool: ...

    def request_cycle(self) -> None: ...


class EngineCommands:
    def __init__(self, engine: EngineControl) -> None:
        self.engine = engine

    async def pause(self, args: PauseArgs, actor: str) -> PauseResult:
        engine = self.engine
        if engine.state is EngineState.PAUSED:
            return PauseResult(state=engine.state, note="already paused")
        if engine.state is EngineState.HALTED:
            raise CommandRejected("the engine is halted by a risk limit; resume clears it")
        engine.set_state(EngineState.PAUSED, reason=f"paused by {actor}")
        return PauseResult(state=engine.state)

    async def resume(self, args: ResumeArgs, actor: str) -> ResumeResult:
        engine = self.engine
        if not engine.reconciled:
            raise CommandRejected("start-up reconciliation has not succeeded yet")
        previous = engine.state
        status = engine.store.engine.current()
        why = status.state_reason if status and status.state_reason else previous.value
        cleared = (
            f"{previous.value}: {why}" if previous is not EngineState.RUNNING else "nothing (was running)"
        )
        if previous is EngineState.HALTED:
            # The loss limits count again from this moment's equity, so the next tick does not re-trip.
            latest = engine.store.account.latest()
            engine.monitor.kill_switch.reset(actor, why, latest.equity if latest else None)
        engine.set_state(EngineState.RUNNING, reason=f"resumed by {actor}")
        log.warning(
            "engine resumed by %s; cleared %s",
            actor,
            cleared,
            extra={"event": "engine.resumed", "data": {"cleared": cleared, "was": previous.value}},
        )
        return ResumeResult(state=engine.state, was=previous, cleared=cleared)

    async def run_cycle(self, args: RunCycleArgs, actor: str) -> RunCycleResult:
        if self.engine.cycle_running():
            raise CommandRejected("a signal cycle is already running")
        self.engine.request_cycle()
        return RunCycleResult(queued=True)

    async def reload(self, args: ReloadArgs, actor: str) -> ReloadResult:
        engine = self.engine
        if engine.config_path is None:
            # Settings built in code (demo, tests): there is no file to re-read, and defaults must never
            # silently replace what the engine runs with.
            raise CommandRejected("this engine was not started from a configuration file: nothing to reload")
        try:
            done = await reload_settings(engine.settings, engine.config_path, engine.store, engine.rebuild)
        except ReloadRefused as exc:
            raise CommandRejected(str(exc)) from None
        return ReloadResult(changed=done.changed, applied=done.applied, needs_restart=done.needs_restart)

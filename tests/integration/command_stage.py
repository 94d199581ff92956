"""A stage for the command contract test: the real engine's command service over the fake WEEX (real
client, 127.0.0.1), the engine lock held as a running engine holds it, and the two front ends the
operator has, the console (``smt_tui``) and the CLI (``smt``), each on its own connection to the database.

The engine's side claims each queued command and runs ``Engine.handle`` on it, as the command loop does,
on the bench's simulated clock; the CLI runs in a thread (it polls with wall-clock sleeps).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from textual.pilot import Pilot

from smt_engine.cli import main as cli
from smt_engine.commands.args import CommandArgs
from smt_engine.domain import EngineState
from smt_engine.engine import Engine
from smt_engine.store import EngineLock
from smt_engine.store.records import EngineStatus
from smt_tui.app import ConsoleApp, open_console
from smt_tui.state import ConsoleConfig
from tests.command_support import command_service
from tests.integration.venue_bench import Bench

CONFIG = """
[engine]
database = "{database}"
approval = "{approval}"

[pairs]
tier1 = ["ETH"]
tier2 = []

[trading]
poll_interval = "1s"
protection_timeout = "4s"
fill_timeout = "6s"
order_visibility = "5s"
"""


@dataclass(frozen=True)
class Wait:
    """A step that waits until the console shows something (a row selected, a question open)."""

    until: Callable[[ConsoleApp], object]


@dataclass(frozen=True)
class Fill:
    """A step that fills a form on screen, as the operator's typing would."""

    do: Callable[[ConsoleApp], None]


Step = str | Wait | Fill
"""A key the operator presses, or a wait, or a form filled."""


class Stage:
    def __init__(self, bench: Bench, tmp: Path) -> None:
        self.bench = bench
        self.tmp = tmp
        self.config = tmp / "config.toml"
        self.config.write_text(CONFIG.format(database=bench.store.path, approval="auto"))
        self.engine = Engine(bench.settings, bench.store, bench.clock, bench.monitor, cast(Any, None))
        self.engine.config_path = self.config
        self.engine.reconciled = True
        bench.store.engine.put(EngineStatus(mode=bench.settings.engine.mode, state=EngineState.RUNNING))
        self.engine.set_state(EngineState.RUNNING)
        self.rebuild()

    def rebuild(self) -> None:
        """The command service over the bench's current parts (after a test replaced the book)."""
        b = self.bench
        self.engine.commands = command_service(
            b.settings, b.store, b.clock, b.client, b.book, b.executor, b.monitor, self.engine
        )

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        """The engine's command loop, until the block ends."""
        task = asyncio.create_task(self._serve())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _serve(self) -> None:
        store, clock = self.bench.store, self.bench.clock
        while True:
            claimed = store.commands.claim_next(clock.now())
            if claimed is None:
                await asyncio.sleep(0.02)
                continue
            await self.bench.run(self.engine.handle(claimed))

    async def cli(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        """``smt ARGV`` against this database; its exit code and what it printed."""
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, [*argv, "--config", str(self.config)])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    async def console(self, steps: list[Step] | None, args: CommandArgs, label: str) -> list[tuple[str, str]]:
        """The operator's ``steps`` in the console (keys, answers, waits for a screen), or, for a command
        with no key, ``args`` sent as an action sends them; the toasts until the engine's answer."""
        config = ConsoleConfig(refresh_interval=0.1, entry_pairs=("ETH",))
        app = open_console(self.bench.store.path, config=config, now=self.bench.clock.now)
        notes: list[tuple[str, str]] = []
        original = app.notify

        def notify(message: str, **kwargs: Any) -> None:
            notes.append((message, kwargs.get("severity", "information")))
            original(message, **kwargs)

        app.notify = notify  # type: ignore[method-assign]
        try:
            async with app.run_test() as pilot:
                await _until(pilot, lambda: app.snapshot is not None)
                if steps is None:
                    app.call_later(app.send_command, args, label)
                for step in steps or []:
                    if isinstance(step, str):
                        await pilot.press(step)
                    elif isinstance(step, Wait):
                        await _until(pilot, lambda step=step: step.until(app))  # type: ignore[misc]
                    else:
                        step.do(app)
                await _until(pilot, lambda: any(title_is_engine(m) for m, _ in notes))
        finally:
            app.model.store.close()
        return notes


def title_is_engine(message: str) -> bool:
    return ": done" in message or ": failed" in message


async def _until(pilot: Pilot[Any], predicate: Callable[[], object], within: float = 120.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)


@contextlib.contextmanager
def engine_lock(stage: Stage) -> Any:
    """The lock a running engine holds: both front ends see an engine and send."""
    lock = EngineLock(stage.bench.store.path)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


__all__ = ["Fill", "Stage", "Step", "Wait", "engine_lock"]

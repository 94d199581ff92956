"""The one client of the command queue, for the CLI and the console: queue a typed command under one
policy, and read or wait for its typed outcome.

The policy: nothing is queued when no engine holds the database (a command would wait for an engine that
may start hours later, and act on a world that moved), unless the caller says the operator asked to queue.
The client imports only the contract, the domain and the store, so the console that uses it still never
reaches the exchange.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from smt_engine.commands.args import CommandArgs
from smt_engine.commands.contract import ResultMismatch, parse_args, parse_result
from smt_engine.commands.errors import NoEngine
from smt_engine.commands.results import CommandResult
from smt_engine.domain import CommandState
from smt_engine.store import Store
from smt_engine.store.records import Command

WAIT_POLL = 0.2
"""Seconds between two reads of a command row while waiting for the engine."""


def actor(front: str) -> str:
    """Who sent a command, for the audit trail: the front end and the login (``cli:alice``)."""
    try:
        return f"{front}:{getpass.getuser()}"
    except Exception:  # no passwd entry (containers): still attribute it to the front end
        return front


@dataclass(frozen=True, slots=True)
class Outcome:
    """A finished command: the engine's typed result, or why it failed (or why its row cannot be read)."""

    command: Command
    result: CommandResult | None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def says(self) -> str:
        """The outcome in plain words: "done", "done: <what>", or "failed: <why>"."""
        if self.result is None:
            return f"failed: {self.error or 'no reason given'}"
        words = self.result.says()
        return f"done: {words}" if words else "done"


def read_outcome(command: Command) -> Outcome | None:
    """The outcome of a finished command row (None while it is pending or running)."""
    if command.state is CommandState.FAILED:
        return Outcome(command, None, command.error)
    if command.state is not CommandState.DONE:
        return None
    try:
        return Outcome(command, parse_result(command.kind, command.result))
    except ResultMismatch as exc:
        return Outcome(command, None, f"{exc}; see `smt events`")


class CommandClient:
    def __init__(
        self,
        store: Store,
        engine_running: Callable[[], bool],
        now: Callable[[], datetime],
        actor: str,
    ) -> None:
        self.store = store
        self.engine_running = engine_running
        self.now = now
        self.actor = actor

    def send(self, args: CommandArgs, *, queue_without_engine: bool = False) -> Command:
        """Queue ``args`` for the engine; ``NoEngine`` (nothing queued) when none runs, unless the operator
        asked to queue. The row is read back through the contract first, as the engine will read it."""
        if not queue_without_engine and not self.engine_running():
            raise NoEngine("no engine is running; nothing was sent")
        row = args.to_row()
        parse_args(args.kind, row)
        return self.store.commands.enqueue(args.kind, self.now(), self.actor, row)

    def outcome(self, command_id: int) -> Outcome | None:
        command = self.store.commands.get(command_id)
        return None if command is None else read_outcome(command)

    def wait(self, command_id: int, timeout: float) -> Outcome | None:
        """Poll the row until the engine finished the command; None after ``timeout`` seconds."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            outcome = self.outcome(command_id)
            if outcome is not None:
                return outcome
            if time.monotonic() >= deadline:
                return None
            time.sleep(WAIT_POLL)

    def state(self, command_id: int) -> str:
        """The row's state now, for a message after a wait gave up."""
        command = self.store.commands.get(command_id)
        return command.state.value if command else "?"

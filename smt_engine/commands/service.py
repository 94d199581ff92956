"""The engine's command service: the one owner of every command handler.

It reads a claimed command's arguments through the contract (a row that does not fit fails with the reason,
it never half-runs), runs the kind's handler and checks that the answer is the kind's result type, so the
row written back is one the console and the CLI can read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from smt_engine.clock import Clock
from smt_engine.commands import contract as c
from smt_engine.commands.adjust_handlers import AdjustCommands
from smt_engine.commands.args import CloseArgs, CommandArgs
from smt_engine.commands.contract import CONTRACT, KindTypes, parse_args
from smt_engine.commands.engine_handlers import EngineCommands, EngineControl
from smt_engine.commands.entry_handlers import EntryCommands
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import CloseResult, CommandResult
from smt_engine.commands.trading_handlers import TradingCommands
from smt_engine.config import Settings
from smt_engine.domain import CommandKind
from smt_engine.exchange.base import Exchange
from smt_engine.store import Store
from smt_engine.store.records import Command
from smt_engine.trading.execution import Executor
from smt_engine.trading.manual_entry import ManualEntry
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import ProposalBook

A = TypeVar("A", bound=CommandArgs)
R = TypeVar("R", bound=CommandResult)

Handler = Callable[[Any, str], Awaitable[CommandResult]]
"""A kind's handler: its typed arguments and the actor in, its typed result out."""


def route(types: KindTypes[A, R], handler: Callable[[A, str], Awaitable[R]]) -> tuple[CommandKind, Handler]:
    """A kind and its handler, which mypy checks takes the kind's arguments type and answers its result
    type (``KindTypes`` is invariant in both), so a handler cannot be registered under the wrong kind."""
    return types.kind, handler


class CommandService:
    def __init__(
        self,
        engine: EngineControl,
        settings: Settings,
        store: Store,
        clock: Clock,
        exchange: Exchange,
        book: ProposalBook,
        executor: Executor,
        monitor: Monitor,
    ) -> None:
        steer = EngineCommands(engine)
        self.trading = TradingCommands(settings, store, clock, exchange, book, executor, monitor)
        self.adjust = AdjustCommands(settings, store, clock, executor)
        entry = EntryCommands(ManualEntry(settings, store, clock, exchange, book, executor))
        self.handlers: Mapping[CommandKind, Handler] = dict(
            [
                route(c.APPROVE, self.trading.approve),
                route(c.REJECT, self.trading.reject),
                route(c.CLOSE, self._close),
                route(c.CLOSE_ALL, self.trading.close_all),
                route(c.CLEANUP, self.trading.cleanup),
                route(c.PAUSE, steer.pause),
                route(c.RESUME, steer.resume),
                route(c.RUN_CYCLE, steer.run_cycle),
                route(c.RELOAD_CONFIG, steer.reload),
                route(c.MOVE_PROTECTION, self.adjust.move_protection),
                route(c.CLEAR_COOLDOWN, self.adjust.clear_cooldown),
                route(c.ENTER, entry.enter),
            ]
        )

    async def _close(self, args: CloseArgs, actor: str) -> CloseResult:
        if args.partial:
            return await self.adjust.partial_close(args, actor)
        return await self.trading.close(args, actor)

    async def execute(self, command: Command) -> CommandResult:
        """Run one claimed command (the caller holds the trade lock); ``CommandRejected`` says why not."""
        handler = self.handlers.get(command.kind)
        if handler is None:
            raise CommandRejected(f"{command.kind} is not available in this engine")
        result = await handler(parse_args(command.kind, command.args), command.actor)
        expected: type[CommandResult] = CONTRACT[command.kind].result
        if not isinstance(result, expected):
            raise TypeError(f"{command.kind.value} answered {type(result).__name__}, not {expected.__name__}")
        return result

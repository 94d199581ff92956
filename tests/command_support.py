"""The engine's command service in process, for tests that drive handlers without a running engine:
a claimed command row in, the row the engine stores out (or ``CommandRejected``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from smt_engine.clock import Clock
from smt_engine.commands.engine_handlers import EngineControl
from smt_engine.commands.service import CommandService
from smt_engine.config import Settings
from smt_engine.exchange.base import Exchange
from smt_engine.store import Store
from smt_engine.store.records import Command
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.proposals import ProposalBook

RunRow = Callable[[Command], Awaitable[dict[str, Any]]]


def command_service(
    settings: Settings,
    store: Store,
    clock: Clock,
    exchange: Exchange,
    book: ProposalBook,
    executor: Executor,
    monitor: Monitor,
    engine: EngineControl | None = None,
) -> CommandService:
    """The service; without ``engine``, the engine's own kinds (pause, resume...) are not to be driven."""
    control = engine if engine is not None else cast(EngineControl, None)
    return CommandService(control, settings, store, clock, exchange, book, executor, monitor)


def row_runner(service: CommandService) -> RunRow:
    async def run(command: Command) -> dict[str, Any]:
        return (await service.execute(command)).to_row()

    return run

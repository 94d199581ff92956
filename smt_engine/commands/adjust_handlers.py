"""The commands that adjust what is open: move a stop-loss or take-profit, close part of a position,
clear a stop-loss cooldown; and the checks the CLI makes before it queues one (the same the engine
makes, so a stop past the limit is refused before it is queued).
"""

from __future__ import annotations

from datetime import datetime

from smt_engine.clock import Clock
from smt_engine.commands.args import ClearCooldownArgs, CloseArgs, MoveProtectionArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import ClearCooldownResult, CloseResult, MoveProtectionResult
from smt_engine.config import Settings
from smt_engine.domain import PositionState, Side
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_engine.trading.adjust import AdjustRefused, PositionAdjuster, check_stop_limit, stop_limit
from smt_engine.trading.cooldowns import CooldownError, clear_cooldown
from smt_engine.trading.execution import Executor


def held_position(store: Store, symbol: str, side: Side) -> Position:
    """The open position an adjustment acts on (``trading/orders.py``'s ``open_position`` records a new
    one); ``CommandRejected`` when there is none or it is no longer open."""
    position = store.positions.open_for(symbol, side)
    if position is None or position.state is not PositionState.OPEN:
        state = f" (it is {position.state.value})" if position is not None else ""
        raise CommandRejected(f"no open {side.value} position on {symbol}{state}")
    return position


def check_move(store: Store, settings: Settings, now: datetime, move: MoveProtectionArgs) -> Position:
    """What a stop move is checked against before it is queued (the venue price comes later)."""
    position = held_position(store, move.symbol, move.side)
    if move.leg == "sl":
        try:
            check_stop_limit(position, move.price, *stop_limit(settings, now))
        except AdjustRefused as exc:
            raise CommandRejected(str(exc)) from None
    return position


class AdjustCommands:
    def __init__(self, settings: Settings, store: Store, clock: Clock, executor: Executor) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.adjuster = PositionAdjuster(executor.desk, executor.protection)

    async def move_protection(self, args: MoveProtectionArgs, actor: str) -> MoveProtectionResult:
        position = check_move(self.store, self.settings, self.clock.now(), args)
        try:
            moved = await self.adjuster.move(position, args.leg, args.price, actor)
        except AdjustRefused as exc:
            raise CommandRejected(str(exc)) from None
        return MoveProtectionResult.model_validate(moved)

    async def partial_close(self, args: CloseArgs, actor: str) -> CloseResult:
        position = held_position(self.store, args.symbol, args.side)
        try:
            reduced = await self.adjuster.reduce(position, args.size, args.fraction, actor)
        except AdjustRefused as exc:
            raise CommandRejected(str(exc)) from None
        return CloseResult.model_validate(reduced)

    async def clear_cooldown(self, args: ClearCooldownArgs, actor: str) -> ClearCooldownResult:
        try:
            cleared = clear_cooldown(self.store, self.settings, args.symbol, actor, self.clock.now())
        except CooldownError as exc:
            raise CommandRejected(str(exc)) from None
        return ClearCooldownResult(
            message=f"{args.symbol} cooldown (until {cleared.until:%Y-%m-%d %H:%M} UTC) cleared",
            symbol=args.symbol,
        )

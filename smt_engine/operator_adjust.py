"""Operator commands that adjust what is open: move a stop-loss or take-profit, close part of a position,
clear a stop-loss cooldown. The arguments are checked the same way when queued (CLI, console) and when
executed; the engine's trade lock covers each, as for every command.

Arguments: ``move_protection`` {symbol, side, sl_price | tp_price}; ``close`` {symbol, side, size |
fraction} (without either it is the full close); ``clear_cooldown`` {symbol}.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from smt_engine.clock import Clock
from smt_engine.config import Settings
from smt_engine.domain import CommandKind, PositionState, Side
from smt_engine.engine import CommandHandler, CommandRejected
from smt_engine.store import Store
from smt_engine.store.records import Command, Position
from smt_engine.trading.adjust import AdjustRefused, Leg, PositionAdjuster, check_stop_limit, stop_limit
from smt_engine.trading.cooldowns import CooldownError, clear_cooldown
from smt_engine.trading.execution import Executor


@dataclass(frozen=True, slots=True)
class MoveRequest:
    symbol: str
    side: Side
    kind: Leg
    price: Decimal


def _symbol(args: Mapping[str, Any]) -> str:
    symbol = str(args.get("symbol", "")).strip().upper()
    if not symbol:
        raise CommandRejected("args.symbol is required, e.g. ETHUSDT")
    return symbol if symbol.endswith("USDT") else f"{symbol}USDT"


def _side(args: Mapping[str, Any]) -> Side:
    try:
        return Side(str(args.get("side", "")).upper())
    except ValueError:
        raise CommandRejected("args.side must be LONG or SHORT") from None


def _positive(args: Mapping[str, Any], key: str) -> Decimal | None:
    raw = args.get(key)
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CommandRejected(f"args.{key} {raw!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise CommandRejected(f"args.{key} must be a positive number, not {raw!r}")
    return value


def parse_move(args: Mapping[str, Any]) -> MoveRequest:
    sl, tp = _positive(args, "sl_price"), _positive(args, "tp_price")
    if (sl is None) == (tp is None):
        raise CommandRejected("give exactly one of args.sl_price and args.tp_price")
    return MoveRequest(
        _symbol(args),
        _side(args),
        "sl" if sl is not None else "tp",
        sl if sl is not None else tp,  # type: ignore[arg-type]
    )


def parse_part(args: Mapping[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    """(size, fraction) of a partial close; (None, None) is a full close."""
    size, fraction = _positive(args, "size"), _positive(args, "fraction")
    if size is not None and fraction is not None:
        raise CommandRejected("give args.size or args.fraction, not both")
    if fraction is not None and fraction >= 1:
        raise CommandRejected(f"args.fraction {fraction} must be below 1 (a full close takes no fraction)")
    return size, fraction


def open_position(store: Store, symbol: str, side: Side) -> Position:
    position = store.positions.open_for(symbol, side)
    if position is None or position.state is not PositionState.OPEN:
        state = f" (it is {position.state.value})" if position is not None else ""
        raise CommandRejected(f"no open {side.value} position on {symbol}{state}")
    return position


def check_move(store: Store, settings: Settings, now: datetime, args: Mapping[str, Any]) -> MoveRequest:
    """What a queued stop move is checked against before it is queued (the venue price comes later)."""
    move = parse_move(args)
    position = open_position(store, move.symbol, move.side)
    if move.kind == "sl":
        try:
            check_stop_limit(position, move.price, *stop_limit(settings, store, now))
        except AdjustRefused as exc:
            raise CommandRejected(str(exc)) from None
    return move


class AdjustCommands:
    def __init__(self, settings: Settings, store: Store, clock: Clock, executor: Executor) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.adjuster = PositionAdjuster(executor.desk, executor.protection)

    def handlers(self) -> Mapping[CommandKind, CommandHandler]:
        return {
            CommandKind.MOVE_PROTECTION: self.move_protection,
            CommandKind.CLEAR_COOLDOWN: self.clear_cooldown,
        }

    async def move_protection(self, command: Command) -> dict[str, Any]:
        move = check_move(self.store, self.settings, self.clock.now(), command.args)
        position = open_position(self.store, move.symbol, move.side)
        try:
            return await self.adjuster.move(position, move.kind, move.price, command.actor)
        except AdjustRefused as exc:
            raise CommandRejected(str(exc)) from None

    async def partial_close(self, command: Command) -> dict[str, Any]:
        size, fraction = parse_part(command.args)
        position = open_position(self.store, _symbol(command.args), _side(command.args))
        try:
            return await self.adjuster.reduce(position, size, fraction, command.actor)
        except AdjustRefused as exc:
            raise CommandRejected(str(exc)) from None

    async def clear_cooldown(self, command: Command) -> dict[str, Any]:
        symbol = _symbol(command.args)
        try:
            cleared = clear_cooldown(self.store, self.settings, symbol, command.actor, self.clock.now())
        except CooldownError as exc:
            raise CommandRejected(str(exc)) from None
        return {
            "message": f"{symbol} cooldown (until {cleared.until:%Y-%m-%d %H:%M} UTC) cleared",
            "symbol": symbol,
        }


__all__ = ["AdjustCommands", "MoveRequest", "check_move", "open_position", "parse_move", "parse_part"]

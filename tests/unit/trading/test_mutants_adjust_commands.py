"""The adjustment commands, value by value (README "Risk gates live outside the analyst": a stop past the
limit is refused before it is queued and again when it runs; docs/benchmarks.md, mutation testing): the
position they act on, the refusal's words the operator reads, the result they return."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.commands.adjust_handlers import AdjustCommands, check_move, held_position
from smt_engine.commands.args import ClearCooldownArgs, CloseArgs, MoveProtectionArgs
from smt_engine.commands.errors import CommandRejected
from smt_engine.commands.results import ClearCooldownResult, CloseResult, MoveProtectionResult
from smt_engine.config import Settings
from smt_engine.domain import CloseReason, PositionState, Side
from smt_engine.store import Store
from smt_engine.store.records import Position
from tests.unit.trading.adjust_support import current, ready
from tests.unit.trading.conftest import drive

FINAL_WINDOW = {"competition": {"start": "2026-01-10", "end": "2026-01-20"}}  # NOW is its last day
STOP_PAST_LIMIT = (
    "max_stop_distance: ETHUSDT LONG stop 1800 is 10.00% from the entry 2000, past the limit 8% "
    "(analyst.max_sl_pct); the current stop 1960 stays"
)


def move(leg: str, price: str, side: str = "LONG") -> MoveProtectionArgs:
    return MoveProtectionArgs.model_validate({"symbol": "ETH", "side": side, f"{leg}_price": price})


async def test_an_adjustment_acts_only_on_an_open_position_of_that_side(
    store: Store, clock: SimulatedClock
) -> None:
    _, _, _, position = await ready(store, clock)
    assert held_position(store, "ETHUSDT", Side.LONG) == position
    with pytest.raises(CommandRejected) as info:
        held_position(store, "ETHUSDT", Side.SHORT)
    assert str(info.value) == "no open SHORT position on ETHUSDT"
    store.positions.update(position.id or 0, state=PositionState.CLOSING)
    with pytest.raises(CommandRejected) as info:
        held_position(store, "ETHUSDT", Side.LONG)
    assert str(info.value) == "no open LONG position on ETHUSDT (it is closing)"


async def test_a_stop_move_is_checked_against_the_limit_before_it_is_queued(
    store: Store, clock: SimulatedClock
) -> None:
    _, _, executor, position = await ready(store, clock)
    settings, now = executor.settings, clock.now()
    with pytest.raises(CommandRejected) as info:
        check_move(store, settings, now, move("sl", "1800"))
    assert str(info.value) == STOP_PAST_LIMIT
    assert check_move(store, settings, now, move("sl", "1850")) == position
    assert check_move(store, settings, now, move("tp", "3000")) == position  # no limit on a take-profit
    with pytest.raises(CommandRejected, match=r"^no open SHORT position on ETHUSDT$"):
        check_move(store, settings, now, move("tp", "1500", side="SHORT"))


async def test_a_move_command_returns_the_new_leg_and_a_refusal_keeps_the_reason(
    store: Store, clock: SimulatedClock
) -> None:
    _, venue, executor, position = await ready(store, clock)
    commands = AdjustCommands(executor.settings, store, clock, executor)
    new_id = venue.next_id()
    moved = await drive(clock, commands.move_protection(move("sl", "1980"), "alice"))
    assert moved == MoveProtectionResult(
        message="ETHUSDT LONG stop-loss now 1980",
        position_id=position.id or 0,
        leg="sl",
        price=Decimal(1980),
        order_id=new_id,
    )
    with pytest.raises(CommandRejected) as info:
        await drive(clock, commands.move_protection(move("sl", "1800"), "alice"))
    assert str(info.value) == STOP_PAST_LIMIT.replace("current stop 1960", "current stop 1980")
    with pytest.raises(CommandRejected) as info:
        await drive(clock, commands.move_protection(move("tp", "1990"), "alice"))
    assert str(info.value) == (
        "take_profit_wrong_side: a LONG take-profit must be above the price 2000; 1990 is not"
    )
    assert current(store, position.id).sl_price == Decimal("1980.00")
    (event,) = store.events.of_kind("position.protection_moved")
    assert event.data["actor"] == "alice"


async def test_in_the_final_days_a_stop_is_held_to_the_phases_distance_when_queued_and_when_run(
    store: Store, clock: SimulatedClock
) -> None:
    _, _, executor, position = await ready(store, clock)
    final = executor.settings.model_copy(
        update={"competition": Settings.model_validate(FINAL_WINDOW).competition}
    )
    words = (
        "max_stop_distance: ETHUSDT LONG stop 1950 is 2.50% from the entry 2000, past the limit 1.5% "
        "(the final days' stop distance); the current stop 1960 stays"
    )
    with pytest.raises(CommandRejected) as info:
        check_move(store, final, clock.now(), move("sl", "1950"))
    assert str(info.value) == words
    commands = AdjustCommands(final, store, clock, executor)
    with pytest.raises(CommandRejected) as info:
        await drive(clock, commands.move_protection(move("sl", "1950"), "alice"))
    assert str(info.value) == words
    assert current(store, position.id) == position


async def test_a_partial_close_command_returns_the_sizes_and_a_refusal_keeps_the_reason(
    store: Store, clock: SimulatedClock
) -> None:
    _, _, executor, position = await ready(store, clock)
    commands = AdjustCommands(executor.settings, store, clock, executor)
    half = CloseArgs.model_validate({"symbol": "ETH", "side": "LONG", "fraction": "0.5"})
    closed = await drive(clock, commands.partial_close(half, "bob"))
    assert closed == CloseResult(
        message="ETHUSDT LONG: closed 0.75 at 2000, 0.75 stays open",
        position_id=position.id or 0,
        closed_size=Decimal("0.75"),
        remaining_size=Decimal("0.75"),
        realized_pnl=None,
        part_position_id=3,
        legs_resized=["sl", "tp"],
    )
    (event,) = store.events.of_kind("position.partial_close")
    assert event.data["actor"] == "bob"
    too_much = CloseArgs.model_validate({"symbol": "ETH", "side": "LONG", "size": "0.75"})
    with pytest.raises(CommandRejected) as info:
        await drive(clock, commands.partial_close(too_much, "bob"))
    assert str(info.value) == "whole_position: 0.75 is the whole position (0.75): close it without a size"
    with pytest.raises(CommandRejected, match=r"^no open SHORT position on ETHUSDT$"):
        await drive(clock, commands.partial_close(half.model_copy(update={"side": Side.SHORT}), "bob"))


async def test_a_cooldown_clearance_says_which_cooldown_ended(store: Store, clock: SimulatedClock) -> None:
    _, _, executor, _ = await ready(store, clock)
    commands = AdjustCommands(executor.settings, store, clock, executor)
    stop_at = clock.now() - timedelta(minutes=30)
    store.positions.insert(
        Position(
            symbol="SOLUSDT", side=Side.SHORT, size=Decimal(1), entry_price=Decimal(150),
            opened_at=stop_at - timedelta(hours=1), state=PositionState.CLOSED, leverage=10,
            updated_at=stop_at, close_reason=CloseReason.STOP_LOSS, closed_at=stop_at,
        )
    )  # fmt: skip
    until = stop_at + executor.settings.risk.stop_loss_cooldown
    args = ClearCooldownArgs.model_validate({"symbol": "SOL"})
    cleared = await commands.clear_cooldown(args, "alice")
    assert cleared == ClearCooldownResult(
        message=f"SOLUSDT cooldown (until {until:%Y-%m-%d %H:%M} UTC) cleared", symbol="SOLUSDT"
    )
    assert store.events.of_kind("cooldown.cleared")[0].data["actor"] == "alice"
    with pytest.raises(CommandRejected) as info:
        await commands.clear_cooldown(args, "alice")
    assert str(info.value) == "SOLUSDT has no active stop-loss cooldown (active: none)"

"""When the adjusting keys apply (move stop, move take-profit, close part, clear a cooldown) and why not.

Read from the snapshot in memory only, like every rule ``check_action`` asks (``smt_tui/keys.py``).
"""

from __future__ import annotations

from textual.binding import Binding

from smt_engine.domain import PositionState
from smt_engine.store.limits import COOLDOWN_PREFIX
from smt_engine.store.records import Position
from smt_tui.state import Snapshot

BINDINGS = [
    # Off the footer (it is cut from the right on a narrow terminal); in the help and the palette.
    Binding("m", "move_stop", "Move stop", show=False, id="move-stop", tooltip="move the selected stop-loss"),
    Binding("t", "move_tp", "Move TP", show=False, id="move-tp", tooltip="move the selected take-profit"),
    Binding(
        "v", "close_part", "Close part", show=False, id="close-part", tooltip="close part of the position"
    ),
    Binding(
        "k", "clear_cooldown", "Clear cooldown", show=False, id="clear-cooldown", tooltip="end a cooldown"
    ),
]

POSITION_ACTIONS = frozenset({"move_stop", "move_tp", "close_part"})
ADJUST_ACTIONS = POSITION_ACTIONS | {"clear_cooldown"}


def cooling(snap: Snapshot) -> list[str]:
    """Symbols under a stop-loss cooldown the engine published, in order."""
    return sorted(n.removeprefix(COOLDOWN_PREFIX) for n in snap.limits if n.startswith(COOLDOWN_PREFIX))


def applies(action: str, record: object | None, snap: Snapshot) -> bool:
    if action in POSITION_ACTIONS:
        return isinstance(record, Position) and record.state is PositionState.OPEN
    return bool(cooling(snap))


def why_not(action: str, verb: str, record: object | None, snap: Snapshot) -> str:
    if action in POSITION_ACTIONS:
        if isinstance(record, Position):
            return f"{verb}: #{record.id} is {record.state.value}, only an open position can be adjusted"
        if not snap.open_positions:
            return f"{verb}: no position is open"
        return f"{verb}: select an open position first (1 opens Positions)"
    return f"{verb}: no stop-loss cooldown is in force"

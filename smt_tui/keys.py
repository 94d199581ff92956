"""When each of the console's actions applies: what the footer offers, ``check_action`` allows, the
palette lists, and why a key that does not apply does nothing.

A plain object, not a part of the App: it reads the snapshot in memory and the screen stack through
``KeysHost``, so it is cheap enough for Textual to ask on every key and every footer refresh, and it
stands below the App that asks it (docs/design.md, "Packages and their direction").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from textual.binding import Binding, BindingType
from textual.screen import Screen

from smt_engine.domain import EngineState, PositionState, ProposalState
from smt_engine.store.records import Position
from smt_tui import adjust_rules
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.detail import DetailScreen
from smt_tui.screens.entry_form import EntryForm
from smt_tui.screens.help import HelpScreen
from smt_tui.screens.main import MainScreen
from smt_tui.screens.performance import PerformanceScreen
from smt_tui.screens.scorecard import ScorecardScreen
from smt_tui.screens.value_input import ValueInputModal
from smt_tui.state import ProposalView, Snapshot

COMMAND_ACTIONS = frozenset(
    {"approve", "reject", "close_position", "close_all", "cleanup", "pause", "resume", "run_cycle"}
    | adjust_rules.ADJUST_ACTIONS
    | {"manual_entry"}
)
"""Actions that write a command row: unavailable in read-only mode."""

_MODALS = ConfirmModal | ValueInputModal | EntryForm | HelpScreen | ScorecardScreen | PerformanceScreen
"""Screens over the dashboard on which no console key but quit applies."""


class KeysHost(Protocol):
    """What the rules read of the console: the latest snapshot, whether it may write, and its screens."""

    @property
    def snapshot(self) -> Snapshot | None: ...

    @property
    def readonly(self) -> bool: ...

    @property
    def screen(self) -> Screen[object]: ...

    @property
    def screen_stack(self) -> list[Screen[Any]]: ...


class KeyRules:
    """Whether each action applies now and, when it does not, why, in words the operator can act on."""

    def __init__(self, host: KeysHost, bindings: Iterable[BindingType]) -> None:
        self._host = host
        self._bindings = [b for b in bindings if isinstance(b, Binding)]
        self._names = tuple(dict.fromkeys(b.action.partition("(")[0] for b in self._bindings))
        self._pinned: tuple[object | None] | None = None
        """The selected record while ``states`` runs: looked up once, not once per action."""

    def selected_key(self) -> str | None:
        """The row the operator acts on: the open detail screen's, else the dashboard's selection."""
        for screen in reversed(self._host.screen_stack):
            if isinstance(screen, DetailScreen):
                return screen.key
            if isinstance(screen, MainScreen):
                return screen.selected_key()
        return None

    def selected(self) -> object | None:
        if self._pinned is not None:
            return self._pinned[0]
        key = self.selected_key()
        snap = self._host.snapshot
        if key is None or snap is None:
            return None
        return snap.find(key)

    def _applies(self, action: str) -> bool:
        snap = self._host.snapshot
        if snap is None:
            return False
        record = self.selected()
        status = snap.engine.status
        paused = status is not None and status.state in (EngineState.PAUSED, EngineState.HALTED)
        if action in ("approve", "reject"):
            return isinstance(record, ProposalView) and record.proposal.state is ProposalState.PROPOSED
        if action == "close_position":
            return isinstance(record, Position) and record.state is not PositionState.CLOSED
        if action == "close_all":
            return bool(snap.open_positions)
        if action in adjust_rules.ADJUST_ACTIONS:
            return adjust_rules.applies(action, record, snap)
        if action == "cleanup":
            return True  # with nothing flagged it is a sweep of the venue: a safe no-op that says so
        if action == "pause":
            return not paused
        if action == "resume":
            return paused
        if action == "manual_entry":
            return not paused
        return action == "run_cycle"

    def states(self) -> tuple[bool | None, ...]:
        """Every action's state (in the order of the bindings) in one pass; asked on every snapshot."""
        self._pinned = (self.selected(),)
        try:
            return tuple(self.state(action) for action in self._names)
        finally:
            self._pinned = None

    def state(self, action: str) -> bool | None:
        """True: available; None: shown but unavailable (read-only); False: does not apply."""
        host = self._host
        if action in COMMAND_ACTIONS:
            if not self._applies(action):
                return False
            return None if host.readonly else True
        screen = host.screen
        if action == "details":
            return isinstance(screen, MainScreen) and self.selected_key() is not None
        if action == "show_tab":
            return isinstance(screen, MainScreen)
        if action == "next_waiting":
            return (
                isinstance(screen, MainScreen) and host.snapshot is not None and bool(host.snapshot.waiting)
            )
        if action in ("filter", "event_level"):
            if not isinstance(screen, MainScreen):
                return False
            return action == "filter" or screen.active_tab == "events"
        return True

    def allows(self, action: str) -> bool | None:
        """``check_action``'s answer: on a screen over the dashboard only quit applies."""
        if isinstance(self._host.screen, _MODALS) and action != "quit":
            return False
        return self.state(action)

    def refusal(self, key: str) -> str | None:
        """Why a command key that no binding took does nothing here, or None when nothing needs saying.

        Asked only when no binding took the key: ``check_action`` refused it (or another screen is up).
        """
        if not isinstance(self._host.screen, MainScreen | DetailScreen):
            return None
        actions = [b.action for b in self._bindings if b.key == key and b.action in COMMAND_ACTIONS]
        if not actions or any(self.state(a) is True for a in actions):
            return None
        return self.why_not(actions[0])

    def why_not(self, action: str) -> str:
        """Why ``action`` does not apply right now, in words the operator can act on."""
        snap = self._host.snapshot
        verb = next((b.description.lower() for b in self._bindings if b.action == action), action)
        if snap is None:
            return f"{verb}: the console has not read the database yet"
        if self._host.readonly:
            return (
                f"{verb}: this is a read-only viewer (it cannot write the database); "
                "actions need the engine's own user"
            )
        record = self.selected()
        if action in ("approve", "reject"):
            if isinstance(record, ProposalView):
                p = record.proposal
                return f"{verb}: #{p.id} is {p.state.value}, only a waiting proposal can be decided"
            if not snap.waiting:
                return f"{verb}: no proposal is waiting for approval"
            return f"{verb}: select a waiting proposal first (w jumps to it, 2 opens Proposals)"
        if action == "close_position":
            if isinstance(record, Position):
                return f"{verb}: #{record.id} is closed already"
            if not snap.open_positions:
                return f"{verb}: no position is open"
            return f"{verb}: select an open position first (1 opens Positions)"
        if action == "close_all":
            return f"{verb}: no position is open"
        if action in adjust_rules.ADJUST_ACTIONS:
            return adjust_rules.why_not(action, verb, record, snap)
        if action == "manual_entry":
            return f"{verb}: the engine takes no new entries while paused or halted; resume first (p)"
        return f"{verb}: does not apply now"

    def palette_actions(self) -> list[tuple[str, str, str]]:
        """The command actions as (action, title, help) for the palette, in the order of the bindings."""
        return [(b.action, b.description, b.tooltip) for b in self._bindings if b.action in COMMAND_ACTIONS]

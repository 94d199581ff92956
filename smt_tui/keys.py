"""The console's keys and when each applies: what the footer offers and ``check_action`` allows.

The rules read only the snapshot in memory and the screen stack, so they are cheap enough for Textual to
ask on every key and every footer refresh.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import App
from textual.binding import Binding, BindingType

from smt_engine.domain import EngineState, PositionState, ProposalState
from smt_engine.store.records import Position
from smt_tui import adjust_rules
from smt_tui.palette import PaletteActions
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.detail import DetailScreen
from smt_tui.screens.entry_form import EntryForm
from smt_tui.screens.help import HelpScreen
from smt_tui.screens.main import TABS, MainScreen
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


class ConsoleKeys(App[None]):
    """Key bindings and the rules of what applies; the app's other jobs are in its subclasses."""

    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {PaletteActions}

    BINDINGS: ClassVar[list[BindingType]] = [
        # Help and Quit first: the footer is cut from the right on a narrow terminal.
        Binding("question_mark", "help", "Help", id="help", key_display="?", tooltip="this key reference"),
        Binding("q", "quit", "Quit", id="quit", tooltip="leave the console (the engine keeps running)"),
        Binding(
            "w",
            "next_waiting",
            "Next waiting",
            id="next-waiting",
            tooltip="jump to the next proposal awaiting approval",
        ),
        Binding("a", "approve", "Approve", id="approve", tooltip="approve the selected pending proposal"),
        Binding("r", "reject", "Reject", id="reject", tooltip="reject the selected pending proposal"),
        Binding("x", "close_position", "Close", id="close", tooltip="close the selected position at market"),
        Binding("X", "close_all", "Close all", id="close-all", tooltip="close every open position"),
        *adjust_rules.BINDINGS,
        Binding("c", "cleanup", "Cancel orphans", id="cleanup", tooltip="cancel orphan TP/SL orders"),
        Binding("p", "pause", "Pause", id="pause", tooltip="pause new entries (closes continue)"),
        Binding("p", "resume", "Resume", id="resume", tooltip="resume new entries"),
        Binding("n", "run_cycle", "Cycle now", id="run-cycle", tooltip="run a signal cycle now"),
        Binding(
            "e",
            "manual_entry",
            "Manual entry",
            show=False,
            id="manual-entry",
            tooltip="open a position by hand (pair, side, margin or size) through the risk limits",
        ),
        Binding("enter", "details", "Details", id="details", tooltip="details of the selected row"),
        Binding(
            "slash", "filter", "Filter", id="filter", key_display="/", tooltip="filter the current table"
        ),
        Binding("l", "event_level", "Level", id="level", tooltip="cycle the event log's minimum level"),
        Binding(
            "s",
            "scorecard",
            "Scorecard",
            show=False,
            id="scorecard",
            tooltip="how the decisions did against the market (calibration, per pair)",
        ),
        Binding(
            "dollar_sign",
            "performance",
            "Performance",
            show=False,
            key_display="$",
            id="performance",
            tooltip="realised PnL net of fees by day, week and all time; per-trade return; win rate",
        ),
        *(
            Binding(str(i), f"show_tab('{tab}')", title, show=False, id=f"tab-{tab}", tooltip=f"{title} tab")
            for i, (tab, title) in enumerate(TABS, 1)
        ),
    ]

    snapshot: Snapshot | None = None
    readonly: bool = False

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def selected_key(self) -> str | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, DetailScreen):
                return screen.key
            if isinstance(screen, MainScreen):
                return screen.selected_key()
        return None

    _pinned: tuple[object | None] | None = None
    """The selected record while ``action_states`` runs: looked up once, not once per action."""

    def selected(self) -> object | None:
        if self._pinned is not None:
            return self._pinned[0]
        key = self.selected_key()
        if key is None or self.snapshot is None:
            return None
        return self.snapshot.find(key)

    def _applies(self, action: str) -> bool:
        snap = self.snapshot
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

    def action_states(self) -> tuple[bool | None, ...]:
        """Every action's state (``ACTION_NAMES`` order) in one pass; asked on every snapshot."""
        self._pinned = (self.selected(),)
        try:
            return tuple(self.action_state(action) for action in ACTION_NAMES)
        finally:
            self._pinned = None

    def action_state(self, action: str) -> bool | None:
        """True: available; None: shown but unavailable (read-only); False: does not apply."""
        if action in COMMAND_ACTIONS:
            if not self._applies(action):
                return False
            return None if self.readonly else True
        if action == "details":
            return isinstance(self.screen, MainScreen) and self.selected_key() is not None
        if action == "show_tab":
            return isinstance(self.screen, MainScreen)
        if action == "next_waiting":
            return (
                isinstance(self.screen, MainScreen)
                and self.snapshot is not None
                and bool(self.snapshot.waiting)
            )
        if action in ("filter", "event_level"):
            if not isinstance(self.screen, MainScreen):
                return False
            return action == "filter" or self.main.active_tab == "events"
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(
            self.screen,
            ConfirmModal | ValueInputModal | EntryForm | HelpScreen | ScorecardScreen | PerformanceScreen,
        ) and action not in ("quit",):
            return False
        return self.action_state(action)

    def on_key(self, event: events.Key) -> None:
        """A command key that does not apply here says why, instead of doing nothing silently.

        Reached only when no binding took the key: ``check_action`` refused it (or another screen is up).
        """
        if not isinstance(self.screen, MainScreen | DetailScreen):
            return
        actions = [b.action for b in self.BINDINGS if isinstance(b, Binding) and b.key == event.key]
        actions = [a for a in actions if a in COMMAND_ACTIONS]
        if not actions or any(self.action_state(a) is True for a in actions):
            return
        self.notify(self.why_not(actions[0]), title="Not available", severity="warning", timeout=6)

    def why_not(self, action: str) -> str:
        """Why ``action`` does not apply right now, in words the operator can act on."""
        snap = self.snapshot
        verb = next(
            (b.description.lower() for b in self.BINDINGS if isinstance(b, Binding) and b.action == action),
            action,
        )
        if snap is None:
            return f"{verb}: the console has not read the database yet"
        if self.readonly:
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
        return [
            (b.action, b.description, b.tooltip)
            for b in self.BINDINGS
            if isinstance(b, Binding) and b.action in COMMAND_ACTIONS
        ]


ACTION_NAMES = tuple(
    dict.fromkeys(b.action.partition("(")[0] for b in ConsoleKeys.BINDINGS if isinstance(b, Binding))
)

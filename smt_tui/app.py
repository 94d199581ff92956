"""The operator console: the live refresh loop, toasts and the bell for what changed, the keys, and
``open_console``.

Reads happen in a thread worker (``ReadModel.poll``), started by one interval timer only while no read is
in flight, so two refreshes never overlap; the worker posts ``SnapshotReady`` and never touches a widget.
Operator actions insert a row into ``commands`` (also from a worker) and the result is shown when the engine
completes it.

The App composes its parts instead of inheriting them, each behind a small protocol so none imports the
App back (docs/design.md, "Packages and their direction"): what applies to each key is ``KeyRules``
(``keys.py``); the actions that queue commands ``OperatorActions`` and ``AdjustActions``; the cursor on
waiting proposals ``WaitingCursor`` (``follow.py``); the toasts and bell ``Announcer``
(``announce.py``); whether a tick draws ``TickGate`` (``ticks.py``); the charts' reads ``ChartFeed``.
Textual dispatches keys to the App, so the bindings, ``check_action`` and the ``action_*`` methods stay
here, each command action a one-line delegation to its part.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any, ClassVar

from rich.console import RenderableType
from textual import events, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from smt_engine.commands.args import CommandArgs
from smt_engine.commands.client import actor as command_actor
from smt_engine.domain import EventLevel
from smt_engine.store import Store, StoreError
from smt_tui import adjust_rules, describe
from smt_tui.adjust_actions import AdjustActions
from smt_tui.announce import Announcer
from smt_tui.chart_feed import ChartFeed
from smt_tui.follow import WaitingCursor
from smt_tui.keys import KeyRules
from smt_tui.messages import CommandNotSent, CommandSent, SnapshotReady
from smt_tui.operator_actions import OperatorActions
from smt_tui.palette import PaletteActions
from smt_tui.screens.detail import DetailScreen
from smt_tui.screens.help import HelpScreen
from smt_tui.screens.main import TABS, MainScreen
from smt_tui.screens.performance import PerformanceScreen
from smt_tui.screens.scorecard import ScorecardScreen
from smt_tui.state import SECTIONS, ConsoleConfig, Now, ReadModel, Snapshot, utc_now
from smt_tui.ticks import TickGate
from smt_tui.widgets.detail_pane import DetailPane

_LEVELS = list(EventLevel)


class ConsoleApp(App[None]):
    """The console: the live refresh loop, what it announces, where the operator looks, and its keys."""

    CSS_PATH = "console.tcss"
    TITLE = "SMT console"
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
        Binding("c", "cleanup", "Clean up", id="cleanup", tooltip="cancel orphan TP/SL orders"),
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

    def __init__(
        self,
        model: ReadModel,
        *,
        readonly: bool,
        config: ConsoleConfig | None = None,
        now: Now = utc_now,
        actor: str | None = None,
        debounce: float = 0.5,
    ) -> None:
        super().__init__()
        self.model = model
        self.readonly = readonly
        self.config = config or model.config
        self.now = now
        self.actor = actor or command_actor("console")
        self.debounce = debounce
        self.snapshot: Snapshot | None = None
        self.first_paint: float | None = None
        self.created = time.perf_counter()
        self.apply_ms: list[float] = []
        self.rules = KeyRules(self, self.BINDINGS)
        self.operator = OperatorActions(self)
        self.adjust = AdjustActions(self, self.operator)
        self.cursor = WaitingCursor(self)
        self.charts = ChartFeed(model)
        self.announcer = Announcer(self, self.config.stale_after, self.cursor.offer)
        self.ticks = TickGate(self.config.stale_after)
        self._pane_shows: tuple[object, ...] | None = None
        self._binding_states: tuple[object, ...] = ()
        self._next_gap = self.config.refresh_interval
        self._reading = False
        self._check_not_before = 0.0
        if readonly:
            self.sub_title = "read-only"

    @property
    def whale_pairs(self) -> frozenset[str] | None:
        return self.config.whale_pairs

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def _describe(
        self, key: str, expanded: frozenset[str] = frozenset()
    ) -> tuple[str, RenderableType] | None:
        """The selected row in full, as of the latest snapshot and the clock now."""
        snap = self.snapshot
        if snap is None:
            return None
        now = self.now()
        running = snap.engine.running(now, self.config.stale_after)
        return describe.describe(snap, key, now, expanded, self.whale_pairs, running)

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(self)

    # ------------------------------------------------------------------ refresh loop

    def on_mount(self) -> None:
        # One timer for the console's life: a timer per check (three a second) cost more CPU than the
        # check itself (docs/benchmarks.md, console idle CPU).
        self.set_interval(self.config.refresh_interval, self._check_for_change)
        self._check_for_change()
        self.set_interval(1.0, self._tick)

    def _check_for_change(self) -> None:
        """Check for a change on the UI loop (cheap); read in a thread only when something changed.

        Never while a read is in flight (two reads never overlap), nor before the gap the last read set.
        """
        if self._reading or time.monotonic() < self._check_not_before:
            return
        try:
            changed = self.model.has_changed()
        except Exception as exc:  # the database went away: say so, keep checking
            self.log.error(f"change check failed: {exc!r}")
            changed = False
        if changed:
            self._reading = True
            self._poll_worker()

    @work(thread=True, group="poll", exit_on_error=False, description="database change check")
    def _poll_worker(self) -> None:
        snapshot = self.model.poll()
        if snapshot is not None:
            self.post_message(SnapshotReady(snapshot))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "poll":
            return
        if event.state is WorkerState.ERROR:
            self.log.error(f"refresh failed: {event.worker.error!r}")
        if event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            # The next check comes only after this read has finished. After a read that found only the
            # engine's routine writes, the demo's next one waits longer (routine_gap).
            gap, self._next_gap = self._next_gap, self.config.refresh_interval
            self._check_not_before = time.monotonic() + gap if gap > self.config.refresh_interval else 0.0
            self._reading = False

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        started = time.perf_counter()
        snap = message.snapshot
        before, self.snapshot = self.snapshot, snap
        if before is not None and snap.changed <= ROUTINE:
            self._next_gap = max(self.config.refresh_interval, self.config.routine_gap)
        for command in snap.finished_commands:
            self.operator.report(command)
        self.announcer.changes(before, snap, self.now())
        if not self.screen_stack:
            return  # starting or shutting down: no screen to draw on (the snapshot is kept for the next)
        if isinstance(self.screen, PerformanceScreen) and "history" in snap.changed:
            self.screen.load()  # a position closed: the figures change only then
        if not self._main_ready():
            return
        now = self.now()
        try:
            self.main.apply(snap, now, self.config, self.readonly)  # every countdown as of now, too
            self.ticks.snapshot_drawn(snap, now, type(self.screen))
            if "whales" in snap.changed:
                self.charts.flows(self.main)
            self.cursor.follow()
        except NoMatches:
            return  # torn down while the snapshot was in flight
        if isinstance(self.screen, DetailScreen):
            found = self._describe(self.screen.key, self.screen.expanded)
            if found is not None:
                self.screen.show(found[1])
        self.operator.refresh_confirm()
        self.selection_changed()
        self.apply_ms.append((time.perf_counter() - started) * 1000)
        if self.first_paint is None:
            self.call_after_refresh(self._painted)

    def action_next_waiting(self) -> None:
        if self._main_ready():
            self.cursor.next_waiting()

    def _main_ready(self) -> bool:
        main = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        return main is not None and main.ready and main.is_attached

    def apply_current(self) -> None:
        """Show the latest snapshot in full (the screen was composed after it arrived)."""
        snap = self.snapshot
        if snap is not None and self._main_ready():
            self.main.apply(
                dataclasses.replace(snap, changed=frozenset(SECTIONS)), self.now(), self.config, self.readonly
            )
            self.charts.flows(self.main)
            self.cursor.follow()
            self.selection_changed()
            if self.first_paint is None:
                self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        if self.first_paint is None:
            self.first_paint = time.perf_counter()

    def _tick(self) -> None:
        """Once a second, but work only when a displayed time can have changed (``TickGate``)."""
        if not self._main_ready():
            return
        now = self.now()
        snap = self.snapshot
        if snap is not None:
            if not self.ticks.due(snap, now, type(self.screen)):
                return
            self.announcer.forced(snap, now)
        try:
            self.main.tick(self.snapshot, now, self.config, self.readonly)
        except NoMatches:
            return  # the screen is being torn down (quit) between two ticks: nothing left to draw
        self.ticks.drawn()
        if isinstance(self.screen, DetailScreen) and self.snapshot is not None:
            found = self._describe(self.screen.key, self.screen.expanded)
            if found is not None:
                self.screen.show(found[1])
        self.operator.refresh_confirm()

    def selection_changed(self) -> None:
        # The footer is rebuilt on refresh_bindings: only when what applies actually changed.
        states = (type(self.screen), *self.rules.states())
        if states != self._binding_states:
            self._binding_states = states
            self.refresh_bindings()
        if not self._main_ready():
            return
        main = self.main
        self.charts.position(main, self.snapshot, self.now)
        if not main.has_class("-wide") or self.snapshot is None:
            return
        key = main.selected_key()
        record = self.snapshot.find(key) if key else None
        shown = (
            key,
            record,
            self.snapshot.limits.get(f"drift.proposal.{key.partition(':')[2]}") if key else None,
        )
        if shown == self._pane_shows:
            return  # the same record as drawn: no re-render, no repaint
        self._pane_shows = shown
        # The selected row of the visible tab, or nothing: never the record of a tab left behind.
        found = self._describe(key) if key else None
        main.query_one(DetailPane).show(key, found[1] if found is not None else None)

    # ------------------------------------------------------------------ navigation

    def action_details(self) -> None:
        key = self.selected_key()
        if key is None or self.snapshot is None:
            return
        found = self._describe(key)
        if found is not None:
            self.push_screen(DetailScreen(self, key, *found))

    def refresh_detail(self) -> None:
        """Re-render the open detail screen (a section was expanded or collapsed)."""
        if isinstance(self.screen, DetailScreen) and self.snapshot is not None:
            found = self._describe(self.screen.key, self.screen.expanded)
            if found is not None:
                self.screen.show(found[1])

    def on_data_table_row_selected(self) -> None:
        if isinstance(self.screen, MainScreen):
            self.action_details()

    def action_show_tab(self, tab: str) -> None:
        self.main.show_tab(tab)

    def action_filter(self) -> None:
        self.main.open_filter()

    def action_event_level(self) -> None:
        level = self.model.event_level
        nxt = _LEVELS[(_LEVELS.index(level) + 1) % len(_LEVELS)]
        self.model.set_event_level(nxt)
        self.main.query_one("#events-table").border_title = f"level ≥ {nxt.value}"
        self.notify(f"event log: {nxt.value} and above", timeout=2)

    def action_scorecard(self) -> None:
        self.push_screen(ScorecardScreen(self.model.store))

    def action_performance(self) -> None:
        self.push_screen(
            PerformanceScreen(self.model.store, now=self.now, taker_fee_pct=self.config.taker_fee_pct)
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)]))

    # ------------------------------------------------------------------ what applies (keys.py)

    def selected_key(self) -> str | None:
        return self.rules.selected_key()

    def selected(self) -> object | None:
        return self.rules.selected()

    def action_state(self, action: str) -> bool | None:
        return self.rules.state(action)

    def palette_actions(self) -> list[tuple[str, str, str]]:
        return self.rules.palette_actions()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.rules.allows(action)

    def on_key(self, event: events.Key) -> None:
        """A command key that does not apply here says why, instead of doing nothing silently."""
        why = self.rules.refusal(event.key)
        if why is not None:
            self.notify(why, title="Not available", severity="warning", timeout=6)

    # ------------------------------------------------------------------ commands (operator_actions.py)

    def keep_cursor(self) -> None:
        self.cursor.keep()

    def send_command(self, args: CommandArgs, label: str) -> None:
        self.operator.send_command(args, label)

    def on_command_sent(self, message: CommandSent) -> None:
        self.operator.sent(message)

    def on_command_not_sent(self, message: CommandNotSent) -> None:
        self.operator.not_sent(message)

    def action_approve(self) -> None:
        self.operator.approve()

    def action_reject(self) -> None:
        self.operator.reject()

    def action_close_position(self) -> None:
        self.operator.close_position()

    def action_close_all(self) -> None:
        self.operator.close_all()

    def action_cleanup(self) -> None:
        self.operator.cleanup()

    def action_pause(self) -> None:
        self.operator.pause()

    def action_resume(self) -> None:
        self.operator.resume()

    def action_run_cycle(self) -> None:
        self.operator.run_cycle()

    def action_manual_entry(self) -> None:
        self.operator.manual_entry()

    def action_move_stop(self) -> None:
        self.adjust.move_stop()

    def action_move_tp(self) -> None:
        self.adjust.move_tp()

    def action_close_part(self) -> None:
        self.adjust.close_part()

    def action_clear_cooldown(self) -> None:
        self.adjust.clear_cooldown()


ROUTINE = frozenset({"engine", "health", "account", "positions", "limits"})
"""What a running engine rewrites all the time: its heartbeat, component health, account snapshots, marks
and PnL of open positions, drift measurements. Anything that asks the operator for something (a proposal,
an order, a closed position, an event) changes another section too."""


def open_console(
    db_path: Path | str,
    *,
    config: ConsoleConfig | None = None,
    now: Now = utc_now,
    readonly: bool | None = None,
) -> ConsoleApp:
    """Attach to the engine's database, read-only when this process cannot write it."""
    path = Path(db_path).expanduser()
    if not path.exists():
        raise StoreError(f"{path}: no database here (start the engine, or pass --db)")
    if readonly is None:
        readonly = not Store.writable(path)
    try:
        if readonly:
            store = Store.open(path, readonly=True)
        else:
            try:
                store = Store.open(path, migrate=False)
            except Exception:  # e.g. a read-only filesystem: fall back rather than refuse
                store = Store.open(path, readonly=True)
                readonly = True
        store.data_version()
        store.engine.current()  # read once now: a permission problem is told here, not as a traceback
    except (sqlite3.Error, OSError, StoreError) as exc:
        # Store.open reports SQLite failures as StoreError already; a viewer still needs the viewer's fix.
        reason = str(exc).removeprefix(f"{path}: ")
        raise StoreError(
            f"{path}: cannot read the database ({reason}). A viewer needs read access to the database "
            "and its -wal file, write access to its -shm file, and search access to the directory; see "
            "docs/operator-guide.md, 'Read-only viewers'."
        ) from None
    model = ReadModel(store, config=config, now=now)
    return ConsoleApp(model, readonly=readonly, config=config, now=now)

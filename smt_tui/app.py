"""The operator console: the live refresh loop, toasts and the bell for what changed, the cursor that
follows a newly waiting proposal, navigation, and ``open_console``.

Reads happen in a thread worker (``ReadModel.poll``), started by one interval timer only while no read is
in flight, so two refreshes never overlap; the worker posts ``SnapshotReady`` and never touches a widget.
Operator actions insert a row into ``commands`` (also from a worker) and the result is shown when the engine
completes it.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from textual import work
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from smt_engine.commands.client import actor as command_actor
from smt_engine.domain import EventLevel, PositionState, ProposalState
from smt_engine.store import Store, StoreError
from smt_engine.store.records import Position
from smt_tui import alerts, describe
from smt_tui.messages import SnapshotReady
from smt_tui.operator_actions import OperatorActions
from smt_tui.screens.detail import DetailScreen
from smt_tui.screens.help import HelpScreen
from smt_tui.screens.main import MainScreen
from smt_tui.screens.performance import PerformanceScreen
from smt_tui.screens.scorecard import ScorecardScreen
from smt_tui.state import SECTIONS, ConsoleConfig, Liveness, Now, ProposalView, ReadModel, Snapshot, utc_now
from smt_tui.widgets.detail_pane import DetailPane
from smt_tui.widgets.flow_chart import WINDOW_HOURS as FLOW_WINDOW_HOURS
from smt_tui.widgets.flow_chart import FlowChart
from smt_tui.widgets.position_chart import PositionChart
from smt_tui.widgets.proposals_table import ProposalsTable

_LEVELS = list(EventLevel)


class ConsoleApp(OperatorActions):
    """The console: the live refresh loop, what it announces, and where the operator looks.

    Keys and what applies are in ``ConsoleKeys``; the actions that queue commands in ``OperatorActions``.
    """

    CSS_PATH = "console.tcss"
    TITLE = "SMT console"

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
        self._last_trigger: dict[str, float] = {}
        self._labels: dict[int, str] = {}
        self._follow: str | None = None
        self._auto_key: str | None = None
        self._opened = False
        self._pane_shows: tuple[object, ...] | None = None
        self._binding_states: tuple[object, ...] = ()
        self._last_moment: tuple[object, ...] | None = None
        self._next_gap = self.config.refresh_interval
        self._reading = False
        self._check_not_before = 0.0
        self._forced_told: set[int] = set()
        self._drawn_at = 0.0
        self._bars: tuple[tuple[object, ...], list[Any]] | None = None
        if readonly:
            self.sub_title = "read-only"

    @property
    def whale_pairs(self) -> frozenset[str] | None:
        return self.config.whale_pairs

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
        return MainScreen()

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
            self._report(command)
        self._announce(before, snap)
        if not self.screen_stack:
            return  # starting or shutting down: no screen to draw on (the snapshot is kept for the next)
        if isinstance(self.screen, PerformanceScreen) and "history" in snap.changed:
            self.screen.load()  # a position closed: the figures change only then
        if not self._main_ready():
            return
        now = self.now()
        try:
            self.main.apply(snap, now, self.config, self.readonly)  # every countdown as of now, too
            self._drawn_at = time.monotonic()
            # The ticks of this minute have nothing left to draw (unless a figure counts seconds).
            self._last_moment = self._moment(snap, now)
            if "whales" in snap.changed:
                self._chart_flows()
            self._follow_waiting()
        except NoMatches:
            return  # torn down while the snapshot was in flight
        if isinstance(self.screen, DetailScreen):
            found = self._describe(self.screen.key, self.screen.expanded)
            if found is not None:
                self.screen.show(found[1])
        self.refresh_confirm()
        self.selection_changed()
        self.apply_ms.append((time.perf_counter() - started) * 1000)
        if self.first_paint is None:
            self.call_after_refresh(self._painted)

    def _announce(self, before: Snapshot | None, snap: Snapshot) -> None:
        """Toasts for what changed; the bell when a proposal starts waiting for the operator."""
        now = self.now()
        running = snap.engine.running(now, self.config.stale_after)
        self._ring(alerts.notices(before, snap, now, running))
        self._announce_forced(snap, now)

    def _announce_forced(self, snap: Snapshot, now: datetime) -> None:
        """A forced close within minutes, once per position (also from the tick: time alone brings it)."""
        if snap.engine.running(now, self.config.stale_after):
            self._ring(alerts.forced_notices(snap, now, self._forced_told))

    def _ring(self, notices: list[alerts.Notice]) -> None:
        ring = False
        for notice in notices:
            self.notify(notice.message, title=notice.title, severity=notice.severity, timeout=12)  # type: ignore[arg-type]
            ring = ring or notice.bell
            if notice.key is not None and self._follow is None:
                self._follow = notice.key
            if notice.position_id is not None:
                self._forced_told.add(notice.position_id)
        if ring:
            self.bell()

    def _follow_waiting(self) -> None:
        """Bring a newly waiting proposal under the cursor unless the operator moved it elsewhere.

        At start-up, when something already waits, the console opens on Proposals.
        """
        key, self._follow = self._follow, None
        if key is None:
            key = self._stale_follow()
        if key is None:
            return
        main = self.main
        if not self._opened:
            self._opened = True
            main.show_tab("proposals")
        table = main.query_one(ProposalsTable)
        current = table.selected_key
        untouched = current in (None, key, self._auto_key) or not self._waiting(current or "")
        if untouched and table.select_key(key):
            self._auto_key = key

    def _stale_follow(self) -> str | None:
        """The next waiting proposal when the one the console put the cursor on stopped waiting.

        Only while the operator has not moved the cursor: the proposal it followed was decided (by the
        operator elsewhere, the engine, or its expiry) and another still waits.
        """
        snap, auto = self.snapshot, self._auto_key
        if snap is None or auto is None or self._waiting(auto) or not snap.waiting:
            return None
        if self.main.query_one(ProposalsTable).selected_key != auto:
            return None
        return snap.waiting[0].key

    def _waiting(self, key: str) -> bool:
        record = self.snapshot.find(key) if self.snapshot is not None else None
        return isinstance(record, ProposalView) and record.proposal.state is ProposalState.PROPOSED

    def action_next_waiting(self) -> None:
        """Jump to the next waiting proposal (soonest to expire first), wrapping around."""
        snap = self.snapshot
        if snap is None or not snap.waiting or not self._main_ready():
            return
        keys = [v.key for v in snap.waiting]
        main = self.main
        table = main.query_one(ProposalsTable)
        current = table.selected_key if main.active_tab == "proposals" else None
        key = keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]
        if main.active_tab != "proposals":
            main.show_tab("proposals")
        table.select_key(key)
        self._auto_key = key

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
            self._chart_flows()
            self._follow_waiting()
            self.selection_changed()
            if self.first_paint is None:
                self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        if self.first_paint is None:
            self.first_paint = time.perf_counter()

    def _tick(self) -> None:
        """Once a second, but work only when a displayed time can have changed: countdowns show seconds
        only in their last two minutes, so most ticks are a comparison and nothing else."""
        if not self._main_ready():
            return
        now = self.now()
        snap = self.snapshot
        if snap is not None:
            live = snap.engine.liveness(now, self.config.stale_after)
            moment = self._moment(snap, now)
            seconds = _seconds_matter(snap, now, live)
            if moment == self._last_moment and not seconds:
                return
            if not seconds and time.monotonic() - self._drawn_at < _DRAWN_RECENTLY:
                # A snapshot drew every time figure a moment ago (the demo clock at 60x moves a minute a
                # second, and the engine's writes arrive about as often): this tick would draw it again.
                return
            self._last_moment = moment
            self._announce_forced(snap, now)
        try:
            self.main.tick(self.snapshot, now, self.config, self.readonly)
        except NoMatches:
            return  # the screen is being torn down (quit) between two ticks: nothing left to draw
        self._drawn_at = time.monotonic()
        if isinstance(self.screen, DetailScreen) and self.snapshot is not None:
            found = self._describe(self.screen.key, self.screen.expanded)
            if found is not None:
                self.screen.show(found[1])
        self.refresh_confirm()

    def _moment(self, snap: Snapshot, now: datetime) -> tuple[object, ...]:
        """What the time figures on screen are drawn from, at the minute (countdowns show minutes)."""
        live = snap.engine.liveness(now, self.config.stale_after)
        return (now.replace(second=0, microsecond=0), live, id(snap), type(self.screen))

    def selection_changed(self) -> None:
        # The footer is rebuilt on refresh_bindings: only when what applies actually changed.
        states = (type(self.screen), *self.action_states())
        if states != self._binding_states:
            self._binding_states = states
            self.refresh_bindings()
        if not self._main_ready():
            return
        main = self.main
        self._chart_position(main)
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

    def _chart_flows(self) -> None:
        """The Whales tab's net exchange flow history, from the engine's stored windows."""
        self.main.query_one(FlowChart).show(self.model.store.exchange_flows.recent(FLOW_WINDOW_HOURS, 400))

    def _chart_position(self, main: MainScreen) -> None:
        """The selected open position's stored bars since a little before it opened, under Positions.

        Called on every snapshot and selection change; the chart redraws only when what it shows moved.
        While another tab is shown the hidden chart is left as it is (drawn again when Positions shows).
        """
        if main.active_tab != "positions":
            return
        chart = main.query_one(PositionChart)
        key = main.selected_key()
        record = self.snapshot.find(key) if key and self.snapshot is not None else None
        if not isinstance(record, Position) or record.state is not PositionState.OPEN:
            chart.show(None, ())
            return
        # The engine stores bars during its cycles: read them again only for another position or cycle
        # (not for every mark-price move), and never on every snapshot of a demo running at 60x.
        cycle = self.snapshot.engine.last_cycle if self.snapshot is not None else None
        drawn = (record.id, record.symbol, record.opened_at, cycle)
        if self._bars is None or self._bars[0] != drawn:
            start = record.opened_at - _CHART_BEFORE_OPEN
            self._bars = (drawn, list(self.model.store.candles.between(record.symbol, start, self.now())))
        chart.show(record, self._bars[1])

    # ------------------------------------------------------------------ navigation

    def action_details(self) -> None:
        key = self.selected_key()
        if key is None or self.snapshot is None:
            return
        found = self._describe(key)
        if found is not None:
            self.push_screen(DetailScreen(key, *found))

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


ROUTINE = frozenset({"engine", "health", "account", "positions", "limits"})
"""What a running engine rewrites all the time: its heartbeat, component health, account snapshots, marks
and PnL of open positions, drift measurements. Anything that asks the operator for something (a proposal,
an order, a closed position, an event) changes another section too."""

_DRAWN_RECENTLY = 1.9
"""Real seconds after a snapshot drew the time figures during which a tick leaves them as they are."""

_CHART_BEFORE_OPEN = timedelta(hours=6)
"""How much of the pair's stored price history before the entry the position chart shows."""

_SECONDS_SHOWN = timedelta(seconds=125)
"""Countdowns show seconds below two minutes (fmt.countdown); a little margin for the tick's jitter."""


def _seconds_matter(snap: Snapshot, now: datetime, live: Liveness) -> bool:
    """Whether some figure on screen counts seconds right now."""
    if live is not Liveness.ALIVE:
        age = snap.engine.heartbeat_age(now)
        return age is None or age < _SECONDS_SHOWN  # the heartbeat's age is shown
    ends = [v.proposal.expires_at for v in snap.waiting if v.proposal.expires_at is not None]
    max_hold = snap.max_hold()
    if max_hold is not None:
        ends += [p.opened_at + max_hold for p in snap.positions]
    status = snap.engine.status
    if status is not None and status.next_cycle_at is not None:
        ends.append(status.next_cycle_at)
    return any(timedelta(0) - _SECONDS_SHOWN < end - now < _SECONDS_SHOWN for end in ends)


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

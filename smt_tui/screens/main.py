"""The dashboard: header, tabbed panes, a detail pane on wide terminals, filter bar and footer."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, TabbedContent, TabPane

from smt_tui.state import ConsoleConfig, Now, Snapshot
from smt_tui.widgets.decisions_table import DecisionsTable
from smt_tui.widgets.detail_pane import DetailPane
from smt_tui.widgets.event_log import EventLog
from smt_tui.widgets.filter_bar import FilterBar
from smt_tui.widgets.flow_chart import FlowChart
from smt_tui.widgets.history import History, HistoryTable
from smt_tui.widgets.keyed_table import KeyedTable
from smt_tui.widgets.orders_table import OrdersTable
from smt_tui.widgets.position_chart import PositionChart
from smt_tui.widgets.positions_table import PositionsTable, forced_close_in
from smt_tui.widgets.proposals_table import ProposalsTable, time_left
from smt_tui.widgets.status_bar import StatusBar
from smt_tui.widgets.steady_footer import SteadyFooter
from smt_tui.widgets.whale_feed import WhaleFeed, WhalesTable

WIDE = 140
"""From this width the detail pane sits beside the tables."""

TALL = 34
"""Below this height the charts give their rows to the tables: at 80x24 every open position is listed."""

TABS = (
    ("positions", "Positions"),
    ("proposals", "Proposals"),
    ("history", "History"),
    ("whales", "Whales"),
    ("decisions", "Decisions"),
    ("orders", "Orders"),
    ("events", "Events"),
)

_TAB_OF = {
    "history": "history",
    "account": "history",
    "whales": "whales",
    "decisions": "decisions",
    "orders": "orders",
    "events": "events",
}
"""The tab whose widgets draw each section that only one hidden tab shows (``MainScreen.apply``)."""


class MainHost(Protocol):
    """What the dashboard asks of the console that shows it: the console's clock, a full drawing of the
    snapshot that arrived before the screen was composed, and the detail pane and footer to follow the
    selection. The App passes itself, so mypy checks it keeps these (docs/design.md, "Packages and their
    direction")."""

    @property
    def now(self) -> Now: ...

    def apply_current(self) -> None: ...

    def selection_changed(self) -> None: ...


class MainScreen(Screen[None]):
    def __init__(self, host: MainHost) -> None:
        super().__init__()
        self._host = host

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with Horizontal(id="body"):
            with TabbedContent(id="tabs", initial="positions"):
                with TabPane("Positions", id="positions"):
                    yield PositionsTable(id="positions-table")
                    yield PositionChart(id="position-chart")
                with TabPane("Proposals", id="proposals"):
                    yield ProposalsTable(id="proposals-table")
                with TabPane("History", id="history"):
                    yield History(id="history")
                with TabPane("Whales", id="whales"):
                    yield WhaleFeed(id="whale-feed")
                    yield FlowChart(id="flow-chart")
                with TabPane("Decisions", id="decisions"):
                    yield DecisionsTable(id="decisions-table")
                with TabPane("Orders", id="orders"):
                    yield OrdersTable(id="orders-table")
                with TabPane("Events", id="events"):
                    yield EventLog(id="events-table")
            yield DetailPane(id="detail-pane")
        yield FilterBar()
        yield SteadyFooter()

    ready = False
    """Set once composed: snapshots that arrive earlier are applied from here."""

    def on_mount(self) -> None:
        self.query_one(FilterBar).display = False
        self.query_one(PositionsTable).focus()
        self.ready = True
        self.call_after_refresh(self._host.apply_current)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= WIDE, "-wide")
        self.set_class(event.size.height < TALL, "-short")

    # ------------------------------------------------------------------ selection

    @property
    def active_tab(self) -> str:
        return self.query_one(TabbedContent).active or "positions"

    def active_table(self) -> KeyedTable:
        pane = self.query_one(f"#{self.active_tab}", TabPane)
        focused = self.focused
        if isinstance(focused, KeyedTable) and pane in focused.ancestors:
            return focused
        if self.active_tab == "whales":
            return self.query_one(WhalesTable)
        if self.active_tab == "history":
            return self.query_one(HistoryTable)
        return pane.query(KeyedTable).first()

    def selected_key(self) -> str | None:
        return self.active_table().selected_key

    def show_tab(self, tab: str) -> None:
        """Everything a switch changes, before the next layout: the new tab is laid out and painted once.

        Shown, focused, its held sections drawn, the detail pane and the footer's keys following, all
        now; waiting for ``TabActivated`` (posted, handled after the first paint) meant a second layout
        and a second full paint of the new table (docs/benchmarks.md, console).
        """
        self.query_one(TabbedContent).active = tab
        self._tab_shown()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        self._tab_shown()  # a click on a tab; after ``show_tab`` there is nothing left to do

    def _tab_shown(self) -> None:
        self._draw_held()
        # A filter belongs to the table it was typed in; another tab keeps its own rows.
        self.query_one(FilterBar).display = False
        self.set_focus(self.active_table())  # now, not after a refresh: drawn once, already focused
        self._selection_changed()
        self.query_one(SteadyFooter).follow()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._selection_changed()

    def _selection_changed(self) -> None:
        self._host.selection_changed()

    # ------------------------------------------------------------------ data

    _held: frozenset[str] = frozenset()
    """Sections of hidden tabs that changed since their tab was last drawn (``apply``)."""
    _filled: frozenset[str] = frozenset()
    """Sections drawn at least once: until then a section is drawn even on a hidden tab."""
    _latest: Snapshot | None = None

    def apply(self, snap: Snapshot, now: datetime, config: ConsoleConfig, readonly: bool) -> None:
        """Update only the sections the read model reported as changed.

        The sections of a hidden tab (history, whales, decisions, orders, events) are held until that tab
        is shown: at the demo's pace their tables rotate rows several times a minute, and each rotation of
        a hidden table asked for a full layout of the console. Positions and proposals are always current
        (their countdowns, the waiting count, the cursor that follows a waiting proposal).
        """
        changed = snap.changed
        self._latest = snap
        active = self.active_tab
        held = {s for s in changed if s in self._filled and _TAB_OF.get(s, active) != active}
        self._held |= held
        self._filled |= changed
        self.tick(snap, now, config, readonly)  # the header and both tables, every time figure as of now
        if changed & {"proposals", "limits", "engine", "whales"}:
            self._count_waiting(len(snap.waiting))
        self._draw_tab_sections(snap, changed - held, now)

    def _draw_tab_sections(self, snap: Snapshot, changed: frozenset[str] | set[str], now: datetime) -> None:
        if "history" in changed:
            self.query_one(History).show(snap.history, now)
        if "account" in changed:
            self.query_one(History).show_equity(snap.account.curve)
        if "whales" in changed:
            self.query_one(WhaleFeed).show(snap.whales)
        if "decisions" in changed:
            self.query_one(DecisionsTable).show(snap.decisions)
        if "orders" in changed:
            self.query_one(OrdersTable).show(snap.orders)
        if "events" in changed:
            self.query_one(EventLog).show(snap.events)

    def _draw_held(self) -> None:
        """The shown tab's sections that changed while it was hidden, from the latest snapshot."""
        active = self.active_tab
        due = {s for s in self._held if _TAB_OF.get(s) == active}
        if due and self._latest is not None:
            self._held -= due
            self._draw_tab_sections(self._latest, due, self._host.now())

    def tick(self, snap: Snapshot | None, now: datetime, config: ConsoleConfig, readonly: bool) -> None:
        """Once a second: countdowns and ages move without any database read."""
        self.query_one(StatusBar).show(snap, now, config, readonly)
        if snap is None:
            return
        running = snap.engine.running(now, config.stale_after)
        max_hold = snap.max_hold()
        # Rows are built only when what they are drawn from moved: the section's records, the limits and
        # whale evidence they quote, the engine's liveness, or the text of a countdown (which changes once
        # a minute, every second in its last two). A heartbeat alone rebuilds no row.
        positions = (
            snap.positions,
            max_hold,
            running,
            tuple(_shown(forced_close_in(p, now, max_hold, running)) for p in snap.positions),
        )
        if positions != self._positions_drawn:
            self._positions_drawn = positions
            self.query_one(PositionsTable).show(snap.positions, now, max_hold, running)
        proposals = (
            snap.proposals,
            snap.limits,
            snap.whales,
            running,
            config.whale_pairs,
            tuple(_shown(time_left(v, now, running)) for v in snap.proposals),
        )
        if proposals != self._proposals_drawn:
            self._proposals_drawn = proposals
            self.query_one(ProposalsTable).show(snap, now, config.whale_pairs, running)

    _positions_drawn: tuple[object, ...] | None = None
    _proposals_drawn: tuple[object, ...] | None = None

    _waiting_shown = -1

    def _count_waiting(self, count: int) -> None:
        """The Proposals tab carries the number waiting for the operator."""
        if count == self._waiting_shown:
            return
        self._waiting_shown = count
        tab = self.query_one(TabbedContent).get_tab("proposals")
        # Textual realigns the active tab's underline on a relabel (tests/tui/test_tab_label.py).
        tab.label = f"Proposals ({count})" if count else "Proposals"

    def open_filter(self) -> None:
        bar = self.query_one(FilterBar)
        bar.value = self.active_table().filter_text
        bar.display = True
        bar.focus()

    @on(FilterBar.Filtered)
    def _filter_changed(self, event: FilterBar.Filtered) -> None:
        self.active_table().set_filter(event.text)
        if event.done:
            bar = self.query_one(FilterBar)
            if not event.text:
                bar.display = False
            self.active_table().focus()


def _shown(text: Text) -> tuple[str, str]:
    """A countdown cell as drawn: its text and its style."""
    return text.plain, str(text.style)

"""What the dashboard's two charts show, read from the store: the net exchange flows under Whales and
the selected open position's bars under Positions.

Both read the engine's stored history on the UI thread, so each reads only when what it shows moved;
the App composes one ``ChartFeed`` and calls it on every snapshot and selection change.
"""

from __future__ import annotations

from datetime import timedelta

from smt_engine.domain import PositionState
from smt_engine.store.prices import StoredCandle
from smt_engine.store.records import Position
from smt_tui.screens.main import MainScreen
from smt_tui.state import Now, ReadModel, Snapshot
from smt_tui.widgets.flow_chart import WINDOW_HOURS as FLOW_WINDOW_HOURS
from smt_tui.widgets.flow_chart import FlowChart
from smt_tui.widgets.position_chart import PositionChart

CHART_BEFORE_OPEN = timedelta(hours=6)
"""How much of the pair's stored price history before the entry the position chart shows."""


class ChartFeed:
    """The store's reads behind the charts, with the position's bars kept while they stay the same."""

    def __init__(self, model: ReadModel) -> None:
        self._model = model
        self._bars: tuple[tuple[object, ...], list[StoredCandle]] | None = None

    def flows(self, main: MainScreen) -> None:
        """The Whales tab's net exchange flow history, from the engine's stored windows."""
        main.query_one(FlowChart).show(self._model.store.exchange_flows.recent(FLOW_WINDOW_HOURS, 400))

    def position(self, main: MainScreen, snapshot: Snapshot | None, now: Now) -> None:
        """The selected open position's stored bars since a little before it opened, under Positions.

        Called on every snapshot and selection change; the chart redraws only when what it shows moved.
        While another tab is shown the hidden chart is left as it is (drawn again when Positions shows).
        """
        if main.active_tab != "positions":
            return
        chart = main.query_one(PositionChart)
        key = main.selected_key()
        record = snapshot.find(key) if key and snapshot is not None else None
        if not isinstance(record, Position) or record.state is not PositionState.OPEN:
            chart.show(None, ())
            return
        # The engine stores bars during its cycles: read them again only for another position or cycle
        # (not for every mark-price move), and never on every snapshot of a demo running at 60x.
        cycle = snapshot.engine.last_cycle if snapshot is not None else None
        drawn = (record.id, record.symbol, record.opened_at, cycle)
        if self._bars is None or self._bars[0] != drawn:
            start = record.opened_at - CHART_BEFORE_OPEN
            self._bars = (drawn, list(self._model.store.candles.between(record.symbol, start, now())))
        chart.show(record, self._bars[1])

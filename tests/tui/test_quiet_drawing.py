"""Pilot tests: the console draws only what is seen and only what changed (docs/benchmarks.md, console).

A changed cell repaints its own row with the new value, never the rest of the table; the tables of a hidden
tab are brought up to date when the tab is shown, and until then the snapshot alone holds the new rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.domain import EventLevel
from smt_tui.app import ConsoleApp
from smt_tui.widgets.event_log import EventLog
from smt_tui.widgets.keyed_table import KeyedTable
from smt_tui.widgets.positions_table import PositionsTable
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import NOW, Fixture

MakeApp = Callable[..., ConsoleApp]


def _line_text(table: PositionsTable, key: str) -> str:
    """The row's line as the table renders it now (through its caches)."""
    index = table.get_row_index(key)
    y = index + 1 - int(table.scroll_y)  # the header is line 0
    return table.render_line(y).text


async def test_a_changed_cell_is_drawn_in_its_row_and_the_others_stay_cached(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("1")  # the fixture opens on Proposals: something waits
        table = app.main.query_one(PositionsTable)
        await wait_for(pilot, lambda: table.size.width > 0)
        key = f"position:{fixture_db.protected_position_id}"
        other = next(k for k in table._cells if k != key)
        before_other = _line_text(table, other)
        updates = table._update_count
        engine.store.positions.update(
            fixture_db.protected_position_id, unrealized_pnl=Decimal("9.75"), updated_at=NOW
        )
        await wait_for(pilot, lambda: "+9.75" in table._cells[key][5].plain)
        await pilot.pause()
        assert "+9.75" in _line_text(table, key)  # the row's drawn line, not only the data
        assert _line_text(table, other) == before_other  # the same width: no column moved
        assert table._update_count == updates  # no table-wide invalidation for one cell


async def test_a_hidden_tab_is_brought_up_to_date_when_shown(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        log = app.main.query_one(EventLog)
        rows_before = set(log._cells)
        assert app.main.active_tab != "events"
        event = engine.store.events.append(NOW, EventLevel.WARNING, "test", "drawn when shown")
        key = f"event:{event.id}"
        await wait_for(
            pilot, lambda: app.snapshot is not None and any(e.id == event.id for e in app.snapshot.events)
        )
        await pilot.pause()
        assert key not in log._cells
        assert set(log._cells) == rows_before
        await pilot.press("7")
        await wait_for(pilot, lambda: key in log._cells)
        assert "drawn when shown" in " ".join(str(getattr(c, "plain", c)) for c in log._cells[key])


async def test_a_heartbeat_that_changes_no_row_leaves_both_tables_as_they_are(
    make_app: MakeApp, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        applied: list[str] = []
        original = KeyedTable._apply

        def counting(self: KeyedTable) -> None:
            applied.append(type(self).__name__)
            original(self)

        monkeypatch.setattr(KeyedTable, "_apply", counting)
        before = app.snapshot
        engine.store.engine.set(heartbeat_at=NOW - timedelta(seconds=1))  # the engine's routine write
        await wait_for(pilot, lambda: app.snapshot is not before)
        await pilot.pause()
        assert app.snapshot is not None
        assert "engine" in app.snapshot.changed
        assert applied == []  # both tables were given their rows again, equal: no diff, no repaint
        engine.store.positions.update(
            engine.store.positions.open_positions()[0].id, unrealized_pnl=Decimal("3.21"), updated_at=NOW
        )
        await wait_for(pilot, lambda: "PositionsTable" in applied)  # a changed row is still drawn


async def test_a_heartbeat_alone_builds_no_row_of_either_table(
    make_app: MakeApp, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import smt_tui.widgets.positions_table as positions_module
    import smt_tui.widgets.proposals_table as proposals_module

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        built: list[str] = []
        position_row, proposal_row = positions_module.position_row, proposals_module.proposal_row

        def counting_position(*args: object, **kwargs: object) -> object:
            built.append("position")
            return position_row(*args, **kwargs)  # type: ignore[arg-type]

        def counting_proposal(*args: object, **kwargs: object) -> object:
            built.append("proposal")
            return proposal_row(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(positions_module, "position_row", counting_position)
        monkeypatch.setattr(proposals_module, "proposal_row", counting_proposal)
        before = app.snapshot
        engine.store.engine.set(heartbeat_at=NOW - timedelta(seconds=1))  # the engine's routine write
        await wait_for(pilot, lambda: app.snapshot is not before)
        await pilot.pause()
        assert app.snapshot is not None
        assert app.snapshot.changed == {"engine"}
        assert built == []  # nothing a row shows moved: no row built, not even to compare
        engine.store.positions.update(
            engine.store.positions.open_positions()[0].id, unrealized_pnl=Decimal("3.21"), updated_at=NOW
        )
        await wait_for(pilot, lambda: "position" in built)  # a changed position is still built and drawn
        assert "proposal" not in built  # and the proposals, which did not move, are not

"""What a tab switch costs besides Textual's own layout and paint of the new tab: no table is rebuilt or
drawn again when unchanged, and the footer's keys are relabelled in place, all before the one layout."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from textual.widgets import DataTable
from textual.widgets._footer import FooterKey

from smt_tui.screens.main import TABS
from smt_tui.widgets.keyed_table import KeyedTable
from smt_tui.widgets.orders_table import OrdersTable
from smt_tui.widgets.steady_footer import SteadyFooter
from tests.tui.conftest import ready, wait_for
from tests.tui.test_console import MakeApp


def _listed(footer: SteadyFooter) -> list[str]:
    return [k.action for k in footer.query(FooterKey) if k.display]


async def test_footer_keys_are_relabelled_in_place_by_a_tab_switch(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        footer = app.main.query_one(SteadyFooter)
        await pilot.press("4")
        await wait_for(pilot, lambda: app.main.active_tab == "whales" and footer.up_to_date)
        keys = list(footer.query(FooterKey))
        assert "event_level" not in _listed(footer)
        assert {"help", "quit"} <= set(_listed(footer))

        await pilot.press("5")  # Decisions: the same keys apply as on Whales
        await wait_for(pilot, lambda: app.main.active_tab == "decisions" and footer.up_to_date)
        assert all(a is b for a, b in zip(list(footer.query(FooterKey)), keys, strict=True))

        await pilot.press("7")  # Events: the level key appears, in the key widgets already there
        await wait_for(pilot, lambda: app.main.active_tab == "events" and footer.up_to_date)
        assert "event_level" in _listed(footer)
        shown = list(footer.query(FooterKey))
        assert all(a is b for a, b in zip(keys, shown, strict=False))
        assert [k.action for k in shown if k.display] == [item[3] for item in footer.listing()]

        await pilot.press("4")  # and goes again; no widget is removed
        await wait_for(pilot, lambda: app.main.active_tab == "whales" and footer.up_to_date)
        assert "event_level" not in _listed(footer)
        assert list(footer.query(FooterKey)) == shown


async def test_a_tab_switch_draws_the_new_tab_focused_with_its_keys_before_any_layout(
    make_app: MakeApp,
) -> None:
    """Everything a switch changes happens in the key's own handler: one layout draws all of it."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        footer = app.main.query_one(SteadyFooter)
        for tab_key, tab in (("7", "events"), ("4", "whales"), ("7", "events")):
            app.main.show_tab(tab)  # what the key's action does, checked before Textual lays anything out
            assert app.main.active_tab == tab
            assert app.main.focused is app.main.active_table()
            assert footer.up_to_date
            assert ("event_level" in _listed(footer)) == (tab == "events")
            await pilot.press(tab_key)
            await pilot.pause()


async def test_a_table_shown_again_unchanged_is_drawn_from_its_cached_renders(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        table = app.main.query_one(OrdersTable)
        for _ in range(2):  # the first show lays the table out at its real size
            for key, tab in (("6", "orders"), ("1", "positions")):
                await pilot.press(key)
                await wait_for(pilot, lambda tab=tab: app.main.active_tab == tab)
                await pilot.pause()
        rendered: list[int] = []
        original = DataTable._render_cell

        def counting(self: DataTable[object], row_index: int, *args: Any, **kwargs: Any) -> Any:
            if self is table:
                rendered.append(row_index)
            return original(self, row_index, *args, **kwargs)

        with patch.object(DataTable, "_render_cell", counting):
            await pilot.press("6")
            await wait_for(pilot, lambda: app.main.active_tab == "orders")
            await pilot.pause()
            await pilot.pause()
        assert table.region.height > 0
        assert table.row_count > 0
        assert rendered == []  # not one cell drawn again
        cached = [table.render_line(y).text for y in range(table.size.height)]
        table._clear_caches()
        assert [table.render_line(y).text for y in range(table.size.height)] == cached  # and the same


async def test_switching_through_every_tab_rebuilds_no_table(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        for i, (tab, _) in enumerate(TABS, 1):  # every table drawn once at its real width
            await pilot.press(str(i))
            await wait_for(pilot, lambda tab=tab: app.main.active_tab == tab)
        rebuilt: list[str] = []
        original = KeyedTable._rebuild

        def counting(self: KeyedTable, *args: object) -> None:
            rebuilt.append(type(self).__name__)
            original(self, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(KeyedTable, "_rebuild", counting)
        for _ in range(2):
            for i, (tab, _) in enumerate(TABS, 1):
                await pilot.press(str(i))
                await wait_for(pilot, lambda tab=tab: app.main.active_tab == tab)
                await pilot.pause()
        assert rebuilt == []

"""What a tab switch costs besides Textual's own layout and paint: no table is rebuilt, and the footer
keeps its key widgets when the switch changes nothing it lists (and follows when it does)."""

from __future__ import annotations

import pytest
from textual.widgets._footer import FooterKey

from smt_tui.screens.main import TABS
from smt_tui.widgets.keyed_table import KeyedTable
from smt_tui.widgets.steady_footer import SteadyFooter
from tests.tui.conftest import ready, wait_for
from tests.tui.test_console import MakeApp


async def test_footer_is_not_rebuilt_by_a_tab_switch_that_offers_the_same_keys(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        footer = app.main.query_one(SteadyFooter)
        await pilot.press("4")
        await wait_for(pilot, lambda: app.main.active_tab == "whales" and footer.up_to_date)
        keys = list(footer.query(FooterKey))
        assert "event_level" not in [k.action for k in keys]
        assert {"help", "quit"} <= {k.action for k in keys}

        await pilot.press("5")  # Decisions: the same keys apply as on Whales
        await wait_for(pilot, lambda: app.main.active_tab == "decisions" and footer.up_to_date)
        assert all(a is b for a, b in zip(list(footer.query(FooterKey)), keys, strict=True))

        await pilot.press("7")  # Events: the level key appears
        await wait_for(pilot, lambda: app.main.active_tab == "events" and footer.up_to_date)
        shown = list(footer.query(FooterKey))
        assert "event_level" in [k.action for k in shown]
        assert not any(a is b for a, b in zip(shown, keys, strict=False))


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

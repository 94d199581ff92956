"""The Proposals tab counts what waits, and the active tab's underline spans its label as relabelled.

Textual moves the underline when a tab is relabelled (``Tabs._on_tab_relabelled``); this test fails if it
stops doing so, which is the day the console would need to move it itself."""

from __future__ import annotations

from textual.widget import Widget
from textual.widgets import TabbedContent, Tabs

from smt_engine.domain import ProposalState
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import Fixture
from tests.tui.test_console import MakeApp


async def test_the_underline_spans_the_relabelled_proposals_tab(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        tabbed = app.main.query_one(TabbedContent)
        tab = tabbed.get_tab("proposals")
        underline: Widget = tabbed.query_one(Tabs).query_one("Underline")

        def underlined() -> tuple[int, int]:
            return underline.highlight_start, underline.highlight_end  # type: ignore[attr-defined]

        def label_span() -> tuple[int, int]:
            return tab.content_region.x, tab.content_region.right

        await wait_for(
            pilot, lambda: str(tab.label) == "Proposals (2)" and app.main.active_tab == "proposals"
        )
        await wait_for(pilot, lambda: underlined() == label_span())
        assert label_span()[1] - label_span()[0] == len("Proposals (2)")

        engine.store.proposals.update(fixture_db.pending2_id, state=ProposalState.EXPIRED)
        engine.store.proposals.update(fixture_db.pending_id, state=ProposalState.EXPIRED)
        await wait_for(pilot, lambda: str(tab.label) == "Proposals")
        await wait_for(pilot, lambda: underlined() == label_span())
        assert label_span()[1] - label_span()[0] == len("Proposals")
        assert app.main.active_tab == "proposals"

"""SVG snapshots at 80x24 and 160x48 of Positions, Proposals (one waiting), the proposal detail,
History and Whales, with a frozen clock. Toasts are cleared first so the screens themselves are compared."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from smt_engine.domain import ProposalState
from smt_tui.app import ConsoleApp
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import Fixture

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]


def _settle(*keys: str, detail: bool = False, tab: str | None = None) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await wait_for(pilot, lambda: app.main.active_tab == "proposals")  # opens there: one waits
        if keys:
            await pilot.press(*keys)
        if tab is not None:
            await wait_for(pilot, lambda: app.main.active_tab == tab)
        if detail:
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DetailScreen")
        await pilot.app.workers.wait_for_complete()
        app.clear_notifications()
        await pilot.pause(0.1)

    return run_before


@pytest.fixture
def one_waiting(engine: FakeEngine, fixture_db: Fixture) -> FakeEngine:
    engine.store.proposals.update(fixture_db.pending2_id, state=ProposalState.EXPIRED)
    return engine


@pytest.mark.parametrize("size", SIZES)
def test_positions(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], one_waiting: FakeEngine, size: Any
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_settle("1", tab="positions"))


@pytest.mark.parametrize("size", SIZES)
def test_proposals_one_waiting(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], one_waiting: FakeEngine, size: Any
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_settle())


@pytest.mark.parametrize("size", SIZES)
def test_proposal_detail(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], one_waiting: FakeEngine, size: Any
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_settle("enter", detail=True))


@pytest.mark.parametrize("size", SIZES)
def test_history(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], one_waiting: FakeEngine, size: Any
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_settle("3", tab="history"))


@pytest.mark.parametrize("size", SIZES)
def test_whales(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], one_waiting: FakeEngine, size: Any
) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_settle("4", tab="whales"))

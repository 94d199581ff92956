"""SVG snapshots of the main screen (80x24, 160x48) and the proposal detail, with a frozen clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from smt_tui.app import ConsoleApp
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import Fixture


def _settle(*keys: str, detail: bool = False) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        if keys:
            await pilot.press(*keys)
        if detail:
            await wait_for(pilot, lambda: app.screen.__class__.__name__ == "DetailScreen")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    return run_before


def test_main_80x24(snap_compare: Any, make_app: Callable[..., ConsoleApp], engine: FakeEngine) -> None:
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_settle())


def test_main_160x48(snap_compare: Any, make_app: Callable[..., ConsoleApp], engine: FakeEngine) -> None:
    assert snap_compare(make_app(), terminal_size=(160, 48), run_before=_settle("2"))


def test_proposal_detail(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], engine: FakeEngine, fixture_db: Fixture
) -> None:
    assert snap_compare(
        make_app(), terminal_size=(100, 48), run_before=_settle("2", "down", "enter", detail=True)
    )

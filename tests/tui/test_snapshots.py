"""SVG snapshots at 80x24 and 160x48 of Positions, Proposals (one waiting), the proposal detail,
History and Whales; and of every tab in a trader's worst moment (a BTC position minutes from its forced
close, a denied proposal with a long reason, a contradicted one, one past its drift limit). Frozen clock;
toasts are cleared first so the screens themselves are compared."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot

from smt_engine.domain import ProposalState, Side
from smt_tui.app import ConsoleApp
from smt_tui.screens.main import TABS as MAIN_TABS
from smt_tui.state import ConsoleConfig
from tests.tui.conftest import TEST_CONFIG, FakeEngine, ready, wait_for
from tests.tui.fixtures import NOW, Fixture, _proposal

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


# ---------------------------------------------------------------------- a trader's worst screen, every tab

TABS = [pytest.param(str(i), tab, id=tab) for i, (tab, _) in enumerate(MAIN_TABS, 1)]


@pytest.fixture
def trader_scenario(engine: FakeEngine, fixture_db: Fixture) -> FakeEngine:
    """A BTC position 7 minutes from its forced close, a proposal denied for two long reasons, one
    contradicted by its own whale evidence (ETH SHORT against a bullish aggregate) and one past its drift
    limit (XRP, 0.61 % against 0.5 %)."""
    s = engine.store
    s.positions.update(fixture_db.protected_position_id, opened_at=NOW - timedelta(hours=47, minutes=53))
    failed = {"max_entries_per_cycle", "total_exposure"}
    gates = [
        {"gate": g, "passed": g not in failed, "detail": "over the cap" if g in failed else "ok"}
        for g in ("leverage", "max_entries_per_cycle", "single_exposure", "total_exposure", "daily_loss")
    ]
    s.proposals.update(fixture_db.denied_id, gates=gates, reason_codes=sorted(failed))
    s.proposals.insert(_proposal(NOW, "ETH", Side.SHORT, ProposalState.PROPOSED, None, confidence=0.64))
    return engine


SCENARIO_CONFIG = ConsoleConfig(
    stale_after=TEST_CONFIG.stale_after,
    competition_end=TEST_CONFIG.competition_end,
    refresh_interval=TEST_CONFIG.refresh_interval,
    whale_pairs=frozenset({"BTC", "ETH"}),
)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("key", "tab"), TABS)
def test_every_tab_of_a_trader_scenario(
    snap_compare: Any,
    make_app: Callable[..., ConsoleApp],
    trader_scenario: FakeEngine,
    key: str,
    tab: str,
    size: Any,
) -> None:
    app = make_app(config=SCENARIO_CONFIG)
    assert snap_compare(app, terminal_size=size, run_before=_settle(key, tab=tab))

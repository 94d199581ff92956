"""The console shows the evidence the engine sizes and gates with: stated vs calibrated confidence on
the scorecard screen, and an edge-gate override in the header while it is in force."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from textual.widgets import Static

from smt_engine.domain import HealthStatus
from smt_engine.scorecard import build_report
from smt_engine.scorecard.calibration import calibration_section
from smt_engine.store import Store
from smt_engine.store.limits import EDGE_OVERRIDES, Limit
from smt_engine.store.scores import ScorecardReport
from smt_tui.app import ConsoleApp
from smt_tui.screens.scorecard import ScorecardScreen
from smt_tui.widgets.status_bar import status_text
from tests.tui.conftest import ready, wait_for
from tests.tui.fixtures import NOW, Fixture
from tests.tui.test_scorecard_screen import scores


async def test_the_scorecard_shows_stated_against_calibrated(
    make_app: Callable[..., ConsoleApp], fixture_db: Fixture
) -> None:
    store = Store.open(fixture_db.path)
    try:
        report = build_report(scores(), since=NOW - timedelta(days=30), now=NOW)
        report["calibrated"] = calibration_section(scores(), "4h", 20)
        store.scorecard_reports.save(ScorecardReport(at=NOW, report=report))
    finally:
        store.close()
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ScorecardScreen) and app.screen.report is not None
        )
        await pilot.pause()
        text = str(app.screen.query_one("#scorecard-summary", Static).render())
        # ETH at 0.6: 0 of 2 right -> (0 + 10) / 22; BTC at 0.8: 3 of 4 -> (3 + 10) / 24.
        assert "Sized on calibrated confidence, gemini at 4h" in text
        assert "stated 60% -> 45% (n=2); stated 80% -> 54% (n=4)" in text


async def test_an_edge_override_in_force_is_in_the_header(
    make_app: Callable[..., ConsoleApp], fixture_db: Fixture
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert app.snapshot is not None
        assert "EDGE OVERRIDE" not in status_text(app.snapshot, app.now(), app.config, app.readonly).plain
    store = Store.open(fixture_db.path)
    try:
        rows = store.limits.all()
        rows.append(
            Limit(name=EDGE_OVERRIDES, value=Decimal(1), unit="count", detail="gemini:ETH", updated_at=NOW)
        )
        store.limits.replace_all(rows)
    finally:
        store.close()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert app.snapshot is not None
        header = status_text(app.snapshot, app.now(), app.config, app.readonly).plain
        assert "EDGE OVERRIDE gemini:ETH" in header


async def test_no_proven_edge_is_explained_in_the_health_strip(
    make_app: Callable[..., ConsoleApp], fixture_db: Fixture
) -> None:
    store = Store.open(fixture_db.path)
    try:
        detail = (
            "no_proven_edge: live entries denied: gemini on ETH: n=120, mean after fees -0.150% "
            "[95% CI -0.250%, -0.050%] at 4h (forward record); needs n >= 100 and a 95% lower bound above 0"
        )
        store.health.report("risk.edge_gate", HealthStatus.WARN, NOW, detail)
    finally:
        store.close()
    app = make_app()
    async with app.run_test(size=(240, 48)) as pilot:
        await ready(pilot)
        assert app.snapshot is not None
        header = status_text(app.snapshot, app.now(), app.config, app.readonly).plain
        assert "risk.edge_gate: no_proven_edge: live entries denied: gemini on ETH: n=120" in header
        assert "[95% CI -0.250%, -0.050%]" in header

"""The scorecard screen: the engine's stored report as a calibration chart and a per-pair table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rich.console import Group
from rich.text import Text
from textual.widgets import Static

from smt_engine.scorecard import build_report
from smt_engine.store import Store
from smt_engine.store.scores import Score, ScorecardReport
from smt_tui.app import ConsoleApp
from smt_tui.screens.scorecard import ScorecardScreen
from smt_tui.widgets.pair_scores_table import PairScoresTable
from tests.tui.conftest import ready, wait_for
from tests.tui.fixtures import NOW, Fixture


def scores() -> list[Score]:
    """BTC right 3 times of 4 at 0.8, ETH wrong twice at 0.6, SOL one WAIT; at 4h, and BTC once at 24h."""
    out = []
    plan = [("BTC", "LONG", 0.8, h) for h in (True, True, True, False)]
    plan += [("ETH", "SHORT", 0.6, False), ("ETH", "SHORT", 0.6, False), ("SOL", "WAIT", 0.3, True)]
    for i, (pair, direction, conf, hit) in enumerate(plan):
        at = NOW - timedelta(hours=30 - i)
        for horizon in ("4h", "24h") if pair == "BTC" and i == 0 else ("4h",):
            out.append(
                Score(
                    subject="analysis",
                    subject_id=i,
                    horizon=horizon,
                    pair=pair,
                    tier="1" if pair != "SOL" else "2",
                    analyst="gemini",
                    model="gemini-3.5-flash",
                    direction=direction,
                    confidence=conf,
                    signal_agrees="none",
                    decided_at=at,
                    due_at=at + timedelta(hours=4),
                    ref_price=Decimal(100),
                    exit_price=Decimal(101),
                    move_pct=1.0,
                    return_pct=None if direction == "WAIT" else (0.84 if hit else -1.16),
                    hit=hit,
                    scored_at=NOW,
                )
            )
    return out


def publish(fixture_db: Fixture) -> None:
    store = Store.open(fixture_db.path)
    try:
        report = build_report(scores(), since=NOW - timedelta(days=30), now=NOW)
        store.scorecard_reports.save(ScorecardReport(at=NOW, report=report))
    finally:
        store.close()


def summary(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#scorecard-summary", Static).render())


async def test_the_scorecard_shows_the_stored_report(
    make_app: Callable[..., ConsoleApp], fixture_db: Fixture
) -> None:
    publish(fixture_db)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ScorecardScreen) and app.screen.report is not None
        )
        await pilot.pause()
        assert "7 scored, hit rate 57%, Brier" in summary(app)
        assert "4h after the decision" in summary(app)
        table = app.screen.query_one(PairScoresTable)
        assert [str(table.get_row(k)[0]) for k in ("BTC", "ETH", "SOL")] == ["BTC", "ETH", "SOL"]
        btc = table.get_row("BTC")
        assert btc[1] == "4"
        assert btc[4].startswith("75% [")
        assert table.get_row("SOL")[3] == "1"
        assert table.get_row("SOL")[6] == "-"
        assert app.screen.check_action("next_horizon", ()) is True
        # The app's actions do not reach through to the main screen behind.
        assert app.check_action("approve", ()) is False

        await pilot.press("h")  # 4h -> 24h
        await pilot.pause()
        assert "24h after the decision" in summary(app)
        assert "1 scored" in summary(app)
        assert table.row_count == 1
        await pilot.press("h")  # 24h -> 1h: nothing there yet
        await pilot.pause()
        assert "No analysis has reached 1h yet" in summary(app)
        assert table.row_count == 0

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScorecardScreen))


async def test_an_empty_scorecard_says_why(make_app: Callable[..., ConsoleApp]) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, ScorecardScreen) and "Nothing" in summary(app))
        assert "random walk" in summary(app)
        assert app.screen.check_action("next_horizon", ()) is False


def test_scorecard_snapshot(
    snap_compare: Any, make_app: Callable[..., ConsoleApp], fixture_db: Fixture
) -> None:
    publish(fixture_db)

    async def run_before(pilot: Any) -> None:
        app = await ready(pilot)
        await pilot.press("s")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ScorecardScreen) and app.screen.report is not None
        )
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=run_before)


def test_rationale_shows_sources_with_their_domain_and_the_search_suggestions() -> None:
    from rich.console import Console

    from smt_engine.domain import Action, AnalystKind
    from smt_engine.store.records import Analysis
    from smt_tui.describe import rationale

    analysis = Analysis(
        cycle_id="c",
        pair="BTC",
        analyst=AnalystKind.GEMINI,
        model="gemini-3.5-flash",
        created_at=NOW,
        action=Action.LONG,
        confidence=0.7,
        decision={"reasoning": "Inflows [1] and funding [2]."},
        grounded=True,
        sources=[
            {"title": "ETF flows hit a record", "domain": "reuters.com", "uri": "https://vertexaisearch/r1"},
            {"title": "coindesk.com", "domain": "coindesk.com", "uri": "https://vertexaisearch/r2"},
        ],
        queries=["bitcoin etf flows"],
        search_suggestions=[
            {"text": "bitcoin etf flows", "uri": "https://www.google.com/search?q=bitcoin+etf"}
        ],
    )
    rendered = rationale(analysis)
    assert isinstance(rendered, Group)
    console = Console(width=200, record=True)
    console.print(rendered)
    text = console.export_text()
    assert "[1] ETF flows hit a record  (reuters.com)" in text
    assert "[2] coindesk.com  (coindesk.com)" in text
    assert "Inflows [1] and funding [2]." in text
    assert "Google Search suggestions" in text
    assert "• bitcoin etf flows" in text
    links = {
        span.style.link
        for part in rendered.renderables
        if isinstance(part, Text)
        for span in part.spans
        if not isinstance(span.style, str) and span.style.link
    }
    # Sources, the [n] markers and the suggestions are links (OSC 8), not URLs printed in the text.
    assert links == {
        "https://vertexaisearch/r1",
        "https://vertexaisearch/r2",
        "https://www.google.com/search?q=bitcoin+etf",
    }

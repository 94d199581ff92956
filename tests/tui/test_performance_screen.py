"""The Performance screen (key ``$``): the hand-worked trades of ``tests/unit/test_performance.py`` moved to
the console fixture's week (NOW is Tuesday 2026-01-20 12:00 UTC): Saturday, Sunday 23:30 (ISO week 3),
Monday 00:10 and 12:00 (week 4). Taker fee 0.1 % a side."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from textual.coordinate import Coordinate
from textual.widgets import Static

from smt_engine.domain import CloseReason, PositionState, Side
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_tui.app import ConsoleApp
from smt_tui.screens.performance import PerformanceScreen
from smt_tui.state import ConsoleConfig, Snapshot
from smt_tui.widgets.period_table import PeriodTable
from smt_tui.widgets.trade_results_table import TradeResultsTable
from tests.tui.conftest import TEST_CONFIG, FakeEngine, ready, wait_for
from tests.tui.fixtures import Fixture, build_database

CONFIG = dataclasses.replace(TEST_CONFIG, taker_fee_pct=D("0.1"))
PLAN = [
    ("BTCUSDT", Side.SHORT, "0.02", "52000", "51500", "104", datetime(2026, 1, 17, 10, 0), "8.97"),
    ("BTCUSDT", Side.LONG, "0.01", "50000", "51000", "50", datetime(2026, 1, 18, 23, 30), "9.49"),
    ("ETHUSDT", Side.SHORT, "1", "3000", "3030", "300", datetime(2026, 1, 19, 0, 10), "-33.03"),
    ("SOLUSDT", Side.LONG, "10", "100", "103", "100", datetime(2026, 1, 19, 12, 0), None),
]


def closed(
    symbol: str, side: Side, size: str, entry: str, exit: str, margin: str, at: datetime, pnl: str | None
) -> Position:
    at = at.replace(tzinfo=UTC)
    return Position(
        symbol=symbol,
        side=side,
        size=D(size),
        entry_price=D(entry),
        opened_at=at - timedelta(hours=2),
        state=PositionState.CLOSED,
        leverage=10,
        updated_at=at,
        margin=D(margin),
        close_reason=CloseReason.TAKE_PROFIT
        if (D(exit) > D(entry)) == (side is Side.LONG)
        else CloseReason.STOP_LOSS,
        closed_at=at,
        exit_price=D(exit),
        realized_pnl=D(pnl) if pnl else None,
    )


@pytest.fixture
def fixture_db(tmp_path: Path) -> Fixture:
    """The console fixture without its own closed positions, with the four worked trades instead."""
    built = build_database(tmp_path / "smt.db", closed_positions=0)
    store = Store.open(built.path)
    try:
        for row in PLAN:
            store.positions.insert(closed(*row))
    finally:
        store.close()
    return built


def summary(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#performance-summary", Static).render())


def cells(table: TradeResultsTable | PeriodTable, key: str) -> list[str]:
    return [str(c) for c in table.get_row(key)]


def moved(app: ConsoleApp, before: Snapshot | None) -> bool:
    """A snapshot newer than ``before`` in which open positions changed."""
    snap = app.snapshot
    return snap is not None and snap is not before and "positions" in snap.changed


async def open_performance(pilot: Any) -> ConsoleApp:
    app = await ready(pilot)
    await pilot.press("dollar_sign")
    await wait_for(
        pilot, lambda: isinstance(app.screen, PerformanceScreen) and app.screen.performance is not None
    )
    await pilot.pause()
    return app


async def test_the_screen_shows_the_worked_figures_and_follows_a_close(
    make_app: Callable[..., ConsoleApp], engine: FakeEngine, fixture_db: Fixture
) -> None:
    app = make_app(config=CONFIG)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_performance(pilot)
        text = summary(app)
        assert "all time +8.86  fees 11.14  gross +20.00  4 trades" in text
        assert "win rate 75% (3/4)  profit factor 1.25  max drawdown 36.03" in text
        assert "~ fees at the taker rate" in text
        periods = app.screen.query_one(PeriodTable)
        assert cells(periods, "period:2026-01-20")[:5] == ["2026-01-20", "+0.00", "0.00", "+0.00", "0"]
        assert cells(periods, "period:2026-01-19")[:5] == ["2026-01-19", "-8.06", "8.06", "+0.00", "2"]
        assert cells(periods, "period:2026-01-18")[1] == "+8.99"
        assert cells(periods, "period:2026-W04")[1:5] == ["-8.06", "8.06", "+0.00", "2"]
        assert cells(periods, "period:2026-W03")[1:5] == ["+16.92", "3.08", "+20.00", "2"]
        trades = app.screen.query_one(TradeResultsTable)
        assert trades.border_title == "last 4 closed trades"
        keys = [
            trades.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value for i in range(trades.row_count)
        ]
        shown = {str(k): cells(trades, str(k)) for k in keys}
        assert [row[1] for row in shown.values()] == [
            "SOLUSDT",
            "ETHUSDT",
            "BTCUSDT",
            "BTCUSDT",
        ]  # newest first
        sol, eth, btc_long, btc_short = shown.values()
        assert sol[2] == "LONG"
        assert sol[6:10] == ["+30.00", "2.03~", "+27.97", "+27.97%"]
        assert eth[6:10] == ["-30.00", "6.03", "-36.03", "-12.01%"]
        assert btc_long[6:10] == ["+10.00", "1.01", "+8.99", "+17.98%"]
        assert btc_short[6:10] == ["+10.00", "2.07", "+7.93", "+7.62%"]
        assert trades.check_action("select_cursor", ()) is False  # no "Details" offered that does nothing
        # The app's actions do not reach through to the main screen behind.
        assert app.check_action("approve", ()) is False

        # An open position's mark moves: a new snapshot, the same figures (nothing is recomputed).
        screen = app.screen
        assert isinstance(screen, PerformanceScreen)
        shown_perf, before = screen.performance, app.snapshot
        engine.store.positions.update(fixture_db.protected_position_id, mark_price=D("99000"))
        await wait_for(pilot, lambda: moved(app, before))
        await pilot.app.workers.wait_for_complete()
        assert screen.performance is shown_perf

        # A position closes: the figures are computed again.
        engine.store.positions.insert(
            closed("ADAUSDT", Side.LONG, "100", "1", "1.1", "10", datetime(2026, 1, 20, 11, 0), "9.89")
        )
        await wait_for(pilot, lambda: "5 trades" in summary(app))
        assert cells(app.screen.query_one(PeriodTable), "period:2026-01-20")[1] == "+9.79"

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, PerformanceScreen))


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")])
def test_performance_snapshot(snap_compare: Any, make_app: Callable[..., ConsoleApp], size: Any) -> None:
    async def run_before(pilot: Any) -> None:
        app = await open_performance(pilot)
        await pilot.app.workers.wait_for_complete()
        app.clear_notifications()
        await pilot.pause(0.1)

    assert snap_compare(make_app(config=CONFIG), terminal_size=size, run_before=run_before)


def test_the_console_takes_the_taker_fee_from_the_settings() -> None:
    from smt_engine.config import Settings

    settings = Settings.model_validate({"exchange": {"taker_fee_pct": "0.05"}})
    assert ConsoleConfig.from_settings(settings).taker_fee_pct == D("0.05")

"""Pilot tests of what a human operator needs: waiting proposals announced and reachable, the cursor that
follows keys, numbers never cut, the engine's limits, the open book and History, health at a glance,
truthful orders and confirmations that show the risk."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Footer, TabbedContent

from smt_engine.domain import CloseReason, CommandKind, HealthStatus, Mode, PositionState, ProposalState, Side
from smt_engine.store import limits as names
from smt_engine.store.limits import Limit
from smt_engine.store.records import Position
from smt_tui.app import ConsoleApp
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.widgets.history import History, HistoryTable
from smt_tui.widgets.positions_table import PositionsTable
from smt_tui.widgets.proposals_table import ProposalsTable
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import NOW, Fixture, _proposal
from tests.tui.test_console import header, notes

MakeApp = Callable[..., ConsoleApp]


def bells(app: ConsoleApp) -> list[int]:
    rung: list[int] = []
    app.bell = lambda: rung.append(1)  # type: ignore[method-assign]
    return rung


def add_waiting(engine: FakeEngine, pair: str = "ADA", minutes: int = 14) -> int:
    p = engine.store.proposals.insert(
        _proposal(
            NOW, pair, Side.LONG, ProposalState.PROPOSED, None, expires_at=NOW + timedelta(minutes=minutes)
        )
    )
    assert p.id is not None
    return p.id


async def test_a_waiting_proposal_opens_the_console_on_proposals_under_the_cursor(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.main.active_tab == "proposals")
        # The soonest to expire is under the cursor, the tab counts both, the header says how long is left.
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        tab = app.main.query_one(TabbedContent).get_tab("proposals")
        assert str(tab.label) == "Proposals (2)"
        assert "2 awaiting approval, 45s left" in header(app)
        assert sum("awaiting approval" in m or "a to approve" in m for m, _ in notes(app)) == 2


async def test_a_new_waiting_proposal_rings_toasts_and_takes_an_untouched_cursor(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    rung = bells(app)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        before = len(rung)
        new_id = add_waiting(engine, minutes=2)
        await wait_for(pilot, lambda: len(rung) > before)
        assert any(f"#{new_id} ADA LONG" in m for m, _ in notes(app))
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{new_id}")
        assert str(app.main.query_one(TabbedContent).get_tab("proposals").label) == "Proposals (3)"


async def test_a_cursor_the_operator_moved_stays_put(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        await pilot.press("down")  # the operator reads the other waiting one
        chosen = app.selected_key()
        assert chosen == f"proposal:{fixture_db.pending_id}"
        new_id = add_waiting(engine)
        await wait_for(pilot, lambda: any(f"#{new_id} ADA" in m for m, _ in notes(app)))
        await pilot.pause(0.3)
        assert app.selected_key() == chosen  # by key, not row index: the new row above did not move it


async def test_the_cursor_leaves_a_followed_proposal_that_stopped_waiting_for_one_that_waits(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        new_id = add_waiting(engine, minutes=1)  # expires first: the console follows it
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{new_id}")
        engine.store.proposals.update(new_id, state=ProposalState.DENIED)  # decided by someone else
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        await pilot.press("down")  # the operator moves: the console no longer chooses for them
        chosen = app.selected_key()
        engine.store.proposals.update(fixture_db.pending2_id, state=ProposalState.EXPIRED)
        await wait_for(pilot, lambda: not app.cursor.waiting(f"proposal:{fixture_db.pending2_id}"))
        await pilot.pause(0.3)
        assert app.selected_key() == chosen


async def test_w_jumps_to_each_waiting_proposal_from_any_tab(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("4")
        await wait_for(pilot, lambda: app.main.active_tab == "whales")
        await pilot.press("w")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        await pilot.press("w")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending_id}")
        await pilot.press("w")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        engine.store.proposals.update(fixture_db.pending_id, state=ProposalState.REJECTED)
        engine.store.proposals.update(fixture_db.pending2_id, state=ProposalState.EXPIRED)
        await wait_for(pilot, lambda: app.check_action("next_waiting", ()) is False)
        assert "awaiting approval" not in header(app)


async def test_rows_show_the_engines_drift_against_its_limit_and_time_left(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        table = app.main.query_one(ProposalsTable)
        row = table._cells[f"proposal:{fixture_db.pending2_id}"]
        drift = row[[c.key for c in table.columns_spec].index("drift")]
        assert drift.plain == "0.61/0.5%"
        assert "red" in str(drift.style)
        left = row[[c.key for c in table.columns_spec].index("left")]
        assert left.plain == "45s"
        engine.store.limits.replace_all(
            [
                Limit(
                    name=names.drift_name(fixture_db.pending2_id),
                    value=Decimal("0.5"),
                    unit="%",
                    used=Decimal("0.2"),
                    updated_at=NOW,
                )
            ]
        )
        await wait_for(
            pilot,
            lambda: table._cells[f"proposal:{fixture_db.pending2_id}"][7].plain == "0.20/0.5%",
        )


async def test_numbers_are_never_cut_when_they_grow(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        table = app.main.query_one(PositionsTable)
        key = f"position:{fixture_db.protected_position_id}"
        engine.store.positions.update(
            fixture_db.protected_position_id, mark_price="107.2834567", unrealized_pnl="12345.67"
        )
        await wait_for(pilot, lambda: table._cells[key][4].plain == "107.2834567")  # type: ignore[union-attr]
        widths = {str(k.value): c.width for k, c in table.columns.items()}
        assert widths["mark"] >= len("107.2834567")
        assert widths["pnl"] >= len("+12,345.67")
        # Numbers are right-aligned.
        assert table._cells[key][4].justify == "right"  # type: ignore[union-attr]


async def test_at_80x24_footer_keeps_help_and_quit_and_key_columns_stay(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        footer = app.screen.query_one(Footer)
        # A loaded machine may read the keys before their first layout (every region still empty).
        await wait_for(pilot, lambda: any(k.region.width for k in footer.query("FooterKey")))
        await pilot.pause()
        shown = {k.action: k.region for k in footer.query("FooterKey")}  # type: ignore[attr-defined]
        assert "help" in shown
        assert "quit" in shown
        assert all(shown[a].width > 0 and shown[a].right <= 80 for a in ("help", "quit"))
        proposals = app.main.query_one(ProposalsTable)
        assert {"id", "state", "pair", "size", "drift", "left", "verdict"} <= set(proposals.shown_columns)
        await pilot.press("1")
        positions = app.main.query_one(PositionsTable)
        await wait_for(pilot, lambda: bool(positions.shown_columns))
        # Money and protection first: PnL, TP, SL, the forced-close countdown and protection all stay.
        assert {"symbol", "side", "pnl", "tp", "sl", "forced", "prot"} <= set(positions.shown_columns)


async def test_forced_close_countdown_is_the_engines_max_hold(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        table = app.main.query_one(PositionsTable)
        btc = f"position:{fixture_db.protected_position_id}"  # opened 3h50m ago
        eth = f"position:{fixture_db.unprotected_position_id}"  # opened 50h ago
        assert table._cells[btc][9].plain == "1d20h"
        assert table._cells[eth][9].plain == "due now"
        # The engine enters the final days: it publishes a 6 h max hold and the countdown follows it.
        engine.store.limits.replace_all(
            [Limit(name=names.MAX_HOLD, value=Decimal(6 * 3600), unit="s", updated_at=NOW)]
        )
        await wait_for(pilot, lambda: table._cells[btc][9].plain == "2h10m")
        engine.store.limits.replace_all([])
        await wait_for(pilot, lambda: table._cells[btc][9].plain == "no limit")


async def test_closed_positions_leave_the_book_for_history(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        book = app.main.query_one(PositionsTable)
        history = app.main.query_one(HistoryTable)
        key = f"position:{fixture_db.protected_position_id}"
        assert key in book._cells
        assert len(history._cells) == 2
        engine.store.positions.update(
            fixture_db.protected_position_id,
            state=PositionState.CLOSED,
            closed_at=NOW,
            exit_price="102900",
            realized_pnl="98.00",
            close_reason=CloseReason.TAKE_PROFIT,
        )
        await wait_for(pilot, lambda: key not in book._cells)
        await pilot.press("3")  # a hidden tab is drawn when shown (MainScreen.apply)
        await wait_for(pilot, lambda: key in history._cells)
        assert any("Closed BTCUSDT LONG @ 102900 (take-profit): +98.00 USDT" in m for m, _ in notes(app))
        summary = str(app.main.query_one(History).query_one("#history-summary").render())
        assert "realised +118.00 USDT" in summary
        assert "3 closed, 2 won" in summary
        assert "win rate 67%" in summary
        row = history._cells[key]
        assert [c if isinstance(c, str) else c.plain for c in row[5:9]] == [
            "102900",
            "+98.00",
            "take-profit",
            "3h50m",
        ]


async def test_an_opened_position_is_told_in_plain_words(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        engine.store.positions.insert(
            Position(
                symbol="ADAUSDT",
                side=Side.LONG,
                size=Decimal(900),
                entry_price=Decimal("1.4423"),
                opened_at=NOW,
                state=PositionState.OPEN,
                leverage=20,
                updated_at=NOW,
                tp_price=Decimal("1.516"),
                sl_price=Decimal("1.4056"),
            )
        )
        await wait_for(
            pilot,
            lambda: any("Opened ADAUSDT LONG 900 @ 1.4423, TP 1.516 / SL 1.4056" in m for m, _ in notes(app)),
        )


async def test_health_strip_and_toasts_follow_the_health_table(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert "! analyst: 3 of 8 analyses failed" in header(app)
        assert "✓ exchange.rest" in header(app)
        engine.store.health.report("whales.flows", HealthStatus.DOWN, NOW, "etherscan: rate limited")
        await wait_for(pilot, lambda: "✗ whales.flows: etherscan: rate limited" in header(app))
        assert ("whales.flows down: etherscan: rate limited", "error") in notes(app)
        engine.store.health.report("analyst", HealthStatus.OK, NOW)
        await wait_for(pilot, lambda: ("analyst ok again", "information") in notes(app))


async def test_figures_of_a_dead_engine_are_greyed(make_app: MakeApp) -> None:
    app = make_app()  # no engine fixture: nobody holds the lock
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        from smt_tui.widgets.status_bar import status_text

        assert app.snapshot is not None
        text = status_text(app.snapshot, NOW, app.config, False)
        for figure in ("bal 1,000.00", "analyst", "exchange.rest"):  # money and the health strip alike
            at = text.plain.index(figure)
            styles = [str(span.style) for span in text.spans if span.start <= at < span.end]
            assert styles, (figure, styles)
            assert all("dim" in style for style in styles), (figure, styles)


async def test_cleanup_is_offered_with_nothing_flagged_and_says_so(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    engine.store.orders.update(fixture_db.orphan_order_id, orphan=False)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert app.check_action("cleanup", ()) is True
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "No orphan order is flagged" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: engine.step() > 0 or engine.handled)
        assert engine.handled[0].kind is CommandKind.CLEANUP


def drawn(widget: Widget) -> str:
    """The text the widget draws on screen (wrapped lines joined), not the text it was given."""
    lines = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return " ".join(" ".join(strip.text for strip in lines).split())


async def test_close_confirmation_shows_what_is_at_stake(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.selected_key() == f"position:{fixture_db.unprotected_position_id}")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = drawn(app.screen.query_one("#confirm-body"))
        assert "-7.60 USDT now, becomes realised" in body
        await pilot.press("n")


async def test_live_approval_asks_with_the_risk_and_can_be_turned_off(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    engine.store.engine.set(mode=Mode.LIVE)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(
            pilot,
            lambda: (
                app.selected_key() == f"proposal:{fixture_db.pending_id}"
                or app.selected_key() == f"proposal:{fixture_db.pending2_id}"
            ),
        )
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        body = drawn(app.screen.query_one("#confirm-body"))
        assert "loses about 40.00 USDT" in body
        assert "moved 0.61%" in body
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal))
    assert engine.step() == 0
    import dataclasses

    quick = make_app(config=dataclasses.replace(app.config, confirm_live_approvals=False))
    async with quick.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(
            pilot, lambda: quick.selected_key() is not None and quick.selected_key().startswith("proposal:")
        )  # type: ignore[union-attr]
        await pilot.press("a")
        await wait_for(pilot, lambda: engine.step() > 0 or bool(engine.handled))
        assert engine.handled[0].kind is CommandKind.APPROVE


async def test_the_whole_why_of_a_proposal(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    from rich.console import Console

    from smt_tui.screens.detail import DetailScreen

    def shown() -> str:
        console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(app.screen.body)  # type: ignore[attr-defined]
        return console.export_text()

    app = make_app()
    async with app.run_test(size=(120, 48)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        await pilot.press("down", "enter")  # the ETH LONG one
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        text = shown()
        assert text.index("Why") < text.index("Whale and flow evidence") < text.index("Sources")
        assert "large holders [1], funding flat [2]" in text  # the citation markers are kept
        assert "[1] CoinDesk: ETF flows  (www.coindesk.com)" in text
        assert "all whales (aggregate)" in text
        assert "agrees" in text
        assert "CONTRADICTS" in text
        assert "6/6 passed" in text
        assert "single_exposure" not in text
        assert "price moved 0.12% (limit 0.5%)" in text
        assert "10m left" in text
        content = app.screen.body  # type: ignore[attr-defined]
        links = {
            span.style.link
            for part in content.renderables
            if isinstance(part, Text)
            for span in part.spans
            if not isinstance(span.style, str) and span.style.link
        }  # type: ignore[attr-defined]
        assert "https://www.coindesk.com/markets/etf-flows" in links
        # Google's terms: the Search suggestions are shown with the grounded answer, as links.
        assert text.index("Sources") < text.index("Google Search suggestions") < text.index("Risk gates")
        assert "• ETH price news today" in text
        assert "Search queries" in text
        assert "https://www.google.com/search?q=ETH+price+news+today" in links
        await pilot.press("g")
        await wait_for(pilot, lambda: "single_exposure" in shown())
        assert "Analyse ETHUSDT" not in shown()
        await pilot.press("P")
        await wait_for(pilot, lambda: "Analyse ETHUSDT" in shown() and "Raw answer" in shown())


async def test_quiet_when_nothing_changes(make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine) -> None:
    """No read, no cell update and no header update while the data and the displayed times stand still."""
    from textual.widgets import DataTable, Static

    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.pause(0.3)
        updates: list[str] = []
        reads: list[int] = []
        original_update, original_cell, original_poll = Static.update, DataTable.update_cell, app.model.poll

        def update(self: Static, *a: object, **k: object) -> None:
            updates.append(self.id or "?")
            original_update(self, *a, **k)  # type: ignore[arg-type]

        def cell(self: DataTable[Any], *a: object, **k: object) -> None:
            updates.append("cell")
            original_cell(self, *a, **k)  # type: ignore[arg-type]

        def poll() -> object:
            reads.append(1)
            return original_poll()

        Static.update = update  # type: ignore[method-assign]
        DataTable.update_cell = cell  # type: ignore[method-assign]
        app.model.poll = poll  # type: ignore[method-assign]
        try:
            for _ in range(3):
                app._tick()
                await pilot.pause(0.4)  # more than one change check (refresh_interval 0.2 s)
        finally:
            Static.update = original_update  # type: ignore[method-assign]
            DataTable.update_cell = original_cell  # type: ignore[method-assign]
        assert updates == []
        assert reads == []
        engine.store.positions.update(fixture_db.protected_position_id, unrealized_pnl="1.00")
        await wait_for(pilot, lambda: bool(reads))


async def test_history_shows_a_labelled_equity_curve(make_app: MakeApp, engine: FakeEngine) -> None:
    from smt_tui.widgets.equity_chart import EquityChart, equity_title

    assert equity_title((1000.0, 990.0, 1050.0, 1020.0)) == (
        "equity 24h: 1,000.00 -> 1,020.00 (+2.00%), low 990.00, high 1,050.00"
    )
    assert equity_title(()) == "equity: no account snapshot yet"
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("3")
        chart = app.main.query_one(EquityChart)
        await wait_for(pilot, lambda: chart._curve is not None and len(chart._curve) > 10)
        assert chart._curve == app.snapshot.account.curve  # type: ignore[union-attr]


async def test_header_shows_the_loss_limits_the_engine_measures(
    make_app: MakeApp, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert "loss today 2.00/10%" in header(app)
        assert "drawdown 1.50/25%" in header(app)
        engine.store.limits.replace_all(
            [Limit(name=names.DAILY_LOSS, value=Decimal(10), unit="%", used=Decimal("8.50"), updated_at=NOW)]
        )
        await wait_for(pilot, lambda: "loss today 8.50/10%" in header(app) and "drawdown" not in header(app))


async def test_todays_llm_spend_against_the_caps_is_always_in_the_header(
    make_app: MakeApp, engine: FakeEngine
) -> None:
    day = NOW.date().isoformat()
    caps = {"max_calls": 60, "max_usd": "6.00"}
    spend = {"day": day, "calls": 7, "usd": "0.3012", **caps}
    engine.store.health.report("analyst.budget", HealthStatus.OK, NOW, "today 7/60 calls", spend)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:  # narrow: healthy rows are only counted
        await ready(pilot)
        await wait_for(pilot, lambda: "LLM today 7/60 calls, $0.31/$6.00" in header(app))
        over = {**spend, "calls": 60}
        engine.store.health.report("analyst.budget", HealthStatus.WARN, NOW, "daily call cap reached", over)
        await wait_for(pilot, lambda: "! analyst.budget: daily call cap reached" in header(app))
        assert "LLM today" not in header(app), "a cap reached today is shown once, as the problem"
        yesterday = {**over, "day": (NOW - timedelta(days=1)).date().isoformat()}
        engine.store.health.report(
            "analyst.budget", HealthStatus.WARN, NOW, "daily call cap reached", yesterday
        )
        await wait_for(pilot, lambda: "LLM today 0/60 calls, $0/$6.00" in header(app))
        assert "analyst.budget" not in header(app), "yesterday's cap does not bind today"

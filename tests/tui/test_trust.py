"""Pilot tests of a console a trader can trust at a glance: figures current when drawn, alarms only when
true, a finished database shown as a record, keys that say why they do not apply, evidence only where the
engine used it, and a forced close announced before it happens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from textual.geometry import Region

from smt_engine.domain import EngineState, ProposalState, Side
from smt_engine.store.records import Cycle
from smt_tui.app import ConsoleApp
from smt_tui.messages import SnapshotReady
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.detail import DetailScreen
from smt_tui.state import ConsoleConfig
from smt_tui.widgets.detail_pane import EMPTY, DetailPane
from smt_tui.widgets.orders_table import OrdersTable
from smt_tui.widgets.positions_table import PositionsTable
from smt_tui.widgets.proposals_table import ProposalsTable
from tests.tui.conftest import TEST_CONFIG, FakeEngine, UnexpandedDetail, ready, wait_for
from tests.tui.fixtures import CYCLE, NOW, Fixture, _proposal
from tests.tui.test_console import header, notes, render_text
from tests.tui.test_operator import drawn

MakeApp = Callable[..., ConsoleApp]


def flat(text: str) -> str:
    return " ".join(text.split())


def cell(table: PositionsTable | ProposalsTable, key: str, column: str) -> str:
    index = [c.key for c in table.columns_spec].index(column)
    value = table._cells[key][index]
    return value.plain if hasattr(value, "plain") else str(value)


async def test_a_close_confirmation_shows_the_pnl_of_the_latest_snapshot(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    key = f"position:{fixture_db.protected_position_id}"
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.main.query_one(PositionsTable).select_key(key))
        await wait_for(pilot, lambda: app.selected_key() == key)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "+15.01 USDT now" in drawn(app.screen.query_one("#confirm-body"))
        # The operator reads; the engine's monitor moves the PnL meanwhile.
        engine.store.positions.update(fixture_db.protected_position_id, unrealized_pnl=Decimal("-1.74"))
        await wait_for(pilot, lambda: "-1.74 USDT now" in drawn(app.screen.query_one("#confirm-body")))
        await pilot.press("n")


async def test_a_demo_cycle_in_progress_raises_no_stale_alarm(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    # The engine's loop is busy with a cycle started 5 s ago; its last heartbeat is 40 s old (> 15 s).
    engine.store.engine.set(heartbeat_at=NOW - timedelta(seconds=40))
    engine.store.cycles.insert(Cycle(id="c-running", started_at=NOW - timedelta(seconds=5)))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert "STALE" not in header(app)
        assert "NO ENGINE" not in header(app)
        assert "cycle running" in header(app)
        # The same heartbeat with no cycle running is stale: the alarm is still there when it is true.
        engine.store.cycles.update("c-running", status="done", finished_at=NOW)
        await wait_for(pilot, lambda: "STALE" in header(app))


async def test_an_engine_that_holds_the_lock_but_has_not_beaten_yet_is_starting_not_gone(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    engine.store.engine.set(heartbeat_at=None)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert "engine starting" in header(app)
        assert "NO ENGINE" not in header(app)


async def test_a_finished_demo_database_shows_no_countdown_and_no_approve_hint(
    make_app: MakeApp, fixture_db: Fixture
) -> None:
    # The engine stopped long ago (nobody holds the lock) with proposals still marked waiting.
    from smt_engine.store import Store

    store = Store.open(fixture_db.path)
    store.engine.set(state=EngineState.STOPPED)
    store.close()
    app = make_app(readonly=True)
    app.now = lambda: NOW + timedelta(days=309)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await pilot.pause(0.2)
        text = header(app)
        assert "NO ENGINE" in text
        assert "next cycle" not in text
        assert "left" not in text.replace("left waiting", "")
        assert "-309d" not in text
        proposals = app.main.query_one(ProposalsTable)
        waiting = f"proposal:{fixture_db.pending_id}"
        assert cell(proposals, waiting, "left") == "no engine"
        assert "no engine" in cell(proposals, waiting, "verdict")
        positions = app.main.query_one(PositionsTable)
        assert cell(positions, f"position:{fixture_db.protected_position_id}", "forced") == "no engine"
        assert not any("to approve" in message for message, _ in notes(app))


async def test_a_on_a_tab_where_it_does_not_apply_says_why(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.main.active_tab == "positions")
        assert app.check_action("approve", ()) is False
        await pilot.press("a")
        await wait_for(pilot, lambda: any("select a waiting proposal first" in m for m, _ in notes(app)))
        assert engine.step() == 0  # nothing was sent
        await pilot.press("2")
        await wait_for(pilot, lambda: app.main.active_tab == "proposals")
        assert app.main.query_one(ProposalsTable).select_key(f"proposal:{fixture_db.denied_id}")
        await pilot.pause()
        await pilot.press("a")
        await wait_for(
            pilot, lambda: any("only a waiting proposal can be decided" in m for m, _ in notes(app))
        )


async def test_a_in_the_read_only_viewer_says_why(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app(readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.selected_key() is not None and app.main.active_tab == "proposals")
        await pilot.press("a")
        await wait_for(pilot, lambda: any("read-only viewer" in m for m, _ in notes(app)))


async def test_a_proposal_expiring_unapproved_is_announced(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        engine.store.proposals.update(fixture_db.pending2_id, state=ProposalState.EXPIRED)
        await wait_for(pilot, lambda: any("expired unapproved" in m for m, _ in notes(app)))


async def test_a_forced_close_within_ten_minutes_is_announced_like_a_waiting_proposal(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    # Max hold 48 h (published); the BTC position opened 47 h 53 m ago: forced close in 7 minutes.
    engine.store.positions.update(
        fixture_db.protected_position_id, opened_at=NOW - timedelta(hours=47, minutes=53)
    )
    app = make_app()
    rung: list[int] = []
    app.bell = lambda: rung.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: any("reaches its max hold in 7m" in m for m, _ in notes(app)))
        assert rung
        assert "BTCUSDT LONG forced close in 7m" in header(app)
        told = [m for m, _ in notes(app) if "max hold" in m]
        await pilot.pause(1.2)  # the tick runs again: announced once, not every second
        assert [m for m, _ in notes(app) if "max hold" in m] == told


async def test_the_detail_pane_shows_the_visible_tabs_row_or_nothing(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)

        def pane() -> str:
            return drawn(app.main.query_one(DetailPane).query_one("#detail-body"))

        await pilot.press("7")  # Events: a row is selected and described beside the table
        await wait_for(pilot, lambda: app.main.active_tab == "events")
        await wait_for(pilot, lambda: "Message" in pane())
        await pilot.press("6")
        await wait_for(pilot, lambda: app.main.active_tab == "orders")
        await wait_for(pilot, lambda: "order" in pane())
        app.main.query_one(OrdersTable).set_filter("no such row")  # the visible tab now shows no row
        app.selection_changed()
        await wait_for(pilot, lambda: EMPTY in pane())


async def test_evidence_only_for_pairs_that_get_whale_intelligence_with_directions_spelled_out(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    doge = engine.store.proposals.insert(
        _proposal(NOW, "DOGE", Side.LONG, ProposalState.PROPOSED, None, expires_at=NOW + timedelta(minutes=9))
    )
    config = ConsoleConfig(
        stale_after=TEST_CONFIG.stale_after,
        refresh_interval=TEST_CONFIG.refresh_interval,
        whale_pairs=frozenset({"BTC", "ETH"}),
    )
    app = make_app(config=config)
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        found = app._describe(f"proposal:{doge.id}")
        assert found is not None
        body = flat(render_text(found[1]))
        assert "DOGE gets no whale intelligence" in body
        assert "all whales" not in body
        found = app._describe(f"proposal:{fixture_db.pending_id}")  # ETH: tier 1
        assert found is not None
        body = flat(render_text(found[1]))
        assert "out of the whales' wallets" in body
        assert "all whales (aggregate)" in body
        # One sign convention: a move from the entry, signed (+ up, - down), for a long and a short alike.
        assert "3465.5 +5.0%" in body
        assert "3234.5 -2.0%" in body


async def test_a_contradicted_proposal_is_marked_in_the_list(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    short = engine.store.proposals.insert(
        _proposal(NOW, "ETH", Side.SHORT, ProposalState.PROPOSED, None, cycle_id=CYCLE)
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        table = app.main.query_one(ProposalsTable)
        await wait_for(pilot, lambda: f"proposal:{short.id}" in table._cells)
        assert cell(table, f"proposal:{short.id}", "verdict").startswith("⚠ whales CONTRADICT")
        assert cell(table, f"proposal:{fixture_db.pending_id}", "verdict") == "✓ 6/6 passed"
        # The XRP proposal's drift (0.61 %) is past its 0.5 % limit: marked unapprovable.
        assert "approval refused" in cell(table, f"proposal:{fixture_db.pending2_id}", "verdict")


async def test_p_brings_the_prompt_into_view(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        scroll = app.screen.query_one("#detail-scroll")
        assert scroll.scroll_y == 0
        await pilot.press("P")
        await wait_for(pilot, lambda: scroll.scroll_y > 0)
        content = app.screen.query_one("#detail-content")
        seen = content.render_lines(Region(0, int(scroll.scroll_y), content.size.width, scroll.size.height))
        assert "Prompt" in [strip.text.strip() for strip in seen]  # the prompt's heading is in view


async def test_a_cut_reason_ends_in_an_ellipsis_and_is_whole_in_the_details(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    failed = ("max_entries_per_cycle", "total_exposure")
    gates = [{"gate": g, "passed": g not in failed} for g in ("leverage", *failed)]
    engine.store.proposals.update(fixture_db.denied_id, gates=gates, reason_codes=list(failed))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        table = app.main.query_one(ProposalsTable)
        key = f"proposal:{fixture_db.denied_id}"
        await wait_for(pilot, lambda: "verdict" in table.shown_columns and key in table._cells)
        shown = table.get_cell(key, "verdict")
        whole = cell(table, key, "verdict")
        assert whole == "✗ max_entries_per_cycle, total_exposure"
        assert shown.plain.endswith("…")
        assert len(shown.plain) < len(whole)
        found = app._describe(key)
        assert found is not None
        assert "max_entries_per_cycle" in flat(render_text(found[1]))


async def test_a_tick_that_falls_before_the_detail_screen_is_composed_is_kept_for_it() -> None:
    """The console's 1 s tick refreshes an open detail screen; one that falls between the push and the
    compose (seen under load) must neither crash the console nor lose the newer body."""
    screen = DetailScreen(UnexpandedDetail(), "proposal:1", "Proposal #1", "old body")
    screen.show("newer body")  # not composed: no #detail-content yet
    assert screen.body == "newer body"


async def test_a_tick_between_compose_and_mount_updates_the_composed_body(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    """Under load the tick can also fall after compose but before its widgets are mounted, when a query
    finds nothing (CI saw `NoMatches: #detail-content`): the composed widget must take the newer body."""
    from textual.compose import compose

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        screen = DetailScreen(app, "proposal:1", "Proposal #1", "old body")
        with app._context():
            compose(screen)  # composed, not mounted: `query_one` finds nothing now
        content = screen._content
        assert content is not None
        assert not content.is_mounted
        screen.show("newer body")
        assert content.content == "newer body"


async def test_a_detail_screen_draws_the_body_it_was_given_before_compose(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        # A row the snapshot does not hold: a tick after the push (a busy machine can take two seconds)
        # would otherwise draw the proposal's own description over the body under test.
        screen = DetailScreen(app, "proposal:999", "Proposal #999", "old body")
        screen.show("newer body")
        await app.push_screen(screen)
        await wait_for(pilot, lambda: app.screen is screen and screen.is_mounted)
        content = screen.query_one("#detail-content")
        assert "newer body" in [
            strip.text.strip() for strip in content.render_lines(content.region.reset_offset)
        ]


async def test_a_snapshot_that_arrives_after_the_last_screen_went_is_ignored(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    """A read that finishes while the console shuts down (seen under load in the interactive demo test)
    must not raise: there is no screen left to draw it on."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(pilot)
        snap = app.snapshot
    assert snap is not None
    assert not app.screen_stack
    app.on_snapshot_ready(SnapshotReady(snap))

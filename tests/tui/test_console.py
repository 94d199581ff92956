"""Pilot tests: every key path, confirmation and cancel of destructive actions, read-only, no engine."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from rich.console import Console

from smt_engine.domain import CommandKind, EngineState, EventLevel, PositionState, ProposalState
from smt_engine.store import Store
from smt_engine.store.records import Command
from smt_tui.app import ConsoleApp
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.detail import DetailScreen
from smt_tui.screens.help import HelpScreen
from smt_tui.widgets.event_log import EventLog
from smt_tui.widgets.orders_table import OrdersTable
from smt_tui.widgets.positions_table import PositionsTable
from smt_tui.widgets.proposals_table import ProposalsTable
from smt_tui.widgets.status_bar import status_text
from smt_tui.widgets.whale_feed import TransfersTable, WhalesTable
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import NOW, Fixture

MakeApp = Callable[..., ConsoleApp]


def header(app: ConsoleApp) -> str:
    snap = app.snapshot
    return status_text(snap, app.now(), app.config, app.readonly).plain if snap else ""


def render_text(renderable: Any) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def notes(app: ConsoleApp) -> list[tuple[str, str]]:
    return app.notes  # type: ignore[attr-defined,no-any-return]


def commands(fx: Fixture) -> list[Any]:
    store = Store.open(fx.path)
    try:
        return store.commands.recent()
    finally:
        store.close()


async def roundtrip(pilot: Any, app: ConsoleApp, engine: FakeEngine, text: str) -> None:
    """The command reaches the fake engine and its result comes back as a notification."""
    await wait_for(pilot, lambda: engine.step() > 0 or engine.handled)
    await wait_for(pilot, lambda: any(text in m for m, _ in notes(app)))


async def test_main_screen_shows_every_pane(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        text = header(app)
        for part in (
            "PAPER",
            "running",
            "♥ ok",
            "next cycle 13:30:00",
            "13d12h left",
            "1,028.50",
            "263.50/600.00",
        ):
            assert part in text, part
        assert "UNPROTECTED" in text
        assert "1 orphan" in text
        positions = app.main.query_one(PositionsTable)
        assert f"position:{fixture_db.unprotected_position_id}" in positions._cells
        assert "UNPROTECTED" in positions._cells[f"position:{fixture_db.unprotected_position_id}"][-1].plain
        proposals = app.main.query_one(ProposalsTable)
        keys = [str(r.key.value) for r in proposals.ordered_rows]
        assert keys[:2] == [f"proposal:{fixture_db.pending2_id}", f"proposal:{fixture_db.pending_id}"]
        assert app.main.query_one(WhalesTable).row_count == 3
        assert app.main.query_one(TransfersTable).row_count == 6
        orders = app.main.query_one(OrdersTable)
        assert "ORPHAN" in orders._cells[f"order:{fixture_db.orphan_order_id}"][7].plain
        levels = {c[1].plain for c in app.main.query_one(EventLog)._cells.values()}
        assert levels == {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        # Wide terminal: the detail pane sits beside the tables and follows the cursor.
        assert app.main.has_class("-wide")


async def test_no_engine_is_red_and_commands_are_not_sent(make_app: MakeApp, fixture_db: Fixture) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        assert "NO ENGINE" in header(app)
        assert app.main.query_one("StatusBar").has_class("-engine-down")
        await pilot.press("n")
        await wait_for(pilot, lambda: any("no engine is running" in m for m, _ in notes(app)))
    assert commands(fixture_db) == []


async def test_stale_heartbeat_turns_red(make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine) -> None:
    engine.store.engine.set(heartbeat_at=NOW - timedelta(minutes=2))
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        assert "♥ 2m STALE" in header(app)
        assert app.main.query_one("StatusBar").has_class("-engine-down")


@pytest.mark.parametrize(
    ("key", "kind", "state"), [("a", "approve", "approved"), ("r", "reject", "rejected")]
)
async def test_approve_and_reject_pending_proposal(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine, key: str, kind: str, state: str
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        assert app.check_action("approve", ()) is True
        await pilot.press(key)
        await roundtrip(pilot, app, engine, f"{kind} proposal #{fixture_db.pending2_id}: done")
        # The engine's result in plain words only, never its raw JSON.
        said = {"approve": ": done: open with TP/SL resting, position #7", "reject": ": done: rejected"}[kind]
        toast = next(m for m, _ in notes(app) if ": done" in m)
        assert toast == f"{kind} proposal #{fixture_db.pending2_id}{said}"
        cmd = engine.handled[0]
        assert cmd.kind == CommandKind(kind)
        assert cmd.args == {"proposal_id": fixture_db.pending2_id}
        assert cmd.actor.startswith("console:")
        # The table follows the engine's change and approve no longer applies to that row: the cursor
        # stays on the row the operator decided, never on the other waiting one (a second press).
        await wait_for(pilot, lambda: app.check_action("approve", ()) is False)
        assert app.selected_key() == f"proposal:{fixture_db.pending2_id}"
    assert engine.store.proposals.get(fixture_db.pending2_id).state is ProposalState(state)  # type: ignore[union-attr]


async def test_approve_is_hidden_on_a_denied_proposal(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("2", "down", "down", "down")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.denied_id}")
        assert app.check_action("approve", ()) is False
        assert app.check_action("reject", ()) is False
        await pilot.press("a", "r")
        await pilot.pause(0.1)
    assert commands(fixture_db) == []


@pytest.mark.parametrize("confirm", [True, False])
@pytest.mark.parametrize(
    ("key", "kind", "args", "said"),
    [
        (
            "x",
            CommandKind.CLOSE,
            {"symbol": "ETHUSDT", "side": "SHORT"},
            "close ETHUSDT SHORT: done: closed, position #",
        ),
        ("X", CommandKind.CLOSE_ALL, {}, " positions closed"),
        # The count comes from the engine's typed answer (the old stand-in's toast showed none).
        ("c", CommandKind.CLEANUP, {}, "clean up (1 orphan(s) flagged): done: 1 orphan order cancelled"),
    ],
)
async def test_destructive_actions_ask_first(
    make_app: MakeApp,
    fixture_db: Fixture,
    engine: FakeEngine,
    key: str,
    kind: CommandKind,
    args: dict[str, str],
    said: str,
    confirm: bool,
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("1")  # it opened on Proposals: one is waiting
        await wait_for(pilot, lambda: app.selected_key() == f"position:{fixture_db.unprotected_position_id}")
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        # While the modal is up nothing else can be triggered.
        assert app.check_action("run_cycle", ()) is False
        await pilot.press("y" if confirm else "n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        if confirm:
            await roundtrip(pilot, app, engine, said)
            assert [(c.kind, c.args) for c in engine.handled] == [(kind, args)]
        else:
            await wait_for(pilot, lambda: any("cancelled" in m for m, _ in notes(app)))
            await pilot.pause(0.1)
            assert engine.step() == 0
    if confirm and kind is not CommandKind.CLEANUP:
        pos = engine.store.positions.get(fixture_db.unprotected_position_id)
        assert pos is not None
        assert pos.state is PositionState.CLOSED


async def test_close_is_hidden_on_a_closed_position(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("down", "down")
        assert app.check_action("close_position", ()) is False
        await pilot.press("x")
        await pilot.pause(0.05)
        assert not isinstance(app.screen, ConfirmModal)


async def test_escape_cancels_and_repeated_key_is_debounced(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app(debounce=30.0)
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("X")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal))
        await pilot.press("X")  # a second press inside the debounce window opens nothing
        await pilot.pause(0.05)
        assert not isinstance(app.screen, ConfirmModal)
        await pilot.press("n", "n")
        await wait_for(pilot, lambda: engine.step() > 0 or engine.handled)
        await pilot.pause(0.1)
        engine.step()
    assert [c.kind for c in engine.handled] == [CommandKind.RUN_CYCLE]


async def test_pause_then_resume(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        assert app.check_action("pause", ()) is True
        assert app.check_action("resume", ()) is False
        await pilot.press("p")
        await roundtrip(pilot, app, engine, "pause entries: done: paused")
        await wait_for(pilot, lambda: "● paused" in header(app))
        assert app.check_action("pause", ()) is False
        assert app.check_action("resume", ()) is True
        await pilot.press("p")
        await wait_for(pilot, lambda: engine.step() > 0 or len(engine.handled) == 2)
        await wait_for(pilot, lambda: "● running" in header(app))
    assert [c.kind for c in engine.handled] == [CommandKind.PAUSE, CommandKind.RESUME]


async def test_failed_command_is_reported(make_app: MakeApp, engine: FakeEngine) -> None:
    engine.fail_kinds.add(CommandKind.RUN_CYCLE)
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("n")
        await roundtrip(pilot, app, engine, "run cycle now: failed: run_cycle refused by the exchange")
        assert ("run cycle now: failed: run_cycle refused by the exchange", "error") in notes(app)


async def test_a_result_that_does_not_fit_its_kind_is_reported_as_such(
    make_app: MakeApp, engine: FakeEngine
) -> None:
    """A row an older or foreign writer completed with another shape: the toast says so, the console lives."""
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("n")
        claimed: list[Command] = []

        def claim() -> bool:
            command = engine.store.commands.claim_next(NOW)
            if command is not None:
                claimed.append(command)
            return bool(claimed)

        await wait_for(pilot, claim)
        assert claimed[0].id is not None
        engine.store.commands.complete(claimed[0].id, NOW, {"message": "cycle started"})
        said = "run cycle now: failed: the engine's run_cycle result does not fit (queued: Field required)"
        await wait_for(pilot, lambda: any(m.startswith(said) for m, _ in notes(app)))
        assert [severity for m, severity in notes(app) if m.startswith(said)] == ["error"]


async def test_read_only_shows_actions_as_unavailable(make_app: MakeApp, fixture_db: Fixture) -> None:
    app = make_app(readonly=True)
    async with app.run_test() as pilot:
        await ready(pilot)
        assert "READ-ONLY" in header(app)
        assert app.model.store.readonly
        await pilot.press("2")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        for action in ("approve", "reject", "close_all", "cleanup", "pause", "run_cycle"):
            assert app.check_action(action, ()) is None, action
        await pilot.press("a", "X", "n", "p")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmModal)
    assert commands(fixture_db) == []


async def test_enter_opens_the_proposal_rationale(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(100, 60)) as pilot:
        await ready(pilot)
        await pilot.press("2", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert app.screen.key == f"proposal:{fixture_db.pending_id}"  # type: ignore[attr-defined]
        text = render_text(app.screen.body)  # type: ignore[attr-defined]
        for part in (
            "Why",
            "exchange outflows of 12,400 ETH",
            "ETH ETF inflows reported this morning",
            "FOMC minutes tonight",
            "CoinDesk: ETF flows",
            "4210 ms",
            "6/6 passed",
            "10m left",
        ):
            assert part in text, part
        # Approve works from the detail screen too.
        assert app.check_action("approve", ()) is True
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, DetailScreen))


async def test_filter_narrows_the_current_table(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("1")
        table = app.main.query_one(PositionsTable)
        assert table.row_count == 2
        await pilot.press("slash", "B", "T", "C")
        await wait_for(pilot, lambda: table.row_count == 1)
        # The filter belongs to the table it was typed in: the other tabs keep every row.
        assert app.main.query_one(ProposalsTable).row_count == 4
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 2)


async def test_help_and_event_level(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
        assert app.check_action("event_level", ()) is False
        await pilot.press("7")
        await wait_for(pilot, lambda: app.check_action("event_level", ()) is True)
        await pilot.press("l", "l")  # debug -> info -> warning
        log = app.main.query_one(EventLog)
        await wait_for(
            pilot, lambda: app.snapshot is not None and app.snapshot.event_level is EventLevel.WARNING
        )
        await wait_for(
            pilot, lambda: {c[1].plain for c in log._cells.values()} == {"WARNING", "ERROR", "CRITICAL"}
        )


async def test_refresh_keeps_the_cursor_on_the_same_row(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("1", "down")
        key = f"position:{fixture_db.protected_position_id}"
        assert app.selected_key() == key
        table = app.main.query_one(PositionsTable)
        # The engine removes the row above the cursor and changes a cell of the selected one.
        engine.store.positions.update(
            fixture_db.unprotected_position_id, state=PositionState.CLOSED, closed_at=NOW - timedelta(hours=1)
        )
        engine.store.positions.update(fixture_db.protected_position_id, unrealized_pnl="21.50")
        await wait_for(pilot, lambda: "+21.50" in table._cells[key][5].plain)
        assert app.selected_key() == key
        assert app.snapshot is not None
        assert "positions" in app.snapshot.changed
        assert "events" not in app.snapshot.changed


async def test_palette_offers_the_same_actions(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        await pilot.press("1")
        await wait_for(pilot, lambda: app.main.active_tab == "positions")
        titles = [t for a, t, _ in app.palette_actions() if app.action_state(a) is True]
        assert "Cycle now" in titles
        assert "Approve" not in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Cycle now")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await roundtrip(pilot, app, engine, "run cycle now: done")


async def test_engine_state_follows_the_database(make_app: MakeApp, engine: FakeEngine) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await ready(pilot)
        engine.store.engine.set(state=EngineState.HALTED, state_reason="daily loss limit")
        await wait_for(pilot, lambda: "halted" in header(app) and "daily loss limit" in header(app))
        assert app.check_action("resume", ()) is True

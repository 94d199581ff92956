"""Pilot tests of the adjusting keys (issue 25): move stop `m`, move take-profit `t`, close part `v`,
clear a stop-loss cooldown `k`. Each asks for one value and queues the command the engine checks; none
applies without an open position selected (or a cooldown in force), none in the read-only viewer."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from textual.pilot import Pilot

from smt_engine.domain import CommandKind
from smt_engine.store.limits import Limit
from smt_tui.app import ConsoleApp
from smt_tui.screens.value_input import ValueInputModal
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import NOW, Fixture
from tests.tui.test_console import commands, header, notes, roundtrip

MakeApp = Callable[..., ConsoleApp]


async def _on_eth_short(pilot: Any, app: ConsoleApp, fx: Fixture) -> None:
    await ready(pilot)
    await pilot.press("1")
    await wait_for(pilot, lambda: app.selected_key() == f"position:{fx.unprotected_position_id}")


async def _answer(pilot: Any, app: ConsoleApp, key: str, text: str) -> None:
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(app.screen, ValueInputModal))
    assert app.check_action("run_cycle", ()) is False  # nothing else while the question is open
    await pilot.press("ctrl+a", "ctrl+k", *text, "enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, ValueInputModal))


async def test_m_t_and_v_queue_a_stop_move_a_take_profit_move_and_a_partial_close(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _on_eth_short(pilot, app, fixture_db)
        for action in ("move_stop", "move_tp", "close_part"):
            assert app.check_action(action, ()) is True, action
        await _answer(pilot, app, "m", "3400")
        await roundtrip(pilot, app, engine, "move ETHUSDT stop-loss to 3400: done")
        await _answer(pilot, app, "t", "3100.5")
        await wait_for(pilot, lambda: engine.step() > 0 or len(engine.handled) == 2)
        await _answer(pilot, app, "v", "50%")
        await wait_for(pilot, lambda: engine.step() > 0 or len(engine.handled) == 3)
    assert [(c.kind, c.args) for c in engine.handled] == [
        (CommandKind.MOVE_PROTECTION, {"symbol": "ETHUSDT", "side": "SHORT", "sl_price": "3400"}),
        (CommandKind.MOVE_PROTECTION, {"symbol": "ETHUSDT", "side": "SHORT", "tp_price": "3100.5"}),
        (CommandKind.CLOSE, {"symbol": "ETHUSDT", "side": "SHORT", "fraction": "0.5"}),
    ]


async def test_off_a_position_or_with_a_value_that_is_not_a_number_nothing_is_sent(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        assert app.check_action("move_stop", ()) is False
        await pilot.press("m")
        await wait_for(
            pilot, lambda: any("move stop: select an open position first" in m for m, _ in notes(app))
        )
        await _on_eth_short(pilot, app, fixture_db)
        await _answer(pilot, app, "m", "abc")
        await wait_for(pilot, lambda: any("is not a price: nothing was sent" in m for m, _ in notes(app)))
        await _answer(pilot, app, "v", "150%")
        await wait_for(pilot, lambda: any("below 100%: nothing was sent" in m for m, _ in notes(app)))
    assert engine.step() == 0
    assert commands(fixture_db) == []


async def test_k_applies_only_while_a_cooldown_is_in_force_which_the_header_shows(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        assert app.check_action("clear_cooldown", ()) is False
        await pilot.press("k")
        await wait_for(pilot, lambda: any("no stop-loss cooldown is in force" in m for m, _ in notes(app)))
        engine.store.limits.insert(
            Limit(
                name="cooldown.SOLUSDT",
                value=Decimal(14400),
                unit="s",
                detail="until 2026-01-14 12:00 UTC (stop-loss at 2026-01-14 08:00 UTC)",
                updated_at=NOW,
            )
        )
        await wait_for(pilot, lambda: "cooldown SOL to 12:00 UTC" in header(app))
        assert app.check_action("clear_cooldown", ()) is True
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ValueInputModal))
        await pilot.press("enter")  # the one cooling pair is offered
        await roundtrip(pilot, app, engine, "clear SOLUSDT cooldown: done")
    assert [(c.kind, c.args) for c in engine.handled] == [(CommandKind.CLEAR_COOLDOWN, {"symbol": "SOLUSDT"})]


async def test_the_adjusting_keys_do_not_apply_off_a_position_or_in_the_read_only_viewer(
    make_app: MakeApp, fixture_db: Fixture
) -> None:
    app = make_app(readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await pilot.press("2")
        await wait_for(pilot, lambda: app.selected_key() == f"proposal:{fixture_db.pending2_id}")
        assert app.check_action("move_stop", ()) is False
        await pilot.press("m")
        await wait_for(
            pilot, lambda: any("move stop: this is a read-only viewer" in m for m, _ in notes(app))
        )
        await _on_eth_short(pilot, app, fixture_db)
        for action in ("move_stop", "move_tp", "close_part"):
            assert app.check_action(action, ()) is None, action  # shown, unavailable: read-only
        await pilot.press("m", "v")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ValueInputModal)
    assert commands(fixture_db) == []


def test_the_move_stop_question_snapshot(
    snap_compare: Any, make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = await ready(pilot)
        await wait_for(pilot, lambda: app.main.active_tab == "proposals")
        await _on_eth_short(pilot, app, fixture_db)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ValueInputModal))
        await pilot.app.workers.wait_for_complete()
        app.clear_notifications()
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)

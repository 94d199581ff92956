"""Pilot tests of the manual entry form: `e` opens it, a wrong field is named and nothing is sent, a good
entry is queued as an ``enter`` command and its outcome toasted; live asks first; it does not apply to a
read-only viewer or a paused engine, and says why."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select

from smt_engine.domain import CommandKind, EngineState, Mode
from smt_tui.app import ConsoleApp
from smt_tui.screens.confirm import ConfirmModal
from smt_tui.screens.entry_form import EntryForm
from tests.tui.conftest import TEST_CONFIG, FakeEngine, ready, wait_for
from tests.tui.fixtures import Fixture
from tests.tui.test_console import commands, notes

MakeApp = Callable[..., ConsoleApp]
PAIRS = dataclasses.replace(TEST_CONFIG, entry_pairs=("ETH", "BTC"))


async def open_form(pilot: Any, app: ConsoleApp) -> EntryForm:
    await ready(pilot)
    assert app.check_action("manual_entry", ()) is True
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(app.screen, EntryForm))
    assert isinstance(app.screen, EntryForm)
    return app.screen


def error_of(form: EntryForm) -> str:
    return str(form.query_one("#entry-error", Label).render())


async def test_a_wrong_field_is_named_and_a_good_entry_is_sent_and_answered(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app(config=PAIRS)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot, app)
        assert [str(o) for o, _ in form.query_one("#pair", Select)._options] == ["ETH", "BTC"]
        form.query_one("#side", Select).value = "SHORT"
        await pilot.press("1", "2", "x", "enter")  # the amount has focus
        await wait_for(pilot, lambda: "margin: '12x' is not a number" in error_of(form))
        assert isinstance(app.screen, EntryForm)
        assert engine.step() == 0
        form.query_one("#amount", Input).value = "50"
        form.query_one("#tp_pct", Input).value = "3"
        form.query_one("#pair", Select).value = "BTC"
        await pilot.click("#send")
        await wait_for(pilot, lambda: not isinstance(app.screen, EntryForm))
        await wait_for(pilot, lambda: engine.step() > 0 or bool(engine.handled))
        (command,) = engine.handled
        assert command.kind is CommandKind.ENTER
        assert command.args == {"pair": "BTC", "side": "SHORT", "margin": "50", "tp_pct": "3"}
        await wait_for(pilot, lambda: any("enter BTC SHORT margin 50 USDT: done" in m for m, _ in notes(app)))


async def test_a_refusal_is_toasted_with_the_engines_reason(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    engine.fail_kinds.add(CommandKind.ENTER)
    app = make_app()  # no pair list: the pair is typed
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot, app)
        form.query_one("#pair", Input).value = "eth"
        form.query_one("#unit", Select).value = "size"
        form.query_one("#amount", Input).value = "0.5"
        await pilot.press("enter")
        await wait_for(pilot, lambda: engine.step() > 0 or bool(engine.handled))
        assert engine.handled[0].args == {"pair": "ETH", "side": "LONG", "size": "0.5"}
        await wait_for(
            pilot,
            lambda: ("enter ETH LONG size 0.5: failed: enter refused by the exchange", "error") in notes(app),
        )


async def test_escape_cancels_and_sends_nothing(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app(config=PAIRS)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot, app)
        form.query_one("#amount", Input).value = "50"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EntryForm))
        assert ("cancelled: nothing was sent", "information") in notes(app)
    assert commands(fixture_db) == []


async def test_live_asks_before_the_entry_is_sent(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    engine.store.engine.set(mode=Mode.LIVE)
    app = make_app(config=PAIRS)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot, app)
        form.query_one("#amount", Input).value = "50"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert "Open ETH LONG margin 50 USDT with real money?" in str(
            app.screen.query_one("#confirm-body").render()
        )
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmModal))
    assert engine.step() == 0
    assert commands(fixture_db) == []


async def test_a_read_only_viewer_or_a_paused_engine_is_told_why(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    viewer = make_app(readonly=True, config=PAIRS)
    async with viewer.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert viewer.check_action("manual_entry", ()) is None
        await pilot.press("e")
        await wait_for(pilot, lambda: any("read-only viewer" in m for m, _ in notes(viewer)))
        assert not isinstance(viewer.screen, EntryForm)
    engine.store.engine.set(state=EngineState.PAUSED)
    app = make_app(config=PAIRS)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        assert app.check_action("manual_entry", ()) is False
        await pilot.press("e")
        await wait_for(pilot, lambda: any("resume first" in m for m, _ in notes(app)))
        assert not isinstance(app.screen, EntryForm)
    assert commands(fixture_db) == []


@pytest.mark.parametrize("size", [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")])
def test_the_form_fits_and_names_a_wrong_field(
    snap_compare: Any, make_app: MakeApp, engine: FakeEngine, size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        form = await open_form(pilot, app)
        await pilot.press("0", "enter")
        await wait_for(pilot, lambda: "margin: '0' must be a positive number" in error_of(form))
        await pilot.app.workers.wait_for_complete()
        app.clear_notifications()
        await pilot.pause(0.1)

    assert snap_compare(make_app(config=PAIRS), terminal_size=size, run_before=run_before)


async def test_with_no_engine_running_nothing_is_sent(make_app: MakeApp, fixture_db: Fixture) -> None:
    app = make_app(config=PAIRS)  # no engine holds the database
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot, app)
        form.query_one("#amount", Input).value = "50"
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: any("no engine is running; nothing was sent" in m for m, _ in notes(app))
        )
    assert commands(fixture_db) == []

"""A live engine started with --skip-probe says so in the console's header (the health strip)."""

from __future__ import annotations

from collections.abc import Callable

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.weex.probe_gate import require_probe
from smt_engine.store import Store
from smt_tui.app import ConsoleApp
from smt_tui.widgets.status_bar import status_text
from tests.tui.conftest import FakeEngine, ready
from tests.tui.fixtures import NOW, Fixture


async def test_skipped_probe_warns_in_the_header(
    make_app: Callable[..., ConsoleApp], fixture_db: Fixture, engine: FakeEngine
) -> None:
    store = Store.open(fixture_db.path)
    try:
        require_probe(
            store, SimulatedClock(NOW), "weex_header_key_77", "https://api-contract.weex.com", skip=True
        )
    finally:
        store.close()
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await ready(pilot)
        snap = app.snapshot
        assert snap is not None
        text = status_text(snap, app.now(), app.config, app.readonly).plain
        assert "exchange.probe: live without a passing venue probe (--skip-probe)" in text

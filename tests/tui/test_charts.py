"""Charts drawn from the engine's stored history: the selected position's price with its entry/TP/SL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from smt_engine.store.flows import ExchangeFlow
from smt_engine.store.prices import StoredCandle
from smt_engine.store.records import Cycle
from smt_tui.widgets.flow_chart import NO_FLOWS, FlowChart
from smt_tui.widgets.position_chart import NO_HISTORY, PositionChart
from smt_tui.widgets.positions_table import PositionsTable
from tests.tui.conftest import FakeEngine, ready, wait_for
from tests.tui.fixtures import NOW, Fixture
from tests.tui.test_console import MakeApp


def _bars(symbol: str, closes: list[str]) -> list[StoredCandle]:
    start = NOW - timedelta(minutes=5 * len(closes))
    return [
        StoredCandle(
            symbol=symbol,
            interval="5m",
            open_time=start + timedelta(minutes=5 * i),
            close_time=start + timedelta(minutes=5 * (i + 1)),
            open=Decimal(c),
            high=Decimal(c),
            low=Decimal(c),
            close=Decimal(c),
            volume=Decimal(1),
            seen_at=NOW,
        )
        for i, c in enumerate(closes)
    ]


async def test_selected_open_position_is_charted_with_entry_tp_and_sl(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        key = f"position:{fixture_db.unprotected_position_id}"
        await wait_for(pilot, lambda: app.selected_key() == key)
        chart = app.main.query_one(PositionChart)
        position = engine.store.positions.get(fixture_db.unprotected_position_id)
        assert position is not None
        await wait_for(pilot, lambda: NO_HISTORY in chart.title)
        assert chart.display
        assert f"entry {position.entry_price}" in chart.title
        assert f"TP {position.tp_price or '-'}" in chart.title
        assert f"SL {position.sl_price or '-'}" in chart.title

        engine.store.candles.record_closed(_bars(position.symbol, ["2000", "2010", "1995.5"]))
        await pilot.press("down")
        await pilot.press("up")
        await wait_for(pilot, lambda: app.selected_key() == key and "last close 1995.5" in chart.title)
        assert NO_HISTORY not in chart.title

        await pilot.press("2")  # another tab: the hidden chart is left as drawn, not redrawn
        await wait_for(pilot, lambda: app.main.active_tab == "proposals")
        assert "last close 1995.5" in chart.title


async def test_position_chart_follows_each_snapshot_and_stays_put_when_nothing_it_shows_changed(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    position_id = fixture_db.unprotected_position_id
    position = engine.store.positions.get(position_id)
    assert position is not None
    engine.store.candles.record_closed(_bars(position.symbol, ["2000", "2010"]))
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        key = f"position:{position_id}"
        await wait_for(pilot, lambda: app.selected_key() == key)
        chart = app.main.query_one(PositionChart)
        table = app.main.query_one(PositionsTable)
        await wait_for(pilot, lambda: "last close 2010" in chart.title)
        draws, title = chart.draws, chart.title

        # A new snapshot that changes nothing the chart draws (only the PnL): no redraw.
        engine.store.positions.update(position_id, unrealized_pnl="12.34")
        await wait_for(pilot, lambda: "+12.34" in table._cells[key][5].plain)
        assert (chart.draws, chart.title) == (draws, title)

        # A new mark price: the chart follows without any key press (once its mark interval has passed).
        chart.mark_every = 0
        engine.store.positions.update(position_id, mark_price="2033.5")
        await wait_for(pilot, lambda: "mark 2033.5" in chart.title)
        assert chart.draws == draws + 1

        # A new stored bar (the engine stores bars during a cycle) and a moved stop-loss.
        engine.store.cycles.insert(Cycle(id="c-next", started_at=NOW, finished_at=NOW, status="done"))
        engine.store.candles.record_closed(_bars(position.symbol, ["2000", "2010", "2021.25"]))
        engine.store.positions.update(position_id, sl_price="1980")
        await wait_for(pilot, lambda: "last close 2021.25" in chart.title and "SL 1980" in chart.title)
        assert app.selected_key() == key


def _flow(at_minutes: int, asset: str, net: str, window: int = 6) -> ExchangeFlow:
    return ExchangeFlow(
        cycle_id=f"c{at_minutes}",
        at=NOW - timedelta(minutes=at_minutes),
        window_hours=window,
        asset=asset,
        inflow=max(Decimal(net), Decimal(0)),
        outflow=max(-Decimal(net), Decimal(0)),
        net=Decimal(net),
        transfers=1,
        wallets=1,
    )


async def test_whales_tab_charts_net_exchange_flow_of_stablecoins_and_eth_like(
    make_app: MakeApp, engine: FakeEngine
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        chart = app.main.query_one(FlowChart)
        await wait_for(pilot, lambda: NO_FLOWS in chart.title)
    engine.store.exchange_flows.add_cycle(
        [_flow(60, "USDT", "1000"), _flow(60, "ETH", "-5"), _flow(60, "USDC", "999", window=1)]
    )
    engine.store.exchange_flows.add_cycle(
        [_flow(0, "USDT", "-2000"), _flow(0, "USDC", "500"), _flow(0, "ETH", "3.5"), _flow(0, "WETH", "1")]
    )
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        chart = app.main.query_one(FlowChart)
        # The newest moment: stablecoins -2000 + 500, ETH-like 3.5 + 1; the 1 h window is not mixed in.
        await wait_for(pilot, lambda: "stablecoins -1,500, ETH-like +4.50" in chart.title)


async def test_a_mark_move_alone_is_drawn_at_a_bounded_rate_and_anything_else_at_once(
    make_app: MakeApp, fixture_db: Fixture, engine: FakeEngine
) -> None:
    position_id = fixture_db.unprotected_position_id
    position = engine.store.positions.get(position_id)
    assert position is not None
    engine.store.candles.record_closed(_bars(position.symbol, ["2000", "2010"]))
    app = make_app()
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot)
        await pilot.press("1")
        key = f"position:{position_id}"
        await wait_for(pilot, lambda: app.selected_key() == key)
        chart = app.main.query_one(PositionChart)
        table = app.main.query_one(PositionsTable)
        await wait_for(pilot, lambda: "last close 2010" in chart.title)
        chart.mark_every = 3600  # the next mark-only redraw is an hour away
        engine.store.positions.update(position_id, mark_price="2040", unrealized_pnl="7.77")
        await wait_for(pilot, lambda: "+7.77" in table._cells[key][5].plain)
        draws, title = chart.draws, chart.title
        engine.store.positions.update(position_id, mark_price="2041", unrealized_pnl="7.78")
        await wait_for(pilot, lambda: "+7.78" in table._cells[key][5].plain)
        assert (chart.draws, chart.title) == (draws, title)  # the snapshot came, the chart waits
        assert "mark 2041" not in chart.title

        # A moved stop-loss is drawn at once, with the latest mark.
        engine.store.positions.update(position_id, sl_price="1985")
        await wait_for(pilot, lambda: "SL 1985" in chart.title)
        assert "mark 2041" in chart.title
        assert chart.draws == draws + 1

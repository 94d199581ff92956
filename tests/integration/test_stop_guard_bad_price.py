"""A missing stop and a glitching pushed price: the position stays open and gets its stop.

A pushed ticker 10x low makes a healthy long's stop look wrong-sided. Before the fix the pre-flight
check refused the stop on that price and the guard closed the position at market. Now the pre-flight
check uses a plausible price or leaves the judgement to the venue, which judges on its own price (the
paper venue too: it replaces an implausible push by the REST price), and the guard never closes on a
refusal while the price is implausible. A stop refused on a plausible price still closes at market.
Live and paper, over the fake WEEX's REST on 127.0.0.1.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import OrderKind, PositionState, Side
from smt_engine.exchange.base import Exchange, OrderRequest
from smt_engine.exchange.factory import make_exchange
from smt_engine.exchange.market.streamed import StreamedMarket, StreamPrices
from smt_engine.exchange.paper import PaperExchange
from smt_engine.exchange.weex import WeexClient
from smt_engine.logsetup import EventsHandler
from smt_engine.secrets import SecretName, SecretStore
from smt_engine.store import Store
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from tests.fakes.weex_server import FakeWeex

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
BTC = "BTCUSDT"
PRICE = Decimal("95123.4")


class Venue:
    def __init__(self, mode: str, tmp: Path, clock: SimulatedClock, fake: FakeWeex) -> None:
        self.mode = mode
        self.clock = clock
        self.fake = fake
        self.settings = Settings.model_validate(
            {
                "engine": {"mode": mode, "database": str(tmp / "smt.db")},
                "exchange": {"base_url": fake.base_url, "streams": True},
                "pairs": {"tier1": ["BTC"], "tier2": []},
            }
        )
        self.store = Store.open(tmp / "smt.db")
        secrets = SecretStore(
            env={
                SecretName.WEEX_API_KEY.env_var: fake.api_key,
                SecretName.WEEX_API_SECRET.env_var: fake.secret,
                SecretName.WEEX_API_PASSPHRASE.env_var: fake.passphrase,
            },
            use_keyring=False,
        )
        self.exchange: Exchange = make_exchange(self.settings, self.store, clock, secrets)
        if isinstance(self.exchange, WeexClient):
            self.prices = StreamPrices()
            self.exchange.use_stream_prices(self.prices)
        else:
            assert isinstance(self.exchange, PaperExchange)
            market = self.exchange.market
            assert isinstance(market, StreamedMarket)
            assert isinstance(market.prices, StreamPrices)
            self.prices = market.prices
        self.executor = Executor(self.exchange, self.store, clock, self.settings)
        self.monitor = Monitor(self.settings, self.store, clock, self.exchange, self.executor, None)

    async def open_long_without_a_stop(self) -> int:
        await self.exchange.set_leverage(BTC, 10, "cross")
        await self.exchange.place_order(OrderRequest(BTC, Side.LONG, Decimal("0.01"), "outside-entry-1"))
        assert (await self.monitor.tick(startup=True)).ok  # adopts it and gives it a stop
        for algo in await self.exchange.open_algo_orders(BTC):
            await self.exchange.cancel_algo_order(BTC, algo.order_id)  # then the stop is gone
        assert await self.stops() == []
        position = self.store.positions.open_for(BTC, Side.LONG)
        assert position is not None
        assert position.id is not None
        return position.id

    def push(self, price: Decimal) -> None:
        """A pushed ticker stamped now, as the public stream stores one."""
        self.prices.update(BTC, price, price, self.clock.now())

    async def stops(self) -> list[Decimal]:
        return [a.trigger_price for a in await self.exchange.open_algo_orders(BTC) if a.kind == "sl"]

    def market_closes(self) -> list[object]:
        return [o for o in self.store.orders.select() if o.kind is OrderKind.CLOSE]


@pytest.fixture(params=["live", "paper"])
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Venue]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={BTC: PRICE}) as fake:
        v = Venue(request.param, tmp_path, clock, fake)
        events = EventsHandler(v.store, clock)
        logging.getLogger().addHandler(events)
        try:
            yield v
        finally:
            logging.getLogger().removeHandler(events)
            await v.exchange.aclose()
            v.store.close()


async def test_a_missing_stop_under_a_10x_low_push_is_re_placed_not_closed_at_market(venue: Venue) -> None:
    position_id = await venue.open_long_without_a_stop()
    venue.push(PRICE / 10)  # the stop (1-2 % under the entry) is now "above the price" by the push

    await venue.monitor.tick()

    position = venue.store.positions.get(position_id)
    assert position is not None
    assert position.state is PositionState.OPEN
    assert venue.market_closes() == []  # no market close on a price that cannot be trusted
    assert venue.store.events.of_kind("price.implausible")  # the glitch is named, as a WARNING
    # The venue (WEEX, or the paper venue on the REST price) judged the stop on its own price and took
    # it: protected at once.
    stops = await venue.stops()
    assert len(stops) == 1
    assert stops[0] < PRICE
    assert not venue.store.events.of_kind("position.unprotected")
    after = venue.store.positions.get(position_id)
    assert after is not None
    assert after.state is PositionState.OPEN
    assert after.sl_price == stops[0]


async def test_a_stop_refused_on_a_plausible_price_still_closes_at_market(venue: Venue) -> None:
    """The guard's other half: the price really is past the stop, so the position must not stay open."""
    position_id = await venue.open_long_without_a_stop()
    crashed = PRICE * Decimal("0.95")  # 5 % down: past any default stop, and true on every source
    venue.fake.set_price(BTC, crashed, low=crashed, high=crashed)
    venue.push(crashed)

    await venue.monitor.tick()

    assert await venue.stops() == []
    assert len(venue.market_closes()) == 1
    assert not venue.store.events.of_kind("protection.deferred")
    position = venue.store.positions.get(position_id)
    assert position is not None
    assert position.state is not PositionState.OPEN


async def test_a_10x_low_push_fakes_no_loss_in_the_marks(venue: Venue) -> None:
    """The position's unrealised PnL and the account's equity (what the kill switch and the daily loss
    limit read) stay on the venue's own price: a glitch fakes no drawdown, in paper as in live."""
    await venue.open_long_without_a_stop()
    before = await venue.exchange.balance()
    venue.push(PRICE / 10)
    (position,) = [p for p in await venue.exchange.positions() if p.symbol == BTC]
    after = await venue.exchange.balance()
    loss_if_believed = position.size * PRICE * Decimal("0.9")
    assert abs(position.unrealized_pnl) < loss_if_believed / 100
    assert abs(after.equity - before.equity) < loss_if_believed / 100

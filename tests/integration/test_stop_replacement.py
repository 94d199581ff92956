"""A stripped stop is re-placed on the venue's tick in every mode, never closed at market.

Live mode runs the WEEX client against the fake WEEX over HTTP; paper mode the paper venue over WEEX
public prices served by the fake; demo mode the synthetic market. Each starts from a fresh database: the
monitor's start-up tick loads the venue's contract precision, so the re-placed stop is on its tick.
BTC (tick 0.1) makes an unrounded stop fail for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import OrderKind, OrderState, PositionState, Side
from smt_engine.exchange.base import Exchange, OrderRequest
from smt_engine.exchange.factory import make_exchange
from smt_engine.secrets import SecretName, SecretStore
from smt_engine.store import Store
from smt_engine.trading.execution import Executor
from smt_engine.trading.monitor import Monitor
from smt_engine.trading.orders import advance_order, move_position
from tests.fakes.weex_server import FakeWeex

T0 = datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
BTC = "BTCUSDT"


class Venue:
    def __init__(self, mode: str, tmp: Path, clock: SimulatedClock, fake: FakeWeex) -> None:
        self.mode, self.fake, self.clock = mode, fake, clock
        self.settings = Settings.model_validate(
            {
                "engine": {"mode": mode, "database": str(tmp / "smt.db")},
                "exchange": {"base_url": fake.base_url},
                "pairs": {"tier1": ["BTC"], "tier2": []},
            }
        )
        self.store = Store.open(tmp / "smt.db")
        self.exchange: Exchange = make_exchange(
            self.settings, self.store, clock, SecretStore(env=_keys(fake), use_keyring=False)
        )
        self.executor = Executor(self.exchange, self.store, clock, self.settings)
        self.monitor = Monitor(self.settings, self.store, clock, self.exchange, self.executor, None)

    async def open_unprotected_long(self) -> None:
        """A long opened outside this engine: in live mode on WEEX itself, so the database learns nothing."""
        request = OrderRequest(BTC, Side.LONG, Decimal("0.01"), "outside-entry-1")
        if self.mode == "live":
            self.fake.call(self.fake.venue.set_leverage(BTC, 10, "cross"))
            self.fake.call(self.fake.venue.place_order(request))
            return
        await self.exchange.set_leverage(BTC, 10, "cross")
        await self.exchange.place_order(request)

    async def stops(self) -> list[Decimal]:
        return [a.trigger_price for a in await self.exchange.open_algo_orders(BTC) if a.kind == "sl"]


def _keys(fake: FakeWeex) -> dict[str, str]:
    """The fake venue's API keys, as the live client reads them from the environment."""
    values = {
        SecretName.WEEX_API_KEY: fake.api_key,
        SecretName.WEEX_API_SECRET: fake.secret,
        SecretName.WEEX_API_PASSPHRASE: fake.passphrase,
    }
    return {name.env_var: value for name, value in values.items()}


@pytest.fixture(params=["live", "paper", "demo"])
async def venue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Venue]:
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={BTC: Decimal("95123.4")}) as fake:
        v = Venue(request.param, tmp_path, clock, fake)
        yield v
        await v.exchange.aclose()
        v.store.close()


async def test_the_start_up_tick_loads_the_venues_precision_before_any_position(venue: Venue) -> None:
    assert venue.store.contracts.load(BTC) is None, "a fresh database knows no precision yet"
    report = await venue.monitor.tick(startup=True)
    assert report.ok, report.error
    loaded = venue.store.contracts.load(BTC)
    assert loaded is not None
    assert (loaded[0].tick_size, loaded[0].step_size) == (Decimal("0.1"), Decimal("0.0001"))


async def test_a_restart_inside_the_cache_lifetime_reloads_the_precision_the_venue_changed(
    tmp_path: Path,
) -> None:
    """Live only: the paper and demo venues keep no cache, their table is the venue. The WEEX client
    caches exchangeInfo in the store for six hours, which must never reach the engine's start-up."""
    clock = SimulatedClock(T0)
    with FakeWeex(clock=clock, prices={BTC: Decimal("95123.4")}) as fake:
        first = Venue("live", tmp_path, clock, fake)
        assert (await first.monitor.tick(startup=True)).ok
        await first.exchange.aclose()
        first.store.close()
        changed = replace(fake.venue.table[BTC], tick_size=Decimal(1), step_size=Decimal("0.001"))
        changed = replace(changed, min_size=max(changed.min_size, changed.step_size))
        fake.venue.table[BTC] = changed  # WEEX re-tiered BTC while the engine was down
        await clock.advance(timedelta(hours=1).total_seconds())
        second = Venue("live", tmp_path, clock, fake)
        assert (await second.monitor.tick(startup=True)).ok
        assert second.store.contracts.load(BTC) == (changed, clock.now())
        assert fake.counts["GET /capi/v3/market/exchangeInfo"] == 2
        await second.exchange.aclose()
        second.store.close()


async def test_a_stripped_stop_is_re_placed_on_the_tick_not_closed(venue: Venue) -> None:
    await venue.open_unprotected_long()
    assert await venue.stops() == []
    assert venue.store.contracts.load(BTC) is None, "a fresh database knows no precision yet"
    report = await venue.monitor.tick(startup=True)
    assert report.ok, report.error
    position = venue.store.positions.open_for(BTC, Side.LONG)
    assert position is not None
    assert position.state is PositionState.OPEN
    unrounded = venue.monitor.guard.default_stop(position)
    assert unrounded % Decimal("0.1") != 0, "the test needs a stop that is off the tick"
    stops = await venue.stops()
    # On the tick, rounded toward the entry (never more risk than planned).
    assert len(stops) == 1
    assert stops[0] % Decimal("0.1") == 0
    assert unrounded < stops[0] < unrounded + Decimal("0.1")
    assert report.stops_placed == [position.id]
    assert not [o for o in venue.store.orders.select() if o.kind is OrderKind.CLOSE]


async def test_a_stop_refused_for_stale_precision_is_corrected_and_re_sent_once(venue: Venue) -> None:
    await venue.open_unprotected_long()
    await venue.monitor.tick(startup=True)  # adopts, loads precision, places the stop
    position = venue.store.positions.open_for(BTC, Side.LONG)
    assert position is not None
    assert position.id is not None
    adopted = [e for e in venue.store.events.of_kind("position.open") if e.position_id == position.id]
    assert len(adopted) == 1
    assert adopted[0].data["actor"] == "monitor"
    for algo in await venue.exchange.open_algo_orders(BTC):
        await venue.exchange.cancel_algo_order(BTC, algo.order_id)  # stripped
    loaded = venue.store.contracts.load(BTC)
    assert loaded is not None
    venue.store.contracts.save(replace(loaded[0], tick_size=Decimal("0.001")), T0)  # stale precision
    venue.store.positions.update(position.id, sl_price=Decimal("93220.9321"))
    report = await venue.monitor.tick()
    assert report.stops_placed == [position.id]
    assert await venue.stops() == [Decimal("93221.0")]
    legs = [o for o in venue.store.orders.for_position(position.id) if o.kind is OrderKind.SL]
    assert [o.state for o in legs][-2:] == [OrderState.REJECTED, OrderState.SUBMITTED]
    assert venue.store.events.of_kind("protection.sl_corrected")
    still = venue.store.positions.get(position.id)
    assert still is not None
    assert still.state is PositionState.OPEN


async def test_a_position_whose_close_order_ended_unfilled_is_open_again(venue: Venue) -> None:
    await venue.open_unprotected_long()
    await venue.monitor.tick(startup=True)
    position = venue.store.positions.open_for(BTC, Side.LONG)
    assert position is not None
    assert position.id is not None
    move_position(venue.store, position.id, PositionState.CLOSING, actor="test", message="closing", at=T0)
    order = venue.executor.desk.new_order(
        "close-that-never-filled",
        BTC,
        Side.LONG,
        OrderKind.CLOSE,
        position.size,
        proposal_id=None,
        position_id=position.id,
    )
    advance_order(venue.store, order, OrderState.REJECTED, actor="test", reason="venue refused", at=T0)
    await venue.monitor.tick()
    reopened = venue.store.positions.get(position.id)
    assert reopened is not None
    assert reopened.state is PositionState.OPEN
    assert venue.store.events.of_kind("position.open")[0].position_id == position.id

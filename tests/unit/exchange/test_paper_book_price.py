"""The paper venue fills at the pushed price while it is plausible, at the REST price when it is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.market import ManualMarket
from smt_engine.exchange.market.streamed import StreamedMarket
from smt_engine.exchange.paper.book_price import book_price
from smt_engine.streams import StreamPrices

T0 = datetime(2026, 1, 14, 8, 0, 30, tzinfo=UTC)


async def test_a_glitching_push_is_replaced_by_the_rest_price() -> None:
    clock = SimulatedClock(T0)
    rest = ManualMarket(clock, {"ETHUSDT": D("3000")})
    prices = StreamPrices()
    market = StreamedMarket(rest, prices, clock)
    prices.update("ETHUSDT", D("3001.5"), D("3001.5"), T0)
    assert await book_price(market, "ETHUSDT", clock) == D("3001.5")  # a live, plausible push
    prices.update("ETHUSDT", D("300"), D("300"), T0)
    assert await book_price(market, "ETHUSDT", clock) == D("3000")  # 10x low: the venue's own price
    prices.update("ETHUSDT", D("3001.5"), D("3001.5"), T0 - timedelta(seconds=60), arrived=T0)
    assert await book_price(market, "ETHUSDT", clock) == D("3000")  # a minute old by its own stamp


async def test_a_market_without_a_push_is_taken_as_it_is() -> None:
    clock = SimulatedClock(T0)
    assert await book_price(ManualMarket(clock, {"ETHUSDT": D("3000")}), "ETHUSDT", clock) == D("3000")

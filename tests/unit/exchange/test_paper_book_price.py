"""The paper venue fills at the pushed price while it is plausible, at the REST price when it is not."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.exchange.market import ManualMarket
from smt_engine.exchange.market.plausibility import PriceRule
from smt_engine.exchange.market.streamed import StreamedMarket, StreamPrices
from smt_engine.exchange.paper.book_price import BookPrice

T0 = datetime(2026, 1, 14, 8, 0, 30, tzinfo=UTC)
RULE = PriceRule()


async def test_a_glitching_push_is_replaced_by_the_rest_price() -> None:
    clock = SimulatedClock(T0)
    rest = ManualMarket(clock, {"ETHUSDT": D("3000")})
    prices = StreamPrices()
    market = StreamedMarket(rest, prices, clock)
    prices.update("ETHUSDT", D("3001.5"), D("3001.5"), T0)
    assert await BookPrice(market, clock, RULE)("ETHUSDT") == D("3001.5")  # a live, plausible push
    prices.update("ETHUSDT", D("300"), D("300"), T0)
    assert await BookPrice(market, clock, RULE)("ETHUSDT") == D("3000")  # 10x low: the venue's own price
    prices.update("ETHUSDT", D("3001.5"), D("3001.5"), T0 - timedelta(seconds=60), arrived=T0)
    assert await BookPrice(market, clock, RULE)("ETHUSDT") == D("3000")  # a minute old by its own stamp


async def test_a_market_without_a_push_is_taken_as_it_is() -> None:
    clock = SimulatedClock(T0)
    assert await BookPrice(ManualMarket(clock, {"ETHUSDT": D("3000")}), clock, RULE)("ETHUSDT") == D("3000")


async def test_the_configured_band_decides_not_the_default() -> None:
    """``risk.price_band_pct`` reaches the paper venue: a push 3 % off passes a 5 % band, not a 1 % one."""
    clock = SimulatedClock(T0)
    rest = ManualMarket(clock, {"ETHUSDT": D("3000")})
    prices = StreamPrices()
    market = StreamedMarket(rest, prices, clock)
    prices.update("ETHUSDT", D("3090"), D("3090"), T0)
    assert await BookPrice(market, clock, PriceRule(band_pct=D(5)))("ETHUSDT") == D("3090")
    assert await BookPrice(market, clock, PriceRule(band_pct=D(1)))("ETHUSDT") == D("3000")


async def test_a_refused_push_is_named_once_per_frame(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock(T0)
    prices = StreamPrices()
    book = BookPrice(StreamedMarket(ManualMarket(clock, {"ETHUSDT": D("3000")}), prices, clock), clock, RULE)
    prices.update("ETHUSDT", D("300"), D("300"), T0)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert await book("ETHUSDT") == D("3000")
        prices.update("ETHUSDT", D("301"), D("301"), T0 + timedelta(seconds=1))
        assert await book("ETHUSDT") == D("3000")
    named = [r for r in caplog.records if getattr(r, "event", None) == "price.implausible"]
    assert len(named) == 2
    assert "300" in named[0].getMessage()
    assert "REST price 3000" in named[0].getMessage()


async def test_unreadable_klines_fall_back_to_the_rest_price_not_an_error() -> None:
    """Without a reference the push cannot be judged; the paper venue takes the REST price, as WEEX takes
    its own, and a paper close does not fail for want of a chart."""
    from smt_engine.domain import Candle
    from smt_engine.exchange.base import ExchangeUnavailable

    class NoKlines(ManualMarket):
        async def candles(self, symbol: str, interval: str, limit: int) -> list[Candle]:
            raise ExchangeUnavailable("klines: HTTP 503")

    clock = SimulatedClock(T0)
    prices = StreamPrices()
    book = BookPrice(StreamedMarket(NoKlines(clock, {"ETHUSDT": D("3000")}), prices, clock), clock, RULE)
    prices.update("ETHUSDT", D("3001.5"), D("3001.5"), T0)
    assert await book("ETHUSDT") == D("3000")


async def test_a_refused_push_is_recorded_with_its_price_reference_reason_and_stamp(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The ``price.implausible`` event names what was refused and what the paper venue used instead."""
    clock = SimulatedClock(T0)
    prices = StreamPrices()
    book = BookPrice(StreamedMarket(ManualMarket(clock, {"ETHUSDT": D("3000")}), prices, clock), clock, RULE)
    prices.update("ETHUSDT", D("NaN"), D("NaN"), T0)
    with caplog.at_level(logging.WARNING):
        assert await book("ETHUSDT") == D("3000")
        prices.update("ETHUSDT", D("300.50"), D("300.50"), T0 + timedelta(seconds=1))
        assert await book("ETHUSDT") == D("3000")
    nan, low = [r for r in caplog.records if getattr(r, "event", None) == "price.implausible"]
    assert nan.levelno == logging.WARNING
    assert nan.getMessage() == (
        "ETHUSDT: pushed price NaN refused (not a finite number); the paper venue uses the REST price 3000"
    )
    assert nan.__dict__["data"] == {
        "pair": "ETHUSDT",
        "price": "NaN",
        "reference": "3000",
        "reason": "not a finite number",
        "stamped": "2026-01-14T08:00:30+00:00",
    }
    assert low.getMessage().startswith("ETHUSDT: pushed price 300.5 refused (")
    assert low.__dict__["data"]["price"] == "300.50"
    assert low.__dict__["data"]["stamped"] == "2026-01-14T08:00:31+00:00"


async def test_each_symbols_refused_push_is_named_on_its_own(caplog: pytest.LogCaptureFixture) -> None:
    clock = SimulatedClock(T0)
    prices = StreamPrices()
    rest = ManualMarket(clock, {"ETHUSDT": D("3000"), "BTCUSDT": D("90000")})
    book = BookPrice(StreamedMarket(rest, prices, clock), clock, RULE)
    prices.update("ETHUSDT", D("300"), D("300"), T0)
    prices.update("BTCUSDT", D("9000"), D("9000"), T0)
    with caplog.at_level(logging.WARNING):
        assert await book("ETHUSDT") == D("3000")
        assert await book("BTCUSDT") == D("90000")
        assert await book("ETHUSDT") == D("3000")
    named = [
        r.__dict__["data"]["pair"] for r in caplog.records if getattr(r, "event", None) == "price.implausible"
    ]
    assert named == ["ETHUSDT", "BTCUSDT"]

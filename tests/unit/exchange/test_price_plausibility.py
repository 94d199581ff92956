"""The price plausibility check: every way a price can be unfit to size money, and the fit ones pass."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import EngineState
from smt_engine.exchange.base import Balance, ExchangeError, Ticker
from smt_engine.exchange.market import ManualMarket
from smt_engine.exchange.market.plausibility import (
    ImplausiblePrice,
    PriceRule,
    implausibility,
    plausible_price,
    reference_of,
)
from smt_engine.exchange.market.streamed import StreamedMarket, StreamPrices
from smt_engine.store import Store
from smt_engine.trading.account_reader import AccountReader

T0 = datetime(2026, 1, 20, 8, 0, 30, tzinfo=UTC)
RULE = PriceRule(band_pct=D(1), max_age=timedelta(seconds=10))
REF = D("3000")


@pytest.mark.parametrize(
    ("price", "at", "reason"),
    [
        (D("300"), T0, "90.00 % away from the reference (band 1 %)"),
        (D("2940"), T0, "2.00 % away from the reference (band 1 %)"),
        (D("NaN"), T0, "not a finite number"),
        (D("Infinity"), T0, "not a finite number"),
        (D("-Infinity"), T0, "not a finite number"),
        (D("1e-30"), T0, "100.00 % away from the reference (band 1 %)"),
        (D("0"), T0, "not positive"),
        (D("-3000"), T0, "not positive"),
        (D("3000"), T0 - timedelta(seconds=60), "60s old by its own timestamp (limit 10s)"),
        (D("3000"), T0 + timedelta(seconds=60), "stamped 60s in the future"),
        (D("1e9999999"), T0, "not comparable with the reference"),  # past the decimal context's range
        (D("3e10"), T0, "1.00E+9 % away from the reference (band 1 %)"),
    ],
)
def test_an_unfit_price_is_refused_with_its_reason(price: D, at: datetime, reason: str) -> None:
    assert implausibility(price, at, REF, T0, RULE) == reason


@pytest.mark.parametrize(
    ("price", "at"),
    [
        (D("3000"), T0),
        (D("2970.01"), T0),  # 0.9997 % low: inside a 1 % band
        (D("3029.99"), T0 - timedelta(seconds=10)),  # exactly the age limit
        (D("3000"), T0 + timedelta(seconds=2)),  # a venue clock a little ahead of ours
    ],
)
def test_a_fit_price_passes(price: D, at: datetime) -> None:
    assert implausibility(price, at, REF, T0, RULE) is None


def test_without_a_usable_reference_nothing_is_sized() -> None:
    for reference in (None, D("NaN"), D("0")):
        assert (
            implausibility(D("3000"), T0, reference, T0, RULE)
            == "no usable reference price to check it against"
        )


def test_the_band_is_the_configured_one() -> None:
    assert implausibility(D("2940"), T0, REF, T0, PriceRule(band_pct=D(3))) is None
    settings = Settings.model_validate({"risk": {"price_band_pct": 3, "price_max_age": "30s"}})
    assert PriceRule.of(settings) == PriceRule(D(3), timedelta(seconds=30))
    assert PriceRule.of(Settings()) == RULE


def test_the_reference_is_the_newest_bar_if_recent() -> None:
    market = ManualMarket(SimulatedClock(T0), {"ETHUSDT": REF})
    assert reference_of([], T0) is None
    bars = __import__("asyncio").run(market.candles("ETHUSDT", "1m", 2))
    assert reference_of(bars, T0) == REF
    assert reference_of(bars, T0 + timedelta(minutes=6)) is None


class _Glitching:
    """A venue whose ticker glitches while its klines stay true."""

    def __init__(self, clock: SimulatedClock, ticker: Ticker) -> None:
        self.rest = ManualMarket(clock, {"ETHUSDT": REF})
        self.pushed = ticker

    async def ticker(self, symbol: str) -> Ticker:
        return self.pushed

    async def candles(self, symbol: str, interval: str, limit: int) -> list[object]:
        return await self.rest.candles(symbol, interval, limit)  # type: ignore[return-value]


async def test_a_refused_price_raises_an_exchange_error_and_records_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SimulatedClock(T0)
    market = _Glitching(clock, Ticker("ETHUSDT", D("300"), D("300"), T0))
    with caplog.at_level(logging.WARNING), pytest.raises(ImplausiblePrice) as refused:
        await plausible_price(market, "ETHUSDT", clock, RULE, cycle_id="c1")  # type: ignore[arg-type]
    assert isinstance(refused.value, ExchangeError)  # every caller's "this pair's data is unusable"
    assert (refused.value.symbol, refused.value.price, refused.value.reference) == ("ETHUSDT", D("300"), REF)
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "price.implausible"]
    assert record.levelno == logging.WARNING
    assert record.data == {  # type: ignore[attr-defined]
        "pair": "ETHUSDT",
        "price": "300",
        "reference": "3000",
        "reason": "90.00 % away from the reference (band 1 %)",
        "stamped": T0.isoformat(),
    }
    assert record.cycle_id == "c1"  # type: ignore[attr-defined]
    market.pushed = Ticker("ETHUSDT", D("3001"), D("3001"), T0)
    assert await plausible_price(market, "ETHUSDT", clock, RULE) == D("3001")  # type: ignore[arg-type]


async def test_a_pushed_frame_that_arrives_old_is_judged_by_its_own_time() -> None:
    """The stream's freshness counts from arrival (a quiet stream falls back to REST), but the price
    carries the venue's stamp: a frame that arrives 60 s late is refused, not used as fresh."""
    clock = SimulatedClock(T0)
    rest = ManualMarket(clock, {"ETHUSDT": REF})
    prices = StreamPrices()
    market = StreamedMarket(rest, prices, clock)
    prices.update("ETHUSDT", D("3001"), D("3001"), T0 - timedelta(seconds=60), arrived=T0)
    with pytest.raises(ImplausiblePrice, match="60s old by its own timestamp"):
        await plausible_price(market, "ETHUSDT", clock, RULE)
    prices.update("ETHUSDT", D("3001"), D("3001"), T0, arrived=T0)
    assert await plausible_price(market, "ETHUSDT", clock, RULE) == D("3001")
    await clock.advance(11)  # the stream went quiet: REST answers, stamped now
    assert await plausible_price(market, "ETHUSDT", clock, RULE) == REF


def test_config_refuses_an_unusable_price_age() -> None:
    with pytest.raises(ValueError, match=r"risk\.price_max_age = 0s: must be between 1s and 5m"):
        Settings.model_validate({"risk": {"price_max_age": "0s"}})
    with pytest.raises(ValueError, match="price_band_pct"):
        Settings.model_validate({"risk": {"price_band_pct": 0}})


class _Venue(_Glitching):
    """Enough of a venue for an entry's read (an approval, an operator entry, `smt propose`)."""

    async def contracts(self, symbols: list[str]) -> dict[str, object]:
        return {}

    async def balance(self) -> Balance:
        return Balance("USDT", D(1000), D(900), D(0), D(0))

    async def positions(self) -> list[object]:
        return []


async def test_an_entry_reads_no_implausible_price(store: Store) -> None:
    clock = SimulatedClock(T0)
    venue = _Venue(clock, Ticker("ETHUSDT", D("300"), D("300"), T0))
    reader = AccountReader(Settings(), store, clock, venue)  # type: ignore[arg-type]
    with pytest.raises(ImplausiblePrice):  # refused, never sized on 300
        await reader.for_symbol("ETHUSDT", EngineState.RUNNING)
    venue.pushed = Ticker("ETHUSDT", D("3001"), D("3001"), T0)
    read = await reader.for_symbol("ETHUSDT", EngineState.RUNNING)
    assert read.price == D("3001")
    assert read.account.prices == {"ETHUSDT": D("3001")}
    assert read.account.available == D(900)

"""The re-read of prices before proposing (``Pipeline._prices_now``), value by value: a pair the analyst
wants to trade is proposed at the price read now, and a price that cannot be re-read drops the pair for
the cycle instead of leaving the older first read to size money (README, "No price sizes money unchecked").
"""

from __future__ import annotations

import logging
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from smt_engine.analyst.base import AnalysisOutcome
from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, Pair, Tier
from smt_engine.exchange.base import Exchange, ExchangeUnavailable
from smt_engine.exchange.market.plausibility import ImplausiblePrice, PriceRule
from smt_engine.pipeline import Pipeline
from smt_engine.trading import account_reader
from tests.unit.trading.conftest import NOW, make_settings


def wants(action: Action) -> AnalysisOutcome:
    return cast(AnalysisOutcome, SimpleNamespace(decision=SimpleNamespace(action=action)))


async def test_each_pair_is_proposed_at_the_price_read_now_or_not_at_all(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    clock = SimulatedClock(NOW)
    exchange = cast(Exchange, object())
    none: Any = None  # the store, the analyst, the book, the executor, the AI log: not used here
    pipe = Pipeline(settings, none, clock, exchange, none, none, none, none)
    asked: list[tuple[object, str, object, PriceRule]] = []

    async def reread(market: object, symbol: str, at: object, rule: PriceRule, **_: Any) -> Decimal:
        asked.append((market, symbol, at, rule))
        if symbol == "BTCUSDT":
            raise ExchangeUnavailable("klines answered 503")
        if symbol == "SOLUSDT":
            raise ImplausiblePrice(symbol, Decimal("1"), Decimal("150"), "far from the reference")
        return Decimal("2010.5")

    monkeypatch.setattr(account_reader, "plausible_price", reread)
    first = {
        "ETHUSDT": Decimal("2000"),
        "BTCUSDT": Decimal("100000"),
        "SOLUSDT": Decimal("150"),
        "DOGEUSDT": Decimal("0.1"),
    }
    outcomes = [
        (Pair("ETH", Tier.ONE), wants(Action.LONG)),
        (Pair("BTC", Tier.ONE), wants(Action.SHORT)),
        (Pair("SOL", Tier.TWO), wants(Action.LONG)),
        (Pair("DOGE", Tier.TWO), wants(Action.WAIT)),  # not re-read: nothing is proposed on it
        (Pair("XRP", Tier.TWO), wants(Action.LONG)),  # no first read: not re-read either
    ]
    with caplog.at_level(logging.INFO, logger="smt_engine.pipeline"):
        fresh = await pipe._prices_now(outcomes, first)

    assert fresh == {"ETHUSDT": Decimal("2010.5"), "DOGEUSDT": Decimal("0.1")}
    assert first["BTCUSDT"] == Decimal("100000")  # the caller's map is left as it was
    rule = PriceRule.of(settings)
    assert asked == [
        (exchange, "ETHUSDT", clock, rule),
        (exchange, "BTCUSDT", clock, rule),
        (exchange, "SOLUSDT", clock, rule),
    ]
    records = [r for r in caplog.records if r.name == "smt_engine.pipeline"]
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (
            logging.WARNING,
            "BTCUSDT: price not readable before proposing (klines answered 503): the pair waits this cycle",
        )
    ]
    (record,) = records
    assert record.__dict__["event"] == "price.unreadable"
    assert record.__dict__["data"] == {"pair": "BTCUSDT"}

"""The cycle's market read (``Pipeline._market``) and the re-read before proposing
(``Pipeline._prices_now``), value by value: a pair is analysed only on a checked price with its candles,
each price stamped when it was read, and one unreadable pair never stops the others (README, "No price
sizes money unchecked")."""

from __future__ import annotations

import logging
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from smt_engine.analyst.base import AnalysisOutcome
from smt_engine.clock import SimulatedClock
from smt_engine.domain import Action, Contract, Pair, Tier
from smt_engine.exchange.base import Exchange, ExchangeError, ExchangeUnavailable
from smt_engine.exchange.market.plausibility import ImplausiblePrice, PriceRule
from smt_engine.pipeline import Pipeline
from smt_engine.trading import account_reader
from tests.unit.trading.conftest import CONTRACTS, NOW, make_settings


class Venue:
    """Contracts and candles as the venue gives them; ``no_candles`` names the symbols whose candles fail."""

    def __init__(self, clock: SimulatedClock, no_candles: frozenset[str] = frozenset()) -> None:
        self.clock = clock
        self.no_candles = no_candles
        self.asked_contracts: list[list[str]] = []
        self.asked_candles: list[tuple[str, str, int]] = []

    async def contracts(self, symbols: list[str]) -> dict[str, Contract]:
        self.asked_contracts.append(symbols)
        return {s: c for s, c in CONTRACTS.items() if s in symbols}

    async def candles(self, symbol: str, interval: str, count: int) -> list[str]:
        self.asked_candles.append((symbol, interval, count))
        await self.clock.advance(1)  # the candles come a second after the price
        if symbol in self.no_candles:
            raise ExchangeUnavailable(f"{symbol} klines answered 503")
        return [f"{symbol} bar"]


def pipeline(clock: SimulatedClock, venue: Venue, *tier2: str) -> Pipeline:
    settings = make_settings(pairs={"tier1": ["ETH", "BTC"], "tier2": list(tier2)})
    none: Any = None  # the store, the analyst, the book, the executor, the AI log: not used here
    return Pipeline(settings, none, clock, cast(Exchange, venue), none, none, none, none)


def prices_from(
    monkeypatch: pytest.MonkeyPatch, clock: SimulatedClock, answers: dict[str, Decimal | Exception]
) -> list[str]:
    """Each symbol's checked price (or its refusal), read a second after it is asked for."""
    asked: list[str] = []

    async def read(market: object, symbol: str, at: object, rule: PriceRule, **_: Any) -> Decimal:
        asked.append(symbol)
        await clock.advance(1)
        answer = answers[symbol]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(account_reader, "plausible_price", read)
    return asked


async def test_a_pair_is_analysed_only_on_its_checked_price_and_its_candles_stamped_when_the_price_came(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = SimulatedClock(NOW)
    venue = Venue(clock, no_candles=frozenset({"DOGEUSDT"}))
    pipe = pipeline(clock, venue, "SOL", "DOGE", "XRP")
    asked = prices_from(
        monkeypatch,
        clock,
        {
            "ETHUSDT": Decimal(2000),
            "BTCUSDT": ExchangeUnavailable("ticker answered 503"),
            "SOLUSDT": ImplausiblePrice("SOLUSDT", Decimal(1), Decimal(150), "far from the reference"),
            "DOGEUSDT": Decimal("0.1"),
            "XRPUSDT": Decimal("0.5"),
        },
    )
    with caplog.at_level(logging.DEBUG, logger="smt_engine.pipeline"):
        contracts, prices, candles, read_at = await pipe._market()

    assert venue.asked_contracts == [["ETHUSDT", "BTCUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT"]]
    assert contracts == {s: CONTRACTS[s] for s in ("ETHUSDT", "BTCUSDT", "SOLUSDT", "DOGEUSDT")}
    # one failure stops no other pair
    assert asked == ["ETHUSDT", "BTCUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT"]
    assert venue.asked_candles == [("ETHUSDT", "1h", 48), ("DOGEUSDT", "1h", 48), ("XRPUSDT", "1h", 48)]
    # both or neither: DOGE's price is dropped with its candles
    assert prices == {"ETHUSDT": Decimal(2000), "XRPUSDT": Decimal("0.5")}
    assert candles == {"ETHUSDT": ["ETHUSDT bar"], "XRPUSDT": ["XRPUSDT bar"]}
    # stamped when the price came, not when the candles did: each read takes a second, so ETH's price at
    # +1 s (its candles +2), BTC's +3, SOL's +4, DOGE's +5 (its candles +6), XRP's +7
    assert read_at == {"ETHUSDT": NOW.replace(second=1), "XRPUSDT": NOW.replace(second=7)}
    assert [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "smt_engine.pipeline"] == [
        (
            logging.WARNING,
            "BTCUSDT: market data unreadable (ticker answered 503): no analysis for it this cycle",
        ),
        (
            logging.WARNING,
            "DOGEUSDT: market data unreadable (DOGEUSDT klines answered 503): no analysis for it this cycle",
        ),
    ]


async def test_a_market_read_that_found_no_price_at_all_fails_the_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SimulatedClock(NOW)
    pipe = pipeline(clock, Venue(clock))
    prices_from(
        monkeypatch,
        clock,
        {"ETHUSDT": ExchangeUnavailable("down"), "BTCUSDT": ExchangeUnavailable("down")},
    )
    with pytest.raises(ExchangeError) as failed:
        await pipe._market()
    assert str(failed.value) == "market data unreadable for all 2 pairs: is the exchange reachable?"


def wants(action: Action) -> AnalysisOutcome:
    return cast(AnalysisOutcome, SimpleNamespace(decision=SimpleNamespace(action=action)))


async def test_a_pair_after_one_that_waits_is_still_read_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimulatedClock(NOW)
    pipe = pipeline(clock, Venue(clock), "SOL")
    asked = prices_from(monkeypatch, clock, {"SOLUSDT": Decimal(151), "BTCUSDT": Decimal(100_500)})
    first = {"ETHUSDT": Decimal(2000), "BTCUSDT": Decimal(100_000), "SOLUSDT": Decimal(150)}
    outcomes = [
        (Pair("ETH", Tier.ONE), wants(Action.WAIT)),
        (Pair("SOL", Tier.TWO), wants(Action.SHORT)),
        (Pair("BTC", Tier.ONE), wants(Action.LONG)),
    ]
    fresh = await pipe._prices_now(outcomes, first)
    assert asked == ["SOLUSDT", "BTCUSDT"]
    assert fresh == {"ETHUSDT": Decimal(2000), "BTCUSDT": Decimal(100_500), "SOLUSDT": Decimal(151)}

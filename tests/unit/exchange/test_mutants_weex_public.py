"""WEEX's public side, value by value (docs/benchmarks.md, mutation testing): precision comes from the
venue, a cached copy only inside its lifetime and never for the load of every contract; a rejection that
quotes the new step or tick corrects it; tickers, the pre-flight price and klines are read as WEEX
documents them.
Against the scripted WEEX of ``test_weex_as_documented`` (its documented answer shapes)."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Contract
from smt_engine.exchange.base import ExchangeUnavailable, InvalidOrder
from smt_engine.exchange.weex import WeexClient
from smt_engine.store import Store
from tests.unit.exchange.test_preflight_price import pushed, scripted
from tests.unit.exchange.test_weex_as_documented import CONTRACT, NOW, Venue, minute_bar

INFO = "/capi/v3/market/exchangeInfo"
ETH = CONTRACT | {"symbol": "ETHUSDT", "pricePrecision": 2, "quantityPrecision": 3, "contractVal": "0.001"}
BTC = Contract("BTCUSDT", D("0.0001"), D("0.1"), D("0.0001"), None, D(0), 125)
"""``CONTRACT`` as the client reads it."""


def reads(venue: Venue, path: str = INFO) -> int:
    return sum(1 for r in venue.seen if r.url.path == path)


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the public layer logged, word for word."""
    return [r.getMessage() for r in caplog.records if r.name == "smt_engine.exchange.weex.public"]


def on_clock(venue: Venue, **kw: Any) -> tuple[WeexClient, SimulatedClock]:
    clock = SimulatedClock(NOW)
    return venue.client(clock=clock, wall_ms=lambda: int(clock.now().timestamp() * 1000), **kw), clock


# ------------------------------------------------------------------ contracts


async def test_a_cached_contract_serves_until_its_lifetime_is_up_and_then_the_venue_is_asked() -> None:
    venue = Venue({"GET " + INFO: {"symbols": [CONTRACT, ETH]}})
    client, clock = on_clock(venue, contracts_ttl=timedelta(seconds=60))
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": BTC}
    await clock.advance(59)
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": BTC}
    assert reads(venue) == 1, "inside its lifetime the cached copy serves"
    await clock.advance(1)
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": BTC}
    assert reads(venue) == 2, "a copy as old as its lifetime is read again"
    assert [r.url.path for r in venue.seen] == [INFO, INFO], "public, so unsigned: no clock sync first"
    assert all("ACCESS-SIGN" not in r.headers for r in venue.seen)
    await client.aclose()


async def test_the_load_of_every_contract_reads_the_venue_past_the_cache_and_keeps_what_it_read() -> None:
    venue = Venue({"GET " + INFO: {"symbols": [CONTRACT]}})
    client, _ = on_clock(venue)
    await client.contracts(["BTCUSDT"])
    venue.routes["GET " + INFO] = {"symbols": [CONTRACT | {"contractVal": "0.001"}]}
    every = await client.contracts(None)
    assert reads(venue) == 2, "the start-up load is never served from the cache"
    assert every["BTCUSDT"].step_size == D("0.001")
    assert (await client.contracts(["BTCUSDT"]))["BTCUSDT"].step_size == D("0.001")
    assert reads(venue) == 2, "what it read is the cached copy from then on"
    await client.aclose()


async def test_only_the_symbols_asked_for_are_returned_and_every_listed_one_when_none_is_named() -> None:
    venue = Venue({"GET " + INFO: {"symbols": [ETH]}})
    client, _ = on_clock(venue)
    assert list(await client.contracts(["ETHUSDT"])) == ["ETHUSDT"]
    venue.routes["GET " + INFO] = {"symbols": [CONTRACT, ETH]}
    mixed = await client.contracts(["ETHUSDT", "BTCUSDT"])
    assert mixed["BTCUSDT"] == BTC
    assert mixed["ETHUSDT"].tick_size == D("0.01")
    assert reads(venue) == 2, "one symbol not cached is one read"
    assert sorted(await client.contracts()) == ["BTCUSDT", "ETHUSDT"]
    assert sorted(await client.contracts(None)) == ["BTCUSDT", "ETHUSDT"]
    assert reads(venue) == 4, "the whole list is always the venue's"
    await client.aclose()


async def test_every_row_read_is_cached_whether_asked_for_or_not() -> None:
    venue = Venue({"GET " + INFO: {"symbols": [CONTRACT, ETH]}})
    client, _ = on_clock(venue)
    assert list(await client.contracts(["ETHUSDT"])) == ["ETHUSDT"]
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": BTC}
    assert reads(venue) == 1
    await client.aclose()


@pytest.mark.parametrize(
    ("missing", "why"),
    [
        ("pricePrecision", "'pricePrecision'"),
        ("contractVal", "ETHUSDT: no contractVal"),
        ("maxLeverage", "'maxLeverage'"),
    ],
)
async def test_a_malformed_row_is_skipped_and_every_row_after_it_kept(
    missing: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A row without a field every documented row has (reference §3.1.1) lists no contract: an entry in
    that symbol is refused as not listed, never sized on a made-up step or leverage cap."""
    broken = {k: v for k, v in ETH.items() if k != missing}
    venue = Venue({"GET " + INFO: {"symbols": [broken, CONTRACT]}})
    client, _ = on_clock(venue)
    with caplog.at_level(logging.WARNING):
        assert await client.contracts(["ETHUSDT", "BTCUSDT"]) == {"BTCUSDT": BTC}
    assert said(caplog) == [f"exchangeInfo: skipping a malformed symbol row ({why})"]
    with pytest.raises(InvalidOrder, match=r"^ETHUSDT: not listed in WEEX exchangeInfo$"):
        await client.contract("ETHUSDT")
    await client.aclose()


@pytest.mark.parametrize("answer", [[CONTRACT], {"rows": [CONTRACT]}])
async def test_an_answer_without_a_symbols_list_lists_nothing_and_a_contract_is_refused(answer: Any) -> None:
    venue = Venue({"GET " + INFO: answer})
    client, _ = on_clock(venue)
    assert await client.contracts(["BTCUSDT"]) == {}
    with pytest.raises(InvalidOrder, match=r"^BTCUSDT: not listed in WEEX exchangeInfo$") as refused:
        await client.contract("BTCUSDT")
    assert refused.value.code == "-1121"
    await client.aclose()


async def test_a_contract_is_the_venues_row_for_that_symbol() -> None:
    client, _ = on_clock(Venue({"GET " + INFO: {"symbols": [ETH, CONTRACT]}}))
    assert await client.contract("BTCUSDT") == BTC
    await client.aclose()


async def test_what_the_venue_lists_is_kept_in_the_store_at_the_time_it_was_read(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    venue = Venue({"GET " + INFO: {"symbols": [CONTRACT]}})
    client, _ = on_clock(venue, store=store)
    await client.contracts(["BTCUSDT"])
    assert store.contracts.load("BTCUSDT") == (BTC, NOW)
    await client.aclose()


async def test_a_stored_copy_serves_a_restart_inside_its_lifetime_and_is_then_held_in_memory(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "smt.db")
    stored = Contract("BTCUSDT", D("0.001"), D("0.5"), D("0.001"))
    store.contracts.save(stored, NOW - timedelta(minutes=5))
    venue = Venue({"GET " + INFO: {"symbols": [CONTRACT]}})
    client, _ = on_clock(venue, store=store, contracts_ttl=timedelta(minutes=10))
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": stored}
    assert reads(venue) == 0
    store.contracts.save(BTC, NOW)
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": stored}, "held in memory, not read again"
    await client.aclose()


async def test_a_stored_copy_past_its_lifetime_is_read_again_from_the_venue(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    store.contracts.save(Contract("BTCUSDT", D("0.001"), D("0.5"), D("0.001")), NOW - timedelta(minutes=10))
    venue = Venue({"GET " + INFO: {"symbols": [CONTRACT]}})
    client, _ = on_clock(venue, store=store, contracts_ttl=timedelta(minutes=10))
    assert await client.contracts(["BTCUSDT"]) == {"BTCUSDT": BTC}
    assert reads(venue) == 1
    assert store.contracts.load("BTCUSDT") == (BTC, NOW)
    await client.aclose()


# ------------------------------------------------------------------ learning from a rejection


async def learned_client(store: Store | None = None, **contract: Any) -> tuple[WeexClient, SimulatedClock]:
    client, clock = on_clock(Venue({"GET " + INFO: {"symbols": [CONTRACT | contract]}}), store=store)
    await client.contracts(["BTCUSDT"])
    await clock.advance(30)
    return client, clock


async def test_a_quoted_step_corrects_the_step_and_raises_the_minimum_to_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path / "smt.db")
    client, clock = await learned_client(store)
    with caplog.at_level(logging.WARNING):
        learned = client.learn_from_rejection("BTCUSDT", "quantity must be a multiple of stepSize: 0.001")
    want = Contract("BTCUSDT", D("0.001"), D("0.1"), D("0.001"), None, D(0), 125)
    assert learned == want
    assert store.contracts.load("BTCUSDT") == (want, clock.now())
    assert await client.contract("BTCUSDT") == want
    assert said(caplog) == ["BTCUSDT: WEEX quoted step 0.001; cache updated"]
    await client.aclose()


async def test_a_quoted_step_below_the_minimum_keeps_the_minimum() -> None:
    client, _ = await learned_client(minOrderSize="0.01")
    learned = client.learn_from_rejection("BTCUSDT", "quantity must be a multiple of stepSize: 0.001")
    assert learned is not None
    assert (learned.step_size, learned.min_size, learned.tick_size) == (D("0.001"), D("0.01"), D("0.1"))
    await client.aclose()


async def test_a_quoted_tick_corrects_the_tick_alone(caplog: pytest.LogCaptureFixture) -> None:
    client, _ = await learned_client()
    with caplog.at_level(logging.WARNING):
        learned = client.learn_from_rejection("BTCUSDT", "price must be a multiple of tickSize: 0.5")
    assert learned == Contract("BTCUSDT", D("0.0001"), D("0.5"), D("0.0001"), None, D(0), 125)
    assert (await client.contract("BTCUSDT")).tick_size == D("0.5")
    assert said(caplog) == ["BTCUSDT: WEEX quoted tick 0.5; cache updated"]
    await client.aclose()


async def test_a_rejection_quoting_nothing_or_about_an_unknown_symbol_changes_nothing() -> None:
    client, _ = await learned_client()
    assert client.learn_from_rejection("BTCUSDT", "Insufficient margin") is None
    assert client.learn_from_rejection("ETHUSDT", "quantity must be a multiple of stepSize: 0.001") is None
    assert await client.contract("BTCUSDT") == BTC
    await client.aclose()


# ------------------------------------------------------------------ prices and klines


async def test_a_fresh_push_is_the_ticker_and_a_quiet_stream_falls_back_to_rest() -> None:
    venue = scripted(ticker=[{"symbol": "BTCUSDT", "lastPrice": "90000", "markPrice": "90010"}])
    client, clock = on_clock(venue)
    pushed(client, "90100")
    ticker = await client.ticker("BTCUSDT")
    assert (ticker.last, ticker.mark, ticker.at) == (D("90100"), D("90100"), NOW)
    assert reads(venue, "/capi/v3/market/ticker/24hr") == 0
    await clock.advance(3600)
    ticker = await client.ticker("BTCUSDT")
    assert (ticker.symbol, ticker.last, ticker.mark, ticker.at) == (
        "BTCUSDT",
        D("90000"),
        D("90010"),
        clock.now(),
    )
    [asked] = [r for r in venue.seen if r.url.path == "/capi/v3/market/ticker/24hr"]
    assert dict(asked.url.params) == {"symbol": "BTCUSDT"}
    assert "ACCESS-SIGN" not in asked.headers, "a public read is not signed"
    await client.aclose()


async def test_the_last_price_is_the_last_trade_not_the_mark() -> None:
    venue = scripted(ticker=[{"symbol": "BTCUSDT", "lastPrice": "90000", "markPrice": "90010"}])
    client, _ = on_clock(venue)
    assert await client.last_price("BTCUSDT") == D("90000")
    assert [dict(r.url.params) for r in venue.seen] == [{"symbol": "BTCUSDT"}]
    await client.aclose()


async def test_the_checked_price_is_a_plausible_one_or_none_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = on_clock(scripted())
    assert await client.checked_price("BTCUSDT") == D("90000")
    pushed(client, "9000")
    with caplog.at_level(logging.WARNING, logger="smt_engine.exchange.weex.public"):
        assert await client.checked_price("BTCUSDT") is None
    assert said(caplog) == [
        "BTCUSDT: no plausible price for the pre-flight check, WEEX judges: BTCUSDT: price 9000 refused"
        " (90.00 % away from the reference (band 1 %); reference 90000): the pair waits this cycle"
    ]
    await client.aclose()


async def test_klines_are_asked_as_documented_at_most_1000_and_the_newest_kept() -> None:
    bars = [minute_bar("90000"), minute_bar("90100")]
    bars[0][0] -= 60_000
    venue = scripted(klines=bars)
    client, _ = on_clock(venue)
    [candle] = await client.candles("BTCUSDT", "1m", 1)
    assert candle.close == D("90100")
    assert len(await client.candles("BTCUSDT", "1m", 5000)) == 2
    asked = [dict(r.url.params) for r in venue.seen if r.url.path == "/capi/v3/market/klines"]
    assert asked == [
        {"symbol": "BTCUSDT", "interval": "1m", "limit": "1"},
        {"symbol": "BTCUSDT", "interval": "1m", "limit": "1000"},
    ]
    assert all("ACCESS-SIGN" not in r.headers for r in venue.seen)
    await client.aclose()


async def test_an_unknown_interval_is_refused_before_weex_is_asked() -> None:
    venue = scripted()
    client, _ = on_clock(venue)
    with pytest.raises(ValueError, match="unknown interval '7m'"):
        await client.candles("BTCUSDT", "7m", 10)
    assert reads(venue, "/capi/v3/market/klines") == 0
    await client.aclose()


async def test_an_unreadable_ticker_is_an_outage() -> None:
    client, _ = on_clock(scripted(ticker={"code": "nope"}))
    with pytest.raises(ExchangeUnavailable):
        await client.ticker("BTCUSDT")
    await client.aclose()


async def test_unreadable_klines_are_an_outage_naming_the_pair() -> None:
    client, _ = on_clock(scripted(klines={"code": "nope"}))
    with pytest.raises(ExchangeUnavailable, match=r"^klines BTCUSDT: "):
        await client.candles("BTCUSDT", "1m", 10)
    await client.aclose()

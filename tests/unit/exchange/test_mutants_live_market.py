"""WEEX's public REST prices, value by value (docs/benchmarks.md, mutation testing): the ticker that prices
paper trades and the klines whose newest 1-minute bar the monitor reads are taken as WEEX documents them,
field by field; an unreadable answer is an outage, never a price. Answers come from the WEEX corpus
(``tests/contract/weex``); the venue is an in-process ``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Candle
from smt_engine.exchange.base import ExchangeUnavailable
from smt_engine.exchange.market import live
from smt_engine.exchange.market.base import to_ms
from smt_engine.exchange.market.live import (
    LiveMarket,
    candles_from_answer,
    parse_kline_rows,
    parse_ticker,
    ticker_from_answer,
)
from tests.contract.weex.corpus import example, row

NOW = datetime(2026, 4, 9, 12, 0, tzinfo=UTC)
TICKER = "/capi/v3/market/ticker/24hr"
KLINES = "/capi/v3/market/klines"
HISTORY = "/capi/v3/market/historyKlines"
ETH = row(example("rest", "ticker_24hr"))
"""WEEX's documented ticker row: ETHUSDT, last 2081.80, mark 2081.8."""
BTC = ETH | {"symbol": "BTCUSDT", "lastPrice": "90000.5", "markPrice": "90010.5"}


def bar(at: datetime, o: str, h: str, low: str, c: str, v: str) -> list[Any]:
    """A kline row in WEEX's documented shape (ccxt's fetchOHLCV fixture, Weex.Net's ``WeexKline``): open
    time, OHLC, volume, close time, quote volume, trades, taker base and quote."""
    opened = to_ms(at)
    return [opened, o, h, low, c, v, opened + 59_999, "0", 1, "0", "0"]


def candle(at: datetime, o: str, h: str, low: str, c: str, v: str) -> Candle:
    return Candle(at, D(o), D(h), D(low), D(c), D(v))


def minute(n: int) -> datetime:
    return NOW + timedelta(minutes=n)


Handler = Callable[[httpx.Request], httpx.Response]


def market(handler: Handler, **kw: Any) -> tuple[LiveMarket, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert len(seen) <= 20, "a runaway read loop"
        return handler(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(record))
    return LiveMarket("http://127.0.0.1:9/", SimulatedClock(NOW), client=client, **kw), seen


def answers(*replies: httpx.Response | Exception) -> Handler:
    """The venue answering each request with the next reply (an exception is a failed connection)."""
    queue = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off waits, with the jitter fixed (``random() == 0.25`` makes the factor 0.75)."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(live, "asyncio", SimpleNamespace(sleep=sleep))
    monkeypatch.setattr(live, "random", SimpleNamespace(random=lambda: 0.25))
    return waits


# ------------------------------------------------------------------ klines


def test_kline_rows_are_read_field_by_field_and_put_oldest_first() -> None:
    rows = [bar(minute(1), "11", "14", "10", "13", "5.5"), bar(minute(0), "1", "4", "0.5", "3", "2")]
    assert parse_kline_rows(rows) == [
        candle(minute(0), "1", "4", "0.5", "3", "2"),
        candle(minute(1), "11", "14", "10", "13", "5.5"),
    ]


def test_a_malformed_kline_row_is_skipped_and_the_rows_after_it_still_read() -> None:
    good = [bar(minute(0), "1", "4", "0.5", "3", "2"), bar(minute(2), "21", "24", "20", "23", "7")]
    short = bar(minute(1), "9", "9", "9", "9", "9")[:5]
    not_a_price = bar(minute(1), "9", "9", "n/a", "9", "9")
    no_time = [None, *bar(minute(1), "9", "9", "9", "9", "9")[1:]]
    assert parse_kline_rows([good[0], short, not_a_price, no_time, good[1]]) == [
        candle(minute(0), "1", "4", "0.5", "3", "2"),
        candle(minute(2), "21", "24", "20", "23", "7"),
    ]


def test_a_klines_answer_that_is_not_a_list_is_refused_with_its_type() -> None:
    with pytest.raises(ValueError, match=r"^klines: expected a list, got dict$"):
        parse_kline_rows(example("rest", "error_envelope"))


def test_the_newest_candles_of_an_answer_are_kept_up_to_the_limit() -> None:
    rows = [bar(minute(n), str(n + 1), str(n + 1), str(n + 1), str(n + 1), "1") for n in range(3)]
    assert [c.close for c in candles_from_answer("ETHUSDT", rows, 2)] == [D(2), D(3)]
    assert [c.close for c in candles_from_answer("ETHUSDT", rows, 5)] == [D(1), D(2), D(3)]


def test_an_unreadable_klines_answer_is_an_outage_naming_the_pair_and_keeping_the_answer() -> None:
    body = example("rest", "code_200_envelope")
    with pytest.raises(ExchangeUnavailable) as caught:
        candles_from_answer("ETHUSDT", body, 5)
    assert str(caught.value) == "klines ETHUSDT: klines: expected a list, got dict"
    assert caught.value.raw is body


# ------------------------------------------------------------------ tickers


def test_the_documented_ticker_gives_the_last_trade_and_the_mark_at_the_time_read() -> None:
    ticker = parse_ticker("ETHUSDT", example("rest", "ticker_24hr"), NOW)
    assert (ticker.symbol, str(ticker.last), str(ticker.mark), ticker.at) == (
        "ETHUSDT",
        "2081.80",
        "2081.8",
        NOW,
    )


def test_the_ticker_is_the_row_of_the_pair_asked_for_in_an_array_or_alone() -> None:
    both = [BTC, ETH]
    assert (parse_ticker("ETHUSDT", both, NOW).last, parse_ticker("BTCUSDT", both, NOW).mark) == (
        D("2081.80"),
        D("90010.5"),
    )
    assert parse_ticker("BTCUSDT", BTC, NOW).last == D("90000.5")


def test_a_ticker_without_a_mark_price_is_marked_at_its_last_trade() -> None:
    without = {k: v for k, v in ETH.items() if k != "markPrice"}
    ticker = parse_ticker("ETHUSDT", [without], NOW)
    assert (str(ticker.last), str(ticker.mark)) == ("2081.80", "2081.80")
    assert parse_ticker("ETHUSDT", [ETH | {"markPrice": ""}], NOW).mark == D("2081.80")


def test_a_ticker_answer_without_the_pair_is_an_outage_naming_it() -> None:
    body = [BTC]
    with pytest.raises(ExchangeUnavailable) as caught:
        ticker_from_answer("ETHUSDT", body, NOW)
    assert str(caught.value) == "ticker ETHUSDT: bad response (ticker: no row for ETHUSDT)"
    assert caught.value.raw is body


def test_a_ticker_row_without_a_readable_last_price_is_an_outage_never_a_price() -> None:
    no_last = [{k: v for k, v in ETH.items() if k != "lastPrice"}]
    with pytest.raises(ExchangeUnavailable, match=r"^ticker ETHUSDT: bad response \('lastPrice'\)$"):
        ticker_from_answer("ETHUSDT", no_last, NOW)
    with pytest.raises(ExchangeUnavailable) as caught:
        ticker_from_answer("ETHUSDT", [ETH | {"lastPrice": "n/a"}], NOW)
    assert str(caught.value) == "ticker ETHUSDT: bad response (not a decimal: 'n/a')"
    with pytest.raises(ExchangeUnavailable, match=r"^ticker ETHUSDT: bad response \(not a decimal: 'x'\)$"):
        ticker_from_answer("ETHUSDT", [ETH | {"markPrice": "x"}], NOW)


# ------------------------------------------------------------------ the REST client


async def test_the_ticker_is_asked_for_the_pair_at_the_base_url_and_stamped_with_the_clock() -> None:
    m, seen = market(answers(httpx.Response(200, json=example("rest", "ticker_24hr"))))
    ticker = await m.ticker("ETHUSDT")
    assert (ticker.symbol, ticker.last, str(ticker.mark), ticker.at) == (
        "ETHUSDT",
        D("2081.80"),
        "2081.8",
        NOW,
    )
    [asked] = seen
    assert (str(asked.url), asked.method) == (f"http://127.0.0.1:9{TICKER}?symbol=ETHUSDT", "GET")


async def test_the_last_price_is_the_last_trade_not_the_mark() -> None:
    m, _ = market(answers(httpx.Response(200, json=[BTC])))
    assert await m.last_price("BTCUSDT") == D("90000.5")


async def test_klines_are_asked_at_most_1000_and_the_newest_kept() -> None:
    rows = [bar(minute(n), "1", "1", "1", str(n), "1") for n in range(3)]
    m, seen = market(lambda _: httpx.Response(200, json=rows))
    assert [c.close for c in await m.candles("ETHUSDT", "1m", 1)] == [D(2)]
    assert len(await m.candles("ETHUSDT", "5m", 5000)) == 3
    assert [(r.url.path, dict(r.url.params)) for r in seen] == [
        (KLINES, {"symbol": "ETHUSDT", "interval": "1m", "limit": "1"}),
        (KLINES, {"symbol": "ETHUSDT", "interval": "5m", "limit": "1000"}),
    ]
    with pytest.raises(ValueError, match="unknown interval '7m'"):
        await m.candles("ETHUSDT", "7m", 1)
    assert len(seen) == 2, "an unknown interval is refused before WEEX is asked"


async def test_throttling_server_errors_garbage_and_dropped_connections_are_retried_with_backoff(
    slept: list[float],
) -> None:
    m, seen = market(
        answers(
            httpx.Response(429),
            httpx.Response(500),
            httpx.Response(200, text="<html>"),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=[ETH]),
        ),
        retries=4,
        backoff=0.25,
    )
    assert (await m.ticker("ETHUSDT")).last == D("2081.80")
    assert len(seen) == 5
    assert slept == [0.1875, 0.375, 0.75, 1.5]


async def test_by_default_a_read_is_tried_four_times_half_a_second_apart_doubling(slept: list[float]) -> None:
    m, seen = market(lambda _: httpx.Response(503))
    with pytest.raises(ExchangeUnavailable) as caught:
        await m.ticker("ETHUSDT")
    assert str(caught.value) == f"GET {TICKER} failed: ExchangeUnavailable: GET {TICKER}: HTTP 503"
    assert (len(seen), slept) == (4, [0.375, 0.75, 1.5])


async def test_the_last_failure_is_named_when_the_retries_run_out(slept: list[float]) -> None:
    m, seen = market(answers(httpx.Response(502), httpx.ConnectError("refused")), retries=1)
    with pytest.raises(ExchangeUnavailable, match=rf"^GET {TICKER} failed: ConnectError: refused$"):
        await m.ticker("ETHUSDT")
    assert len(seen) == 2
    m, seen = market(answers(httpx.Response(200, text="<html>")), retries=0)
    with pytest.raises(ExchangeUnavailable, match=rf"^GET {TICKER} failed: JSONDecodeError: "):
        await m.ticker("ETHUSDT")
    assert (len(seen), slept) == (1, [0.375]), "no retry, so no second wait"


async def test_a_throttled_or_failed_answer_is_never_read_as_a_price(slept: list[float]) -> None:
    stale = [ETH | {"lastPrice": "1", "markPrice": "1"}]
    m, seen = market(
        answers(
            httpx.Response(429, json=stale),
            httpx.Response(500, json=stale),
            httpx.Response(200, json=[ETH]),
        )
    )
    assert (await m.ticker("ETHUSDT")).last == D("2081.80")
    assert (len(seen), slept) == (3, [0.375, 0.75])


async def test_a_client_error_is_answered_at_once_and_not_retried(slept: list[float]) -> None:
    m, seen = market(answers(httpx.Response(499, json=[ETH])))
    assert (await m.ticker("ETHUSDT")).last == D("2081.80")
    assert (len(seen), slept) == (1, [])


async def test_a_weex_error_envelope_is_an_outage_at_once_quoting_code_and_message(
    slept: list[float],
) -> None:
    body = example("rest", "error_envelope")
    m, seen = market(answers(httpx.Response(400, json=body)))
    with pytest.raises(ExchangeUnavailable) as caught:
        await m.candles("ETHUSDT", "1m", 5)
    assert str(caught.value) == f"GET {KLINES}: -1140 Either orderId or origClientOrderId must be sent."
    assert caught.value.raw == body
    assert (len(seen), slept) == (1, [])


async def test_a_success_envelope_is_an_answer_not_an_error() -> None:
    m, _ = market(answers(httpx.Response(200, json=example("rest", "code_200_envelope"))))
    with pytest.raises(ExchangeUnavailable, match=r"^klines ETHUSDT: klines: expected a list, got dict$"):
        await m.candles("ETHUSDT", "1m", 5)


def test_the_market_makes_its_own_client_with_the_timeout_and_closes_only_that_one() -> None:
    own = LiveMarket("http://127.0.0.1:9//", SimulatedClock(NOW))
    assert own.base_url == "http://127.0.0.1:9"
    pathed = LiveMarket("http://127.0.0.1:9/X/", SimulatedClock(NOW))
    assert pathed.base_url == "http://127.0.0.1:9/X"
    asyncio.run(pathed.aclose())
    assert own._client.timeout == httpx.Timeout(10.0)
    asyncio.run(own.aclose())
    assert own._client.is_closed
    lent = httpx.AsyncClient()
    borrowed = LiveMarket("http://127.0.0.1:9", SimulatedClock(NOW), client=lent, timeout=1.0)
    assert borrowed._client is lent
    asyncio.run(borrowed.aclose())
    assert not lent.is_closed
    asyncio.run(lent.aclose())
    timed = LiveMarket("http://127.0.0.1:9", SimulatedClock(NOW), timeout=2.5)
    assert timed._client.timeout == httpx.Timeout(2.5)
    asyncio.run(timed.aclose())


# ------------------------------------------------------------------ history bars


def history(request: httpx.Request) -> httpx.Response:
    """Every 1-minute bar from one minute before the asked start to the asked end (WEEX's windows touch)."""
    first, last = int(request.url.params["startTime"]) - 60_000, int(request.url.params["endTime"])
    rows = [
        bar(NOW + timedelta(milliseconds=ms - to_ms(NOW)), "1", "1", "1", str(ms // 60_000 % 1000), "1")
        for ms in range(first, last + 1, 60_000)
    ]
    return httpx.Response(200, json=rows)


async def test_history_bars_are_read_in_windows_of_100_minutes_after_start_up_to_end_once_each() -> None:
    m, seen = market(history)
    start, end = NOW + timedelta(seconds=30), minute(150)
    bars = await asyncio.wait_for(m.bars_between("ETHUSDT", start, end), 5)
    assert [c.open_time for c in bars] == [minute(n) for n in range(1, 151)]
    assert [(r.url.path, dict(r.url.params)) for r in seen] == [
        (
            HISTORY,
            {
                "symbol": "ETHUSDT",
                "interval": "1m",
                "startTime": str(to_ms(a)),
                "endTime": str(to_ms(b)),
                "limit": "100",
            },
        )
        for a, b in [(minute(1), minute(100)), (minute(101), minute(150))]
    ]


async def test_history_bars_exclude_the_start_and_include_the_end() -> None:
    m, seen = market(history)
    bars = await asyncio.wait_for(m.bars_between("ETHUSDT", NOW, minute(1)), 5)
    assert [c.open_time for c in bars] == [minute(1)]
    assert len(seen) == 1
    assert await asyncio.wait_for(m.bars_between("ETHUSDT", NOW, NOW + timedelta(seconds=59)), 5) == []
    assert len(seen) == 1, "no whole minute after the start: nothing to ask"


async def test_an_unreadable_history_answer_is_an_outage_naming_the_pair() -> None:
    body = example("rest", "code_200_envelope")
    m, _ = market(answers(httpx.Response(200, json=body)))
    with pytest.raises(ExchangeUnavailable) as caught:
        await asyncio.wait_for(m.bars_between("ETHUSDT", NOW, minute(5)), 5)
    assert str(caught.value) == "historyKlines ETHUSDT: klines: expected a list, got dict"
    assert caught.value.raw == body

"""The client against the corpus: every documented or recorded WEEX answer and frame is read the way its
source says, and every request the client sends uses only documented fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Side
from smt_engine.exchange.base import ExchangeError, OrderRequest, open_leg
from smt_engine.exchange.market.live import ticker_from_answer
from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex.client import _first_id, ai_log_code
from smt_engine.exchange.weex.errors import check_envelope
from smt_engine.exchange.weex.handshakes import DEFAULT_HANDSHAKES_PER_WINDOW, WEEX_CONNECTIONS_PER_WINDOW
from smt_engine.exchange.weex.limiter import (
    DEFAULT_ORDERS_PER_MINUTE,
    WEEX_ORDERS_PER_MINUTE,
    WEEX_WEIGHT_LIMIT,
)
from smt_engine.exchange.weex.parsing import (
    parse_algo,
    parse_contract,
    parse_order,
    parse_position,
)
from smt_engine.exchange.weex.streams import is_control, is_ping, message_of
from smt_engine.exchange.weex.transport import AI_LOG_SUCCESS
from tests.contract.weex.corpus import cases, example, row

REST = cases("rest")
WS = cases("ws")


@pytest.mark.parametrize("case", [*REST.values(), *WS.values()], ids=lambda c: str(c["id"]))
def test_every_example_names_its_source_and_date(case: dict[str, Any]) -> None:
    assert len(str(case.get("source", ""))) > 20, "each example says where it comes from"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(case.get("retrieved", ""))), "and when it was read"


def test_exchange_info_symbol() -> None:
    c = parse_contract(row(example("rest", "exchange_info_symbol")))
    assert (c.symbol, c.tick_size, c.step_size, c.min_size) == ("ETHUSDT", D("0.01"), D("0.001"), D("0.001"))


def test_ticker_24hr() -> None:
    t = ticker_from_answer("ETHUSDT", example("rest", "ticker_24hr"), datetime(2026, 4, 7, tzinfo=UTC))
    recorded = row(example("rest", "ticker_24hr"))
    assert t.last == D(recorded["lastPrice"])
    assert t.mark == D(recorded["markPrice"])


def test_position() -> None:
    p = parse_position(example("rest", "position"))
    assert (p.symbol, p.side, p.size) == ("DOGEUSDT", Side.LONG, D(300))
    assert p.entry_price == D("27.96900") / D(300), "entry = openValue / size (no entryPrice field)"


def test_orders_and_legs() -> None:
    regular = parse_order(example("rest", "open_order"))
    assert (regular.order_id, regular.size, regular.kind) == ("737185556881998184", D(1400), "entry")
    tp_leg = parse_order(example("rest", "history_order"))  # an attached TP, reported under /order
    assert (tp_leg.kind, tp_leg.trigger_price, tp_leg.reduce_only) == ("tp", D(1), True)
    assert open_leg(tp_leg) is None, "a CANCELED leg protects nothing"
    sl = parse_algo(example("rest", "open_algo_order"))
    assert (sl.order_id, sl.kind, sl.size) == ("737074389748547944", "sl", D(100))


def test_place_and_cancel_answers() -> None:
    assert _first_id(example("rest", "place_order")) == "737191855984215401"
    assert check_envelope(example("rest", "cancel_order"))["success"] is True


def test_envelopes() -> None:
    with pytest.raises(ExchangeError, match="-1140"):
        check_envelope(example("rest", "error_envelope"))
    assert check_envelope(example("rest", "code_200_envelope"))["code"] == "200"


def test_every_documented_ai_log_success_is_a_success() -> None:
    assert ai_log_code(example("rest", "upload_ai_log_v3")) in AI_LOG_SUCCESS
    assert REST["upload_ai_log_v3"]["success_code"] == 0
    assert ai_log_code(example("rest", "upload_ai_log_v2")) in AI_LOG_SUCCESS
    assert set(REST["upload_ai_log_script"]["accepted_codes"]) <= AI_LOG_SUCCESS
    assert ai_log_code(example("rest", "error_envelope")) not in AI_LOG_SUCCESS


def test_budgets_stay_under_the_published_limits() -> None:
    limits = REST["rate_limits"]
    assert limits["weight_per_10s_per_ip"] == WEEX_WEIGHT_LIMIT
    assert WEEX_ORDERS_PER_MINUTE == limits["orders_per_minute"] > DEFAULT_ORDERS_PER_MINUTE
    assert limits["connections_per_5min_per_ip"] == WEEX_CONNECTIONS_PER_WINDOW
    assert DEFAULT_HANDSHAKES_PER_WINDOW <= WEEX_CONNECTIONS_PER_WINDOW // 5, "well under"


async def test_the_client_sends_only_documented_order_fields() -> None:
    documented = set(REST["place_order_request"]["documented_params"])
    closes = REST["place_order_request"]["closes"]
    sent: list[dict[str, Any]] = []
    info = {**row(example("rest", "exchange_info_symbol")), "symbol": "ETHUSDT"}

    def venue(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": 1_775_000_000_000})
        if path == "/capi/v3/market/exchangeInfo":
            return httpx.Response(200, json={"symbols": [info]})
        if path == "/capi/v3/market/ticker/24hr":
            return httpx.Response(200, json=example("rest", "ticker_24hr"))
        if path == "/capi/v3/market/klines":
            # The entry's plausibility reference: one 1-minute row at the ticker's price (the row shape
            # of ccxt's fetchOHLCV fixture: open time, OHLC, volume, close time, ...).
            opened, last = (
                1_775_000_000_000 // 60_000 * 60_000,
                row(example("rest", "ticker_24hr"))["lastPrice"],
            )
            return httpx.Response(200, json=[[opened, last, last, last, last, "1", opened + 59_999]])
        sent.append(json.loads(request.content))
        return httpx.Response(200, json=example("rest", "place_order"))

    client = WeexClient(
        api_key="k",
        api_secret="s",
        passphrase="p",
        transport=httpx.MockTransport(venue),
        limiter=WeightLimiter(100_000),
        clock=SimulatedClock(datetime.fromtimestamp(1_775_000_000, UTC)),
        wall_ms=lambda: 1_775_000_000_000,
    )
    await client.place_order(
        OrderRequest("ETHUSDT", Side.LONG, D("0.01"), "open-1", tp_price=D(2200), sl_price=D(2000))
    )
    await client.place_order(OrderRequest("ETHUSDT", Side.SHORT, D("0.01"), "close-1", reduce_only=True))
    for body in sent:
        assert set(body) <= documented, set(body) - documented
    assert sent[1]["side"] == closes[sent[1]["positionSide"]]


@pytest.mark.parametrize("case_id", ["public_ping", "private_ping"])
def test_server_pings_are_recognised(case_id: str) -> None:
    frame = example("ws", case_id)
    assert is_ping(frame)
    assert message_of(frame) is None


@pytest.mark.parametrize("case_id", ["pong_v3", "pong_v2", "subscribe_ack", "subscribe_refused"])
def test_control_frames_are_not_pushes(case_id: str) -> None:
    frame = example("ws", case_id)
    assert message_of(frame) is None
    if case_id.startswith("pong"):
        assert is_control(frame)
        assert not is_ping(frame)


@pytest.mark.parametrize(
    "case_id", ["ticker_push", "orders_push", "fill_push", "positions_push", "account_push"]
)
def test_pushes_are_read(case_id: str) -> None:
    frame = example("ws", case_id)
    message = message_of(frame)
    assert message is not None
    assert message.channel == frame["e"]
    assert message.rows == frame["d"]
    if case_id == "ticker_push":
        assert message.symbol == "ETHUSDT"
        assert {"c", "m"} <= set(message.rows[0])
    else:
        assert message.event == frame["msgEvent"]

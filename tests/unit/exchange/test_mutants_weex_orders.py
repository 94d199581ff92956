"""Never an order twice, value by value (docs/benchmarks.md, mutation testing): the WEEX transport sends
an order creation exactly once whatever comes back, retries reads only (with its back-off), and turns
every answer that may hide an accepted order into ``AmbiguousOutcome`` carrying the client id."""

from __future__ import annotations

import json
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from smt_engine.domain import Side
from smt_engine.exchange.base import (
    AmbiguousOutcome,
    AuthError,
    EndpointNotFound,
    ExchangeError,
    ExchangeUnavailable,
    InvalidOrder,
    OrderRequest,
    PermissionDenied,
    RateLimited,
    VenuePrecisionError,
)
from smt_engine.exchange.weex import WeightLimiter
from smt_engine.exchange.weex import transport as transport_module
from tests.unit.exchange.conftest import SERVER_MS, Reply, Script, Sleeps, client_on, ok

CONTRACT = {
    "symbol": "BTCUSDT",
    "pricePrecision": 1,
    "quantityPrecision": 4,
    "contractVal": "0.0001",
    "minOrderSize": "0.0001",
    "maxLeverage": 125,
}
ORDER = "POST /capi/v3/order"
BALANCE = "GET /capi/v3/account/balance"
BALANCE_ROW = [{"asset": "USDT", "balance": "1000", "availableBalance": "1000", "unrealizePnl": "0"}]


def limit_entry(cid: str = "entry-1") -> OrderRequest:
    """A LIMIT entry: checked on its own price, so the order POST is the only request after the contract."""
    return OrderRequest(
        "BTCUSDT",
        Side.LONG,
        D("0.01"),
        cid,
        order_type="LIMIT",
        price=D("90000"),
        tp_price=D("95000"),
        sl_price=D("88000"),
    )


def order_script(*replies: Reply) -> Script:
    return Script({"GET /capi/v3/market/exchangeInfo": [ok({"symbols": [CONTRACT]})], ORDER: list(replies)})


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (ok({"error": "bad gateway"}, 502), AmbiguousOutcome),
        (ok({"error": "busy"}, 500), AmbiguousOutcome),
        (httpx.Response(200, content=b"<html>"), AmbiguousOutcome),
        (ok({"code": "-1000", "msg": "internal error"}), AmbiguousOutcome),
        (ok({"code": "-1000", "msg": "internal error"}, 418), AmbiguousOutcome),
        (ok({"error": "timeout"}, 408), AmbiguousOutcome),
        (httpx.ReadTimeout("slow"), AmbiguousOutcome),
        (httpx.RemoteProtocolError("dropped"), AmbiguousOutcome),
        (httpx.ConnectError("refused"), ExchangeUnavailable),
        (ok({}, 429, {"Retry-After": "3"}), RateLimited),
        (ok({"code": "-1043", "msg": "timestamp expired"}), AuthError),
        (ok({"code": "-1043", "msg": "timestamp expired"}, 401), AuthError),
    ],
)
async def test_an_order_creation_goes_out_once_whatever_answers(
    sleeps: Sleeps, reply: Reply, error: type[Exception]
) -> None:
    script = order_script(reply, ok({"orderId": "9", "success": True}))
    client = client_on(script, sleeps)
    with pytest.raises(error) as raised:
        await client.place_order(limit_entry("once-1"))
    assert script.count(ORDER) == 1, "never sent a second time"
    assert script.seen[-1] == ORDER, "nothing after the order: no resync, no retry"
    assert sleeps.backoff == []
    if isinstance(raised.value, AmbiguousOutcome):
        assert raised.value.client_order_id == "once-1", "the id the caller looks the order up by"
    await client.aclose()


async def test_a_rate_limited_order_blocks_the_limiter_for_the_venues_wait(sleeps: Sleeps) -> None:
    script = order_script(ok({}, 429, {"Retry-After": "3", "X-USED-WEIGHT-1M": "40"}))
    client = client_on(script, sleeps)
    with pytest.raises(RateLimited) as raised:
        await client.place_order(limit_entry())
    assert (raised.value.retry_after, raised.value.code) == (3.0, "429")
    assert "HTTP 429 (used weight 40)" in str(raised.value)
    assert client.limiter.blocked_until == 3.0
    assert client.limiter.used_weight_1m == 40
    await client.aclose()


async def test_an_accepted_order_returns_the_venues_id_under_the_client_id(sleeps: Sleeps) -> None:
    script = order_script(ok({"orderId": "701", "clientOrderId": "entry-1", "success": True}))
    client = client_on(script, sleeps)
    placed = await client.place_order(limit_entry())
    assert (placed.order_id, placed.client_order_id) == ("701", "entry-1")
    (request,) = [r for r in script.requests if r.url.path == "/capi/v3/order"]
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["ACCESS-KEY"] == "k"
    assert request.headers["ACCESS-PASSPHRASE"] == "p"
    assert request.headers["ACCESS-TIMESTAMP"] == str(SERVER_MS)
    assert request.headers["locale"] == "en-US"
    assert json.loads(request.content) == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "positionSide": "LONG",
        "type": "LIMIT",
        "quantity": "0.01",
        "price": "90000",
        "timeInForce": "GTC",
        "newClientOrderId": "entry-1",
        "tpTriggerPrice": "95000",
        "TpWorkingType": "CONTRACT_PRICE",
        "slTriggerPrice": "88000",
        "SlWorkingType": "CONTRACT_PRICE",
    }
    await client.aclose()


@pytest.mark.parametrize("body", [{"success": True}, {"orderId": ""}, [], {"orderId": "0"}])
async def test_an_acceptance_without_an_order_id_is_ambiguous_under_the_client_id(
    sleeps: Sleeps, body: Any
) -> None:
    client = client_on(order_script(ok(body)), sleeps)
    with pytest.raises(AmbiguousOutcome) as raised:
        await client.place_order(limit_entry("no-id-1"))
    assert raised.value.client_order_id == "no-id-1"
    assert raised.value.raw == body
    assert str(raised.value) == "order accepted without an order id"
    await client.aclose()


async def test_a_refused_order_is_the_venues_typed_refusal_not_an_ambiguity(sleeps: Sleeps) -> None:
    client = client_on(order_script(ok({"code": "-1102", "msg": "param error"}, 400)), sleeps)
    with pytest.raises(InvalidOrder, match="WEEX -1102: param error"):
        await client.place_order(limit_entry())
    await client.aclose()


async def test_a_read_is_retried_with_a_doubling_back_off(sleeps: Sleeps) -> None:
    script = Script({BALANCE: [ok({}, 503)]})
    client = client_on(script, sleeps)
    with pytest.raises(ExchangeUnavailable, match="HTTP 503") as raised:
        await client.balance()
    assert raised.value.code == "503"
    assert script.count(BALANCE) == 4, "read_retries 3: four attempts"
    assert sleeps.backoff == [0.375, 0.75, 1.5], "0.5 s x 2^n x (0.5 + 0.25)"
    await client.aclose()


async def test_a_read_that_recovers_returns_the_venues_answer(sleeps: Sleeps, caplog: Any) -> None:
    script = Script({BALANCE: [httpx.ReadTimeout("slow"), ok(BALANCE_ROW)]})
    client = client_on(script, sleeps)
    caplog.set_level("WARNING", logger=transport_module.log.name)
    assert (await client.balance()).balance == D(1000)
    assert script.count(BALANCE) == 2
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "exchange_retry"]
    assert record.getMessage() == (
        "WEEX GET /capi/v3/account/balance failed (attempt 1/4): GET /capi/v3/account/balance: ReadTimeout"
    )
    await client.aclose()


async def test_a_rate_limited_read_waits_at_least_the_venues_retry_after(sleeps: Sleeps) -> None:
    script = Script({BALANCE: [ok({}, 429, {"Retry-After": "7"}), ok({}, 429), ok(BALANCE_ROW)]})
    client = client_on(script, sleeps, rate_limit_wait=0.1)
    assert (await client.balance()).balance == D(1000)
    assert sleeps.backoff == [7.0, 0.75], "the venue's 7 s, then the default 0.1 s under the back-off"
    await client.aclose()


async def test_a_stale_clock_on_a_read_resyncs_once_then_gives_up(sleeps: Sleeps) -> None:
    stale = ok({"code": "-1046", "msg": "timestamp invalid"})
    script = Script({BALANCE: [stale, ok(BALANCE_ROW)]})
    client = client_on(script, sleeps)
    assert (await client.balance()).balance == D(1000)
    assert script.seen == ["GET /capi/v3/market/time", BALANCE, "GET /capi/v3/market/time", BALANCE]
    script.routes[BALANCE] = [stale]
    script.seen.clear()
    with pytest.raises(AuthError):
        await client.balance()
    assert script.seen == [BALANCE, "GET /capi/v3/market/time", BALANCE], "one resync, then the error"
    await client.aclose()


async def test_other_auth_errors_are_never_retried(sleeps: Sleeps) -> None:
    script = Script({BALANCE: [ok({"code": "-1040", "msg": "bad key"})]})
    client = client_on(script, sleeps)
    with pytest.raises(AuthError):
        await client.balance()
    assert script.count(BALANCE) == 1
    await client.aclose()


async def test_the_clock_is_synced_before_the_first_signed_call_only(sleeps: Sleeps) -> None:
    script = Script({BALANCE: [ok(BALANCE_ROW)], "GET /capi/v3/market/ticker/24hr": [ok([])]})
    client = client_on(script, sleeps)
    await client._request("GET", "/capi/v3/market/ticker/24hr", signed=False)
    assert script.seen == ["GET /capi/v3/market/ticker/24hr"], "an unsigned read needs no clock"
    await client.balance()
    await client.balance()
    assert script.seen[1:] == ["GET /capi/v3/market/time", BALANCE, BALANCE]
    (unsigned,) = [r for r in script.requests if r.url.path.endswith("/ticker/24hr")]
    assert "ACCESS-KEY" not in unsigned.headers
    assert "Content-Type" not in unsigned.headers
    await client.aclose()


READ = "GET /capi/v3/account/balance:"
HTTP = f"{READ} HTTP"


@pytest.mark.parametrize(
    ("status", "body", "error", "code", "words"),
    [
        (404, {"error": "no route"}, EndpointNotFound, "404", f"{HTTP} 404 (no such endpoint on this venue)"),
        (401, None, AuthError, "401", f"{HTTP} 401 (not authenticated)"),
        (401, {"error": "unauthorized"}, AuthError, "401", f"{HTTP} 401 (not authenticated)"),
        (403, {"error": "forbidden"}, PermissionDenied, "403", f"{HTTP} 403 (forbidden)"),
        (418, {"error": "teapot"}, ExchangeError, "418", f"{HTTP} 418"),
        (400, {"code": "00000", "msg": "success"}, ExchangeError, "400", f"{HTTP} 400"),
        (400, {"code": "-1055", "msg": "no API"}, PermissionDenied, "-1055", "WEEX -1055: no API"),
        (400, {"code": "-1000", "msg": "internal"}, ExchangeUnavailable, "-1000", "WEEX -1000: internal"),
        (400, {"code": "-1000"}, ExchangeError, "400", f"{HTTP} 400"),
        (400, {"msg": "internal"}, ExchangeError, "400", f"{HTTP} 400"),
    ],
)  # fmt: skip
async def test_every_non_2xx_read_is_an_error_of_its_kind_in_the_venues_words(
    sleeps: Sleeps, status: int, body: Any, error: type[Exception], code: str, words: str
) -> None:
    reply = httpx.Response(status, content=b"not json") if body is None else ok(body, status)
    script = Script({BALANCE: [reply]})
    client = client_on(script, sleeps, read_retries=0)
    with pytest.raises(error) as raised:
        await client.balance()
    assert type(raised.value) is error
    assert isinstance(raised.value, ExchangeError)
    assert raised.value.code == code
    assert raised.value.raw == body
    assert str(raised.value) == words
    await client.aclose()


async def test_a_proxys_4xx_on_an_order_is_ambiguous_with_its_status(sleeps: Sleeps) -> None:
    client = client_on(order_script(ok({"error": "timeout"}, 408)), sleeps)
    with pytest.raises(AmbiguousOutcome) as raised:
        await client.place_order(limit_entry("p-1"))
    assert (raised.value.code, raised.value.raw, str(raised.value)) == (
        "408",
        {"error": "timeout"},
        "POST /capi/v3/order: HTTP 408",
    )
    await client.aclose()


@pytest.mark.parametrize("status", [404, 401, 403])
async def test_a_typed_http_refusal_of_an_order_is_not_ambiguous(sleeps: Sleeps, status: int) -> None:
    client = client_on(order_script(ok({"error": "x"}, status)), sleeps)
    with pytest.raises(ExchangeError) as raised:
        await client.place_order(limit_entry())
    assert not isinstance(raised.value, AmbiguousOutcome)
    assert raised.value.code == str(status)
    await client.aclose()


async def test_a_venue_error_in_a_non_2xx_order_answer_keeps_its_code(sleeps: Sleeps) -> None:
    body = {"code": "-1000", "msg": "internal"}
    client = client_on(order_script(ok(body, 400)), sleeps)
    with pytest.raises(AmbiguousOutcome) as raised:
        await client.place_order(limit_entry("v-1"))
    assert (raised.value.code, raised.value.raw, raised.value.client_order_id) == ("-1000", body, "v-1")
    assert str(raised.value) == "WEEX -1000: internal"
    await client.aclose()


async def test_an_envelope_error_on_an_order_is_ambiguous_with_its_code(sleeps: Sleeps) -> None:
    body = {"code": "-1000", "msg": "internal"}
    client = client_on(order_script(ok(body)), sleeps)
    with pytest.raises(AmbiguousOutcome) as raised:
        await client.place_order(limit_entry("e-1"))
    assert (raised.value.code, raised.value.raw, str(raised.value)) == ("-1000", body, "WEEX -1000: internal")
    await client.aclose()


# ---------------------------------------------------------------- the look-up by client id

OPEN_ROW = {
    "orderId": "11",
    "clientOrderId": "other-1",
    "symbol": "BTCUSDT",
    "side": "BUY",
    "positionSide": "LONG",
    "type": "LIMIT",
    "status": "NEW",
    "origQty": "0.01",
    "executedQty": "0",
    "price": "90000",
    "avgPrice": "0",
    "time": SERVER_MS,
    "updateTime": SERVER_MS,
}
LEG_ROW = {
    "algoId": "77",
    "clientAlgoId": "leg-1",
    "symbol": "BTCUSDT",
    "positionSide": "SHORT",
    "triggerPrice": "97000",
    "quantity": "0.02",
    "algoStatus": "UNTRIGGERED",
    "createTime": str(SERVER_MS),
}


def look_up_script(open_rows: list[Any], legs: list[Any], history: list[Any]) -> Script:
    return Script(
        {
            "GET /capi/v3/openOrders": [ok(open_rows)],
            "GET /capi/v3/openAlgoOrders": [ok(legs)],
            "GET /capi/v3/account/position/allPosition": [ok([])],
            "GET /capi/v3/order/history": [ok(history)],
        }
    )


async def test_the_look_up_finds_an_open_order_by_its_client_id_on_its_symbol(sleeps: Sleeps) -> None:
    script = look_up_script([OPEN_ROW, OPEN_ROW | {"orderId": "12", "clientOrderId": "entry-1"}], [], [])
    client = client_on(script, sleeps)
    found = await client.find_order("BTCUSDT", "entry-1")
    assert found is not None
    assert (found.order_id, found.client_order_id) == ("12", "entry-1")
    (asked,) = [r for r in script.requests if r.url.path == "/capi/v3/openOrders"]
    assert asked.url.params["symbol"] == "BTCUSDT"
    assert script.count("GET /capi/v3/openAlgoOrders") == 0, "found: nothing more asked"
    await client.aclose()


@pytest.mark.parametrize(("kind", "order_type"), [("sl", "STOP_MARKET"), ("tp", "TAKE_PROFIT_MARKET")])
async def test_the_look_up_finds_a_resting_leg_by_its_client_id_as_a_reduce_only_order(
    sleeps: Sleeps, kind: str, order_type: str
) -> None:
    legs = [LEG_ROW | {"algoId": "76", "clientAlgoId": "leg-0"}, LEG_ROW | {"orderType": order_type}]
    script = look_up_script([OPEN_ROW], [dict(row, orderType=order_type) for row in legs], [])
    client = client_on(script, sleeps)
    found = await client.find_order("BTCUSDT", "leg-1")
    assert found is not None
    assert (found.order_id, found.client_order_id, found.symbol, found.position_side) == (
        "77",
        "leg-1",
        "BTCUSDT",
        Side.SHORT,
    )
    assert (found.reduce_only, found.order_type, found.kind, found.trigger_price) == (
        True,
        order_type,
        kind,
        D(97000),
    )
    assert (found.size, found.filled_size, found.price, found.avg_price) == (D("0.02"), D(0), None, None)
    assert found.status.value == "untriggered"
    assert found.created_at == found.updated_at
    assert int(found.created_at.timestamp() * 1000) == SERVER_MS
    (asked,) = [r for r in script.requests if r.url.path == "/capi/v3/openAlgoOrders"]
    assert asked.url.params["symbol"] == "BTCUSDT"
    assert script.count("GET /capi/v3/order/history") == 0
    await client.aclose()


async def test_the_look_up_ends_in_the_symbols_history_then_says_none(sleeps: Sleeps) -> None:
    done = OPEN_ROW | {"orderId": "13", "clientOrderId": "entry-1", "status": "FILLED", "executedQty": "0.01"}
    script = look_up_script([OPEN_ROW], [LEG_ROW | {"orderType": "STOP_MARKET"}], [OPEN_ROW, done])
    client = client_on(script, sleeps)
    found = await client.find_order("BTCUSDT", "entry-1")
    assert found is not None
    assert (found.order_id, found.filled_size) == ("13", D("0.01"))
    (asked,) = [r for r in script.requests if r.url.path == "/capi/v3/order/history"]
    assert (asked.url.params["symbol"], asked.url.params["limit"]) == ("BTCUSDT", "500")
    assert await client.find_order("BTCUSDT", "never-sent") is None
    await client.aclose()


async def test_a_precision_refusal_of_an_order_corrects_that_symbols_step_and_is_not_retried(
    sleeps: Sleeps,
) -> None:
    words = "DECIMAL_PRECISION_ERROR: quantity must be a multiple of stepSize: 0.001"
    script = order_script(ok({"code": "-1160", "msg": words}))
    client = client_on(script, sleeps)
    with pytest.raises(VenuePrecisionError):
        await client.place_order(limit_entry())
    assert (await client.contract("BTCUSDT")).step_size == D("0.001"), "was 0.0001"
    assert script.count(ORDER) == 1
    await client.aclose()


async def test_a_market_close_never_carries_a_price(sleeps: Sleeps) -> None:
    script = order_script(ok({"orderId": "9", "success": True}))
    client = client_on(script, sleeps)
    close = OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "close-1", reduce_only=True, price=D("90000"))
    await client.place_order(close)
    (request,) = [r for r in script.requests if r.url.path == "/capi/v3/order"]
    body = json.loads(request.content)
    assert ("price" in body, "timeInForce" in body, body["type"]) == (False, False, "MARKET")
    await client.aclose()


async def test_a_stale_clock_on_the_last_allowed_read_ends_in_the_auth_error(sleeps: Sleeps) -> None:
    """No attempt left after the resync: the caller gets the venue's error, not a broken retry loop."""
    script = Script({BALANCE: [ok({"code": "-1046", "msg": "timestamp invalid"})]})
    client = client_on(script, sleeps, read_retries=0)
    with pytest.raises(AuthError, match="WEEX -1046: timestamp invalid"):
        await client.balance()
    assert script.count(BALANCE) == 1
    await client.aclose()


# ---------------------------------------------------------------- one request, as sent and as answered


POSTED = "POST /capi/v3/order:"


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (ok({"error": "busy"}, 500), AmbiguousOutcome, f"{POSTED} HTTP 500"),
        (ok({"code": "-1102", "msg": "param error"}, 500), AmbiguousOutcome, f"{POSTED} HTTP 500"),
        (ok({"orderId": "9", "success": True}, 300), AmbiguousOutcome, f"{POSTED} HTTP 300"),
        (httpx.Response(200, content=b"<html>"), AmbiguousOutcome, f"{POSTED} unreadable answer (HTTP 200)"),
        (httpx.ReadTimeout("slow"), AmbiguousOutcome, f"{POSTED} no answer after sending (ReadTimeout)"),
        (httpx.ConnectError("refused"), ExchangeUnavailable, f"{POSTED} cannot connect (ConnectError)"),
        (ok({}, 429), RateLimited, f"{POSTED} HTTP 429 (used weight ?)"),
    ],
)
async def test_an_order_answer_that_proves_nothing_is_never_read_as_acceptance_and_says_what_came_back(
    sleeps: Sleeps, reply: Reply, error: type[Exception], words: str
) -> None:
    """A 5xx is ambiguous even when its body carries a refusal code, a 3xx is never an acceptance, and
    the words the order row keeps as its error say what came back."""
    script = order_script(reply)
    client = client_on(script, sleeps)
    with pytest.raises(error) as raised:
        await client.place_order(limit_entry("said-1"))
    assert type(raised.value) is error
    assert str(raised.value) == words
    assert script.count(ORDER) == 1
    await client.aclose()


@pytest.mark.parametrize(
    ("reply", "error", "code", "words"),
    [
        (ok({"error": "busy"}, 500), ExchangeUnavailable, "500", f"{HTTP} 500"),
        (ok({"code": "00000", "msg": "ok", "data": BALANCE_ROW}, 300), ExchangeError, "300", f"{HTTP} 300"),
        (
            httpx.Response(200, content=b"<html>"),
            ExchangeUnavailable,
            None,
            f"{READ} unreadable answer (HTTP 200)",
        ),
    ],
)
async def test_a_read_answered_500_or_unreadably_may_be_retried_and_a_3xx_is_an_error(
    sleeps: Sleeps, reply: httpx.Response, error: type[ExchangeError], code: str | None, words: str
) -> None:
    script = Script({BALANCE: [reply]})
    client = client_on(script, sleeps, read_retries=0)
    with pytest.raises(error) as raised:
        await client.balance()
    assert type(raised.value) is error
    assert (raised.value.code, str(raised.value)) == (code, words)
    await client.aclose()


async def test_a_request_goes_out_with_exactly_the_query_and_body_it_signed(sleeps: Sleeps) -> None:
    """No stray ``?``, query or ``null`` body: WEEX checks the signature against the request as it arrives."""
    script = Script({BALANCE: [ok(BALANCE_ROW)], "DELETE /capi/v3/order": [ok({"success": True})]})
    client = client_on(script, sleeps)
    await client.balance()
    await client.cancel_order("BTCUSDT", order_id="5")
    balance, cancel = [r for r in script.requests if r.url.path != "/capi/v3/market/time"]
    assert (balance.url.raw_path, balance.content) == (b"/capi/v3/account/balance", b"")
    assert balance.headers["ACCESS-SIGN"] == transport_module.sign(
        "s", str(SERVER_MS), "GET", "/capi/v3/account/balance"
    )
    assert "Content-Type" not in balance.headers
    assert (cancel.url.raw_path, cancel.content) == (b"/capi/v3/order?orderId=5", b"")
    assert cancel.headers["Content-Type"] == "application/json", "WEEX's cancel examples send it"
    assert cancel.headers["ACCESS-SIGN"] == transport_module.sign(
        "s", str(SERVER_MS), "DELETE", "/capi/v3/order", "orderId=5"
    )
    await client.aclose()


async def test_each_request_spends_its_endpoints_weight_and_an_unlisted_endpoint_five(sleeps: Sleeps) -> None:
    script = Script({"GET /capi/v3/market/ticker/24hr": [ok([])], "GET /capi/v3/market/unlisted": [ok([])]})
    client = client_on(script, sleeps)
    await client._request("GET", "/capi/v3/market/ticker/24hr", signed=False)
    assert client.limiter.used() == 40
    await client._request("GET", "/capi/v3/market/unlisted", signed=False)
    assert client.limiter.used() == 45
    await client.aclose()


async def test_only_an_order_creation_counts_against_the_order_rate(sleeps: Sleeps) -> None:
    """One order a second allowed: a read of an order and a POST elsewhere pass freely, the second
    order creation waits its second."""
    script = Script(
        {
            "GET /capi/v3/order": [ok({"orderId": "9"})],
            "POST /capi/v3/account/leverage": [ok({"success": True})],
            ORDER: [ok({"orderId": "9", "success": True})],
        }
    )
    limiter = WeightLimiter(
        100_000, orders_per_second=1, monotonic=lambda: sleeps.now, sleep=sleeps.limiter_sleep
    )
    client = client_on(script, sleeps, limiter=limiter)
    await client._request("GET", "/capi/v3/order", params={"orderId": "9"}, signed=False)
    await client._request("POST", "/capi/v3/account/leverage", body={"leverage": "5"}, signed=False)
    assert sleeps.limiter == []
    await client._request("POST", "/capi/v3/order", body={"x": 1}, signed=False, order_cid="c-1")
    assert sleeps.limiter == []
    await client._request("POST", "/capi/v3/order", body={"x": 2}, signed=False, order_cid="c-2")
    assert sleeps.limiter == [1.0]
    await client.aclose()

"""REST choices made the way WEEX documents them: no undocumented ``reduceOnly``, the attached TP leg
cancelled through ``/order``, userTrades asked inside the 7-day window, a per-minute order cap, and
WEEX's own weight count (``X-USED-WEIGHT-1M``, ``exchangeInfo.rateLimits``) honoured."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import httpx

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex.limiter import DEFAULT_ORDERS_PER_MINUTE, WEEX_ORDERS_PER_MINUTE
from tests.unit.exchange.conftest import weex_position

NOW = datetime(2026, 4, 9, 12, 0, tzinfo=UTC)
CONTRACT = {
    "symbol": "BTCUSDT",
    "pricePrecision": 1,
    "quantityPrecision": 4,
    "contractVal": "0.0001",
    "minOrderSize": "0.0001",
    "maxLeverage": 125,
}


class Venue:
    """A scripted WEEX: answers by method + path and records every request."""

    def __init__(self, routes: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.routes = routes
        self.headers = headers or {}
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": int(NOW.timestamp() * 1000)})
        body = self.routes[f"{request.method} {request.url.path}"]
        body = body(request) if callable(body) else body
        return httpx.Response(200, content=json.dumps(body).encode(), headers=self.headers)

    def client(self, **kw: Any) -> WeexClient:
        clock = SimulatedClock(NOW)
        args: dict[str, Any] = {
            "api_key": "k",
            "api_secret": "s",
            "passphrase": "p",
            "transport": httpx.MockTransport(self),
            "limiter": WeightLimiter(100_000),
            "read_retries": 0,
            "clock": clock,
            "wall_ms": lambda: int(clock.now().timestamp() * 1000),
        }
        args.update(kw)
        return WeexClient(**args)


def minute_bar(price: str) -> list[Any]:
    """The 1-minute kline row holding ``NOW`` (the row shape of ccxt's fetchOHLCV fixture and Weex.Net's
    ``WeexKline``: open time, OHLC, volume, close time, quote volume, trades, taker base and quote)."""
    opened = int(NOW.timestamp() * 1000)
    return [opened, price, price, price, price, "1", opened + 59_999, price, 1, "0", "0"]


def placed(request: httpx.Request) -> dict[str, Any]:
    return {
        "orderId": "701",
        "clientOrderId": json.loads(request.content)["newClientOrderId"],
        "success": True,
    }


async def test_a_close_is_the_documented_side_pair_without_reduce_only() -> None:
    venue = Venue(
        {
            "GET /capi/v3/market/exchangeInfo": {"symbols": [CONTRACT]},
            "GET /capi/v3/market/ticker/24hr": [
                {"symbol": "BTCUSDT", "lastPrice": "90000", "markPrice": "90000"}
            ],
            "GET /capi/v3/market/klines": [minute_bar("90000")],
            "POST /capi/v3/order": placed,
        }
    )
    client = venue.client()
    await client.place_order(OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "close-1", reduce_only=True))
    (order,) = [r for r in venue.seen if r.url.path == "/capi/v3/order"]
    body = json.loads(order.content)
    assert "reduceOnly" not in body, "not a documented PlaceOrder parameter"
    assert (body["side"], body["positionSide"]) == ("SELL", "LONG"), "SELL + LONG closes a long (doc)"


async def test_an_attached_tp_listed_under_order_is_cancelled_through_order() -> None:
    tp_leg = {
        "orderId": "737074389744353640",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "positionSide": "LONG",
        "type": "TAKE_PROFIT_MARKET",
        "status": "UNTRIGGERED",
        "origQty": "0.01",
        "executedQty": "0",
        "price": "0.00000",
        "avgPrice": "0",
        "stopPrice": "97000",
        "reduceOnly": True,
        "time": 1775758733006,
        "updateTime": 1775758733006,
    }
    position = weex_position("1")
    cancelled = {"orderId": tp_leg["orderId"], "origClientOrderId": "", "success": True, "errorCode": ""}
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [],
            "GET /capi/v3/account/position/allPosition": [position],
            "GET /capi/v3/order/history": [tp_leg],
            "DELETE /capi/v3/order": cancelled,
            "DELETE /capi/v3/algoOrder": {"orderId": "0", "success": False, "errorCode": "ORDER_NOT_FOUND"},
        }
    )
    client = venue.client()
    (leg,) = await client.open_algo_orders("BTCUSDT")
    assert leg.kind == "tp"
    await client.cancel_algo_order("BTCUSDT", leg.order_id)
    deletes = [r.url.path for r in venue.seen if r.method == "DELETE"]
    assert deletes == ["/capi/v3/order"]


async def test_an_algo_leg_is_cancelled_through_algo_order_and_either_falls_back_once() -> None:
    algo = {
        "algoId": "737163324495496552",
        "symbol": "BTCUSDT",
        "orderType": "STOP_MARKET",
        "positionSide": "LONG",
        "triggerPrice": "88000",
        "quantity": "0.01",
        "algoStatus": "UNTRIGGERED",
        "reduceOnly": True,
        "createTime": "1775753432392",
    }
    ok = {"orderId": algo["algoId"], "success": True, "errorCode": ""}
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [algo],
            "GET /capi/v3/account/position/allPosition": [],
            "DELETE /capi/v3/algoOrder": {"orderId": "0", "success": False, "errorCode": "ORDER_NOT_FOUND"},
            "DELETE /capi/v3/order": ok,
        }
    )
    client = venue.client()
    (leg,) = await client.open_algo_orders("BTCUSDT")
    await client.cancel_algo_order("BTCUSDT", leg.order_id)
    assert [r.url.path for r in venue.seen if r.method == "DELETE"] == [
        "/capi/v3/algoOrder",
        "/capi/v3/order",
    ]


async def test_user_trades_are_asked_inside_the_documented_7_day_window() -> None:
    venue = Venue({"GET /capi/v3/userTrades": []})
    client = venue.client()
    await client.fills("BTCUSDT", since=NOW - timedelta(days=30), order_id="702")
    (request,) = [r for r in venue.seen if r.url.path == "/capi/v3/userTrades"]
    q = dict(request.url.params)
    start, end = int(q["startTime"]), int(q["endTime"])
    assert q["orderId"] == "702"
    assert end >= int(NOW.timestamp() * 1000), "the window reaches now: the closing fills are in it"
    assert 0 < end - start <= 7 * 86_400_000


async def test_orders_stay_under_the_faqs_50_per_minute() -> None:
    clock = SimulatedClock(NOW)
    limiter = WeightLimiter(100_000, monotonic=lambda: clock.now().timestamp(), sleep=clock.sleep)
    assert DEFAULT_ORDERS_PER_MINUTE < WEEX_ORDERS_PER_MINUTE
    start = clock.now()
    for _ in range(DEFAULT_ORDERS_PER_MINUTE):
        await limiter.acquire(5, is_order=True)
        await clock.advance(0.2)  # 5 per second: well under the per-second cap
    assert (clock.now() - start).total_seconds() < 60
    task = asyncio.create_task(limiter.acquire(5, is_order=True))
    await clock.advance(30)
    assert not task.done(), "the 41st order in a minute waits"
    await clock.advance(31)
    await task


async def test_weexs_used_weight_header_and_rate_limits_are_honoured() -> None:
    venue = Venue(
        {
            "GET /capi/v3/market/exchangeInfo": {
                "symbols": [CONTRACT],
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": 1200,
                    },
                    {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 20},
                ],
            }
        },
        headers={"X-USED-WEIGHT-1M": "1150"},
    )
    client = venue.client()
    await client.contracts(["BTCUSDT"])
    assert client.limiter.weight_per_minute == 1200
    assert client.limiter.orders_per_minute == 16
    assert client.limiter.used_weight_1m == 1150
    assert client.limiter.blocked_until > 0, "WEEX counts us near its minute limit: new requests wait"

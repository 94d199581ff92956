"""ccxt 4.5.90's independent WEEX implementation as an oracle: signing and the fake's dialect."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest

from smt_engine.exchange.weex import compact_json, encode_query, sign
from tests.fakes.weex_server import FakeWeex

VECTORS = [
    ("GET", "/capi/v3/account/balance", {}, None, "qWSnG7MSG9Dt7/ELzvyxe7XYWDTKz2H8N2FuvZmLsU8="),
    (
        "GET",
        "/capi/v3/account/position/singlePosition",
        {"symbol": "BTCUSDT"},
        None,
        "HomyIhuOgpQE9fi3eX3t2MV4LV7MB2Tymi/AS7F3UhQ=",
    ),
    (
        "DELETE",
        "/capi/v3/order",
        {"orderId": "702345678901234567"},
        None,
        "IZxLkSbOgen2bHBar8Gd7LCBuHtDVc94kv4aGLB+eSo=",
    ),
    (
        "POST",
        "/capi/v3/order",
        {},
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "positionSide": "LONG",
            "type": "MARKET",
            "quantity": "0.001",
            "newClientOrderId": "t1",
        },
        "o/6juXdxyOrDF/Q0D6cYEvXA5/pKhZDKLTwhoLl3dh4=",
    ),
]


@pytest.mark.parametrize(("method", "path", "query", "body", "expected"), VECTORS)
def test_known_answer_vectors(
    method: str, path: str, query: dict[str, str], body: Any, expected: str
) -> None:
    got = sign(
        "testsecret", "1700000000000", method, path, encode_query(query), compact_json(body) if body else ""
    )
    assert got == expected


CASES = [
    ("GET", "capi/v3/account/balance", {}),
    ("GET", "capi/v3/openOrders", {"symbol": "BTCUSDT", "limit": 10}),
    ("DELETE", "capi/v3/order", {"origClientOrderId": "my.id:1/x"}),
    ("DELETE", "capi/v3/allOpenOrders", {"symbol": "DOGEUSDT"}),
    (
        "POST",
        "capi/v3/order",
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "quantity": "0.01",
            "type": "LIMIT",
            "price": "70123.5",
            "positionSide": "LONG",
            "reduceOnly": True,
            "newClientOrderId": "smt-ab12cd34-7-close",
        },
    ),
    (
        "POST",
        "capi/v3/placeTpSlOrder",
        {
            "symbol": "ETHUSDT",
            "clientAlgoId": "smt-x-1-sl",
            "planType": "STOP_LOSS",
            "triggerPrice": "3001.25",
            "executePrice": "0",
            "quantity": "0.5",
            "positionSide": "LONG",
            "triggerPriceType": "CONTRACT_PRICE",
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "params"), CASES)
def test_signing_is_byte_identical_to_ccxt(method: str, path: str, params: dict[str, Any]) -> None:
    ex = ccxt.weex({"apiKey": "k", "secret": "s3cr3t", "password": "p"})
    ex.nonce = lambda: 1767855388624
    signed = ex.sign(path, ["contractPrivate"], method, dict(params))
    query = "" if method == "POST" else encode_query(params)
    body = compact_json(params) if method == "POST" else ""
    ours = sign("s3cr3t", "1767855388624", method, "/" + path, query, body)
    assert signed["headers"]["ACCESS-SIGN"] == ours
    assert signed["url"].endswith("/" + path + (f"?{query}" if query else ""))
    assert (signed["body"] or "") == body


def test_ccxt_speaks_to_the_fake(fake: FakeWeex) -> None:
    ex = ccxt.weex(
        {
            "apiKey": fake.api_key,
            "secret": fake.secret,
            "password": fake.passphrase,
            "enableRateLimit": False,
            "options": {"defaultType": "swap"},
        }
    )
    for k in ("public", "private", "contract", "contractPrivate"):
        ex.urls["api"][k] = fake.base_url
    real_fetch = ex.fetch

    def guarded(url: str, *args: Any, **kwargs: Any) -> Any:
        assert url.startswith(fake.base_url), url
        return real_fetch(url, *args, **kwargs)

    ex.fetch = guarded
    markets = ex.load_markets()
    btc = markets["BTC/USDT:USDT"]
    assert btc["precision"]["price"] == 0.1
    assert btc["precision"]["amount"] == 0.0001
    assert markets["DOGE/USDT:USDT"]["precision"]["amount"] == 1  # quantityPrecision 0 (v3 table)
    assert ex.fetch_balance()["USDT"]["total"] == 1000
    assert ex.fetch_positions() == []
    order = ex.create_order(
        "BTC/USDT:USDT",
        "market",
        "buy",
        0.01,
        None,
        {"takeProfit": {"triggerPrice": 97000}, "stopLoss": {"triggerPrice": 90000}},
    )
    assert order["id"]
    (pos,) = ex.fetch_positions()
    assert pos["side"] == "long"
    assert pos["contracts"] == 0.01
    assert pos["entryPrice"] == 92851.8
    # As in ccxt's recordings: the attached stop is listed with the trigger orders, the attached
    # take-profit only by order detail and history.
    legs = ex.fetch_open_orders("BTC/USDT:USDT", None, None, {"trigger": True})
    assert [(o["stopLossPrice"], o["takeProfitPrice"]) for o in legs] == [(90000, None)]
    tp_id = next(o.order_id for o in fake.venue._acct.orders if o.kind == "tp")
    tp = ex.fetch_order(tp_id, "BTC/USDT:USDT")
    assert tp["takeProfitPrice"] == 97000
    assert tp["status"] == "open"
    assert tp["reduceOnly"] is True
    limit = ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.001, 80000.04)
    (open_order,) = ex.fetch_open_orders("BTC/USDT:USDT")
    assert open_order["id"] == limit["id"]
    assert open_order["price"] == 80000.0
    ex.cancel_order(limit["id"], "BTC/USDT:USDT")
    assert ex.fetch_open_orders("BTC/USDT:USDT") == []
    ex.cancel_order(legs[0]["id"], "BTC/USDT:USDT", {"trigger": True})
    assert ex.fetch_open_orders("BTC/USDT:USDT", None, None, {"trigger": True}) == []
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("700000000000000999", "BTC/USDT:USDT")
    assert ex.fetch_ticker("BTC/USDT:USDT")["last"] == 92851.8
    ex.close_position("BTC/USDT:USDT", "long")
    assert ex.fetch_positions() == []
    assert fake.counts["POST /capi/v3/closePositions"] == 1
    bad = ccxt.weex(
        {
            "apiKey": fake.api_key,
            "secret": "wrong",
            "password": fake.passphrase,
            "options": {"defaultType": "swap"},
        }
    )
    for k in ("public", "private", "contract", "contractPrivate"):
        bad.urls["api"][k] = fake.base_url
    with pytest.raises(ccxt.AuthenticationError):
        bad.fetch_balance()
    assert fake.venue.table["BTCUSDT"].tick_size == Decimal("0.1")

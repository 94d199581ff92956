"""Per-endpoint success rules of the WEEX client over a scripted transport (no network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.config import Settings
from smt_engine.domain import EventLevel, HealthStatus
from smt_engine.exchange.base import AiLogUpload, ExchangeError, ExchangeUnavailable, PermissionDenied
from smt_engine.exchange.precision import quoted_increment
from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex.limiter import DEFAULT_WEIGHT_BUDGET
from smt_engine.exchange.weex.parsing import leg_kind
from smt_engine.store import Store

LOG = AiLogUpload(stage="s", model="m", input={}, output={}, explanation="e")
ALGO_ROW = {
    "algoId": "77",
    "symbol": "BTCUSDT",
    "positionSide": "LONG",
    "triggerPrice": "97000",
    "quantity": "0.01",
    "algoStatus": "UNTRIGGERED",
    "createTime": "1775753432392",
    "updateTime": "1775753432392",
}


def scripted(routes: dict[str, Callable[[httpx.Request], httpx.Response]], **kw: Any) -> WeexClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": 1_775_753_432_000})
        return routes[f"{request.method} {request.url.path}"](request)

    return WeexClient(
        api_key="k",
        api_secret="s",
        passphrase="p",
        transport=httpx.MockTransport(handle),
        limiter=WeightLimiter(100_000),
        read_retries=0,
        wall_ms=lambda: 1_775_753_432_000,
        **kw,
    )


def answer(status: int, body: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _r: httpx.Response(status, content=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, {"code": "200", "msg": "success"}, ExchangeError),  # a success code, not uploadAiLog's
        (200, {"data": "upload success"}, ExchangeError),
        (200, {"code": "-1055", "msg": "API permission disabled"}, PermissionDenied),
        (400, {"code": "00000", "msg": "success"}, ExchangeError),  # non-2xx is never success
        (403, {"error": "Forbidden"}, PermissionDenied),
    ],
)
async def test_ai_log_success_is_only_the_documented_code(status: int, body: Any, error: type) -> None:
    client = scripted({"POST /capi/v3/order/uploadAiLog": answer(status, body)})
    with pytest.raises(error):
        await client.upload_ai_log(LOG)


async def test_ai_log_success() -> None:
    ok = {"code": "00000", "msg": "success", "requestTime": 1, "data": "upload success"}
    client = scripted({"POST /capi/v3/order/uploadAiLog": answer(200, ok)})
    await client.upload_ai_log(LOG)


@pytest.mark.parametrize("body", [{}, {"orderId": "5"}, [], {"success": "true"}])
async def test_a_cancel_counts_only_when_confirmed(body: Any) -> None:
    client = scripted(
        {"DELETE /capi/v3/order": answer(200, body), "DELETE /capi/v3/algoOrder": answer(200, body)}
    )
    with pytest.raises(ExchangeUnavailable, match="does not confirm"):
        await client.cancel_order("BTCUSDT", order_id="5")
    with pytest.raises(ExchangeUnavailable, match="does not confirm"):
        await client.cancel_algo_order("BTCUSDT", "5")


async def test_set_leverage_needs_the_documented_echo() -> None:
    client = scripted({"POST /capi/v3/account/leverage": answer(200, {"code": "00000", "msg": "ok"})})
    with pytest.raises(ExchangeUnavailable, match="does not confirm"):
        await client.set_leverage("BTCUSDT", 5, "cross")


def test_tp_sl_kind_comes_from_explicit_fields_only() -> None:
    assert leg_kind({"orderType": "TAKE_PROFIT_MARKET"}) == "tp"
    assert leg_kind({"type": "TAKE_PROFIT"}) == "tp"
    assert leg_kind({"planType": "STOP_LOSS"}) == "sl"
    assert leg_kind({"orderType": "STOP_MARKET"}) == "sl"
    assert leg_kind({"orderType": "MARKET"}) is None
    assert leg_kind({"orderType": "TRAILING"}) is None


async def test_an_unclassified_leg_is_confirmed_by_order_detail() -> None:
    detail = {
        **ALGO_ROW,
        "orderId": "77",
        "type": "TAKE_PROFIT_MARKET",
        "origQty": "0.01",
        "stopPrice": "97000",
    }
    client = scripted(
        {
            "GET /capi/v3/openAlgoOrders": answer(200, [{**ALGO_ROW, "orderType": "MARKET"}]),
            "GET /capi/v3/order": answer(200, detail),
            "GET /capi/v3/account/position/allPosition": answer(200, []),
        }
    )
    (leg,) = await client.open_algo_orders()
    assert (leg.order_id, leg.kind, leg.trigger_price) == ("77", "tp", D(97000))


async def test_a_leg_no_field_classifies_is_not_trusted_as_a_stop() -> None:
    detail = {**ALGO_ROW, "orderId": "77", "type": "MARKET", "origQty": "0.01", "reduceOnly": True}
    stop = {**ALGO_ROW, "algoId": "78", "orderType": "STOP_MARKET"}
    client = scripted(
        {
            "GET /capi/v3/openAlgoOrders": answer(200, [{**ALGO_ROW, "orderType": "MARKET"}, stop]),
            "GET /capi/v3/order": answer(200, detail),
            "GET /capi/v3/account/position/allPosition": answer(200, []),
        }
    )
    legs = await client.open_algo_orders()
    assert [(leg.order_id, leg.kind) for leg in legs] == [("78", "sl")], "77 left out, the others kept"


async def test_a_known_leg_the_venue_no_longer_knows_is_forgotten() -> None:
    """A leg learned elsewhere (the stream) and listed nowhere is asked for by id once; "not found" means
    gone: not returned, and not asked for again."""
    asked: list[str] = []

    def detail(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["orderId"])
        return httpx.Response(400, json={"code": "-3200", "msg": "Order does not exist"})

    client = scripted(
        {
            "GET /capi/v3/openAlgoOrders": answer(200, []),
            "GET /capi/v3/order": detail,
            "GET /capi/v3/account/position/allPosition": answer(200, []),
        }
    )
    client.note_leg("55", "BTCUSDT")
    assert await client.open_algo_orders() == []
    assert await client.open_algo_orders() == []
    assert asked == ["55"]


async def test_a_known_leg_order_detail_confirms_is_cancelled_as_an_order() -> None:
    """A leg only order detail shows (an attached take-profit) is an order at WEEX: its cancel goes to
    ``/capi/v3/order`` first, not to the algo endpoint that does not know it."""
    detail = {
        **ALGO_ROW,
        "orderId": "55",
        "type": "TAKE_PROFIT_MARKET",
        "origQty": "0.01",
        "stopPrice": "97000",
        "status": "NEW",
    }
    deleted: list[str] = []

    def delete(request: httpx.Request) -> httpx.Response:
        deleted.append(request.url.path)
        return httpx.Response(200, json={"orderId": "55", "success": True})

    client = scripted(
        {
            "GET /capi/v3/openAlgoOrders": answer(200, []),
            "GET /capi/v3/order": answer(200, detail),
            "GET /capi/v3/account/position/allPosition": answer(200, []),
            "DELETE /capi/v3/order": delete,
            "DELETE /capi/v3/algoOrder": delete,
        }
    )
    client.note_leg("55", "BTCUSDT")
    (leg,) = await client.open_algo_orders()
    assert (leg.order_id, leg.symbol, leg.kind, leg.trigger_price) == ("55", "BTCUSDT", "tp", D(97000))
    await client.cancel_algo_order("BTCUSDT", "55")
    assert deleted == ["/capi/v3/order"]


async def test_a_leg_listed_once_is_confirmed_by_id_on_a_read_of_its_symbol() -> None:
    """Once a listing showed a leg, a later read of its symbol that no listing answers asks for it by id."""
    stop = {**ALGO_ROW, "algoId": "78", "orderType": "STOP_MARKET", "triggerPrice": "90000"}
    listed: list[dict[str, Any]] = [stop]
    detail = {**stop, "orderId": "78", "type": "STOP_MARKET", "origQty": "0.01", "status": "NEW"}
    detail["stopPrice"] = "90000"
    client = scripted(
        {
            "GET /capi/v3/openAlgoOrders": lambda _r: httpx.Response(200, json=listed),
            "GET /capi/v3/order": answer(200, detail),
            "GET /capi/v3/account/position/allPosition": answer(200, []),
        }
    )
    assert [leg.order_id for leg in await client.open_algo_orders()] == ["78"]
    listed.clear()
    legs = await client.open_algo_orders("BTCUSDT")
    assert [(leg.order_id, leg.symbol, leg.kind, leg.trigger_price) for leg in legs] == [
        ("78", "BTCUSDT", "sl", D(90000))
    ]


async def test_an_unclassified_leg_is_warned_once_and_its_health_clears_when_gone(tmp_path: Path) -> None:
    odd = {**ALGO_ROW, "orderType": "TRAILING_MARKET"}
    detail = {**odd, "orderId": "77", "type": "TRAILING_MARKET", "origQty": "0.01", "reduceOnly": True}
    listed: list[dict[str, Any]] = [odd]
    store = Store.open(tmp_path / "smt.db")
    client = scripted(
        {
            "GET /capi/v3/openAlgoOrders": lambda _r: httpx.Response(200, json=listed),
            "GET /capi/v3/order": answer(200, detail),
            "GET /capi/v3/account/position/allPosition": answer(200, []),
        },
        store=store,
        clock=SimulatedClock(datetime(2026, 1, 14, tzinfo=UTC)),
    )
    assert await client.open_algo_orders() == []
    assert await client.open_algo_orders() == []
    events = store.events.of_kind("exchange.leg_unclassified")
    assert len(events) == 1
    assert events[0].level is EventLevel.WARNING
    assert events[0].message == (
        "TP/SL order 77 on BTCUSDT: neither the list nor its detail says take-profit or stop-loss; "
        "it is not counted as protection (check it in the WEEX UI)"
    )
    assert events[0].data == {"order_id": "77", "symbol": "BTCUSDT"}
    health = store.health.get("exchange.legs")
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert "77" in health.detail
    listed.clear()
    assert await client.open_algo_orders() == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert health.status is HealthStatus.OK
    assert len(store.events.of_kind("exchange.leg_unclassified")) == 1
    store.close()


def test_limiter_budget_is_80_percent_of_weex_limit_and_a_setting() -> None:
    assert DEFAULT_WEIGHT_BUDGET == 400
    assert WeightLimiter().capacity == 400
    assert Settings().exchange.rate_limit_weight == 400
    assert Settings.model_validate({"exchange": {"rate_limit_weight": 250}}).exchange.rate_limit_weight == 250


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "INVALID_ARGUMENT: The order size must be greater than 0 and matches the stepSize '10'",
            ("size", D(10)),
        ),
        (
            "The buy long order take profit param triggerPrice must matches the stepSize '0.1'",
            ("price", D("0.1")),
        ),
        ("DECIMAL_PRECISION_ERROR: quantity must be a multiple of stepSize: 0.001", ("size", D("0.001"))),
        ("Decimal precision incorrect, quantityPrecision=3", ("size", D("0.001"))),
        ('Decimal precision incorrect: price tickSize "0.5"', ("price", D("0.5"))),
        ("Decimal precision incorrect, pricePrecision: 1", ("price", D("0.1"))),
        ("Decimal precision incorrect", None),
    ],
)
def test_step_safety_net_reads_v2_and_v3_texts(message: str, expected: object) -> None:
    assert quoted_increment(message) == expected

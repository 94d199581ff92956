"""The WEEX client's TP/SL leg read, value by value (docs/benchmarks.md, mutation testing): the
every-symbol read's order-history spacing, and the unknown-kind warning a one-symbol read cannot clear.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from smt_engine.clock import SimulatedClock
from smt_engine.domain import HealthStatus
from smt_engine.store import Store
from tests.unit.exchange.conftest import weex_position
from tests.unit.exchange.test_weex_as_documented import NOW, Venue

POSITION = weex_position("1")
"""The id as a string; ``test_mutants_weex_client`` serves it as a number: WEEX documents both forms and
both must keep being read, so the two rows stay apart."""
TRAILING = {
    "algoId": "77",
    "symbol": "BTCUSDT",
    "orderType": "TRAILING_MARKET",
    "positionSide": "LONG",
    "triggerPrice": "97000",
    "quantity": "0.01",
    "algoStatus": "UNTRIGGERED",
    "createTime": "1775753432392",
    "updateTime": "1775753432392",
}


def history_reads(venue: Venue) -> list[str]:
    """The symbols whose order history was asked, in order."""
    return [r.url.params["symbol"] for r in venue.seen if r.url.path == "/capi/v3/order/history"]


async def test_the_every_symbol_leg_read_takes_each_symbols_order_history_at_most_every_ten_seconds() -> None:
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [],
            "GET /capi/v3/account/position/allPosition": [POSITION],
            "GET /capi/v3/order/history": [],
        }
    )
    client = venue.client()
    clock = client.clock
    assert isinstance(clock, SimulatedClock)
    assert await client.open_algo_orders() == []
    assert history_reads(venue) == ["BTCUSDT"]
    await clock.advance(5)
    venue.routes["GET /capi/v3/account/position/allPosition"] = [POSITION, POSITION | {"symbol": "ETHUSDT"}]
    await client.positions()  # the list the next leg read uses
    assert await client.open_algo_orders() == []
    assert history_reads(venue) == ["BTCUSDT", "ETHUSDT"], "BTCUSDT read 5 s ago; ETHUSDT never"
    await clock.advance(4.9)
    assert await client.open_algo_orders() == []
    assert history_reads(venue) == ["BTCUSDT", "ETHUSDT"], "BTCUSDT read 9.9 s ago: not again"
    await clock.advance(0.1)
    assert await client.open_algo_orders() == []
    assert history_reads(venue) == ["BTCUSDT", "ETHUSDT", "BTCUSDT"], "10 s on: read again"
    await client.aclose()


async def test_a_one_symbol_read_without_unknown_legs_leaves_another_symbols_warning_standing(
    tmp_path: Path,
) -> None:
    """A read of ETHUSDT's legs cannot say BTCUSDT's unknown-kind leg is gone: the health row stays WARN
    until an every-symbol read no longer lists it."""

    def listed(request: httpx.Request) -> list[dict[str, Any]]:
        return [] if request.url.params.get("symbol") == "ETHUSDT" else [TRAILING]

    detail = {**TRAILING, "orderId": "77", "type": "TRAILING_MARKET", "origQty": "0.01", "reduceOnly": True}
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": listed,
            "GET /capi/v3/order": detail,
            "GET /capi/v3/account/position/allPosition": [],
        }
    )
    store = Store.open(tmp_path / "smt.db")
    client = venue.client(store=store)
    assert await client.open_algo_orders() == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert await client.open_algo_orders("ETHUSDT") == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert health.status is HealthStatus.WARN
    assert "77" in health.detail
    await client.aclose()
    store.close()


async def test_a_known_leg_cancelled_while_the_read_asks_for_it_is_dropped_without_an_error() -> None:
    """The monitor cancels a closed position's sibling while the tick's leg read is under way: the read
    asking for that leg by id learns it is gone after the cancel already forgot it, and returns."""
    asked = asyncio.Event()
    answer_now = asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        if route == "GET /capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": int(NOW.timestamp() * 1000)})
        if route == "GET /capi/v3/order":
            asked.set()
            await answer_now.wait()
            return httpx.Response(400, json={"code": "-3200", "msg": "Order does not exist"})
        if route == "DELETE /capi/v3/algoOrder":
            return httpx.Response(200, json={"orderId": "55", "success": True, "errorCode": ""})
        return httpx.Response(200, json=[])  # openAlgoOrders, allPosition

    client = Venue({}).client(transport=httpx.MockTransport(handle))
    client.note_leg("55", "BTCUSDT")
    reading = asyncio.ensure_future(client.open_algo_orders())
    waiting = asyncio.ensure_future(asked.wait())
    await asyncio.wait([reading, waiting], return_when=asyncio.FIRST_COMPLETED)
    assert asked.is_set(), "the read asks for the known leg by id"
    assert not reading.done(), "the read asks for the known leg by id"
    await client.cancel_algo_order("BTCUSDT", "55")
    answer_now.set()
    assert await reading == []
    await client.aclose()

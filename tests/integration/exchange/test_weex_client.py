"""WeexClient against the fake WEEX server: flow, precision cache, typed errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import (
    AiLogUpload,
    AuthError,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    VenuePrecisionError,
)
from smt_engine.exchange.precision import PrecisionError
from smt_engine.exchange.weex import WeexClient
from smt_engine.store import Store
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for

D = Decimal


def btc_entry(
    cid: str, size: str = "0.01", tp: str | None = "97000", sl: str | None = "90000"
) -> OrderRequest:
    return OrderRequest(
        "BTCUSDT", Side.LONG, D(size), cid, tp_price=D(tp) if tp else None, sl_price=D(sl) if sl else None
    )


async def test_full_flow_tp_fires_and_history_explains_the_close(fake: FakeWeex, client: WeexClient) -> None:
    contracts = await client.contracts(["BTCUSDT", "DOGEUSDT"])
    # The fake's v3 table: v3 states steps as decimal counts, so DOGE's v2 step of 100 is 1 (weex_shapes).
    assert contracts["DOGEUSDT"].step_size == D(1)
    assert contracts["BTCUSDT"].tick_size == D("0.1")
    await client.set_leverage("BTCUSDT", 10, "cross")
    placed = await client.place_order(btc_entry("smt-a-1-entry"))
    (pos,) = await client.positions()
    assert (pos.symbol, pos.side, pos.size, pos.entry_price) == (
        "BTCUSDT",
        Side.LONG,
        D("0.01"),
        D("92851.8"),
    )
    assert pos.leverage == D(10)
    legs = await client.open_algo_orders("BTCUSDT")
    assert sorted(a.kind for a in legs) == ["sl", "tp"]
    # The attached SL is listed with its parent; the attached TP is found through order history.
    assert {a.kind: a.parent_order_id for a in legs} == {"sl": placed.order_id, "tp": None}
    fake.set_price("BTCUSDT", D("96000"), high=D("97100"))
    assert await client.positions() == []
    history = await client.order_history("BTCUSDT")
    tp = next(o for o in history if o.kind == "tp")
    assert tp.status is OrderStatus.FILLED
    assert tp.trigger_price == D("97000")
    fills = await client.fills("BTCUSDT")
    assert fills[0].realized_pnl == D("41.482")  # (97000 - 92851.8) * 0.01
    assert fills[0].fee > 0
    # The SL leg stays behind like on WEEX; cancel_all cleans it.
    assert [a.kind for a in await client.open_algo_orders("BTCUSDT")] == ["sl"]
    assert await client.cancel_all("BTCUSDT") == 1
    bal = await client.balance()
    assert bal.asset == "USDT"
    assert bal.balance > D(1000)


async def test_the_legs_asked_for_one_symbol_are_that_symbols_only(
    fake: FakeWeex, client: WeexClient
) -> None:
    """A caller that cancels what it is given (closing, protection) must never get another pair's legs."""
    await client.place_order(btc_entry("smt-b-1-entry"))
    await client.place_order(
        OrderRequest("ETHUSDT", Side.LONG, D("0.1"), "smt-e-1-entry", sl_price=D("3000"))
    )
    btc = await client.open_algo_orders("BTCUSDT")
    assert sorted((a.symbol, a.kind) for a in btc) == [("BTCUSDT", "sl"), ("BTCUSDT", "tp")]
    eth = await client.open_algo_orders("ETHUSDT")
    assert [(a.symbol, a.kind, a.trigger_price) for a in eth] == [("ETHUSDT", "sl", D("3000"))]
    assert sorted(a.symbol for a in await client.open_algo_orders()) == ["BTCUSDT", "BTCUSDT", "ETHUSDT"]


async def test_contracts_cached_in_store_with_ttl(fake: FakeWeex, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    c1 = client_for(fake, store=store)
    await c1.contracts(["SOLUSDT"])
    assert fake.counts["GET /capi/v3/market/exchangeInfo"] == 1
    saved = store.contracts.load("SOLUSDT")
    assert saved is not None
    assert saved[0].step_size == D("0.1")
    c2 = client_for(fake, store=store)  # a restart: served from the store
    assert (await c2.contracts(["SOLUSDT"]))["SOLUSDT"].tick_size == D("0.01")
    assert fake.counts["GET /capi/v3/market/exchangeInfo"] == 1
    assert (await c2.contracts(None))["SOLUSDT"].step_size == D("0.1")
    assert fake.counts["GET /capi/v3/market/exchangeInfo"] == 2, (
        "the load of every contract goes past the cache"
    )
    c3 = client_for(fake, store=store, contracts_ttl=timedelta(0))
    await c3.contracts(["SOLUSDT"])
    assert fake.counts["GET /capi/v3/market/exchangeInfo"] == 3
    for c in (c1, c2, c3):
        await c.aclose()


async def test_quoted_step_in_rejection_updates_the_cache(fake: FakeWeex, tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    stale = Contract("SOLUSDT", D("0.01"), D("0.01"), D("0.01"))
    store.contracts.save(stale, datetime.now(UTC))
    client = client_for(fake, store=store)
    with pytest.raises(VenuePrecisionError, match=r"stepSize '0\.1'"):
        await client.place_order(OrderRequest("SOLUSDT", Side.LONG, D("0.73"), "sol-1"))
    learned = store.contracts.load("SOLUSDT")
    assert learned is not None
    assert learned[0].step_size == D("0.1")
    # Re-sized on the learned step, the same intent is accepted.
    await client.place_order(OrderRequest("SOLUSDT", Side.LONG, D("0.7"), "sol-2"))
    await client.aclose()


async def test_local_checks_refuse_before_sending(fake: FakeWeex, client: WeexClient) -> None:
    with pytest.raises(PrecisionError) as err:
        await client.place_order(btc_entry("x1", tp="92000"))  # TP below a long's price
    assert err.value.code == "tp_wrong_side"
    with pytest.raises(PrecisionError) as err:
        await client.place_order(btc_entry("x2", size="0.00005"))
    assert err.value.code in {"size_step", "below_min_size"}
    with pytest.raises(PrecisionError) as err:
        await client.place_order(btc_entry("x3", tp="97000.05"))
    assert err.value.code == "price_tick"
    with pytest.raises(InvalidOrder):
        await client.place_order(btc_entry("bad id with spaces"))
    assert fake.counts["POST /capi/v3/order"] == 0


async def test_server_side_errors_map_to_typed_errors(fake: FakeWeex, client: WeexClient) -> None:
    # TP on the wrong side, as WEEX itself would answer it (bypassing the local check).
    body = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "positionSide": "LONG",
        "type": "MARKET",
        "quantity": "0.01",
        "newClientOrderId": "raw-1",
        "tpTriggerPrice": "90000",
    }
    with pytest.raises(InvalidOrder, match="take profit param triggerPrice must be greater") as err:
        await client._request("POST", "/capi/v3/order", body=body, order_cid="raw-1")
    assert err.value.code == "-1054"
    body.update(newClientOrderId="raw-2", quantity="0.00001", tpTriggerPrice="97000")
    with pytest.raises(VenuePrecisionError, match=r"stepSize '0\.0001'"):
        await client._request("POST", "/capi/v3/order", body=body, order_cid="raw-2")
    with pytest.raises(OrderNotFound):
        await client.cancel_order("BTCUSDT", order_id="700000000000000999")
    with pytest.raises(OrderNotFound):
        await client.cancel_order("BTCUSDT", client_order_id="never.sent:1/x")
    with pytest.raises(OrderNotFound):
        await client.order("BTCUSDT", "700000000000000999")


async def test_bad_signature_passphrase_and_timestamp(fake: FakeWeex) -> None:
    bad = client_for(fake, api_secret="wrong-secret")
    with pytest.raises(AuthError) as err:
        await bad.balance()
    assert err.value.code == "-1047"
    assert "wrong-secret" not in str(err.value)
    bad_pass = client_for(fake, passphrase="nope")
    with pytest.raises(AuthError) as err:
        await bad_pass.balance()
    assert err.value.code == "-1049"
    # A local clock 2 minutes slow is corrected by the server-time offset.
    skewed = client_for(fake, wall_ms=lambda: int(datetime.now(UTC).timestamp() * 1000) - 120_000)
    assert (await skewed.balance()).balance == D(1000)
    assert 119_000 < (skewed._offset_ms or 0) < 121_000
    fake.faults.timestamp_window = -1  # every timestamp is now "expired"
    with pytest.raises(AuthError) as err:
        await skewed.positions()
    assert err.value.code == "-1046"
    assert fake.counts["GET /capi/v3/market/time"] >= 2  # it resynced once before giving up
    for c in (bad, bad_pass, skewed):
        await c.aclose()


async def test_upload_ai_log_and_close_position(fake: FakeWeex, client: WeexClient) -> None:
    placed = await client.place_order(btc_entry("e-1", tp=None, sl=None))
    await client.upload_ai_log(
        AiLogUpload("Trade Execution", "m", {"a": 1}, {"b": 2}, "x" * 1500, placed.order_id)
    )
    assert fake.ai_logs[0]["orderId"] == int(placed.order_id)
    assert len(fake.ai_logs[0]["explanation"]) == 1000
    closed = await client.close_position("BTCUSDT", Side.LONG, "c-1")
    assert (await client.order("BTCUSDT", closed.order_id)).kind == "close"
    assert await client.positions() == []
    found = await client.find_order("BTCUSDT", "c-1")
    assert found is not None
    assert found.order_id == closed.order_id

"""The fidelity fixes against the fake WEEX over real HTTP: non-2xx is never success, the AI-log path
falls back once and is remembered, attached TP legs are found wherever WEEX reports them."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Side
from smt_engine.exchange.base import (
    AiLogUpload,
    AmbiguousOutcome,
    EndpointNotFound,
    ExchangeError,
    OrderRequest,
)
from smt_engine.exchange.weex import WeexClient
from smt_engine.store import Store
from tests.fakes.weex_server import FakeWeex
from tests.integration.exchange.conftest import client_for

V3 = "/capi/v3/order/uploadAiLog"
V2 = "/capi/v2/order/uploadAiLog"
LOG = AiLogUpload(stage="Decision Making", model="m", input={"a": 1}, output={"b": 2}, explanation="why")


def entry(cid: str, **kw: object) -> OrderRequest:
    return OrderRequest("BTCUSDT", Side.LONG, D("0.01"), cid, **kw)  # type: ignore[arg-type]


def _only_404(fake: FakeWeex, *paths: str) -> None:
    fake.faults = dataclasses.replace(fake.faults, not_found_paths=frozenset(paths))


async def test_a_404_without_code_is_an_error_for_every_endpoint(fake: FakeWeex, client: WeexClient) -> None:
    await client.contracts(["BTCUSDT"])
    await client.place_order(entry("fid-open-1", tp_price=D(97000), sl_price=D(90000)))
    (leg, *_) = await client.open_algo_orders("BTCUSDT")
    calls = {
        "/capi/v3/account/leverage": lambda: client.set_leverage("BTCUSDT", 5, "cross"),
        "/capi/v3/order": lambda: client.cancel_order("BTCUSDT", order_id="1"),
        "/capi/v3/algoOrder": lambda: client.cancel_algo_order("BTCUSDT", leg.order_id),
        "/capi/v3/account/balance": client.balance,
        "/capi/v3/account/position/allPosition": client.positions,
        "/capi/v3/openAlgoOrders": client.open_algo_orders,
        "/capi/v3/placeTpSlOrder": lambda: client.place_tp_sl(
            "BTCUSDT", Side.LONG, "tp", D(99000), D("0.01"), "fid-tp-2"
        ),
    }
    for path, call in calls.items():
        _only_404(fake, path)
        with pytest.raises(EndpointNotFound, match="HTTP 404"):
            await call()
    _only_404(fake, "/capi/v3/order")
    # An unknown path is a clear "not placed", not an ambiguous outcome that needs a lookup.
    with pytest.raises(EndpointNotFound):
        await client.place_order(entry("fid-open-2"))
    _only_404(fake, V3, V2)
    with pytest.raises(EndpointNotFound):
        await client.upload_ai_log(LOG)
    assert fake.ai_logs == []


async def test_ai_log_404_tries_the_other_path_once_and_remembers_it(fake: FakeWeex, tmp_path: Path) -> None:
    fake.faults = dataclasses.replace(fake.faults, ai_log_paths=frozenset({V2}))
    store = Store.open(tmp_path / "smt.db")
    client = client_for(fake, store=store, clock=SimulatedClock())
    assert client.ai_log_path == V3
    await client.upload_ai_log(LOG)
    await client.upload_ai_log(LOG)
    assert (fake.counts[f"POST {V3}"], fake.counts[f"POST {V2}"]) == (1, 2)
    assert len(fake.ai_logs) == 2
    assert store.venue_facts.value("weex.ai_log_path") == V2
    restarted = client_for(fake, store=store, clock=SimulatedClock())
    assert restarted.ai_log_path == V2
    await restarted.upload_ai_log(LOG)
    assert fake.counts[f"POST {V3}"] == 1
    await client.aclose()
    await restarted.aclose()


async def test_the_ai_log_path_setting_is_used(fake: FakeWeex) -> None:
    fake.faults = dataclasses.replace(fake.faults, ai_log_paths=frozenset({V2}))
    client = client_for(fake, ai_log_path=V2)
    await client.upload_ai_log(LOG)
    assert fake.counts[f"POST {V3}"] == 0
    assert len(fake.ai_logs) == 1
    await client.aclose()


async def test_attached_tp_reported_only_by_order_detail_is_confirmed(fake: FakeWeex) -> None:
    fake.faults = dataclasses.replace(fake.faults, attached_tp_in_history=False)
    client = client_for(fake)
    placed = await client.place_order(entry("fid-att-1", tp_price=D(97000), sl_price=D(90000)))
    tp_id = next(o.order_id for o in fake.venue._acct.orders if o.kind == "tp")
    assert [a.kind for a in await client.open_algo_orders("BTCUSDT")] == ["sl"]
    client.note_leg(tp_id, "BTCUSDT")  # e.g. from the private stream's order event
    legs = {a.kind: a for a in await client.open_algo_orders("BTCUSDT")}
    assert legs["tp"].order_id == tp_id
    assert legs["tp"].trigger_price == D(97000)
    assert legs["sl"].parent_order_id == placed.order_id
    # Still confirmed by id on the next read, without the hint.
    assert sorted(a.kind for a in await client.open_algo_orders()) == ["sl", "tp"]
    await client.cancel_algo_order("BTCUSDT", tp_id)
    assert [a.kind for a in await client.open_algo_orders()] == ["sl"]
    await client.aclose()


async def test_attached_tp_listed_only_in_history_is_found_and_not_duplicated(fake: FakeWeex) -> None:
    client = client_for(fake)
    await client.place_order(entry("fid-att-2", tp_price=D(97000), sl_price=D(90000)))
    legs = await client.open_algo_orders()
    assert sorted(a.kind for a in legs) == ["sl", "tp"]
    assert fake.counts["GET /capi/v3/order/history"] >= 1
    found = await client.find_order("BTCUSDT", "fid-att-2")
    assert found is not None
    assert found.kind == "entry"
    await client.aclose()


async def test_unknown_paths_on_the_fake_answer_404_without_code(fake: FakeWeex, client: WeexClient) -> None:
    with pytest.raises(EndpointNotFound) as err:
        await client._request("GET", "/capi/v3/doesNotExist")
    assert isinstance(err.value.raw, dict)
    assert "code" not in err.value.raw
    with pytest.raises(ExchangeError, match="not supported"):
        await client._request("POST", "/capi/v3/openOrders", body={})
    assert not isinstance(err.value, AmbiguousOutcome)

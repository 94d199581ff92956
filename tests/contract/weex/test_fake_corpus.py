"""The fake WEEX against the corpus: every documented or recorded field is served, in the documented
envelope, over REST and over both websockets (pushes, pings, PONG forms, refusals, missed pongs)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal as D
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from smt_engine.domain import Side
from smt_engine.exchange.base import OrderRequest
from smt_engine.exchange.weex import WeexClient, WeightLimiter
from smt_engine.exchange.weex.streams import PRIVATE_PATH, PUBLIC_PATH, ws_sign
from tests.contract.weex.corpus import cases, example, missing_keys, row
from tests.fakes.weex_server import FakeWeex

REST = cases("rest")
WS = cases("ws")
GUARD = 30.0  # real seconds: a hang guard only


@pytest.fixture
def fake() -> Iterator[FakeWeex]:
    with FakeWeex() as server:
        yield server


@pytest.fixture
async def client(fake: FakeWeex) -> AsyncIterator[WeexClient]:
    c = WeexClient(
        api_key=fake.api_key,
        api_secret=fake.secret,
        passphrase=fake.passphrase,
        base_url=fake.base_url,
        limiter=WeightLimiter(),
        read_retries=0,
    )
    yield c
    await c.aclose()


async def raw(
    client: WeexClient, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any
) -> Any:
    signed = not path.startswith("/capi/v3/market/")
    return await client._request(method, path, params=params, signed=signed, envelope=False, **kw)


async def trade(client: WeexClient) -> None:
    """An entry with attached TP/SL (filled at once) and a resting limit order far from the market."""
    await client.place_order(
        OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "corpus-1", tp_price=D(99000), sl_price=D(85000))
    )
    await client.place_order(
        OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "corpus-2", order_type="LIMIT", price=D(50000))
    )


async def test_rest_answers_carry_every_documented_field(fake: FakeWeex, client: WeexClient) -> None:
    leverage = await raw(
        client, "POST", "/capi/v3/account/leverage", body={"symbol": "BTCUSDT", "crossLeverage": "5"}
    )
    await trade(client)
    served = {
        "server_time": await raw(client, "GET", "/capi/v3/market/time"),
        "exchange_info_symbol": (await raw(client, "GET", "/capi/v3/market/exchangeInfo"))["symbols"],
        "ticker_24hr": await raw(client, "GET", "/capi/v3/market/ticker/24hr", {"symbol": "BTCUSDT"}),
        "balance": await raw(client, "GET", "/capi/v3/account/balance"),
        "position": await raw(client, "GET", "/capi/v3/account/position/allPosition"),
        "open_order": await raw(client, "GET", "/capi/v3/openOrders", {"symbol": "BTCUSDT"}),
        "history_order": await raw(client, "GET", "/capi/v3/order/history", {"symbol": "BTCUSDT"}),
        "open_algo_order": await raw(client, "GET", "/capi/v3/openAlgoOrders", {"symbol": "BTCUSDT"}),
        "user_trade": await raw(client, "GET", "/capi/v3/userTrades", {"symbol": "BTCUSDT"}),
        "leverage": leverage,
    }
    (resting,) = await client.open_orders("BTCUSDT")
    served["cancel_order"] = await raw(client, "DELETE", "/capi/v3/order", {"orderId": resting.order_id})
    for case_id, answer in served.items():
        documented = example("rest", case_id)
        array = REST[case_id]["endpoint"].endswith("[]") or isinstance(documented, list)  # "[]": a row of one
        assert isinstance(answer, list) == array, f"{case_id}: array or object as documented"
        assert not missing_keys(row(documented), row(answer)), (
            f"{case_id} lacks {missing_keys(row(documented), row(answer))}"
        )


async def test_exchange_info_is_a_v3_table(client: WeexClient) -> None:
    body = await raw(client, "GET", "/capi/v3/market/exchangeInfo")
    for symbol in body["symbols"]:
        assert int(symbol["pricePrecision"]) >= 0, symbol["symbol"]
        assert int(symbol["quantityPrecision"]) >= 0, symbol["symbol"]
        assert D(str(symbol["contractVal"])) == D(1).scaleb(-int(symbol["quantityPrecision"])), symbol[
            "symbol"
        ]


async def test_errors_and_the_ai_log_answer_as_documented(fake: FakeWeex, client: WeexClient) -> None:
    with pytest.raises(Exception, match="-1140"):
        await raw(client, "DELETE", "/capi/v3/order", {})
    body = {"stage": "s", "model": "m", "input": {}, "output": {}, "explanation": "e"}
    answer = await raw(client, "POST", "/capi/v3/order/uploadAiLog", body=body)
    assert answer["code"] == REST["upload_ai_log_v3"]["success_code"] == 0
    assert not isinstance(answer["code"], str)
    fake.faults.ai_log_code = "00000"
    answer = await raw(client, "POST", "/capi/v3/order/uploadAiLog", body=body)
    assert not missing_keys(example("rest", "upload_ai_log_v2"), answer)
    assert answer["code"] == "00000"


# --------------------------------------------------------------------------- websockets


async def open_ws(fake: FakeWeex, private: bool) -> ClientConnection:
    headers: dict[str, str] = {}
    if private:
        ts = str(int(time.time() * 1000))
        headers = {
            "ACCESS-KEY": fake.api_key,
            "ACCESS-PASSPHRASE": fake.passphrase,
            "ACCESS-TIMESTAMP": ts,
            "ACCESS-SIGN": ws_sign(fake.secret, ts),
        }
    url = fake.ws_url + (PRIVATE_PATH if private else PUBLIC_PATH)
    return await connect(url, additional_headers=headers, user_agent_header="corpus-test")


async def frames(ws: ClientConnection, want: int, pred: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(GUARD):
        while len(out) < want:
            frame = json.loads(await ws.recv())
            if pred(frame):
                out.append(frame)
    return out


async def subscribe(ws: ClientConnection, rid: str, channels: list[str]) -> dict[str, Any]:
    await ws.send(json.dumps({"id": rid, "method": "SUBSCRIBE", "params": channels}))
    (ack,) = await frames(ws, 1, lambda f: str(f.get("id")) == rid)
    return ack


async def test_private_pushes_carry_every_recorded_field(fake: FakeWeex, client: WeexClient) -> None:
    ws = await open_ws(fake, private=True)
    for n, channel in enumerate(["orders", "fill", "positions", "account"], 1):
        ack = await subscribe(ws, str(n), [channel])
        assert ack["result"] is True
        assert set(ack) == set(example("ws", "subscribe_ack"))
    await trade(client)
    seen: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(GUARD):
        while len(seen) < 4:
            frame = json.loads(await ws.recv())
            if frame.get("e") in ("orders", "fill", "positions", "account"):
                seen.setdefault(frame["e"], frame)
    for channel, frame in seen.items():
        documented = example("ws", f"{channel}_push")
        assert not missing_keys(documented, frame), f"{channel} frame lacks {missing_keys(documented, frame)}"
        lacking = missing_keys(row(documented["d"]), row(frame["d"]))
        assert not lacking, f"{channel} row lacks {lacking}"
    await ws.close()


async def test_public_tickers_carry_all_recorded_fields_and_unknown_channels_are_refused(
    fake: FakeWeex,
) -> None:
    ws = await open_ws(fake, private=False)
    refused = await subscribe(ws, "1", ["NOPEUSDT@ticker"])
    assert refused["result"] is False
    assert set(refused) == set(example("ws", "subscribe_refused"))
    assert str(refused["msg"]).startswith("INVALID_ARGUMENT")
    private_on_public = await subscribe(ws, "2", ["orders"])
    assert private_on_public["result"] is False
    assert (await subscribe(ws, "3", ["BTCUSDT@ticker"]))["result"] is True
    fake.set_price("BTCUSDT", D("95001.5"))
    (push,) = await frames(ws, 1, lambda f: f.get("e") == "ticker")
    documented = example("ws", "ticker_push")
    assert not missing_keys(documented, push)
    assert push["s"] == "BTCUSDT"
    assert set(push["d"][0]) == set(documented["d"][0]), "all 14 fields of the recorded ticker"
    await ws.close()


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
async def test_pings_accept_every_pong_form_and_missed_pongs_disconnect(
    fake: FakeWeex, private: bool
) -> None:
    fake.ws.faults.ping_interval = 0.05
    ws = await open_ws(fake, private)
    assert (await subscribe(ws, "1", ["orders"] if private else ["BTCUSDT@ticker"]))["result"] is True
    (ping,) = await frames(ws, 1, lambda f: "ping" in (f.get("event"), f.get("type")))
    assert set(ping) == set(example("ws", "private_ping" if private else "public_ping"))
    for form in ("pong_v3", "pong_v2"):
        await ws.send(json.dumps(example("ws", form)))
    async with asyncio.timeout(GUARD):
        while len(fake.ws.pong_forms) < 2:  # noqa: ASYNC110 - the fake runs on its own thread
            await asyncio.sleep(0.01)
    assert fake.ws.pong_forms == [example("ws", "pong_v3"), example("ws", "pong_v2")]
    # Now stay silent: after the documented number of missed pongs the server hangs up.
    closed = False
    async with asyncio.timeout(GUARD):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed:
            closed = True
    assert closed
    assert fake.ws.missed_pong_closes == 1
    assert WS["limits"]["missed_pongs_before_disconnect"] == fake.ws.faults.max_missed_pongs

"""The WEEX client's reads and housekeeping, value by value (docs/benchmarks.md, mutation testing): the
balance the kill switch counts, open orders and their history, the cancel-all count, the position list a
tick shares, the legs a restart remembers and the legs of unknown kind (the AI log's upload:
``test_mutants_weex_ailog``). Against the scripted WEEX of
``test_weex_as_documented`` answering WEEX's documented examples (tests/contract/weex/rest.json)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import HealthStatus, PositionState, Side
from smt_engine.exchange.base import (
    ExchangeError,
    ExchangeUnavailable,
    OrderStatus,
)
from smt_engine.exchange.weex import client as client_module
from smt_engine.exchange.weex.transport import AI_LOG_PATHS
from smt_engine.store import Store
from smt_engine.store.records import Position
from tests.contract.weex.corpus import example, row
from tests.fakes.weex_shapes import to_ms
from tests.unit.exchange.conftest import weex_position
from tests.unit.exchange.test_weex_as_documented import NOW, Venue

BALANCE = "GET /capi/v3/account/balance"
BALANCE_ROW = row(example("rest", "balance"))
OPEN_ORDER = example("rest", "open_order")
HISTORY_ORDER = example("rest", "history_order")
POSITIONS = "GET /capi/v3/account/position/allPosition"
V3, V2 = AI_LOG_PATHS


def cancelled(order_id: str) -> dict[str, Any]:
    """One item of a cancel answer: WEEX's CancelOrder example (rest.json ``cancel_order``), per order."""
    return example("rest", "cancel_order") | {"orderId": order_id}


# ------------------------------------------------------------------ balance


async def test_the_balance_is_the_usdt_row_of_a_list_or_a_bare_object_and_the_demos_susdt_counts() -> None:
    """Other assets are skipped; a bare object is read like a list of one; the demo account's coin is SUSDT
    (the ``coinId`` of ccxt pro's recorded demo push, tests/integration/test_close_round_trips.py)."""
    other = BALANCE_ROW | {"asset": "BTC", "balance": "1", "availableBalance": "1"}
    listed = Venue({BALANCE: [other, BALANCE_ROW | {"balance": "20.5"}]}).client()
    assert ((await listed.balance()).asset, (await listed.balance()).balance) == ("USDT", D("20.5"))
    bare = Venue({BALANCE: BALANCE_ROW | {"availableBalance": "18.25"}}).client()
    assert (await bare.balance()).available == D("18.25")
    demo = Venue({BALANCE: [other, BALANCE_ROW | {"asset": "SUSDT"}]}).client()
    assert (await demo.balance()).asset == "SUSDT"
    for client in (listed, bare, demo):
        await client.aclose()


async def test_a_balance_row_without_frozen_or_unrealised_pnl_reads_them_as_zero() -> None:
    plain_row = {k: v for k, v in BALANCE_ROW.items() if k not in ("frozen", "unrealizePnl")}
    client = Venue({BALANCE: [plain_row]}).client()
    balance = await client.balance()
    assert (balance.balance, balance.frozen, balance.unrealized_pnl, balance.equity) == (
        D(20),
        D(0),
        D(0),
        D(20),
    )
    await client.aclose()


@pytest.mark.parametrize(
    ("answer", "message", "raw"),
    [
        ([], r"^balance: no USDT row in the answer$", []),
        ([BALANCE_ROW | {"asset": "BTC"}], r"^balance: no USDT row in the answer$", None),
        ([{"asset": "USDT", "balance": "20"}], r"^balance: bad row \('availableBalance'\)$", "row"),
        ([BALANCE_ROW | {"balance": ""}], r"^balance: bad row \(missing decimal\)$", "row"),
    ],
)
async def test_a_balance_without_a_readable_usdt_row_is_an_outage_never_a_figure(
    answer: list[dict[str, Any]], message: str, raw: Any
) -> None:
    """The seed system returned 1000 on any error; a balance is WEEX's figure or an outage."""
    client = Venue({BALANCE: answer}).client()
    with pytest.raises(ExchangeUnavailable, match=message) as caught:
        await client.balance()
    assert caught.value.raw == (answer[0] if raw == "row" else answer)
    await client.aclose()


# ------------------------------------------------------------------ open orders and history


async def test_open_orders_are_asked_for_the_symbol_or_all_and_read_from_weexs_rows() -> None:
    venue = Venue({"GET /capi/v3/openOrders": [OPEN_ORDER]})
    client = venue.client()
    (order,) = await client.open_orders("DOGEUSDT")
    assert (order.order_id, order.client_order_id, order.symbol, order.size, order.price) == (
        "737185556881998184",
        "857e1482-3225-44ce-bc0a-947714c5cabc",
        "DOGEUSDT",
        D(1400),
        D("0.05"),
    )
    assert [len(await client.open_orders())] == [1]
    asked = [dict(r.url.params) for r in venue.seen if r.url.path == "/capi/v3/openOrders"]
    assert asked == [{"symbol": "DOGEUSDT"}, {}]
    await client.aclose()


async def test_a_listing_that_is_not_an_array_is_an_outage_never_no_orders() -> None:
    """Every listing WEEX documents is a bare array: an object, even one holding rows, proves nothing about
    what is open (read as no orders it would cancel nothing stale and re-place a resting stop)."""
    venue = Venue({"GET /capi/v3/openOrders": {"orders": [OPEN_ORDER]}})
    client = venue.client()
    for answer in ({"orders": [OPEN_ORDER]}, {"list": []}, {"total": 0}):
        venue.routes["GET /capi/v3/openOrders"] = answer
        with pytest.raises(ExchangeUnavailable, match=r"^/capi/v3/openOrders: expected a list$") as caught:
            await client.open_orders()
        assert caught.value.raw == answer
    await client.aclose()


async def test_an_unreadable_open_order_is_an_outage_not_a_missing_order() -> None:
    broken = {k: v for k, v in OPEN_ORDER.items() if k != "symbol"}
    client = Venue({"GET /capi/v3/openOrders": [broken]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^unreadable order row \('symbol'\)$") as caught:
        await client.open_orders()
    assert caught.value.raw == broken
    await client.aclose()


async def test_the_order_history_asks_from_since_at_most_1000_and_answers_newest_first_within_the_limit() -> (
    None
):
    older = HISTORY_ORDER | {"orderId": 1, "updateTime": HISTORY_ORDER["updateTime"] - 1000}
    newest = HISTORY_ORDER | {"orderId": 3, "updateTime": HISTORY_ORDER["updateTime"] + 1000}
    venue = Venue({"GET /capi/v3/order/history": [older, HISTORY_ORDER, newest]})
    client = venue.client()
    since = NOW - timedelta(hours=1)
    orders = await client.order_history("DOGEUSDT", since=since, limit=2)
    assert [o.order_id for o in orders] == ["3", "737074389744353640"]
    assert [len(await client.order_history("DOGEUSDT", limit=5000))] == [3]
    await client.order_history("DOGEUSDT", since=since)  # reconcile's call: the default limit
    asked = [dict(r.url.params) for r in venue.seen if r.url.path == "/capi/v3/order/history"]
    assert asked == [
        {"symbol": "DOGEUSDT", "limit": "2", "startTime": str(to_ms(since))},
        {"symbol": "DOGEUSDT", "limit": "1000"},
        {"symbol": "DOGEUSDT", "limit": "100", "startTime": str(to_ms(since))},
    ]
    await client.aclose()


async def test_an_unreadable_history_row_is_an_outage() -> None:
    broken = HISTORY_ORDER | {"origQty": "many"}
    client = Venue({"GET /capi/v3/order/history": [broken]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^unreadable order row \(") as caught:
        await client.order_history("DOGEUSDT")
    assert caught.value.raw == broken
    await client.aclose()


# ------------------------------------------------------------------ cancel all


async def test_cancel_all_empties_both_books_of_that_symbol_and_counts_what_weex_confirmed() -> None:
    """Each answer is a list of per-order items (the fake's ``cancel_many`` answer, WEEX's CancelOrder item
    shape); a bare object (nothing listed) counts none."""
    venue = Venue(
        {
            "DELETE /capi/v3/allOpenOrders": [cancelled("1"), cancelled("2")],
            "DELETE /capi/v3/algoOpenOrders": [cancelled("3")],
        }
    )
    client = venue.client()
    assert await client.cancel_all("BTCUSDT") == 3
    asked = [(r.method, r.url.path, dict(r.url.params)) for r in venue.seen if r.method == "DELETE"]
    assert asked == [
        ("DELETE", "/capi/v3/allOpenOrders", {"symbol": "BTCUSDT"}),
        ("DELETE", "/capi/v3/algoOpenOrders", {"symbol": "BTCUSDT"}),
    ]
    deletes = [r for r in venue.seen if r.method == "DELETE"]
    assert [r.headers.get("Content-Type") for r in deletes] == ["application/json"] * 2, "as WEEX's cancels"
    venue.routes["DELETE /capi/v3/allOpenOrders"] = {"code": "200", "msg": "success"}
    assert await client.cancel_all("BTCUSDT") == 1
    await client.aclose()


# ------------------------------------------------------------------ the tick's position list


async def test_a_leg_read_beside_a_position_read_under_way_waits_for_it_and_sends_none_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One position list a tick: the monitor's read and the legs' read share it (no list read earlier is
    fresh here: the client's clock moves a minute at each look)."""
    ticks = iter(range(0, 6000, 60))
    monkeypatch.setattr(client_module, "time", SimpleNamespace(monotonic=lambda: float(next(ticks))))
    release = asyncio.Event()
    asked_positions = asyncio.Event()
    asked_legs = asyncio.Event()
    served: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        served.append(route)
        if route == "GET /capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": int(NOW.timestamp() * 1000)})
        if route == POSITIONS:
            asked_positions.set()
            await release.wait()
            return httpx.Response(200, json=[weex_position(1)])
        if route == "GET /capi/v3/openAlgoOrders":
            asked_legs.set()
        return httpx.Response(200, json=[])  # openAlgoOrders, order history

    client = Venue({}).client(transport=httpx.MockTransport(handle))
    reading = asyncio.ensure_future(client.positions())
    await asyncio.wait_for(asked_positions.wait(), 5)
    legs = asyncio.ensure_future(client.open_algo_orders())
    await asyncio.wait_for(asked_legs.wait(), 5)
    for _ in range(50):  # the legs' read reaches the position list while the first read still waits
        await asyncio.sleep(0)
    release.set()
    assert await asyncio.wait_for(legs, 5) == []
    assert [p.symbol for p in await reading] == ["BTCUSDT"]
    assert served.count(POSITIONS) == 1
    assert served.count("GET /capi/v3/order/history") == 1, "the shared list's BTCUSDT was read"
    await client.aclose()


async def test_of_two_position_reads_under_way_the_leg_read_shares_the_later_after_the_first_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first read ending must not forget the second, still under way: the legs' read waits for it."""
    ticks = iter(range(0, 6000, 60))
    monkeypatch.setattr(client_module, "time", SimpleNamespace(monotonic=lambda: float(next(ticks))))
    gates = [asyncio.Event(), asyncio.Event()]
    asked: list[asyncio.Event] = [asyncio.Event(), asyncio.Event()]
    served: list[str] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        route = f"{request.method} {request.url.path}"
        served.append(route)
        if route == "GET /capi/v3/market/time":
            return httpx.Response(200, json={"serverTime": int(NOW.timestamp() * 1000)})
        if route == POSITIONS:
            n = served.count(POSITIONS) - 1
            if n < 2:
                asked[n].set()
                await gates[n].wait()
            return httpx.Response(200, json=[weex_position(1)])
        return httpx.Response(200, json=[])  # openAlgoOrders, order history

    client = Venue({}).client(transport=httpx.MockTransport(handle))
    first = asyncio.ensure_future(client.positions())
    await asyncio.wait_for(asked[0].wait(), 5)
    second = asyncio.ensure_future(client.positions())
    await asyncio.wait_for(asked[1].wait(), 5)
    gates[0].set()
    await asyncio.wait_for(first, 5)
    legs = asyncio.ensure_future(client.open_algo_orders())
    for _ in range(50):  # the legs' read reaches the position list while the second read still waits
        await asyncio.sleep(0)
    gates[1].set()
    assert await asyncio.wait_for(legs, 5) == []
    await second
    assert served.count(POSITIONS) == 2, "the legs' read sent none of its own"
    await client.aclose()


async def test_a_position_list_up_to_a_second_old_serves_the_leg_read_and_an_older_one_is_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(client_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    venue = Venue(
        {POSITIONS: [weex_position(1)], "GET /capi/v3/openAlgoOrders": [], "GET /capi/v3/order/history": []}
    )
    client = venue.client()
    await client.positions()
    now[0] = 101.0
    await client.open_algo_orders("BTCUSDT")
    assert [r.url.path for r in venue.seen].count("/capi/v3/account/position/allPosition") == 1
    now[0] = 101.5
    await client.open_algo_orders("BTCUSDT")
    assert [r.url.path for r in venue.seen].count("/capi/v3/account/position/allPosition") == 2
    await client.aclose()


# ------------------------------------------------------------------ legs a restart remembers


def stored(
    symbol: str, *, tp: str | None, sl: str | None, state: PositionState = PositionState.OPEN
) -> Position:
    return Position(
        symbol=symbol,
        side=Side.LONG,
        size=D("0.01"),
        entry_price=D(90000),
        opened_at=NOW,
        state=state,
        leverage=5,
        updated_at=NOW,
        tp_order_id=tp,
        sl_order_id=sl,
    )


async def test_a_restarted_client_asks_once_by_id_for_every_leg_the_books_hold_for_open_positions(
    tmp_path: Path,
) -> None:
    """A leg learned only from a push (an attached take-profit) is in the books, not in any listing: the
    first read after a restart confirms it by id; a closed position's legs and a missing id are not asked."""
    store = Store.open(tmp_path / "smt.db")
    store.positions.insert(stored("BTCUSDT", tp="55", sl=None))
    store.positions.insert(stored("ETHUSDT", tp=None, sl="66"))
    store.positions.insert(stored("SOLUSDT", tp="77", sl="78", state=PositionState.CLOSED))
    detail = HISTORY_ORDER | {"symbol": "BTCUSDT", "status": "NEW", "stopPrice": "97000"}

    def order_detail(request: httpx.Request) -> dict[str, Any]:
        return detail | {"orderId": request.url.params["orderId"]}

    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [],
            POSITIONS: [],
            "GET /capi/v3/order": order_detail,
        }
    )
    client = venue.client(store=store)
    (leg,) = await client.open_algo_orders("BTCUSDT")
    assert (leg.order_id, leg.kind, leg.status) == ("55", "tp", OrderStatus.NEW)
    asked = [r.url.params["orderId"] for r in venue.seen if r.url.path == "/capi/v3/order"]
    assert asked == ["55"], "a read of BTCUSDT asks for BTCUSDT's legs only"
    legs = await client.open_algo_orders()
    assert sorted((leg.order_id, leg.kind, leg.status) for leg in legs) == [
        ("55", "tp", OrderStatus.NEW),
        ("66", "tp", OrderStatus.NEW),
    ]
    asked = [r.url.params["orderId"] for r in venue.seen if r.url.path == "/capi/v3/order"]
    assert sorted(asked) == ["55", "55", "66"]
    store.positions.insert(stored("ADAUSDT", tp="88", sl=None))
    await client.open_algo_orders()
    asked = [r.url.params["orderId"] for r in venue.seen if r.url.path == "/capi/v3/order"]
    assert "88" not in asked, "the books are read once a run"
    await client.aclose()
    store.close()


async def test_a_leg_noted_from_the_stream_is_asked_for_on_a_read_of_its_own_symbol_only() -> None:
    detail = HISTORY_ORDER | {"orderId": "55", "symbol": "BTCUSDT", "status": "NEW", "stopPrice": "97000"}
    venue = Venue({"GET /capi/v3/openAlgoOrders": [], POSITIONS: [], "GET /capi/v3/order": detail})
    client = venue.client()
    client.note_leg("55", "BTCUSDT")
    assert await client.open_algo_orders("ETHUSDT") == []
    (leg,) = await client.open_algo_orders("BTCUSDT")
    assert (leg.order_id, leg.symbol, leg.kind) == ("55", "BTCUSDT", "tp")
    assert [r.url.params["orderId"] for r in venue.seen if r.url.path == "/capi/v3/order"] == ["55"]
    await client.aclose()


# ------------------------------------------------------------------ TP/SL legs of unknown kind


OPEN_ALGO = example("rest", "open_algo_order")
TRAILING = OPEN_ALGO | {"orderType": "TRAILING_STOP_MARKET", "symbol": "BTCUSDT"}
"""A trailing stop placed by hand: WEEX's listed leg whose ``orderType`` says neither TP nor SL."""


def trailing(algo_id: str) -> dict[str, Any]:
    return TRAILING | {"algoId": algo_id}


def detail_of(kind_type: str) -> Any:
    """Order detail answering for any id: WEEX's documented order row with ``type`` ``kind_type``."""

    def answer(request: httpx.Request) -> dict[str, Any]:
        oid = request.url.params["orderId"]
        return HISTORY_ORDER | {"orderId": oid, "symbol": "BTCUSDT", "type": kind_type, "status": "NEW"}

    return answer


async def test_a_listed_leg_its_detail_calls_a_stop_loss_counts_as_a_stop_at_the_listed_trigger() -> None:
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [trailing("77")],
            "GET /capi/v3/order": detail_of("STOP_MARKET"),
            POSITIONS: [],
        }
    )
    client = venue.client()
    (leg,) = await client.open_algo_orders()
    assert (leg.order_id, leg.symbol, leg.kind, leg.trigger_price, leg.size) == (
        "77",
        "BTCUSDT",
        "sl",
        D("0.02"),
        D(100),
    )
    assert [r.url.params["orderId"] for r in venue.seen if r.url.path == "/capi/v3/order"] == ["77"]
    await client.aclose()


async def test_an_unreadable_listed_leg_is_an_outage_not_a_missing_stop() -> None:
    broken = {k: v for k, v in OPEN_ALGO.items() if k != "positionSide"}
    client = Venue({"GET /capi/v3/openAlgoOrders": [broken], POSITIONS: []}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^unreadable TP/SL row \('positionSide'\)$") as caught:
        await client.open_algo_orders()
    assert caught.value.raw == broken
    await client.aclose()


async def test_an_unclassified_leg_its_detail_cannot_read_is_an_outage() -> None:
    broken = {k: v for k, v in TRAILING.items() if k != "positionSide"}
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [broken],
            "GET /capi/v3/order": detail_of("TAKE_PROFIT_MARKET"),
            POSITIONS: [],
        }
    )
    client = venue.client()
    with pytest.raises(ExchangeUnavailable, match=r"^unreadable order row \('positionSide'\)$") as caught:
        await client.open_algo_orders()
    assert caught.value.raw == broken
    await client.aclose()


async def test_legs_of_unknown_kind_are_named_in_the_health_row_until_none_is_listed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(tmp_path / "smt.db")
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [trailing("79"), trailing("77")],
            "GET /capi/v3/order": detail_of("TRAILING_STOP_MARKET"),
            POSITIONS: [],
        }
    )
    client = venue.client(store=store)
    with caplog.at_level("WARNING", logger=client_module.__name__):
        assert await client.open_algo_orders() == []
    assert sorted(r.getMessage() for r in caplog.records if r.name == client_module.__name__) == [
        "TP/SL order 77 on BTCUSDT: kind unknown; not trusted as protection",
        "TP/SL order 79 on BTCUSDT: kind unknown; not trusted as protection",
    ]
    health = store.health.get("exchange.legs")
    assert health is not None
    assert (health.status, health.detail, health.data) == (
        HealthStatus.WARN,
        "TP/SL orders of unknown kind, not counted as protection: 77, 79",
        {"order_ids": ["77", "79"]},
    )
    reported_at = health.updated_at
    clock = client.clock
    assert isinstance(clock, SimulatedClock)
    await clock.advance(15)
    assert await client.open_algo_orders() == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert health.updated_at == reported_at, "the same legs again: nothing to write"
    venue.routes["GET /capi/v3/openAlgoOrders"] = [trailing("77"), trailing("81")]
    assert await client.open_algo_orders() == []
    warned = store.events.of_kind("exchange.leg_unclassified")
    assert sorted((e.data["order_id"], e.data["symbol"]) for e in warned) == [
        ("77", "BTCUSDT"),
        ("79", "BTCUSDT"),
        ("81", "BTCUSDT"),
    ], "each new one warned once, whatever was warned before it"
    venue.routes["GET /capi/v3/openAlgoOrders"] = []
    assert await client.open_algo_orders("BTCUSDT") == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert health.status is HealthStatus.WARN, "a one-symbol read says nothing of the others"
    assert await client.open_algo_orders() == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert (health.status, health.detail, health.data) == (HealthStatus.OK, "all classified", {})
    await client.aclose()
    store.close()


async def test_a_one_symbol_read_still_listing_an_unknown_leg_keeps_it_named(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "smt.db")
    venue = Venue(
        {
            "GET /capi/v3/openAlgoOrders": [trailing("77")],
            "GET /capi/v3/order": detail_of("TRAILING_STOP_MARKET"),
            POSITIONS: [],
        }
    )
    client = venue.client(store=store)
    assert await client.open_algo_orders("BTCUSDT") == []
    health = store.health.get("exchange.legs")
    assert health is not None
    assert (health.status, health.detail) == (
        HealthStatus.WARN,
        "TP/SL orders of unknown kind, not counted as protection: 77",
    )
    await client.aclose()
    store.close()


async def test_a_cancel_all_weex_refused_for_one_order_is_its_error_not_a_count() -> None:
    """An item with ``success: false`` (the fake's refusal, WEEX's CancelOrder item fields) is the venue's
    refusal: raised, never counted or skipped."""
    refused = cancelled("2") | {
        "success": False,
        "errorCode": "ORDER_NOT_FOUND",
        "errorMessage": "orderId not exist",
    }
    client = Venue({"DELETE /capi/v3/allOpenOrders": [cancelled("1"), refused]}).client()
    with pytest.raises(ExchangeError, match=r"orderId not exist"):
        await client.cancel_all("BTCUSDT")
    await client.aclose()

"""The WEEX client's money path, value by value (docs/benchmarks.md, mutation testing): a cancel counts
only once WEEX confirms it, a stop-loss goes out exactly as documented, an unreadable position row never
reads as no position, a trade is rebuilt from its fills, and a client id is the same for the same order.
Against the scripted WEEX of ``test_weex_as_documented`` (its documented answer shapes)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from smt_engine.domain import Side
from smt_engine.exchange.base import (
    AmbiguousOutcome,
    ExchangeError,
    ExchangeUnavailable,
    InvalidOrder,
    OrderNotFound,
    OrderRequest,
    VenuePrecisionError,
)
from smt_engine.exchange.ids import make_client_id, valid_client_id
from smt_engine.exchange.precision import PrecisionError
from smt_engine.exchange.weex import transport as transport_module
from smt_engine.exchange.weex.client import USER_TRADES_WINDOW
from tests.fakes.weex_shapes import to_ms
from tests.unit.exchange.conftest import weex_position
from tests.unit.exchange.test_preflight_price import scripted, sent
from tests.unit.exchange.test_weex_as_documented import NOW, Venue

CANCEL = "DELETE /capi/v3/order"
ALGO_CANCEL = "DELETE /capi/v3/algoOrder"
POSITIONS = "GET /capi/v3/account/position/allPosition"
NOT_FOUND = {"code": -2013, "msg": "Order does not exist."}
POSITION = weex_position(1)
"""The id as a number; ``test_mutants_weex_legs`` serves it as a string: WEEX documents both forms and
both must keep being read, so the two rows stay apart."""


def trade(order_id: str, at_ms: int, **kw: Any) -> dict[str, Any]:
    """A userTrades row in the shape ``tests.fakes.weex_shapes.trade_json`` serves."""
    row: dict[str, Any] = {
        "id": 1,
        "orderId": order_id,
        "symbol": "BTCUSDT",
        "buyer": True,
        "commission": "-0.36",
        "commissionAsset": "USDT",
        "maker": False,
        "price": "90000",
        "qty": "0.01",
        "quoteQty": "900",
        "realizedPnl": "0",
        "side": "BUY",
        "positionSide": "LONG",
        "time": at_ms,
    }
    return row | kw


# ------------------------------------------------------------------ cancels


@pytest.mark.parametrize(
    "answer", [{"orderId": "5", "success": True}, [{"orderId": "5", "success": True, "errorCode": ""}]]
)
async def test_a_cancel_confirmed_by_weex_as_an_object_or_a_list_counts(answer: Any) -> None:
    venue = Venue({CANCEL: answer})
    client = venue.client()
    await client.cancel_order("BTCUSDT", order_id="5")
    (request,) = [r for r in venue.seen if r.url.path == "/capi/v3/order"]
    assert dict(request.url.params) == {"orderId": "5"}
    await client.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        [],
        [{"orderId": "5"}],
        {"orderId": "5", "success": "true"},
        ["success"],
    ],
)
async def test_a_cancel_weex_does_not_confirm_is_never_recorded_and_names_the_order(answer: Any) -> None:
    client = Venue({CANCEL: answer}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^cancel 5: the answer does not confirm it$") as caught:
        await client.cancel_order("BTCUSDT", order_id="5")
    assert caught.value.raw == answer
    await client.aclose()


async def test_a_cancel_by_client_id_asks_by_that_id_and_an_unconfirmed_one_says_so() -> None:
    venue = Venue({CANCEL: {"origClientOrderId": "smt-a-1-entry"}})
    client = venue.client()
    with pytest.raises(ExchangeUnavailable, match=r"^cancel \?: the answer does not confirm it$"):
        await client.cancel_order("BTCUSDT", client_order_id="smt-a-1-entry")
    (request,) = [r for r in venue.seen if r.url.path == "/capi/v3/order"]
    assert dict(request.url.params) == {"origClientOrderId": "smt-a-1-entry"}
    await client.aclose()


async def test_a_cancel_without_any_id_is_refused_before_weex_is_asked() -> None:
    venue = Venue({})
    client = venue.client()
    with pytest.raises(InvalidOrder, match=r"^cancel needs an order id or a client order id$"):
        await client.cancel_order("BTCUSDT")
    assert venue.seen == []
    await client.aclose()


async def test_an_unlisted_leg_is_cancelled_through_algo_first_and_forgotten_once_confirmed() -> None:
    venue = Venue({ALGO_CANCEL: [{"orderId": "55", "success": True, "errorCode": ""}]})
    client = venue.client()
    client.note_leg("55", "BTCUSDT")
    await client.cancel_algo_order("BTCUSDT", "55")
    assert [(r.method, r.url.path, dict(r.url.params)) for r in venue.seen if r.method == "DELETE"] == [
        ("DELETE", "/capi/v3/algoOrder", {"orderId": "55"})
    ]
    assert "55" not in client._known_legs
    await client.aclose()


async def test_an_unconfirmed_leg_cancel_raises_and_the_leg_stays_known() -> None:
    venue = Venue({ALGO_CANCEL: {"orderId": "55"}})
    client = venue.client()
    client.note_leg("55", "BTCUSDT")
    with pytest.raises(ExchangeUnavailable, match=r"^cancel 55: the answer does not confirm it$"):
        await client.cancel_algo_order("BTCUSDT", "55")
    assert "55" in client._known_legs
    assert [r.url.path for r in venue.seen if r.method == "DELETE"] == ["/capi/v3/algoOrder"]
    await client.aclose()


async def test_a_leg_neither_endpoint_knows_ends_in_order_not_found() -> None:
    def missing(request: httpx.Request) -> dict[str, Any]:
        return NOT_FOUND

    venue = Venue({ALGO_CANCEL: missing, CANCEL: missing})
    client = venue.client()
    with pytest.raises(OrderNotFound):
        await client.cancel_algo_order("BTCUSDT", "55")
    assert [r.url.path for r in venue.seen if r.method == "DELETE"] == [
        "/capi/v3/algoOrder",
        "/capi/v3/order",
    ]
    await client.aclose()


# ------------------------------------------------------------------ stop-loss / take-profit


@pytest.mark.parametrize(
    ("kind", "side", "trigger", "plan"),
    [
        ("sl", Side.LONG, "88000", "STOP_LOSS"),
        ("tp", Side.LONG, "95000", "TAKE_PROFIT"),
        ("sl", Side.SHORT, "92000", "STOP_LOSS"),
        ("tp", Side.SHORT, "85000", "TAKE_PROFIT"),
    ],
)
async def test_a_resting_leg_goes_out_exactly_as_weex_documents_it(
    kind: Any, side: Side, trigger: str, plan: str
) -> None:
    venue = scripted()
    client = venue.client()
    leg = await client.place_tp_sl("BTCUSDT", side, kind, D(trigger), D("0.01"), "smt-a-1-sl")
    assert (leg.order_id, leg.client_order_id) == ("801", "smt-a-1-sl")
    (request,) = sent(venue, "/capi/v3/placeTpSlOrder")
    assert json.loads(request.content) == {
        "symbol": "BTCUSDT",
        "clientAlgoId": "smt-a-1-sl",
        "planType": plan,
        "triggerPrice": trigger,
        "executePrice": "0",
        "quantity": "0.01",
        "positionSide": side.value,
        "triggerPriceType": "CONTRACT_PRICE",
    }
    await client.aclose()


@pytest.mark.parametrize(("kind", "trigger"), [("sl", "95000"), ("tp", "88000")])
async def test_a_leg_on_the_wrong_side_of_the_price_is_never_sent(kind: Any, trigger: str) -> None:
    venue = scripted()
    client = venue.client()
    with pytest.raises(PrecisionError, match="must be"):
        await client.place_tp_sl("BTCUSDT", Side.LONG, kind, D(trigger), D("0.01"), "smt-a-1-sl")
    assert sent(venue, "/capi/v3/placeTpSlOrder") == []
    await client.aclose()


@pytest.mark.parametrize(
    ("trigger", "size", "cid", "words"),
    [
        ("88000.05", "0.01", "smt-a-1-sl", "^BTCUSDT: sl trigger 88000.05 is not"),
        ("88000", "0.00001", "smt-a-1-sl", "^BTCUSDT: size"),
        ("88000", "0.01", "bad id!", r"^client algo id 'bad id!' breaks WEEX's id rule$"),
    ],
)
async def test_a_leg_off_the_contracts_precision_or_with_a_bad_id_is_never_sent(
    trigger: str, size: str, cid: str, words: str
) -> None:
    venue = scripted()
    client = venue.client()
    with pytest.raises((PrecisionError, InvalidOrder), match=words):
        await client.place_tp_sl("BTCUSDT", Side.LONG, "sl", D(trigger), D(size), cid)
    assert sent(venue, "/capi/v3/placeTpSlOrder") == []
    await client.aclose()


async def test_a_leg_accepted_without_an_id_is_an_error_not_a_resting_stop() -> None:
    venue = scripted()
    venue.routes["POST /capi/v3/placeTpSlOrder"] = [{"success": True, "orderId": 0}]
    client = venue.client()
    with pytest.raises(ExchangeError, match=r"^order accepted without an order id$") as caught:
        await client.place_tp_sl("BTCUSDT", Side.LONG, "sl", D("88000"), D("0.01"), "smt-a-1-sl")
    assert caught.value.raw == [{"success": True, "orderId": 0}]
    await client.aclose()


# ------------------------------------------------------------------ entries: precision before a send


async def test_a_limit_entry_without_a_price_is_refused_before_a_send() -> None:
    venue = scripted()
    client = venue.client()
    request = OrderRequest("BTCUSDT", Side.LONG, D("0.01"), "smt-a-1-entry", order_type="LIMIT")
    with pytest.raises(InvalidOrder, match=r"^a LIMIT order needs a price$"):
        await client.place_order(request)
    assert sent(venue, "/capi/v3/order") == []
    await client.aclose()


async def test_a_close_carrying_a_stop_is_refused_before_a_send() -> None:
    venue = scripted()
    client = venue.client()
    request = OrderRequest(
        "BTCUSDT", Side.LONG, D("0.01"), "smt-a-1-close", reduce_only=True, sl_price=D("88000")
    )
    with pytest.raises(InvalidOrder, match=r"^TP/SL cannot be attached to a reduce-only close$"):
        await client.place_order(request)
    assert sent(venue, "/capi/v3/order") == []
    await client.aclose()


# ------------------------------------------------------------------ balance


async def test_the_balance_keeps_every_documented_figure_and_the_unrealised_pnl_counts_in_equity() -> None:
    """The kill switch's daily loss counts unrealised PnL too, so equity must carry WEEX's ``unrealizePnl``.

    The row is WEEX's documented balance (tests/contract/weex/rest.json, ``balance``) with an open loss.
    """
    row = {
        "asset": "USDT",
        "balance": "20.5",
        "availableBalance": "18.25",
        "frozen": "1.5",
        "unrealizePnl": "-3.75",
    }
    client = Venue({"GET /capi/v3/account/balance": [row]}).client()
    balance = await client.balance()
    assert (balance.asset, balance.balance, balance.available, balance.frozen, balance.unrealized_pnl) == (
        "USDT",
        D("20.5"),
        D("18.25"),
        D("1.5"),
        D("-3.75"),
    )
    assert balance.equity == D("16.75")
    await client.aclose()


# ------------------------------------------------------------------ positions


async def test_an_unreadable_position_row_is_an_outage_not_no_position() -> None:
    client = Venue({POSITIONS: [POSITION, {"symbol": "ETHUSDT"}]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^positions: unreadable row") as caught:
        await client.positions()
    assert caught.value.raw == {"symbol": "ETHUSDT"}
    await client.aclose()


async def test_a_positions_answer_that_is_not_a_list_is_an_outage() -> None:
    client = Venue({POSITIONS: {"code": 0}}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^positions: expected a list$") as caught:
        await client.positions()
    assert caught.value.raw == {"code": 0}
    await client.aclose()


async def test_a_flat_position_row_is_no_position_and_every_other_row_is_still_read() -> None:
    """Whether allPosition lists a flat side is unverified (reference §3.2.1); if it does, that side holds
    nothing, and the positions beside it must still reach the stop guard."""
    flat = POSITION | {"symbol": "ETHUSDT", "size": "0", "openValue": "0"}
    short = POSITION | {"side": "SHORT", "size": "0.03"}
    client = Venue({POSITIONS: [flat, POSITION, short]}).client()
    read = await client.positions()
    assert [(p.symbol, p.side, p.size) for p in read] == [
        ("BTCUSDT", Side.LONG, D(str(POSITION["size"]))),
        ("BTCUSDT", Side.SHORT, D("0.03")),
    ]
    await client.aclose()


@pytest.mark.parametrize("size", [None, "x", "-0.01"])
async def test_a_position_row_without_a_readable_size_is_an_outage_not_no_position(size: object) -> None:
    row = (
        POSITION | {"size": size} if size is not None else {k: v for k, v in POSITION.items() if k != "size"}
    )
    client = Venue({POSITIONS: [row]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^positions: unreadable row"):
        await client.positions()
    await client.aclose()


# ------------------------------------------------------------------ closes


async def test_a_close_takes_the_full_size_of_that_symbols_position_on_that_side() -> None:
    venue = scripted()
    short_eth = POSITION | {"symbol": "ETHUSDT", "side": "SHORT", "size": "0.5"}
    other_side = POSITION | {"side": "SHORT", "size": "0.03"}
    venue.routes[POSITIONS] = [short_eth, other_side, POSITION | {"size": "0.02"}]
    client = venue.client()
    placed_close = await client.close_position("BTCUSDT", Side.LONG, "smt-a-1-close")
    assert placed_close.client_order_id == "smt-a-1-close"
    (request,) = sent(venue, "/capi/v3/order")
    body = json.loads(request.content)
    assert (body["side"], body["positionSide"], body["quantity"], body["type"]) == (
        "SELL",
        "LONG",
        "0.02",
        "MARKET",
    )
    assert body["newClientOrderId"] == "smt-a-1-close"
    await client.aclose()


async def test_a_close_with_no_such_position_sends_nothing() -> None:
    venue = scripted()
    venue.routes[POSITIONS] = [POSITION | {"side": "SHORT"}]
    client = venue.client()
    with pytest.raises(InvalidOrder, match=r"^no LONG position on BTCUSDT to close$"):
        await client.close_position("BTCUSDT", Side.LONG, "smt-a-1-close")
    assert sent(venue, "/capi/v3/order") == []
    await client.aclose()


# ------------------------------------------------------------------ leverage


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("cross", {"symbol": "BTCUSDT", "marginType": "CROSSED", "crossLeverage": "7"}),
        (
            "isolated",
            {
                "symbol": "BTCUSDT",
                "marginType": "ISOLATED",
                "isolatedLongLeverage": "7",
                "isolatedShortLeverage": "7",
            },
        ),
    ],
)
async def test_leverage_is_set_per_margin_mode_and_confirmed_by_the_symbols_echo(
    mode: Any, expected: dict[str, str]
) -> None:
    venue = Venue({"POST /capi/v3/account/leverage": {"symbol": "BTCUSDT"}})
    client = venue.client()
    await client.set_leverage("BTCUSDT", 7, mode)
    (request,) = [r for r in venue.seen if r.url.path == "/capi/v3/account/leverage"]
    assert json.loads(request.content) == expected
    await client.aclose()


@pytest.mark.parametrize("answer", [{"symbol": "ETHUSDT"}, [{"symbol": "BTCUSDT"}]])
async def test_a_leverage_answer_that_echoes_another_symbol_is_unconfirmed(answer: Any) -> None:
    client = Venue({"POST /capi/v3/account/leverage": answer}).client()
    with pytest.raises(
        ExchangeUnavailable, match=r"^set leverage BTCUSDT: answer does not confirm it$"
    ) as caught:
        await client.set_leverage("BTCUSDT", 7, "cross")
    assert caught.value.raw == answer
    await client.aclose()


# ------------------------------------------------------------------ one order, fills


async def test_an_order_read_that_is_not_an_object_or_unreadable_is_an_outage() -> None:
    client = Venue({"GET /capi/v3/order": [{"orderId": "5"}]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^order: expected an object$") as caught:
        await client.order("BTCUSDT", "5")
    assert caught.value.raw == [{"orderId": "5"}]
    await client.aclose()
    venue = Venue({"GET /capi/v3/order": {"orderId": "5"}})
    client = venue.client()
    with pytest.raises(ExchangeUnavailable, match=r"^unreadable order row"):
        await client.order("BTCUSDT", "5")
    assert [dict(r.url.params) for r in venue.seen if r.url.path == "/capi/v3/order"] == [{"orderId": "5"}]
    await client.aclose()


async def test_a_trade_is_rebuilt_from_its_fills_newest_first_with_positive_fees() -> None:
    early = to_ms(NOW - timedelta(hours=2))
    late = to_ms(NOW - timedelta(hours=1))
    rows = [
        trade("11", early),
        trade("12", late, price="91000", qty="0.004", commission="-0.2", realizedPnl="4", side="SELL"),
        trade("12", late - 1, commission=None, realizedPnl=None),
    ]
    rows[2].pop("commission")
    rows[2].pop("realizedPnl")
    venue = Venue({"GET /capi/v3/userTrades": rows})
    client = venue.client()
    fills = await client.fills("BTCUSDT", since=NOW - timedelta(hours=3), limit=500, order_id="12")
    assert [(f.order_id, f.price, f.size, f.fee, f.realized_pnl, to_ms(f.at)) for f in fills] == [
        ("12", D("91000"), D("0.004"), D("0.2"), D("4"), late),
        ("12", D("90000"), D("0.01"), D(0), D(0), late - 1),
        ("11", D("90000"), D("0.01"), D("0.36"), D(0), early),
    ]
    assert all((f.symbol, f.position_side) == ("BTCUSDT", Side.LONG) for f in fills)
    (request,) = [r for r in venue.seen if r.url.path == "/capi/v3/userTrades"]
    assert dict(request.url.params) == {
        "symbol": "BTCUSDT",
        "limit": "100",
        "orderId": "12",
        "startTime": str(to_ms(NOW - timedelta(hours=3))),
        "endTime": str(to_ms(NOW + timedelta(minutes=1))),
    }
    await client.aclose()


async def test_fills_asked_without_a_since_start_seven_days_back_and_take_a_small_limit() -> None:
    venue = Venue({"GET /capi/v3/userTrades": []})
    client = venue.client()
    assert await client.fills("BTCUSDT", limit=20) == []
    (request,) = [r for r in venue.seen if r.url.path == "/capi/v3/userTrades"]
    assert dict(request.url.params) == {
        "symbol": "BTCUSDT",
        "limit": "20",
        "startTime": str(to_ms(NOW - USER_TRADES_WINDOW)),
        "endTime": str(to_ms(NOW + timedelta(minutes=1))),
    }
    await client.aclose()


@pytest.mark.parametrize("broken", [{"qty": "lots"}, {"positionSide": "UP"}])
async def test_an_unreadable_fill_is_an_outage_not_a_missing_fill(broken: dict[str, Any]) -> None:
    row = trade("11", to_ms(NOW)) | broken
    client = Venue({"GET /capi/v3/userTrades": [row]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^userTrades: unreadable row") as caught:
        await client.fills("BTCUSDT")
    assert caught.value.raw == row
    await client.aclose()


async def test_a_fill_without_its_order_id_is_an_outage() -> None:
    row = trade("11", to_ms(NOW))
    row.pop("orderId")
    client = Venue({"GET /capi/v3/userTrades": [row]}).client()
    with pytest.raises(ExchangeUnavailable, match=r"^userTrades: unreadable row"):
        await client.fills("BTCUSDT")
    await client.aclose()


# ------------------------------------------------------------------ client ids


def test_a_client_id_is_the_same_for_the_same_order_and_names_it() -> None:
    assert make_client_id("1a2b3c4d-ffff", 42, "entry") == "smt-1a2b3c4dffff"[:12] + "-42-entry"
    assert make_client_id("1a2b3c4d-ffff", 42, "entry") == make_client_id("1a2b3c4d-ffff", 42, "entry")
    assert make_client_id("a.b:c", 0, "sl 2") == "smt-abc-0-sl-2"
    assert make_client_id("!!!", 7, "") == "smt-0-7-x"


def test_a_long_client_id_is_hashed_to_exactly_36_valid_characters_stably() -> None:
    leg = "stop-loss-replacement-number-three"
    cid = make_client_id("1a2b3c4d", 123456, leg)
    assert len(cid) == 36
    assert valid_client_id(cid)
    assert cid.startswith("smt-1a2b3c4d-")
    assert cid == make_client_id("1a2b3c4d", 123456, leg)
    assert cid != make_client_id("1a2b3c4d", 123457, leg)
    assert len(make_client_id("1a2b3c4d", 1, "a" * 21)) == 36
    assert make_client_id("1a2b3c4d", 1, "a" * 21) == "smt-1a2b3c4d-1-" + "a" * 21
    assert make_client_id("1a2b3c4d", 1, "a" * 22) != "smt-1a2b3c4d-1-" + "a" * 22


def test_a_negative_proposal_never_makes_an_id() -> None:
    with pytest.raises(ValueError, match=r"^proposal_id must be >= 0, got -1$"):
        make_client_id("1a2b3c4d", -1, "entry")
    assert make_client_id("1a2b3c4d", 0, "entry") == "smt-1a2b3c4d-0-entry"


@pytest.mark.parametrize(
    ("value", "valid"), [("a" * 36, True), ("a" * 37, False), ("", False), ("a b", False)]
)
def test_a_client_id_is_valid_only_within_weexs_rule(value: str, valid: bool) -> None:
    assert valid_client_id(value) is valid


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"price": D("90000.05")}, "^BTCUSDT: price 90000.05 is not"),
        ({"tp_price": D("95000.05")}, "^BTCUSDT: take-profit 95000.05 is not"),
        ({"sl_price": D("88000.05")}, "^BTCUSDT: stop-loss 88000.05 is not"),
        ({"tp_price": D("89000")}, "take-profit 89000 must be above"),
        ({"sl_price": D("91000")}, "stop-loss 91000 must be below"),
        ({"client_order_id": "bad id!"}, r"^client order id 'bad id!' breaks WEEX's 1-36"),
    ],
)
async def test_an_entry_off_precision_or_with_a_wrong_sided_leg_is_refused_naming_the_field(
    change: dict[str, Any], words: str
) -> None:
    venue = scripted()
    client = venue.client()
    request = OrderRequest(
        "BTCUSDT",
        Side.LONG,
        D("0.01"),
        "smt-a-1-entry",
        order_type="LIMIT",
        price=D("90000"),
        tp_price=D("95000"),
        sl_price=D("88000"),
    )
    with pytest.raises((PrecisionError, InvalidOrder), match=words):
        await client.place_order(replace(request, **change))
    assert sent(venue, "/capi/v3/order") == []
    await client.aclose()


async def test_leverage_and_leg_cancels_go_out_signed_as_post_and_delete() -> None:
    venue = Venue(
        {
            "POST /capi/v3/account/leverage": {"symbol": "BTCUSDT"},
            ALGO_CANCEL: {"orderId": "55", "success": True},
        }
    )
    client = venue.client()
    await client.set_leverage("BTCUSDT", 7, "cross")
    await client.cancel_algo_order("BTCUSDT", "55")
    leverage, cancel = [r for r in venue.seen if r.url.path != "/capi/v3/market/time"]
    ts = leverage.headers["ACCESS-TIMESTAMP"]
    assert leverage.headers["Content-Type"] == "application/json", "WEEX's POST examples send it"
    assert cancel.headers["Content-Type"] == "application/json", "WEEX's cancel examples send it"
    assert leverage.headers["ACCESS-SIGN"] == transport_module.sign(
        "s", ts, "POST", "/capi/v3/account/leverage", "", leverage.content.decode()
    )
    assert cancel.headers["ACCESS-SIGN"] == transport_module.sign(
        "s", cancel.headers["ACCESS-TIMESTAMP"], "DELETE", "/capi/v3/algoOrder", "orderId=55"
    )
    await client.aclose()


async def test_a_leg_never_noted_is_cancelled_and_its_listing_forgotten() -> None:
    venue = Venue({CANCEL: {"orderId": "56", "success": True}, ALGO_CANCEL: NOT_FOUND})
    client = venue.client()
    client._leg_listing["56"] = "/capi/v3/order"
    await client.cancel_algo_order("BTCUSDT", "56")
    assert "56" not in client._leg_listing
    assert [r.url.path for r in venue.seen if r.method == "DELETE"] == ["/capi/v3/order"]
    await client.aclose()


async def test_a_resting_leg_whose_answer_is_lost_is_ambiguous_under_its_client_id() -> None:
    venue = scripted()

    def lost(request: httpx.Request) -> Any:
        raise httpx.ReadTimeout("slow")

    venue.routes["POST /capi/v3/placeTpSlOrder"] = lost
    client = venue.client()
    with pytest.raises(AmbiguousOutcome) as caught:
        await client.place_tp_sl("BTCUSDT", Side.LONG, "sl", D("88000"), D("0.01"), "smt-a-1-sl")
    assert caught.value.client_order_id == "smt-a-1-sl"
    await client.aclose()


async def test_a_precision_refusal_of_a_leg_corrects_that_symbols_step() -> None:
    venue = scripted()
    venue.routes["POST /capi/v3/placeTpSlOrder"] = {
        "code": "-1160",
        "msg": "DECIMAL_PRECISION_ERROR: quantity must be a multiple of stepSize: 0.001",
    }
    client = venue.client()
    with pytest.raises(VenuePrecisionError):
        await client.place_tp_sl("BTCUSDT", Side.LONG, "sl", D("88000"), D("0.01"), "smt-a-1-sl")
    assert (await client.contract("BTCUSDT")).step_size == D("0.001")
    await client.aclose()

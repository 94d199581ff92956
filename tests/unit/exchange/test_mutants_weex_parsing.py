"""WEEX rows into domain objects, every field checked on the corpus's documented examples.

Rows come from ``tests/contract/weex/rest.json`` (each case names its source); a field changed from its
example takes a value the venue documents, and the test says where. A row without a field every source
sends is refused (the client turns that into ExchangeUnavailable): nothing is filled in for it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import AlgoOrder, ExchangeOrder, ExchangePosition, OrderStatus
from smt_engine.exchange.market import from_ms
from smt_engine.exchange.weex.parsing import (
    UnclassifiedLeg,
    decimal_or,
    leg_kind,
    optional_decimal,
    parse_algo,
    parse_contract,
    parse_order,
    parse_position,
)
from tests.contract.weex.corpus import example, row


def documented(case_id: str, **changes: Any) -> dict[str, Any]:
    """A copy of the corpus row of ``case_id`` with ``changes`` applied."""
    out = dict(row(example("rest", case_id)))
    out.update(changes)
    return out


def without(case_id: str, *fields: str) -> dict[str, Any]:
    """A copy of the corpus row of ``case_id`` without ``fields``."""
    return {k: v for k, v in documented(case_id).items() if k not in fields}


def test_decimal_or_reads_text_and_numbers_and_falls_back_only_when_empty() -> None:
    assert decimal_or("0.02000") == D("0.02000")
    assert decimal_or(300) == D(300)
    assert decimal_or(None, D(7)) == D(7)
    assert decimal_or("", D(7)) == D(7)
    with pytest.raises(ValueError, match=r"^missing decimal$"):
        decimal_or(None)
    with pytest.raises(ValueError, match=r"^missing decimal$"):
        decimal_or("")
    with pytest.raises(ValueError, match=r"^not a decimal: 'abc'$") as info:
        decimal_or("abc")
    assert info.value.__cause__ is not None


def test_optional_decimal_is_none_for_empty_or_zero_and_the_value_otherwise() -> None:
    assert optional_decimal(None) is None
    assert optional_decimal("") is None
    assert optional_decimal("0.00000") is None
    assert optional_decimal("0.05000") == D("0.05000")


# WEEX's v2 placeTpSlOrder documents planType `profit_plan`/`loss_plan`
# (reference: external-apis.md, "TP/SL order on a position", and its planType values table);
# the v3 form TAKE_PROFIT/STOP_LOSS is in weex-v3-contract-api.md (placeTpSlOrder planType).
@pytest.mark.parametrize(
    ("plan_type", "kind"),
    [("profit_plan", "tp"), ("loss_plan", "sl"), ("TAKE_PROFIT", "tp"), ("STOP_LOSS", "sl")],
)
def test_a_documented_plan_type_names_the_leg(plan_type: str, kind: str) -> None:
    assert leg_kind({"planType": plan_type}) == kind
    algo = parse_algo(documented("open_algo_order", planType=plan_type, orderType=None))
    assert algo.kind == kind


def test_the_plan_type_wins_over_the_order_type_and_the_type_is_read_last() -> None:
    assert leg_kind({"planType": "loss_plan", "orderType": "TAKE_PROFIT_MARKET"}) == "sl"
    assert leg_kind({"planType": "profit_plan", "type": "STOP_MARKET"}) == "tp"
    assert leg_kind({"type": "TAKE_PROFIT_MARKET"}) == "tp"
    assert leg_kind({"type": "STOP_MARKET"}) == "sl"
    assert leg_kind({"type": "LIMIT", "orderType": "LIMIT"}) is None
    assert leg_kind({}) is None


def doge_order(order_id: str, client_order_id: str, at_ms: int, **fields: Any) -> ExchangeOrder:
    """An order of the corpus's DOGEUSDT long (every order row there is one), nothing filled yet,
    created and last updated at ``at_ms``; ``fields`` are the rest of the row's own values."""
    return ExchangeOrder(
        order_id=order_id,
        client_order_id=client_order_id,
        symbol="DOGEUSDT",
        position_side=Side.LONG,
        filled_size=D(0),
        avg_price=None,
        created_at=from_ms(at_ms),
        updated_at=from_ms(at_ms),
        **fields,
    )


# fmt: off
AS_ORDERS = {
    "open_order": doge_order("737185556881998184", "857e1482-3225-44ce-bc0a-947714c5cabc", 1775758733006,
        reduce_only=False, order_type="LIMIT", status=OrderStatus.NEW, size=D("1400"), price=D("0.05000"),
        kind="entry", trigger_price=None),
    "history_order": doge_order("737074389744353640", "7bd80776-0c3f-4ed9-ab9c-a616d66fac5e", 1775732228695,
        reduce_only=True, order_type="TAKE_PROFIT_MARKET", status=OrderStatus.CANCELLED, size=D("100"),
        price=None, kind="tp", trigger_price=D("1.00000")),
    # An open TP/SL order read as an order keeps its algo fields.
    "open_algo_order": doge_order("737074389748547944", "d574f517-cea5-433e-b029-415590d3bb80", 1775732228695,
        reduce_only=True, order_type="STOP_MARKET", status=OrderStatus.UNTRIGGERED, size=D("100"),
        price=None, kind="sl", trigger_price=D("0.02000")),
}
"""Each corpus order row as ``parse_order`` must read it."""
# fmt: on


@pytest.mark.parametrize(("case_id", "expected"), AS_ORDERS.items())
def test_a_documented_row_reads_as_an_order_field_by_field(case_id: str, expected: ExchangeOrder) -> None:
    assert parse_order(documented(case_id)) == expected


def test_a_sell_on_a_long_is_a_close_even_without_reduce_only() -> None:
    # side/positionSide/reduceOnly are the open_order example's own fields with documented values.
    closing = parse_order(documented("open_order", side="SELL", reduceOnly=False))
    assert (closing.reduce_only, closing.kind) == (True, "close")
    opening = parse_order(documented("open_order", side="SELL", positionSide="SHORT"))
    assert (opening.reduce_only, opening.kind) == (False, "entry")
    short_close = parse_order(documented("open_order", side="BUY", positionSide="SHORT"))
    assert (short_close.reduce_only, short_close.kind) == (True, "close")
    flagged = parse_order(documented("open_order", reduceOnly=True))
    assert (flagged.reduce_only, flagged.kind) == (True, "close")


def test_a_filled_order_keeps_its_fill_and_average_price() -> None:
    src = documented("history_order", status="FILLED", executedQty="100", avgPrice="0.09100", type="LIMIT")
    order = parse_order(src)
    assert (order.status, order.filled_size, order.avg_price, order.kind) == (
        OrderStatus.FILLED,
        D("100"),
        D("0.09100"),
        "close",
    )


# fmt: off
AS_ALGOS = {
    "open_algo_order": AlgoOrder("737074389748547944", "d574f517-cea5-433e-b029-415590d3bb80", "DOGEUSDT",
        Side.LONG, "sl", D("0.02000"), D("100"), OrderStatus.UNTRIGGERED, from_ms(1775732228695),
        parent_order_id="737074043320009064"),
    # A leg also shows in /capi/v3/order/history as an order row (weex-v3-contract-api.md, attached legs).
    "history_order": AlgoOrder("737074389744353640", "7bd80776-0c3f-4ed9-ab9c-a616d66fac5e", "DOGEUSDT",
        Side.LONG, "tp", D("1.00000"), D("100"), OrderStatus.CANCELLED, from_ms(1775732228695),
        parent_order_id=None),
}
"""Each corpus row of a TP/SL leg as ``parse_algo`` must read it."""
# fmt: on


@pytest.mark.parametrize(("case_id", "expected"), AS_ALGOS.items())
def test_a_documented_row_reads_as_a_tp_sl_order_field_by_field(case_id: str, expected: AlgoOrder) -> None:
    assert parse_algo(documented(case_id)) == expected


@pytest.mark.parametrize("no_parent", [0, "0", "", None])
def test_an_algo_order_without_a_parent_has_none(no_parent: Any) -> None:
    assert parse_algo(documented("open_algo_order", actualOrderId=no_parent)).parent_order_id is None


def test_an_algo_order_silent_on_its_kind_takes_the_callers_or_is_refused() -> None:
    silent = documented("open_algo_order", orderType="MARKET")
    assert parse_algo(silent, "tp").kind == "tp"
    with pytest.raises(UnclassifiedLeg) as info:
        parse_algo(silent)
    assert info.value.order_id == "737074389748547944"
    assert info.value.row is silent
    assert str(info.value) == "TP/SL order 737074389748547944: no field says take-profit or stop-loss"


def test_a_documented_position_reads_with_its_entry_price_from_open_value() -> None:
    assert parse_position(documented("position")) == ExchangePosition(
        symbol="DOGEUSDT",
        side=Side.LONG,
        size=D("300"),
        entry_price=D("27.96900") / D("300"),
        margin=D("100"),
        leverage=D("20.00"),
        unrealized_pnl=D("0.00600"),
        liquidation_price=None,
        opened_at=from_ms(1775760234825),
        updated_at=from_ms(1775763170789),
        position_id="737191855967437160",
        margin_mode="cross",
    )


def test_a_recorded_position_smaller_than_one_reads_with_its_liquidation_price() -> None:
    # The recorded fetchPositions row of ccxt/ccxt ts/src/test/static/response/weex.json @13c5210
    # (reference §3.2.1: ETHUSDT LONG size 0.036, openValue 82.06416 -> entry 2279.56, liquidatePrice
    # 2019.83): its own values over the corpus row, ids and times as the strings it recorded.
    recorded = {"id": "749422759074857895", "symbol": "ETHUSDT", "size": "0.036", "openValue": "82.06416"}
    times = {"createdTime": "1778676309365", "updatedTime": "1778676309365"}
    src = documented("position", marginSize="4.107", unrealizePnl="0.06012", liquidatePrice="2019.83")
    pos = parse_position(src | recorded | times)
    assert (pos.symbol, pos.size, pos.entry_price, pos.margin) == (
        "ETHUSDT",
        D("0.036"),
        D("2279.56"),
        D("4.107"),
    )
    assert (pos.liquidation_price, pos.unrealized_pnl, pos.position_id) == (
        D("2019.83"),
        D("0.06012"),
        "749422759074857895",
    )
    assert pos.opened_at == pos.updated_at == from_ms(1778676309365)


def test_an_isolated_position_says_so() -> None:
    # marginType CROSSED/ISOLATED: weex-v3-contract-api.md (position fields, marginType).
    assert parse_position(documented("position", marginType="ISOLATED")).margin_mode == "isolated"
    assert parse_position(documented("position", marginType="isolated")).margin_mode == "isolated"


def test_a_documented_contract_reads_its_steps_limits_and_leverage() -> None:
    assert parse_contract(documented("exchange_info_symbol")) == Contract(
        symbol="ETHUSDT",
        step_size=D("0.001"),
        tick_size=D("0.01"),
        min_size=D("0.001"),
        max_size=D("1000000"),
        min_notional=D(0),
        max_leverage=400,
    )


# Every status weex-v3-contract-api.md lists (order `status`, ccxt's status map, algo `algoStatus`).
STATUSES = [
    ("NEW", OrderStatus.NEW),
    ("PENDING", OrderStatus.NEW),
    ("PARTIALLY_FILLED", OrderStatus.PARTIALLY_FILLED),
    ("FILLED", OrderStatus.FILLED),
    ("CANCELED", OrderStatus.CANCELLED),
    ("CANCELLED", OrderStatus.CANCELLED),
    ("CANCELING", OrderStatus.CANCELLED),
    ("REJECTED", OrderStatus.REJECTED),
    ("EXPIRED", OrderStatus.EXPIRED),
    ("UNTRIGGERED", OrderStatus.UNTRIGGERED),
    ("TRIGGERED", OrderStatus.TRIGGERED),
]


@pytest.mark.parametrize(("text", "status"), STATUSES)
def test_every_documented_order_status_maps_to_its_state(text: str, status: OrderStatus) -> None:
    assert parse_order(documented("history_order", status=text)).status is status
    assert parse_order(documented("open_algo_order", algoStatus=text)).status is status


@pytest.mark.parametrize(("text", "status"), STATUSES)
def test_every_documented_algo_status_maps_to_its_state(text: str, status: OrderStatus) -> None:
    assert parse_algo(documented("open_algo_order", algoStatus=text)).status is status


def pushed_position(**changes: Any) -> dict[str, Any]:
    """The ``positions`` push row (ws.json ``positions_push``): it says ``marginMode``, not ``marginType``."""
    out = dict(row(example("ws", "positions_push")["d"]))
    out.update(changes)
    return out


def test_a_pushed_position_reads_its_margin_mode_and_isolated_margin() -> None:
    crossed = parse_position(pushed_position())
    assert (crossed.margin_mode, crossed.margin, crossed.liquidation_price) == ("cross", D(0), None)
    assert (crossed.unrealized_pnl, crossed.leverage, crossed.entry_price) == (D(0), D(11), D("0.09311"))
    # marginMode CROSSED/ISOLATED: weex-v3-contract-api.md (marginType; "WS: marginMode").
    isolated = parse_position(pushed_position(marginMode="ISOLATED", isolatedMargin="0.84645"))
    assert (isolated.margin_mode, isolated.margin) == ("isolated", D("0.84645"))


def test_a_position_with_a_liquidation_price_keeps_it() -> None:
    assert parse_position(documented("position", liquidatePrice="0.04710")).liquidation_price == D("0.04710")


# Every documented row of these kinds carries these fields: the corpus rows, ccxt's recordings
# (ccxt/ccxt ts/src/test/static/response/weex.json @13c5210: fetchPositions, fetchPositionsForSymbol,
# fetchOrder, fetchOpenOrders, fetchClosedOrders, fetchCanceledOrders), ccxt's parse_market example,
# Weex.Net's fixtures (GetExchangeInfo, GetPositions, GetOrder, GetOpenOrders, GetOrderHistory,
# GetOpenConditionalOrders) and WEEX's pages (reference §3.1.1, §3.2.1, §3.3.3, §3.4.1). No source
# shows a status outside STATUSES or a position of size 0. Such a row is refused, never read with a
# made-up type, time, status, margin, leverage, id, step or leverage cap.
NO_SUCH_ROW = "WEEX documents no such row"
REFUSED: dict[str, tuple[Callable[[dict[str, Any]], object], dict[str, Any], str]] = {
    "order type": (parse_order, without("open_order", "type"), "'orderType'"),
    "order time": (parse_order, without("history_order", "time"), "'createTime'"),
    "order update time": (parse_order, without("open_order", "updateTime"), "'updateTime'"),
    "order id": (parse_order, without("open_order", "orderId"), "'algoId'"),
    "order status": (parse_order, documented("history_order", status="SUSPENDED"), "'SUSPENDED'"),
    "algo id": (parse_algo, without("open_algo_order", "algoId"), "'orderId'"),
    "algo time": (parse_algo, without("open_algo_order", "createTime"), "'time'"),
    "algo status": (parse_algo, documented("open_algo_order", algoStatus="SUSPENDED"), "'SUSPENDED'"),
    "position open value": (parse_position, without("position", "openValue"), "'openValue'"),
    "position size 0": (parse_position, documented("position", size="0"), f"position size 0: {NO_SUCH_ROW}"),
    "position size < 0": (
        parse_position,
        documented("position", size="-3"),
        f"position size -3: {NO_SUCH_ROW}",
    ),
    "position margin mode": (parse_position, without("position", "marginType"), "'marginMode'"),
    "position margin": (
        parse_position,
        without("position", "marginSize", "isolatedMargin"),
        "'isolatedMargin'",
    ),
    "position leverage": (parse_position, without("position", "leverage"), "'leverage'"),
    "position opened": (parse_position, without("position", "createdTime"), "'createdTime'"),
    "position updated": (parse_position, without("position", "updatedTime"), "'updatedTime'"),
    "position id": (parse_position, without("position", "id"), "'id'"),
    "contract step": (
        parse_contract,
        without("exchange_info_symbol", "contractVal"),
        "ETHUSDT: no contractVal",
    ),
    "contract step 0": (
        parse_contract,
        documented("exchange_info_symbol", contractVal="0"),
        "ETHUSDT: no contractVal",
    ),
    "contract leverage": (parse_contract, without("exchange_info_symbol", "maxLeverage"), "'maxLeverage'"),
}


@pytest.mark.parametrize(("parse", "src", "error"), list(REFUSED.values()), ids=list(REFUSED))
def test_a_row_without_a_field_every_source_sends_is_refused_not_filled_in(
    parse: Callable[[dict[str, Any]], object], src: dict[str, Any], error: str
) -> None:
    with pytest.raises((KeyError, ValueError)) as refused:
        parse(src)
    assert str(refused.value) == error

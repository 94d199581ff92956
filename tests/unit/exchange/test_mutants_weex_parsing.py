"""WEEX rows into domain objects, every field checked on the corpus's documented examples.

Rows come from ``tests/contract/weex/rest.json`` (each case names its source); a field changed from its
example takes a value the venue documents, and the test says where.
"""

from __future__ import annotations

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


def test_an_open_limit_order_reads_as_documented() -> None:
    src = documented("open_order")
    assert parse_order(src) == ExchangeOrder(
        order_id="737185556881998184",
        client_order_id="857e1482-3225-44ce-bc0a-947714c5cabc",
        symbol="DOGEUSDT",
        position_side=Side.LONG,
        reduce_only=False,
        order_type="LIMIT",
        status=OrderStatus.NEW,
        size=D("1400"),
        filled_size=D(0),
        price=D("0.05000"),
        avg_price=None,
        created_at=from_ms(1775758733006),
        updated_at=from_ms(1775758733006),
        kind="entry",
        trigger_price=None,
    )


def test_a_cancelled_take_profit_from_history_reads_as_documented() -> None:
    src = documented("history_order")
    assert parse_order(src) == ExchangeOrder(
        order_id="737074389744353640",
        client_order_id="7bd80776-0c3f-4ed9-ab9c-a616d66fac5e",
        symbol="DOGEUSDT",
        position_side=Side.LONG,
        reduce_only=True,
        order_type="TAKE_PROFIT_MARKET",
        status=OrderStatus.CANCELLED,
        size=D("100"),
        filled_size=D(0),
        price=None,
        avg_price=None,
        created_at=from_ms(1775732228695),
        updated_at=from_ms(1775732228695),
        kind="tp",
        trigger_price=D("1.00000"),
    )


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


def test_an_open_algo_order_reads_as_documented() -> None:
    assert parse_algo(documented("open_algo_order")) == AlgoOrder(
        order_id="737074389748547944",
        client_order_id="d574f517-cea5-433e-b029-415590d3bb80",
        symbol="DOGEUSDT",
        position_side=Side.LONG,
        kind="sl",
        trigger_price=D("0.02000"),
        size=D("100"),
        status=OrderStatus.UNTRIGGERED,
        created_at=from_ms(1775732228695),
        parent_order_id="737074043320009064",
    )


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


def test_a_take_profit_read_from_order_history_reads_as_a_tp_sl_order() -> None:
    # A leg also shows in /capi/v3/order/history as an order row (weex-v3-contract-api.md, attached legs).
    assert parse_algo(documented("history_order")) == AlgoOrder(
        order_id="737074389744353640",
        client_order_id="7bd80776-0c3f-4ed9-ab9c-a616d66fac5e",
        symbol="DOGEUSDT",
        position_side=Side.LONG,
        kind="tp",
        trigger_price=D("1.00000"),
        size=D("100"),
        status=OrderStatus.CANCELLED,
        created_at=from_ms(1775732228695),
        parent_order_id=None,
    )


def test_an_open_tp_sl_order_read_as_an_order_keeps_its_algo_fields() -> None:
    assert parse_order(documented("open_algo_order")) == ExchangeOrder(
        order_id="737074389748547944",
        client_order_id="d574f517-cea5-433e-b029-415590d3bb80",
        symbol="DOGEUSDT",
        position_side=Side.LONG,
        reduce_only=True,
        order_type="STOP_MARKET",
        status=OrderStatus.UNTRIGGERED,
        size=D("100"),
        filled_size=D(0),
        price=None,
        avg_price=None,
        created_at=from_ms(1775732228695),
        updated_at=from_ms(1775732228695),
        kind="sl",
        trigger_price=D("0.02000"),
    )

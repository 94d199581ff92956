"""WEEX v3 rows (orders, TP/SL orders, positions, contracts) into domain objects."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import AlgoOrder, ExchangeOrder, ExchangePosition, OrderStatus
from smt_engine.exchange.market import from_ms
from smt_engine.exchange.precision import step_from_decimals


def decimal_or(value: Any, default: Decimal | None = None) -> Decimal:
    if value is None or value == "":
        if default is None:
            raise ValueError("missing decimal")
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc


def optional_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    d = decimal_or(value)
    return d if d != 0 else None


_STATUS = {
    "NEW": OrderStatus.NEW,
    "PENDING": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "CANCELING": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "UNTRIGGERED": OrderStatus.UNTRIGGERED,
    "TRIGGERED": OrderStatus.TRIGGERED,
}


def leg_kind(row: dict[str, Any]) -> Literal["tp", "sl"] | None:
    """The kind of a TP/SL order from explicit fields only; ``None`` when nothing says which.

    WEEX reports ``orderType``/``type`` TAKE_PROFIT(_MARKET) or STOP(_MARKET) (ccxt's recordings), and
    ``planType`` TAKE_PROFIT/STOP_LOSS on what placeTpSlOrder created. Anything else is not guessed:
    a stop believed to exist that is really something else leaves a position unprotected.
    """
    for name in ("planType", "orderType", "type"):
        value = str(row.get(name) or "").upper()
        if value.startswith("TAKE_PROFIT") or value == "PROFIT_PLAN":
            return "tp"
        if value.startswith("STOP") or value == "LOSS_PLAN":
            return "sl"
    return None


def parse_order(row: dict[str, Any]) -> ExchangeOrder:
    """An order row; every documented row states its type, status and times, so a row without them (or
    with a status WEEX does not document) is unreadable, never an order guessed open."""
    otype = str(row.get("type") or row["orderType"])
    side = Side(str(row["positionSide"]))
    reduce_only = bool(row.get("reduceOnly")) or (
        str(row.get("side")) == ("SELL" if side is Side.LONG else "BUY")
    )
    kind: Literal["entry", "close", "tp", "sl"]
    leg = leg_kind(row)
    if leg is not None:
        kind = leg
    elif reduce_only:
        kind = "close"
    else:
        kind = "entry"
    created = from_ms(row.get("time") or row["createTime"])
    return ExchangeOrder(
        order_id=str(row.get("orderId") or row["algoId"]),
        client_order_id=(row.get("clientOrderId") or row.get("clientAlgoId") or None),
        symbol=str(row["symbol"]),
        position_side=side,
        reduce_only=reduce_only,
        order_type=otype,
        status=_STATUS[str(row.get("status") or row.get("algoStatus")).upper()],
        size=decimal_or(row.get("origQty") or row.get("quantity")),
        filled_size=decimal_or(row.get("executedQty"), Decimal(0)),
        price=optional_decimal(row.get("price")),
        avg_price=optional_decimal(row.get("avgPrice")),
        created_at=created,
        updated_at=from_ms(row["updateTime"]),
        kind=kind,
        trigger_price=optional_decimal(row.get("stopPrice") or row.get("triggerPrice")),
    )


class UnclassifiedLeg(ValueError):
    """A TP/SL order whose fields do not say whether it is a take-profit or a stop-loss."""

    def __init__(self, order_id: str, row: dict[str, Any]) -> None:
        super().__init__(f"TP/SL order {order_id}: no field says take-profit or stop-loss")
        self.order_id = order_id
        self.row = row


def parse_algo(row: dict[str, Any], kind: Literal["tp", "sl"] | None = None) -> AlgoOrder:
    """One open TP/SL order; ``kind`` comes from the row or, when the row is silent, from the caller."""
    order_id = str(row.get("algoId") or row["orderId"])
    kind = leg_kind(row) or kind
    if kind is None:
        raise UnclassifiedLeg(order_id, row)
    return AlgoOrder(
        order_id=order_id,
        client_order_id=row.get("clientAlgoId") or row.get("clientOrderId") or None,
        symbol=str(row["symbol"]),
        position_side=Side(str(row["positionSide"])),
        kind=kind,
        trigger_price=decimal_or(row.get("triggerPrice") or row.get("stopPrice")),
        size=decimal_or(row.get("quantity") or row.get("origQty")),
        status=_STATUS[str(row.get("algoStatus") or row.get("status")).upper()],
        created_at=from_ms(row.get("createTime") or row["time"]),
        parent_order_id=(
            str(row["actualOrderId"]) if row.get("actualOrderId") not in (None, "", "0", 0) else None
        ),
    )


def parse_position(row: dict[str, Any]) -> ExchangePosition:
    """A held position. Every documented row (allPosition, the ``positions`` push) has a positive size,
    its openValue, leverage, margin, id and times; a row without one is unreadable, never filled in."""
    size = decimal_or(row["size"])
    if size <= 0:
        raise ValueError(f"position size {size}: WEEX documents no such row")
    liq = optional_decimal(row.get("liquidatePrice"))
    mode = str(row.get("marginType") or row["marginMode"])
    return ExchangePosition(
        symbol=str(row["symbol"]),
        side=Side(str(row["side"]).upper()),
        size=size,
        entry_price=decimal_or(row["openValue"]) / size,
        margin=decimal_or(row.get("marginSize") or row["isolatedMargin"]),
        leverage=decimal_or(row["leverage"]),
        unrealized_pnl=decimal_or(row.get("unrealizePnl"), Decimal(0)),
        liquidation_price=liq,
        opened_at=from_ms(row["createdTime"]),
        updated_at=from_ms(row["updatedTime"]),
        position_id=str(row["id"]),
        margin_mode="isolated" if mode.upper() == "ISOLATED" else "cross",
    )


def parse_contract(row: dict[str, Any]) -> Contract:
    """tick = 10^-pricePrecision; step = contractVal (Weex.Net). Every documented symbol row states a
    non-zero contractVal and its maxLeverage (reference §3.1.1), so a row without them is unreadable."""
    tick = step_from_decimals(int(str(row["pricePrecision"])))
    step = optional_decimal(row.get("contractVal"))
    if step is None:
        raise ValueError(f"{row.get('symbol')}: no contractVal")
    min_size = optional_decimal(row.get("minOrderSize")) or step
    return Contract(
        symbol=str(row["symbol"]),
        step_size=step,
        tick_size=tick,
        min_size=max(min_size, step),
        max_size=optional_decimal(row.get("maxOrderSize")),
        min_notional=Decimal(0),
        max_leverage=int(decimal_or(row["maxLeverage"])),
    )

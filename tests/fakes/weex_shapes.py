"""WEEX v3 JSON shapes the fake serves (ccxt's recordings and WEEX's docs, reference §3)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from smt_engine.domain import Contract, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    ExchangeOrder,
    ExchangePosition,
    Fill,
    OrderStatus,
)
from smt_engine.exchange.market import to_ms
from smt_engine.exchange.paper import WEEX_CONTRACTS_2026_01
from smt_engine.exchange.precision import plain

STATUS_NAMES = {
    OrderStatus.NEW: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.UNTRIGGERED: "UNTRIGGERED",
    OrderStatus.TRIGGERED: "TRIGGERED",
}


def decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return -exponent


def order_side(position_side: Side, reduce_only: bool) -> str:
    return "BUY" if (position_side is Side.LONG) != reduce_only else "SELL"


def order_json(o: ExchangeOrder) -> dict[str, Any]:
    return {
        "avgPrice": plain(o.avg_price or Decimal(0)),
        "clientOrderId": o.client_order_id or "",
        "cumQuote": plain((o.avg_price or Decimal(0)) * o.filled_size),
        "executedQty": plain(o.filled_size),
        "orderId": o.order_id,
        "origQty": plain(o.size),
        "price": plain(o.price or Decimal(0)),
        "reduceOnly": o.reduce_only,
        "side": order_side(o.position_side, o.reduce_only),
        "positionSide": o.position_side.value,
        "status": STATUS_NAMES[o.status],
        "stopPrice": plain(o.trigger_price or Decimal(0)),
        "symbol": o.symbol,
        "time": to_ms(o.created_at),
        "timeInForce": "IOC" if o.order_type != "LIMIT" else "GTC",
        "type": o.order_type,
        "updateTime": to_ms(o.updated_at),
        "workingType": "CONTRACT_PRICE" if o.trigger_price else "UNKNOWN_PRICE_TYPE",
    }


def algo_json(a: AlgoOrder) -> dict[str, Any]:
    return {
        "algoId": a.order_id,
        "clientAlgoId": a.client_order_id or "",
        "algoType": "CONDITIONAL",
        "orderType": "TAKE_PROFIT_MARKET" if a.kind == "tp" else "STOP_MARKET",
        "symbol": a.symbol,
        "side": order_side(a.position_side, True),
        "positionSide": a.position_side.value,
        "timeInForce": "IOC",
        "quantity": plain(a.size),
        "algoStatus": STATUS_NAMES[a.status],
        "actualOrderId": a.parent_order_id or "0",
        "actualPrice": "0",
        "triggerPrice": plain(a.trigger_price),
        "price": "0",
        "tpTriggerPrice": None,
        "tpPrice": None,
        "slTriggerPrice": None,
        "slPrice": None,
        "tpOrderType": None,
        "workingType": "CONTRACT_PRICE",
        "closePosition": False,
        "reduceOnly": True,
        "createTime": to_ms(a.created_at),
        "updateTime": to_ms(a.created_at),
        "triggerTime": "0",
    }


def position_json(p: ExchangePosition) -> dict[str, Any]:
    return {
        "id": p.position_id,
        "asset": "USDT",
        "symbol": p.symbol,
        "side": p.side.value,
        "marginType": "ISOLATED" if p.margin_mode == "isolated" else "CROSSED",
        "separatedMode": "COMBINED",
        "separatedOpenOrderId": "0",
        "leverage": f"{p.leverage:.2f}",
        "size": plain(p.size),
        "openValue": plain(p.entry_price * p.size),
        "openFee": "0",
        "fundingFee": "0",
        "marginSize": plain(p.margin),
        "isolatedMargin": plain(p.margin) if p.margin_mode == "isolated" else "0",
        "isAutoAppendIsolatedMargin": False,
        "cumOpenSize": plain(p.size),
        "cumOpenValue": plain(p.entry_price * p.size),
        "cumOpenFee": "0",
        "cumCloseSize": "0",
        "cumCloseValue": "0",
        "cumCloseFee": "0",
        "cumFundingFee": "0",
        "cumLiquidateFee": "0",
        "createdMatchSequenceId": 0,
        "updatedMatchSequenceId": 0,
        "createdTime": to_ms(p.opened_at),
        "updatedTime": to_ms(p.updated_at),
        "unrealizePnl": plain(p.unrealized_pnl),
        "liquidatePrice": plain(p.liquidation_price or Decimal(0)),
    }


def trade_json(f: Fill, n: int) -> dict[str, Any]:
    closing = f.realized_pnl != 0
    side = order_side(f.position_side, closing)
    return {
        "id": n,
        "orderId": f.order_id,
        "symbol": f.symbol,
        "buyer": side == "BUY",
        "commission": plain(-f.fee),
        "commissionAsset": "USDT",
        "maker": False,
        "price": plain(f.price),
        "qty": plain(f.size),
        "quoteQty": plain(f.price * f.size),
        "realizedPnl": plain(f.realized_pnl),
        "side": side,
        "positionSide": f.position_side.value,
        "time": to_ms(f.at),
    }


WEEX_CONTRACTS_V3: dict[str, Contract] = {
    symbol: replace(c, step_size=min(c.step_size, Decimal(1)), min_size=min(c.min_size, Decimal(1)))
    for symbol, c in WEEX_CONTRACTS_2026_01.items()
}
"""The fake's v3 exchangeInfo table: the January 2026 ticks and steps, except that v3 states a step only as
a decimal count (``quantityPrecision`` >= 0, ``contractVal`` = 10^-quantityPrecision in every example of
ccxt's and Weex.Net's, reference §3.1.1), so the v2 steps of 10 and 100 (DOGE, XRP, ADA) are served as 1
(ccxt's recordings trade DOGE in sizes of 100, 300 and 1400)."""


def contract_json(c: Contract) -> dict[str, Any]:
    """An exchangeInfo ``symbols[]`` row; never a negative precision (not a v3 value). A step above 1
    (a v2 table passed in on purpose) is stated as Weex.Net reads it: ``contractVal`` = the step."""
    return {
        "symbol": c.symbol,
        "baseAsset": c.symbol.removesuffix("USDT"),
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": max(decimals(c.tick_size), 0),
        "quantityPrecision": max(decimals(c.step_size), 0),
        "baseAssetPrecision": max(decimals(c.step_size), 0),
        "quotePrecision": max(decimals(c.tick_size), 0),
        "contractVal": plain(c.step_size),
        "delivery": ["00:00:00", "08:00:00", "16:00:00"],
        "forwardContractFlag": True,
        "minLeverage": 1,
        "maxLeverage": c.max_leverage,
        "buyLimitPriceRatio": "0.01",
        "sellLimitPriceRatio": "0.01",
        "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0008",
        "minOrderSize": plain(c.min_size),
        "maxOrderSize": plain(c.max_size or Decimal(10**9)),
        "maxPositionSize": plain((c.max_size or Decimal(10**9)) * 10),
        "marketOpenLimitSize": plain(c.max_size or Decimal(10**9)),
    }

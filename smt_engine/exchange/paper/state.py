"""The paper account's state (positions, orders, fills) and its atomic JSON persistence."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from smt_engine.domain import Side
from smt_engine.exchange.base import (
    AlgoOrder,
    ExchangeOrder,
    Fill,
    OrderStatus,
)


@dataclass
class PaperPosition:
    symbol: str
    side: Side
    size: Decimal
    entry: Decimal
    leverage: int
    margin_mode: Literal["cross", "isolated"]
    margin: Decimal
    opened_at: datetime
    updated_at: datetime
    position_id: str


@dataclass
class PaperOrder:
    order_id: str
    client_order_id: str | None
    symbol: str
    position_side: Side
    reduce_only: bool
    order_type: str
    kind: Literal["entry", "close", "tp", "sl"]
    status: OrderStatus
    size: Decimal
    created_at: datetime
    updated_at: datetime
    filled_size: Decimal = Decimal(0)
    price: Decimal | None = None
    avg_price: Decimal | None = None
    trigger_price: Decimal | None = None
    tp_price: Decimal | None = None
    sl_price: Decimal | None = None
    parent_order_id: str | None = None
    fee: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    @property
    def is_leg(self) -> bool:
        return self.kind in ("tp", "sl") and self.order_type != "MARKET"

    def public(self) -> ExchangeOrder:
        return ExchangeOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            position_side=self.position_side,
            reduce_only=self.reduce_only,
            order_type=self.order_type,
            status=self.status,
            size=self.size,
            filled_size=self.filled_size,
            price=self.price,
            avg_price=self.avg_price,
            created_at=self.created_at,
            updated_at=self.updated_at,
            kind=self.kind,
            trigger_price=self.trigger_price,
        )

    def algo(self) -> AlgoOrder:
        assert self.trigger_price is not None and self.kind in ("tp", "sl")
        return AlgoOrder(
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            position_side=self.position_side,
            kind=self.kind,
            trigger_price=self.trigger_price,
            size=self.size,
            status=self.status,
            created_at=self.created_at,
            parent_order_id=self.parent_order_id,
        )


@dataclass
class PaperAccount:
    wallet: Decimal
    cursor: datetime | None = None
    next_id: int = 1
    leverage: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: list[PaperPosition] = field(default_factory=list)
    orders: list[PaperOrder] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    ai_logs: list[dict[str, Any]] = field(default_factory=list)


def encode_state(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: encode_state(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list):
        return [encode_state(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_state(v) for k, v in value.items()}
    return value


def decode_state(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$d"}:
            return Decimal(value["$d"])
        if set(value) == {"$t"}:
            return datetime.fromisoformat(value["$t"])
        return {k: decode_state(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_state(v) for v in value]
    return value


def load_account(path: Path) -> PaperAccount:
    raw = decode_state(json.loads(path.read_text()))
    return PaperAccount(
        wallet=raw["wallet"],
        cursor=raw.get("cursor"),
        next_id=raw["next_id"],
        leverage=raw.get("leverage", {}),
        positions=[PaperPosition(**{**p, "side": Side(p["side"])}) for p in raw.get("positions", [])],
        orders=[
            PaperOrder(**{**o, "position_side": Side(o["position_side"]), "status": OrderStatus(o["status"])})
            for o in raw.get("orders", [])
        ],
        fills=[Fill(**{**f, "position_side": Side(f["position_side"])}) for f in raw.get("fills", [])],
        ai_logs=raw.get("ai_logs", []),
    )


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Builders for the reconciliation tests: the venue's order history and fills, positions, orders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from smt_engine.clock import SimulatedClock
from smt_engine.domain import (
    PositionState,
    Side,
)
from smt_engine.exchange.base import (
    ExchangeError,
    ExchangeOrder,
    Fill,
    OrderStatus,
)
from smt_engine.store import Store
from smt_engine.store.records import Position
from smt_engine.trading.reconcile import PositionReconciler
from tests.unit.trading.conftest import NOW

OPENED = NOW - timedelta(hours=3)


@dataclass
class Venue:
    """Order history and fills as the venue reports them; a read can be made to fail. Each read is
    recorded with its ``since``: a real venue answers only from then on."""

    history: list[ExchangeOrder] = field(default_factory=list)
    fill_list: list[Fill] = field(default_factory=list)
    failure: ExchangeError | None = None
    asked: list[tuple[str, str, datetime | None]] = field(default_factory=list)

    async def order_history(
        self, symbol: str, since: datetime | None = None, limit: int = 100
    ) -> list[ExchangeOrder]:
        self.asked.append(("order_history", symbol, since))
        if self.failure is not None:
            raise self.failure
        return list(self.history)

    async def fills(self, symbol: str, since: datetime | None = None, limit: int = 100) -> list[Fill]:
        self.asked.append(("fills", symbol, since))
        if self.failure is not None:
            raise self.failure
        return list(self.fill_list)


@dataclass
class AiLogs:
    closes: list[tuple[Any, ...]] = field(default_factory=list)

    def close(
        self, order_id: str | None, input: dict[str, Any], output: dict[str, Any], explanation: str
    ) -> None:
        self.closes.append((order_id, input, output, explanation))


def reconciler(store: Store, clock: SimulatedClock, venue: Venue) -> tuple[PositionReconciler, AiLogs]:
    logs = AiLogs()
    return PositionReconciler(store, clock, venue, logs), logs  # type: ignore[arg-type]


def position(store: Store, side: Side = Side.LONG, proposal_id: int | None = None) -> Position:
    return store.positions.insert(
        Position(
            symbol="ETHUSDT",
            side=side,
            size=Decimal("1.5"),
            entry_price=Decimal(2000),
            opened_at=OPENED,
            state=PositionState.OPEN,
            leverage=20,
            updated_at=OPENED,
            proposal_id=proposal_id,
        )
    )


def venue_order(
    oid: str,
    *,
    kind: str = "close",
    status: OrderStatus = OrderStatus.FILLED,
    side: Side = Side.LONG,
    reduce_only: bool = True,
    order_type: str = "MARKET",
    at: datetime = NOW - timedelta(minutes=10),
    cid: str | None = None,
    avg: str | None = "2100",
) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=oid,
        client_order_id=cid,
        symbol="ETHUSDT",
        position_side=side,
        reduce_only=reduce_only,
        order_type=order_type,
        status=status,
        size=Decimal("1.5"),
        filled_size=Decimal("1.5"),
        price=None,
        avg_price=Decimal(avg) if avg is not None else None,
        created_at=at,
        updated_at=at,
        kind=kind,  # type: ignore[arg-type]
    )


def fill(
    oid: str,
    pnl: str,
    *,
    fee: str = "-0.5",
    side: Side = Side.LONG,
    at: datetime = NOW - timedelta(minutes=10),
    price: str = "2100",
    size: str = "1.5",
) -> Fill:
    return Fill(oid, "ETHUSDT", side, Decimal(price), Decimal(size), Decimal(fee), Decimal(pnl), at)


def closed(store: Store, pos: Position) -> Position:
    got = store.positions.get(pos.id or 0)
    assert got is not None
    assert got.state is PositionState.CLOSED
    return got


def closed_by(
    store: Store, order_id: str, opened_at: datetime, *, symbol: str = "ETHUSDT", side: Side = Side.LONG
) -> Position:
    """A position already closed by the venue order ``order_id`` (a part closed earlier, another trade)."""
    return store.positions.insert(
        Position(
            symbol=symbol,
            side=side,
            size=Decimal("0.5"),
            entry_price=Decimal(2000),
            opened_at=opened_at,
            state=PositionState.CLOSED,
            leverage=20,
            updated_at=opened_at,
            close_order_id=order_id,
        )
    )

"""Builders for the closer's tests: a venue that records what the closer sends, an opened position."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, OrderKind, PositionState, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    AmbiguousOutcome,
    ExchangeError,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    Fill,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.exchange.ids import make_client_id
from smt_engine.store import Store
from smt_engine.store.records import Order, Position, Proposal
from smt_engine.trading.execution import Executor
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive
from tests.unit.trading.scripted import OPENED_AT, ScriptedExchange, listed_position
from tests.unit.trading.test_execution import setup

EXIT = Decimal("2100")  # the price the close fills at (the entry filled at 2000)


@dataclass
class Venue(ScriptedExchange):
    """Records every argument the closer sends; the close can rest, be refused, lose its answer."""

    sent: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    close_rests: bool = False  # accepted, not yet filled when read back
    close_error: ExchangeError | None = None  # refused outright
    lose_close_answer: bool = False  # accepted, then the answer is lost
    close_never_seen: bool = False  # the answer is lost and the venue never got it
    unreadable: bool = False  # the close order cannot be read back
    algos_error: ExchangeError | None = None
    cancel_error: dict[str, ExchangeError] = field(default_factory=dict)  # by algo id
    fills_error: ExchangeError | None = None
    fill_rows: list[Fill] = field(default_factory=list)

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        self.sent.append(("open_algo_orders", (symbol,)))
        if self.algos_error is not None:
            raise self.algos_error
        return await super().open_algo_orders(symbol)

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None:
        self.sent.append(("cancel_algo_order", (symbol, order_id)))
        if order_id in self.cancel_error:
            raise self.cancel_error[order_id]
        await super().cancel_algo_order(symbol, order_id)

    async def close_position(self, symbol: str, side: Side, client_order_id: str) -> PlacedOrder:
        self.sent.append(("close_position", (symbol, side, client_order_id)))
        if self.close_error is not None:
            raise self.close_error
        if self.close_never_seen:
            raise AmbiguousOutcome("connection reset", client_order_id=client_order_id)
        placed = await super().close_position(symbol, side, client_order_id)
        if self.close_rests:
            self.orders[client_order_id] = replace(self.orders[client_order_id], status=OrderStatus.NEW)
            self.positions_[(symbol, side)] = self.positions_.get((symbol, side)) or venue_position(
                symbol, side
            )
        if self.lose_close_answer:
            raise AmbiguousOutcome("connection dropped after send", client_order_id=client_order_id)
        return placed

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.sent.append(("find_order", (symbol, client_order_id)))
        return await super().find_order(symbol, client_order_id)

    async def order(self, symbol: str, order_id: str) -> ExchangeOrder:
        self.sent.append(("order", (symbol, order_id)))
        if self.unreadable:
            raise ExchangeUnavailable("upstream 502")
        return await super().order(symbol, order_id)

    async def fills(self, symbol: str, since: datetime | None = None, limit: int = 100) -> list[Fill]:
        self.sent.append(("fills", (symbol, since)))
        if self.fills_error is not None:
            raise self.fills_error
        return list(self.fill_rows)

    def next_id(self) -> str:
        """The venue id the next order will get."""
        return str(self._seq + 1)


def venue_position(symbol: str, side: Side) -> ExchangePosition:
    return listed_position(
        symbol, side, "0.25", opened_at=OPENED_AT, entry_price=PRICES[symbol], margin=Decimal(25),
        position_id="pos-x",
    )  # fmt: skip


async def opened(
    store: Store, clock: SimulatedClock, **script: Any
) -> tuple[Executor, Venue, Proposal, Position]:
    """An entry filled with its TP/SL resting; the position's id is not its proposal's (ids differ)."""
    executor, _, proposal = setup(store, clock)
    store.positions.insert(
        Position(
            symbol="BTCUSDT", side=Side.SHORT, size=Decimal("0.001"), entry_price=Decimal(90000),
            opened_at=OPENED_AT, state=PositionState.CLOSED, leverage=20, updated_at=OPENED_AT,
        )
    )  # fmt: skip
    venue = Venue(prices=dict(PRICES), contract_map=dict(CONTRACTS), **script)
    executor = Executor(venue, store, clock, executor.settings, executor.ailog)
    opened = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert opened.outcome == "open"
    assert opened.position is not None
    assert opened.position.id is not None
    assert opened.position.id != proposal.id
    venue.prices["ETHUSDT"] = EXIT
    venue.sent.clear()
    return executor, venue, proposal, opened.position


def client_id(store: Store, ref: int, leg: str) -> str:
    return make_client_id(store.instance_id()[:8], ref, leg)


def close_rows(store: Store, position_id: int) -> list[Order]:
    return [o for o in store.orders.for_position(position_id) if o.kind is OrderKind.CLOSE]


def trail(store: Store, order_id: int | None) -> list[tuple[str, str, str]]:
    """The audited state changes of one order: kind, from, reason."""
    return [
        (e.kind, e.data["from"], e.data["reason"])
        for e in store.events.select("order_id = ?", [order_id], order_by="id")
    ]


def leg_rows(store: Store, position_id: int) -> list[Order]:
    return [o for o in store.orders.for_position(position_id) if o.kind in (OrderKind.TP, OrderKind.SL)]


def fill(order_id: str, side: Side, fee: str, pnl: str) -> Fill:
    return Fill(order_id, "ETHUSDT", side, EXIT, Decimal("0.1"), Decimal(fee), Decimal(pnl), OPENED_AT)


def algo(order_id: str, symbol: str, side: Side) -> AlgoOrder:
    return AlgoOrder(
        order_id, None, symbol, side, "sl", Decimal(1), Decimal(1), OrderStatus.UNTRIGGERED, OPENED_AT
    )

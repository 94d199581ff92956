"""Builders for the adjustment tests: a venue whose contract, price, partial-close answers and legs can
misbehave, and an opened ETH long (1.5 at 2000, TP 2100 and SL 1960 resting) with its adjuster."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from smt_engine.clock import SimulatedClock
from smt_engine.domain import Contract
from smt_engine.exchange.base import ExchangeError, ExchangeOrder, OrderStatus, PlacedOrder, Ticker
from smt_engine.store import Store
from smt_engine.store.records import Event, Position
from smt_engine.trading.adjust import PositionAdjuster
from smt_engine.trading.execution import Executor
from tests.unit.trading.closing_support import Venue, opened

ENTRY = Decimal(2000)


@dataclass
class AdjustVenue(Venue):
    """``Venue`` plus: an unreadable contract list or ticker, the partial close's read-backs scripted."""

    contracts_error: ExchangeError | None = None
    ticker_error: ExchangeError | None = None
    reads: list[OrderStatus | ExchangeError] = field(default_factory=list)  # one per order() read
    part_filled: Decimal | None = None  # what the partial close filled, if not all of it
    part_avg: Decimal | None = None  # its average price, if not the venue's price
    no_avg: bool = False  # the venue reports no average price
    leg_id: str | None = None  # the id place_tp_sl answers with, if not a new one
    slow: SimulatedClock | None = None  # place_tp_sl answers a second later on this clock

    async def contracts(self, symbols: list[str] | None = None) -> dict[str, Contract]:
        if self.contracts_error is not None:
            raise self.contracts_error
        return await super().contracts(symbols)

    async def ticker(self, symbol: str) -> Ticker:
        if self.ticker_error is not None:
            raise self.ticker_error
        return await super().ticker(symbol)

    async def place_order(self, request: Any) -> PlacedOrder:
        placed = await super().place_order(request)
        order = self.orders[request.client_order_id]
        self.orders[request.client_order_id] = replace(
            order,
            filled_size=self.part_filled if self.part_filled is not None else order.filled_size,
            avg_price=None if self.no_avg else (self.part_avg or order.avg_price),
        )
        return placed

    async def order(self, symbol: str, order_id: str) -> ExchangeOrder:
        found = await super().order(symbol, order_id)
        if not self.reads:
            return found
        read = self.reads.pop(0)
        if isinstance(read, ExchangeError):
            raise read
        return replace(found, status=read)

    async def place_tp_sl(self, *args: Any, **kwargs: Any) -> PlacedOrder:
        if self.slow is not None:
            await self.slow.sleep(1)
        placed = await super().place_tp_sl(*args, **kwargs)
        if self.leg_id is None:
            return placed
        self.algos.pop()  # the venue kept the order it already had under that id
        return PlacedOrder(self.leg_id, placed.client_order_id)


async def ready(
    store: Store, clock: SimulatedClock, **script: Any
) -> tuple[PositionAdjuster, AdjustVenue, Executor, Position]:
    """The opened long (position #2 of proposal #1), the venue at 2000 on the simulated clock."""
    executor, venue, _, position = await opened(store, clock)
    adjusted = AdjustVenue(
        prices=venue.prices, contract_map=venue.contract_map, algos=venue.algos, orders=venue.orders,
        positions_=venue.positions_, _seq=venue._seq, now=clock.now, **script,
    )  # fmt: skip
    adjusted.prices["ETHUSDT"] = ENTRY
    executor = Executor(adjusted, store, clock, executor.settings, executor.ailog)
    return PositionAdjuster(executor.desk, executor.protection), adjusted, executor, position


def events(store: Store, kind: str) -> list[Event]:
    """The events of ``kind``, oldest first."""
    return store.events.select("kind = ?", [kind], order_by="id")


def current(store: Store, position_id: int | None) -> Position:
    found = store.positions.get(position_id or 0)
    assert found is not None
    return found

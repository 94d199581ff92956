"""The executor's reads of the venue around the entry, value by value (README "No unprotected position",
"Nothing is left half-done"; docs/benchmarks.md, mutation testing): stale orders on the symbol are
cancelled without stripping a held position's TP/SL, and the entry's position is awaited for the fill
timeout, past a failed read and a flat listing, and no longer.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, EventLevel, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.store import Store
from smt_engine.store.records import Proposal
from smt_engine.trading.execution import Executor
from smt_engine.trading.order_desk import error_text
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive, make_settings
from tests.unit.trading.scripted import OPENED_AT, ScriptedExchange, listed_position
from tests.unit.trading.test_execution import setup

# ---------------------------------------------------------------- stale orders before the entry


def _held(symbol: str, side: Side, size: str) -> ExchangePosition:
    return listed_position(
        symbol, side, size, opened_at=OPENED_AT, entry_price=PRICES[symbol], margin=Decimal(10),
        position_id=f"pos-{symbol}-{side.value}",
    )  # fmt: skip


def _algo(order_id: str, symbol: str, side: Side, kind: Literal["tp", "sl"]) -> AlgoOrder:
    return AlgoOrder(
        order_id, None, symbol, side, kind, PRICES[symbol], Decimal(1), OrderStatus.UNTRIGGERED, OPENED_AT
    )


def _resting_order(order_id: str, symbol: str, side: Side, reduce_only: bool) -> ExchangeOrder:
    return ExchangeOrder(
        order_id, None, symbol, side, reduce_only, "LIMIT", OrderStatus.NEW, Decimal(1), Decimal(0),
        PRICES[symbol], None, OPENED_AT, OPENED_AT,
    )  # fmt: skip


class _StaleOrders(ScriptedExchange):
    """Lists resting orders by symbol and records each cancel with the symbol it names, until the entry."""

    resting: list[ExchangeOrder]
    cancels: list[tuple[str, str | None, str | None]]

    async def open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        return [o for o in self.resting if symbol is None or o.symbol == symbol]

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        self.cancels.append((symbol, order_id, client_order_id))
        await super().cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def cancel_algo_order(self, symbol: str, order_id: str) -> None:
        self.cancels.append((symbol, None, order_id))
        await super().cancel_algo_order(symbol, order_id)

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        self.cancels.append(("placed", None, None))
        return await super().place_order(request)


def _stale(store: Store, clock: SimulatedClock) -> tuple[Executor, _StaleOrders, Proposal]:
    executor, _, proposal = setup(store, clock)
    ex = _StaleOrders(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.resting, ex.cancels = [], []
    return Executor(ex, store, clock, executor.settings), ex, proposal


async def test_stale_orders_of_a_symbol_held_by_no_position_are_all_cancelled_and_said_so(
    store: Store, clock: SimulatedClock
) -> None:
    """A BTC position held, and an ETH short listed flat, hold nothing of ETH: all ETH orders go."""
    executor, ex, proposal = _stale(store, clock)
    ex.positions_ = {
        ("BTCUSDT", Side.LONG): _held("BTCUSDT", Side.LONG, "0.01"),
        ("ETHUSDT", Side.SHORT): _held("ETHUSDT", Side.SHORT, "0"),
    }
    ex.algos = [_algo("eth-tp", "ETHUSDT", Side.SHORT, "tp"), _algo("eth-sl", "ETHUSDT", Side.LONG, "sl")]
    ex.algos.append(_algo("btc-sl", "BTCUSDT", Side.LONG, "sl"))
    await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert ex.calls[ex.names().index("cancel_all")] == ("cancel_all", "ETHUSDT")
    (said,) = store.events.of_kind("orders.cancelled")
    assert (said.level, said.message) == (EventLevel.INFO, "ETHUSDT: cancelled 2 stale order(s)")
    assert [a.order_id for a in ex.algos if a.symbol == "BTCUSDT"] == ["btc-sl"]


async def test_a_held_position_keeps_its_tp_sl_while_stale_entries_and_other_side_legs_go(
    store: Store, clock: SimulatedClock
) -> None:
    """README "No unprotected position": a held ETH long (0.5, under one contract unit) keeps its legs
    and its reduce-only close; the stale ETH entry and the ETH short's leg are cancelled by id; nothing of
    BTC is touched."""
    executor, ex, proposal = _stale(store, clock)
    ex.positions_ = {("ETHUSDT", Side.LONG): _held("ETHUSDT", Side.LONG, "0.5")}
    ex.resting = [
        _resting_order("eth-entry", "ETHUSDT", Side.LONG, reduce_only=False),
        _resting_order("eth-close", "ETHUSDT", Side.LONG, reduce_only=True),
        _resting_order("btc-entry", "BTCUSDT", Side.LONG, reduce_only=False),
    ]
    ex.algos = [
        _algo("long-tp", "ETHUSDT", Side.LONG, "tp"),
        _algo("long-sl", "ETHUSDT", Side.LONG, "sl"),
        _algo("short-sl", "ETHUSDT", Side.SHORT, "sl"),
        _algo("btc-tp", "BTCUSDT", Side.SHORT, "tp"),
    ]
    await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    before_entry = ex.cancels[: ex.cancels.index(("placed", None, None))]
    assert before_entry == [("ETHUSDT", "eth-entry", None), ("ETHUSDT", None, "short-sl")]
    assert ex.count("cancel_all") == 0
    assert not store.events.of_kind("orders.cancelled")


# ---------------------------------------------------------------- the wait for the position


class _ListedLate(ScriptedExchange):
    """After the entry, the positions reads follow ``steps`` ("fail": an error, "flat": the side listed
    at size 0, "hidden": nothing) before the venue's real list; ``reads`` keeps when each came."""

    steps: list[str]
    reads: list[datetime]
    placed = False

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        self.placed = True
        return placed

    async def positions(self) -> list[ExchangePosition]:
        if not self.placed:
            return await super().positions()
        self.reads.append(self.now())
        step = self.steps.pop(0) if self.steps else "listed"
        if step == "fail":
            raise ExchangeUnavailable("positions: HTTP 503")
        if step == "flat":
            return [replace(p, size=Decimal(0)) for p in self.positions_.values()]
        return [] if step == "hidden" else await super().positions()


def _late(
    store: Store, clock: SimulatedClock, steps: list[str], **trading: str
) -> tuple[Executor, _ListedLate, Proposal]:
    executor, _, proposal = setup(store, clock)
    ex = _ListedLate(prices=dict(PRICES), contract_map=dict(CONTRACTS), now=clock.now)
    ex.steps, ex.reads = steps, []
    settings = make_settings(engine={"approval": "auto"}, trading=trading) if trading else executor.settings
    return Executor(ex, store, clock, settings), ex, proposal


async def test_the_position_is_awaited_past_a_failed_read_and_a_flat_listing_until_it_has_a_size(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    executor, _, proposal = _late(store, clock, ["fail", "flat"])
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.execution"):
        result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    assert result.position is not None
    assert result.position.size == proposal.size == Decimal("1.5")
    words = error_text(ExchangeUnavailable("positions: HTTP 503"))
    assert f"positions read failed while waiting for a fill: {words}" in caplog.messages


async def test_the_wait_for_the_position_lasts_the_fill_timeout_and_no_longer(
    store: Store, clock: SimulatedClock
) -> None:
    """Reads every 3 s for 15 s: the last at 15 s exactly; a position first listed at 18 s is not waited
    for (the entry is then looked up, cancelled and failed)."""
    executor, ex, proposal = _late(store, clock, ["hidden"] * 6, poll_interval="3s", fill_timeout="15s")
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert [(r - ex.reads[0]).total_seconds() for r in ex.reads] == [0, 3, 6, 9, 12, 15]

"""The executor, value by value (README "Never an order twice", "Nothing is left half-done";
docs/benchmarks.md, mutation testing): a lost answer is resolved by the look-up at once, an entry no
look saw is cancelled by its own client id and its refusal kept, and an entry that opened and closed
between two looks is rebuilt, its row and result naming the rebuilt position.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EngineState, OrderState, PositionState, ProposalState
from smt_engine.exchange.base import (
    ExchangeOrder,
    ExchangePosition,
    ExchangeUnavailable,
    Fill,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.store import Store
from smt_engine.trading.execution import Executor
from smt_engine.trading.order_desk import error_text
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive
from tests.unit.trading.scripted import Script, ScriptedExchange
from tests.unit.trading.test_execution import _EntryRests, _PartFilledThenClosed, setup


class _EntryStateAtFirstLook(ScriptedExchange):
    """Records the entry row's state when the executor first looks for the position."""

    seen: list[OrderState | None]
    looked_up: list[str]

    async def positions(self) -> list[ExchangePosition]:
        if self.store_ is not None and self.cid_ is not None:
            row = self.store_.orders.by_client_id(self.cid_)
            if row is not None:
                self.seen.append(row.state)
        return await super().positions()

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.looked_up.append(symbol)
        return await super().find_order(symbol, client_order_id)

    store_: Store | None = None
    cid_: str | None = None


async def test_a_lost_answer_is_booked_filled_by_the_look_up_before_the_position_is_awaited(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _EntryStateAtFirstLook(
        prices=dict(PRICES), contract_map=dict(CONTRACTS), script=Script(lose_entry_response=True)
    )
    ex.seen, ex.looked_up = [], []
    ex.store_, ex.cid_ = store, executor.desk.entry_cid(proposal.id or 0)
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "open", result.detail
    venue = ex.orders[ex.cid_]
    assert ex.seen[0] is OrderState.FILLED  # resolved at the look-up, not only once the position showed
    entry = store.orders.by_client_id(ex.cid_)
    assert entry is not None and entry.exchange_order_id == venue.order_id
    assert entry.response == {"order_id": venue.order_id, "status": "filled", "resolved_by": "lookup"}
    filled = [e for e in store.events.of_kind("order.filled") if e.order_id == entry.id]
    assert len(filled) == 1 and filled[0].data["from"] == "unknown"
    assert filled[0].position_id is None  # booked by the look-up, before any position existed
    assert ex.looked_up and set(ex.looked_up) == {"ETHUSDT"}


class _CancelRecorded(_EntryRests):
    cancels: list[tuple[str, str | None, str | None]]

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        self.cancels.append((symbol, order_id, client_order_id))
        await super().cancel_order(symbol, order_id=order_id, client_order_id=client_order_id)


def _resting(store: Store, clock: SimulatedClock) -> tuple[Executor, _CancelRecorded, int]:
    executor, _, proposal = setup(store, clock)
    ex = _CancelRecorded(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.cancels = []
    return Executor(ex, store, clock, executor.settings), ex, proposal.id or 0


async def test_an_entry_no_look_saw_is_cancelled_by_its_own_symbol_and_client_id(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, pid = _resting(store, clock)
    proposal = store.proposals.get(pid)
    assert proposal is not None
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert ex.cancels == [("ETHUSDT", None, executor.desk.entry_cid(pid))]


async def test_a_refused_cancel_of_an_entry_no_look_saw_keeps_the_venues_words(
    store: Store, clock: SimulatedClock
) -> None:
    executor, ex, pid = _resting(store, clock)
    refusal = ExchangeUnavailable("cancel: HTTP 503")
    ex.cancel_refused = refusal
    proposal = store.proposals.get(pid)
    assert proposal is not None
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "pending", result.detail
    entry = store.orders.by_client_id(executor.desk.entry_cid(pid))
    assert entry is not None and entry.error == error_text(refusal)


class _NotKnownYet(_CancelRecorded):
    """The venue answers the entry but no look-up by client id finds it."""

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.calls.append(("find_order", client_order_id))
        return None


async def test_the_round_trip_look_after_the_fill_timeout_asks_the_venue_once(
    store: Store, clock: SimulatedClock
) -> None:
    """The fill timeout has already been waited: one look-up decides, then the entry is cancelled."""
    executor, _, proposal = setup(store, clock)
    ex = _NotKnownYet(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.cancels = []
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "failed", result.detail
    assert ex.count("find_order") == 1 and len(ex.cancels) == 1


class _PartClosedSymbolSeen(_PartFilledThenClosed):
    looked_up: list[str]

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        self.looked_up.append(symbol)
        return await super().find_order(symbol, client_order_id)


async def test_a_round_trip_result_names_the_rebuilt_position_the_filled_entry_and_the_closed_proposal(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _PartClosedSymbolSeen(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.looked_up = []
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    assert result.detail == "filled and closed (manual) before the position was listed"
    (closed,) = store.positions.recent_closed()
    assert result.position is not None and result.position.id == closed.id
    assert result.position.state is PositionState.CLOSED
    assert result.proposal.id == proposal.id and result.proposal.state is ProposalState.CLOSED
    venue = ex.orders[executor.desk.entry_cid(proposal.id or 0)]
    entry = result.entry_order
    assert entry is not None and entry == store.orders.by_client_id(venue.client_order_id)
    assert entry.state is OrderState.FILLED
    assert (entry.exchange_order_id, entry.position_id) == (venue.order_id, closed.id)
    filled = [e for e in store.events.of_kind("order.filled") if e.order_id == entry.id]
    assert [e.data["reason"] for e in filled] == ["filled; its position closed before it was listed"]
    opened = [e for e in store.events.of_kind("position.open") if e.position_id == closed.id]
    assert [e.data["actor"] for e in opened] == ["executor"]
    assert ex.looked_up and set(ex.looked_up) == {"ETHUSDT"}


class _FilledWithoutSize(_PartFilledThenClosed):
    """The venue reports the entry filled but leaves its filled size out (0): the fills tell the size."""

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        entry = self.orders[request.client_order_id]
        self.orders[request.client_order_id] = replace(
            entry, status=OrderStatus.FILLED, filled_size=Decimal(0)
        )
        return placed

    async def fills(self, symbol, since=None, limit=100):  # type: ignore[no-untyped-def]
        entry = next(o for o in self.orders.values() if o.client_order_id.endswith("-entry"))
        return [
            Fill(
                order_id=entry.order_id,
                symbol=symbol,
                position_side=entry.position_side,
                price=PRICES[symbol],
                size=entry.size / 2,
                fee=Decimal(0),
                realized_pnl=Decimal(0),
                at=entry.created_at,
            )
        ]


async def test_an_entry_reported_filled_without_a_size_is_still_rebuilt_from_its_fills(
    store: Store, clock: SimulatedClock
) -> None:
    executor, _, proposal = setup(store, clock)
    ex = _FilledWithoutSize(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    (closed,) = store.positions.recent_closed()
    assert closed.size == proposal.size / 2


class _RecordLagsItsFills(_FilledWithoutSize):
    """The venue's record of the entry still says ``NEW`` with nothing filled while its fills (half the
    size) and the take-profit that closed them are already listed: a record lagging its fills."""

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        placed = await super().place_order(request)
        entry = self.orders[request.client_order_id]
        self.orders[request.client_order_id] = replace(entry, status=OrderStatus.NEW, avg_price=None)
        return placed


async def test_an_entry_whose_record_lags_its_fills_is_rebuilt_from_the_fills_not_cancelled(
    store: Store, clock: SimulatedClock
) -> None:
    """README "Nothing is left half-done": fills are the trade; an order record not yet caught up is not
    a reason to cancel and fail it (a failed proposal is never looked at again)."""
    executor, _, proposal = setup(store, clock)
    ex = _RecordLagsItsFills(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    executor = Executor(ex, store, clock, executor.settings)
    result = await drive(clock, executor.execute(proposal, EngineState.RUNNING))
    assert result.outcome == "closed", result.detail
    (closed,) = store.positions.recent_closed()
    assert (closed.size, closed.entry_price) == (proposal.size / 2, PRICES["ETHUSDT"])
    assert result.proposal.state is ProposalState.CLOSED and ex.count("cancel_order") == 0
    assert result.entry_order is not None and result.entry_order.state is OrderState.FILLED

"""Protection, value by value (README "No unprotected position"; docs/benchmarks.md, mutation testing):
only this position's legs count as its protection, every leg found gets an order row it can be followed
by, a missing leg is placed under a client id derived from the proposal, and a lost or refused answer
is looked up or recorded with the venue's words, never taken for a resting stop.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Literal

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import EventLevel, OrderKind, OrderState, Side
from smt_engine.exchange.base import (
    AlgoOrder,
    AmbiguousOutcome,
    ExchangeOrder,
    ExchangeUnavailable,
    OrderStatus,
    PlacedOrder,
)
from smt_engine.exchange.precision import PrecisionError
from smt_engine.store import Store
from smt_engine.store.records import Position, Proposal
from smt_engine.trading.order_desk import OrderDesk, error_text
from smt_engine.trading.orders import open_position
from smt_engine.trading.protection import Protection
from tests.unit.trading.conftest import CONTRACTS, PRICES, drive, eth_position
from tests.unit.trading.scripted import OPENED_AT, ScriptedExchange
from tests.unit.trading.test_execution import setup

TP, SL = Decimal(2100), Decimal(1900)


def _position(
    store: Store, clock: SimulatedClock, proposal_id: int | None, symbol: str = "ETHUSDT"
) -> Position:
    return open_position(
        store,
        eth_position(
            symbol=symbol,
            size=Decimal("0.5"),
            entry_price=PRICES[symbol],
            opened_at=OPENED_AT,
            leverage=10,
            updated_at=clock.now(),
            margin=Decimal(100),
            tp_price=TP,
            sl_price=SL,
            proposal_id=proposal_id,
        ),
        actor="test",
        message="opened",
        at=clock.now(),
    )


def _leg(order_id: str, kind: str, *, symbol: str = "ETHUSDT", side: Side = Side.LONG,
         parent: str | None = None, status: OrderStatus = OrderStatus.UNTRIGGERED) -> AlgoOrder:  # fmt: skip
    return AlgoOrder(
        order_id, None, symbol, side, kind,  # type: ignore[arg-type]
        TP if kind == "tp" else SL, Decimal("0.5"), status, OPENED_AT, parent_order_id=parent,
    )  # fmt: skip


def _on(
    store: Store, clock: SimulatedClock, ex: ScriptedExchange | None = None
) -> tuple[Protection, ScriptedExchange, Proposal, Position]:
    """A protection desk and an ETH long of proposal #1 whose position id (2) is not its proposal's."""
    executor, _, proposal = setup(store, clock)
    _position(store, clock, None, "BTCUSDT")
    position = _position(store, clock, proposal.id)
    assert position.id != proposal.id
    ex = ex or ScriptedExchange(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    return Protection(OrderDesk(ex, store, clock, executor.settings)), ex, proposal, position


async def test_legs_found_are_recorded_whole_and_protect_the_position(
    store: Store, clock: SimulatedClock
) -> None:
    protection, ex, proposal, position = _on(store, clock)
    ex.algos = [_leg("algo-00123456", "tp", parent="E1"), _leg("algo-00654321", "sl")]
    before = store.positions.get(position.id or 0)
    refreshed, protected, why = await drive(clock, protection.protect(proposal, position, "E1"))
    assert (protected, why) == (True, "")
    assert (refreshed.tp_order_id, refreshed.sl_order_id) == ("algo-00123456", "algo-00654321")
    assert before is not None
    assert refreshed.updated_at >= before.updated_at
    for kind, oid, trigger in (("tp", "algo-00123456", TP), ("sl", "algo-00654321", SL)):
        row = store.orders.by_client_id(protection.desk.cid(proposal.id or 0, kind))
        assert row is not None
        assert row.kind is OrderKind(kind)
        assert (row.proposal_id, row.position_id) == (proposal.id, position.id)
        assert (row.state, row.exchange_order_id, row.trigger_price) == (OrderState.SUBMITTED, oid, trigger)
    assert ex.count("place_tp_sl") == 0


async def test_a_leg_whose_client_id_is_taken_gets_one_named_after_its_order_id(
    store: Store, clock: SimulatedClock
) -> None:
    protection, ex, proposal, position = _on(store, clock)
    taken = protection.desk.cid(proposal.id or 0, "tp")
    protection.desk.new_order(taken, "ETHUSDT", Side.LONG, OrderKind.TP, Decimal(1), proposal_id=proposal.id)
    ex.algos = [_leg("algo-00123456", "tp"), _leg("algo-00654321", "sl")]
    await drive(clock, protection.protect(proposal, position, "E1"))
    row = store.orders.by_client_id(protection.desk.cid(proposal.id or 0, "tpx123456"))
    assert row is not None
    assert row.exchange_order_id == "algo-00123456"
    assert row.proposal_id == proposal.id
    sl = store.orders.by_client_id(protection.desk.cid(proposal.id or 0, "sl"))
    assert sl is not None
    assert sl.exchange_order_id == "algo-00654321"


async def test_only_this_positions_legs_count_as_its_protection(store: Store, clock: SimulatedClock) -> None:
    """Another symbol's, the other side's, a triggered one and an older entry's legs are not its stops."""
    protection, ex, proposal, position = _on(store, clock)
    ex.algos = [
        _leg("b-tp", "tp", symbol="BTCUSDT"),
        _leg("b-sl", "sl", symbol="BTCUSDT"),
        _leg("s-sl", "sl", side=Side.SHORT),
        _leg("x-sl", "sl", status=OrderStatus.TRIGGERED),
        _leg("old-tp", "tp", parent="E0"),
    ]
    refreshed, protected, _ = await drive(clock, protection.protect(proposal, position, "E1"))
    assert protected
    placed = [a for c, a in ex.calls if c == "place_tp_sl"]
    assert placed == [
        ("ETHUSDT", Side.LONG, "tp", TP, Decimal("0.5")),
        ("ETHUSDT", Side.LONG, "sl", SL, Decimal("0.5")),
    ]
    assert {refreshed.tp_order_id, refreshed.sl_order_id} == {a.order_id for a in ex.algos[-2:]}
    assert ex.algos[-1].client_order_id == protection.desk.cid(proposal.id or 0, "sl2")
    assert ex.algos[-2].client_order_id == protection.desk.cid(proposal.id or 0, "tp2")
    assert {c for c, _ in ex.calls if c == "open_algo_orders"}
    assert all(a == "ETHUSDT" for c, a in ex.calls if c == "open_algo_orders")
    missing = store.events.of_kind("protection.sl_missing")
    assert len(missing) == 1
    assert missing[0].level is EventLevel.WARNING
    assert (missing[0].proposal_id, missing[0].position_id) == (proposal.id, position.id)
    row = store.orders.by_client_id(protection.desk.cid(proposal.id or 0, "sl2"))
    assert row is not None
    assert row.proposal_id == proposal.id
    assert row.exchange_order_id == ex.algos[-1].order_id


class _SlLater(ScriptedExchange):
    """The take-profit lists at once, the stop-loss from the third read."""

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        self.calls.append(("open_algo_orders", symbol))
        reads = self.count("open_algo_orders")
        return [_leg("t1", "tp")] + ([_leg("s1", "sl")] if reads >= 3 else [])


async def test_the_legs_are_awaited_until_both_rest_and_no_longer(
    store: Store, clock: SimulatedClock
) -> None:
    protection, ex, proposal, position = _on(
        store, clock, _SlLater(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    )
    refreshed, protected, _ = await drive(clock, protection.protect(proposal, position, "E1"))
    assert protected
    assert (refreshed.tp_order_id, refreshed.sl_order_id) == ("t1", "s1")
    assert refreshed.updated_at == clock.now() > position.updated_at, "stamped when its legs were known"
    assert ex.count("open_algo_orders") == 3
    assert ex.count("place_tp_sl") == 0
    assert store.events.of_kind("protection.sl_missing") == []


class _Unreadable(ScriptedExchange):
    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        self.calls.append(("open_algo_orders", symbol))
        raise ExchangeUnavailable("algo list: HTTP 503")


async def test_unreadable_legs_are_placed_after_the_timeout_and_the_failure_logged(
    store: Store, clock: SimulatedClock, caplog: pytest.LogCaptureFixture
) -> None:
    protection, ex, proposal, position = _on(
        store, clock, _Unreadable(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    )
    with caplog.at_level(logging.WARNING, logger="smt_engine.trading.protection"):
        _refreshed, protected, _ = await drive(clock, protection.protect(proposal, position, "E1"))
    assert protected
    assert ex.count("place_tp_sl") == 2
    timeout = protection.settings.trading.protection_timeout / protection.settings.trading.poll_interval
    assert ex.count("open_algo_orders") == int(timeout) + 1  # one read at the deadline, none after it
    text = f"ETHUSDT: reading TP/SL orders failed: {error_text(ExchangeUnavailable('algo list: HTTP 503'))}"
    assert next(r.getMessage() for r in caplog.records) == text


class _Refuses(ScriptedExchange):
    refusal: Exception | None = None
    lost: bool = False
    found_status: OrderStatus | None = None
    looked_up: list[tuple[str, str]] | None = None

    async def place_tp_sl(self, symbol, position_side, kind, trigger_price, size, client_order_id):  # type: ignore[no-untyped-def]
        placed: PlacedOrder = await super().place_tp_sl(
            symbol, position_side, kind, trigger_price, size, client_order_id
        )
        if self.refusal is not None:
            self.algos.pop()
            raise self.refusal
        if self.lost:
            raise AmbiguousOutcome("connection dropped", client_order_id=client_order_id)
        return placed

    async def find_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        assert self.looked_up is not None
        self.looked_up.append((symbol, client_order_id))
        algo = next((a for a in self.algos if a.client_order_id == client_order_id), None)
        if algo is None or self.found_status is None:
            return None
        return ExchangeOrder(
            algo.order_id, client_order_id, symbol, algo.position_side, True, "STOP_MARKET",
            self.found_status, algo.size, Decimal(0), algo.trigger_price, None, OPENED_AT, OPENED_AT,
        )  # fmt: skip


def _refusing(store: Store, clock: SimulatedClock) -> tuple[Protection, _Refuses, Position]:
    ex = _Refuses(prices=dict(PRICES), contract_map=dict(CONTRACTS))
    ex.looked_up = []
    protection, _, _, position = _on(store, clock, ex)
    return protection, ex, position


async def test_a_placed_stop_is_recorded_under_its_proposals_client_id(
    store: Store, clock: SimulatedClock
) -> None:
    protection, ex, position = _refusing(store, clock)
    oid = await drive(clock, protection.place_leg(position, "sl", SL))
    cid = protection.desk.cid(position.proposal_id or 0, "sl2")
    assert oid == ex.algos[-1].order_id
    assert ex.algos[-1].client_order_id == cid
    row = store.orders.by_client_id(cid)
    assert row is not None
    assert (row.state, row.exchange_order_id) == (OrderState.SUBMITTED, oid)
    assert (row.proposal_id, row.position_id, row.trigger_price) == (position.proposal_id, position.id, SL)


@pytest.mark.parametrize("kind", ["sl", "tp"])
async def test_a_refused_leg_is_recorded_rejected_with_the_venues_words(
    store: Store, clock: SimulatedClock, kind: Literal["tp", "sl"]
) -> None:
    protection, ex, position = _refusing(store, clock)
    ex.refusal = PrecisionError("tick", "trigger price off the tick")
    assert await drive(clock, protection.place_leg(position, kind, SL)) is None  # recorded, not raised
    row = store.orders.by_client_id(protection.desk.cid(position.proposal_id or 0, f"{kind}2"))
    assert row is not None
    assert row.state is OrderState.REJECTED
    assert row.error == error_text(ex.refusal)
    (failed,) = store.events.of_kind(f"protection.{kind}_failed")
    assert failed.level is EventLevel.ERROR
    assert (failed.proposal_id, failed.position_id) == (position.proposal_id, position.id)
    assert failed.message == (
        f"ETHUSDT LONG: placing {kind.upper()} at 1900 failed: {error_text(ex.refusal)}"
    )


async def test_a_stop_that_cannot_be_made_to_rest_leaves_the_position_unprotected_and_says_so(
    store: Store, clock: SimulatedClock
) -> None:
    """The reason is what the entry's close and its result tell the operator."""
    protection, ex, position = _refusing(store, clock)
    ex.refusal = ExchangeUnavailable("trigger orders: HTTP 503")
    proposal = store.proposals.get(position.proposal_id or 0)
    assert proposal is not None
    refreshed, protected, why = await drive(clock, protection.protect(proposal, position, "E1"))
    assert (protected, why) == (False, "stop-loss could not be confirmed or placed")
    assert (refreshed.tp_order_id, refreshed.sl_order_id) == (None, None)
    assert [e.kind for e in store.events.of_kind("protection.sl_failed")] == ["protection.sl_failed"]


@pytest.mark.parametrize(
    ("status", "rests"),
    [(OrderStatus.UNTRIGGERED, True), (OrderStatus.CANCELLED, False), (None, False)],
)
async def test_a_lost_answer_is_looked_up_and_only_a_resting_leg_counts(
    store: Store, clock: SimulatedClock, status: OrderStatus | None, rests: bool
) -> None:
    protection, ex, position = _refusing(store, clock)
    ex.lost, ex.found_status = True, status
    oid = await drive(clock, protection.place_leg(position, "sl", SL))
    cid = protection.desk.cid(position.proposal_id or 0, "sl2")
    assert ex.looked_up
    assert set(ex.looked_up) == {("ETHUSDT", cid)}
    row = store.orders.by_client_id(cid)
    assert row is not None
    assert row.error == error_text(AmbiguousOutcome("connection dropped", client_order_id=cid))
    assert [e.data["to"] for e in store.events.of_kind("order.unknown") if e.order_id == row.id] == [
        "unknown"
    ]
    if rests:
        assert oid == ex.algos[-1].order_id
        assert (row.state, row.exchange_order_id) == (OrderState.SUBMITTED, oid)
    else:
        assert oid is None
        assert row.state is OrderState.UNKNOWN


async def test_an_adopted_positions_leg_is_named_after_the_position(
    store: Store, clock: SimulatedClock
) -> None:
    protection, ex, position = _refusing(store, clock)
    adopted = replace(position, proposal_id=None)
    await drive(clock, protection.place_leg(adopted, "sl", SL))
    assert ex.algos[-1].client_order_id == protection.desk.cid(position.id or 0, "sl2")

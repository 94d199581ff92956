"""Order and position rows: how each is made, and the state machines (legal moves audited, others refused)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from smt_engine.domain import (
    ORDER_TRANSITIONS,
    POSITION_TRANSITIONS,
    OrderKind,
    OrderState,
    PositionState,
    Side,
)
from smt_engine.exchange.base import AlgoOrder, ExchangePosition, OrderStatus
from smt_engine.store import Store
from smt_engine.store.records import Order, Position
from smt_engine.trading.orders import (
    IllegalOrderTransition,
    advance_order,
    create_order,
    move_position,
    venue_position,
)
from tests.unit.trading.conftest import NOW, eth_position


def new_order(store: Store, state: OrderState = OrderState.PENDING_SUBMIT) -> Order:
    return store.orders.insert(
        Order(
            client_order_id=f"cid-{state.value}",
            symbol="ETHUSDT",
            side=Side.LONG,
            kind=OrderKind.ENTRY,
            size=Decimal("0.1"),
            state=state,
            created_at=NOW,
            updated_at=NOW,
        )
    )


def new_position(store: Store) -> Position:
    return store.positions.insert(
        eth_position(
            size=Decimal("0.1"),
            leverage=10,
        )
    )


def test_the_design_order_path_is_legal_and_every_step_audited(store: Store) -> None:
    order = new_order(store)
    order = advance_order(store, order, OrderState.SUBMITTED, actor="executor", reason="accepted", at=NOW)
    order = advance_order(
        store, order, OrderState.FILLED, actor="executor", reason="", at=NOW, exchange_order_id="X1"
    )
    assert order.state is OrderState.FILLED
    assert order.exchange_order_id == "X1"
    events = store.events.select("order_id = ?", [order.id], order_by="id")
    assert [e.kind for e in events] == ["order.submitted", "order.filled"]
    assert events[0].data == {
        "from": "pending_submit",
        "to": "submitted",
        "actor": "executor",
        "reason": "accepted",
    }


@pytest.mark.parametrize("terminal", [OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED])
def test_a_terminal_order_never_moves_again(store: Store, terminal: OrderState) -> None:
    order = new_order(store, terminal)
    for target in OrderState:
        if target is terminal:
            continue
        with pytest.raises(IllegalOrderTransition):
            advance_order(store, order, target, actor="t", reason="", at=NOW)
    assert store.orders.get(order.id or 0).state is terminal
    assert not store.events.select("order_id = ?", [order.id])


def test_every_live_state_can_become_unknown_and_unknown_resolves(store: Store) -> None:
    live = [s for s in OrderState if not s.is_terminal and s is not OrderState.UNKNOWN]
    assert all(OrderState.UNKNOWN in ORDER_TRANSITIONS[s] for s in live)
    assert {OrderState.FILLED, OrderState.CANCELLED, OrderState.REJECTED} <= ORDER_TRANSITIONS[
        OrderState.UNKNOWN
    ]


def test_a_pending_order_resolved_by_lookup_passes_through_unknown(store: Store) -> None:
    order = new_order(store)
    done = advance_order(store, order, OrderState.CANCELLED, actor="reconciler", reason="not found", at=NOW)
    assert done.state is OrderState.CANCELLED
    kinds = [e.kind for e in store.events.select("order_id = ?", [order.id], order_by="id")]
    assert kinds == ["order.unknown", "order.cancelled"]


def test_a_submitted_order_cannot_go_back_to_pending(store: Store) -> None:
    order = new_order(store, OrderState.SUBMITTED)
    with pytest.raises(IllegalOrderTransition, match="submitted -> pending_submit"):
        advance_order(store, order, OrderState.PENDING_SUBMIT, actor="t", reason="", at=NOW)


def test_positions_go_open_closing_closed_and_never_reopen_once_closed(store: Store) -> None:
    assert POSITION_TRANSITIONS[PositionState.CLOSED] == frozenset()
    pos = new_position(store)
    assert pos.id is not None
    move_position(store, pos.id, PositionState.CLOSING, actor="operator", message="closing", at=NOW)
    closed = move_position(
        store,
        pos.id,
        PositionState.CLOSED,
        actor="monitor",
        message="closed",
        at=NOW,
        realized_pnl=Decimal(5),
    )
    assert closed.state is PositionState.CLOSED
    assert closed.realized_pnl == Decimal(5)
    events = store.events.select("position_id = ?", [pos.id], order_by="id")
    assert [e.kind for e in events] == ["position.closing", "position.closed"]
    assert events[1].data["actor"] == "monitor"
    with pytest.raises(IllegalOrderTransition):
        move_position(store, pos.id, PositionState.OPEN, actor="t", message="", at=NOW)


def test_an_order_we_send_is_recorded_pending_under_its_client_id(store: Store) -> None:
    order = create_order(
        store, NOW, client_order_id="smt-1-entry", symbol="ETHUSDT", side=Side.LONG,
        kind=OrderKind.ENTRY, size=Decimal("0.1"), proposal_id=None, request={"qty": "0.1"},
    )  # fmt: skip
    assert (order.state, order.client_order_id, order.exchange_order_id) == (
        OrderState.PENDING_SUBMIT,
        "smt-1-entry",
        None,
    )
    assert store.orders.by_client_id("smt-1-entry") == order
    assert order.request == {"qty": "0.1"}
    with pytest.raises(ValueError, match="needs its client order id"):
        create_order(store, NOW, symbol="ETHUSDT", side=Side.LONG, kind=OrderKind.ENTRY, size=Decimal(1))


def test_an_order_found_at_the_venue_is_submitted_under_its_venue_id(store: Store) -> None:
    found = create_order(
        store, NOW, exchange_order_id="777", symbol="ETHUSDT", side=Side.SHORT, kind=OrderKind.SL,
        size=Decimal(1), trigger_price=Decimal(2100), orphan=True,
    )  # fmt: skip
    assert (found.state, found.client_order_id, found.orphan) == (OrderState.SUBMITTED, "exchange:777", True)
    ours = create_order(
        store, NOW, client_order_id="smt-2-tp", exchange_order_id="778", symbol="ETHUSDT",
        side=Side.SHORT, kind=OrderKind.TP, size=Decimal(1),
    )  # fmt: skip
    assert (ours.state, ours.client_order_id) == (OrderState.SUBMITTED, "smt-2-tp")


def _listed(margin: str) -> ExchangePosition:
    return ExchangePosition(
        "ETHUSDT", Side.LONG, Decimal("0.5"), Decimal(2000), Decimal(margin), Decimal(10), Decimal(3),
        None, NOW, NOW, "p1",
    )  # fmt: skip


def test_a_listed_position_of_ours_takes_its_proposals_terms() -> None:
    proposal = SimpleNamespace(
        id=7, leverage=20, margin=Decimal(55), tp_price=Decimal(2100), sl_price=Decimal(1950)
    )
    row = venue_position(_listed("0"), NOW, proposal=proposal)  # type: ignore[arg-type]
    assert (row.leverage, row.margin, row.proposal_id, row.adopted) == (20, Decimal(55), 7, False)
    assert (row.tp_price, row.sl_price, row.size, row.unrealized_pnl) == (
        Decimal(2100),
        Decimal(1950),
        Decimal("0.5"),
        Decimal(3),
    )
    assert venue_position(_listed("50"), NOW, proposal=proposal).margin == Decimal(50)  # type: ignore[arg-type]


def test_a_listed_position_unknown_to_the_store_is_adopted_with_its_resting_legs() -> None:
    sl = AlgoOrder(
        "9", None, "ETHUSDT", Side.LONG, "sl", Decimal(1900), Decimal("0.5"), OrderStatus.UNTRIGGERED, NOW
    )
    row = venue_position(_listed("100"), NOW, sl=sl)
    assert (row.adopted, row.leverage, row.margin, row.proposal_id) == (True, 10, Decimal(100), None)
    assert (row.sl_price, row.sl_order_id, row.tp_price, row.tp_order_id) == (Decimal(1900), "9", None, None)
    assert row.state is PositionState.OPEN
    assert row.updated_at == NOW

"""Order and position rows: how each is made, and the state machines (legal moves audited, others refused)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from smt_engine.clock import SimulatedClock
from smt_engine.domain import (
    ORDER_TRANSITIONS,
    POSITION_TRANSITIONS,
    EventLevel,
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
    open_position,
    update_order,
    venue_position,
)
from tests.unit.trading.conftest import NOW, eth_position
from tests.unit.trading.inflight_support import approved, tracker_on


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
    refusal = rf"^order #{order.id}: submitted -> pending_submit is not allowed$"
    with pytest.raises(IllegalOrderTransition, match=refusal):
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
    # any margin the venue reports is its truth, however small
    assert venue_position(_listed("0.5"), NOW, proposal=proposal).margin == Decimal("0.5")  # type: ignore[arg-type]


def test_a_listed_position_unknown_to_the_store_is_adopted_with_its_resting_legs() -> None:
    sl = AlgoOrder(
        "9", None, "ETHUSDT", Side.LONG, "sl", Decimal(1900), Decimal("0.5"), OrderStatus.UNTRIGGERED, NOW
    )
    row = venue_position(_listed("100"), NOW, sl=sl)
    assert (row.adopted, row.leverage, row.margin, row.proposal_id) == (True, 10, Decimal(100), None)
    assert (row.sl_price, row.sl_order_id, row.tp_price, row.tp_order_id) == (Decimal(1900), "9", None, None)
    assert row.state is PositionState.OPEN
    assert row.updated_at == NOW


# ----------------------------------------------------------- every field as written, every event as read


def test_an_order_row_keeps_every_field_it_was_made_with(store: Store, clock: SimulatedClock) -> None:
    tracker, _, _ = tracker_on(store, clock)
    proposal = approved(store, clock, tracker)
    pos = new_position(store)
    later = NOW + timedelta(minutes=1)
    order = create_order(
        store, later, client_order_id="smt-9-sl", symbol="ETHUSDT", side=Side.SHORT, kind=OrderKind.SL,
        size=Decimal("0.3"), proposal_id=proposal.id, position_id=pos.id, trigger_price=Decimal(1950),
    )  # fmt: skip
    stored = store.orders.get(order.id or 0)
    assert stored == order
    assert (stored.symbol, stored.side, stored.kind, stored.size, stored.trigger_price) == (
        "ETHUSDT",
        Side.SHORT,
        OrderKind.SL,
        Decimal("0.3"),
        Decimal(1950),
    )
    assert (stored.created_at, stored.updated_at) == (later, later)
    assert (stored.proposal_id, stored.position_id) == (proposal.id, pos.id)
    assert (stored.request, stored.orphan, stored.exchange_order_id) == ({}, False, None)


def test_an_empty_client_id_is_refused_for_an_order_we_send(store: Store) -> None:
    with pytest.raises(ValueError, match=r"^an order we send needs its client order id$"):
        create_order(
            store, NOW, client_order_id="", symbol="ETHUSDT", side=Side.LONG, kind=OrderKind.ENTRY,
            size=Decimal(1),
        )  # fmt: skip
    assert store.orders.select() == []


def test_an_order_step_is_audited_with_its_level_message_and_rows(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, _ = tracker_on(store, clock)
    proposal = approved(store, clock, tracker)
    pos = new_position(store)
    order = create_order(
        store, NOW, client_order_id="smt-5-entry", symbol="ETHUSDT", side=Side.LONG, kind=OrderKind.ENTRY,
        size=Decimal(1), proposal_id=proposal.id,
    )  # fmt: skip
    later = NOW + timedelta(seconds=5)
    moved = advance_order(
        store, order.id or 0, OrderState.SUBMITTED, actor="executor", reason="accepted", at=later,
        position_id=pos.id,
    )  # fmt: skip
    assert (moved.state, moved.updated_at, moved.position_id) == (OrderState.SUBMITTED, later, pos.id)
    [event] = store.events.select("order_id = ?", [order.id])
    assert (event.at, event.level, event.kind) == (later, EventLevel.INFO, "order.submitted")
    assert (
        event.message == "entry order smt-5-entry ETHUSDT: pending_submit -> submitted by executor: accepted"
    )
    assert (event.proposal_id, event.order_id, event.position_id) == (proposal.id, order.id, pos.id)
    advance_order(store, moved, OrderState.REJECTED, actor="reconciler", reason="", at=later)
    rejected = store.events.of_kind("order.rejected")[0]
    assert rejected.level is EventLevel.WARNING
    assert rejected.message == "entry order smt-5-entry ETHUSDT: submitted -> rejected by reconciler"
    assert rejected.position_id == pos.id  # the row's own position when the step names none
    assert rejected.data == {"from": "submitted", "to": "rejected", "actor": "reconciler", "reason": ""}


def test_an_order_whose_answer_was_never_seen_is_a_warning_on_the_way(store: Store) -> None:
    order = new_order(store)
    advance_order(store, order, OrderState.FILLED, actor="reconciler", reason="found filled", at=NOW)
    unknown, filled = store.events.select("order_id = ?", [order.id], order_by="id")
    assert (unknown.level, unknown.data["from"], unknown.data["to"]) == (
        EventLevel.WARNING,
        "pending_submit",
        "unknown",
    )
    assert (filled.level, filled.data["from"], filled.data["to"]) == (EventLevel.INFO, "unknown", "filled")


def test_a_step_to_the_same_state_only_writes_its_fields(store: Store) -> None:
    order = new_order(store, OrderState.SUBMITTED)
    later = NOW + timedelta(minutes=2)
    same = advance_order(store, order, OrderState.SUBMITTED, actor="t", reason="", at=later)
    assert same == order  # nothing to write: the row is as it was, not even touched
    noted = advance_order(
        store, order, OrderState.SUBMITTED, actor="t", reason="", at=later, exchange_order_id="X9"
    )
    assert (noted.exchange_order_id, noted.updated_at, noted.state) == ("X9", later, OrderState.SUBMITTED)
    assert store.events.select("order_id = ?", [order.id]) == []


def test_an_unknown_order_or_position_is_a_key_error(store: Store) -> None:
    with pytest.raises(KeyError, match="no order #99"):
        advance_order(store, 99, OrderState.SUBMITTED, actor="t", reason="", at=NOW)
    with pytest.raises(KeyError, match="no position #99"):
        move_position(store, 99, PositionState.CLOSING, actor="t", message="", at=NOW)


def test_a_refused_step_names_the_row_and_both_states() -> None:
    err = IllegalOrderTransition("order", 4, "filled", "submitted")
    assert (err.current, err.target, str(err)) == (
        "filled",
        "submitted",
        "order #4: filled -> submitted is not allowed",
    )


def test_a_field_update_keeps_the_state_and_stamps_the_time(store: Store) -> None:
    order = new_order(store, OrderState.SUBMITTED)
    later = NOW + timedelta(minutes=3)
    updated = update_order(store, order, later, error="timeout")
    assert (updated.error, updated.updated_at, updated.state) == ("timeout", later, OrderState.SUBMITTED)
    assert store.orders.get(order.id or 0) == updated
    with pytest.raises(AssertionError):  # a state moves only through advance_order, audited
        update_order(store, updated, later, state=OrderState.FILLED)
    assert store.orders.get(order.id or 0) == updated


def test_an_opened_position_starts_its_audit_trail(store: Store, clock: SimulatedClock) -> None:
    tracker, _, _ = tracker_on(store, clock)
    proposal = approved(store, clock, tracker)
    later = NOW + timedelta(minutes=4)
    row = eth_position(proposal_id=proposal.id)
    created = open_position(store, row, actor="executor", message="ETH long opened", at=later)
    assert created.id is not None
    assert store.positions.get(created.id) == created
    [event] = store.events.select("position_id = ?", [created.id])
    assert (event.at, event.level, event.kind, event.message) == (
        later,
        EventLevel.INFO,
        "position.open",
        "ETH long opened",
    )
    assert (event.proposal_id, event.position_id) == (proposal.id, created.id)
    assert event.data == {"from": None, "to": "open", "actor": "executor"}
    warned = open_position(
        store, eth_position(side=Side.SHORT), actor="monitor", message="m", at=NOW, level=EventLevel.WARNING
    )
    assert store.events.select("position_id = ?", [warned.id])[0].level is EventLevel.WARNING


def test_only_an_open_position_can_be_opened(store: Store) -> None:
    with pytest.raises(IllegalOrderTransition, match=r"^position #5: closing -> open is not allowed$"):
        open_position(store, eth_position(state=PositionState.CLOSING, id=5), actor="t", message="", at=NOW)
    assert store.positions.select() == []
    assert store.events.select() == []


def test_a_position_step_is_audited_with_its_level_message_and_data(
    store: Store, clock: SimulatedClock
) -> None:
    tracker, _, _ = tracker_on(store, clock)
    proposal = approved(store, clock, tracker)
    pos = store.positions.insert(eth_position(proposal_id=proposal.id))
    assert pos.id is not None
    later = NOW + timedelta(minutes=5)
    moved = move_position(
        store, pos.id, PositionState.CLOSING, actor="operator", message="closing ETH", at=later,
        level=EventLevel.WARNING, data={"why": "max hold"}, mark_price=Decimal(2010),
    )  # fmt: skip
    assert (moved.state, moved.updated_at, moved.mark_price) == (PositionState.CLOSING, later, Decimal(2010))
    [event] = store.events.select("position_id = ?", [pos.id])
    assert (event.at, event.level, event.kind, event.message) == (
        later,
        EventLevel.WARNING,
        "position.closing",
        "closing ETH",
    )
    assert event.proposal_id == proposal.id
    assert event.data == {"from": "open", "to": "closing", "actor": "operator", "why": "max hold"}
    move_position(
        store, pos.id, PositionState.CLOSED, actor="monitor", message="closed", at=later, proposal_id=None
    )
    closed_event = store.events.of_kind("position.closed")[0]
    assert (closed_event.level, closed_event.proposal_id) == (EventLevel.INFO, None)
    assert closed_event.data == {"from": "closing", "to": "closed", "actor": "monitor"}


def test_a_refused_position_step_changes_nothing(store: Store) -> None:
    pos = new_position(store)
    assert pos.id is not None
    with pytest.raises(IllegalOrderTransition, match=f"^position #{pos.id}: open -> open is not allowed$"):
        move_position(store, pos.id, PositionState.OPEN, actor="t", message="", at=NOW)
    assert store.positions.get(pos.id) == pos
    assert store.events.select() == []


def test_a_listed_position_keeps_the_venues_price_time_and_legs() -> None:
    listed = ExchangePosition(
        "BTCUSDT", Side.SHORT, Decimal("0.2"), Decimal(99000), Decimal(40), Decimal(15), Decimal(-7),
        None, NOW - timedelta(hours=1), NOW, "p2",
    )  # fmt: skip
    later = NOW + timedelta(minutes=6)
    proposal = SimpleNamespace(id=3, leverage=5, margin=Decimal(1), tp_price=None, sl_price=None)
    ours = venue_position(listed, later, proposal=proposal)  # type: ignore[arg-type]
    adopted = venue_position(listed, later)
    for row in (ours, adopted):
        assert (row.symbol, row.side, row.size, row.entry_price) == (
            "BTCUSDT",
            Side.SHORT,
            Decimal("0.2"),
            Decimal(99000),
        )
        assert (row.opened_at, row.updated_at, row.state) == (
            NOW - timedelta(hours=1),
            later,
            PositionState.OPEN,
        )
        assert row.unrealized_pnl == Decimal(-7)
    assert (ours.margin, ours.tp_order_id, ours.sl_order_id) == (Decimal(40), None, None)
    assert (adopted.leverage, adopted.margin, adopted.unrealized_pnl) == (15, Decimal(40), Decimal(-7))
    tp = AlgoOrder(
        "5", None, "BTCUSDT", Side.SHORT, "tp", Decimal(95000), Decimal("0.2"), OrderStatus.UNTRIGGERED, NOW
    )
    legged = venue_position(listed, later, tp=tp)
    assert (legged.tp_price, legged.tp_order_id, legged.sl_price, legged.sl_order_id) == (
        Decimal(95000),
        "5",
        None,
        None,
    )

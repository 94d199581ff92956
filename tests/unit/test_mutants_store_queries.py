"""The store queries the safety claims rest on: in-flight orders, risk counts, the stop-loss cool-down's
input, and the one write path every repository (and so the redaction) goes through."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from decimal import Decimal

import pytest

from smt_engine.domain import (
    CloseReason,
    EventLevel,
    HealthStatus,
    OrderKind,
    OrderState,
    PositionState,
    ProposalState,
    Side,
)
from smt_engine.store import Store
from smt_engine.store.flow_history import FlowHour
from smt_engine.store.records import ComponentHealth, Cycle, Order
from tests.unit.trading.conftest import NOW, eth_position, eth_proposal


def _order(cid: str, state: OrderState, symbol: str = "ETHUSDT") -> Order:
    return Order(
        client_order_id=cid,
        symbol=symbol,
        side=Side.LONG,
        kind=OrderKind.ENTRY,
        size=Decimal("0.1"),
        state=state,
        created_at=NOW,
        updated_at=NOW,
    )


def test_open_orders_are_every_non_terminal_order_by_id_and_by_symbol_when_asked(store: Store) -> None:
    # Inserted so that the state index's order (state, then id) differs from id order.
    states = [
        ("o1", OrderState.UNKNOWN, "ETHUSDT"),
        ("o2", OrderState.FILLED, "ETHUSDT"),
        ("o3", OrderState.SUBMITTED, "BTCUSDT"),
        ("o4", OrderState.PENDING_SUBMIT, "ETHUSDT"),
        ("o5", OrderState.CANCELLED, "BTCUSDT"),
        ("o6", OrderState.PARTIALLY_FILLED, "BTCUSDT"),
        ("o7", OrderState.REJECTED, "ETHUSDT"),
    ]
    for cid, state, symbol in states:
        store.orders.insert(_order(cid, state, symbol))
    assert [o.client_order_id for o in store.orders.open_orders()] == ["o1", "o3", "o4", "o6"]
    assert [o.client_order_id for o in store.orders.open_orders("ETHUSDT")] == ["o1", "o4"]
    assert [o.client_order_id for o in store.orders.open_orders("BTCUSDT")] == ["o3", "o6"]
    assert store.orders.open_orders("SOLUSDT") == []


def test_proposals_in_given_states_come_back_by_id_and_no_others(store: Store) -> None:
    for state in (
        ProposalState.REJECTED,
        ProposalState.PROPOSED,
        ProposalState.APPROVED,
        ProposalState.PROPOSED,
        ProposalState.EXPIRED,
    ):
        store.proposals.insert(eth_proposal(state=state))
    assert [p.id for p in store.proposals.in_state(ProposalState.PROPOSED)] == [2, 4]
    both = store.proposals.in_state(ProposalState.REJECTED, ProposalState.PROPOSED)
    assert [(p.id, p.state) for p in both] == [
        (1, ProposalState.REJECTED),
        (2, ProposalState.PROPOSED),
        (4, ProposalState.PROPOSED),
    ]
    assert store.proposals.in_state() == []


def test_open_positions_are_every_unclosed_one_oldest_first(store: Store) -> None:
    store.positions.insert(eth_position(symbol="BTCUSDT", opened_at=NOW))
    store.positions.insert(eth_position(symbol="ETHUSDT", state=PositionState.CLOSED, opened_at=NOW))
    store.positions.insert(eth_position(symbol="SOLUSDT", opened_at=NOW - timedelta(hours=2)))
    store.positions.insert(eth_position(symbol="XRPUSDT", state=PositionState.CLOSING, opened_at=NOW))
    store.positions.insert(eth_position(symbol="ADAUSDT", opened_at=NOW - timedelta(hours=1)))
    opened = store.positions.open_positions()
    assert [(p.symbol, p.state) for p in opened] == [
        ("SOLUSDT", PositionState.OPEN),
        ("ADAUSDT", PositionState.OPEN),
        ("BTCUSDT", PositionState.OPEN),
        ("XRPUSDT", PositionState.CLOSING),
    ]


def test_the_open_position_of_a_symbol_and_side_ignores_closed_ones_and_other_sides(store: Store) -> None:
    store.positions.insert(eth_position(state=PositionState.CLOSED, size=Decimal(9)))
    store.positions.insert(eth_position(symbol="BTCUSDT", size=Decimal(7)))
    assert store.positions.open_for("ETHUSDT", Side.LONG) is None
    short = store.positions.insert(eth_position(side=Side.SHORT, size=Decimal(2)))
    assert store.positions.open_for("ETHUSDT", Side.LONG) is None
    long = store.positions.insert(eth_position(size=Decimal(3)))
    found = store.positions.open_for("ETHUSDT", Side.LONG)
    assert found is not None
    assert (found.id, found.size) == (long.id, Decimal(3))
    found_short = store.positions.open_for("ETHUSDT", Side.SHORT)
    assert found_short is not None
    assert found_short.id == short.id
    assert store.positions.open_for("BTCUSDT", Side.SHORT) is None


def test_last_stop_losses_give_each_symbols_latest_stop_and_nothing_else(store: Store) -> None:
    def closed(symbol: str, reason: CloseReason | None, hours: int | None) -> None:
        store.positions.insert(
            eth_position(
                symbol=symbol,
                state=PositionState.CLOSED,
                close_reason=reason,
                closed_at=None if hours is None else NOW + timedelta(hours=hours),
            )
        )

    assert store.positions.last_stop_losses() == {}
    closed("ETHUSDT", CloseReason.STOP_LOSS, 1)
    closed("ETHUSDT", CloseReason.STOP_LOSS, 3)
    closed("ETHUSDT", CloseReason.STOP_LOSS, 2)
    closed("ETHUSDT", CloseReason.TAKE_PROFIT, 5)
    closed("BTCUSDT", CloseReason.STOP_LOSS, 4)
    closed("AAAUSDT", CloseReason.MANUAL, 6)
    closed("ZZZUSDT", CloseReason.LIQUIDATION, 6)
    closed("SOLUSDT", CloseReason.STOP_LOSS, None)  # a stop without a close time has no cool-down to start
    closed("XRPUSDT", None, 7)
    assert store.positions.last_stop_losses() == {
        "BTCUSDT": NOW + timedelta(hours=4),
        "ETHUSDT": NOW + timedelta(hours=3),
    }


def test_an_insert_returns_the_record_with_the_id_the_database_gave_it(store: Store) -> None:
    first = store.orders.insert(_order("a", OrderState.SUBMITTED))
    second = store.orders.insert(_order("b", OrderState.SUBMITTED))
    assert (first.id, second.id) == (1, 2)
    assert store.orders.get(2) == second
    with pytest.raises(sqlite3.IntegrityError):
        store.orders.insert(_order("b", OrderState.SUBMITTED))  # a plain INSERT, never a silent replace


def test_an_insert_keeps_a_key_the_record_already_has(store: Store) -> None:
    cycle = Cycle(id="c1", started_at=NOW)
    assert store.cycles.insert(cycle) is cycle
    assert store.cycles.get("c1") == cycle
    health = ComponentHealth(component="venue", status=HealthStatus.OK, since=NOW, updated_at=NOW)
    assert store.health.insert(health) is health


def test_an_insert_of_a_record_keyed_by_several_columns_writes_it_and_returns_it_as_given(
    store: Store,
) -> None:
    hour = FlowHour(
        hour=NOW,
        asset="ETH",
        inflow=Decimal(5),
        outflow=Decimal(2),
        net=Decimal(3),
        transfers=4,
        wallets=2,
        recorded_at=NOW,
    )
    assert store.flow_history.insert(hour) is hour
    assert store.flow_history.between(NOW - timedelta(hours=1), NOW) == [hour]


def test_write_row_runs_the_verb_it_is_given_over_every_column(store: Store) -> None:
    row = {
        "id": "c9",
        "started_at": "2026-01-20T12:00:00.000000Z",
        "status": "running",
        "trigger": "schedule",
        "error": "first",
    }
    assert store.cycles.write_row(row).rowcount == 1
    assert store.cycles.write_row({**row, "error": "second"}, verb="INSERT OR IGNORE").rowcount == 0
    found = store.cycles.get("c9")
    assert found is not None
    assert found.error == "first"
    store.cycles.write_row({**row, "error": "third"}, verb="INSERT OR REPLACE")
    found = store.cycles.get("c9")
    assert found is not None
    assert (found.started_at, found.status, found.error) == (NOW, "running", "third")


def test_an_update_changes_only_the_named_fields_of_the_keyed_row(store: Store) -> None:
    a = store.orders.insert(_order("a", OrderState.SUBMITTED))
    b = store.orders.insert(_order("b", OrderState.SUBMITTED))
    store.orders.update(a.id, state=OrderState.FILLED, price=Decimal("2000.50"))
    got_a, got_b = store.orders.get(a.id), store.orders.get(b.id)
    assert got_a is not None
    assert (got_a.state, got_a.price) == (OrderState.FILLED, Decimal("2000.50"))
    assert got_b == b
    store.orders.update(a.id)  # nothing to change: no statement, no error
    assert store.orders.get(a.id) == got_a


def test_an_update_of_a_missing_row_says_which_table_and_key(store: Store) -> None:
    with pytest.raises(KeyError) as raised:
        store.orders.update(99, state=OrderState.FILLED)
    assert raised.value.args == ("orders: no row with id = 99",)
    with pytest.raises(KeyError) as named:
        store.health.update("venue", detail="x")
    assert named.value.args == ("health: no row with component = 'venue'",)


def test_an_appended_event_keeps_every_field_it_was_given(store: Store) -> None:
    full = store.events.append(
        NOW,
        EventLevel.WARNING,
        "order.rejected",
        "venue refused",
        cycle_id="c1",
        proposal_id=3,
        order_id=4,
        position_id=5,
        data={"code": "40001"},
    )
    bare = store.events.append(NOW, EventLevel.INFO, "engine.started", "up")
    assert (full.id, bare.id) == (1, 2)
    assert store.events.get(1) == full
    assert (full.at, full.level, full.kind, full.message) == (
        NOW,
        EventLevel.WARNING,
        "order.rejected",
        "venue refused",
    )
    assert (full.cycle_id, full.proposal_id, full.order_id, full.position_id, full.data) == (
        "c1",
        3,
        4,
        5,
        {"code": "40001"},
    )
    stored = store.events.get(2)
    assert stored == bare
    assert stored is not None
    assert (stored.cycle_id, stored.proposal_id, stored.data) == (None, None, {})
